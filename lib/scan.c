/* scan.c - finding PANs in one file (data discovery)
 *
 * A file is read in PAN_SCAN_CHUNK pieces (scan-walk.c) and fed to a
 * "stream" that knows its format:
 *
 *  - plain text goes straight to the PAN scanner; the line of a hit is
 *    found by counting newlines up to its first digit.  A hit may be
 *    reported while a later chunk is fed, or at the end: the bytes of a
 *    chain of candidates (digits, single spaces or dashes) hold no
 *    newline, and the scanner reports a hit at most 16 bytes after the
 *    chain ended, so the newlines between such a hit and the chunk are
 *    all among the last PLAIN_TAIL bytes before it, which are kept;
 *
 *  - an mbox is cut into messages at every line that starts "From "
 *    (mboxo and mboxrd quote such body lines as ">From "); the "From "
 *    line is scanned as text, the rest of each message is walked with
 *    pan_mime_scan_* (decoded headers, base64 and quoted-printable);
 *    the first 5 bytes of a line are held until it is known whether it
 *    starts a message, so chunks may split "From " anywhere;
 *
 *  - a message (.eml, or a file in a Maildir) is walked whole.
 *
 * Paths and header names are masked (pan_scan_hit.path) before anyone
 * sees them: a file may be named after a card number.
 *
 * XXX Not looked into: compressed files and archives (gzip, zip, ...),
 * mboxcl Content-Length framing, UTF-16 text, PDF and office formats.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "pan-brand-int.h"
#include "pan-simd-int.h"
#include "scan-int.h"
#include "scan-allow-int.h"

/* Plain text bytes kept to count the newlines between a hit reported
 * late and the chunk being fed (at most the scanner's lookahead and the
 * byte that ends a chain).  */
#define PLAIN_TAIL 32

/* The mbox message separator and its length.  */
#define FROM_LINE "From "
#define FROM_LEN 5

struct pan_scan_stream
{
  pan_scanner_t scanner;
  int own_scanner;
  pan_scan_format_t format;
  pan_scan_hit_cb_t hit_cb;
  void *opaque;
  pan_scan_allow_t allow;
  char *path;      /* Masked.  */
  gpg_error_t err; /* Sticky.  */

  /* Plain text: the chunk being fed, its stream offset and the
   * newlines before it; a cursor counting newlines inside it; the last
   * bytes before the chunk.  */
  const char *chunk;
  unsigned long long off;
  unsigned long long nl;
  unsigned long long cur_off;
  unsigned long long cur_nl;
  size_t tail_len;
  char tail[PLAIN_TAIL];

  /* Messages.  */
  unsigned long long line;     /* The line being read (mbox).  */
  unsigned long long message;  /* Number of the current message.  */
  unsigned long long msg_line; /* Where it starts.  */
  pan_mime_t mime;             /* Walking its body, or NULL.  */
  int envelope;                /* Reading its "From " line.  */
  int bol;                     /* At the beginning of a line.  */
  size_t holdlen;
  char hold[FROM_LEN];
};


/*
 * Small helpers.
 */

static gpg_error_t
mask_cb (void *opaque, const struct pan_hit *hit)
{
  char *s = opaque;
  size_t i, k = 0;

  for (i = hit->offset; i < hit->offset + hit->length; i++)
    {
      if (!pani_is_digit ((unsigned char)s[i]))
        continue;
      if (!pani_mask_keeps (k++, hit->ndigits))
        s[i] = '*';
    }
  return 0;
}

/* Return true if S holds fewer digits than a PAN.  */
static int
too_few_digits (const char *s)
{
  size_t n = 0;

  for (; *s && n < PAN_MIN_DIGITS; s++)
    n += pani_is_digit ((unsigned char)*s);
  return n < PAN_MIN_DIGITS;
}

gpg_error_t
pani_scan_masked_copy (const char *text, char **r_copy)
{
  gpg_error_t err;
  pan_scanner_t s = NULL;
  char *copy = strdup (text);

  *r_copy = NULL;
  if (!copy)
    return gpg_error_from_syserror ();
  if (too_few_digits (copy))
    {
      *r_copy = copy;
      return 0;
    }
  if (!(err = pan_scanner_new (NULL, 0, &s))
      && !(err = pan_scanner_feed (s, copy, strlen (copy), mask_cb, copy)))
    err = pan_scanner_finish (s, mask_cb, copy);
  pan_scanner_release (s);
  if (err)
    free (copy);
  else
    *r_copy = copy;
  return err;
}

static int
is_hex_char (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
    || (c >= 'A' && c <= 'F');
}

/* Whether the digits from P to Q of TEXT lie in a word of exactly 40 or
 * 64 hex digits: a fingerprint or a SHA-256 digest, which a message
 * names on purpose and whose digit runs may pass the Luhn check.  */
static int
in_digest (const char *text, const char *p, const char *q)
{
  size_t n;

  while (p > text && is_hex_char (p[-1]))
    p--;
  while (is_hex_char (*q))
    q++;
  n = q - p;
  return (n == 40 || n == 64) && (p == text || !pani_is_alnum (p[-1]))
    && !pani_is_alnum (*q);
}

/* Mask in TEXT every run of 13 to 19 digits that passes Luhn, in any
 * context (a path, a URL) but a fingerprint or digest: an error message
 * shows no card number.  */
static void
mask_digit_runs (char *text)
{
  char digits[PAN_MASK_SIZE], masked[PAN_MASK_SIZE];
  char *p = text, *q;

  while (*p)
    {
      for (q = p; *q >= '0' && *q <= '9'; q++)
        ;
      if (q - p >= 13 && q - p <= 19 && pani_luhn_ok (p, q - p)
          && !in_digest (text, p, q))
        {
          memcpy (digits, p, q - p);
          digits[q - p] = 0;
          if (!pan_mask (digits, masked))
            memcpy (p, masked, q - p);
          pani_wipe (digits, sizeof digits);
        }
      p = q > p ? q : p + 1;
    }
}

gpg_error_t
pan_mask_text (const char *text, char **r_copy)
{
  gpg_error_t err = pani_scan_masked_copy (text ? text : "", r_copy);

  if (!err)
    mask_digit_runs (*r_copy);
  return err;
}

/* Return the number of newlines in P/LEN.  */
static unsigned long long
count_nl (const char *p, size_t len)
{
  return pani_count_byte (p, len, '\n');
}


/*
 * Reporting hits.
 */

static void
init_hit (pan_scan_stream_t s, const struct pan_hit *hit,
          struct pan_scan_hit *sh)
{
  memset (sh, 0, sizeof *sh);
  sh->path = s->path;
  sh->format = s->format;
  sh->message = s->message;
  sh->line = s->msg_line;
  sh->brand = hit->brand;
  sh->masked = hit->masked;
  sh->hash = hit->hash;
  sh->context = hit->context;
  sh->allowed = pani_scan_allow_find (s->allow, hit->hash);
}

/* Return the line of stream offset O (see the top of this file).  */
static unsigned long long
plain_line (pan_scan_stream_t s, unsigned long long o)
{
  size_t from;

  if (!s->chunk || o < s->off)
    {
      from = o + s->tail_len > s->off ? (size_t)(o + s->tail_len - s->off)
                                      : 0;
      return s->nl - count_nl (s->tail + from, s->tail_len - from) + 1;
    }
  s->cur_nl += count_nl (s->chunk + (s->cur_off - s->off), o - s->cur_off);
  s->cur_off = o;
  return s->cur_nl + 1;
}

static gpg_error_t
plain_hit_cb (void *opaque, const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;

  init_hit (s, hit, &sh);
  sh.line = plain_line (s, hit->offset);
  return s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
}

static gpg_error_t
envelope_hit_cb (void *opaque, const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;

  init_hit (s, hit, &sh);
  sh.envelope = 1;
  return s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
}

static gpg_error_t
mime_hit_cb (void *opaque, const struct pan_mime_part *part,
             const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;
  char *header = NULL;
  gpg_error_t err;

  init_hit (s, hit, &sh);
  sh.part = part->index;
  sh.content_type = part->content_type;
  sh.undecoded = part->undecoded;
  sh.encoding = part->header ? NULL : part->encoding;
  if (part->header && (err = pani_scan_masked_copy (part->header, &header)))
    return err;
  sh.header = header;
  err = s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
  free (header);
  return err;
}


/*
 * Plain text.
 */

/* Keep the last PLAIN_TAIL bytes of the plain text fed so far.  */
static void
keep_tail (pan_scan_stream_t s, const char *p, size_t len)
{
  size_t keep;

  if (len >= PLAIN_TAIL)
    {
      memcpy (s->tail, p + len - PLAIN_TAIL, PLAIN_TAIL);
      s->tail_len = PLAIN_TAIL;
      return;
    }
  keep = s->tail_len + len > PLAIN_TAIL ? PLAIN_TAIL - len : s->tail_len;
  memmove (s->tail, s->tail + s->tail_len - keep, keep);
  memcpy (s->tail + keep, p, len);
  s->tail_len = keep + len;
}

static void
plain_feed (pan_scan_stream_t s, const char *p, size_t len)
{
  s->chunk = p;
  s->cur_off = s->off;
  s->cur_nl = s->nl;
  s->err = pan_scanner_feed (s->scanner, p, len, plain_hit_cb, s);
  s->nl = s->cur_nl
    + count_nl (p + (s->cur_off - s->off), len - (s->cur_off - s->off));
  s->off += len;
  s->chunk = NULL;
  keep_tail (s, p, len);
}


/*
 * Messages.
 */

/* Count a message that starts at the current line.  */
static void
begin_message (pan_scan_stream_t s)
{
  s->message++;
  s->msg_line = s->line;
}

/* Start walking the header block and body of the current message.  */
static void
start_walk (pan_scan_stream_t s)
{
  s->err = pan_mime_scan_new (s->scanner, NULL, NULL, mime_hit_cb, s,
                              &s->mime);
}

static void
end_message (pan_scan_stream_t s)
{
  gpg_error_t err = 0;

  if (s->mime)
    err = pan_mime_scan_finish (s->mime);
  pan_mime_scan_release (s->mime);
  s->mime = NULL;
  if (!s->err)
    s->err = err;
}

/* The "From " line of a new message starts.  */
static void
begin_envelope (pan_scan_stream_t s)
{
  end_message (s);
  begin_message (s);
  s->envelope = 1;
}

static void
end_envelope (pan_scan_stream_t s)
{
  s->envelope = 0;
  s->err = pan_scanner_finish (s->scanner, envelope_hit_cb, s);
  if (!s->err)
    start_walk (s);
}

/* Hand P/LEN, part of one line (its end if it ends in LF), to the
 * envelope or the message.  */
static void
message_bytes (pan_scan_stream_t s, const char *p, size_t len)
{
  int eol = len && p[len - 1] == '\n';

  if (s->err || !len)
    return;
  if (s->envelope)
    {
      s->err = pan_scanner_feed (s->scanner, p, len, envelope_hit_cb, s);
      if (eol && !s->err)
        end_envelope (s);
    }
  else
    {
      if (!s->mime)
        {
          begin_message (s); /* Text before the first "From ".  */
          start_walk (s);
        }
      if (!s->err)
        s->err = pan_mime_scan_feed (s->mime, p, len);
    }
  if (eol)
    s->line++;
}

/* Collect the first bytes of a line into HOLD; return the bytes of P
 * used.  */
static size_t
hold_bytes (pan_scan_stream_t s, const char *p, const char *end)
{
  const char *start = p;

  while (s->holdlen < FROM_LEN && p < end
         && !(s->holdlen && s->hold[s->holdlen - 1] == '\n'))
    s->hold[s->holdlen++] = *p++;
  return p - start;
}

/* Decide whether the held start of a line begins a message.  */
static void
release_hold (pan_scan_stream_t s)
{
  if (s->holdlen == FROM_LEN && !memcmp (s->hold, FROM_LINE, FROM_LEN))
    begin_envelope (s);
  s->bol = s->hold[s->holdlen - 1] == '\n';
  message_bytes (s, s->hold, s->holdlen);
  pani_wipe (s->hold, sizeof s->hold);
  s->holdlen = 0;
}

static void
mbox_feed (pan_scan_stream_t s, const char *p, size_t len)
{
  const char *end = p + len, *q;
  size_t n;

  while (p < end && !s->err)
    {
      if (s->bol)
        {
          p += hold_bytes (s, p, end);
          if (s->holdlen == FROM_LEN || s->hold[s->holdlen - 1] == '\n')
            release_hold (s);
          continue;
        }
      q = memchr (p, '\n', end - p);
      n = q ? (size_t)(q + 1 - p) : (size_t)(end - p);
      message_bytes (s, p, n);
      s->bol = q != NULL;
      p += n;
    }
}

static void
mbox_finish (pan_scan_stream_t s)
{
  if (s->holdlen)
    {
      message_bytes (s, s->hold, s->holdlen);
      pani_wipe (s->hold, sizeof s->hold);
      s->holdlen = 0;
    }
  if (s->envelope && !s->err)
    end_envelope (s);
  end_message (s);
}


/*
 * Streams.
 */

gpg_error_t
pan_scan_stream_new (pan_scanner_t scanner, const char *path,
                     pan_scan_format_t format,
                     const struct pan_scan_options *options,
                     pan_scan_stream_t *r_stream)
{
  gpg_error_t err;
  pan_scan_stream_t s;

  if (!r_stream)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_stream = NULL;
  if (!path || !options || format < PAN_SCAN_PLAIN
      || format > PAN_SCAN_MESSAGE)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(s = calloc (1, sizeof *s)))
    return gpg_error_from_syserror ();
  s->format = format;
  s->hit_cb = options->hit_cb;
  s->opaque = options->opaque;
  s->allow = options->allow;
  s->line = 1;
  s->bol = 1;
  s->scanner = scanner;
  s->own_scanner = !scanner;
  err = scanner ? 0 : pan_scanner_new (NULL, 0, &s->scanner);
  if (!err)
    err = pani_scan_masked_copy (path, &s->path);
  if (!err && format == PAN_SCAN_MESSAGE)
    {
      begin_message (s);
      start_walk (s);
      err = s->err;
    }
  if (!err)
    {
      *r_stream = s;
      s = NULL;
    }
  pan_scan_stream_release (s);
  return err;
}

gpg_error_t
pan_scan_stream_feed (pan_scan_stream_t s, const void *buf, size_t len)
{
  if (!s || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (s->err || !len)
    return s->err;
  if (s->format == PAN_SCAN_PLAIN)
    plain_feed (s, buf, len);
  else if (s->format == PAN_SCAN_MBOX)
    mbox_feed (s, buf, len);
  else
    s->err = pan_mime_scan_feed (s->mime, buf, len);
  return s->err;
}

gpg_error_t
pan_scan_stream_finish (pan_scan_stream_t s)
{
  if (!s)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (s->err)
    return s->err;
  if (s->format == PAN_SCAN_PLAIN)
    s->err = pan_scanner_finish (s->scanner, plain_hit_cb, s);
  else if (s->format == PAN_SCAN_MBOX)
    mbox_finish (s);
  else
    end_message (s);
  return s->err;
}

void
pan_scan_stream_release (pan_scan_stream_t s)
{
  if (!s)
    return;
  pan_mime_scan_release (s->mime);
  if (s->own_scanner)
    pan_scanner_release (s->scanner);
  else if (s->scanner)
    pan_scanner_finish (s->scanner, NULL, NULL); /* Reset it.  */
  free (s->path);
  pani_wipe (s, sizeof *s);
  free (s);
}

/* Return true if PATH's last component ends in ".eml" (any case).  */
static int
has_eml_suffix (const char *path)
{
  size_t n = strlen (path);

  return n >= 4 && path[n - 4] == '.' && (path[n - 3] | 0x20) == 'e'
    && (path[n - 2] | 0x20) == 'm' && (path[n - 1] | 0x20) == 'l';
}

pan_scan_format_t
pani_scan_format_detect (const char *path, int in_maildir, const void *head,
                         size_t len)
{
  if (head && len >= FROM_LEN && !memcmp (head, FROM_LINE, FROM_LEN))
    return PAN_SCAN_MBOX;
  if (in_maildir || (path && has_eml_suffix (path)))
    return PAN_SCAN_MESSAGE;
  return PAN_SCAN_PLAIN;
}


/*
 * JSON.
 */

/* Append S to B as a JSON string, bytes that are not UTF-8 as U+FFFD;
 * return true if there were such bytes.  */
static int
json_string (struct pani_buf *b, const char *s)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + strlen (s);
  size_t u;
  int replaced = 0;

  pani_buf_putc (b, '"');
  for (; p < end; p += u)
    {
      u = *p < 0x80 ? 1 : pani_utf8_len (p, end);
      if (!u)
        {
          pani_buf_puts (b, "\\ufffd");
          replaced = 1;
          u = 1;
        }
      else if (*p == '"' || *p == '\\')
        pani_buf_printf (b, "\\%c", *p);
      else if (*p < ' ' || *p == 0x7f)
        pani_buf_printf (b, "\\u%04x", *p);
      else
        pani_buf_put (b, p, u);
    }
  pani_buf_putc (b, '"');
  return replaced;
}

/* Append ",\"KEY\":" and S (a string or null) to B.  */
static void
json_field (struct pani_buf *b, const char *key, const char *s)
{
  pani_buf_printf (b, ",\"%s\":", key);
  if (s)
    json_string (b, s);
  else
    pani_buf_puts (b, "null");
}

/* Append ",\"KEY\":" and N (or null if !HAVE) to B.  */
static void
json_number (struct pani_buf *b, const char *key, int have,
             unsigned long long n)
{
  if (have)
    pani_buf_printf (b, ",\"%s\":%llu", key, n);
  else
    pani_buf_printf (b, ",\"%s\":null", key);
}

/* Append the path of H, and its bytes in hex if they are not UTF-8.  */
static void
json_path (struct pani_buf *b, const struct pan_scan_hit *h)
{
  size_t i, n = strlen (h->path);

  pani_buf_puts (b, ",\"path\":");
  if (!json_string (b, h->path))
    return;
  pani_buf_puts (b, ",\"path_hex\":\"");
  for (i = 0; i < n; i++)
    pani_buf_printf (b, "%02x", (unsigned char)h->path[i]);
  pani_buf_putc (b, '"');
}

gpg_error_t
pan_scan_hit_json (const struct pan_scan_hit *h, char **r_json)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  int msg, part;

  if (!r_json)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_json = NULL;
  if (!h || !h->path || !h->masked || !h->brand)
    return gpg_error (GPG_ERR_INV_VALUE);
  msg = h->format != PAN_SCAN_PLAIN;
  part = msg && !h->envelope;
  pani_buf_printf (&b, "{\"v\":%d", PAN_SCAN_JSON_VERSION);
  json_path (&b, h);
  json_number (&b, "line", 1, h->line);
  json_field (&b, "masked", h->masked);
  json_field (&b, "brand", h->brand);
  json_field (&b, "hash", h->hash);
  json_field (&b, "context", h->context);
  json_number (&b, "message", msg, h->message);
  json_number (&b, "part", part, h->part);
  json_field (&b, "content_type",
              part && !h->header ? h->content_type : NULL);
  json_field (&b, "encoding", part && !h->header ? h->encoding : NULL);
  json_field (&b, "header", h->header);
  pani_buf_printf (&b, ",\"envelope\":%s,\"undecoded\":%s,\"allowed\":%s",
                   h->envelope ? "true" : "false",
                   h->undecoded ? "true" : "false",
                   h->allowed ? "true" : "false");
  json_field (&b, "comment", h->allowed);
  pani_buf_putc (&b, '}');
  if (pani_buf_error (&b))
    {
      pani_buf_free (&b);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  *r_json = pani_buf_take (&b);
  return *r_json ? 0 : gpg_error (GPG_ERR_ENOMEM);
}
