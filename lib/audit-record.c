/* audit-record.c - the audit record format: lines, writing, parsing
 *
 * See audit-int.h for the format.  Everything here is pure: no files,
 * no keys.  A record is written by pani_audit_format_prefix (the MAC
 * suffix is added by the writer, which holds the key) and read back by
 * pani_audit_parse, which accepts only the canonical form.
 */
#include <config.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "timeutil-int.h"

/* The longest string field a record takes.  */
#define MAX_FIELD 4096


/*
 * Hashes, numbers and lines.
 */

int
pani_audit_is_hash (const char *s)
{
  size_t i;

  if (!s)
    return 0;
  for (i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return !s[64];
}

void
pani_audit_sha256_hex (const void *data, size_t len, char hex[AUDIT_HEXLEN])
{
  unsigned char digest[32];

  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, data, len);
  pani_bin2hex (digest, sizeof digest, hex);
}

int
pani_audit_parse_seq (const char **p, const char *end,
                      unsigned long long *r_seq)
{
  unsigned long long n = 0;
  const char *s = *p;

  if (s >= end || *s < '1' || *s > '9')
    return 0;
  for (; s < end && *s >= '0' && *s <= '9'; s++)
    {
      if (n > (ULLONG_MAX / 2 - 9) / 10)
        return 0;
      n = n * 10 + (*s - '0');
    }
  *p = s;
  *r_seq = n;
  return 1;
}


/*
 * Formatting records.
 */

static int
is_digit (int c)
{
  return c >= '0' && c <= '9';
}

/* Mask, in place, the run of digits starting at S (single spaces or
 * dashes may separate them) if it is a card number (pan_luhn_valid,
 * 13 to 19 digits), keeping what pan_mask keeps; return the length of
 * the run.  */
static size_t
mask_run (char *s)
{
  char digits[PAN_MAX_DIGITS + 1], masked[PAN_MASK_SIZE];
  size_t pos[PAN_MAX_DIGITS], n = 0, i = 0, k;

  while (is_digit (s[i]))
    {
      if (n < PAN_MAX_DIGITS)
        {
          digits[n] = s[i];
          pos[n] = i;
        }
      n++;
      i++;
      if ((s[i] == ' ' || s[i] == '-') && is_digit (s[i + 1]))
        i++;
    }
  if (n <= PAN_MAX_DIGITS)
    {
      digits[n] = 0;
      if (pan_luhn_valid (digits) && !pan_mask (digits, masked))
        for (k = 0; k < n; k++)
          s[pos[k]] = masked[k];
    }
  pani_wipe (digits, sizeof digits);
  pani_wipe (masked, sizeof masked);
  return i;
}

/* Return a copy of S with card numbers masked to first 6 and last 4
 * digits (defence in depth: no caller should pass one).  */
static char *
mask_card_numbers (const char *s)
{
  char *copy = pani_strdup (s);
  size_t i = 0;

  if (!copy)
    return NULL;
  while (copy[i])
    {
      if (is_digit (copy[i]) && (i == 0 || !is_digit (copy[i - 1])))
        i += mask_run (copy + i);
      else
        i++;
    }
  return copy;
}

/* Whether S holds a run of PAN_MIN_DIGITS digits or more, counted as
 * mask_run counts them: only such a run can be a card number.  */
static int
has_card_length_run (const char *s)
{
  size_t n = 0;

  for (; *s; s++)
    if (is_digit (*s))
      {
        if (++n >= PAN_MIN_DIGITS)
          return 1;
      }
    else if (!(n && (*s == ' ' || *s == '-') && is_digit (s[1])))
      n = 0;
  return 0;
}

/* Append S as a JSON string: control characters escaped, bytes that
 * are not UTF-8 replaced by U+FFFD, and, if MASK, card numbers masked
 * (not in hex digests, whose digit runs may pass the Luhn check).  */
static void
put_json (struct pani_buf *b, const char *s, int mask)
{
  char *copy = NULL;
  const unsigned char *p, *end;
  size_t n;

  if (mask && has_card_length_run (s))
    {
      if (!(copy = mask_card_numbers (s)))
        {
          b->failed = 1;
          return;
        }
      s = copy;
    }
  end = (const unsigned char *)s + strlen (s);
  pani_buf_putc (b, '"');
  for (p = (const unsigned char *)s; p < end; p += n ? n : 1)
    {
      for (n = 0; p + n < end && p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"'
           && p[n] != '\\';
           n++)
        ;
      if (n)
        {
          pani_buf_put (b, p, n); /* A run of plain ASCII.  */
          continue;
        }
      n = pani_utf8_len (p, end);
      if (*p == '"' || *p == '\\')
        pani_buf_printf (b, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        pani_buf_printf (b, "\\u%04x", *p);
      else if (n)
        pani_buf_put (b, p, n);
      else
        pani_buf_put (b, "\xef\xbf\xbd", 3);
    }
  pani_buf_putc (b, '"');
  if (copy)
    pani_wipe_free_str (copy);
}

/* Append ,"NAME":VALUE unless VALUE is NULL, masking card numbers in
 * it if MASK.  */
static void
put_member (struct pani_buf *b, const char *name, const char *value,
            int mask)
{
  if (!value)
    return;
  pani_buf_puts (b, ",\"");
  pani_buf_puts (b, name);
  pani_buf_puts (b, "\":");
  put_json (b, value, mask);
}

static void
put_field (struct pani_buf *b, const char *name, const char *value)
{
  put_member (b, name, value, 1);
}

/* Like put_field for a hex value (or another checked name): never
 * masked.  */
static void
put_hex_field (struct pani_buf *b, const char *name, const char *value)
{
  put_member (b, name, value, 0);
}

static void
put_keys (struct pani_buf *b, const struct pan_audit_event *ev)
{
  size_t i;

  if (!ev->nkeys)
    return;
  pani_buf_puts (b, ",\"recipients\":[");
  for (i = 0; i < ev->nkeys; i++)
    {
      pani_buf_puts (b, i ? ",{\"address\":" : "{\"address\":");
      put_json (b, ev->keys[i].address, 1);
      pani_buf_printf (b, ",\"protocol\":\"%s\"",
                       pan_protocol_name (ev->keys[i].protocol));
      put_hex_field (b, "fingerprint", ev->keys[i].fingerprint);
      pani_buf_putc (b, '}');
    }
  pani_buf_putc (b, ']');
}

static void
put_pans (struct pani_buf *b, const struct pan_audit_event *ev)
{
  size_t i;

  if (!ev->npans)
    return;
  pani_buf_printf (b, ",\"pan_count\":%zu,\"pans\":[", ev->npans);
  for (i = 0; i < ev->npans; i++)
    {
      pani_buf_puts (b, i ? ",{\"brand\":" : "{\"brand\":");
      put_json (b, ev->pans[i].brand, 1);
      put_hex_field (b, "masked", ev->pans[i].masked);
      put_hex_field (b, "hash", ev->pans[i].hash);
      pani_buf_putc (b, '}');
    }
  pani_buf_putc (b, ']');
}

void
pani_audit_format_prefix (struct pani_buf *b,
                          const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  char when[32];

  pani_buf_printf (b, "{\"seq\":%llu,\"time\":\"%s\"", rec->seq,
                   pan_time_format (rec->time, when, sizeof when));
  put_field (b, "event", ev->event);
  put_field (b, "tool", ev->tool);
  put_field (b, "operator", ev->operator_name);
  put_field (b, "host", rec->host);
  put_field (b, "message_id", ev->message_id);
  put_member (b, "copy", ev->copy, 0); /* Checked: a name, no PAN.  */
  put_field (b, "envelope_from", ev->envelope_from);
  put_field (b, "dsn", ev->dsn);
  put_field (b, "header_from", ev->header_from);
  put_keys (b, ev);
  put_pans (b, ev);
  put_hex_field (b, "ciphertext_sha256", ev->ciphertext_sha256);
  if (ev->ciphertext_sha256)
    pani_buf_printf (b, ",\"size\":%lld", ev->size);
  put_field (b, "outcome", ev->outcome);
  if (ev->outcome)
    pani_buf_printf (b, ",\"exit_code\":%d", ev->exit_code);
  put_field (b, "reason", ev->reason);
  put_hex_field (b, "registry_sha256", ev->registry_sha256);
  if (rec->torn_length >= 0)
    pani_buf_printf (b, ",\"torn_length\":%lld", rec->torn_length);
  put_hex_field (b, "torn_sha256", rec->torn_sha256);
  put_hex_field (b, "prev", rec->prev);
}


/*
 * What a record may hold.
 */

/* True if S is a short lower-case word (a-z, 0-9, '-').  */
static int
is_word (const char *s)
{
  size_t n;

  if (!s || !*s)
    return 0;
  for (n = 0; s[n]; n++)
    if (n >= 32
        || !((s[n] >= 'a' && s[n] <= 'z') || is_digit (s[n]) || s[n] == '-'))
      return 0;
  return 1;
}

/* True if S looks like a masked PAN: at most 10 digits, at least one
 * masking character, nothing else but spaces and dashes.  */
static int
is_masked_pan (const char *s)
{
  size_t n, digits = 0, masks = 0;

  if (!s)
    return 0;
  for (n = 0; s[n]; n++)
    {
      if (n >= 32)
        return 0;
      if (is_digit (s[n]))
        digits++;
      else if (strchr ("*Xx#", s[n]))
        masks++;
      else if (s[n] != ' ' && s[n] != '-')
        return 0;
    }
  return digits <= 10 && masks > 0;
}

static int
is_fingerprint (const char *s)
{
  size_t n;

  if (!s)
    return 0;
  for (n = 0; s[n]; n++)
    if (pani_hexval ((unsigned char)s[n]) < 0)
      return 0;
  return n == 40 || n == 64;
}

static gpg_error_t
bad_event (char **r_reason, const char *what)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                      "audit event refused: %s", what);
}

static gpg_error_t
check_keys (const struct pan_audit_event *ev, char **r_reason)
{
  size_t i;

  if (ev->nkeys && !ev->keys)
    return bad_event (r_reason, "recipients missing");
  for (i = 0; i < ev->nkeys; i++)
    if (!ev->keys[i].address || strlen (ev->keys[i].address) > MAX_FIELD
        || !is_fingerprint (ev->keys[i].fingerprint)
        || (ev->keys[i].protocol != PAN_PROTOCOL_OPENPGP
            && ev->keys[i].protocol != PAN_PROTOCOL_SMIME))
      return bad_event (r_reason,
                        "a recipient needs an address, a protocol"
                        " and a 40 or 64 digit fingerprint");
  return 0;
}

static gpg_error_t
check_pans (const struct pan_audit_event *ev, char **r_reason)
{
  size_t i;

  if (ev->npans && !ev->pans)
    return bad_event (r_reason, "pans missing");
  for (i = 0; i < ev->npans; i++)
    if (!ev->pans[i].brand || strlen (ev->pans[i].brand) > 64
        || !is_masked_pan (ev->pans[i].masked)
        || !pani_audit_is_hash (ev->pans[i].hash))
      return bad_event (r_reason,
                        "a PAN must be masked (at most 10 digits"
                        " shown) and hashed (64 hex digits)");
  return 0;
}

static gpg_error_t
check_strings (const struct pan_audit_event *ev, char **r_reason)
{
  const char *const s[] = { ev->operator_name, ev->message_id,
                            ev->envelope_from, ev->header_from,
                            ev->reason,        ev->dsn,
                            ev->copy };
  size_t i;

  for (i = 0; i < sizeof s / sizeof *s; i++)
    if (s[i] && strlen (s[i]) > MAX_FIELD)
      return bad_event (r_reason, "a field is longer than 4096 bytes");
  return 0;
}

/* True if S is a copy id: 1 to 64 of A-Z a-z 0-9 . _ -.  */
static int
is_copy_id (const char *s)
{
  size_t n;

  for (n = 0; s[n]; n++)
    if (n >= 64
        || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
             || is_digit (s[n]) || strchr ("._-", s[n])))
      return 0;
  return n > 0;
}

gpg_error_t
pani_audit_check_event (const struct pan_audit_event *ev, char **r_reason)
{
  gpg_error_t err;

  if (!ev || !is_word (ev->event) || !is_word (ev->tool)
      || !strcmp (ev->event, "recovery"))
    return bad_event (r_reason,
                      "event and tool must be short lower-case"
                      " words (and \"recovery\" is reserved)");
  if (ev->outcome
      && (!is_word (ev->outcome) || ev->exit_code < 0
          || ev->exit_code > 255))
    return bad_event (r_reason, "bad outcome or exit code");
  if (ev->ciphertext_sha256
      && (!pani_audit_is_hash (ev->ciphertext_sha256) || ev->size < 0))
    return bad_event (r_reason, "bad ciphertext digest or size");
  if (ev->registry_sha256 && !pani_audit_is_hash (ev->registry_sha256))
    return bad_event (r_reason, "bad registry digest");
  if (ev->copy && !is_copy_id (ev->copy))
    return bad_event (r_reason, "bad copy id");
  if ((err = check_keys (ev, r_reason)) || (err = check_pans (ev, r_reason)))
    return err;
  return check_strings (ev, r_reason);
}


/*
 * Parsing records.
 */

void
pani_audit_parsed_clear (struct pani_audit_parsed *p)
{
  pani_json_release (p->json);
  free (p->keys);
  free (p->pans);
  memset (p, 0, sizeof *p);
}

static const char *
get_str (const struct pani_json *obj, const char *key)
{
  const struct pani_json *v = pani_json_get (obj, key);

  return v && v->type == PANI_JSON_STRING ? v->text : NULL;
}

static gpg_error_t
bad_field (char **r_reason, const char *name)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "field \"%s\" is missing or invalid", name);
}

static gpg_error_t
extract_keys (struct pani_audit_parsed *p, char **r_reason)
{
  const struct pani_json *arr = pani_json_get (p->json, "recipients");
  struct pan_audit_key *k;
  const char *proto;
  size_t i;

  if (!arr)
    return 0;
  if (arr->type != PANI_JSON_ARRAY || !arr->n)
    return bad_field (r_reason, "recipients");
  if (!(p->keys = calloc (arr->n, sizeof *p->keys)))
    return gpg_error_from_syserror ();
  for (i = 0; i < arr->n; i++)
    {
      k = &p->keys[i];
      k->address = get_str (arr->items[i], "address");
      k->fingerprint = get_str (arr->items[i], "fingerprint");
      proto = get_str (arr->items[i], "protocol");
      if (!k->address || !is_fingerprint (k->fingerprint) || !proto
          || pan_protocol_parse (proto, &k->protocol))
        return bad_field (r_reason, "recipients");
    }
  p->rec.ev.keys = p->keys;
  p->rec.ev.nkeys = arr->n;
  return 0;
}

static gpg_error_t
extract_pans (struct pani_audit_parsed *p, char **r_reason)
{
  const struct pani_json *arr = pani_json_get (p->json, "pans");
  unsigned long long count = 0;
  size_t i;

  if (!arr)
    return 0;
  if (arr->type != PANI_JSON_ARRAY || !arr->n
      || !pani_json_uint (pani_json_get (p->json, "pan_count"), SIZE_MAX,
                          &count)
      || count != arr->n)
    return bad_field (r_reason, "pans");
  if (!(p->pans = calloc (arr->n, sizeof *p->pans)))
    return gpg_error_from_syserror ();
  for (i = 0; i < arr->n; i++)
    {
      p->pans[i].brand = get_str (arr->items[i], "brand");
      p->pans[i].masked = get_str (arr->items[i], "masked");
      p->pans[i].hash = get_str (arr->items[i], "hash");
      if (!p->pans[i].brand || !is_masked_pan (p->pans[i].masked)
          || !pani_audit_is_hash (p->pans[i].hash))
        return bad_field (r_reason, "pans");
    }
  p->rec.ev.pans = p->pans;
  p->rec.ev.npans = arr->n;
  return 0;
}

/* Extract the numbers of P's record (seq, size, exit_code,
 * torn_length) that are present.  */
static gpg_error_t
extract_numbers (struct pani_audit_parsed *p, char **r_reason)
{
  struct pan_audit_record *rec = &p->rec;
  unsigned long long num;

  if (!pani_json_uint (pani_json_get (p->json, "seq"), LLONG_MAX, &rec->seq)
      || !rec->seq)
    return bad_field (r_reason, "seq");
  rec->ev.exit_code = -1;
  if (pani_json_uint (pani_json_get (p->json, "exit_code"), 255, &num))
    rec->ev.exit_code = (int)num;
  rec->torn_length = -1;
  if (pani_json_uint (pani_json_get (p->json, "torn_length"), LLONG_MAX,
                      &num)
      && num)
    rec->torn_length = (long long)num;
  if (pani_json_uint (pani_json_get (p->json, "size"), LLONG_MAX, &num))
    rec->ev.size = (long long)num;
  return 0;
}

static gpg_error_t
extract_strings (struct pani_audit_parsed *p, char **r_reason)
{
  struct pan_audit_record *rec = &p->rec;
  struct pan_audit_event *ev = &rec->ev;
  const char *when = get_str (p->json, "time");

  if (!when || pani_time_parse (when, &rec->time))
    return bad_field (r_reason, "time");
  ev->event = get_str (p->json, "event");
  ev->tool = get_str (p->json, "tool");
  ev->operator_name = get_str (p->json, "operator");
  rec->host = get_str (p->json, "host");
  if (!ev->event || !ev->tool || !ev->operator_name || !rec->host)
    return bad_field (r_reason, "event, tool, operator or host");
  ev->message_id = get_str (p->json, "message_id");
  ev->copy = get_str (p->json, "copy");
  ev->envelope_from = get_str (p->json, "envelope_from");
  ev->dsn = get_str (p->json, "dsn");
  ev->header_from = get_str (p->json, "header_from");
  ev->ciphertext_sha256 = get_str (p->json, "ciphertext_sha256");
  ev->outcome = get_str (p->json, "outcome");
  ev->reason = get_str (p->json, "reason");
  ev->registry_sha256 = get_str (p->json, "registry_sha256");
  rec->torn_sha256 = get_str (p->json, "torn_sha256");
  rec->prev = get_str (p->json, "prev");
  rec->mac = get_str (p->json, "mac");
  if (ev->copy && !is_copy_id (ev->copy))
    return bad_field (r_reason, "copy");
  if ((ev->ciphertext_sha256 && !pani_audit_is_hash (ev->ciphertext_sha256))
      || (ev->registry_sha256 && !pani_audit_is_hash (ev->registry_sha256))
      || (rec->torn_sha256 && !pani_audit_is_hash (rec->torn_sha256)))
    return bad_field (r_reason, "ciphertext_sha256 or torn_sha256");
  if (!pani_audit_is_hash (rec->prev))
    return bad_field (r_reason, "prev");
  if (!pani_audit_is_hash (rec->mac))
    return bad_field (r_reason, "mac");
  return 0;
}

/* Check that LINE/LEN is exactly what the formatter makes of P.  */
static gpg_error_t
check_canonical (const struct pani_audit_parsed *p, const char *line,
                 size_t len, char **r_reason)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  gpg_error_t err;

  pani_audit_format_prefix (&b, &p->rec);
  pani_buf_puts (&b, AUDIT_MAC_PREFIX);
  pani_buf_puts (&b, p->rec.mac);
  pani_buf_puts (&b, "\"}");
  err = pani_buf_error (&b);
  if (!err && (b.len != len || memcmp (b.data, line, len)))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "not in the canonical record form (fields, order,"
                       " escapes or spacing differ)");
  pani_buf_free (&b);
  return err;
}

gpg_error_t
pani_audit_parse (const char *line, size_t len, struct pani_audit_parsed *p,
                  char **r_reason)
{
  gpg_error_t err;
  size_t pos = 0;

  pani_audit_parsed_clear (p);
  if (len > PAN_AUDIT_MAX_LINE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "longer than %d bytes", PAN_AUDIT_MAX_LINE);
  if ((err = pani_json_parse (line, len, &p->json, &pos)))
    return pani_reason (r_reason, err, "not JSON (at byte %zu)", pos + 1);
  if (p->json->type != PANI_JSON_OBJECT)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "not a JSON object");
  if (!err && !(err = extract_numbers (p, r_reason))
      && !(err = extract_strings (p, r_reason))
      && !(err = extract_keys (p, r_reason))
      && !(err = extract_pans (p, r_reason)))
    err = check_canonical (p, line, len, r_reason);
  if (err)
    pani_audit_parsed_clear (p);
  else
    {
      p->rec.line = line;
      p->rec.line_len = len;
    }
  return err;
}
