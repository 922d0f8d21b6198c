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

/* Look at the run of digits starting at S (single spaces or dashes may
 * separate them): if it is a card number (pan_luhn_valid, 13 to 19
 * digits), set *R_CARD and, if MASK, mask it in place, keeping what
 * pan_mask keeps.  Return the length of the run.  */
static size_t
card_run (char *s, int mask, int *r_card)
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
        {
          *r_card = 1;
          for (k = 0; mask && k < n; k++)
            s[pos[k]] = masked[k];
        }
    }
  pani_wipe (digits, sizeof digits);
  pani_wipe (masked, sizeof masked);
  return i;
}

/* Mask the card numbers in S in place if MASK; return whether S held
 * one (pan_mask masks at least three digits of one, so a string holds
 * one iff masking changes it).  */
static int
card_numbers (char *s, int mask)
{
  size_t i = 0;
  int card = 0;

  while (s[i])
    {
      if (is_digit (s[i]) && (i == 0 || !is_digit (s[i - 1])))
        i += card_run (s + i, mask, &card);
      else
        i++;
    }
  return card;
}

/* Return a copy of S with card numbers masked to first 6 and last 4
 * digits (defence in depth: no caller should pass one).  */
static char *
mask_card_numbers (const char *s)
{
  char *copy = pani_strdup (s);

  if (copy)
    card_numbers (copy, 1);
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

void
pani_audit_mask_in_place (char *s)
{
  if (has_card_length_run (s))
    card_numbers (s, 1);
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
  if ((ev->registry_sha256 && !pani_audit_is_hash (ev->registry_sha256))
      || (ev->registry_checked
          && !pani_audit_is_hash (ev->registry_checked)))
    return bad_event (r_reason, "bad registry digest");
  if (ev->copy && !is_copy_id (ev->copy))
    return bad_event (r_reason, "bad copy id");
  if ((err = check_keys (ev, r_reason)) || (err = check_pans (ev, r_reason)))
    return err;
  return check_strings (ev, r_reason);
}


/*
 * Parsing records: one pass over the line, in the order in which
 * pani_audit_format_prefix writes the fields, accepting only what it
 * would write (the canonical form).  The strings are decoded into P's
 * store and the recipients and PANs into its arrays, which are kept
 * from one parse to the next: reading a log allocates nothing per
 * record.
 */

/* Where the parse of a line stands.  */
struct scan
{
  const char *p, *end;
  char *out;       /* The next free byte of the store.  */
  const char *bad; /* The field being read (for the reason).  */
};

void
pani_audit_parsed_clear (struct pani_audit_parsed *p)
{
  free (p->store);
  free (p->keys);
  free (p->pans);
  memset (p, 0, sizeof *p);
}

/* Make P's store hold the strings of a line of LEN bytes (decoded, a
 * string is no longer than its JSON form, and its NUL takes the place
 * of a quote), and its arrays the recipients and PANs of such a line
 * (each takes more than 64 bytes).  */
static gpg_error_t
reserve (struct pani_audit_parsed *p, size_t len)
{
  size_t size = (len + 4096) & ~(size_t)4095, n = size / 64 + 1;
  struct pan_audit_key *keys;
  struct pan_audit_pan *pans;
  gpg_error_t err;
  char *store;

  if (size <= p->store_size)
    return 0;
  store = malloc (size);
  keys = calloc (n, sizeof *keys);
  pans = calloc (n, sizeof *pans);
  if (!store || !keys || !pans)
    {
      err = gpg_error_from_syserror ();
      free (store);
      free (keys);
      free (pans);
      return err;
    }
  pani_audit_parsed_clear (p);
  p->store = store;
  p->store_size = size;
  p->keys = keys;
  p->pans = pans;
  p->nitems = n;
  return 0;
}

/* Skip the text LIT at S->P; false if it is not there.  */
static int
skip (struct scan *s, const char *lit)
{
  size_t n = strlen (lit);

  if ((size_t)(s->end - s->p) < n || memcmp (s->p, lit, n))
    return 0;
  s->p += n;
  return 1;
}

/* Skip ,"NAME": at S->P; false if it is not there.  */
static int
skip_key (struct scan *s, const char *name)
{
  size_t n = strlen (name);
  const char *p = s->p;

  if ((size_t)(s->end - p) < n + 4 || p[0] != ',' || p[1] != '"'
      || memcmp (p + 2, name, n) || p[n + 2] != '"' || p[n + 3] != ':')
    return 0;
  s->p = p + n + 4;
  return 1;
}

/* Read the number at S->P, written as %llu writes it (no sign, no
 * leading zero), of at most MAX, into *R_NUM.  */
static int
scan_uint (struct scan *s, unsigned long long max, unsigned long long *r_num)
{
  unsigned long long n = 0;
  const char *p = s->p;

  if (p >= s->end || !is_digit (*p)
      || (*p == '0' && p + 1 < s->end && is_digit (p[1])))
    return 0;
  for (; p < s->end && is_digit (*p); p++)
    {
      if (n > (max - (unsigned)(*p - '0')) / 10)
        return 0;
      n = n * 10 + (unsigned)(*p - '0');
    }
  s->p = p;
  *r_num = n;
  return 1;
}

static int
lower_hexval (int c)
{
  if (is_digit (c))
    return c - '0';
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the escape at P (before END) if put_json writes it: \" \\, or
 * \u00xx for a control character or DEL; store the byte at O and
 * return the length of the escape, or 0.  */
static size_t
unescape (const unsigned char *p, const unsigned char *end, char *o)
{
  int hi, lo, c;

  if (end - p >= 2 && (p[1] == '"' || p[1] == '\\'))
    {
      *o = (char)p[1];
      return 2;
    }
  if (end - p < 6 || memcmp (p + 1, "u00", 3))
    return 0;
  hi = lower_hexval (p[4]);
  lo = lower_hexval (p[5]);
  c = hi * 16 + lo;
  if (hi < 0 || lo < 0 || !c || (c >= 0x20 && c != 0x7f))
    return 0;
  *o = (char)c;
  return 6;
}

/* Decode the JSON string at S->P, as put_json writes it, into the
 * store and point *R at it.  With MASK, refuse a card number in it:
 * the formatter would have masked it.  */
static int
scan_string (struct scan *s, int mask, const char **r)
{
  const unsigned char *p = (const unsigned char *)s->p;
  const unsigned char *end = (const unsigned char *)s->end;
  char *o = s->out, *start = s->out;
  size_t n;

  if (p >= end || *p++ != '"')
    return 0;
  while (p < end && *p != '"')
    if (*p >= 0x20 && *p < 0x7f && *p != '\\')
      *o++ = (char)*p++;
    else if (*p == '\\' && (n = unescape (p, end, o)))
      {
        p += n;
        o++;
      }
    else if (*p >= 0x80 && (n = pani_utf8_len (p, end)))
      {
        memcpy (o, p, n);
        p += n;
        o += n;
      }
    else
      return 0;
  if (p >= end)
    return 0;
  *o++ = 0;
  if (mask && has_card_length_run (start) && card_numbers (start, 0))
    return 0;
  s->p = (const char *)p + 1;
  s->out = o;
  *r = start;
  return 1;
}

/* Read the string member ,"NAME":"..." into *R; false if it is not
 * next or not valid.  */
static int
req_string (struct scan *s, const char *name, int mask, const char **r)
{
  s->bad = name;
  return skip_key (s, name) && scan_string (s, mask, r);
}

/* Like req_string, but if the member is not next, set *R to NULL.  */
static int
opt_string (struct scan *s, const char *name, int mask, const char **r)
{
  *r = NULL;
  s->bad = name;
  return !skip_key (s, name) || scan_string (s, mask, r);
}

/* Like opt_string for a hash (64 lower-case hex digits).  */
static int
opt_hash (struct scan *s, const char *name, const char **r)
{
  return opt_string (s, name, 0, r) && (!*r || pani_audit_is_hash (*r));
}

static int
req_hash (struct scan *s, const char *name, const char **r)
{
  return req_string (s, name, 0, r) && pani_audit_is_hash (*r);
}

static unsigned int
month_days (unsigned int y, unsigned int m)
{
  static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31 };

  return days[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0));
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian calendar).  */
static long long
days_from_civil (long long y, unsigned int m, unsigned int d)
{
  long long era;
  unsigned int yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned int)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

static unsigned int
two_digits (const char *t)
{
  return (unsigned int)(t[0] - '0') * 10 + (unsigned int)(t[1] - '0');
}

/* Read the time "YYYY-MM-DDTHH:MM:SSZ" at S->P, exactly as
 * pan_time_format writes it, into *R_TIME.  */
static int
scan_time (struct scan *s, time_t *r_time)
{
  static const char form[] = "\"dddd-dd-ddTdd:dd:ddZ\"";
  const char *t = s->p + 1;
  unsigned int y, mo, d, h, mi, sec;
  size_t i;

  if ((size_t)(s->end - s->p) < sizeof form - 1)
    return 0;
  for (i = 0; i < sizeof form - 1; i++)
    if (form[i] == 'd' ? !is_digit (s->p[i]) : s->p[i] != form[i])
      return 0;
  y = two_digits (t) * 100 + two_digits (t + 2);
  mo = two_digits (t + 5);
  d = two_digits (t + 8);
  h = two_digits (t + 11);
  mi = two_digits (t + 14);
  sec = two_digits (t + 17);
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > month_days (y, mo)
      || h > 23 || mi > 59 || sec > 59)
    return 0;
  *r_time = (time_t)(days_from_civil (y, mo, d) * 86400 + h * 3600 + mi * 60
                     + sec);
  s->p += sizeof form - 1;
  return 1;
}

/* Read the members from seq to header_from into REC.  */
static int
scan_head (struct scan *s, struct pan_audit_record *rec)
{
  struct pan_audit_event *ev = &rec->ev;

  s->bad = "seq";
  if (!skip (s, "{\"seq\":") || !scan_uint (s, LLONG_MAX, &rec->seq)
      || !rec->seq)
    return 0;
  s->bad = "time";
  if (!skip (s, ",\"time\":") || !scan_time (s, &rec->time))
    return 0;
  return req_string (s, "event", 1, &ev->event)
    && req_string (s, "tool", 1, &ev->tool)
    && req_string (s, "operator", 1, &ev->operator_name)
    && req_string (s, "host", 1, &rec->host)
    && opt_string (s, "message_id", 1, &ev->message_id)
    && opt_string (s, "copy", 0, &ev->copy)
    && (!ev->copy || is_copy_id (ev->copy))
    && opt_string (s, "envelope_from", 1, &ev->envelope_from)
    && opt_string (s, "dsn", 1, &ev->dsn)
    && opt_string (s, "header_from", 1, &ev->header_from);
}

/* Read "NAME" for a protocol name at S->P into *R.  */
static int
scan_protocol (struct scan *s, pan_protocol_t *r)
{
  static const pan_protocol_t all[] = { PAN_PROTOCOL_OPENPGP,
                                        PAN_PROTOCOL_SMIME };
  const char *name;
  size_t i, n;

  for (i = 0; i < sizeof all / sizeof *all; i++)
    {
      name = pan_protocol_name (all[i]);
      n = strlen (name);
      if ((size_t)(s->end - s->p) >= n + 2 && s->p[0] == '"'
          && !memcmp (s->p + 1, name, n) && s->p[n + 1] == '"')
        {
          s->p += n + 2;
          *r = all[i];
          return 1;
        }
    }
  return 0;
}

/* Read the recipients, if they are next, into P.  */
static int
scan_keys (struct scan *s, struct pani_audit_parsed *p)
{
  struct pan_audit_key *k;
  size_t n = 0;

  s->bad = "recipients";
  if (!skip_key (s, "recipients"))
    return 1;
  if (!skip (s, "["))
    return 0;
  do
    {
      if (n >= p->nitems)
        return 0;
      k = &p->keys[n++];
      if (!skip (s, "{\"address\":") || !scan_string (s, 1, &k->address)
          || !skip (s, ",\"protocol\":") || !scan_protocol (s, &k->protocol)
          || !skip (s, ",\"fingerprint\":")
          || !scan_string (s, 0, &k->fingerprint)
          || !is_fingerprint (k->fingerprint) || !skip (s, "}"))
        return 0;
    }
  while (skip (s, ","));
  p->rec.ev.keys = p->keys;
  p->rec.ev.nkeys = n;
  return skip (s, "]");
}

/* Read pan_count and the PANs, if they are next, into P.  */
static int
scan_pans (struct scan *s, struct pani_audit_parsed *p)
{
  struct pan_audit_pan *pan;
  unsigned long long count;
  size_t n = 0;

  s->bad = "pans";
  if (!skip_key (s, "pan_count"))
    return 1;
  if (!scan_uint (s, SIZE_MAX, &count) || !skip_key (s, "pans")
      || !skip (s, "["))
    return 0;
  do
    {
      if (n >= p->nitems)
        return 0;
      pan = &p->pans[n++];
      if (!skip (s, "{\"brand\":") || !scan_string (s, 1, &pan->brand)
          || !skip (s, ",\"masked\":") || !scan_string (s, 0, &pan->masked)
          || !is_masked_pan (pan->masked) || !skip (s, ",\"hash\":")
          || !scan_string (s, 0, &pan->hash)
          || !pani_audit_is_hash (pan->hash) || !skip (s, "}"))
        return 0;
    }
  while (skip (s, ","));
  p->rec.ev.pans = p->pans;
  p->rec.ev.npans = n;
  return count == n && skip (s, "]");
}

/* Read the member ,"NAME":N, N at most MAX, into *R_NUM.  */
static int
req_uint (struct scan *s, const char *name, unsigned long long max,
          unsigned long long *r_num)
{
  s->bad = name;
  return skip_key (s, name) && scan_uint (s, max, r_num);
}

/* Read the members from ciphertext_sha256 to the MAC and the end.  */
static int
scan_tail (struct scan *s, struct pan_audit_record *rec)
{
  struct pan_audit_event *ev = &rec->ev;
  unsigned long long size = 0, code = 0, torn = 0;

  if (!opt_hash (s, "ciphertext_sha256", &ev->ciphertext_sha256)
      || (ev->ciphertext_sha256 && !req_uint (s, "size", LLONG_MAX, &size))
      || !opt_string (s, "outcome", 1, &ev->outcome)
      || (ev->outcome && !req_uint (s, "exit_code", 255, &code))
      || !opt_string (s, "reason", 1, &ev->reason)
      || !opt_hash (s, "registry_sha256", &ev->registry_sha256))
    return 0;
  s->bad = "torn_length";
  if (skip_key (s, "torn_length")
      && (!scan_uint (s, LLONG_MAX, &torn) || !torn))
    return 0;
  if (!opt_hash (s, "torn_sha256", &rec->torn_sha256)
      || !req_hash (s, "prev", &rec->prev) || !req_hash (s, "mac", &rec->mac)
      || !skip (s, "}") || s->p != s->end)
    return 0;
  ev->size = (long long)size;
  ev->exit_code = ev->outcome ? (int)code : -1;
  rec->torn_length = torn ? (long long)torn : -1;
  return 1;
}

gpg_error_t
pani_audit_parse (const char *line, size_t len, struct pani_audit_parsed *p,
                  char **r_reason)
{
  struct scan s;
  gpg_error_t err;

  memset (&p->rec, 0, sizeof p->rec);
  if (len > PAN_AUDIT_MAX_LINE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "longer than %d bytes", PAN_AUDIT_MAX_LINE);
  if ((err = reserve (p, len)))
    return err;
  s.p = line;
  s.end = line + len;
  s.out = p->store;
  s.bad = "seq";
  if (!scan_head (&s, &p->rec) || !scan_keys (&s, p) || !scan_pans (&s, p)
      || !scan_tail (&s, &p->rec))
    {
      memset (&p->rec, 0, sizeof p->rec);
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "not in the canonical record form (at field"
                          " \"%s\", byte %zu)",
                          s.bad, (size_t)(s.p - line) + 1);
    }
  p->rec.line = line;
  p->rec.line_len = len;
  return 0;
}
