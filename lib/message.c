/* message.c - RFC 5322 header blocks and address lists
 *
 * Both parsers work on bytes that may carry message plaintext: every
 * buffer is wiped before it is freed and no reason string quotes the
 * input; reasons give line numbers, character positions and address
 * numbers instead.
 *
 * Address lists follow RFC 5322 section 3.4 with the obsolete syntax of
 * section 4.4 that real mail still uses: phrases with dots, CFWS around
 * dots and '@', empty list elements.  An obs-route ("<@relay:user@host>")
 * is parsed and dropped, as section 4.4 says it must be ignored.
 * Comments never become display names.  A group must be closed by ';'.
 * Atoms and quoted strings may hold 8-bit bytes (RFC 6532).  */
#include <config.h>

#ifndef GPGRT_ENABLE_ES_MACROS
# define GPGRT_ENABLE_ES_MACROS 1
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"

/* Comments nested deeper than this are refused.  */
#define MAX_COMMENT_DEPTH 64

/* The longest addr-spec (in normal form) we accept: a line's worth.  */
#define MAX_ADDR_LEN 998


/*
 * Small helpers.
 */

static void
wipe (void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
  explicit_bzero (p, len);
#else
  volatile unsigned char *v = p;

  while (len--)
    *v++ = 0;
#endif
}

static void
wipe_free (void *p, size_t len)
{
  if (p)
    {
      wipe (p, len);
      free (p);
    }
}

static void
wipe_free_str (char *s)
{
  if (s)
    wipe_free (s, strlen (s));
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

/* Return true if the LEN bytes at S equal the lower-case LIT ignoring
 * ASCII case.  */
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


/*
 * A growable buffer that wipes what it leaves behind.  Out of memory is
 * sticky and checked once at the end.
 */
struct membuf
{
  char *buf;
  size_t len;
  size_t size;
  int oom;
};

static void
mb_grow (struct membuf *mb, size_t need)
{
  size_t size = mb->size ? mb->size : 64;
  char *tmp;

  while (size < need)
    {
      if (size > SIZE_MAX / 2)
        {
          mb->oom = 1;
          return;
        }
      size *= 2;
    }
  tmp = malloc (size);
  if (!tmp)
    {
      mb->oom = 1;
      return;
    }
  if (mb->buf)
    memcpy (tmp, mb->buf, mb->len + 1);
  wipe_free (mb->buf, mb->size);
  mb->buf = tmp;
  mb->size = size;
}

static void
mb_put (struct membuf *mb, const void *p, size_t n)
{
  if (mb->oom)
    return;
  if (n > SIZE_MAX - mb->len - 1)
    {
      mb->oom = 1;
      return;
    }
  if (mb->len + n + 1 > mb->size)
    mb_grow (mb, mb->len + n + 1);
  if (mb->oom)
    return;
  if (n)
    memcpy (mb->buf + mb->len, p, n);
  mb->len += n;
  mb->buf[mb->len] = 0;
}

static void
mb_putc (struct membuf *mb, int c)
{
  char ch = (char)c;

  mb_put (mb, &ch, 1);
}

static void
mb_free (struct membuf *mb)
{
  wipe_free (mb->buf, mb->size);
  memset (mb, 0, sizeof *mb);
}

/* Hand over the string in MB (an empty string if nothing was put) and
 * reset MB.  Returns NULL if memory ran out.  */
static char *
mb_take (struct membuf *mb)
{
  char *s;

  if (!mb->oom && !mb->buf)
    mb_put (mb, "", 0);
  if (mb->oom)
    {
      mb_free (mb);
      return NULL;
    }
  s = mb->buf;
  memset (mb, 0, sizeof *mb);
  return s;
}


/*
 * RFC 5322 header block.
 */

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
  size_t pos;              /* Offset of the next line.  */
  size_t lineno;           /* Number of the line last read.  */
  size_t field_start;      /* Offset of the current field.  */
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

  while (s < end && *s > 32 && *s < 127 && *s != ':')
    s++;
  if (s == p && s < end && *s == ':')
    return hp_error (hp, "empty field name");
  while (s < end && is_wsp (*s))
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

/* Write the name of the raw field RAW to DST, the name without the white
 * space before the colon.  Returns the offset of the colon in RAW.  */
static size_t
copy_name (char *dst, const char *raw)
{
  size_t colon = strchr (raw, ':') - raw;
  size_t n = colon;

  while (n && is_wsp (raw[n - 1]))
    n--;
  memcpy (dst, raw, n);
  dst[n] = 0;
  return colon;
}

/* Write the unfolded and trimmed value S to DST.  */
static void
copy_value (char *dst, const char *s)
{
  size_t n = 0;

  while (is_wsp (*s) || *s == '\n')
    s++;
  for (; *s; s++)
    if (*s != '\n')
      dst[n++] = *s;
  while (n && is_wsp (dst[n - 1]))
    n--;
  dst[n] = 0;
}

static gpg_error_t
push_field (pan_headers_t hdrs, struct field *f)
{
  struct field *tmp;
  size_t size;

  if (hdrs->count == hdrs->size)
    {
      size = hdrs->size ? hdrs->size * 2 : 16;
      tmp = realloc (hdrs->fields, size * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      hdrs->fields = tmp;
      hdrs->size = size;
    }
  hdrs->fields[hdrs->count++] = *f;
  return 0;
}

/* Store the field that started at HP->FIELD_START and ends at END.  */
static gpg_error_t
end_field (struct hparse *hp, size_t end)
{
  size_t len = end - hp->field_start;
  struct field f;
  size_t rawlen, colon;
  char *name;
  gpg_error_t err;

  if (!hp->in_field)
    return 0;
  hp->in_field = 0;
  /* Name and value together are shorter than the raw field.  */
  f.size = 2 * (len + 2);
  f.raw = malloc (f.size);
  if (!f.raw)
    return gpg_error_from_syserror ();
  rawlen = copy_raw (f.raw, hp->buf + hp->field_start, len);
  name = f.raw + rawlen + 1;
  colon = copy_name (name, f.raw);
  f.name = name;
  copy_value (name + strlen (name) + 1, f.raw + colon + 1);
  f.value = name + strlen (name) + 1;
  err = push_field (hp->hdrs, &f);
  if (err)
    wipe_free (f.raw, f.size);
  return err;
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
        return hp_error (hp, "empty line before any header field"
                         " (no header fields)");
      return 0;
    }
  if (is_wsp (hp->buf[ln->start]))
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
pan_headers_parse (const void *buf, size_t len, pan_headers_t *r_headers,
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
 * the input) into MB.  */
static gpg_error_t
read_block (estream_t in, struct membuf *mb, char **r_reason)
{
  size_t line_start = 0;
  int c;

  while ((c = es_getc (in)) != EOF)
    {
      mb_putc (mb, c);
      if (mb->oom)
        return gpg_error (GPG_ERR_ENOMEM);
      if (mb->len > PAN_HEADERS_MAX_BYTES)
        return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                            "header block larger than %d bytes",
                            PAN_HEADERS_MAX_BYTES);
      if (c != '\n')
        continue;
      if (mb->len - line_start == 1
          || (mb->len - line_start == 2 && mb->buf[line_start] == '\r'))
        return 0;
      line_start = mb->len;
    }
  if (es_ferror (in))
    return pani_reason_sys (r_reason, "reading the message header");
  return 0;
}

gpg_error_t
pan_headers_read (estream_t in, pan_headers_t *r_headers, char **r_reason)
{
  gpg_error_t err;
  struct membuf mb = { NULL, 0, 0, 0 };

  *r_headers = NULL;
  if (r_reason)
    *r_reason = NULL;
  if (!in)
    return gpg_error (GPG_ERR_INV_VALUE);
  err = read_block (in, &mb, r_reason);
  if (!err)
    err = pan_headers_parse (mb.buf, mb.len, r_headers, NULL, r_reason);
  mb_free (&mb);
  return err;
}

void
pan_headers_release (pan_headers_t headers)
{
  size_t i;

  if (!headers)
    return;
  for (i = 0; i < headers->count; i++)
    wipe_free (headers->fields[i].raw, headers->fields[i].size);
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


/*
 * Lexer for address lists: turns the value into tokens, drops white
 * space and comments (noting them in the next token's WS flag) and
 * removes quoting.  Token texts live in one scratch buffer no longer
 * than the input.
 */
enum tok_type
  {
    T_END = 0,
    T_ATOM,                  /* 1*atext, 8-bit bytes included.  */
    T_QSTR,                  /* Quoted string, quotes and quoting gone. */
    T_DLIT,                  /* Domain literal with brackets.  */
    T_SPECIAL                /* One of < > @ , ; : . in CH.  */
  };

struct token
{
  enum tok_type type;
  int ch;
  const char *text;
  size_t len;
  int ws;                    /* White space or a comment came before.  */
};

struct lexer
{
  const unsigned char *s;    /* Start of the input.  */
  const unsigned char *p;    /* Current position.  */
  char *scratch;
  size_t slen;
  size_t scratch_size;
  struct token *toks;
  size_t ntoks;
  size_t size;
  int no_comments;
  char **r_reason;
};

static int
is_special (int c)
{
  return c && strchr ("()<>[]:;@\\,.\"", c) != NULL;
}

static int
is_atext (int c)
{
  return c >= 128 || (c > 32 && c < 127 && !is_special (c));
}

static int
is_cfws_start (int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(';
}

static gpg_error_t
lx_error (struct lexer *lx, const char *what)
{
  return pani_reason (lx->r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "%s, character %zu: %s",
                      lx->no_comments ? "address" : "address list",
                      (size_t)(lx->p - lx->s) + 1, what);
}

static gpg_error_t
lx_push (struct lexer *lx, enum tok_type type, int ch, size_t text_start,
         int ws)
{
  struct token *tmp;
  size_t size;

  if (lx->ntoks == lx->size)
    {
      size = lx->size ? lx->size * 2 : 32;
      tmp = realloc (lx->toks, size * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      lx->toks = tmp;
      lx->size = size;
    }
  tmp = lx->toks + lx->ntoks++;
  tmp->type = type;
  tmp->ch = ch;
  tmp->text = lx->scratch + text_start;
  tmp->len = lx->slen - text_start;
  tmp->ws = ws;
  return 0;
}

static void
lx_emit (struct lexer *lx, int c)
{
  lx->scratch[lx->slen++] = (char)c;
}

/* Skip a comment at LX->P, nested comments and quoted pairs included,
 * without recursion.  */
static gpg_error_t
lx_comment (struct lexer *lx)
{
  const unsigned char *open = lx->p;
  int depth = 0;

  if (lx->no_comments)
    return lx_error (lx, "comment not allowed here");
  do
    {
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated comment");
        }
      if (*lx->p == '(' && ++depth > MAX_COMMENT_DEPTH)
        return lx_error (lx, "comments nested too deeply");
      if (*lx->p == ')')
        depth--;
      if (*lx->p == '\\' && lx->p[1])
        lx->p++;
      lx->p++;
    }
  while (depth);
  return 0;
}

/* Return true if C may stand in a quoted string or after a backslash:
 * anything but NUL and the control characters other than HTAB.  */
static int
is_qchar (int c)
{
  return c == '\t' || (c && !pani_is_ctrl (c));
}

static gpg_error_t
lx_quoted (struct lexer *lx, int ws)
{
  size_t start = lx->slen;
  const unsigned char *open = lx->p++;

  for (; *lx->p != '"'; lx->p++)
    {
      if (*lx->p == '\r' || *lx->p == '\n')
        continue;  /* Folding inside the quotes.  */
      if (*lx->p == '\\')
        lx->p++;
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated quoted string");
        }
      if (!is_qchar (*lx->p))
        return lx_error (lx, "control character in quoted string");
      lx_emit (lx, *lx->p);
    }
  lx->p++;
  return lx_push (lx, T_QSTR, 0, start, ws);
}

/* Scan a domain literal; white space inside is dropped, quoted pairs
 * are refused so that the normal form stays simple.  */
static gpg_error_t
lx_literal (struct lexer *lx, int ws)
{
  size_t start = lx->slen;
  const unsigned char *open = lx->p;

  lx_emit (lx, *lx->p++);
  for (; *lx->p != ']'; lx->p++)
    {
      if (is_cfws_start (*lx->p) && *lx->p != '(')
        continue;
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated domain literal");
        }
      if (*lx->p < 33 || *lx->p > 126 || *lx->p == '[' || *lx->p == '\\')
        return lx_error (lx, "invalid character in domain literal");
      lx_emit (lx, *lx->p);
    }
  lx_emit (lx, *lx->p++);
  return lx_push (lx, T_DLIT, 0, start, ws);
}

static gpg_error_t
lx_atom (struct lexer *lx, int ws)
{
  size_t start = lx->slen;

  while (is_atext (*lx->p))
    lx_emit (lx, *lx->p++);
  return lx_push (lx, T_ATOM, 0, start, ws);
}

/* Scan one token (or the end) after white space and comments.  */
static gpg_error_t
lx_token (struct lexer *lx)
{
  gpg_error_t err;
  int ws = 0;
  int c;

  while (is_cfws_start (*lx->p))
    {
      ws = 1;
      if (*lx->p != '(')
        lx->p++;
      else if ((err = lx_comment (lx)))
        return err;
    }
  c = *lx->p;
  if (!c)
    return lx_push (lx, T_END, 0, lx->slen, ws);
  if (c == '"')
    return lx_quoted (lx, ws);
  if (c == '[')
    return lx_literal (lx, ws);
  if (is_atext (c))
    return lx_atom (lx, ws);
  if (strchr ("<>@,;:.", c))
    {
      lx->p++;
      return lx_push (lx, T_SPECIAL, c, lx->slen, ws);
    }
  if (c == ')')
    return lx_error (lx, "')' without '('");
  if (c == ']')
    return lx_error (lx, "']' without '['");
  if (c == '\\')
    return lx_error (lx, "backslash outside quotes");
  return lx_error (lx, "control character");
}

static gpg_error_t
lx_run (struct lexer *lx, const char *value)
{
  gpg_error_t err;

  lx->s = lx->p = (const unsigned char *)value;
  lx->scratch_size = strlen (value) + 1;
  lx->scratch = malloc (lx->scratch_size);
  if (!lx->scratch)
    return gpg_error_from_syserror ();
  do
    err = lx_token (lx);
  while (!err && lx->toks[lx->ntoks - 1].type != T_END);
  return err;
}

static void
lx_release (struct lexer *lx)
{
  wipe_free (lx->scratch, lx->scratch_size);
  free (lx->toks);
}


/*
 * RFC 2047 encoded words in display names.
 */
enum charset
  {
    CS_NONE = 0,
    CS_UTF8,
    CS_ASCII,
    CS_LATIN1
  };

/* An encoded word split into its parts.  */
struct eword
{
  enum charset cs;
  int enc;                  /* 'b' or 'q'.  */
  const char *text;
  size_t len;
};

static enum charset
charset_id (const char *s, size_t len)
{
  const char *star = memchr (s, '*', len);

  if (star)
    len = star - s;  /* RFC 2231 language suffix.  */
  if (mem_caseeq (s, len, "utf-8") || mem_caseeq (s, len, "utf8"))
    return CS_UTF8;
  if (mem_caseeq (s, len, "us-ascii"))
    return CS_ASCII;
  if (mem_caseeq (s, len, "iso-8859-1") || mem_caseeq (s, len, "iso8859-1")
      || mem_caseeq (s, len, "latin1"))
    return CS_LATIN1;
  return CS_NONE;
}

/* Split the atom T as "=?charset?enc?text?=".  Returns true if it is an
 * encoded word in a charset we convert.  */
static int
split_eword (const struct token *t, struct eword *ew)
{
  const char *s = t->text, *q1, *end = t->text + t->len - 2;
  size_t i;

  if (t->type != T_ATOM || t->len < 9 || memcmp (s, "=?", 2)
      || memcmp (end, "?=", 2))
    return 0;
  q1 = memchr (s + 2, '?', t->len - 4);
  if (!q1 || q1 == s + 2 || q1 + 3 > end || q1[2] != '?')
    return 0;
  ew->enc = ascii_lower ((unsigned char)q1[1]);
  ew->text = q1 + 3;
  ew->len = end - ew->text;
  ew->cs = charset_id (s + 2, q1 - (s + 2));
  if (!ew->len || ew->cs == CS_NONE || (ew->enc != 'b' && ew->enc != 'q'))
    return 0;
  for (i = 0; i < ew->len; i++)
    if ((unsigned char)ew->text[i] < 33 || (unsigned char)ew->text[i] > 126
        || ew->text[i] == '?')
      return 0;
  return 1;
}

static int
decode_q (const struct eword *ew, struct membuf *out)
{
  const unsigned char *p = (const unsigned char *)ew->text;
  const unsigned char *end = p + ew->len;
  int hi, lo;

  for (; p < end; p++)
    {
      if (*p == '_')
        mb_putc (out, ' ');
      else if (*p != '=')
        mb_putc (out, *p);
      else if (end - p < 3 || (hi = pani_hexval (p[1])) < 0
               || (lo = pani_hexval (p[2])) < 0)
        return 0;
      else
        {
          mb_putc (out, hi * 16 + lo);
          p += 2;
        }
    }
  return 1;
}

/* Check that TEXT/LEN is plain base64: alphabet, then at most two '='
 * of padding, and no dangling single character.  */
static int
is_base64 (const char *text, size_t len)
{
  size_t i, pad = 0;

  for (i = 0; i < len; i++)
    {
      int c = (unsigned char)text[i];

      if (c == '=')
        pad++;
      else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                        || (c >= '0' && c <= '9') || c == '+' || c == '/'))
        return 0;
    }
  return pad <= 2 && (len - pad) % 4 != 1 && (!pad || len % 4 == 0);
}

static int
decode_b (const struct eword *ew, struct membuf *out)
{
  gpgrt_b64state_t state;
  size_t n = 0;
  char *tmp;
  int ok;

  if (!is_base64 (ew->text, ew->len))
    return 0;
  tmp = pani_strndup (ew->text, ew->len);
  state = tmp ? gpgrt_b64dec_start (NULL) : NULL;
  if (!state)
    {
      out->oom = 1;
      wipe_free (tmp, tmp ? ew->len : 0);
      return 0;
    }
  ok = !gpgrt_b64dec_proc (state, tmp, ew->len, &n);
  ok = !gpgrt_b64dec_finish (state) && ok;
  if (ok)
    mb_put (out, tmp, n);
  wipe_free (tmp, ew->len);
  return ok;
}

/* Return the length of the UTF-8 sequence at P (N bytes left), 0 if it
 * is not valid UTF-8 (overlong forms and surrogates included).  */
static size_t
utf8_seqlen (const unsigned char *p, size_t n)
{
  size_t len, i;
  unsigned long cp;

  if (*p < 0x80)
    return 1;
  if (*p >= 0xc2 && *p <= 0xdf)
    len = 2, cp = *p & 0x1f;
  else if (*p >= 0xe0 && *p <= 0xef)
    len = 3, cp = *p & 0x0f;
  else if (*p >= 0xf0 && *p <= 0xf4)
    len = 4, cp = *p & 0x07;
  else
    return 0;
  if (n < len)
    return 0;
  for (i = 1; i < len; i++)
    {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
      || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    return 0;
  return len;
}

/* Append the bytes S/N in charset CS to OUT as UTF-8.  Returns false
 * (and appends nothing) if they are not valid in CS or hold a control
 * character, which could otherwise end up in a header line.  */
static int
convert_charset (enum charset cs, const unsigned char *s, size_t n,
                 struct membuf *out)
{
  size_t i, len;

  for (i = 0; i < n; i += len)
    {
      len = cs == CS_UTF8 ? utf8_seqlen (s + i, n - i) : 1;
      if (!len || pani_is_ctrl (s[i]) || (cs == CS_ASCII && s[i] >= 0x80)
          || (cs == CS_LATIN1 && s[i] >= 0x80 && s[i] < 0xa0))
        return 0;
    }
  for (i = 0; i < n; i++)
    {
      if (cs == CS_LATIN1 && s[i] >= 0x80)
        {
          mb_putc (out, 0xc0 | (s[i] >> 6));
          mb_putc (out, 0x80 | (s[i] & 0x3f));
        }
      else
        mb_putc (out, s[i]);
    }
  return 1;
}


/*
 * Display names: the words of a phrase joined by single spaces, runs of
 * adjacent encoded words in one charset decoded together (senders split
 * multi-byte characters across words) and joined without space.
 */
struct dname
{
  struct membuf out;
  struct membuf bytes;     /* Decoded bytes of the pending run.  */
  struct membuf raw;       /* The run as written, if it fails.  */
  enum charset cs;         /* Charset of the run; CS_NONE: no run.  */
  int first;
  int prev_ew;
};

static void
dn_flush (struct dname *dn)
{
  if (dn->cs == CS_NONE)
    return;
  if (!convert_charset (dn->cs, (const unsigned char *)dn->bytes.buf,
                        dn->bytes.len, &dn->out))
    mb_put (&dn->out, dn->raw.buf, dn->raw.len);
  dn->bytes.len = dn->raw.len = 0;
  dn->cs = CS_NONE;
}

/* Add the encoded word T (split in EW) whose decoded bytes are in
 * DECODED.  */
static void
dn_add_eword (struct dname *dn, const struct token *t,
              const struct eword *ew, const struct membuf *decoded)
{
  int sep = !dn->first && t->ws;

  if (dn->cs != ew->cs)
    {
      dn_flush (dn);
      if (sep && !dn->prev_ew)
        mb_putc (&dn->out, ' ');
      dn->cs = ew->cs;
    }
  else if (sep)
    mb_putc (&dn->raw, ' ');
  mb_put (&dn->bytes, decoded->buf, decoded->len);
  mb_put (&dn->raw, t->text, t->len);
  dn->prev_ew = 1;
}

static void
dn_add_word (struct dname *dn, const struct token *t)
{
  dn_flush (dn);
  if (!dn->first && t->ws)
    mb_putc (&dn->out, ' ');
  if (t->type == T_SPECIAL)
    mb_putc (&dn->out, t->ch);
  else
    mb_put (&dn->out, t->text, t->len);
  dn->prev_ew = 0;
}

static void
dn_add (struct dname *dn, const struct token *t)
{
  struct membuf decoded = { NULL, 0, 0, 0 };
  struct eword ew;
  int ok = 0;

  if (split_eword (t, &ew))
    ok = ew.enc == 'b' ? decode_b (&ew, &decoded) : decode_q (&ew, &decoded);
  if (ok && !decoded.oom)
    dn_add_eword (dn, t, &ew, &decoded);
  else
    dn_add_word (dn, t);
  dn->out.oom |= decoded.oom;
  mb_free (&decoded);
  dn->first = 0;
}


/*
 * Parser for address lists over the tokens.  The grammar has a fixed
 * depth (list, group, mailbox), so there is no recursion; a phrase may
 * be scanned twice (to see whether a mailbox or a group follows), which
 * keeps the work linear.
 */
struct mailbox
{
  char *addr;
  char *display;
};

struct pan_addrlist
{
  struct mailbox *items;
  size_t count;
  size_t size;
};

struct parser
{
  const struct token *toks;
  size_t i;
  size_t elem;               /* Number of the address; 0: a bare one. */
  struct pan_addrlist *out;
  char **r_reason;
};

static const struct token *
cur (struct parser *ps)
{
  return ps->toks + ps->i;
}

static int
at_special (struct parser *ps, int ch)
{
  return cur (ps)->type == T_SPECIAL && cur (ps)->ch == ch;
}

static int
at_word (struct parser *ps)
{
  return cur (ps)->type == T_ATOM || cur (ps)->type == T_QSTR;
}

static gpg_error_t
ps_error (struct parser *ps, const char *what)
{
  if (!ps->elem)
    return pani_reason (ps->r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "address: %s", what);
  return pani_reason (ps->r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "address %zu: %s", ps->elem, what);
}

static gpg_error_t
list_push (struct pan_addrlist *list, char *addr, char *display)
{
  struct mailbox *tmp;
  size_t size;

  if (list->count == list->size)
    {
      size = list->size ? list->size * 2 : 8;
      tmp = realloc (list->items, size * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      list->items = tmp;
      list->size = size;
    }
  list->items[list->count].addr = addr;
  list->items[list->count].display = display;
  list->count++;
  return 0;
}

/* Return true if S/N is a dot-atom-text (8-bit bytes counted as atext). */
static int
is_dot_atom (const char *s, size_t n)
{
  size_t i;

  if (!n || s[0] == '.' || s[n - 1] == '.')
    return 0;
  for (i = 0; i < n; i++)
    if (s[i] == '.' ? s[i + 1] == '.' : !is_atext ((unsigned char)s[i]))
      return 0;
  return 1;
}

/* Append the local part S/N to OUT, quoted only if it must be.  */
static void
put_local (struct membuf *out, const char *s, size_t n)
{
  size_t i;

  if (is_dot_atom (s, n))
    {
      mb_put (out, s, n);
      return;
    }
  mb_putc (out, '"');
  for (i = 0; i < n; i++)
    {
      if (s[i] == '"' || s[i] == '\\')
        mb_putc (out, '\\');
      mb_putc (out, s[i]);
    }
  mb_putc (out, '"');
}

/* Parse a local part: word *("." word).  Its content, without quoting,
 * goes to OUT.  */
static gpg_error_t
parse_local (struct parser *ps, struct membuf *out)
{
  for (;;)
    {
      if (!at_word (ps))
        return ps_error (ps, "invalid local part");
      mb_put (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      if (!at_special (ps, '.'))
        return 0;
      mb_putc (out, '.');
      ps->i++;
    }
}

static void
put_lower (struct membuf *out, const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    mb_putc (out, ascii_lower ((unsigned char)s[i]));
}

/* Parse a domain: a domain literal or atom *("." atom), lower-cased to
 * OUT.  */
static gpg_error_t
parse_domain (struct parser *ps, struct membuf *out)
{
  if (cur (ps)->type == T_DLIT)
    {
      put_lower (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      return 0;
    }
  for (;;)
    {
      if (cur (ps)->type != T_ATOM)
        return ps_error (ps, "invalid domain");
      put_lower (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      if (!at_special (ps, '.'))
        return 0;
      mb_putc (out, '.');
      ps->i++;
    }
}

/* Parse an addr-spec and store its normal form at *R_ADDR.  */
static gpg_error_t
parse_addr_spec (struct parser *ps, char **r_addr)
{
  gpg_error_t err;
  struct membuf local = { NULL, 0, 0, 0 };
  struct membuf addr = { NULL, 0, 0, 0 };

  *r_addr = NULL;
  if ((err = parse_local (ps, &local)))
    goto leave;
  if (!at_special (ps, '@'))
    {
      err = ps_error (ps, "not an address (no '@' after the local part)");
      goto leave;
    }
  ps->i++;
  put_local (&addr, local.buf ? local.buf : "", local.len);
  mb_putc (&addr, '@');
  if ((err = parse_domain (ps, &addr)))
    goto leave;
  if (!addr.oom && addr.len > MAX_ADDR_LEN)
    {
      err = ps_error (ps, "address longer than 998 characters");
      goto leave;
    }
  if (!(*r_addr = mb_take (&addr)))
    err = gpg_error (GPG_ERR_ENOMEM);

 leave:
  mb_free (&local);
  mb_free (&addr);
  return err;
}

/* Skip an obs-route "@domain,@domain:" after '<'; RFC 5322 4.4 says to
 * ignore it.  */
static gpg_error_t
skip_route (struct parser *ps)
{
  struct membuf scratch = { NULL, 0, 0, 0 };
  gpg_error_t err = 0;

  while (!err && at_special (ps, '@'))
    {
      ps->i++;
      err = parse_domain (ps, &scratch);
      while (!err && at_special (ps, ','))
        ps->i++;
    }
  mb_free (&scratch);
  if (!err && !at_special (ps, ':'))
    err = ps_error (ps, "invalid route in angle brackets");
  ps->i++;
  return err;
}

static gpg_error_t
parse_angle (struct parser *ps, char **r_addr)
{
  gpg_error_t err;

  *r_addr = NULL;
  ps->i++;  /* The '<'.  */
  if (at_special (ps, '>'))
    return ps_error (ps, "empty address in angle brackets");
  if (at_special (ps, '@') && (err = skip_route (ps)))
    return err;
  if ((err = parse_addr_spec (ps, r_addr)))
    return err;
  if (at_special (ps, '>'))
    {
      ps->i++;
      return 0;
    }
  free (*r_addr);
  *r_addr = NULL;
  return ps_error (ps, "missing '>'");
}

static void
skip_phrase (struct parser *ps)
{
  while (at_word (ps) || at_special (ps, '.'))
    ps->i++;
}

/* Parse a phrase into a display name at *R_DISPLAY (NULL if empty).  */
static gpg_error_t
parse_phrase (struct parser *ps, char **r_display)
{
  struct dname dn;

  *r_display = NULL;
  memset (&dn, 0, sizeof dn);
  dn.first = 1;
  for (; at_word (ps) || at_special (ps, '.'); ps->i++)
    dn_add (&dn, cur (ps));
  dn_flush (&dn);
  mb_free (&dn.bytes);
  mb_free (&dn.raw);
  if (dn.out.oom)
    {
      mb_free (&dn.out);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  if (dn.out.len)
    *r_display = mb_take (&dn.out);
  mb_free (&dn.out);
  return 0;
}

/* Parse a mailbox: name-addr or addr-spec.  */
static gpg_error_t
parse_mailbox (struct parser *ps)
{
  gpg_error_t err;
  size_t start = ps->i;
  char *display = NULL;
  char *addr = NULL;

  skip_phrase (ps);
  if (at_special (ps, '<'))
    {
      ps->i = start;
      if (!(err = parse_phrase (ps, &display)))
        err = parse_angle (ps, &addr);
    }
  else if (at_special (ps, ':'))
    err = ps_error (ps, "group inside a group");
  else if (start == ps->i)
    err = ps_error (ps, "expected an address");
  else
    {
      ps->i = start;
      err = parse_addr_spec (ps, &addr);
    }
  if (!err)
    err = list_push (ps->out, addr, display);
  if (err)
    {
      wipe_free_str (display);
      free (addr);
    }
  return err;
}

/* Parse mailboxes separated by commas, empty elements allowed, up to
 * the end (IN_GROUP false) or a ';' (IN_GROUP true).  */
static gpg_error_t parse_address (struct parser *ps);

static gpg_error_t
parse_list (struct parser *ps, int in_group)
{
  gpg_error_t err;

  for (;;)
    {
      if (cur (ps)->type == T_END)
        return in_group ? ps_error (ps, "group not closed by ';'") : 0;
      if (in_group && at_special (ps, ';'))
        return 0;
      if (at_special (ps, ','))
        {
          ps->i++;
          continue;
        }
      ps->elem++;
      err = in_group ? parse_mailbox (ps) : parse_address (ps);
      if (err)
        return err;
      if (at_special (ps, ','))
        ps->i++;
      else if (cur (ps)->type != T_END && !(in_group && at_special (ps, ';')))
        return ps_error (ps, "expected ',' after the address");
    }
}

/* Parse "display-name : [mailbox-list] ;" starting at the name.  */
static gpg_error_t
parse_group (struct parser *ps, size_t start)
{
  gpg_error_t err;

  if (start == ps->i)
    return ps_error (ps, "group without a name");
  ps->i++;  /* The ':'.  */
  if ((err = parse_list (ps, 1)))
    return err;
  ps->i++;  /* The ';'.  */
  return 0;
}

static gpg_error_t
parse_address (struct parser *ps)
{
  size_t start = ps->i;

  skip_phrase (ps);
  if (at_special (ps, ':'))
    return parse_group (ps, start);
  ps->i = start;
  return parse_mailbox (ps);
}

static void
list_clear (struct pan_addrlist *list)
{
  size_t i;

  for (i = 0; i < list->count; i++)
    {
      wipe_free_str (list->items[i].addr);
      wipe_free_str (list->items[i].display);
    }
  free (list->items);
  memset (list, 0, sizeof *list);
}

/* Move the mailboxes of FROM to the end of LIST.  */
static gpg_error_t
list_append (struct pan_addrlist *list, struct pan_addrlist *from)
{
  struct mailbox *tmp;
  size_t need = list->count + from->count;

  if (need > list->size)
    {
      tmp = realloc (list->items, need * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      list->items = tmp;
      list->size = need;
    }
  if (from->count)
    memcpy (list->items + list->count, from->items,
            from->count * sizeof *tmp);
  list->count = need;
  from->count = 0;
  return 0;
}

gpg_error_t
pan_addrlist_new (pan_addrlist_t *r_list)
{
  *r_list = calloc (1, sizeof **r_list);
  return *r_list ? 0 : gpg_error_from_syserror ();
}

void
pan_addrlist_release (pan_addrlist_t list)
{
  if (!list)
    return;
  list_clear (list);
  free (list);
}

gpg_error_t
pan_addrlist_parse (pan_addrlist_t list, const char *value, char **r_reason)
{
  gpg_error_t err;
  struct lexer lx;
  struct parser ps;
  struct pan_addrlist tmp = { NULL, 0, 0 };

  if (r_reason)
    *r_reason = NULL;
  if (!list || !value)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&lx, 0, sizeof lx);
  lx.r_reason = r_reason;
  if ((err = lx_run (&lx, value)))
    goto leave;
  memset (&ps, 0, sizeof ps);
  ps.toks = lx.toks;
  ps.out = &tmp;
  ps.r_reason = r_reason;
  if ((err = parse_list (&ps, 0)))
    goto leave;
  err = list_append (list, &tmp);

 leave:
  list_clear (&tmp);
  lx_release (&lx);
  return err;
}

size_t
pan_addrlist_count (pan_addrlist_t list)
{
  return list ? list->count : 0;
}

const char *
pan_addrlist_addr (pan_addrlist_t list, size_t idx)
{
  return list && idx < list->count ? list->items[idx].addr : NULL;
}

const char *
pan_addrlist_display (pan_addrlist_t list, size_t idx)
{
  return list && idx < list->count ? list->items[idx].display : NULL;
}

/* Refuse white space (other than around the whole) between the tokens
 * of a bare address.  */
static gpg_error_t
check_bare (const struct lexer *lx, char **r_reason)
{
  size_t i;

  for (i = 1; i < lx->ntoks; i++)
    if (lx->toks[i].ws && lx->toks[i].type != T_END)
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "not a bare address (white space inside)");
  return 0;
}

gpg_error_t
pan_addr_normalize (const char *addr, char **r_norm, char **r_reason)
{
  gpg_error_t err;
  struct lexer lx;
  struct parser ps;

  *r_norm = NULL;
  if (r_reason)
    *r_reason = NULL;
  if (!addr)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&lx, 0, sizeof lx);
  lx.no_comments = 1;
  lx.r_reason = r_reason;
  if ((err = lx_run (&lx, addr)) || (err = check_bare (&lx, r_reason)))
    goto leave;
  memset (&ps, 0, sizeof ps);
  ps.toks = lx.toks;
  ps.r_reason = r_reason;
  if ((err = parse_addr_spec (&ps, r_norm)))
    goto leave;
  if (cur (&ps)->type != T_END)
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                         "not a bare address (local@domain)");
      free (*r_norm);
      *r_norm = NULL;
    }

 leave:
  lx_release (&lx);
  return err;
}
