/* headers.c - the RFC 5322 header block of a message
 *
 * The block is read up to the empty line that ends it, each field kept
 * as it was written (folded, CRLF turned into LF), its name and its
 * unfolded value.  The bytes may carry message plaintext: every buffer
 * is wiped before it is freed and no reason string quotes the input;
 * reasons give line numbers instead.
 *
 * Field names may be followed by white space before the colon
 * (obs-optional, as Postfix and sendmail accept it).  A NUL byte, a CR
 * that does not end a line, a line that is neither a field nor a
 * continuation, and a continuation before the first field are refused. */
#include <config.h>

#ifndef GPGRT_ENABLE_ES_MACROS
#define GPGRT_ENABLE_ES_MACROS 1
#endif
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "headers-int.h"

/* One field: RAW, NAME and VALUE share one allocation starting at RAW. */
struct field
{
  char *raw;
  size_t size;
  const char *name;
  const char *value;
};

struct pan_headers
{
  struct field *fields;
  size_t count;
  size_t size;
};

/* One line of the input: bytes [START, END) without the line ending,
 * NEXT is the offset after it.  */
struct line
{
  size_t start;
  size_t end;
  size_t next;
};

struct hparse
{
  const unsigned char *buf;
  size_t len;
  size_t pos;         /* Offset of the next line.  */
  size_t lineno;      /* Number of the line last read.  */
  size_t field_start; /* Offset of the current field.  */
  int in_field;
  pan_headers_t hdrs;
  char **r_reason;
};

static gpg_error_t
hp_error (struct hparse *hp, const char *what)
{
  return pani_reason (hp->r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "header line %zu: %s", hp->lineno, what);
}

/* Find the next line.  Returns 0 and sets LN->NEXT to 0 at the end of
 * the input.  */
static gpg_error_t
next_line (struct hparse *hp, struct line *ln)
{
  size_t avail = hp->len - hp->pos;
  size_t limit = PAN_HEADERS_MAX_BYTES - hp->pos;
  const unsigned char *lf;

  ln->next = 0;
  if (!avail)
    return 0;
  lf = memchr (hp->buf + hp->pos, '\n', avail < limit ? avail : limit);
  if (!lf && avail > limit)
    return pani_reason (hp->r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "header block larger than %d bytes",
                        PAN_HEADERS_MAX_BYTES);
  ln->start = hp->pos;
  ln->next = lf ? (size_t)(lf - hp->buf) + 1 : hp->len;
  ln->end = lf ? (size_t)(lf - hp->buf) : hp->len;
  if (ln->end > ln->start && hp->buf[ln->end - 1] == '\r')
    ln->end--;
  hp->pos = ln->next;
  hp->lineno++;
  return 0;
}

static gpg_error_t
check_line (struct hparse *hp, const struct line *ln)
{
  const unsigned char *p = hp->buf + ln->start;
  size_t n = ln->end - ln->start;

  if (memchr (p, 0, n))
    return hp_error (hp, "contains a NUL byte");
  if (memchr (p, '\r', n))
    return hp_error (hp, "contains a CR not followed by LF");
  return 0;
}

/* Check the field name at the start of line LN: ftext up to a colon,
 * optionally followed by white space before the colon (obs-optional,
 * as Postfix and sendmail accept it).  */
static gpg_error_t
check_name (struct hparse *hp, const struct line *ln)
{
  const unsigned char *p = hp->buf + ln->start;
  const unsigned char *end = hp->buf + ln->end;
  const unsigned char *s = p;

  while (s<end && * s> 32 && *s < 127 && *s != ':')
    s++;
  if (s == p && s < end && *s == ':')
    return hp_error (hp, "empty field name");
  while (s < end && pani_is_wsp (*s))
    s++;
  if (s < end && *s == ':')
    return 0;
  if (memchr (p, ':', (size_t)(end - p)))
    return hp_error (hp, "invalid character in field name");
  return hp_error (hp, "not a header field (no colon)");
}

/* Copy the raw field bytes from SRC/LEN to DST without CRs (each CR
 * left is part of a CRLF), ending in LF and NUL.  Returns the length. */
static size_t
copy_raw (char *dst, const unsigned char *src, size_t len)
{
  size_t i, n = 0;

  for (i = 0; i < len; i++)
    if (src[i] != '\r')
      dst[n++] = (char)src[i];
  if (!n || dst[n - 1] != '\n')
    dst[n++] = '\n';
  dst[n] = 0;
  return n;
}

/* Write the name of the raw field RAW, which ends at COLON, to DST:
 * the name without the white space before the colon.  */
static void
copy_name (char *dst, const char *raw, const char *colon)
{
  size_t n = colon - raw;

  while (n && pani_is_wsp (raw[n - 1]))
    n--;
  memcpy (dst, raw, n);
  dst[n] = 0;
}

/* Write the unfolded and trimmed value S to DST.  */
static void
copy_value (char *dst, const char *s)
{
  size_t n = 0;

  while (pani_is_wsp (*s) || *s == '\n')
    s++;
  for (; *s; s++)
    if (*s != '\n')
      dst[n++] = *s;
  while (n && pani_is_wsp (dst[n - 1]))
    n--;
  dst[n] = 0;
}

/* Make room in HDRS for one more field.  */
static gpg_error_t
reserve_field (pan_headers_t hdrs)
{
  struct field *tmp;
  size_t size;

  if (hdrs->count < hdrs->size)
    return 0;
  size = hdrs->size ? hdrs->size * 2 : 16;
  tmp = realloc (hdrs->fields, size * sizeof *tmp);
  if (!tmp)
    return gpg_error_from_syserror ();
  hdrs->fields = tmp;
  hdrs->size = size;
  return 0;
}

/* Fill F from the LEN bytes of the field at SRC.  The field starts
 * with a name and a colon (check_name saw to that); an internal error
 * if it does not.  */
static gpg_error_t
fill_field (struct field *f, const unsigned char *src, size_t len)
{
  size_t rawlen = copy_raw (f->raw, src, len);
  const char *colon = memchr (f->raw, ':', rawlen);
  char *name = f->raw + rawlen + 1;

  if (!colon)
    return gpg_error (GPG_ERR_INTERNAL);
  copy_name (name, f->raw, colon);
  f->name = name;
  f->value = name + strlen (name) + 1;
  copy_value (name + strlen (name) + 1, colon + 1);
  return 0;
}

/* Store the field that started at HP->FIELD_START and ends at END.
 * The field is made in its slot of the array, which owns it once it is
 * counted.  */
static gpg_error_t
end_field (struct hparse *hp, size_t end)
{
  size_t len = end - hp->field_start;
  struct field *f;
  gpg_error_t err;

  if (!hp->in_field)
    return 0;
  hp->in_field = 0;
  if ((err = reserve_field (hp->hdrs)))
    return err;
  f = hp->hdrs->fields + hp->hdrs->count;
  /* Name and value together are shorter than the raw field.  */
  f->size = 2 * (len + 2);
  if (!(f->raw = malloc (f->size)))
    return gpg_error_from_syserror ();
  if ((err = fill_field (f, hp->buf + hp->field_start, len)))
    {
      pani_wipe_free (f->raw, f->size);
      return err;
    }
  hp->hdrs->count++;
  return 0;
}

static gpg_error_t
start_field (struct hparse *hp, const struct line *ln)
{
  gpg_error_t err;

  if ((err = check_name (hp, ln)))
    return err;
  if (hp->hdrs->count >= PAN_HEADERS_MAX_FIELDS)
    return pani_reason (hp->r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "more than %d header fields",
                        PAN_HEADERS_MAX_FIELDS);
  hp->field_start = ln->start;
  hp->in_field = 1;
  return 0;
}

/* Handle line LN.  Sets *R_DONE at the empty line.  */
static gpg_error_t
do_line (struct hparse *hp, const struct line *ln, int *r_done)
{
  gpg_error_t err;

  if ((err = check_line (hp, ln)))
    return err;
  if (ln->start == ln->end)
    {
      *r_done = 1;
      if ((err = end_field (hp, ln->start)))
        return err;
      if (!hp->hdrs->count)
        return hp_error (hp,
                         "empty line before any header field"
                         " (no header fields)");
      return 0;
    }
  if (pani_is_wsp (hp->buf[ln->start]))
    {
      if (!hp->in_field)
        return hp_error (hp, "continuation line before the first field");
      return 0;
    }
  if ((err = end_field (hp, ln->start)))
    return err;
  return start_field (hp, ln);
}

static gpg_error_t
parse_block (struct hparse *hp)
{
  gpg_error_t err;
  struct line ln;
  int done = 0;

  if (!hp->len)
    return pani_reason (hp->r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "empty message (no header)");
  while (!done)
    {
      if ((err = next_line (hp, &ln)))
        return err;
      if (!ln.next)
        return end_field (hp, hp->len);
      if ((err = do_line (hp, &ln, &done)))
        return err;
    }
  return 0;
}

gpg_error_t
pani_headers_parse (const void *buf, size_t len, pan_headers_t *r_headers,
                    size_t *r_consumed, char **r_reason)
{
  gpg_error_t err;
  struct hparse hp;

  *r_headers = NULL;
  if (r_consumed)
    *r_consumed = 0;
  if (r_reason)
    *r_reason = NULL;
  if (!buf && len)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&hp, 0, sizeof hp);
  hp.buf = buf;
  hp.len = len;
  hp.r_reason = r_reason;
  hp.hdrs = calloc (1, sizeof *hp.hdrs);
  if (!hp.hdrs)
    return gpg_error_from_syserror ();
  err = parse_block (&hp);
  if (err)
    {
      pan_headers_release (hp.hdrs);
      return err;
    }
  if (r_consumed)
    *r_consumed = hp.pos;
  *r_headers = hp.hdrs;
  return 0;
}

/* Read from IN up to and including the empty line (or to the end of
 * the input) into B.  */
static gpg_error_t
read_block (estream_t in, struct pani_buf *b, char **r_reason)
{
  size_t line_start = 0;
  int c;

  while ((c = es_getc (in)) != EOF)
    {
      pani_buf_putc (b, c);
      if (b->failed)
        return gpg_error (GPG_ERR_ENOMEM);
      if (b->len > PAN_HEADERS_MAX_BYTES)
        return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                            "header block larger than %d bytes",
                            PAN_HEADERS_MAX_BYTES);
      if (c != '\n')
        continue;
      if (b->len - line_start == 1
          || (b->len - line_start == 2 && b->data[line_start] == '\r'))
        return 0;
      line_start = b->len;
    }
  if (es_ferror (in))
    return pani_reason_sys (r_reason, "reading the message header");
  return 0;
}

gpg_error_t
pani_headers_read (estream_t in, pan_headers_t *r_headers, char **r_reason)
{
  gpg_error_t err;
  struct pani_buf b = { NULL, 0, 0, 0 };

  *r_headers = NULL;
  if (r_reason)
    *r_reason = NULL;
  if (!in)
    return gpg_error (GPG_ERR_INV_VALUE);
  err = read_block (in, &b, r_reason);
  if (!err)
    err = pani_headers_parse (b.data, b.len, r_headers, NULL, r_reason);
  pani_buf_free (&b);
  return err;
}

void
pan_headers_release (pan_headers_t headers)
{
  size_t i;

  if (!headers)
    return;
  for (i = 0; i < headers->count; i++)
    pani_wipe_free (headers->fields[i].raw, headers->fields[i].size);
  free (headers->fields);
  free (headers);
}

size_t
pan_headers_count (pan_headers_t headers)
{
  return headers ? headers->count : 0;
}

const char *
pan_headers_name (pan_headers_t headers, size_t idx)
{
  return headers && idx < headers->count ? headers->fields[idx].name : NULL;
}

const char *
pan_headers_value (pan_headers_t headers, size_t idx)
{
  return headers && idx < headers->count ? headers->fields[idx].value : NULL;
}

const char *
pan_headers_raw (pan_headers_t headers, size_t idx)
{
  return headers && idx < headers->count ? headers->fields[idx].raw : NULL;
}

const char *
pan_headers_get (pan_headers_t headers, const char *name)
{
  size_t i;

  if (!headers || !name)
    return NULL;
  for (i = 0; i < headers->count; i++)
    if (!pani_ascii_casecmp (headers->fields[i].name, name))
      return headers->fields[i].value;
  return NULL;
}

gpg_error_t
pan_headers_refuse_resent (pan_headers_t headers, char **r_reason)
{
  static const char *const resent[] = { "Resent-To", "Resent-Cc",
                                        "Resent-Bcc" };

  for (size_t i = 0; headers && i < headers->count; i++)
    for (size_t k = 0; k < sizeof resent / sizeof *resent; k++)
      if (!pani_ascii_casecmp (pan_headers_name (headers, i), resent[k]))
        return pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                            "the message has a %s header (field %zu):"
                            " pansend does not resend messages, and"
                            " headers travel in clear; remove the"
                            " Resent-* headers and name the recipients"
                            " in To, Cc or Bcc",
                            resent[k], i + 1);
  return 0;
}
