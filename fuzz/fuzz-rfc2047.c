/* fuzz-rfc2047.c - libFuzzer target for the RFC 2047 decoder
 *
 * Decodes the input as unstructured text (lenient, as the header guard
 * and the MIME walker do) and, split at spaces into the words of a
 * phrase, both strictly (as display names) and leniently, checking what
 * the decoder promises:
 *  - text without "=?" comes out as it went in (NUL as U+FFFD);
 *  - nothing grows more than threefold;
 *  - valid UTF-8 in gives valid UTF-8 out, without NUL;
 *  - strict decoding adds no control character that was not there.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "rfc2047-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(cond) \
  do                \
    {               \
      if (!(cond))  \
        abort ();   \
    }               \
  while (0)

/* Return true if S/N is valid UTF-8 (a NUL counts as valid).  */
static int
is_utf8 (const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  size_t len;

  for (; p < end; p += len)
    if (!(len = pani_utf8_len (p, end)))
      return 0;
  return 1;
}

/* Return true if the valid UTF-8 S/N holds a control character (C0,
 * DEL or C1; the two bytes C2 80 to C2 9F).  */
static int
has_control (const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i;

  for (i = 0; i < n; i++)
    if (p[i] < 0x20 || p[i] == 0x7f
        || (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80
            && p[i + 1] < 0xa0))
      return 1;
  return 0;
}

static void
check_text (const char *in, size_t n)
{
  struct pani_buf out = { NULL, 0, 0, 0 };
  const char *o;

  if (pani_rfc2047_decode_text (in, n, &out))
    abort ();
  o = out.data ? out.data : "";
  CHECK (out.len <= 3 * n);
  CHECK (!memchr (o, 0, out.len));
  if (is_utf8 (in, n))
    CHECK (is_utf8 (o, out.len));
  if (!memmem (in, n, "=?", 2) && !memchr (in, 0, n))
    CHECK (out.len == n && !memcmp (o, in, n));
  pani_buf_free (&out);
}

/* Decode IN/N, split at spaces into phrase words (a word starting with
 * '"' is a quoted string), with FLAGS into OUT.  */
static void
decode_phrase (const char *in, size_t n, unsigned int flags,
               struct pani_buf *out)
{
  struct pani_rfc2047 d;
  size_t i = 0, len;
  int sep = 0;

  pani_rfc2047_begin (&d, out, flags);
  while (i < n)
    {
      if (in[i] == ' ')
        {
          sep = 1;
          i++;
          continue;
        }
      for (len = 0; i + len < n && in[i + len] != ' '; len++)
        ;
      if (in[i] == '"')
        pani_rfc2047_plain (&d, in + i + 1, len - 1, sep);
      else
        pani_rfc2047_word (&d, in + i, len, sep);
      i += len;
      sep = 0;
    }
  pani_rfc2047_end (&d);
}

static void
check_phrase (const char *in, size_t n)
{
  struct pani_buf strict = { NULL, 0, 0, 0 };
  struct pani_buf lenient = { NULL, 0, 0, 0 };
  const char *s, *l;
  int valid = is_utf8 (in, n);

  decode_phrase (in, n, PANI_RFC2047_STRICT, &strict);
  decode_phrase (in, n, 0, &lenient);
  CHECK (!strict.failed && !lenient.failed);
  s = strict.data ? strict.data : "";
  l = lenient.data ? lenient.data : "";
  CHECK (strict.len <= 3 * n && lenient.len <= 3 * n);
  if (valid)
    CHECK (is_utf8 (s, strict.len) && is_utf8 (l, lenient.len));
  if (valid && !has_control (in, n))
    CHECK (!has_control (s, strict.len));
  if (!memchr (in, 0, n))
    CHECK (!memchr (s, 0, strict.len));
  pani_buf_free (&strict);
  pani_buf_free (&lenient);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *in = size ? (const char *)data : "";

  check_text (in, size);
  check_phrase (in, size);
  return 0;
}
