/* bundle.c - the text of a registry bundle and of a home's bundle state
 *
 * A bundle carries the enrollments of one home to others (pankey
 * export, pankey import; see pankey(8), EXPORT AND IMPORT).  It is text
 * a person can read and diff, signed as a whole by an operator's
 * OpenPGP key (bundle-keys.c); only the text that the signature covers,
 * as gpg hands it back, is ever parsed.  Stanzas are separated by one
 * blank line; each line is "KEY SP VALUE":
 *
 *   panmail-bundle 1
 *   home 5f0c6a1e9b7d4c2a8e3f1b0d9c8a7e6f
 *   serial 1764480000
 *   created-at 2026-11-30T05:20:00Z
 *   created-by Jane Operator
 *   signer 0123456789ABCDEF0123456789ABCDEF01234567
 *
 *   recipient alice@example.test
 *   protocol openpgp
 *   fingerprint 89ABCDEF0123456789ABCDEF0123456789ABCDEF
 *   status active
 *
 *   recipient bob@example.test
 *   protocol openpgp
 *   fingerprint FEDCBA9876543210FEDCBA9876543210FEDCBA98
 *   status revoked
 *   reason compromised
 *
 *   key 89ABCDEF0123456789ABCDEF0123456789ABCDEF
 *   protocol openpgp
 *   sha256 (64 hex digits: of the key's bytes)
 *   data (base64 of the key, 64 characters a line)
 *   data ...
 *
 * The header comes first, then the recipients (active or revoked
 * enrollments), then one key stanza for each key an active enrollment
 * pins (an OpenPGP key as gpg exports it, an S/MIME certificate in
 * DER).  The parser refuses anything pani_bundle_write would not have
 * written.
 *
 * The state file of a home (HOME/bundles) holds the home's id, the
 * operator keys it accepts bundles from and the serials of the last
 * bundle exported and imported:
 *
 *   # comment lines at the top
 *   home-id 5f0c6a1e9b7d4c2a8e3f1b0d9c8a7e6f
 *   operator-key 0123456789ABCDEF0123456789ABCDEF01234567
 *   exported 1764480000
 *   applied 1764480000 (64 hex digits: SHA-256 of its text)
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "timeutil-int.h"
#include "bundle-int.h"

/* The longest line, without its LF, that the parsers accept.  */
#define MAX_LINE 4096

/* The most recipients and keys a bundle carries.  */
#define MAX_ITEMS 100000

/* Base64 characters of a "data" line; the last may have fewer.  */
#define DATA_WIDTH 64

/* Reading lines.  */
struct cursor
{
  const char *p, *end;
  unsigned int line; /* Of the line last read.  */
  const char *key;   /* Its key (KLEN bytes) and value (VLEN bytes), */
  size_t klen;
  const char *val;
  size_t vlen;
  int blank; /* or it was empty.  */
  char **r_reason;
};

/* Store "line N: MESSAGE" (FMT, a string literal, and its arguments)
 * as the reason of the cursor C and give GPG_ERR_INV_DATA.  */
#define bad(c, fmt, ...)                                    \
  pani_reason ((c)->r_reason, gpg_error (GPG_ERR_INV_DATA), \
               "line %u: " fmt, (c)->line, ##__VA_ARGS__)

static void
cursor_init (struct cursor *c, const void *buf, size_t len, char **r_reason)
{
  memset (c, 0, sizeof *c);
  c->p = buf;
  c->end = c->p + len;
  c->r_reason = r_reason;
}

/* Check the LEN bytes of the line at S: no control characters, "KEY SP
 * VALUE" with a value that neither starts nor ends with a space.  */
static gpg_error_t
split_line (struct cursor *c, const char *s, size_t len)
{
  const char *sp;

  if (len > MAX_LINE)
    return bad (c, "longer than %d bytes", MAX_LINE);
  for (size_t i = 0; i < len; i++)
    if (!s[i] || pani_is_ctrl ((unsigned char)s[i]))
      return bad (c, "a control character");
  sp = memchr (s, ' ', len);
  if (!sp || sp == s || sp + 1 == s + len || sp[1] == ' '
      || s[len - 1] == ' ')
    return bad (c, "not \"KEY VALUE\" with one space between");
  c->key = s;
  c->klen = sp - s;
  c->val = sp + 1;
  c->vlen = len - c->klen - 1;
  return 0;
}

/* Read the next line; GPG_ERR_EOF at the end.  */
static gpg_error_t
next_line (struct cursor *c)
{
  const char *s = c->p, *nl;
  size_t len;

  if (c->p >= c->end)
    return gpg_error (GPG_ERR_EOF);
  c->line++;
  nl = memchr (s, '\n', c->end - s);
  len = (nl ? nl : c->end) - s;
  c->p = nl ? nl + 1 : c->end;
  c->blank = !len;
  c->key = c->val = NULL;
  c->klen = c->vlen = 0;
  return len ? split_line (c, s, len) : 0;
}

/* True if the line last read has the key KEY.  */
static int
is_key (const struct cursor *c, const char *key)
{
  return c->key && c->klen == strlen (key) && !memcmp (c->key, key, c->klen);
}

/* Read the next line, which must have the key KEY; its value, copied,
 * at *R_VAL.  */
static gpg_error_t
expect (struct cursor *c, const char *key, char **r_val)
{
  gpg_error_t err = next_line (c);

  *r_val = NULL;
  if (gpg_err_code (err) == GPG_ERR_EOF || (!err && c->blank))
    return bad (c, "\"%s\" is missing", key);
  if (err)
    return err;
  if (!is_key (c, key))
    return bad (c, "\"%s\" expected", key);
  if (!(*r_val = pani_strndup (c->val, c->vlen)))
    return gpg_error_from_syserror ();
  return 0;
}

/* True if S is DIGITS hex digits (with DIGITS 0: 40 or 64) of upper
 * case if UPPER, else of lower case.  */
static int
hex_ok (const char *s, size_t digits, int upper)
{
  size_t n = strlen (s);

  if (digits ? n != digits : n != 40 && n != 64)
    return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9')
          || (upper ? *s >= 'A' && *s <= 'F' : *s >= 'a' && *s <= 'f')))
      return 0;
  return 1;
}

/* Read the line KEY with a hex value as hex_ok checks it into BUF.  */
static gpg_error_t
take_hex (struct cursor *c, const char *key, size_t digits, int upper,
          char *buf)
{
  char *v;
  gpg_error_t err;

  if ((err = expect (c, key, &v)))
    return err;
  if (!hex_ok (v, digits, upper))
    err = bad (c, "\"%s\" takes %s %s-case hex digits", key,
               digits == 32     ? "32"
                 : digits == 64 ? "64"
                                : "40 or 64",
               upper ? "upper" : "lower");
  else
    strcpy (buf, v);
  free (v);
  return err;
}

/* Parse the serial S (decimal, no leading zero, not 0).  */
static int
serial_parse (const char *s, unsigned long long *r_serial)
{
  size_t n = strlen (s);

  *r_serial = 0;
  if (!n || n > 19 || *s == '0' || pani_span (s, n, "0123456789") != n)
    return -1;
  *r_serial = strtoull (s, NULL, 10);
  return 0;
}

/* Read the line KEY with a serial into *R_SERIAL.  */
static gpg_error_t
take_serial (struct cursor *c, const char *key, unsigned long long *r_serial)
{
  char *v;
  gpg_error_t err;

  if ((err = expect (c, key, &v)))
    return err;
  if (serial_parse (v, r_serial))
    err = bad (c, "\"%s\" takes a number from 1 to 19 digits", key);
  free (v);
  return err;
}

static gpg_error_t
take_protocol (struct cursor *c, pan_protocol_t *r_protocol)
{
  char *v;
  gpg_error_t err;

  if ((err = expect (c, "protocol", &v)))
    return err;
  if (pan_protocol_parse (v, r_protocol))
    err = bad (c, "the protocol is openpgp or smime");
  free (v);
  return err;
}


/*
 * Stanzas.
 */

/* After a blank line: refuse a second one and one at the end.  */
static gpg_error_t
after_blank (struct cursor *c)
{
  if (c->p >= c->end)
    return bad (c, "a blank line at the end");
  if (*c->p == '\n')
    return bad (c, "two blank lines");
  return 0;
}

/* Read the end of a stanza: a blank line, or the end (*R_EOF set).  */
static gpg_error_t
end_stanza (struct cursor *c, int *r_eof)
{
  gpg_error_t err = next_line (c);

  *r_eof = gpg_err_code (err) == GPG_ERR_EOF;
  if (*r_eof)
    return 0;
  if (err)
    return err;
  if (!c->blank)
    return bad (c, "\"%.*s\" is not expected here", (int)c->klen, c->key);
  return after_blank (c);
}

static gpg_error_t
parse_header (struct cursor *c, struct pani_bundle *b)
{
  char *v = NULL;
  gpg_error_t err;

  if ((err = expect (c, "panmail-bundle", &v)))
    goto leave;
  if (strcmp (v, "1"))
    {
      err = bad (c,
                 "format version %s is not supported (this pankey"
                 " reads version %d)",
                 v, PANI_BUNDLE_VERSION);
      goto leave;
    }
  free (v);
  v = NULL;
  if ((err = take_hex (c, "home", 32, 0, b->home))
      || (err = take_serial (c, "serial", &b->serial))
      || (err = expect (c, "created-at", &v)))
    goto leave;
  if (pani_time_parse (v, &b->created_at))
    {
      err = bad (c, "\"created-at\" is not a time as 2026-11-30T05:20:00Z");
      goto leave;
    }
  if (!(err = expect (c, "created-by", &b->created_by)))
    err = take_hex (c, "signer", 0, 1, b->signer);
leave:
  free (v);
  return err;
}

/* Read the status of R (and the reason of a revoked one).  */
static gpg_error_t
take_status (struct cursor *c, struct pani_bundle_rec *r)
{
  char *v;
  gpg_error_t err;

  if ((err = expect (c, "status", &v)))
    return err;
  if (!strcmp (v, "active"))
    r->status = PAN_STATUS_ACTIVE;
  else if (!strcmp (v, "revoked"))
    r->status = PAN_STATUS_REVOKED;
  else
    err = bad (c, "the status is active or revoked");
  free (v);
  if (err || r->status != PAN_STATUS_REVOKED)
    return err;
  if (!(err = expect (c, "reason", &r->reason))
      && !pan_registry_reason_valid (PAN_STATUS_REVOKED, r->reason))
    err = bad (c,
               "a revocation's reason is compromised, superseded, left"
               " or other");
  return err;
}

/* Parse the rest of the recipient stanza whose first line was read.  */
static gpg_error_t
parse_rec (struct cursor *c, struct pani_bundle_rec *r)
{
  char fpr[65], *norm = NULL;
  gpg_error_t err;

  if (!(r->address = pani_strndup (c->val, c->vlen)))
    return gpg_error_from_syserror ();
  if (pan_addr_normalize (r->address, &norm, NULL)
      || strcmp (norm, r->address))
    err = bad (c, "the address is not in its normal form");
  else if (!(err = take_protocol (c, &r->protocol))
           && !(err = take_hex (c, "fingerprint", 0, 1, fpr))
           && !(err = take_status (c, r))
           && !(r->fingerprint = pani_strdup (fpr)))
    err = gpg_error_from_syserror ();
  free (norm);
  return err;
}


/*
 * Key data.
 */

/* Store at *R_TEXT (malloc'ed, *R_LEN bytes) DATA/LEN in base64, in
 * lines of DATA_WIDTH characters, each ending in LF.  */
static gpg_error_t
b64_encode (const void *data, size_t len, char **r_text, size_t *r_len)
{
  estream_t mem = es_fopenmem (0, "w+b");
  gpgrt_b64state_t st;
  void *buf = NULL;

  *r_text = NULL;
  if (!mem)
    return gpg_error_from_syserror ();
  if (!(st = gpgrt_b64enc_start (mem, NULL))
      || gpgrt_b64enc_write (st, data, len) || gpgrt_b64enc_finish (st)
      || es_fclose_snatch (mem, &buf, r_len))
    {
      es_fclose (mem);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  if ((*r_text = pani_strndup (buf, *r_len)))
    {
      es_free (buf);
      return 0;
    }
  es_free (buf);
  return gpg_error_from_syserror ();
}

/* Decode the base64 lines TEXT/LEN into K; they must be as b64_encode
 * writes the result.  */
static gpg_error_t
b64_decode (struct cursor *c, const char *text, size_t len,
            struct pani_bundle_key *k)
{
  gpgrt_b64state_t st = gpgrt_b64dec_start (NULL);
  char *copy = pani_strndup (text, len), *again = NULL;
  size_t n = 0, again_len = 0;
  gpg_error_t err = 0;

  if (!st || !copy)
    err = gpg_error_from_syserror ();
  else if (gpgrt_b64dec_proc (st, copy, len, &n))
    err = bad (c, "the key's data is not base64");
  if (st && gpgrt_b64dec_finish (st) && !err)
    err = bad (c, "the key's data is not base64");
  if (!err && !(err = b64_encode (copy, n, &again, &again_len))
      && (again_len != len || memcmp (again, text, len)))
    err = bad (c, "the key's data is not in the form pankey writes");
  free (again);
  if (err)
    {
      free (copy);
      return err;
    }
  k->data = (unsigned char *)copy;
  k->len = n;
  return 0;
}

/* Read the "data" lines of a key stanza up to the end of the stanza
 * (*R_EOF set at the end of the text) into B64.  */
static gpg_error_t
read_data (struct cursor *c, struct pani_buf *b64, int *r_eof)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                 "nopqrstuvwxyz0123456789+/=";
  gpg_error_t err;

  *r_eof = 0;
  while (!(err = next_line (c)) && !c->blank)
    {
      if (!is_key (c, "data"))
        return bad (c, "\"data\" expected");
      if (c->vlen > DATA_WIDTH
          || pani_span (c->val, c->vlen, alphabet) != c->vlen)
        return bad (c, "\"data\" takes at most %d base64 characters",
                    DATA_WIDTH);
      pani_buf_put (b64, c->val, c->vlen);
      pani_buf_putc (b64, '\n');
    }
  if (gpg_err_code (err) == GPG_ERR_EOF)
    *r_eof = 1;
  else if (err)
    return err;
  else if ((err = after_blank (c)))
    return err;
  if (!b64->len)
    return bad (c, "the key has no \"data\"");
  return pani_buf_error (b64);
}

/* Parse the rest of the key stanza whose first line was read, to its
 * end.  */
static gpg_error_t
parse_key (struct cursor *c, struct pani_bundle_key *k, int *r_eof)
{
  struct pani_buf b64 = { 0 };
  char hex[65];
  unsigned int line;
  gpg_error_t err;

  if (!(k->fingerprint = pani_strndup (c->val, c->vlen)))
    return gpg_error_from_syserror ();
  if (!hex_ok (k->fingerprint, 0, 1))
    return bad (c, "\"key\" takes 40 or 64 upper-case hex digits");
  if ((err = take_protocol (c, &k->protocol))
      || (err = take_hex (c, "sha256", 64, 0, k->sha256)))
    return err;
  line = c->line + 1;
  if (!(err = read_data (c, &b64, r_eof)))
    {
      unsigned int end = c->line;

      c->line = line;
      if (!(err = b64_decode (c, b64.data, b64.len, k)))
        {
          pani_sha256_hex (k->data, k->len, hex);
          if (strcmp (hex, k->sha256))
            err = bad (c, "the key's data does not have its SHA-256");
        }
      c->line = end;
    }
  pani_buf_free (&b64);
  return err;
}


/*
 * The whole bundle.
 */

/* Make room for one more item of SIZE bytes in *ITEMS of *N.  */
static gpg_error_t
grow (void **items, size_t n, size_t size)
{
  void *p;

  if (n >= MAX_ITEMS)
    return gpg_error (GPG_ERR_TOO_LARGE);
  if (!(p = realloc (*items, (n + 1) * size)))
    return gpg_error_from_syserror ();
  memset ((char *)p + n * size, 0, size);
  *items = p;
  return 0;
}

/* Parse the stanza whose first line was read into B.  */
static gpg_error_t
parse_stanza (struct cursor *c, struct pani_bundle *b, int *r_eof)
{
  gpg_error_t err;

  if (is_key (c, "recipient") && !b->nkeys)
    {
      if ((err = grow ((void **)&b->recs, b->nrecs, sizeof *b->recs)))
        return err;
      if ((err = parse_rec (c, b->recs + b->nrecs++)))
        return err;
      return end_stanza (c, r_eof);
    }
  if (is_key (c, "key"))
    {
      if ((err = grow ((void **)&b->keys, b->nkeys, sizeof *b->keys)))
        return err;
      return parse_key (c, b->keys + b->nkeys++, r_eof);
    }
  return bad (c,
              "a stanza starts with \"recipient\" (before the keys)"
              " or \"key\"");
}

/* Check that every active recipient of B has its key and every key a
 * recipient, once each.  */
static gpg_error_t
check_refs (const struct pani_bundle *b, char **r_reason)
{
  for (size_t i = 0; i < b->nkeys; i++)
    for (size_t j = 0; j < i; j++)
      if (!strcmp (b->keys[i].fingerprint, b->keys[j].fingerprint))
        return pani_reason (r_reason, gpg_error (GPG_ERR_DUP_VALUE),
                            "key %s is in the bundle twice",
                            b->keys[i].fingerprint);
  for (size_t i = 0; i < b->nrecs; i++)
    {
      const struct pani_bundle_rec *r = b->recs + i;
      const struct pani_bundle_key *k = pani_bundle_key (b, r->fingerprint);

      if (r->status == PAN_STATUS_ACTIVE
          && pani_bundle_active (b, r->address) != r)
        return pani_reason (r_reason, gpg_error (GPG_ERR_DUP_VALUE),
                            "%s is active twice", r->address);
      if (r->status == PAN_STATUS_ACTIVE
          && (!k || k->protocol != r->protocol))
        return pani_reason (r_reason, gpg_error (GPG_ERR_MISSING_VALUE),
                            "the bundle has no %s key %s for %s",
                            pan_protocol_name (r->protocol), r->fingerprint,
                            r->address);
    }
  for (size_t i = 0; i < b->nkeys; i++)
    {
      size_t j;

      for (j = 0; j < b->nrecs; j++)
        if (b->recs[j].status == PAN_STATUS_ACTIVE
            && !strcmp (b->recs[j].fingerprint, b->keys[i].fingerprint))
          break;
      if (j == b->nrecs)
        return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                            "key %s is pinned by no active recipient",
                            b->keys[i].fingerprint);
    }
  return 0;
}

gpg_error_t
pani_bundle_parse (const void *buf, size_t len,
                   struct pani_bundle **r_bundle, char **r_reason)
{
  struct cursor c;
  struct pani_bundle *b;
  gpg_error_t err;
  int eof = 0;

  *r_bundle = NULL;
  cursor_init (&c, buf, len, r_reason);
  if (!(b = calloc (1, sizeof *b)))
    return gpg_error_from_syserror ();
  if ((err = parse_header (&c, b)) || (err = end_stanza (&c, &eof)))
    goto leave;
  while (!eof)
    {
      if ((err = next_line (&c)))
        goto leave;
      if ((err = parse_stanza (&c, b, &eof)))
        goto leave;
    }
  err = check_refs (b, r_reason);
leave:
  if (err)
    pani_bundle_release (b);
  else
    *r_bundle = b;
  return err;
}

const struct pani_bundle_rec *
pani_bundle_active (const struct pani_bundle *b, const char *addr)
{
  for (size_t i = 0; i < b->nrecs; i++)
    if (b->recs[i].status == PAN_STATUS_ACTIVE
        && !strcmp (b->recs[i].address, addr))
      return b->recs + i;
  return NULL;
}

const struct pani_bundle_key *
pani_bundle_key (const struct pani_bundle *b, const char *fpr)
{
  for (size_t i = 0; i < b->nkeys; i++)
    if (!strcmp (b->keys[i].fingerprint, fpr))
      return b->keys + i;
  return NULL;
}

void
pani_bundle_release (struct pani_bundle *b)
{
  if (!b)
    return;
  for (size_t i = 0; i < b->nrecs; i++)
    {
      free (b->recs[i].address);
      free (b->recs[i].fingerprint);
      free (b->recs[i].reason);
    }
  for (size_t i = 0; i < b->nkeys; i++)
    {
      free (b->keys[i].fingerprint);
      free (b->keys[i].data);
    }
  free (b->recs);
  free (b->keys);
  free (b->created_by);
  free (b);
}

/* Append the key stanza of K to OUT.  */
static void
write_key (const struct pani_bundle_key *k, struct pani_buf *out)
{
  char *text = NULL, *line, *nl;
  size_t len;

  pani_buf_printf (out, "\nkey %s\nprotocol %s\nsha256 %s\n", k->fingerprint,
                   pan_protocol_name (k->protocol), k->sha256);
  if (b64_encode (k->data, k->len, &text, &len))
    {
      out->failed = 1;
      return;
    }
  for (line = text; (nl = strchr (line, '\n')); line = nl + 1)
    {
      pani_buf_puts (out, "data ");
      pani_buf_put (out, line, nl + 1 - line);
    }
  free (text);
}

void
pani_bundle_write (const struct pani_bundle *b, struct pani_buf *out)
{
  char when[32];

  pani_buf_printf (out,
                   "panmail-bundle %d\nhome %s\nserial %llu\ncreated-at %s\n"
                   "created-by %s\nsigner %s\n",
                   PANI_BUNDLE_VERSION, b->home, b->serial,
                   pan_time_format (b->created_at, when, sizeof when),
                   b->created_by, b->signer);
  for (size_t i = 0; i < b->nrecs; i++)
    {
      const struct pani_bundle_rec *r = b->recs + i;

      pani_buf_printf (out,
                       "\nrecipient %s\nprotocol %s\nfingerprint %s\n"
                       "status %s\n",
                       r->address, pan_protocol_name (r->protocol),
                       r->fingerprint, pan_status_name (r->status));
      if (r->status == PAN_STATUS_REVOKED)
        pani_buf_printf (out, "reason %s\n", r->reason);
    }
  for (size_t i = 0; i < b->nkeys; i++)
    write_key (b->keys + i, out);
}


/*
 * The state file.
 */

/* The order of the lines of the state file after home-id.  */
enum state_stage
{
  S_OPERATORS = 1,
  S_EXPORTED,
  S_APPLIED
};

/* Read the "applied SERIAL SHA256" value of the line last read.  */
static gpg_error_t
state_applied (struct cursor *c, struct pani_bundle_state *st)
{
  char *v = pani_strndup (c->val, c->vlen), *sp;
  gpg_error_t err = 0;

  if (!v)
    return gpg_error_from_syserror ();
  if (!(sp = strchr (v, ' ')))
    err = bad (c, "\"applied\" takes a serial and a SHA-256");
  else
    {
      *sp++ = 0;
      if (serial_parse (v, &st->applied) || !hex_ok (sp, 64, 0))
        err = bad (c, "\"applied\" takes a serial and a SHA-256");
      else
        strcpy (st->applied_sha256, sp);
    }
  free (v);
  return err;
}

/* Take the line last read into ST, after lines of stage *STAGE.  */
static gpg_error_t
state_line (struct cursor *c, struct pani_bundle_state *st, int *stage)
{
  gpg_error_t err;
  char *v;

  if (c->blank)
    return bad (c, "a blank line");
  if (is_key (c, "operator-key") && *stage <= S_OPERATORS)
    {
      *stage = S_OPERATORS;
      if (st->noperators == PANI_BUNDLE_MAX_OPERATORS)
        return bad (c, "more than %d operator keys",
                    PANI_BUNDLE_MAX_OPERATORS);
      if (!(v = pani_strndup (c->val, c->vlen)))
        return gpg_error_from_syserror ();
      st->operators[st->noperators++] = v;
      if (!hex_ok (v, 0, 1) || pani_bundle_state_pins (st, v) > 1)
        return bad (c, "not a fingerprint, or one given twice");
      return 0;
    }
  if (is_key (c, "exported") && *stage < S_EXPORTED)
    {
      *stage = S_EXPORTED;
      if (!(v = pani_strndup (c->val, c->vlen)))
        return gpg_error_from_syserror ();
      err = serial_parse (v, &st->exported)
        ? bad (c, "\"exported\" takes a serial")
        : 0;
      free (v);
      return err;
    }
  if (is_key (c, "applied") && *stage < S_APPLIED)
    {
      *stage = S_APPLIED;
      return state_applied (c, st);
    }
  return bad (c, "\"%.*s\" is not expected here", (int)c->klen, c->key);
}

gpg_error_t
pani_bundle_state_parse (const void *buf, size_t len,
                         struct pani_bundle_state *st, char **r_reason)
{
  struct cursor c;
  gpg_error_t err;
  int stage = 0;

  memset (st, 0, sizeof *st);
  cursor_init (&c, buf, len, r_reason);
  while (c.p < c.end && *c.p == '#')
    {
      const char *nl = memchr (c.p, '\n', c.end - c.p);

      c.p = nl ? nl + 1 : c.end;
      c.line++;
    }
  if ((err = take_hex (&c, "home-id", 32, 0, st->home)))
    return err;
  while (!(err = next_line (&c)))
    if ((err = state_line (&c, st, &stage)))
      return err;
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

void
pani_bundle_state_write (const struct pani_bundle_state *st,
                         struct pani_buf *out)
{
  pani_buf_printf (out,
                   "# panmail bundle state: managed by pankey(8); do not"
                   " edit.\nhome-id %s\n",
                   st->home);
  for (size_t i = 0; i < st->noperators; i++)
    pani_buf_printf (out, "operator-key %s\n", st->operators[i]);
  if (st->exported)
    pani_buf_printf (out, "exported %llu\n", st->exported);
  if (st->applied)
    pani_buf_printf (out, "applied %llu %s\n", st->applied,
                     st->applied_sha256);
}

void
pani_bundle_state_clear (struct pani_bundle_state *st)
{
  for (size_t i = 0; i < st->noperators; i++)
    free (st->operators[i]);
  memset (st, 0, sizeof *st);
}

int
pani_bundle_state_pins (const struct pani_bundle_state *st, const char *fpr)
{
  int n = 0;

  for (size_t i = 0; i < st->noperators; i++)
    n += !strcmp (st->operators[i], fpr);
  return n;
}
