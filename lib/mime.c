/* mime.c - streaming walk of MIME messages for the PAN scanner
 *
 * The walker reads a message in chunks of any size, line by line, and
 * keeps only what it must: the header field being read (at most
 * PAN_MIME_MAX_FIELD bytes), a line that starts with "--" until it is
 * known not to be a delimiter (HOLD_SIZE bytes), and a stack of at most
 * PAN_MIME_MAX_DEPTH boundaries.
 *
 * Every header field value is decoded (RFC 2047) and scanned on its
 * own.  The body of each leaf part is decoded (base64, quoted-printable)
 * and scanned from a fresh scanner state, so that a PAN cannot span two
 * parts.  Preamble and epilogue text is scanned as written.
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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "pan-int.h"

/* Boundaries longer than this (RFC 2046 allows 70) are not honoured.  */
#define MAX_BOUNDARY 200

/* A line starting with '-' is held this far to compare it with the
 * boundaries; longer lines are not delimiters.  */
#define HOLD_SIZE 1024

/* Room for "type/subtype".  */
#define TYPE_SIZE 128

/* Bytes decoded at a time.  */
#define WORK_SIZE 8192

/* Longest run of white space kept after a QP '=' to see whether a line
 * break follows.  */
#define QP_MAX_WS 16

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

enum qp_state
  {
    QP_TEXT,
    QP_EQ,          /* After '='.  */
    QP_HEX,         /* After '=' and one hex digit.  */
    QP_CR,          /* After '=' (and white space) and CR.  */
    QP_WS           /* After '=' and white space.  */
  };

/* A growable buffer that wipes what it drops.  */
struct mbuf
{
  char *buf;
  size_t len;
  size_t size;
};

/* A multipart (BOUNDARY set) or message/rfc822 entity we are inside.  */
struct frame
{
  char *boundary;
  size_t blen;
  int digest;                 /* multipart/digest: parts default to
                                 message/rfc822.  */
  unsigned int index;         /* The entity, for its epilogue.  */
  char type[TYPE_SIZE];
};

struct pan_mime
{
  pan_scanner_t scanner;      /* Decoded text and header values.  */
  pan_scanner_t raw;          /* Undecoded text of base64 parts.  */
  pan_mime_cb_t cb;
  void *opaque;
  gpg_error_t err;            /* Sticky.  */

  enum walk_state state;
  struct frame frames[PAN_MIME_MAX_DEPTH];
  size_t nframes;
  unsigned int next_index;

  /* The entity being read or scanned.  */
  unsigned int index;
  unsigned int depth;
  char type[TYPE_SIZE];
  char *ctype;                /* Its Content-Type value, or NULL.  */
  char *cte;                  /* Its Content-Transfer-Encoding, or NULL. */

  /* Header block.  */
  struct mbuf line;           /* The physical line being read.  */
  struct mbuf field;          /* The field being read, unfolded.  */
  int first_line;

  /* Body.  */
  int bol;                    /* At the beginning of a line.  */
  int holding;
  size_t holdlen;
  char hold[HOLD_SIZE];

  /* Decoding.  */
  enum sink_kind sink;
  gpgrt_b64state_t b64;
  int b64_pad;                /* The line holds a '='.  */
  enum qp_state qp;
  int qp_hex;
  size_t qp_nws;
  char qp_ws[QP_MAX_WS];
  unsigned char work[WORK_SIZE + 2 * QP_MAX_WS];

  /* Where hits are.  */
  const char *hit_header;
  int hit_undecoded;
};

static gpg_error_t feed_bytes (pan_mime_t m, const char *p, size_t len);


/*
 * Small helpers.
 */

static void
wipe (void *p, size_t len)
{
  volatile unsigned char *v = p;

  while (len--)
    *v++ = 0;
}

static void
wipe_free_str (char *s)
{
  if (s)
    {
      wipe (s, strlen (s));
      free (s);
    }
}

static int
is_wsp (int c)
{
  return c == ' ' || c == '\t';
}

static int
ascii_lower (int c)
{
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Return true if S/LEN equals the lower-case LIT ignoring case.  */
static int
mem_caseeq (const char *s, size_t len, const char *lit)
{
  size_t i;

  if (strlen (lit) != len)
    return 0;
  for (i = 0; i < len; i++)
    if (ascii_lower ((unsigned char)s[i]) != lit[i])
      return 0;
  return 1;
}

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

static gpg_error_t
mb_put (struct mbuf *mb, const void *p, size_t n)
{
  size_t size;
  char *tmp;

  if (mb->len + n + 1 > mb->size)
    {
      size = mb->size ? mb->size : 256;
      while (size < mb->len + n + 1)
        size *= 2;
      tmp = malloc (size);
      if (!tmp)
        return gpg_error_from_syserror ();
      if (mb->len)
        memcpy (tmp, mb->buf, mb->len);
      if (mb->buf)
        {
          wipe (mb->buf, mb->size);
          free (mb->buf);
        }
      mb->buf = tmp;
      mb->size = size;
    }
  memcpy (mb->buf + mb->len, p, n);
  mb->len += n;
  mb->buf[mb->len] = 0;
  return 0;
}

static void
mb_clear (struct mbuf *mb)
{
  if (mb->buf)
    wipe (mb->buf, mb->len);
  mb->len = 0;
}

static void
mb_free (struct mbuf *mb)
{
  if (mb->buf)
    {
      wipe (mb->buf, mb->size);
      free (mb->buf);
    }
  mb->buf = NULL;
  mb->len = mb->size = 0;
}

/* Append the code point CP to OUT as UTF-8.  */
static gpg_error_t
mb_put_utf8 (struct mbuf *out, unsigned long cp)
{
  unsigned char u[4];
  size_t n;

  if (cp < 0x80)
    u[0] = cp, n = 1;
  else if (cp < 0x800)
    u[0] = 0xc0 | (cp >> 6), u[1] = 0x80 | (cp & 0x3f), n = 2;
  else if (cp < 0x10000)
    u[0] = 0xe0 | (cp >> 12), u[1] = 0x80 | ((cp >> 6) & 0x3f),
      u[2] = 0x80 | (cp & 0x3f), n = 3;
  else
    u[0] = 0xf0 | (cp >> 18), u[1] = 0x80 | ((cp >> 12) & 0x3f),
      u[2] = 0x80 | ((cp >> 6) & 0x3f), u[3] = 0x80 | (cp & 0x3f), n = 4;
  return mb_put (out, u, n);
}


/*
 * RFC 2047 encoded words.
 */

enum charset
  {
    CS_OTHER,
    CS_UTF8,              /* Also US-ASCII: bytes kept.  */
    CS_LATIN1,            /* ISO-8859-1, Windows-1252: to UTF-8.  */
    CS_UTF16BE,
    CS_UTF16LE
  };

struct eword
{
  enum charset cs;
  int enc;                  /* 'b' or 'q'.  */
  const char *text;
  size_t len;
  size_t total;             /* Length of the whole word.  */
};

static enum charset
charset_id (const char *s, size_t len)
{
  const char *star = memchr (s, '*', len);

  if (star)
    len = star - s;  /* RFC 2231 language suffix.  */
  if (mem_caseeq (s, len, "utf-8") || mem_caseeq (s, len, "utf8")
      || mem_caseeq (s, len, "us-ascii"))
    return CS_UTF8;
  if (mem_caseeq (s, len, "iso-8859-1") || mem_caseeq (s, len, "latin1")
      || mem_caseeq (s, len, "iso8859-1")
      || mem_caseeq (s, len, "windows-1252"))
    return CS_LATIN1;
  if (mem_caseeq (s, len, "utf-16") || mem_caseeq (s, len, "utf-16be")
      || mem_caseeq (s, len, "ucs-2"))
    return CS_UTF16BE;
  if (mem_caseeq (s, len, "utf-16le"))
    return CS_UTF16LE;
  return CS_OTHER;
}

/* Parse an encoded word "=?charset?e?text?=" at S (LEN bytes left).  */
static int
parse_eword (const char *s, size_t len, struct eword *ew)
{
  size_t i, cslen;

  if (len < 8 || s[0] != '=' || s[1] != '?')
    return 0;
  for (i = 2; i < len && s[i] != '?'; i++)
    if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
      return 0;
  cslen = i - 2;
  if (!cslen || i + 3 > len || s[i + 2] != '?')
    return 0;
  ew->enc = ascii_lower ((unsigned char)s[i + 1]);
  if (ew->enc != 'b' && ew->enc != 'q')
    return 0;
  ew->cs = charset_id (s + 2, cslen);
  ew->text = s + i + 3;
  for (i += 3; i < len && s[i] != '?'; i++)
    if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
      return 0;
  if (i + 1 >= len || s[i + 1] != '=')
    return 0;
  ew->len = s + i - ew->text;
  ew->total = i + 2;
  return 1;
}

/* Decode the Q text of EW into OUT (bytes).  */
static gpg_error_t
decode_q (const struct eword *ew, struct mbuf *out)
{
  gpg_error_t err = 0;
  size_t i;
  char c;
  int hi, lo;

  for (i = 0; i < ew->len && !err; i++)
    {
      c = ew->text[i];
      if (c == '_')
        c = ' ';
      else if (c == '=' && i + 2 < ew->len
               && (hi = pani_hexval ((unsigned char)ew->text[i + 1])) >= 0
               && (lo = pani_hexval ((unsigned char)ew->text[i + 2])) >= 0)
        {
          c = (char)(hi * 16 + lo);
          i += 2;
        }
      err = mb_put (out, &c, 1);
    }
  return err;
}

/* Decode the B text of EW into OUT (bytes).  */
static gpg_error_t
decode_b (const struct eword *ew, struct mbuf *out)
{
  gpgrt_b64state_t state;
  gpg_error_t err;
  size_t n = 0, start = out->len;

  err = mb_put (out, ew->text, ew->len);
  if (err)
    return err;
  state = gpgrt_b64dec_start (NULL);
  if (!state)
    return gpg_error_from_syserror ();
  gpgrt_b64dec_proc (state, out->buf + start, ew->len, &n);
  gpgrt_b64dec_finish (state);
  wipe (out->buf + start + n, ew->len - n);
  out->len = start + n;
  return 0;
}

static unsigned long
utf16_unit (enum charset cs, const unsigned char *s)
{
  return cs == CS_UTF16BE ? (unsigned long)(s[0] << 8 | s[1])
                          : (unsigned long)(s[1] << 8 | s[0]);
}

/* Append the UTF-16 S/N to OUT as UTF-8: a byte order mark picks the
 * byte order and is dropped; NUL and lone surrogates become U+FFFD.  */
static gpg_error_t
put_utf16 (enum charset cs, const unsigned char *s, size_t n,
           struct mbuf *out)
{
  gpg_error_t err = 0;
  unsigned long cp, lo;
  size_t i;

  if (n >= 2 && utf16_unit (cs, s) == 0xfffe)
    cs = cs == CS_UTF16BE ? CS_UTF16LE : CS_UTF16BE;
  for (i = 0; i + 1 < n && !err; i += 2)
    {
      cp = utf16_unit (cs, s + i);
      if (cp >= 0xd800 && cp < 0xdc00 && i + 3 < n
          && (lo = utf16_unit (cs, s + i + 2)) >= 0xdc00 && lo < 0xe000)
        {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 2;
        }
      if (cp == 0xfeff)
        continue;
      if (!cp || (cp >= 0xd800 && cp < 0xe000))
        cp = 0xfffd;
      err = mb_put_utf8 (out, cp);
    }
  return err;
}

/* Append the decoded bytes S/N of charset CS to OUT as UTF-8; bytes we
 * cannot convert become U+FFFD, NUL too (the result is a C string).  */
static gpg_error_t
put_charset (enum charset cs, const unsigned char *s, size_t n,
             struct mbuf *out)
{
  gpg_error_t err = 0;
  size_t i;

  if (cs == CS_UTF16BE || cs == CS_UTF16LE)
    return put_utf16 (cs, s, n, out);
  for (i = 0; i < n && !err; i++)
    {
      if (!s[i] || (s[i] >= 0x80 && cs == CS_OTHER))
        err = mb_put_utf8 (out, 0xfffd);
      else if (s[i] >= 0x80 && cs == CS_LATIN1)
        err = mb_put_utf8 (out, s[i]);
      else
        err = mb_put (out, s + i, 1);
    }
  return err;
}

static gpg_error_t
put_eword (const struct eword *ew, struct mbuf *out)
{
  struct mbuf bytes = { NULL, 0, 0 };
  gpg_error_t err;

  err = ew->enc == 'b' ? decode_b (ew, &bytes) : decode_q (ew, &bytes);
  if (!err)
    err = put_charset (ew->cs, (const unsigned char *)bytes.buf, bytes.len,
                       out);
  mb_free (&bytes);
  return err;
}

/* Return the length of the white space at S/LEN if an encoded word
 * follows it, else 0.  */
static size_t
ws_before_eword (const char *s, size_t len)
{
  struct eword ew;
  size_t i = 0;

  while (i < len && (is_wsp (s[i]) || s[i] == '\r' || s[i] == '\n'))
    i++;
  return i && parse_eword (s + i, len - i, &ew) ? i : 0;
}

/* Decode the encoded words of S/LEN into OUT; white space between two
 * encoded words is dropped (RFC 2047, 6.2).  */
static gpg_error_t
decode_2047 (const char *s, size_t len, struct mbuf *out)
{
  gpg_error_t err = 0;
  struct eword ew;
  size_t i = 0, ws;

  while (i < len && !err)
    {
      if (s[i] == '=' && parse_eword (s + i, len - i, &ew))
        {
          err = put_eword (&ew, out);
          i += ew.total;
          if ((ws = ws_before_eword (s + i, len - i)))
            i += ws;
        }
      else
        {
          err = put_charset (CS_UTF8, (const unsigned char *)s + i, 1, out);
          i++;
        }
    }
  if (!err)
    err = mb_put (out, "", 0);
  return err;
}

gpg_error_t
pan_header_decode_2047 (const char *value, char **r_utf8)
{
  struct mbuf out = { NULL, 0, 0 };
  gpg_error_t err;

  if (!r_utf8)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_utf8 = NULL;
  if (!value)
    return gpg_error (GPG_ERR_INV_VALUE);
  err = decode_2047 (value, strlen (value), &out);
  if (err)
    {
      mb_free (&out);
      return err;
    }
  *r_utf8 = out.buf;
  return 0;
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
      else if (!depth && !is_wsp (*s) && *s != '\r' && *s != '\n')
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
      buf[n++] = (char)ascii_lower ((unsigned char)*s);
  buf[n] = 0;
  return s;
}

/* Read the parameter value at S (quoted string or, leniently, anything
 * up to ';' or white space) into OUT; return its end.  */
static const char *
get_param_value (const char *s, struct mbuf *out, gpg_error_t *r_err)
{
  const char *start;

  if (*s == '"')
    {
      for (s++; *s && *s != '"' && !*r_err; s++)
        {
          if (*s == '\\' && s[1])
            s++;
          *r_err = mb_put (out, s, 1);
        }
      return *s ? s + 1 : s;
    }
  for (start = s; *s && *s != ';' && !is_wsp (*s) && *s != '\r'
         && *s != '\n'; s++)
    ;
  *r_err = mb_put (out, start, s - start);
  return s;
}

/* Parse the Content-Type VALUE: store "type/subtype" in TYPE (empty if
 * invalid) and a malloc'ed boundary parameter at *R_BOUNDARY.  */
static gpg_error_t
parse_content_type (const char *value, char *type, char **r_boundary)
{
  char name[32], sub[TYPE_SIZE];
  struct mbuf val = { NULL, 0, 0 };
  gpg_error_t err = 0;
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
  while (!err && (s = strchr (s, ';')))
    {
      s = get_token (skip_cfws (s + 1), name, sizeof name);
      s = skip_cfws (s);
      if (*s != '=')
        continue;
      val.len = 0;
      s = get_param_value (skip_cfws (s + 1), &val, &err);
      if (!err && !*r_boundary && !strcmp (name, "boundary") && val.len
          && val.len <= MAX_BOUNDARY)
        *r_boundary = strdup (val.buf);
    }
  mb_free (&val);
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

/* Scan the header field NAME with value VALUE/LEN on its own.  */
static void
scan_header (pan_mime_t m, const char *name, const char *value, size_t len)
{
  struct mbuf out = { NULL, 0, 0 };
  gpg_error_t err;

  err = decode_2047 (value, len, &out);
  if (err && !m->err)
    m->err = err;
  m->hit_header = name;
  scan (m, m->scanner, out.buf, out.len, 0);
  scan_finish (m, m->scanner, 0);
  m->hit_header = NULL;
  mb_free (&out);
}


/*
 * Decoding the body of a part.
 */

/* Decode the quoted-printable bytes IN/N into OUT (N + 2 * QP_MAX_WS
 * bytes); return the decoded length.  */
static size_t
qp_decode (pan_mime_t m, const unsigned char *in, size_t n,
           unsigned char *out)
{
  unsigned char *o = out;
  size_t i;
  int c;

  for (i = 0; i < n; i++)
    {
      c = in[i];
    again:
      switch (m->qp)
        {
        case QP_TEXT:
          if (c == '=')
            m->qp = QP_EQ;
          else
            *o++ = (unsigned char)c;
          break;
        case QP_EQ:
          if (pani_hexval (c) >= 0)
            m->qp_hex = c, m->qp = QP_HEX;
          else if (c == '\n')
            m->qp = QP_TEXT;
          else if (c == '\r')
            m->qp = QP_CR;
          else if (is_wsp (c))
            m->qp_ws[0] = (char)c, m->qp_nws = 1, m->qp = QP_WS;
          else
            {
              *o++ = '=';
              m->qp = QP_TEXT;
              goto again;
            }
          break;
        case QP_HEX:
          m->qp = QP_TEXT;
          if (pani_hexval (c) < 0)
            {
              *o++ = '=';
              *o++ = (unsigned char)m->qp_hex;
              goto again;
            }
          *o++ = (unsigned char)(pani_hexval (m->qp_hex) * 16 + pani_hexval (c));
          break;
        case QP_CR:
          m->qp = QP_TEXT;
          if (c != '\n')
            {
              *o++ = '=';
              *o++ = '\r';
              goto again;
            }
          break;
        case QP_WS:
          if (is_wsp (c) && m->qp_nws < QP_MAX_WS)
            m->qp_ws[m->qp_nws++] = (char)c;
          else if (c == '\n')
            m->qp = QP_TEXT;
          else if (c == '\r')
            m->qp = QP_CR;
          else
            {
              *o++ = '=';
              memcpy (o, m->qp_ws, m->qp_nws);
              o += m->qp_nws;
              m->qp = QP_TEXT;
              goto again;
            }
          break;
        }
    }
  return o - out;
}

/* Return what a QP decoder holds at the end of the part into OUT.  */
static size_t
qp_flush (pan_mime_t m, unsigned char *out)
{
  size_t n = 0;

  if (m->qp != QP_TEXT)
    out[n++] = '=';
  if (m->qp == QP_HEX)
    out[n++] = (unsigned char)m->qp_hex;
  else if (m->qp == QP_CR)
    out[n++] = '\r';
  else if (m->qp == QP_WS)
    {
      memcpy (out + n, m->qp_ws, m->qp_nws);
      n += m->qp_nws;
    }
  m->qp = QP_TEXT;
  return n;
}

static void
b64_restart (pan_mime_t m)
{
  if (m->b64)
    gpgrt_b64dec_finish (m->b64);
  m->b64 = gpgrt_b64dec_start (NULL);
  if (!m->b64 && !m->err)
    m->err = gpg_error_from_syserror ();
  m->b64_pad = 0;
}

/* Decode base64 P/N (at most WORK_SIZE bytes, at most one line end, at
 * its end) and scan the result.  gpgrt's decoder stops for good after
 * padding, so a new one starts at the line after a '='.  */
static void
b64_feed (pan_mime_t m, const char *p, size_t n)
{
  size_t out = 0;

  if (!m->b64)
    return;
  memcpy (m->work, p, n);
  if (memchr (p, '=', n))
    m->b64_pad = 1;
  if (gpgrt_b64dec_proc (m->b64, m->work, n, &out))
    {
      b64_restart (m);
      memcpy (m->work, p, n);
      if (!m->b64 || gpgrt_b64dec_proc (m->b64, m->work, n, &out))
        out = 0;
    }
  scan (m, m->scanner, m->work, out, 0);
  wipe (m->work, n);
  if (m->b64_pad && p[n - 1] == '\n')
    b64_restart (m);
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
          out = qp_decode (m, (const unsigned char *)p, k, m->work);
          scan (m, m->scanner, m->work, out, 0);
          wipe (m->work, out);
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
  m->sink = kind;
  m->qp = QP_TEXT;
  if (kind == SINK_BASE64)
    b64_restart (m);
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
      n = qp_flush (m, m->work);
      scan (m, m->scanner, m->work, n, 0);
    }
  if (m->b64)
    {
      gpgrt_b64dec_finish (m->b64);
      m->b64 = NULL;
    }
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
  wipe_free_str (m->ctype);
  wipe_free_str (m->cte);
  m->ctype = m->cte = NULL;
  mb_clear (&m->line);
  mb_clear (&m->field);
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
    strcpy (m->type, m->nframes && m->frames[m->nframes - 1].digest
                     ? "message/rfc822" : "text/plain");
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
      for (i += *r_close ? 2 : 0; i < len && is_wsp (line[i]); i++)
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
  for (n = i; i < len && is_wsp (line[i]); i++)
    ;
  return n && i < len && line[i] == ':';
}

/* Process the field collected in M->FIELD.  */
static void
end_field (pan_mime_t m)
{
  char *colon, *value, *name, **slot = NULL;
  size_t vlen, nlen;

  if (!m->field.len)
    return;
  name = m->field.buf;
  colon = memchr (name, ':', m->field.len);
  *colon = 0;
  for (nlen = colon - name; nlen && is_wsp (name[nlen - 1]); nlen--)
    name[nlen - 1] = 0;
  value = colon + 1;
  while (is_wsp (*value))
    value++;
  vlen = m->field.len - (value - name);
  if (mem_caseeq (name, strlen (name), "content-type"))
    slot = &m->ctype;
  else if (mem_caseeq (name, strlen (name), "content-transfer-encoding"))
    slot = &m->cte;
  if (slot)
    {
      wipe_free_str (*slot);
      *slot = strndup (value, vlen);
      if (!*slot && !m->err)
        m->err = gpg_error_from_syserror ();
    }
  scan_header (m, name, value, vlen);
  mb_clear (&m->field);
}

/* Give up on the header block of the current entity (too large): scan
 * what is pending and the rest of the entity as raw text.  */
static void
header_overflow (pan_mime_t m)
{
  struct mbuf line = m->line;

  end_field (m);
  m->line.buf = NULL;
  m->line.len = m->line.size = 0;
  wipe_free_str (m->ctype);
  m->ctype = NULL;
  strcpy (m->type, "text/plain");
  set_sink (m, SINK_RAW);
  sink_feed (m, line.buf, line.len);
  m->bol = line.len && line.buf[line.len - 1] == '\n';
  mb_free (&line);
}

/* A header line that is not a field: the body starts with it.  */
static void
body_starts_early (pan_mime_t m)
{
  struct mbuf line = m->line;
  gpg_error_t err;

  m->line.buf = NULL;
  m->line.len = m->line.size = 0;
  end_field (m);
  start_body (m);
  err = feed_bytes (m, line.buf, line.len);
  if (err && !m->err)
    m->err = err;
  mb_free (&line);
}

/* Append continuation line LINE/LEN to the field.  */
static void
continue_field (pan_mime_t m, const char *line, size_t len)
{
  gpg_error_t err;

  if (m->field.len + len > PAN_MIME_MAX_FIELD)
    {
      header_overflow (m);
      return;
    }
  err = mb_put (&m->field, line, len);
  if (err && !m->err)
    m->err = err;
  mb_clear (&m->line);
}

/* Process the complete header line in M->LINE.  */
static void
header_line (pan_mime_t m)
{
  const char *line = m->line.buf;
  size_t len = strip_eol (line, m->line.len), k;
  int close, first = m->first_line;

  m->first_line = 0;
  if (!len)
    {
      end_field (m);
      mb_clear (&m->line);
      start_body (m);
    }
  else if (match_delimiter (m, line, len, &k, &close))
    {
      end_field (m);
      mb_clear (&m->line);
      do_delimiter (m, k, close);
    }
  else if (is_wsp (*line) && m->field.len)
    continue_field (m, line, len);
  else if (first && !m->index && len > 5 && !memcmp (line, "From ", 5))
    {
      scan_header (m, "From_", line + 5, len - 5);  /* mbox separator.  */
      mb_clear (&m->line);
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
  gpg_error_t err;

  if (m->line.len + n > PAN_MIME_MAX_FIELD)
    {
      header_overflow (m);
      return p;
    }
  err = mb_put (&m->line, p, n);
  if (err)
    {
      m->err = err;
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
  wipe (m->hold, m->holdlen);
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
      wipe (m->hold, m->holdlen);
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
  if (m->b64)
    gpgrt_b64dec_finish (m->b64);
  pan_scanner_release (m->raw);
  wipe_free_str (m->ctype);
  wipe_free_str (m->cte);
  mb_free (&m->line);
  mb_free (&m->field);
  wipe (m, sizeof *m);
  free (m);
}
