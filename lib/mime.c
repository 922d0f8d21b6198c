/* mime.c - streaming walk of MIME messages for the PAN scanner
 *
 * The walker reads a message in chunks of any size, line by line, and
 * keeps only what it must: the header field being read (at most
 * PAN_MIME_MAX_FIELD bytes), a line that starts with "--" until it is
 * known not to be a delimiter (HOLD_SIZE bytes), and a stack of at most
 * PAN_MIME_MAX_DEPTH boundaries.
 *
 * Every header field value is decoded (RFC 2047, by rfc2047.c) and
 * scanned on its own.  The body of each leaf part is decoded (base64,
 * quoted-printable, by mime-decode.c) and scanned from a fresh scanner
 * state, so that a PAN cannot span two parts.  Preamble and epilogue
 * text is scanned as written.
 *
 * Malformed input never hides text from the scanner: a header line
 * that is not a field starts the body; an oversized header field, a
 * multipart without a usable boundary or nested too deep, and an
 * unknown transfer encoding are scanned as raw text; the undecoded text
 * of a base64 part is scanned too (a text part mislabelled base64 keeps
 * its PANs in the clear).
 *
 * XXX Not decoded: RFC 2231 parameter continuations (boundary*0=...),
 * uuencode, UTF-16 bodies, HTML entities, compressed attachments; lines
 * ending in a bare CR are not recognised as lines.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "pan-int.h"
#include "rfc2047-int.h"
#include "mime-decode-int.h"

/* Boundaries longer than this (RFC 2046 allows 70) are not honoured.  */
#define MAX_BOUNDARY 200

/* A line starting with '-' is held this far to compare it with the
 * boundaries; longer lines are not delimiters.  */
#define HOLD_SIZE 1024

/* Room for "type/subtype".  */
#define TYPE_SIZE 128

/* Bytes decoded at a time.  */
#define WORK_SIZE 8192

enum walk_state
{
  W_HEADERS,
  W_BODY
};

enum sink_kind
{
  SINK_RAW,
  SINK_BASE64,
  SINK_QP
};

/* A multipart (BOUNDARY set) or message/rfc822 entity we are inside.  */
struct frame
{
  char *boundary;
  size_t blen;
  int digest;         /* multipart/digest: parts default to
                                 message/rfc822.  */
  unsigned int index; /* The entity, for its epilogue.  */
  char type[TYPE_SIZE];
};

struct pan_mime
{
  pan_scanner_t scanner; /* Decoded text and header values.  */
  pan_scanner_t raw;     /* Undecoded text of base64 parts.  */
  pan_mime_cb_t cb;
  void *opaque;
  gpg_error_t err; /* Sticky.  */

  enum walk_state state;
  struct frame frames[PAN_MIME_MAX_DEPTH];
  size_t nframes;
  unsigned int next_index;

  /* The entity being read or scanned.  */
  unsigned int index;
  unsigned int depth;
  char type[TYPE_SIZE];
  char *ctype; /* Its Content-Type value, or NULL.  */
  char *cte;   /* Its Content-Transfer-Encoding, or NULL. */

  /* Header block.  */
  struct pani_buf line;  /* The physical line being read.  */
  struct pani_buf field; /* The field being read, unfolded.  */
  int first_line;

  /* Body.  */
  int bol; /* At the beginning of a line.  */
  int holding;
  size_t holdlen;
  char hold[HOLD_SIZE];

  /* Decoding.  */
  enum sink_kind sink;
  struct pani_b64 b64;
  struct pani_qp qp;
  unsigned char work[WORK_SIZE + 2 * PANI_QP_MAX_WS];

  /* Where hits are.  */
  const char *hit_header;
  int hit_undecoded;
};

static gpg_error_t feed_bytes (pan_mime_t m, const char *p, size_t len);


/*
 * Small helpers.
 */

/* Return LEN without a trailing LF or CRLF of LINE.  */
static size_t
strip_eol (const char *line, size_t len)
{
  if (len && line[len - 1] == '\n')
    len--;
  if (len && line[len - 1] == '\r')
    len--;
  return len;
}


/*
 * Content-Type and Content-Transfer-Encoding.
 */

/* Skip white space and (nested) comments.  */
static const char *
skip_cfws (const char *s)
{
  int depth = 0;

  for (; *s; s++)
    {
      if (*s == '(')
        depth++;
      else if (*s == ')' && depth)
        depth--;
      else if (*s == '\\' && depth && s[1])
        s++;
      else if (!depth && !pani_is_wsp (*s) && *s != '\r' && *s != '\n')
        break;
    }
  return s;
}

static int
is_token_char (int c)
{
  return c > ' ' && c < 127 && !strchr ("()<>@,;:\\\"/[]?=", c);
}

/* Copy the token at S in lower case to BUF/SIZE; return its end.  */
static const char *
get_token (const char *s, char *buf, size_t size)
{
  size_t n = 0;

  for (; is_token_char ((unsigned char)*s); s++)
    if (n + 1 < size)
      buf[n++] = (char)pani_ascii_lower ((unsigned char)*s);
  buf[n] = 0;
  return s;
}

/* Read the parameter value at S (quoted string or, leniently, anything
 * up to ';' or white space) into OUT; return its end.  */
static const char *
get_param_value (const char *s, struct pani_buf *out)
{
  const char *start;

  if (*s == '"')
    {
      for (s++; *s && *s != '"'; s++)
        {
          if (*s == '\\' && s[1])
            s++;
          pani_buf_putc (out, *s);
        }
      return *s ? s + 1 : s;
    }
  for (start = s;
       *s && *s != ';' && !pani_is_wsp (*s) && *s != '\r' && *s != '\n'; s++)
    ;
  pani_buf_put (out, start, s - start);
  return s;
}

/* Parse the Content-Type VALUE: store "type/subtype" in TYPE (empty if
 * invalid) and a malloc'ed boundary parameter at *R_BOUNDARY.  */
static gpg_error_t
parse_content_type (const char *value, char *type, char **r_boundary)
{
  char name[32], sub[TYPE_SIZE];
  struct pani_buf val = { NULL, 0, 0, 0 };
  gpg_error_t err;
  const char *s;

  *r_boundary = NULL;
  s = get_token (skip_cfws (value), type, TYPE_SIZE / 2);
  s = skip_cfws (s);
  if (*type && *s == '/')
    {
      s = get_token (skip_cfws (s + 1), sub, TYPE_SIZE / 2);
      if (*sub)
        snprintf (type + strlen (type), TYPE_SIZE - strlen (type), "/%s",
                  sub);
    }
  if (!strchr (type, '/'))
    *type = 0;
  while (!val.failed && (s = strchr (s, ';')))
    {
      s = get_token (skip_cfws (s + 1), name, sizeof name);
      s = skip_cfws (s);
      if (*s != '=')
        continue;
      pani_buf_clear (&val);
      s = get_param_value (skip_cfws (s + 1), &val);
      if (!val.failed && !*r_boundary && !strcmp (name, "boundary")
          && val.len && val.len <= MAX_BOUNDARY)
        *r_boundary = strdup (val.data);
    }
  err = pani_buf_error (&val);
  pani_buf_free (&val);
  return err;
}

static enum sink_kind
parse_cte (const char *value)
{
  char token[32];

  if (!value)
    return SINK_RAW;
  get_token (skip_cfws (value), token, sizeof token);
  if (!strcmp (token, "base64"))
    return SINK_BASE64;
  if (!strcmp (token, "quoted-printable"))
    return SINK_QP;
  return SINK_RAW;
}

static int
is_identity_cte (const char *value)
{
  char token[32];

  if (!value)
    return 1;
  get_token (skip_cfws (value), token, sizeof token);
  return !*token || !strcmp (token, "7bit") || !strcmp (token, "8bit")
    || !strcmp (token, "binary");
}


/*
 * Scanning and reporting.
 */

static gpg_error_t
hit_cb (void *opaque, const struct pan_hit *hit)
{
  pan_mime_t m = opaque;
  struct pan_mime_part part;
  char cte[32];

  part.index = m->index;
  part.depth = m->depth;
  part.content_type = m->type;
  part.header = m->hit_header;
  part.undecoded = m->hit_undecoded;
  part.encoding = NULL;
  if (!m->hit_header)
    {
      get_token (m->cte ? skip_cfws (m->cte) : "", cte, sizeof cte);
      part.encoding = *cte ? cte : "7bit";
    }
  return m->cb ? m->cb (m->opaque, &part, hit) : 0;
}

static void
scan (pan_mime_t m, pan_scanner_t s, const void *p, size_t n, int undecoded)
{
  if (m->err || !n)
    return;
  m->hit_undecoded = undecoded;
  m->err = pan_scanner_feed (s, p, n, hit_cb, m);
}

static void
scan_finish (pan_mime_t m, pan_scanner_t s, int undecoded)
{
  gpg_error_t err;

  m->hit_undecoded = undecoded;
  err = pan_scanner_finish (s, hit_cb, m);
  if (!m->err)
    m->err = err;
}

/* Scan the header field NAME with value VALUE/LEN on its own, RFC 2047
 * decoded.  */
static void
scan_header (pan_mime_t m, const char *name, const char *value, size_t len)
{
  struct pani_buf out = { NULL, 0, 0, 0 };
  gpg_error_t err;

  err = pani_rfc2047_decode_text (value, len, &out);
  if (err && !m->err)
    m->err = err;
  m->hit_header = name;
  scan (m, m->scanner, out.data, out.len, 0);
  scan_finish (m, m->scanner, 0);
  m->hit_header = NULL;
  pani_buf_free (&out);
}


/*
 * Decoding the body of a part.
 */

/* Decode base64 P/N (at most WORK_SIZE bytes, at most one line end, at
 * its end) and scan the result.  */
static void
b64_feed (pan_mime_t m, const char *p, size_t n)
{
  size_t len = 0;
  gpg_error_t err;

  err = pani_b64_decode (&m->b64, p, n, m->work, &len);
  scan (m, m->scanner, m->work, len, 0);
  pani_wipe (m->work, n);
  if (err && !m->err)
    m->err = err;
}

/* Feed P/N (at most one line end, at its end) of the body of the
 * current part.  */
static void
sink_feed (pan_mime_t m, const char *p, size_t n)
{
  size_t k, out;

  for (; n && !m->err; p += k, n -= k)
    {
      k = n > WORK_SIZE ? WORK_SIZE : n;
      if (m->sink == SINK_RAW)
        scan (m, m->scanner, p, k, 0);
      else if (m->sink == SINK_QP)
        {
          out = pani_qp_decode (&m->qp, (const unsigned char *)p, k,
                                m->work);
          scan (m, m->scanner, m->work, out, 0);
          pani_wipe (m->work, out);
        }
      else
        {
          scan (m, m->raw, p, k, 1);
          b64_feed (m, p, k);
        }
    }
}

static void
set_sink (pan_mime_t m, enum sink_kind kind)
{
  gpg_error_t err;

  m->sink = kind;
  m->qp.state = PANI_QP_TEXT;
  if (kind == SINK_BASE64 && (err = pani_b64_start (&m->b64)) && !m->err)
    m->err = err;
  m->state = W_BODY;
  m->bol = 1;
}

/* End the body of the current part: flush decoders and scanners.  */
static void
end_sink (pan_mime_t m)
{
  size_t n;

  if (m->sink == SINK_QP)
    {
      n = pani_qp_flush (&m->qp, m->work);
      scan (m, m->scanner, m->work, n, 0);
      pani_wipe (m->work, n);
    }
  pani_b64_end (&m->b64);
  if (m->sink == SINK_BASE64)
    scan_finish (m, m->raw, 1);
  scan_finish (m, m->scanner, 0);
  m->sink = SINK_RAW;
}


/*
 * Structure: entities, frames, delimiters.
 */

static void
begin_entity (pan_mime_t m)
{
  m->index = m->next_index++;
  m->depth = (unsigned int)m->nframes;
  *m->type = 0;
  pani_wipe_free_str (m->ctype);
  pani_wipe_free_str (m->cte);
  m->ctype = m->cte = NULL;
  pani_buf_clear (&m->line);
  pani_buf_clear (&m->field);
  m->first_line = 1;
  m->state = W_HEADERS;
}

static void
push_frame (pan_mime_t m, char *boundary)
{
  struct frame *f = m->frames + m->nframes++;

  f->boundary = boundary;
  f->blen = boundary ? strlen (boundary) : 0;
  f->digest = !strcmp (m->type, "multipart/digest");
  f->index = m->index;
  memcpy (f->type, m->type, TYPE_SIZE);
}

/* Pop frames until N are left.  */
static void
pop_frames (pan_mime_t m, size_t n)
{
  while (m->nframes > n)
    {
      struct frame *f = m->frames + --m->nframes;

      free (f->boundary);
      f->boundary = NULL;
    }
}

static int
is_message_type (const char *type)
{
  return !strcmp (type, "message/rfc822") || !strcmp (type, "message/global")
    || !strcmp (type, "message/news");
}

/* The header block of the current entity has ended: set up its body.  */
static void
start_body (pan_mime_t m)
{
  char *boundary = NULL;
  gpg_error_t err = 0;
  int deep = m->nframes >= PAN_MIME_MAX_DEPTH;

  if (m->ctype)
    err = parse_content_type (m->ctype, m->type, &boundary);
  if (err && !m->err)
    m->err = err;
  if (!*m->type)
    strcpy (m->type,
            m->nframes && m->frames[m->nframes - 1].digest ? "message/rfc822"
                                                           : "text/plain");
  if (!strncmp (m->type, "multipart/", 10) && boundary && !deep)
    {
      push_frame (m, boundary);
      set_sink (m, SINK_RAW);
      return;
    }
  free (boundary);
  if (is_message_type (m->type) && is_identity_cte (m->cte) && !deep)
    {
      push_frame (m, NULL);
      begin_entity (m);
      return;
    }
  set_sink (m, parse_cte (m->cte));
}

/* Return true if LINE/LEN is a delimiter of a boundary on the stack:
 * store the frame at *R_K and whether it is a close delimiter.  */
static int
match_delimiter (pan_mime_t m, const char *line, size_t len, size_t *r_k,
                 int *r_close)
{
  const struct frame *f;
  size_t k, i;

  len = strip_eol (line, len);
  if (len < 3 || line[0] != '-' || line[1] != '-')
    return 0;
  for (k = m->nframes; k-- > 0;)
    {
      f = m->frames + k;
      if (!f->boundary || len < 2 + f->blen
          || memcmp (line + 2, f->boundary, f->blen))
        continue;
      i = 2 + f->blen;
      *r_close = len - i >= 2 && line[i] == '-' && line[i + 1] == '-';
      for (i += *r_close ? 2 : 0; i < len && pani_is_wsp (line[i]); i++)
        ;
      if (i == len)
        {
          *r_k = k;
          return 1;
        }
    }
  return 0;
}

/* A delimiter of frame K: end the current part, then start the next
 * part or, after a close delimiter, the epilogue of frame K.  */
static void
do_delimiter (pan_mime_t m, size_t k, int close)
{
  struct frame *f = m->frames + k;

  end_sink (m);
  pop_frames (m, k + 1);
  if (!close)
    {
      begin_entity (m);
      return;
    }
  m->index = f->index;
  m->depth = (unsigned int)k;
  memcpy (m->type, f->type, TYPE_SIZE);
  pop_frames (m, k);
  set_sink (m, SINK_RAW);
}


/*
 * The header block.
 */

/* Return true if LINE/LEN starts with a field name, optional white
 * space (obsolete syntax) and a colon.  */
static int
is_field_line (const char *line, size_t len)
{
  size_t i, n;

  for (i = 0; i < len && line[i] != ':'; i++)
    if ((unsigned char)line[i] <= ' ' || (unsigned char)line[i] >= 127)
      break;
  for (n = i; i < len && pani_is_wsp (line[i]); i++)
    ;
  return n && i < len && line[i] == ':';
}

/* Return a copy of VALUE/VLEN to replace OLD, which is freed; NULL if
 * memory ran out (noted in M).  */
static char *
replace_value (pan_mime_t m, char *old, const char *value, size_t vlen)
{
  char *copy;

  pani_wipe_free_str (old);
  if (!(copy = strndup (value, vlen)) && !m->err)
    m->err = gpg_error_from_syserror ();
  return copy;
}

/* Process the field collected in M->FIELD.  */
static void
end_field (pan_mime_t m)
{
  char *colon, *value, *name;
  size_t vlen, nlen;

  if (!m->field.len)
    return;
  name = m->field.data;
  colon = memchr (name, ':', m->field.len);
  *colon = 0;
  for (nlen = colon - name; nlen && pani_is_wsp (name[nlen - 1]); nlen--)
    name[nlen - 1] = 0;
  value = colon + 1;
  while (pani_is_wsp (*value))
    value++;
  vlen = m->field.len - (value - name);
  if (pani_mem_caseeq (name, nlen, "content-type"))
    m->ctype = replace_value (m, m->ctype, value, vlen);
  else if (pani_mem_caseeq (name, nlen, "content-transfer-encoding"))
    m->cte = replace_value (m, m->cte, value, vlen);
  scan_header (m, name, value, vlen);
  pani_buf_clear (&m->field);
}

/* Give up on the header block of the current entity (too large): scan
 * what is pending and the rest of the entity as raw text.  */
static void
header_overflow (pan_mime_t m)
{
  struct pani_buf line = m->line;

  memset (&m->line, 0, sizeof m->line);
  end_field (m);
  pani_wipe_free_str (m->ctype);
  m->ctype = NULL;
  strcpy (m->type, "text/plain");
  set_sink (m, SINK_RAW);
  sink_feed (m, line.data, line.len);
  m->bol = line.len && line.data[line.len - 1] == '\n';
  pani_buf_free (&line);
}

/* A header line that is not a field: the body starts with it.  */
static void
body_starts_early (pan_mime_t m)
{
  struct pani_buf line = m->line;
  gpg_error_t err;

  memset (&m->line, 0, sizeof m->line);
  end_field (m);
  start_body (m);
  err = feed_bytes (m, line.data, line.len);
  if (err && !m->err)
    m->err = err;
  pani_buf_free (&line);
}

/* Append continuation line LINE/LEN to the field.  */
static void
continue_field (pan_mime_t m, const char *line, size_t len)
{
  if (m->field.len + len > PAN_MIME_MAX_FIELD)
    {
      header_overflow (m);
      return;
    }
  pani_buf_put (&m->field, line, len);
  if (m->field.failed && !m->err)
    m->err = gpg_error (GPG_ERR_ENOMEM);
  pani_buf_clear (&m->line);
}

/* Process the complete header line in M->LINE.  */
static void
header_line (pan_mime_t m)
{
  const char *line = m->line.data;
  size_t len = strip_eol (line, m->line.len), k;
  int close, first = m->first_line;

  m->first_line = 0;
  if (!len)
    {
      end_field (m);
      pani_buf_clear (&m->line);
      start_body (m);
    }
  else if (match_delimiter (m, line, len, &k, &close))
    {
      end_field (m);
      pani_buf_clear (&m->line);
      do_delimiter (m, k, close);
    }
  else if (pani_is_wsp (*line) && m->field.len)
    continue_field (m, line, len);
  else if (first && !m->index && len > 5 && !memcmp (line, "From ", 5))
    {
      scan_header (m, "From_", line + 5, len - 5); /* mbox separator.  */
      pani_buf_clear (&m->line);
    }
  else if (is_field_line (line, len))
    {
      end_field (m);
      continue_field (m, line, len);
    }
  else
    body_starts_early (m);
}

/* W_HEADERS: collect the bytes of a header line.  */
static const char *
header_bytes (pan_mime_t m, const char *p, const char *end)
{
  const char *q = memchr (p, '\n', end - p);
  size_t n = q ? (size_t)(q + 1 - p) : (size_t)(end - p);

  if (m->line.len + n > PAN_MIME_MAX_FIELD)
    {
      header_overflow (m);
      return p;
    }
  pani_buf_put (&m->line, p, n);
  if (m->line.failed)
    {
      m->err = gpg_error (GPG_ERR_ENOMEM);
      return end;
    }
  if (q)
    header_line (m);
  return p + n;
}


/*
 * The body.
 */

/* Process the held line (it starts with '-').  */
static void
held_line (pan_mime_t m)
{
  size_t k;
  int close;

  m->holding = 0;
  if (match_delimiter (m, m->hold, m->holdlen, &k, &close))
    do_delimiter (m, k, close);
  else
    sink_feed (m, m->hold, m->holdlen);
  pani_wipe (m->hold, m->holdlen);
  m->holdlen = 0;
}

/* Hold the bytes of a line starting with '-'.  */
static const char *
hold_bytes (pan_mime_t m, const char *p, const char *end)
{
  const char *q = memchr (p, '\n', end - p);
  size_t n = q ? (size_t)(q + 1 - p) : (size_t)(end - p);

  if (m->holdlen + n > HOLD_SIZE)
    {
      sink_feed (m, m->hold, m->holdlen);
      pani_wipe (m->hold, m->holdlen);
      m->holdlen = 0;
      m->holding = 0;
      m->bol = 0;
      return p;
    }
  memcpy (m->hold + m->holdlen, p, n);
  m->holdlen += n;
  if (q)
    {
      held_line (m);
      if (m->state == W_BODY)
        m->bol = 1;
    }
  return p + n;
}

/* W_BODY: pass lines to the sink, holding those that may be
 * delimiters.  */
static const char *
body_bytes (pan_mime_t m, const char *p, const char *end)
{
  const char *q;
  size_t n;

  if (m->holding || (m->bol && *p == '-' && m->nframes))
    {
      m->holding = 1;
      return hold_bytes (m, p, end);
    }
  q = memchr (p, '\n', end - p);
  n = q ? (size_t)(q + 1 - p) : (size_t)(end - p);
  sink_feed (m, p, n);
  m->bol = q != NULL;
  return p + n;
}

static gpg_error_t
feed_bytes (pan_mime_t m, const char *p, size_t len)
{
  const char *end = p + len;

  while (p < end && !m->err)
    p = m->state == W_HEADERS ? header_bytes (m, p, end)
                              : body_bytes (m, p, end);
  return m->err;
}


/*
 * Public interface.
 */

gpg_error_t
pan_mime_scan_new (pan_scanner_t scanner, const char *content_type,
                   const char *encoding, pan_mime_cb_t cb, void *opaque,
                   pan_mime_t *r_mime)
{
  gpg_error_t err;
  pan_mime_t m;

  if (!r_mime)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_mime = NULL;
  if (!scanner)
    return gpg_error (GPG_ERR_INV_VALUE);
  m = calloc (1, sizeof *m);
  if (!m)
    return gpg_error_from_syserror ();
  m->scanner = scanner;
  m->cb = cb;
  m->opaque = opaque;
  err = pani_scanner_clone (scanner, &m->raw);
  if (err)
    goto leave;
  begin_entity (m);
  if (content_type)
    {
      m->ctype = strdup (content_type);
      m->cte = encoding ? strdup (encoding) : NULL;
      if (!m->ctype || (encoding && !m->cte))
        {
          err = gpg_error_from_syserror ();
          goto leave;
        }
      start_body (m);
      if ((err = m->err))
        goto leave;
    }
  *r_mime = m;
  m = NULL;

leave:
  pan_mime_scan_release (m);
  return err;
}

gpg_error_t
pan_mime_scan_feed (pan_mime_t m, const void *buf, size_t len)
{
  if (!m || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  return feed_bytes (m, buf, len);
}

gpg_error_t
pan_mime_scan_finish (pan_mime_t m)
{
  if (!m)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (m->err)
    return m->err;
  if (m->state == W_HEADERS && m->line.len)
    header_line (m);
  if (m->state == W_HEADERS)
    end_field (m);
  if (m->holding)
    held_line (m);
  end_sink (m);
  pop_frames (m, 0);
  return m->err;
}

void
pan_mime_scan_release (pan_mime_t m)
{
  if (!m)
    return;
  pop_frames (m, 0);
  pani_b64_end (&m->b64);
  pan_scanner_release (m->raw);
  pani_wipe_free_str (m->ctype);
  pani_wipe_free_str (m->cte);
  pani_buf_free (&m->line);
  pani_buf_free (&m->field);
  pani_wipe (m, sizeof *m);
  free (m);
}
