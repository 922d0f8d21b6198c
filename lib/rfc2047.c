/* rfc2047.c - the one decoder of RFC 2047 encoded words
 *
 * An encoded word is "=?charset?B?text?=" (base64) or "=?charset?Q?text?="
 * (a quoted-printable variant where '_' is a space).  Three callers
 * decode them here and read every word the same way: display names in
 * address lists (addrlist.c), the header guard (pani_header_decode_2047)
 * and the MIME walker (mime.c).  They differ only in what becomes of a
 * word that cannot be decoded: display names decode strictly, the two
 * scanners leniently (see PANI_RFC2047_STRICT).
 *
 * Charsets.  Converted to UTF-8 are UTF-8, US-ASCII, ISO-8859-1 (also
 * named iso8859-1 and latin1), Windows-1252, UTF-16 (big-endian unless
 * a byte order mark says otherwise; also named utf-16be and ucs-2) and
 * UTF-16LE; names are compared ignoring case and may carry an RFC 2231
 * language ("UTF-8*en").  This is the union of what the two decoders
 * that this one replaces converted: dropping one would let the header
 * guard miss a card number it finds today (the digits of UTF-16 text
 * are interleaved with NULs), and each needs no more than a 32-entry
 * table, where any further charset would need iconv.  These are what
 * the scripts, tools and mail clients whose mail panmail carries write.
 * A word in another charset is not converted: strict decoding leaves it
 * as written, lenient decoding keeps its ASCII bytes and puts U+FFFD
 * for every other byte.
 *
 * Strict decoding also leaves as written a run of adjacent words that
 * holds a B word that is not canonical base64, a Q word with a '=' not
 * followed by two hex digits, bytes not valid in the charset, or a
 * control character (C0, DEL, C1), which could otherwise end up in a
 * header line or on a terminal.  Lenient decoding keeps a bad Q escape
 * as written, takes what gpgrt makes of bad base64, and puts U+FFFD for
 * invalid bytes and for NUL (the result is a C string).
 *
 * Adjacent encoded words in one charset are decoded together, so that
 * a character split across two words comes out whole (RFC 2047 forbids
 * the split, senders do it anyway).  Every buffer may hold message
 * plaintext and is wiped before it is freed.  */
#include <config.h>

#include <string.h>

#include "panmail.h"
#include "util.h"
#include "rfc2047-int.h"

enum charset
{
  CS_NONE = 0, /* No run (struct pani_rfc2047).  */
  CS_UTF8,
  CS_ASCII,
  CS_LATIN1,
  CS_CP1252,
  CS_UTF16BE,
  CS_UTF16LE,
  CS_OTHER /* Not converted.  */
};

/* What next_char returns for bytes that are not a character.  */
#define NOT_A_CHAR 0xffffffffUL
#define REPLACEMENT_CHAR 0xfffd
#define BYTE_ORDER_MARK 0xfeff

static const struct
{
  const char *name;
  enum charset cs;
} charsets[] = {
  {"utf-8",         CS_UTF8   },
  { "utf8",         CS_UTF8   },
  { "us-ascii",     CS_ASCII  },
  { "iso-8859-1",   CS_LATIN1 },
  { "iso8859-1",    CS_LATIN1 },
  { "latin1",       CS_LATIN1 },
  { "windows-1252", CS_CP1252 },
  { "utf-16",       CS_UTF16BE},
  { "utf-16be",     CS_UTF16BE},
  { "ucs-2",        CS_UTF16BE},
  { "utf-16le",     CS_UTF16LE}
};

/* Windows-1252 0x80 to 0x9F; 0: not assigned.  */
static const unsigned short cp1252_c1[32] = {
  0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
  0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017d, 0,
  0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
  0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178
};

/* An encoded word split into its parts.  */
struct eword
{
  enum charset cs;
  int enc; /* 'b' or 'q'.  */
  const char *text;
  size_t len;
  size_t total; /* Length of the whole word.  */
};


/*
 * Reading an encoded word.
 */

static enum charset
charset_id (const char *s, size_t len)
{
  const char *star = memchr (s, '*', len);
  size_t i;

  if (star)
    len = star - s; /* RFC 2231 language suffix.  */
  for (i = 0; i < sizeof charsets / sizeof *charsets; i++)
    if (pani_mem_caseeq (s, len, charsets[i].name))
      return charsets[i].cs;
  return CS_OTHER;
}

/* Return true if C may stand in the charset or text of an encoded
 * word: printable ASCII but '?'.  */
static int
is_ew_char (int c)
{
  return c > ' ' && c < 127 && c != '?';
}

/* Parse the encoded word at the start of S/LEN into EW: a charset and
 * a text that are not empty, encoding B or Q.  */
static int
eword_parse (const char *s, size_t len, struct eword *ew)
{
  size_t i, cs_end;

  if (len < 9 || s[0] != '=' || s[1] != '?')
    return 0;
  for (i = 2; i < len && is_ew_char ((unsigned char)s[i]); i++)
    ;
  if (i == 2 || i + 3 > len || s[i] != '?' || s[i + 2] != '?')
    return 0;
  cs_end = i;
  ew->enc = pani_ascii_lower ((unsigned char)s[i + 1]);
  if (ew->enc != 'b' && ew->enc != 'q')
    return 0;
  ew->text = s + i + 3;
  for (i += 3; i < len && is_ew_char ((unsigned char)s[i]); i++)
    ;
  if (i + 1 >= len || s[i] != '?' || s[i + 1] != '=' || s + i == ew->text)
    return 0;
  ew->len = s + i - ew->text;
  ew->total = i + 2;
  ew->cs = charset_id (s + 2, cs_end - 2);
  return 1;
}

/* Append the bytes of the Q text of EW to OUT.  A '=' not followed by
 * two hex digits fails if STRICT, else it stays.  */
static int
decode_q (const struct eword *ew, int strict, struct pani_buf *out)
{
  const unsigned char *p = (const unsigned char *)ew->text;
  const unsigned char *end = p + ew->len;
  int hi, lo;

  for (; p < end; p++)
    {
      if (*p == '_')
        pani_buf_putc (out, ' ');
      else if (*p != '=')
        pani_buf_putc (out, *p);
      else if (end - p >= 3 && (hi = pani_hexval (p[1])) >= 0
               && (lo = pani_hexval (p[2])) >= 0)
        {
          pani_buf_putc (out, hi * 16 + lo);
          p += 2;
        }
      else if (strict)
        return 0;
      else
        pani_buf_putc (out, '=');
    }
  return 1;
}

/* Check that TEXT/LEN is canonical base64: alphabet, then at most two
 * '=' of padding, and no dangling single character.  */
static int
is_base64 (const char *text, size_t len)
{
  size_t i, pad = 0;

  for (i = 0; i < len; i++)
    {
      int c = (unsigned char)text[i];

      if (c == '=')
        pad++;
      else if (pad
               || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                    || (c >= '0' && c <= '9') || c == '+' || c == '/'))
        return 0;
    }
  return pad <= 2 && (len - pad) % 4 != 1 && (!pad || len % 4 == 0);
}

/* Cut B back to LEN bytes, wiping the rest.  */
static void
buf_cut (struct pani_buf *b, size_t len)
{
  if (b->len <= len)
    return;
  pani_wipe (b->data + len, b->len - len);
  b->len = len;
}

/* Append the bytes of the B text of EW to OUT.  Bad base64 fails if
 * STRICT, else what gpgrt decodes of it stays.  */
static int
decode_b (const struct eword *ew, int strict, struct pani_buf *out)
{
  gpgrt_b64state_t state;
  size_t start = out->len, n = 0;
  int ok;

  if (strict && !is_base64 (ew->text, ew->len))
    return 0;
  pani_buf_put (out, ew->text, ew->len);
  if (out->failed)
    return 0;
  if (!(state = gpgrt_b64dec_start (NULL)))
    {
      out->failed = 1;
      return 0;
    }
  ok = !gpgrt_b64dec_proc (state, out->data + start, ew->len, &n);
  ok = !gpgrt_b64dec_finish (state) && ok;
  buf_cut (out, start + n);
  return ok || !strict;
}


/*
 * Converting a charset to UTF-8.
 */

/* Return the code point of the valid UTF-8 sequence of LEN bytes at
 * P.  */
static unsigned long
utf8_value (const unsigned char *p, size_t len)
{
  static const unsigned char lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
  unsigned long cp = p[0] & lead_mask[len];
  size_t i;

  for (i = 1; i < len; i++)
    cp = (cp << 6) | (p[i] & 0x3f);
  return cp;
}

static unsigned long
utf16_unit (int big_endian, const unsigned char *p)
{
  return big_endian ? ((unsigned long)p[0] << 8 | p[1])
                    : ((unsigned long)p[1] << 8 | p[0]);
}

/* Return the next character of the UTF-16 S/N at *I and advance *I
 * past it.  A lone surrogate or a trailing odd byte is not one.  */
static unsigned long
next_utf16 (int big_endian, const unsigned char *s, size_t n, size_t *i)
{
  unsigned long cp, lo;

  if (n - *i < 2)
    {
      *i = n;
      return NOT_A_CHAR;
    }
  cp = utf16_unit (big_endian, s + *i);
  *i += 2;
  if (cp < 0xd800 || cp >= 0xe000)
    return cp;
  if (cp >= 0xdc00 || n - *i < 2)
    return NOT_A_CHAR;
  lo = utf16_unit (big_endian, s + *i);
  if (lo < 0xdc00 || lo >= 0xe000)
    return NOT_A_CHAR;
  *i += 2;
  return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
}

/* Return the next character of S/N in charset CS at *I and advance *I
 * past it; NOT_A_CHAR (one byte consumed) if the bytes there are not a
 * character in CS.  */
static unsigned long
next_char (enum charset cs, const unsigned char *s, size_t n, size_t *i)
{
  unsigned char c = s[*i];
  size_t len;

  switch (cs)
    {
    case CS_UTF8:
      if (!(len = pani_utf8_len (s + *i, s + n)))
        break;
      *i += len;
      return utf8_value (s + *i - len, len);
    case CS_LATIN1: *i += 1; return c;
    case CS_CP1252:
      if (c >= 0x80 && c < 0xa0 && !cp1252_c1[c - 0x80])
        break;
      *i += 1;
      return c >= 0x80 && c < 0xa0 ? cp1252_c1[c - 0x80] : c;
    case CS_UTF16BE:
    case CS_UTF16LE: return next_utf16 (cs == CS_UTF16BE, s, n, i);
    default: /* CS_ASCII, CS_OTHER.  */
      if (c >= 0x80)
        break;
      *i += 1;
      return c;
    }
  *i += 1;
  return NOT_A_CHAR;
}

/* A byte order mark at the start of UTF-16 S/N picks the byte order:
 * return the charset CS with the order it says.  */
static enum charset
byte_order (enum charset cs, const unsigned char *s, size_t n)
{
  if ((cs != CS_UTF16BE && cs != CS_UTF16LE) || n < 2
      || utf16_unit (cs == CS_UTF16BE, s) != 0xfffe)
    return cs;
  return cs == CS_UTF16BE ? CS_UTF16LE : CS_UTF16BE;
}

static int
is_control (unsigned long cp)
{
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

/* Append the bytes S/N in charset CS to OUT as UTF-8; byte order marks
 * of UTF-16 go.  Bytes that are not a character, and NUL, fail if
 * STRICT (control characters too; OUT is then unchanged), else they
 * become U+FFFD.  */
static int
convert (enum charset cs, const unsigned char *s, size_t n, int strict,
         struct pani_buf *out)
{
  size_t i = 0, start = out->len;
  unsigned long cp;

  cs = byte_order (cs, s, n);
  while (i < n)
    {
      cp = next_char (cs, s, n, &i);
      if (cp == BYTE_ORDER_MARK && (cs == CS_UTF16BE || cs == CS_UTF16LE))
        continue;
      if (cp == NOT_A_CHAR || !cp || (strict && is_control (cp)))
        {
          if (strict)
            {
              buf_cut (out, start);
              return 0;
            }
          cp = REPLACEMENT_CHAR;
        }
      pani_buf_put_utf8 (out, cp);
    }
  return 1;
}


/*
 * Runs of adjacent encoded words.
 */

/* Decode the pending run into D->OUT (strict: as written if it does
 * not convert) and end it.  */
static void
run_flush (struct pani_rfc2047 *d)
{
  if (d->cs == CS_NONE)
    return;
  if (!convert (d->cs, (const unsigned char *)d->bytes.data, d->bytes.len,
                d->strict, d->out))
    pani_buf_put (d->out, d->raw.data, d->raw.len);
  if (d->bytes.failed || d->raw.failed)
    d->out->failed = 1;
  pani_buf_clear (&d->bytes);
  pani_buf_clear (&d->raw);
  d->cs = CS_NONE;
}

/* Add the encoded word S/LEN, parsed into EW, after white space if SEP.
 * Returns false, adding nothing, if it does not decode.  */
static int
run_add (struct pani_rfc2047 *d, const char *s, size_t len,
         const struct eword *ew, int sep)
{
  struct pani_buf tmp = { NULL, 0, 0, 0 };
  int ok;

  if (d->strict && ew->cs == CS_OTHER)
    return 0;
  ok = ew->enc == 'b' ? decode_b (ew, d->strict, &tmp)
                      : decode_q (ew, d->strict, &tmp);
  if (tmp.failed)
    d->out->failed = 1;
  ok = ok && !tmp.failed;
  if (ok && d->cs != (int)ew->cs)
    {
      run_flush (d);
      if (sep && !d->prev_ew)
        pani_buf_putc (d->out, ' ');
      d->cs = ew->cs;
    }
  else if (ok && sep && d->strict)
    pani_buf_putc (&d->raw, ' ');
  if (ok)
    {
      pani_buf_put (&d->bytes, tmp.data, tmp.len);
      if (d->strict)
        pani_buf_put (&d->raw, s, len);
      d->prev_ew = 1;
    }
  pani_buf_free (&tmp);
  return ok;
}

void
pani_rfc2047_begin (struct pani_rfc2047 *d, struct pani_buf *out,
                    unsigned int flags)
{
  memset (d, 0, sizeof *d);
  d->out = out;
  d->strict = !!(flags & PANI_RFC2047_STRICT);
}

void
pani_rfc2047_word (struct pani_rfc2047 *d, const char *s, size_t len,
                   int sep)
{
  struct eword ew;

  if (eword_parse (s, len, &ew) && ew.total == len
      && run_add (d, s, len, &ew, sep))
    return;
  pani_rfc2047_plain (d, s, len, sep);
}

void
pani_rfc2047_plain (struct pani_rfc2047 *d, const char *s, size_t len,
                    int sep)
{
  run_flush (d);
  if (sep)
    pani_buf_putc (d->out, ' ');
  pani_buf_put (d->out, s, len);
  d->prev_ew = 0;
}

void
pani_rfc2047_end (struct pani_rfc2047 *d)
{
  run_flush (d);
  pani_buf_free (&d->bytes);
  pani_buf_free (&d->raw);
}


/*
 * Unstructured text.
 */

/* Return the length of the white space at S/LEN if an encoded word
 * follows it, else 0.  */
static size_t
ws_before_eword (const char *s, size_t len)
{
  struct eword ew;
  size_t i = 0;

  while (i < len && (pani_is_wsp (s[i]) || s[i] == '\r' || s[i] == '\n'))
    i++;
  return i && eword_parse (s + i, len - i, &ew) ? i : 0;
}

gpg_error_t
pani_rfc2047_decode_text (const char *s, size_t len, struct pani_buf *out)
{
  struct pani_rfc2047 d;
  struct eword ew;
  size_t i = 0;

  pani_rfc2047_begin (&d, out, 0);
  while (i < len)
    {
      if (s[i] == '=' && eword_parse (s + i, len - i, &ew)
          && run_add (&d, s + i, ew.total, &ew, 0))
        {
          i += ew.total;
          i += ws_before_eword (s + i, len - i);
          continue;
        }
      run_flush (&d);
      d.prev_ew = 0;
      if (s[i])
        pani_buf_putc (out, s[i]);
      else
        pani_buf_put_utf8 (out, REPLACEMENT_CHAR);
      i++;
    }
  pani_rfc2047_end (&d);
  return pani_buf_error (out);
}

gpg_error_t
pani_header_decode_2047 (const char *value, char **r_utf8)
{
  struct pani_buf out = { NULL, 0, 0, 0 };
  gpg_error_t err;

  if (!r_utf8)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_utf8 = NULL;
  if (!value)
    return gpg_error (GPG_ERR_INV_VALUE);
  if ((err = pani_rfc2047_decode_text (value, strlen (value), &out)))
    {
      pani_buf_free (&out);
      return err;
    }
  if (!(*r_utf8 = pani_buf_take (&out)))
    return gpg_error (GPG_ERR_ENOMEM);
  return 0;
}
