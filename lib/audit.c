/* audit.c - the tamper-evident audit log
 *
 * HOME/audit.log holds one JSON record a line (see audit-int.h).  Each
 * record names the SHA-256 of the previous line ("prev", a hash chain)
 * and carries an HMAC-SHA256 ("mac") under a key that evolves after
 * every record: K(i+1) = SHA-256 ("panmail audit key evolve" || K(i)).
 * HOME/audit.key holds "seq N key HEX prev HEX": the key for record N,
 * the next one, and the hash that record must name.  K(1) is shown once
 * when the key is created; with it an auditor recomputes every MAC,
 * while someone who takes the host over later finds only the current
 * key and cannot rewrite earlier records unnoticed.
 *
 * Writers hold HOME/audit.lock, append each line with one write(2) and
 * fsync(2), then replace audit.key.  A line without its LF (a killed
 * writer) is closed by the next writer and named, by length and hash,
 * in a "recovery" record, so that it is neither lost nor hidden.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"

#define EVOLVE_LABEL "panmail audit key evolve"
#define ZERO_HASH \
  "0000000000000000000000000000000000000000000000000000000000000000"
#define ANCHOR_PREFIX "panmail-anchor 1 "
#define MAX_STATE_FILE 1024
#define MAX_KEY_FILE 4096
#define MAX_FIELD 4096


static int is_masked_pan (const char *s);
static int is_fingerprint (const char *s);


/*
 * Buffers, hex and digests.
 */

static void
buf_put (struct pani_buf *b, const void *data, size_t n)
{
  char *tmp;
  size_t size;

  if (b->failed)
    return;
  if (b->len + n + 1 > b->size)
    {
      for (size = b->size ? b->size : 256; size < b->len + n + 1; size *= 2)
        ;
      if (!(tmp = realloc (b->data, size)))
        {
          b->failed = 1;
          return;
        }
      b->data = tmp;
      b->size = size;
    }
  memcpy (b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
}

static void
buf_puts (struct pani_buf *b, const char *s)
{
  buf_put (b, s, strlen (s));
}

static void buf_printf (struct pani_buf *b, const char *fmt, ...)
  PAN_PRINTF (2, 3);

static void
buf_printf (struct pani_buf *b, const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    b->failed = 1;
  else
    {
      buf_puts (b, s);
      free (s);
    }
  va_end (ap);
}

static void
buf_free (struct pani_buf *b)
{
  free (b->data);
  memset (b, 0, sizeof *b);
}

/* True if S is exactly N lower-case hex digits.  */
static int
is_lower_hex (const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return !s[n];
}

static void
sha256_hex (const void *data, size_t len, char hex[AUDIT_HEXLEN])
{
  unsigned char digest[32];

  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, data, len);
  pani_bin2hex (digest, sizeof digest, hex);
}

/* Compare the hex strings A and B (64 digits) in constant time.  */
static int
hex_equal (const char *a, const char *b)
{
  unsigned int diff = 0;
  size_t i;

  for (i = 0; i < 64; i++)
    diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
  return !diff;
}


/*
 * Keys, in libgcrypt secure memory.
 */

static unsigned char *
key_new (void)
{
  return gcry_malloc_secure (AUDIT_KEYLEN);
}

static void
key_free (unsigned char *key)
{
  if (!key)
    return;
  explicit_bzero (key, AUDIT_KEYLEN);
  gcry_free (key);
}

/* Replace KEY in place by SHA-256 (EVOLVE_LABEL || KEY).  */
static gpg_error_t
key_evolve (unsigned char *key)
{
  gpg_error_t err;
  gcry_md_hd_t hd;

  if ((err = gcry_md_open (&hd, GCRY_MD_SHA256, GCRY_MD_FLAG_SECURE)))
    return err;
  gcry_md_write (hd, EVOLVE_LABEL, strlen (EVOLVE_LABEL));
  gcry_md_write (hd, key, AUDIT_KEYLEN);
  memcpy (key, gcry_md_read (hd, GCRY_MD_SHA256), AUDIT_KEYLEN);
  gcry_md_close (hd);
  return 0;
}

/* Store the hex HMAC-SHA256 of DATA/LEN under KEY at HEX.  */
static gpg_error_t
mac_hex (const unsigned char *key, const void *data, size_t len,
         char hex[AUDIT_HEXLEN])
{
  gpg_error_t err;
  gcry_md_hd_t hd;

  err = gcry_md_open (&hd, GCRY_MD_SHA256,
                      GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE);
  if (err)
    return err;
  if (!(err = gcry_md_setkey (hd, key, AUDIT_KEYLEN)))
    {
      gcry_md_write (hd, data, len);
      pani_bin2hex (gcry_md_read (hd, GCRY_MD_SHA256), 32, hex);
    }
  gcry_md_close (hd);
  return err;
}

/* Parse the key text TEXT/LEN (64 hex digits, white space ignored, an
 * optional leading "audit key:") into a new secure *R_KEY.  */
static gpg_error_t
key_parse (const char *text, size_t len, unsigned char **r_key)
{
  static const char label[] = "audit key:";
  unsigned char *key = key_new ();
  size_t i = 0, n = 0;
  int v;

  *r_key = NULL;
  if (!key)
    return gpg_error_from_syserror ();
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
    i++;
  if (len - i >= sizeof label - 1 && !memcmp (text + i, label,
                                              sizeof label - 1))
    i += sizeof label - 1;
  for (; i < len; i++)
    {
      if (strchr (" \t\r\n", text[i]) && text[i])
        continue;
      if ((v = pani_hexval ((unsigned char)text[i])) < 0 || n >= 2 * AUDIT_KEYLEN)
        break;
      key[n / 2] = (n % 2) ? (key[n / 2] | v) : (v << 4);
      n++;
    }
  if (i < len || n != 2 * AUDIT_KEYLEN)
    {
      key_free (key);
      return gpg_error (GPG_ERR_INV_VALUE);
    }
  *r_key = key;
  return 0;
}


/*
 * Formatting records.
 */

static int
luhn_ok (const char *digits, size_t n)
{
  size_t i;
  int sum = 0, d;

  for (i = 0; i < n; i++)
    {
      d = digits[n - 1 - i] - '0';
      if (i % 2 && (d *= 2) > 9)
        d -= 9;
      sum += d;
    }
  return sum % 10 == 0;
}

/* Mask, in place, the run of digits starting at S (single spaces or
 * dashes may separate them) if it has 13 to 19 digits and passes the
 * Luhn check; return the length of the run.  */
static size_t
mask_run (char *s)
{
  char digits[20];
  size_t pos[20], n = 0, i = 0, k;

  while (s[i] >= '0' && s[i] <= '9')
    {
      if (n < sizeof digits)
        {
          digits[n] = s[i];
          pos[n] = i;
        }
      n++;
      i++;
      if ((s[i] == ' ' || s[i] == '-') && s[i + 1] >= '0' && s[i + 1] <= '9')
        i++;
    }
  if (n >= 13 && n <= 19 && luhn_ok (digits, n))
    for (k = 6; k + 4 < n; k++)
      s[pos[k]] = '*';
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
      if (copy[i] >= '0' && copy[i] <= '9'
          && (i == 0 || copy[i - 1] < '0' || copy[i - 1] > '9'))
        i += mask_run (copy + i);
      else
        i++;
    }
  return copy;
}

/* Append S as a JSON string: control characters escaped, bytes that
 * are not UTF-8 replaced by U+FFFD, and, if MASK, card numbers masked
 * (not in hex digests, whose digit runs may pass the Luhn check).  */
static void
put_json (struct pani_buf *b, const char *s, int mask)
{
  char *copy = mask ? mask_card_numbers (s) : pani_strdup (s);
  const unsigned char *p, *end;
  size_t n;

  if (!copy)
    {
      b->failed = 1;
      return;
    }
  end = (const unsigned char *)copy + strlen (copy);
  buf_put (b, "\"", 1);
  for (p = (const unsigned char *)copy; p < end; p += n ? n : 1)
    {
      n = pani_utf8_len (p, end);
      if (*p == '"' || *p == '\\')
        buf_printf (b, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        buf_printf (b, "\\u%04x", *p);
      else if (n)
        buf_put (b, p, n);
      else
        buf_put (b, "\xef\xbf\xbd", 3);
    }
  buf_put (b, "\"", 1);
  free (copy);
}

static void
put_string (struct pani_buf *b, const char *s)
{
  put_json (b, s, 1);
}

static void
put_field (struct pani_buf *b, const char *name, const char *value)
{
  if (!value)
    return;
  buf_printf (b, ",\"%s\":", name);
  put_json (b, value, 1);
}

/* Like put_field for a hex value: never masked.  */
static void
put_hex_field (struct pani_buf *b, const char *name, const char *value)
{
  if (!value)
    return;
  buf_printf (b, ",\"%s\":", name);
  put_json (b, value, 0);
}

static void
put_keys (struct pani_buf *b, const struct pan_audit_event *ev)
{
  size_t i;

  if (!ev->nkeys)
    return;
  buf_puts (b, ",\"recipients\":[");
  for (i = 0; i < ev->nkeys; i++)
    {
      buf_puts (b, i ? ",{\"address\":" : "{\"address\":");
      put_string (b, ev->keys[i].address);
      buf_printf (b, ",\"protocol\":\"%s\"",
                  pan_protocol_name (ev->keys[i].protocol));
      put_hex_field (b, "fingerprint", ev->keys[i].fingerprint);
      buf_puts (b, "}");
    }
  buf_puts (b, "]");
}

static void
put_pans (struct pani_buf *b, const struct pan_audit_event *ev)
{
  size_t i;

  if (!ev->npans)
    return;
  buf_printf (b, ",\"pan_count\":%zu,\"pans\":[", ev->npans);
  for (i = 0; i < ev->npans; i++)
    {
      buf_puts (b, i ? ",{\"brand\":" : "{\"brand\":");
      put_string (b, ev->pans[i].brand);
      put_hex_field (b, "masked", ev->pans[i].masked);
      put_hex_field (b, "hash", ev->pans[i].hash);
      buf_puts (b, "}");
    }
  buf_puts (b, "]");
}

void
pani_audit_format_prefix (struct pani_buf *b,
                          const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  char when[32];

  buf_printf (b, "{\"seq\":%llu,\"time\":\"%s\"", rec->seq,
              pan_time_format (rec->time, when, sizeof when));
  put_field (b, "event", ev->event);
  put_field (b, "tool", ev->tool);
  put_field (b, "operator", ev->operator_name);
  put_field (b, "host", rec->host);
  put_field (b, "message_id", ev->message_id);
  put_field (b, "envelope_from", ev->envelope_from);
  put_field (b, "header_from", ev->header_from);
  put_keys (b, ev);
  put_pans (b, ev);
  put_hex_field (b, "ciphertext_sha256", ev->ciphertext_sha256);
  if (ev->ciphertext_sha256)
    buf_printf (b, ",\"size\":%lld", ev->size);
  put_field (b, "outcome", ev->outcome);
  if (ev->outcome)
    buf_printf (b, ",\"exit_code\":%d", ev->exit_code);
  put_field (b, "reason", ev->reason);
  if (rec->torn_length >= 0)
    buf_printf (b, ",\"torn_length\":%lld", rec->torn_length);
  put_hex_field (b, "torn_sha256", rec->torn_sha256);
  put_hex_field (b, "prev", rec->prev);
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
      if (!k->address || !is_fingerprint (k->fingerprint)
          || !get_str (arr->items[i], "protocol")
          || pan_protocol_parse (get_str (arr->items[i], "protocol"),
                                 &k->protocol))
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
                          &count) || count != arr->n)
    return bad_field (r_reason, "pans");
  if (!(p->pans = calloc (arr->n, sizeof *p->pans)))
    return gpg_error_from_syserror ();
  for (i = 0; i < arr->n; i++)
    {
      p->pans[i].brand = get_str (arr->items[i], "brand");
      p->pans[i].masked = get_str (arr->items[i], "masked");
      p->pans[i].hash = get_str (arr->items[i], "hash");
      if (!p->pans[i].brand || !is_masked_pan (p->pans[i].masked)
          || !p->pans[i].hash || !is_lower_hex (p->pans[i].hash, 64))
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
                      &num) && num)
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

  if (!when || pan_time_parse (when, &rec->time))
    return bad_field (r_reason, "time");
  ev->event = get_str (p->json, "event");
  ev->tool = get_str (p->json, "tool");
  ev->operator_name = get_str (p->json, "operator");
  rec->host = get_str (p->json, "host");
  if (!ev->event || !ev->tool || !ev->operator_name || !rec->host)
    return bad_field (r_reason, "event, tool, operator or host");
  ev->message_id = get_str (p->json, "message_id");
  ev->envelope_from = get_str (p->json, "envelope_from");
  ev->header_from = get_str (p->json, "header_from");
  ev->ciphertext_sha256 = get_str (p->json, "ciphertext_sha256");
  ev->outcome = get_str (p->json, "outcome");
  ev->reason = get_str (p->json, "reason");
  rec->torn_sha256 = get_str (p->json, "torn_sha256");
  rec->prev = get_str (p->json, "prev");
  rec->mac = get_str (p->json, "mac");
  if ((ev->ciphertext_sha256 && !is_lower_hex (ev->ciphertext_sha256, 64))
      || (rec->torn_sha256 && !is_lower_hex (rec->torn_sha256, 64)))
    return bad_field (r_reason, "ciphertext_sha256 or torn_sha256");
  if (!rec->prev || !is_lower_hex (rec->prev, 64))
    return bad_field (r_reason, "prev");
  if (!rec->mac || !is_lower_hex (rec->mac, 64))
    return bad_field (r_reason, "mac");
  return 0;
}

/* Check that LINE/LEN is exactly what the formatter makes of P.  */
static gpg_error_t
check_canonical (const struct pani_audit_parsed *p, const char *line,
                 size_t len, char **r_reason)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  gpg_error_t err = 0;

  pani_audit_format_prefix (&b, &p->rec);
  buf_puts (&b, AUDIT_MAC_PREFIX);
  buf_puts (&b, p->rec.mac);
  buf_puts (&b, "\"}");
  if (b.failed)
    err = gpg_error_from_syserror ();
  else if (b.len != len || memcmp (b.data, line, len))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "not in the canonical record form (fields, order,"
                       " escapes or spacing differ)");
  buf_free (&b);
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


/*
 * audit.key: "seq N key HEX prev HEX\n".
 */

struct audit_state
{
  unsigned long long seq;       /* The record the key is for.  */
  unsigned char *key;           /* Secure memory.  */
  char prev[AUDIT_HEXLEN];      /* What that record's prev must be.  */
};

static void
state_clear (struct audit_state *st)
{
  key_free (st->key);
  memset (st, 0, sizeof *st);
}

/* Parse the number at *P (no leading zero, at least 1).  */
static int
parse_seq (const char **p, unsigned long long *r_seq)
{
  unsigned long long n = 0;
  const char *s = *p;

  if (*s < '1' || *s > '9')
    return 0;
  for (; *s >= '0' && *s <= '9'; s++)
    {
      if (n > (ULLONG_MAX / 2 - 9) / 10)
        return 0;
      n = n * 10 + (*s - '0');
    }
  *p = s;
  *r_seq = n;
  return 1;
}

/* Parse the NUL-terminated audit.key text TEXT into ST.  */
static gpg_error_t
state_parse (const char *text, struct audit_state *st)
{
  const char *p = text;
  gpg_error_t err;

  memset (st, 0, sizeof *st);
  if (strncmp (p, "seq ", 4))
    return gpg_error (GPG_ERR_INV_DATA);
  p += 4;
  if (!parse_seq (&p, &st->seq) || strncmp (p, " key ", 5))
    return gpg_error (GPG_ERR_INV_DATA);
  p += 5;
  if (strlen (p) < 64 + 6 + 64 + 1
      || strncmp (p + 64, " prev ", 6) || strcmp (p + 134, "\n"))
    return gpg_error (GPG_ERR_INV_DATA);
  memcpy (st->prev, p + 70, 64);
  st->prev[64] = 0;
  if (!is_lower_hex (st->prev, 64))
    return gpg_error (GPG_ERR_INV_DATA);
  if ((err = key_parse (p, 64, &st->key)))
    return gpg_error (GPG_ERR_INV_DATA);
  return 0;
}

/* Read at most MAXLEN bytes of the file PATH (or stdin for "-") into a
 * new NUL-terminated buffer in secure memory.  */
static gpg_error_t
read_secret_file (const char *path, size_t maxlen, char **r_buf,
                  size_t *r_len)
{
  char *buf = gcry_malloc_secure (maxlen + 1);
  size_t len = 0;
  ssize_t n;
  int fd = strcmp (path, "-") ? open (path, O_RDONLY | O_CLOEXEC) : 0;
  gpg_error_t err = 0;

  *r_buf = NULL;
  if (fd < 0 || !buf)
    err = gpg_error_from_syserror ();
  while (!err && len <= maxlen
         && (n = read (fd, buf + len, maxlen + 1 - len)) != 0)
    if (n < 0 && errno != EINTR)
      err = gpg_error_from_syserror ();
    else if (n > 0)
      len += n;
  if (!err && len > maxlen)
    err = gpg_error (GPG_ERR_TOO_LARGE);
  if (fd > 0)
    close (fd);
  if (err)
    {
      if (buf)
        explicit_bzero (buf, maxlen + 1);
      gcry_free (buf);
      return err;
    }
  buf[len] = 0;
  *r_buf = buf;
  *r_len = len;
  return 0;
}

static void
secret_free (char *buf, size_t len)
{
  if (!buf)
    return;
  explicit_bzero (buf, len);
  gcry_free (buf);
}

/* Read audit.key at PATH into ST; *R_MISSING tells a missing file.  */
static gpg_error_t
state_read (const char *path, struct audit_state *st, int *r_missing,
            char **r_reason)
{
  gpg_error_t err;
  char *text = NULL;
  size_t len = 0;

  *r_missing = 0;
  memset (st, 0, sizeof *st);
  err = read_secret_file (path, MAX_STATE_FILE, &text, &len);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      *r_missing = 1;
      return 0;
    }
  if (err)
    return pani_reason (r_reason, err, "%s: %s", path, gpg_strerror (err));
  if (strlen (text) != len || (err = state_parse (text, st)))
    {
      state_clear (st);
      err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                         "%s is damaged (not \"seq N key HEX prev HEX\");"
                         " restore it from a backup", path);
    }
  secret_free (text, len);
  return err;
}

static gpg_error_t
state_write (const char *path, const struct audit_state *st,
             char **r_reason)
{
  char *text = gcry_malloc_secure (256);
  char hex[2 * AUDIT_KEYLEN + 1];
  gpg_error_t err;
  int n;

  if (!text)
    return gpg_error_from_syserror ();
  pani_bin2hex (st->key, AUDIT_KEYLEN, hex);
  n = snprintf (text, 256, "seq %llu key %s prev %s\n", st->seq, hex,
                st->prev);
  explicit_bzero (hex, sizeof hex);
  err = pani_write_file_atomic (path, text, n, 0600, r_reason);
  secret_free (text, 256);
  return err;
}


/*
 * Verification.
 */

struct anchor
{
  int set;
  unsigned long long seq;
  char hash[AUDIT_HEXLEN];
};

/* One line of the log.  */
struct vline
{
  const char *p;
  size_t len;
  int has_nl;
  unsigned long long no;
};

struct verifier
{
  struct pan_audit_verdict *v;
  struct pani_buf warn;
  unsigned long long expect;    /* The seq of the next record.  */
  unsigned long long prev_lineno;
  char prev[AUDIT_HEXLEN];      /* Hash of the last good line.  */
  char prev_prev[AUDIT_HEXLEN]; /* And of the one before.  */
  unsigned char *key;           /* K(expect), or NULL.  */
  unsigned char *last_key;      /* K(expect - 1).  */
  const struct audit_state *state;  /* audit.key, or NULL.  */
  int state_missing;
  struct anchor anchor;
  struct pani_audit_parsed cur, nxt;
};

const char *
pan_audit_damage_name (pan_audit_damage_t damage)
{
  static const char *const names[] = { "intact", "modified", "inserted",
    "deleted", "reordered", "truncated", "torn" };

  if ((unsigned)damage < sizeof names / sizeof *names)
    return names[damage];
  return "unknown";
}

void
pan_audit_verdict_release (struct pan_audit_verdict *verdict)
{
  if (!verdict)
    return;
  free (verdict->message);
  free (verdict->warnings);
  verdict->message = verdict->warnings = NULL;
}

static int damage (struct verifier *vf, pan_audit_damage_t kind,
                   unsigned long long record, unsigned long long line,
                   const char *fmt, ...) PAN_PRINTF (5, 6);

/* Record the first damage found; return 1.  */
static int
damage (struct verifier *vf, pan_audit_damage_t kind,
        unsigned long long record, unsigned long long line,
        const char *fmt, ...)
{
  va_list ap;
  char *what = NULL;

  va_start (ap, fmt);
  if (vasprintf (&what, fmt, ap) < 0)
    what = NULL;
  va_end (ap);
  vf->v->damage = kind;
  vf->v->record = record;
  vf->v->line = line;
  if (line)
    vf->v->message = pani_strdupf ("record %llu (line %llu): %s: %s",
                                   record, line,
                                   pan_audit_damage_name (kind),
                                   what ? what : "");
  else
    vf->v->message = pani_strdupf ("record %llu: %s: %s", record,
                                   pan_audit_damage_name (kind),
                                   what ? what : "");
  free (what);
  return 1;
}

static int
next_line (const char *buf, size_t len, size_t *pos,
           unsigned long long *lineno, struct vline *l)
{
  const char *nl;

  if (*pos >= len)
    return 0;
  l->p = buf + *pos;
  nl = memchr (l->p, '\n', len - *pos);
  l->len = nl ? (size_t)(nl - l->p) : len - *pos;
  l->has_nl = !!nl;
  l->no = ++*lineno;
  *pos += l->len + !!nl;
  return 1;
}

/* True if NXT is a recovery record that names CUR as its torn line.  */
static int
is_recovery_of (struct verifier *vf, const struct vline *cur,
                const struct vline *nxt)
{
  static const char mark[] = "\"event\":\"recovery\"";
  const struct pan_audit_record *rec = &vf->nxt.rec;
  char hash[AUDIT_HEXLEN];

  if (!nxt || !memmem (nxt->p, nxt->len, mark, sizeof mark - 1)
      || pani_audit_parse (nxt->p, nxt->len, &vf->nxt, NULL))
    return 0;
  if (strcmp (rec->ev.event, "recovery") || !rec->torn_sha256
      || rec->torn_length != (long long)cur->len)
    return 0;
  sha256_hex (cur->p, cur->len, hash);
  return !strcmp (hash, rec->torn_sha256);
}

/* True if the line L holds a record with sequence number SEQ.  */
static int
line_has_seq (struct verifier *vf, const struct vline *l,
              unsigned long long seq)
{
  return l && !pani_audit_parse (l->p, l->len, &vf->nxt, NULL)
    && vf->nxt.rec.seq == seq;
}

static int
check_seq (struct verifier *vf, const struct vline *cur,
           const struct vline *nxt)
{
  unsigned long long s = vf->cur.rec.seq, e = vf->expect;

  if (s == e)
    return 0;
  if (s < e)
    return damage (vf, PAN_AUDIT_INSERTED, s, cur->no,
                   "a second record %llu where record %llu was expected:"
                   " a record was inserted or duplicated", s, e);
  if (line_has_seq (vf, nxt, e))
    return damage (vf, PAN_AUDIT_REORDERED, e, cur->no,
                   "record %llu comes before record %llu: records were"
                   " reordered", s, e);
  if (s == e + 1)
    return damage (vf, PAN_AUDIT_DELETED, e, cur->no,
                   "record %llu is missing (the sequence jumps from %llu"
                   " to %llu)", e, e - 1, s);
  return damage (vf, PAN_AUDIT_DELETED, e, cur->no,
                 "records %llu to %llu are missing (the sequence jumps"
                 " from %llu to %llu)", e, s - 1, e - 1, s);
}

static gpg_error_t
check_mac (struct verifier *vf, const struct vline *cur, int *r_bad)
{
  gpg_error_t err;
  char mac[AUDIT_HEXLEN];

  *r_bad = 0;
  err = mac_hex (vf->key, cur->p, cur->len - AUDIT_MAC_SUFFIX_LEN, mac);
  if (err)
    return err;
  if (!hex_equal (mac, vf->cur.rec.mac))
    *r_bad = damage (vf, PAN_AUDIT_MODIFIED, vf->expect, cur->no,
                     "the MAC does not verify with the key: the record was"
                     " modified or forged");
  return 0;
}

static int
check_prev (struct verifier *vf, const struct vline *cur)
{
  if (!strcmp (vf->cur.rec.prev, vf->prev))
    return 0;
  if (vf->expect == 1)
    return damage (vf, PAN_AUDIT_MODIFIED, 1, cur->no,
                   "its prev hash is not all zeros: the log does not start"
                   " with its first record");
  return damage (vf, PAN_AUDIT_MODIFIED, vf->expect - 1, vf->prev_lineno,
                 "its SHA-256 does not match the prev hash of record %llu:"
                 " record %llu (or that prev field) was modified",
                 vf->expect, vf->expect - 1);
}

static int
check_anchor_at (struct verifier *vf, const struct vline *cur,
                 const char *hash)
{
  if (!vf->anchor.set || vf->anchor.seq != vf->expect
      || !strcmp (hash, vf->anchor.hash))
    return 0;
  return damage (vf, PAN_AUDIT_MODIFIED, vf->expect, cur->no,
                 "it does not match the anchor: the log was rewritten at"
                 " or before this record");
}

static gpg_error_t
advance (struct verifier *vf, const char *hash, unsigned long long lineno)
{
  strcpy (vf->prev_prev, vf->prev);
  strcpy (vf->prev, hash);
  vf->prev_lineno = lineno;
  vf->expect++;
  if (!vf->key)
    return 0;
  memcpy (vf->last_key, vf->key, AUDIT_KEYLEN);
  return key_evolve (vf->key);
}

static void
warn (struct verifier *vf, const char *fmt, ...) PAN_PRINTF (2, 3);

static void
warn (struct verifier *vf, const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) >= 0)
    {
      buf_puts (&vf->warn, s);
      buf_puts (&vf->warn, "\n");
      free (s);
    }
  va_end (ap);
}

/* Check one record line CUR (NXT is the line after it, or NULL).  */
static gpg_error_t
verify_one (struct verifier *vf, const struct vline *cur,
            const struct vline *nxt)
{
  gpg_error_t err;
  char *why = NULL, hash[AUDIT_HEXLEN];
  int bad = 0;

  if (is_recovery_of (vf, cur, nxt))
    {
      warn (vf, "line %llu: a torn record of %zu bytes (a writer was"
            " interrupted), recovered by record %llu", cur->no, cur->len,
            vf->expect);
      return 0;
    }
  if (!cur->has_nl)
    {
      damage (vf, PAN_AUDIT_TORN, vf->expect, cur->no,
              "the last line has no newline (%zu bytes): a writer was"
              " interrupted; the next append records a recovery",
              cur->len);
      return 0;
    }
  if ((err = pani_audit_parse (cur->p, cur->len, &vf->cur, &why)))
    {
      if (gpg_err_code (err) == GPG_ERR_INV_DATA)
        damage (vf, nxt ? PAN_AUDIT_MODIFIED : PAN_AUDIT_TORN, vf->expect,
                cur->no, "not a valid record: %s", why ? why : "");
      free (why);
      return gpg_err_code (err) == GPG_ERR_INV_DATA ? 0 : err;
    }
  if (check_seq (vf, cur, nxt))
    return 0;
  if (vf->key && ((err = check_mac (vf, cur, &bad)) || bad))
    return err;
  sha256_hex (cur->p, cur->len, hash);
  if (check_prev (vf, cur) || check_anchor_at (vf, cur, hash))
    return 0;
  return advance (vf, hash, cur->no);
}

static int
check_state_key (struct verifier *vf, const unsigned char *key)
{
  unsigned long long n = vf->expect - 1;

  if (!vf->key || !memcmp (vf->state->key, key, AUDIT_KEYLEN))
    return 0;
  return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                 "audit.key does not hold the key that --key evolves to"
                 " for record %llu: audit.key was replaced (were records"
                 " removed from the end?)", vf->state->seq);
}

/* Compare audit.key with the end of the log (N records).  */
static int
check_state (struct verifier *vf)
{
  unsigned long long n = vf->expect - 1, s = vf->state->seq;

  if (s > n + 1)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "audit.key says %llu records were written, the log ends"
                   " at record %llu: records were removed from the end",
                   s - 1, n);
  if (s == n + 1 && strcmp (vf->state->prev, vf->prev))
    return damage (vf, PAN_AUDIT_MODIFIED, n ? n : 1, vf->prev_lineno,
                   "the last record does not match audit.key: it was"
                   " modified, or the log was rewritten with a recomputed"
                   " hash chain (--key or --anchor tells where)");
  if (s == n + 1)
    return check_state_key (vf, vf->key);
  if (s == n && strcmp (vf->state->prev, vf->prev_prev))
    return damage (vf, PAN_AUDIT_INSERTED, n, vf->prev_lineno,
                   "the log has one record more than audit.key knows of and"
                   " the chain was recomputed: a record was inserted"
                   " (--key or --anchor tells where)");
  if (s == n)
    {
      warn (vf, "audit.key lags one record behind the log (a writer"
            " stopped between appending record %llu and evolving the"
            " key); the next append repairs this", n);
      return check_state_key (vf, vf->last_key);
    }
  return damage (vf, PAN_AUDIT_INSERTED, s, 0,
                 "the log has %llu records but audit.key expects record %llu"
                 " next: records were added without the audit key", n, s);
}

static int
verify_end (struct verifier *vf)
{
  unsigned long long n = vf->expect - 1;

  vf->v->nrecords = n;
  strcpy (vf->v->head, vf->prev);
  if (vf->anchor.set && vf->anchor.seq > n)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "the anchor names record %llu but the log ends at record"
                   " %llu: records were removed from the end",
                   vf->anchor.seq, n);
  if (vf->state_missing && n)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "audit.key is missing, so records removed from the end"
                   " cannot be detected and nothing can be appended;"
                   " restore audit.key from a backup");
  if (vf->state)
    return check_state (vf);
  return 0;
}

static gpg_error_t
verify_lines (struct verifier *vf, const char *buf, size_t len)
{
  gpg_error_t err = 0;
  struct vline cur, nxt;
  size_t pos = 0;
  unsigned long long lineno = 0;
  int have_cur, have_nxt;

  have_cur = next_line (buf, len, &pos, &lineno, &cur);
  while (have_cur && !vf->v->damage && !err)
    {
      have_nxt = next_line (buf, len, &pos, &lineno, &nxt);
      err = verify_one (vf, &cur, have_nxt ? &nxt : NULL);
      cur = nxt;
      have_cur = have_nxt;
    }
  if (!err && !vf->v->damage)
    verify_end (vf);
  return err;
}

static gpg_error_t
anchor_parse (const char *text, struct anchor *a)
{
  const char *p = text;
  size_t n;

  memset (a, 0, sizeof *a);
  while (*p == ' ' || *p == '\t')
    p++;
  if (strncmp (p, ANCHOR_PREFIX "seq=", strlen (ANCHOR_PREFIX "seq=")))
    return gpg_error (GPG_ERR_INV_VALUE);
  p += strlen (ANCHOR_PREFIX "seq=");
  if (*p == '0' && p[1] == ' ')
    p++;
  else if (!parse_seq (&p, &a->seq))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (strncmp (p, " sha256=", 8))
    return gpg_error (GPG_ERR_INV_VALUE);
  memcpy (a->hash, p + 8, strnlen (p + 8, 64));
  if (strnlen (p + 8, 65) < 64 || !is_lower_hex (a->hash, 64))
    return gpg_error (GPG_ERR_INV_VALUE);
  for (p += 8 + 64, n = 0; p[n] == ' ' || p[n] == '\n' || p[n] == '\r'; n++)
    ;
  if (p[n])
    return gpg_error (GPG_ERR_INV_VALUE);
  a->set = 1;
  return 0;
}

/* Set up VF to check MACs from the initial key KEY (consumed).  */
static gpg_error_t
verifier_keys (struct verifier *vf, unsigned char *key)
{
  vf->key = key;
  if (!key)
    return 0;
  if (!(vf->last_key = key_new ()))
    return gpg_error_from_syserror ();
  memset (vf->last_key, 0, AUDIT_KEYLEN);
  vf->v->key_checked = 1;
  return 0;
}

static void
verifier_finish (struct verifier *vf)
{
  if (vf->warn.len && !vf->warn.failed)
    {
      vf->v->warnings = vf->warn.data;
      vf->warn.data = NULL;
    }
  buf_free (&vf->warn);
  key_free (vf->key);
  key_free (vf->last_key);
  pani_audit_parsed_clear (&vf->cur);
  pani_audit_parsed_clear (&vf->nxt);
}

/* The common core: KEY (secure, consumed) may be NULL, STATE may be
 * NULL.  */
static gpg_error_t
verify_core (const char *log, size_t loglen, const struct audit_state *state,
             int state_missing, unsigned char *key, const char *anchor,
             struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err = 0;
  struct verifier vf;

  memset (&vf, 0, sizeof vf);
  memset (r_verdict, 0, sizeof *r_verdict);
  vf.v = r_verdict;
  vf.expect = 1;
  vf.state = state;
  vf.state_missing = state_missing;
  strcpy (vf.prev, ZERO_HASH);
  strcpy (vf.prev_prev, ZERO_HASH);
  strcpy (r_verdict->head, ZERO_HASH);
  if ((err = verifier_keys (&vf, key)))
    key_free (key);
  else if (anchor && anchor_parse (anchor, &vf.anchor))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                       "the anchor is not \"panmail-anchor 1 seq=N"
                       " sha256=HEX\" as printed by 'panaudit anchor'");
  else
    err = verify_lines (&vf, log, loglen);
  verifier_finish (&vf);
  if (err)
    pan_audit_verdict_release (r_verdict);
  return err;
}

gpg_error_t
pan_audit_verify_buffer (const void *log, size_t loglen, const void *state,
                         size_t statelen, const char *key_hex,
                         const char *anchor,
                         struct pan_audit_verdict *r_verdict,
                         char **r_reason)
{
  gpg_error_t err;
  struct audit_state st;
  unsigned char *key = NULL;
  char *text = NULL;

  memset (&st, 0, sizeof st);
  memset (r_verdict, 0, sizeof *r_verdict);
  if (key_hex && key_parse (key_hex, strlen (key_hex), &key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "the audit key is not 64 hex digits");
  if (state && (!(text = pani_strndup (state, statelen))
                || strlen (text) != statelen || state_parse (text, &st)))
    {
      free (text);
      key_free (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                          "audit.key is damaged");
    }
  free (text);
  err = verify_core (log, loglen, state ? &st : NULL, 0, key, anchor,
                     r_verdict, r_reason);
  state_clear (&st);
  return err;
}


/*
 * Reading the log from the home: a snapshot taken under the lock.
 */

struct snapshot
{
  char *data;                   /* mmap'ed, or NULL if empty.  */
  size_t len;
  struct audit_state state;
  int state_missing;
};

static void
snapshot_release (struct snapshot *snap)
{
  if (snap->data)
    munmap (snap->data, snap->len);
  state_clear (&snap->state);
  memset (snap, 0, sizeof *snap);
}

/* Map the first SIZE bytes of the open file FD.  */
static gpg_error_t
map_log (int fd, off_t size, struct snapshot *snap)
{
  void *p;

  if (!size)
    return 0;
  if ((unsigned long long)size > SIZE_MAX)
    return gpg_error (GPG_ERR_TOO_LARGE);
  p = mmap (NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED)
    return gpg_error_from_syserror ();
  snap->data = p;
  snap->len = (size_t)size;
  return 0;
}

static gpg_error_t
open_log_snapshot (const char *logpath, struct snapshot *snap,
                   char **r_reason)
{
  gpg_error_t err;
  struct stat st;
  int fd = open (logpath, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return errno == ENOENT ? 0 : pani_reason_sys (r_reason, logpath);
  if (fstat (fd, &st))
    err = pani_reason_sys (r_reason, logpath);
  else if ((err = map_log (fd, st.st_size, snap)))
    pani_reason (r_reason, err, "%s: %s", logpath, gpg_strerror (err));
  close (fd);
  return err;
}

static int
lock_timeout (pan_ctx_t ctx)
{
  long t = pan_config_get_int (pan_ctx_config (ctx), "lock-timeout");

  return t > 0 ? (int)t : 10;
}

/* Take the size of the log and audit.key under the lock, so that a
 * writer in the middle of an append is not mistaken for damage.  A
 * read-only copy of a home (no lock possible) is read as it is.  */
static gpg_error_t
take_snapshot (pan_ctx_t ctx, struct snapshot *snap, char **r_reason)
{
  gpg_error_t err;
  char *logpath = pan_ctx_path (ctx, AUDIT_LOG_FILE);
  char *keypath = pan_ctx_path (ctx, AUDIT_KEY_FILE);
  char *lockpath = pan_ctx_path (ctx, AUDIT_LOCK_FILE);
  int lockfd = -1;

  memset (snap, 0, sizeof *snap);
  if (!logpath || !keypath || !lockpath)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  err = pani_lock (lockpath, lock_timeout (ctx), &lockfd, r_reason);
  if (err && gpg_err_code (err) != GPG_ERR_EROFS
      && gpg_err_code (err) != GPG_ERR_EACCES)
    goto leave;
  if (err && r_reason)
    {
      free (*r_reason);
      *r_reason = NULL;
    }
  if ((err = open_log_snapshot (logpath, snap, r_reason)))
    goto leave;
  err = state_read (keypath, &snap->state, &snap->state_missing, r_reason);

 leave:
  pani_unlock (lockfd);
  if (err)
    snapshot_release (snap);
  free (logpath);
  free (keypath);
  free (lockpath);
  return err;
}

static gpg_error_t
read_key_file (const char *key_file, unsigned char **r_key, char **r_reason)
{
  gpg_error_t err;
  char *text = NULL;
  size_t len = 0;
  const char *name = strcmp (key_file, "-") ? key_file : "standard input";

  *r_key = NULL;
  if ((err = read_secret_file (key_file, MAX_KEY_FILE, &text, &len)))
    return pani_reason (r_reason, err, "%s: %s", name, gpg_strerror (err));
  if (key_parse (text, len, r_key))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                       "%s does not hold an audit key (64 hex digits)",
                       name);
  secret_free (text, len);
  return err;
}

gpg_error_t
pan_audit_verify (pan_ctx_t ctx, const char *key_file, const char *anchor,
                  struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct snapshot snap;
  unsigned char *key = NULL;

  memset (r_verdict, 0, sizeof *r_verdict);
  if (key_file && (err = read_key_file (key_file, &key, r_reason)))
    return err;
  if ((err = take_snapshot (ctx, &snap, r_reason)))
    {
      key_free (key);
      return err;
    }
  err = verify_core (snap.data, snap.len,
                     snap.state_missing ? NULL : &snap.state,
                     snap.state_missing, key, anchor, r_verdict, r_reason);
  snapshot_release (&snap);
  return err;
}

gpg_error_t
pan_audit_anchor (pan_ctx_t ctx, char **r_line, char **r_reason)
{
  gpg_error_t err;
  struct pan_audit_verdict v;

  *r_line = NULL;
  if ((err = pan_audit_verify (ctx, NULL, NULL, &v, r_reason)))
    return err;
  if (v.damage)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the log is damaged, no anchor made: %s",
                       v.message ? v.message : "");
  else if (!(*r_line = pani_strdupf (ANCHOR_PREFIX "seq=%llu sha256=%s",
                                     v.nrecords, v.head)))
    err = gpg_error_from_syserror ();
  pan_audit_verdict_release (&v);
  return err;
}


/*
 * Creating the key.
 */

/* Fail with GPG_ERR_EEXIST unless the home has no audit.key and no
 * records.  */
static gpg_error_t
check_no_audit_yet (const char *logpath, const char *keypath,
                    char **r_reason)
{
  struct stat st;

  if (!stat (keypath, &st))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s exists: the audit key was created before",
                        keypath);
  if (errno != ENOENT)
    return pani_reason_sys (r_reason, keypath);
  if (!stat (logpath, &st) && st.st_size)
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s holds records but %s is missing; restore %s"
                        " from a backup", logpath, keypath, keypath);
  return 0;
}

static gpg_error_t
create_log (const char *logpath, char **r_reason)
{
  int fd = open (logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if (fd < 0)
    return pani_reason_sys (r_reason, logpath);
  if (fchmod (fd, 0600) || fsync (fd))
    {
      gpg_error_t err = pani_reason_sys (r_reason, logpath);
      close (fd);
      return err;
    }
  close (fd);
  return 0;
}

static gpg_error_t
make_initial_key (const char *logpath, const char *keypath, char **r_hex,
                  char **r_reason)
{
  gpg_error_t err;
  struct audit_state st = { 1, NULL, ZERO_HASH };
  char *hex = gcry_malloc_secure (2 * AUDIT_KEYLEN + 1);

  if (!hex || !(st.key = gcry_random_bytes_secure (AUDIT_KEYLEN,
                                                   GCRY_STRONG_RANDOM)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = create_log (logpath, r_reason))
      || (err = state_write (keypath, &st, r_reason)))
    goto leave;
  pani_bin2hex (st.key, AUDIT_KEYLEN, hex);
  *r_hex = hex;
  hex = NULL;

 leave:
  secret_free (hex, 2 * AUDIT_KEYLEN + 1);
  key_free (st.key);
  return err;
}

gpg_error_t
pan_audit_init_key (pan_ctx_t ctx, char **r_key_hex, char **r_reason)
{
  gpg_error_t err;
  char *logpath = pan_ctx_path (ctx, AUDIT_LOG_FILE);
  char *keypath = pan_ctx_path (ctx, AUDIT_KEY_FILE);
  char *lockpath = pan_ctx_path (ctx, AUDIT_LOCK_FILE);
  int lockfd = -1;

  *r_key_hex = NULL;
  if (!logpath || !keypath || !lockpath)
    err = gpg_error_from_syserror ();
  else if (!(err = pani_lock (lockpath, lock_timeout (ctx), &lockfd,
                              r_reason))
           && !(err = check_no_audit_yet (logpath, keypath, r_reason)))
    err = make_initial_key (logpath, keypath, r_key_hex, r_reason);
  pani_unlock (lockfd);
  free (logpath);
  free (keypath);
  free (lockpath);
  return err;
}

void
pan_audit_key_release (char *key_hex)
{
  if (key_hex)
    secret_free (key_hex, strlen (key_hex));
}


/*
 * Appending.
 */

struct writer
{
  char *logpath, *keypath, *lockpath;
  int lockfd, fd;
  off_t size;                   /* Of the log, as we left it.  */
  int need_nl;                  /* The log ends in a torn line.  */
  off_t torn_len;
  char torn_hash[AUDIT_HEXLEN];
  unsigned long long last_seq;
  char prev[AUDIT_HEXLEN];
  struct audit_state st;
  char host[256];
};

/* Store at *R_POS the offset of the last LF before END, or -1.  */
static gpg_error_t
find_last_lf (int fd, off_t end, off_t *r_pos)
{
  char chunk[4096];
  off_t start;
  ssize_t n;

  *r_pos = -1;
  while (end > 0)
    {
      start = end > (off_t)sizeof chunk ? end - (off_t)sizeof chunk : 0;
      n = pread (fd, chunk, end - start, start);
      if (n != end - start)
        return n < 0 ? gpg_error_from_syserror () : gpg_error (GPG_ERR_EIO);
      while (n > 0)
        if (chunk[--n] == '\n')
          {
            *r_pos = start + n;
            return 0;
          }
      end = start;
    }
  return 0;
}

static gpg_error_t
hash_range (int fd, off_t start, off_t len, char hex[AUDIT_HEXLEN])
{
  gpg_error_t err;
  gcry_md_hd_t hd;
  char chunk[4096];
  ssize_t n;

  if ((err = gcry_md_open (&hd, GCRY_MD_SHA256, 0)))
    return err;
  while (!err && len > 0)
    {
      n = pread (fd, chunk, len > (off_t)sizeof chunk ? sizeof chunk
                 : (size_t)len, start);
      if (n <= 0)
        err = n < 0 ? gpg_error_from_syserror () : gpg_error (GPG_ERR_EIO);
      else
        {
          gcry_md_write (hd, chunk, n);
          start += n;
          len -= n;
        }
    }
  if (!err)
    pani_bin2hex (gcry_md_read (hd, GCRY_MD_SHA256), 32, hex);
  gcry_md_close (hd);
  return err;
}

/* Read the last complete line [START, END) and take its seq and hash.  */
static gpg_error_t
read_last_record (struct writer *w, off_t start, off_t end, char **r_reason)
{
  gpg_error_t err = 0;
  struct pani_audit_parsed p;
  char *line = NULL, *why = NULL;

  memset (&p, 0, sizeof p);
  if (end - start > PAN_AUDIT_MAX_LINE
      || !(line = malloc ((size_t)(end - start) + 1)))
    err = end - start > PAN_AUDIT_MAX_LINE ? gpg_error (GPG_ERR_INV_DATA)
      : gpg_error_from_syserror ();
  else if (pread (w->fd, line, end - start, start) != end - start)
    err = gpg_error (GPG_ERR_EIO);
  else if (!(err = pani_audit_parse (line, end - start, &p, &why)))
    {
      w->last_seq = p.rec.seq;
      sha256_hex (line, end - start, w->prev);
    }
  if (gpg_err_code (err) == GPG_ERR_INV_DATA)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                       "%s: the last record is not valid (%s); nothing can"
                       " be appended until 'panaudit verify' is clean",
                       w->logpath, why ? why : "too long");
  else if (err)
    err = pani_reason (r_reason, err, "%s: %s", w->logpath,
                       gpg_strerror (err));
  pani_audit_parsed_clear (&p);
  free (why);
  free (line);
  return err;
}

/* Find the last record and any torn line after it.  */
static gpg_error_t
read_tail (struct writer *w, char **r_reason)
{
  gpg_error_t err;
  off_t lf, lf0;

  w->last_seq = 0;
  strcpy (w->prev, ZERO_HASH);
  if (!w->size)
    return 0;
  if ((err = find_last_lf (w->fd, w->size, &lf)))
    return pani_reason (r_reason, err, "%s: %s", w->logpath,
                        gpg_strerror (err));
  if (lf != w->size - 1)
    {
      w->need_nl = 1;
      w->torn_len = w->size - (lf + 1);
      if ((err = hash_range (w->fd, lf + 1, w->torn_len, w->torn_hash)))
        return pani_reason (r_reason, err, "%s: %s", w->logpath,
                            gpg_strerror (err));
    }
  if (lf < 0)
    return 0;
  if ((err = find_last_lf (w->fd, lf, &lf0)))
    return pani_reason (r_reason, err, "%s: %s", w->logpath,
                        gpg_strerror (err));
  return read_last_record (w, lf0 + 1, lf, r_reason);
}

/* Bring audit.key in line with the log, or refuse.  */
static gpg_error_t
reconcile_state (struct writer *w, char **r_reason)
{
  unsigned long long s = w->st.seq;

  if (s == w->last_seq)
    {
      w->st.seq++;
      return key_evolve (w->st.key);
    }
  if (s == w->last_seq + 1)
    return 0;
  if (s > w->last_seq)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                        "%s expects record %llu but %s ends at record %llu:"
                        " the log was truncated or replaced; run 'panaudit"
                        " verify'", w->keypath, s, w->logpath, w->last_seq);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                      "%s is %llu records behind %s: records were added"
                      " without the audit key; run 'panaudit verify'",
                      w->keypath, w->last_seq - s, w->logpath);
}

/* Open the log; create it only for the first record, so that a log
 * removed later is noticed.  */
static gpg_error_t
open_log_for_append (struct writer *w, char **r_reason)
{
  struct stat st;

  w->fd = open (w->logpath, O_RDWR | O_APPEND | O_CLOEXEC
                | (w->st.seq == 1 ? O_CREAT : 0), 0600);
  if (w->fd < 0)
    return pani_reason_sys (r_reason, w->logpath);
  if (fstat (w->fd, &st))
    return pani_reason_sys (r_reason, w->logpath);
  w->size = st.st_size;
  return 0;
}

static gpg_error_t
read_state (struct writer *w, char **r_reason)
{
  gpg_error_t err;
  int missing = 0;

  if ((err = state_read (w->keypath, &w->st, &missing, r_reason)))
    return err;
  if (missing)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                        "%s is missing: records cannot be authenticated;"
                        " create it with 'panaudit init-key' (new home) or"
                        " restore it from a backup", w->keypath);
  return 0;
}

static void
writer_release (struct writer *w)
{
  if (w->fd >= 0)
    close (w->fd);
  pani_unlock (w->lockfd);
  state_clear (&w->st);
  free (w->logpath);
  free (w->keypath);
  free (w->lockpath);
}

static gpg_error_t
writer_open (struct writer *w, pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err;

  memset (w, 0, sizeof *w);
  w->fd = w->lockfd = -1;
  if (gethostname (w->host, sizeof w->host - 1) || !*w->host)
    strcpy (w->host, "unknown");
  w->logpath = pan_ctx_path (ctx, AUDIT_LOG_FILE);
  w->keypath = pan_ctx_path (ctx, AUDIT_KEY_FILE);
  w->lockpath = pan_ctx_path (ctx, AUDIT_LOCK_FILE);
  if (!w->logpath || !w->keypath || !w->lockpath)
    return gpg_error_from_syserror ();
  if ((err = pani_lock (w->lockpath, lock_timeout (ctx), &w->lockfd,
                        r_reason))
      || (err = read_state (w, r_reason))
      || (err = open_log_for_append (w, r_reason))
      || (err = read_tail (w, r_reason)))
    return err;
  return reconcile_state (w, r_reason);
}

/* Undo a partial append.  */
static void
cut_back (struct writer *w)
{
  if (!ftruncate (w->fd, w->size))
    fsync (w->fd);
}

/* Append DATA/LEN with one write (continued only after a short write)
 * and fsync; on failure cut the log back.  */
static gpg_error_t
append_bytes (struct writer *w, const char *data, size_t len,
              char **r_reason)
{
  gpg_error_t err;
  size_t done = 0;
  ssize_t n;

  while (done < len)
    {
      n = write (w->fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        goto fail;
      done += n;
    }
  if (fsync (w->fd))
    goto fail;
  w->size += len;
  return 0;

 fail:
  err = n == 0 ? gpg_error (GPG_ERR_ENOSPC) : gpg_error_from_syserror ();
  cut_back (w);
  return pani_reason (r_reason, err, "%s: appending the record: %s",
                      w->logpath, gpg_strerror (err));
}

/* Make the line (with LF) of REC, whose MAC is computed here.  */
static gpg_error_t
make_line (struct writer *w, struct pan_audit_record *rec,
           struct pani_buf *b, char **r_reason)
{
  gpg_error_t err;
  char mac[AUDIT_HEXLEN];
  size_t start;

  if (w->need_nl)
    buf_puts (b, "\n");
  start = b->len;
  pani_audit_format_prefix (b, rec);
  if (b->failed)
    return gpg_error_from_syserror ();
  if ((err = mac_hex (w->st.key, b->data + start, b->len - start, mac)))
    return err;
  buf_printf (b, AUDIT_MAC_PREFIX "%s\"}", mac);
  if (b->failed)
    return gpg_error_from_syserror ();
  if (b->len - start > PAN_AUDIT_MAX_LINE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "the audit record would be longer than %d bytes",
                        PAN_AUDIT_MAX_LINE);
  buf_puts (b, "\n");
  return b->failed ? gpg_error_from_syserror () : 0;
}

/* Append REC as the next record, then evolve and store the key.  */
static gpg_error_t
write_record (struct writer *w, struct pan_audit_record *rec,
              char **r_reason)
{
  gpg_error_t err;
  struct pani_buf b = { NULL, 0, 0, 0 };
  off_t before = w->size;
  size_t skip;

  rec->seq = w->st.seq;
  rec->host = w->host;
  rec->prev = w->prev;
  if ((err = make_line (w, rec, &b, r_reason))
      || (err = append_bytes (w, b.data, b.len, r_reason)))
    goto leave;
  skip = w->need_nl;
  w->need_nl = 0;
  sha256_hex (b.data + skip, b.len - skip - 1, w->st.prev);
  w->st.seq++;
  if ((err = key_evolve (w->st.key))
      || (err = state_write (w->keypath, &w->st, r_reason)))
    {
      w->size = before;
      cut_back (w);
      goto leave;
    }
  strcpy (w->prev, w->st.prev);
  w->last_seq = rec->seq;

 leave:
  buf_free (&b);
  return err;
}

static const char *
login_user (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static gpg_error_t
write_recovery (struct writer *w, time_t now, const char *tool,
                char **r_reason)
{
  struct pan_audit_record rec;

  memset (&rec, 0, sizeof rec);
  rec.time = now;
  rec.ev.event = "recovery";
  rec.ev.tool = tool;
  rec.ev.operator_name = login_user ();
  rec.ev.reason = "the log ended in a torn line (an interrupted writer);"
    " the line is kept and named here";
  rec.torn_length = w->torn_len;
  rec.torn_sha256 = w->torn_hash;
  return write_record (w, &rec, r_reason);
}


/*
 * Checking events before anything is written.
 */

/* True if S is a short lower-case word (a-z, 0-9, '-').  */
static int
is_word (const char *s)
{
  size_t n;

  if (!s || !*s)
    return 0;
  for (n = 0; s[n]; n++)
    if (n >= 32 || !((s[n] >= 'a' && s[n] <= 'z')
                     || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
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
      if (s[n] >= '0' && s[n] <= '9')
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
      return bad_event (r_reason, "a recipient needs an address, a protocol"
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
        || !ev->pans[i].hash || !is_lower_hex (ev->pans[i].hash, 64))
      return bad_event (r_reason, "a PAN must be masked (at most 10 digits"
                        " shown) and hashed (64 hex digits)");
  return 0;
}

static gpg_error_t
check_strings (const struct pan_audit_event *ev, char **r_reason)
{
  const char *const s[] = { ev->operator_name, ev->message_id,
    ev->envelope_from, ev->header_from, ev->reason };
  size_t i;

  for (i = 0; i < sizeof s / sizeof *s; i++)
    if (s[i] && strlen (s[i]) > MAX_FIELD)
      return bad_event (r_reason, "a field is longer than 4096 bytes");
  return 0;
}

static gpg_error_t
check_event (const struct pan_audit_event *ev, char **r_reason)
{
  gpg_error_t err;

  if (!ev || !is_word (ev->event) || !is_word (ev->tool)
      || !strcmp (ev->event, "recovery"))
    return bad_event (r_reason, "event and tool must be short lower-case"
                      " words (and \"recovery\" is reserved)");
  if (ev->outcome && (!is_word (ev->outcome) || ev->exit_code < 0
                      || ev->exit_code > 255))
    return bad_event (r_reason, "bad outcome or exit code");
  if (ev->ciphertext_sha256 && (!is_lower_hex (ev->ciphertext_sha256, 64)
                                || ev->size < 0))
    return bad_event (r_reason, "bad ciphertext digest or size");
  if ((err = check_keys (ev, r_reason)) || (err = check_pans (ev, r_reason)))
    return err;
  return check_strings (ev, r_reason);
}


/*
 * The syslog mirror.
 */

static int
facility_code (const char *name)
{
  static const struct { const char *name; int code; } map[] = {
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
    { "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
    { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
    { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    { "user", LOG_USER }, { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
    { "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV }
  };
  size_t i;

  for (i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp (name, map[i].name))
      return map[i].code;
  return -1;
}

/* Store at *R_FACILITY the syslog facility to mirror to, or -1.  */
static gpg_error_t
syslog_config (pan_ctx_t ctx, int *r_facility, char **r_reason)
{
  pan_config_t config = pan_ctx_config (ctx);
  const char *on = pan_config_get (config, "audit-syslog");
  const char *fac = pan_config_get (config, "audit-syslog-facility");

  *r_facility = -1;
  if (!on || !strcmp (on, "off") || !strcmp (on, "no"))
    return 0;
  if (strcmp (on, "on") && strcmp (on, "yes"))
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                        "audit-syslog must be on or off");
  if ((*r_facility = facility_code (fac ? fac : "local0")) < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                        "audit-syslog-facility must be local0..local7,"
                        " user, mail, daemon, auth or authpriv");
  return 0;
}

/* Copy S to OUT (SIZE bytes) as printable ASCII.  */
static const char *
syslog_safe (const char *s, char *out, size_t size)
{
  size_t i;

  if (!s)
    return "-";
  for (i = 0; s[i] && i + 1 < size; i++)
    out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
  out[i] = 0;
  return out;
}

static void
syslog_mirror (int facility, const struct pan_audit_record *rec,
               const char *hash)
{
  char id[128], outcome[40];

  if (facility < 0)
    return;
  openlog ("panmail-audit", LOG_PID, facility);
  syslog (LOG_INFO | facility, "seq=%llu event=%s tool=%s outcome=%s"
          " exit=%d recipients=%zu pans=%zu message_id=%s sha256=%.16s",
          rec->seq, rec->ev.event, rec->ev.tool,
          syslog_safe (rec->ev.outcome, outcome, sizeof outcome),
          rec->ev.outcome ? rec->ev.exit_code : -1, rec->ev.nkeys,
          rec->ev.npans, syslog_safe (rec->ev.message_id, id, sizeof id),
          hash);
  closelog ();
}

gpg_error_t
pan_audit_append (pan_ctx_t ctx, const struct pan_audit_event *ev,
                  time_t now, char **r_reason)
{
  gpg_error_t err;
  struct writer w;
  struct pan_audit_record rec;
  int facility = -1;

  memset (&w, 0, sizeof w);
  w.fd = w.lockfd = -1;
  if ((err = check_event (ev, r_reason))
      || (err = syslog_config (ctx, &facility, r_reason))
      || (err = writer_open (&w, ctx, r_reason)))
    goto leave;
  if (w.need_nl && (err = write_recovery (&w, now, ev->tool, r_reason)))
    goto leave;
  memset (&rec, 0, sizeof rec);
  rec.time = now;
  rec.ev = *ev;
  if (!rec.ev.operator_name)
    rec.ev.operator_name = login_user ();
  rec.torn_length = -1;
  if ((err = write_record (&w, &rec, r_reason)))
    goto leave;
  syslog_mirror (facility, &rec, w.prev);

 leave:
  writer_release (&w);
  return err;
}


/*
 * Reading records: pan_audit_open, pan_audit_next.
 */

struct pan_audit_reader
{
  struct snapshot snap;
  size_t pos;
  unsigned long long lineno, skipped;
  struct pan_audit_filter filter;
  char *recipient, *event, *message_id;
  struct pani_audit_parsed cur;
};

/* Strip one pair of angle brackets: compare Message-IDs either way.  */
static int
same_message_id (const char *a, const char *b)
{
  size_t la, lb;

  a += *a == '<';
  b += *b == '<';
  la = strlen (a) - (*a && a[strlen (a) - 1] == '>');
  lb = strlen (b) - (*b && b[strlen (b) - 1] == '>');
  return la == lb && !memcmp (a, b, la);
}

static int
has_recipient (const struct pan_audit_record *rec, const char *addr)
{
  size_t i;

  for (i = 0; i < rec->ev.nkeys; i++)
    if (!pani_ascii_casecmp (rec->ev.keys[i].address, addr))
      return 1;
  return 0;
}

static int
filter_match (const struct pan_audit_reader *rd,
              const struct pan_audit_record *rec)
{
  const struct pan_audit_filter *f = &rd->filter;

  if ((f->since && rec->time < f->since) || (f->until && rec->time > f->until))
    return 0;
  if (rd->event && strcmp (rd->event, rec->ev.event))
    return 0;
  if (rd->message_id && (!rec->ev.message_id
                         || !same_message_id (rd->message_id,
                                              rec->ev.message_id)))
    return 0;
  return !rd->recipient || has_recipient (rec, rd->recipient);
}

static gpg_error_t
copy_filter (pan_audit_reader_t rd, const struct pan_audit_filter *f)
{
  if (!f)
    return 0;
  rd->filter = *f;
  if ((f->recipient && !(rd->recipient = pani_strdup (f->recipient)))
      || (f->event && !(rd->event = pani_strdup (f->event)))
      || (f->message_id && !(rd->message_id = pani_strdup (f->message_id))))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pan_audit_open (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                pan_audit_reader_t *r_reader, char **r_reason)
{
  gpg_error_t err;
  pan_audit_reader_t rd;

  *r_reader = NULL;
  if (!(rd = calloc (1, sizeof *rd)))
    return gpg_error_from_syserror ();
  if ((err = copy_filter (rd, filter))
      || (err = take_snapshot (ctx, &rd->snap, r_reason)))
    {
      pan_audit_close (rd);
      return err;
    }
  *r_reader = rd;
  return 0;
}

gpg_error_t
pan_audit_next (pan_audit_reader_t rd, const struct pan_audit_record **r_rec)
{
  struct vline l;

  *r_rec = NULL;
  while (next_line (rd->snap.data, rd->snap.len, &rd->pos, &rd->lineno, &l))
    {
      if (!l.has_nl || pani_audit_parse (l.p, l.len, &rd->cur, NULL))
        {
          rd->skipped++;
          continue;
        }
      if (filter_match (rd, &rd->cur.rec))
        {
          *r_rec = &rd->cur.rec;
          return 0;
        }
    }
  return gpg_error (GPG_ERR_EOF);
}

unsigned long long
pan_audit_skipped (pan_audit_reader_t reader)
{
  return reader ? reader->skipped : 0;
}

void
pan_audit_close (pan_audit_reader_t rd)
{
  if (!rd)
    return;
  snapshot_release (&rd->snap);
  pani_audit_parsed_clear (&rd->cur);
  free (rd->recipient);
  free (rd->event);
  free (rd->message_id);
  free (rd);
}


/*
 * Times for --since and --until.
 */

/* Parse "+hh:mm" or "-hh:mm" at S into seconds east of UTC.  */
static int
parse_offset (const char *s, long *r_off)
{
  int hh, mm, n = 0;

  if ((*s != '+' && *s != '-')
      || sscanf (s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5
      || s[6] || hh > 23 || mm > 59)
    return 0;
  *r_off = (hh * 3600L + mm * 60L) * (*s == '-' ? -1 : 1);
  return 1;
}

gpg_error_t
pan_audit_parse_time (const char *s, int end_of_day, time_t *r_time)
{
  char buf[32];
  long off = 0;
  size_t n = strlen (s);

  if (n == 10)
    {
      snprintf (buf, sizeof buf, "%sT%s", s, end_of_day ? "23:59:59Z"
                : "00:00:00Z");
      return pan_time_parse (buf, r_time);
    }
  if (n < 20 || n > 25 || (s[19] != 'Z' && !parse_offset (s + 19, &off))
      || (s[19] == 'Z' && s[20]))
    return gpg_error (GPG_ERR_INV_TIME);
  memcpy (buf, s, 19);
  strcpy (buf + 19, "Z");
  if (pan_time_parse (buf, r_time))
    return gpg_error (GPG_ERR_INV_TIME);
  *r_time -= off;
  return 0;
}


/*
 * The report for an assessor.
 */

/* A count per distinct NAME.  */
struct tally
{
  char **names;
  unsigned long *counts;
  size_t n;
};

static void
tally_add (struct tally *t, const char *name, int *r_oom)
{
  size_t i;
  char **names;
  unsigned long *counts;

  for (i = 0; i < t->n; i++)
    if (!strcmp (t->names[i], name))
      {
        t->counts[i]++;
        return;
      }
  names = realloc (t->names, (t->n + 1) * sizeof *names);
  if (names)
    t->names = names;
  counts = realloc (t->counts, (t->n + 1) * sizeof *counts);
  if (counts)
    t->counts = counts;
  if (!names || !counts || !(t->names[t->n] = pani_strdup (name)))
    {
      *r_oom = 1;
      return;
    }
  t->counts[t->n++] = 1;
}

static unsigned long
tally_get (const struct tally *t, const char *name)
{
  size_t i;

  for (i = 0; i < t->n; i++)
    if (!strcmp (t->names[i], name))
      return t->counts[i];
  return 0;
}

static void
tally_free (struct tally *t)
{
  size_t i;

  for (i = 0; i < t->n; i++)
    free (t->names[i]);
  free (t->names);
  free (t->counts);
}

struct report
{
  unsigned long long records, first_seq, last_seq;
  time_t first, last;
  unsigned long sends, refused, queued, requeued;
  struct tally reasons, keys, events, sent_digests;
  struct pani_buf changes;
  int oom;
};

static int
is_change (const char *event)
{
  static const char *const changes[] = { "init", "init-key", "enroll",
    "rotate", "revoke", "unenroll", "retire" };
  size_t i;

  for (i = 0; i < sizeof changes / sizeof *changes; i++)
    if (!strcmp (event, changes[i]))
      return 1;
  return 0;
}

static void
report_keys (struct report *r, const struct pan_audit_event *ev)
{
  char *k;
  size_t i;

  for (i = 0; i < ev->nkeys; i++)
    {
      k = pani_strdupf ("%-7s %s  %s",
                        pan_protocol_name (ev->keys[i].protocol),
                        ev->keys[i].fingerprint ? ev->keys[i].fingerprint
                        : "-", ev->keys[i].address);
      if (!k)
        r->oom = 1;
      else
        tally_add (&r->keys, k, &r->oom);
      free (k);
    }
}

static void
report_change (struct report *r, const struct pan_audit_record *rec)
{
  char when[32];
  size_t i;

  buf_printf (&r->changes, "  %s  %-8s by %s",
              pan_time_format (rec->time, when, sizeof when),
              rec->ev.event, rec->ev.operator_name);
  for (i = 0; i < rec->ev.nkeys; i++)
    buf_printf (&r->changes, "  %s %s", rec->ev.keys[i].address,
                rec->ev.keys[i].fingerprint ? rec->ev.keys[i].fingerprint
                : "-");
  if (rec->ev.outcome)
    buf_printf (&r->changes, "  (%s)", rec->ev.outcome);
  buf_puts (&r->changes, "\n");
}

static void
report_add (struct report *r, const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  const char *digest = ev->ciphertext_sha256 ? ev->ciphertext_sha256 : "";

  if (!r->records++)
    r->first_seq = rec->seq, r->first = rec->time;
  r->last_seq = rec->seq;
  r->last = rec->time;
  if (!strcmp (ev->event, "send"))
    {
      r->sends++;
      report_keys (r, ev);
      tally_add (&r->sent_digests, digest, &r->oom);
    }
  else if (!strcmp (ev->event, "queue"))
    {
      r->queued++;
      r->requeued += *digest && tally_get (&r->sent_digests, digest);
    }
  else if (!strcmp (ev->event, "refuse"))
    {
      r->refused++;
      tally_add (&r->reasons, ev->reason ? ev->reason : "(no reason)",
                 &r->oom);
    }
  else if (is_change (ev->event))
    report_change (r, rec);
  else
    tally_add (&r->events, ev->event, &r->oom);
}

/* Print TEXT with control characters but LF replaced.  */
static void
put_safe (gpgrt_stream_t out, const char *text)
{
  for (; *text; text++)
    es_putc (*text != '\n' && ((unsigned char)*text < 0x20 || *text == 0x7f)
             ? '?' : *text, out);
}

static void
print_tally (gpgrt_stream_t out, const struct tally *t, const char *none)
{
  size_t i;

  if (!t->n)
    es_fprintf (out, "  %s\n", none);
  for (i = 0; i < t->n; i++)
    {
      es_fprintf (out, "  %6lu  ", t->counts[i]);
      put_safe (out, t->names[i]);
      es_putc ('\n', out);
    }
}

static void
print_period (gpgrt_stream_t out, const struct pan_audit_filter *f,
              const struct report *r)
{
  char a[32], b[32];

  es_fprintf (out, "period:   %s .. %s\n",
              f && f->since ? pan_time_format (f->since, a, sizeof a)
              : "(start of log)",
              f && f->until ? pan_time_format (f->until, b, sizeof b)
              : "(end of log)");
  if (r->records)
    es_fprintf (out, "records:  %llu (seq %llu..%llu, %s .. %s)\n",
                r->records, r->first_seq, r->last_seq,
                pan_time_format (r->first, a, sizeof a),
                pan_time_format (r->last, b, sizeof b));
  else
    es_fputs ("records:  none in this period\n", out);
}

static void
print_verdict (gpgrt_stream_t out, const struct pan_audit_verdict *v)
{
  es_fputs ("\nVerification of the whole log:\n  ", out);
  if (v->damage)
    {
      es_fputs ("TAMPERED: ", out);
      put_safe (out, v->message ? v->message : "");
    }
  else
    es_fprintf (out, "intact: %llu records, hash chain and audit.key %s;"
                " head sha256 %s", v->nrecords,
                v->key_checked ? "and every MAC (with the initial key)"
                : "checked (MACs not checked: no --key)", v->head);
  es_putc ('\n', out);
  if (v->warnings)
    {
      es_fputs ("  warnings:\n", out);
      put_safe (out, v->warnings);
    }
}

static void
print_report (gpgrt_stream_t out, const struct pan_audit_filter *f,
              const struct report *r, const struct pan_audit_verdict *v)
{
  es_fputs ("panmail audit report\n\n", out);
  print_period (out, f, r);
  es_fprintf (out, "\nMessages:\n  sent (handed to the MTA):  %lu\n"
              "  queued (MTA failed, ciphertext kept): %lu\n"
              "  refused:                   %lu\n",
              r->sends - r->requeued, r->queued, r->refused);
  es_fputs ("\nRefused, by reason:\n", out);
  print_tally (out, &r->reasons, "none");
  es_fputs ("\nRecipients and keys used (messages sent):\n", out);
  print_tally (out, &r->keys, "none");
  es_fputs ("\nEnrollment and key changes:\n", out);
  if (r->changes.len)
    put_safe (out, r->changes.data);
  else
    es_fputs ("  none\n", out);
  es_fputs ("\nOther events:\n", out);
  print_tally (out, &r->events, "none");
  print_verdict (out, v);
}

static gpg_error_t
collect_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                struct report *r, char **r_reason)
{
  gpg_error_t err;
  pan_audit_reader_t rd = NULL;
  const struct pan_audit_record *rec;

  if ((err = pan_audit_open (ctx, filter, &rd, r_reason)))
    return err;
  while (!(err = pan_audit_next (rd, &rec)) && !r->oom)
    report_add (r, rec);
  pan_audit_close (rd);
  if (r->oom || r->changes.failed)
    return gpg_error (GPG_ERR_ENOMEM);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

gpg_error_t
pan_audit_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                  const char *key_file, gpgrt_stream_t out,
                  struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct report r;

  memset (&r, 0, sizeof r);
  memset (r_verdict, 0, sizeof *r_verdict);
  if (!(err = collect_report (ctx, filter, &r, r_reason))
      && !(err = pan_audit_verify (ctx, key_file, NULL, r_verdict,
                                   r_reason)))
    {
      print_report (out, filter, &r, r_verdict);
      if (es_ferror (out))
        err = gpg_error_from_syserror ();
    }
  tally_free (&r.reasons);
  tally_free (&r.keys);
  tally_free (&r.events);
  tally_free (&r.sent_digests);
  buf_free (&r.changes);
  return err;
}
