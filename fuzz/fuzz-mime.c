/* fuzz-mime.c - libFuzzer target for the MIME walker
 *
 * The first 4 bytes choose chunk sizes; the rest is a message scanned
 * whole and in those chunks, which must give the same hits (in the same
 * order, but for hits of a base64 part's decoded and undecoded text,
 * which interleave as the chunks fall).  The input is also decoded as
 * an RFC 2047 header value.  */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "rfc2047-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Hits as text, "MASKED@INDEX/DEPTH:HEADER:TYPE:U\n" each.  */
struct hits
{
  char text[1 << 16];
  size_t len;
};

static struct hits whole, chunked;

static gpg_error_t
collect (void *opaque, const struct pan_mime_part *part,
         const struct pan_hit *hit)
{
  struct hits *hs = opaque;
  int n;

  if (!part->content_type || !hit->masked || !hit->brand
      || part->depth > PAN_MIME_MAX_DEPTH)
    abort ();
  n = snprintf (hs->text + hs->len, sizeof hs->text - hs->len,
                "%s@%u/%u:%s:%s:%d:%llu\n", hit->masked, part->index,
                part->depth, part->header ? part->header : "",
                part->content_type, part->undecoded, hit->offset);
  if (n > 0 && (size_t)n < sizeof hs->text - hs->len)
    hs->len += n;
  return 0;
}

static void
scan (const uint8_t *data, size_t size, const uint8_t *sizes,
      struct hits *hs)
{
  static pan_scanner_t s;
  pan_mime_t m = NULL;
  size_t off = 0, n, k = 0;

  if (!s && pan_scanner_new (NULL, 0, &s))
    abort ();
  hs->len = 0;
  hs->text[0] = 0;
  if (pan_mime_scan_new (s, NULL, NULL, collect, hs, &m))
    abort ();
  while (off < size)
    {
      n = sizes ? (size_t)sizes[k++ % 4] * 4 + 1 : size;
      if (n > size - off)
        n = size - off;
      if (pan_mime_scan_feed (m, data + off, n))
        abort ();
      off += n;
    }
  if (pan_mime_scan_finish (m))
    abort ();
  pan_mime_scan_release (m);
}

static int
cmp_lines (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Sort the lines of HS in place.  */
static void
sort_hits (struct hits *hs)
{
  static char copy[sizeof hs->text];
  static char *lines[sizeof hs->text / 8];
  size_t n = 0, len = 0, i;
  char *p, *save;

  memcpy (copy, hs->text, hs->len + 1);
  for (p = strtok_r (copy, "\n", &save);
       p && n < sizeof lines / sizeof *lines;
       p = strtok_r (NULL, "\n", &save))
    lines[n++] = p;
  qsort (lines, n, sizeof *lines, cmp_lines);
  for (i = 0; i < n; i++)
    len += (size_t)snprintf (hs->text + len, sizeof hs->text - len, "%s\n",
                             lines[i]);
}

static void
check_2047 (const uint8_t *data, size_t size)
{
  char *value = malloc (size + 1), *out = NULL;

  if (!value)
    return;
  memcpy (value, data, size);
  value[size] = 0;
  if (pani_header_decode_2047 (value, &out) || !out)
    abort ();
  free (out);
  free (value);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int initialized;
  uint8_t sizes[4] = { 0, 0, 0, 0 };
  size_t i;

  if (!initialized)
    {
      gcry_check_version (NULL);
      gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
      gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
      initialized = 1;
    }
  for (i = 0; i < 4 && i < size; i++)
    sizes[i] = data[i] % 64;
  data += i;
  size -= i;
  scan (data, size, NULL, &whole);
  scan (data, size, sizes, &chunked);
  sort_hits (&whole);
  sort_hits (&chunked);
  if (whole.len != chunked.len || strcmp (whole.text, chunked.text))
    abort ();
  check_2047 (data, size);
  return 0;
}
