/* fuzz-scan.c - libFuzzer target for the file scanner's streams
 *
 * The first byte chooses the format (plain, mbox, message), the next 4
 * chunk sizes; the rest is a file scanned whole and in those chunks,
 * which must give the same hits (sorted, as base64 hits interleave).
 * For plain text the line of each hit is also checked against the
 * line of its offset as a bare pan_scanner reports it.  The JSON of
 * each hit (pan_scan_hit_json) must be one line of valid UTF-8.  */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Hits as text, one a line.  */
struct hits
{
  char text[1 << 16];
  size_t len;
};

static struct hits whole, chunked, oracle;

static void
add_line (struct hits *hs, const char *masked, unsigned long long line,
          const char *rest)
{
  int n = snprintf (hs->text + hs->len, sizeof hs->text - hs->len,
                    "%s:%llu:%s\n", masked, line, rest);

  if (n > 0 && (size_t)n < sizeof hs->text - hs->len)
    hs->len += n;
}

/* Return the length of the UTF-8 sequence at P (before END), or 0.  */
static size_t
utf8_len (const unsigned char *p, const unsigned char *end)
{
  size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0, i;

  if (!n || *p > 0xf4 || (size_t)(end - p) < n)
    return 0;
  for (i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* The JSON of a hit is one line of valid UTF-8 with a schema version,
 * and its context shows no control character.  */
static void
check_json (const struct pan_scan_hit *h)
{
  const unsigned char *p, *end;
  char *json = NULL;
  size_t u;

  if (!h->context || pan_scan_hit_json (h, &json)
      || strncmp (json, "{\"v\":1,", 7) || json[strlen (json) - 1] != '}')
    abort ();
  for (p = (unsigned char *)json, end = p + strlen (json); p < end; p += u)
    if (*p < ' ' || !(u = *p < 0x80 ? 1 : utf8_len (p, end)))
      abort ();
  for (p = (const unsigned char *)h->context; *p; p++)
    if (*p < ' ')
      abort ();
  pan_free (json);
}

static gpg_error_t
collect (void *opaque, const struct pan_scan_hit *h)
{
  struct hits *hs = opaque;
  char rest[512];

  if (!h->masked || !h->brand || !h->path || !h->line
      || (h->format == PAN_SCAN_PLAIN && (h->message || h->content_type)))
    abort ();
  check_json (h);
  if (h->format == PAN_SCAN_PLAIN)
    snprintf (rest, sizeof rest, "plain");
  else
    snprintf (rest, sizeof rest, "%llu:%d:%u:%s:%s:%d:%s", h->message,
              h->envelope, h->part, h->header ? h->header : "-",
              h->content_type ? h->content_type : "-", h->undecoded,
              h->encoding ? h->encoding : "-");
  add_line (hs, h->masked, h->line, rest);
  return 0;
}

static void
scan (const uint8_t *data, size_t size, pan_scan_format_t format,
      const uint8_t *sizes, struct hits *hs)
{
  pan_scan_stream_t s = NULL;
  struct pan_scan_options o;
  size_t off = 0, n, k = 0;

  memset (&o, 0, sizeof o);
  o.hit_cb = collect;
  o.opaque = hs;
  hs->len = 0;
  hs->text[0] = 0;
  if (pan_scan_stream_new (NULL, "fuzz", format, &o, &s))
    abort ();
  while (off < size)
    {
      n = sizes ? (size_t)sizes[k++ % 4] * 4 + 1 : size;
      if (n > size - off)
        n = size - off;
      if (pan_scan_stream_feed (s, data + off, n))
        abort ();
      off += n;
    }
  if (pan_scan_stream_finish (s))
    abort ();
  pan_scan_stream_release (s);
}

/* The oracle for plain text: lines counted up to each hit's offset.  */
struct plain
{
  const uint8_t *data;
  struct hits *hs;
};

static gpg_error_t
collect_plain (void *opaque, const struct pan_hit *hit)
{
  struct plain *p = opaque;
  unsigned long long line = 1, i;

  for (i = 0; i < hit->offset; i++)
    line += p->data[i] == '\n';
  add_line (p->hs, hit->masked, line, "plain");
  return 0;
}

static void
scan_oracle (const uint8_t *data, size_t size, struct hits *hs)
{
  static pan_scanner_t s;
  struct plain p = { data, hs };

  if (!s && pan_scanner_new (NULL, 0, &s))
    abort ();
  hs->len = 0;
  hs->text[0] = 0;
  if (pan_scanner_feed (s, data, size, collect_plain, &p)
      || pan_scanner_finish (s, collect_plain, &p))
    abort ();
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
check_same (struct hits *a, struct hits *b)
{
  sort_hits (a);
  sort_hits (b);
  if (a->len != b->len || strcmp (a->text, b->text))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int initialized;
  uint8_t sizes[4] = { 0, 0, 0, 0 };
  pan_scan_format_t format;
  size_t i;

  if (!initialized)
    {
      gcry_check_version (NULL);
      gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
      gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
      initialized = 1;
    }
  if (!size)
    return 0;
  format = (pan_scan_format_t)(data[0] % 3);
  data++;
  size--;
  for (i = 0; i < 4 && i < size; i++)
    sizes[i] = data[i] % 64;
  data += i;
  size -= i;
  scan (data, size, format, NULL, &whole);
  scan (data, size, format, sizes, &chunked);
  check_same (&whole, &chunked);
  if (format == PAN_SCAN_PLAIN)
    {
      scan_oracle (data, size, &oracle);
      check_same (&whole, &oracle);
    }
  return 0;
}
