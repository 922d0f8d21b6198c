/* registry.c - the recipient registry: addresses pinned to keys
 *
 * The registry is a text file a person can read, one stanza per
 * enrollment:
 *
 *   recipient alice@example.test
 *   protocol openpgp
 *   fingerprint 0123456789ABCDEF0123456789ABCDEF01234567
 *   subkeys 89ABCDEF0123456789ABCDEF0123456789ABCDEF
 *   enrolled-at 2026-11-24T23:18:43Z
 *   enrolled-by Jane Operator
 *   status active
 *
 * A record that is no longer active may say when, by whom and why it
 * left that state, and carry a note:
 *
 *   status revoked
 *   changed-at 2027-01-05T10:00:00Z
 *   changed-by Jane Operator
 *   reason compromised
 *   note laptop stolen
 *
 * "subkeys" pins the encryption keys of an OpenPGP record: the
 * fingerprints, separated by one space, of every encryption-capable
 * key (the primary included if it can encrypt) that pankey accepted at
 * enroll, rotate or refresh; pansend encrypts to nothing else.  A
 * record written before subkeys were pinned has none: it is read, and
 * pansend refuses it until "pankey refresh" pins them.  An S/MIME
 * certificate is its own key: its record has no "subkeys".
 *
 * "subkey-expiry" (since the registry-hash release) gives, for each
 * fingerprint of "subkeys" in its order, the time after which that key
 * can no longer encrypt (its own expiry or the primary key's, whichever
 * comes first) as gpg reported it when it was pinned, or "never":
 *
 *   subkeys 89ABCDEF0123456789ABCDEF0123456789ABCDEF 0123...
 *   subkey-expiry 2028-11-24T23:18:43Z never
 *
 * A record that has it lists its subkeys newest first; pansend takes
 * the first whose time has not come, by exact fingerprint, without
 * listing the keyring (gpg itself refuses a key revoked or expired
 * since).  A record without it is read as before.
 *
 * Each line is "KEY SP VALUE"; '#' in column 0 starts a comment line;
 * blank lines separate stanzas.  The parser is strict: anything that
 * pani_registry_write would not have written is refused, with the line
 * that is wrong.
 *
 * This file holds the format: parsing, look-ups and writing;
 * registry-edit.c changes the file under its lock.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "addrlist-int.h"
#include "registry-int.h"
#include "registry-verdict-int.h"
#include "enroll-list-int.h"
#include "timeutil-int.h"

/* The longest line, without its LF, that the parser accepts.  */
#define MAX_LINE 4096


#define FILE_HEADER                                            \
  "# panmail recipient registry: one stanza per enrollment.\n" \
  "# Managed by pankey(8); do not edit while pankey or pansend run.\n"

/* The keys of a stanza, in the order they are written.  */
enum field
{
  F_RECIPIENT,
  F_PROTOCOL,
  F_FINGERPRINT,
  F_SUBKEYS,       /* Optional (see above).  */
  F_SUBKEY_EXPIRY, /* Optional (see above).  */
  F_KEY_STATE,     /* Optional (registry-verdict.c).  */
  F_KEY_POLICY,    /* Optional (registry-verdict.c).  */
  F_ENROLLED_AT,
  F_ENROLLED_BY,
  F_STATUS,
  F_CHANGED_AT, /* The optional keys of a record that is  */
  F_CHANGED_BY, /* not active.  */
  F_REASON,
  F_NOTE,
  N_FIELDS
};

/* The keys every stanza has: those before F_CHANGED_AT but the
 * optional ones from F_SUBKEYS to F_KEY_POLICY.  */
#define IS_REQUIRED(f) \
  ((f) < F_CHANGED_AT && ((f) < F_SUBKEYS || (f) > F_KEY_POLICY))

static const char *const field_names[N_FIELDS] = {
  "recipient",  "protocol",   "fingerprint", "subkeys",     "subkey-expiry",
  "key-state",  "key-policy", "enrolled-at", "enrolled-by", "status",
  "changed-at", "changed-by", "reason",      "note"
};

/* The most fingerprints a "subkeys" line holds.  */
#define MAX_SUBKEYS 32

/* The reasons a record may give, by status.  */
static const char retired_reasons[] = "rotated unenrolled";
static const char revoked_reasons[] = "compromised superseded left other";

/* Where a value comes from, for reasons: "FILE:LINE" or, with LINE 0,
 * "FILE".  */
struct loc
{
  const char *file;
  unsigned int line;
};

/* The state of the parser.  */
struct parser
{
  struct loc loc;           /* The current line.  */
  pan_registry_t reg;       /* The complete stanzas.  */
  struct pan_recipient cur; /* The stanza being read.  */
  unsigned int cur_line;    /* Its "recipient" line; 0 if none.  */
  unsigned int seen;        /* Its keys seen so far, one bit each.  */
  char **r_reason;
};

static gpg_error_t loc_reason (const struct loc *loc, char **r_reason,
                               gpg_error_t err, const char *fmt, ...)
  PAN_PRINTF (4, 5);


/* Store "LOC: MESSAGE" as the reason and return ERR.  */
static gpg_error_t
loc_reason (const struct loc *loc, char **r_reason, gpg_error_t err,
            const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (!msg)
    return err;
  if (loc->line)
    pani_reason (r_reason, err, "%s:%u: %s", loc->file, loc->line, msg);
  else
    pani_reason (r_reason, err, "%s: %s", loc->file, msg);
  free (msg);
  return err;
}


/*
 * Names.
 */

const char *
pan_protocol_name (pan_protocol_t protocol)
{
  switch (protocol)
    {
    case PAN_PROTOCOL_OPENPGP: return "openpgp";
    case PAN_PROTOCOL_SMIME: return "smime";
    default: return "none";
    }
}

gpg_error_t
pan_protocol_parse (const char *name, pan_protocol_t *r_protocol)
{
  *r_protocol = PAN_PROTOCOL_NONE;
  if (!name)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!strcmp (name, "openpgp"))
    *r_protocol = PAN_PROTOCOL_OPENPGP;
  else if (!strcmp (name, "smime"))
    *r_protocol = PAN_PROTOCOL_SMIME;
  else
    return gpg_error (GPG_ERR_UNSUPPORTED_PROTOCOL);
  return 0;
}

const char *
pan_status_name (pan_status_t status)
{
  switch (status)
    {
    case PAN_STATUS_ACTIVE: return "active";
    case PAN_STATUS_RETIRED: return "retired";
    case PAN_STATUS_REVOKED: return "revoked";
    default: return "unknown";
    }
}

/* Parse the status NAME; 0 if it is not one.  */
static pan_status_t
status_parse (const char *name)
{
  if (!strcmp (name, "active"))
    return PAN_STATUS_ACTIVE;
  if (!strcmp (name, "retired"))
    return PAN_STATUS_RETIRED;
  if (!strcmp (name, "revoked"))
    return PAN_STATUS_REVOKED;
  return 0;
}

/* Return the key named by the LEN bytes at NAME, or N_FIELDS.  */
static enum field
field_lookup (const char *name, size_t len)
{
  int f;

  for (f = 0; f < N_FIELDS; f++)
    if (strlen (field_names[f]) == len
        && !memcmp (field_names[f], name, len))
      break;
  return f;
}


/*
 * Records and the registry object.
 */

void
pani_registry_clear_rec (struct pan_recipient *rec)
{
  free (rec->address);
  free (rec->fingerprint);
  free (rec->subkeys);
  free (rec->subkey_expiry);
  free (rec->key_state);
  free (rec->key_policy);
  free (rec->enrolled_by);
  free (rec->changed_by);
  free (rec->reason);
  free (rec->note);
  memset (rec, 0, sizeof *rec);
}

gpg_error_t
pani_registry_new (pan_registry_t *r_reg)
{
  *r_reg = calloc (1, sizeof **r_reg);
  return *r_reg ? 0 : gpg_error (GPG_ERR_ENOMEM);
}

void
pan_registry_release (pan_registry_t reg)
{
  size_t i;

  if (!reg)
    return;
  for (i = 0; i < reg->count; i++)
    pani_registry_clear_rec (&reg->recs[i]);
  free (reg->recs);
  free (reg->lines);
  free (reg);
}

static gpg_error_t
registry_grow (pan_registry_t reg)
{
  size_t size = reg->size ? 2 * reg->size : 16;
  struct pan_recipient *recs;
  unsigned int *lines;

  recs = realloc (reg->recs, size * sizeof *recs);
  if (!recs)
    return gpg_error_from_syserror ();
  reg->recs = recs;
  lines = realloc (reg->lines, size * sizeof *lines);
  if (!lines)
    return gpg_error_from_syserror ();
  reg->lines = lines;
  reg->size = size;
  return 0;
}

gpg_error_t
pani_registry_append (pan_registry_t reg, struct pan_recipient *rec,
                      unsigned int line)
{
  gpg_error_t err;

  if (reg->count == reg->size && (err = registry_grow (reg)))
    return err;
  reg->recs[reg->count] = *rec;
  reg->lines[reg->count] = line;
  reg->count++;
  memset (rec, 0, sizeof *rec);
  return 0;
}

long
pani_registry_find_active (pan_registry_t reg, const char *addr)
{
  size_t i, n = 0;
  long found = -1;

  for (i = 0; i < reg->count; i++)
    if (reg->recs[i].status == PAN_STATUS_ACTIVE
        && pani_addr_same (reg->recs[i].address, addr, reg->exact_local))
      {
        if (!strcmp (reg->recs[i].address, addr))
          return (long)i;
        found = (long)i;
        n++;
      }
  /* Two enrollments that differ only by case (made under address-case
   * exact): a third spelling is neither.  */
  return n == 1 ? found : -1;
}

void
pani_registry_match (pan_registry_t reg, pan_config_t config)
{
  if (reg)
    reg->exact_local = pani_addr_case_exact (config);
}

size_t
pan_registry_count (pan_registry_t reg)
{
  return reg ? reg->count : 0;
}

const struct pan_recipient *
pan_registry_get (pan_registry_t reg, size_t idx)
{
  return reg && idx < reg->count ? &reg->recs[idx] : NULL;
}

const struct pan_recipient *
pani_registry_lookup (pan_registry_t reg, const char *addr)
{
  char *norm = NULL, *reason = NULL;
  long idx = -1;

  if (!reg || !addr)
    return NULL;
  if (!pan_addr_normalize (addr, &norm, &reason))
    idx = pani_registry_find_active (reg, norm);
  pan_free (norm);
  pan_free (reason);
  return idx < 0 ? NULL : &reg->recs[idx];
}

/* Return the index of the newest record of the normalised address ADDR
 * in REG: the active one, else the last; -1 if there is none.  */
static long
find_newest (pan_registry_t reg, const char *addr)
{
  long idx = pani_registry_find_active (reg, addr);
  size_t i;

  for (i = reg->count; idx < 0 && i > 0; i--)
    if (pani_addr_same (reg->recs[i - 1].address, addr, reg->exact_local))
      idx = (long)(i - 1);
  return idx;
}

const struct pan_recipient *
pani_registry_lookup_any (pan_registry_t reg, const char *addr)
{
  char *norm = NULL, *reason = NULL;
  long idx = -1;

  if (!reg || !addr)
    return NULL;
  if (!pan_addr_normalize (addr, &norm, &reason))
    idx = find_newest (reg, norm);
  pan_free (norm);
  pan_free (reason);
  return idx < 0 ? NULL : &reg->recs[idx];
}

int
pan_registry_reason_valid (pan_status_t status, const char *reason)
{
  const char *list, *p;
  size_t n;

  if (!reason || !*reason || strchr (reason, ' '))
    return 0;
  if (status == PAN_STATUS_RETIRED)
    list = retired_reasons;
  else if (status == PAN_STATUS_REVOKED)
    list = revoked_reasons;
  else
    return 0;
  n = strlen (reason);
  for (p = list; (p = strstr (p, reason)); p += n)
    if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ' '))
      return 1;
  return 0;
}


/*
 * Checking values.
 */

/* Return NULL if the LEN bytes at S are UTF-8 text without control
 * characters, else what is wrong with them.  */
static const char *
text_problem (const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, n;

  while (i < len)
    {
      /* Printable ASCII, nearly all of a registry: nothing to check.  */
      if (p[i] >= 0x20 && p[i] < 0x7f)
        {
          i++;
          continue;
        }
      if (!p[i])
        return "a NUL byte";
      if (p[i] == '\r')
        return "a carriage return (convert the file to LF line endings)";
      if (pani_is_ctrl (p[i]))
        return "a control character";
      if (!(n = pani_utf8_len (p + i, p + len)))
        return "bytes that are not UTF-8";
      i += n;
    }
  return NULL;
}

/* Check the form that every value of key F must have.  */
static gpg_error_t
check_value_text (const struct loc *loc, enum field f, const char *value,
                  char **r_reason)
{
  gpg_error_t err = gpg_error (GPG_ERR_INV_DATA);
  size_t len = strlen (value);
  const char *problem;

  if (!len)
    return loc_reason (loc, r_reason, err, "'%s' needs a value",
                       field_names[f]);
  if (value[0] == ' ' || value[len - 1] == ' ')
    return loc_reason (loc, r_reason, err,
                       "the value of '%s' starts or ends with white space;"
                       " write \"KEY VALUE\" with exactly one space",
                       field_names[f]);
  if (strlen (field_names[f]) + 1 + len > MAX_LINE)
    return loc_reason (loc, r_reason, err, "the value of '%s' is too long",
                       field_names[f]);
  if ((problem = text_problem (value, len)))
    return loc_reason (loc, r_reason, err, "the value of '%s' contains %s",
                       field_names[f], problem);
  return 0;
}

static gpg_error_t
check_address (const struct loc *loc, const char *value, char **r_reason)
{
  gpg_error_t err;
  char *norm = NULL, *why = NULL;

  err = pan_addr_normalize (value, &norm, &why);
  if (err)
    err = loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "bad recipient address: %s",
                      why ? why : gpg_strerror (err));
  else if (strcmp (norm, value))
    err = loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "recipient address '%s' is not in normal form;"
                      " write '%s'",
                      value, norm);
  pan_free (norm);
  pan_free (why);
  return err;
}

static gpg_error_t
check_fingerprint (const struct loc *loc, const char *value, char **r_reason)
{
  size_t len = strlen (value);

  if ((len == 40 || len == 64) && strspn (value, "0123456789ABCDEF") == len)
    return 0;
  return loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                     "the fingerprint must be 40 or 64 upper-case hex"
                     " digits");
}

/* Return the number of fingerprints in the list VALUE (see "subkeys"
 * above), or 0 if it is not one: 40 or 64 upper-case hex digits each,
 * one space between, none twice, at most MAX_SUBKEYS.  */
static size_t
fingerprint_list_count (const char *value)
{
  const char *p = value, *q;
  size_t n = 0, len;

  for (;;)
    {
      len = strspn (p, "0123456789ABCDEF");
      if ((len != 40 && len != 64) || (p[len] && p[len] != ' ')
          || ++n > MAX_SUBKEYS)
        return 0;
      for (q = value; q < p; q += strcspn (q, " ") + 1)
        if ((size_t)strcspn (q, " ") == len && !memcmp (q, p, len))
          return 0;
      if (!p[len])
        return n;
      p += len + 1;
    }
}

static gpg_error_t
check_subkeys (const struct loc *loc, const char *value, char **r_reason)
{
  if (fingerprint_list_count (value))
    return 0;
  return loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                     "'subkeys' must be up to %d different fingerprints"
                     " of 40 or 64 upper-case hex digits, one space"
                     " between",
                     MAX_SUBKEYS);
}

/* Return the number of words of VALUE, a "subkey-expiry" list: "never"
 * or a UTC time each, one space between; 0 if it is not one.  */
static size_t
expiry_list_count (const char *value)
{
  char word[32];
  size_t n = 0, len;
  time_t t;

  for (const char *p = value;; p += len + 1)
    {
      len = strcspn (p, " ");
      if (!len || len >= sizeof word || ++n > MAX_SUBKEYS)
        return 0;
      memcpy (word, p, len);
      word[len] = 0;
      if (strcmp (word, "never") && (pani_time_parse (word, &t) || t <= 0))
        return 0;
      if (!p[len])
        return n;
    }
}

static gpg_error_t
check_subkey_expiry (const struct loc *loc, const char *value,
                     char **r_reason)
{
  if (expiry_list_count (value))
    return 0;
  return loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                     "'subkey-expiry' must be \"never\" or a UTC time"
                     " like 2026-11-24T23:18:43Z per subkey, one space"
                     " between");
}

static gpg_error_t
store_string (char **r_dst, const char *value)
{
  *r_dst = pani_strdup (value);
  return *r_dst ? 0 : gpg_error_from_syserror ();
}

/* Store VALUE, a record's "key-state" or (F) "key-policy", in REC.  */
static gpg_error_t
parse_verdict (const struct loc *loc, enum field f, const char *value,
               struct pan_recipient *rec, char **r_reason)
{
  struct pani_key_verdict v;

  if (f == F_KEY_POLICY)
    return store_string (&rec->key_policy, value);
  if (!pani_registry_verdict_parse (value, &v))
    return store_string (&rec->key_state, value);
  return loc_reason (loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                     "'key-state' is not as pankey writes it; run 'pankey"
                     " refresh' for the key");
}

/* Check VALUE as the value of key F and store it in REC.  */
static gpg_error_t
parse_field (const struct loc *loc, enum field f, const char *value,
             struct pan_recipient *rec, char **r_reason)
{
  gpg_error_t err = gpg_error (GPG_ERR_INV_DATA);

  if (check_value_text (loc, f, value, r_reason))
    return err;
  switch (f)
    {
    case F_RECIPIENT:
      if (check_address (loc, value, r_reason))
        return err;
      return store_string (&rec->address, value);
    case F_PROTOCOL:
      if (!pan_protocol_parse (value, &rec->protocol))
        return 0;
      return loc_reason (loc, r_reason, err,
                         "unknown protocol '%s';"
                         " use openpgp or smime",
                         value);
    case F_FINGERPRINT:
      if (check_fingerprint (loc, value, r_reason))
        return err;
      return store_string (&rec->fingerprint, value);
    case F_SUBKEYS:
      if (check_subkeys (loc, value, r_reason))
        return err;
      return store_string (&rec->subkeys, value);
    case F_SUBKEY_EXPIRY:
      if (check_subkey_expiry (loc, value, r_reason))
        return err;
      return store_string (&rec->subkey_expiry, value);
    case F_KEY_STATE:
    case F_KEY_POLICY: return parse_verdict (loc, f, value, rec, r_reason);
    case F_ENROLLED_AT:
      if (!pani_time_parse (value, &rec->enrolled_at))
        return 0;
      return loc_reason (loc, r_reason, err,
                         "enrolled-at must be a UTC time"
                         " like 2026-11-24T23:18:43Z");
    case F_ENROLLED_BY: return store_string (&rec->enrolled_by, value);
    case F_STATUS:
      if ((rec->status = status_parse (value)))
        return 0;
      return loc_reason (loc, r_reason, err,
                         "unknown status '%s';"
                         " use active, retired or revoked",
                         value);
    case F_CHANGED_AT:
      if (!pani_time_parse (value, &rec->changed_at) && rec->changed_at > 0)
        return 0;
      return loc_reason (loc, r_reason, err,
                         "changed-at must be a UTC time"
                         " after 1970 like 2026-11-24T23:18:43Z");
    case F_CHANGED_BY: return store_string (&rec->changed_by, value);
    case F_REASON: return store_string (&rec->reason, value);
    case F_NOTE: return store_string (&rec->note, value);
    default: return gpg_error (GPG_ERR_BUG);
    }
}

/* Return the text of key F of REC, as written to the file; NULL if REC
 * has none.  BUF (at least 32 bytes) holds the text of a time.  */
static const char *
field_text (const struct pan_recipient *rec, enum field f, char *buf,
            size_t bufsize)
{
  switch (f)
    {
    case F_RECIPIENT: return rec->address;
    case F_PROTOCOL: return pan_protocol_name (rec->protocol);
    case F_FINGERPRINT: return rec->fingerprint;
    case F_SUBKEYS: return rec->subkeys;
    case F_SUBKEY_EXPIRY: return rec->subkey_expiry;
    case F_KEY_STATE: return rec->key_state;
    case F_KEY_POLICY: return rec->key_policy;
    case F_ENROLLED_AT:
      return pan_time_format (rec->enrolled_at, buf, bufsize);
    case F_ENROLLED_BY: return rec->enrolled_by;
    case F_STATUS: return pan_status_name (rec->status);
    case F_CHANGED_AT:
      return rec->changed_at
        ? pan_time_format (rec->changed_at, buf, bufsize)
        : NULL;
    case F_CHANGED_BY: return rec->changed_by;
    case F_REASON: return rec->reason;
    case F_NOTE: return rec->note;
    default: return NULL;
    }
}

/* Check the rules that tie the keys of the complete record REC
 * together: subkeys only for OpenPGP, the keys of a change only when
 * it is not active, and a reason that fits its status.  */
static gpg_error_t
check_record_rules (const struct loc *loc, const struct pan_recipient *rec,
                    char **r_reason)
{
  gpg_error_t err = gpg_error (GPG_ERR_INV_DATA);
  char tbuf[32];
  int f;

  if (rec->subkeys && rec->protocol != PAN_PROTOCOL_OPENPGP)
    return loc_reason (loc, r_reason, err,
                       "'subkeys' is only for OpenPGP: an S/MIME"
                       " certificate is its own key");
  if (rec->subkey_expiry
      && (!rec->subkeys
          || expiry_list_count (rec->subkey_expiry)
            != fingerprint_list_count (rec->subkeys)))
    return loc_reason (loc, r_reason, err,
                       "'subkey-expiry' needs one word per fingerprint"
                       " of 'subkeys'");
  if ((rec->key_state && rec->protocol != PAN_PROTOCOL_OPENPGP)
      || (rec->key_policy && !rec->key_state))
    return loc_reason (loc, r_reason, err,
                       "'key-state' is only for OpenPGP, 'key-policy'"
                       " only with it");
  if (rec->status == PAN_STATUS_ACTIVE)
    {
      for (f = F_CHANGED_AT; f < N_FIELDS; f++)
        if (field_text (rec, f, tbuf, sizeof tbuf))
          return loc_reason (loc, r_reason, err,
                             "'%s' is allowed only in"
                             " a retired or revoked record",
                             field_names[f]);
      return 0;
    }
  if (rec->reason && !pan_registry_reason_valid (rec->status, rec->reason))
    return loc_reason (loc, r_reason, err,
                       "reason '%s' does not fit status"
                       " %s; use one of: %s",
                       rec->reason, pan_status_name (rec->status),
                       rec->status == PAN_STATUS_RETIRED ? retired_reasons
                                                         : revoked_reasons);
  return 0;
}


/*
 * Parsing.
 */

/* The stanza being read is complete: check it and move it to the
 * registry.  */
static gpg_error_t
finish_stanza (struct parser *p)
{
  struct loc at = { p->loc.file, p->cur_line };
  gpg_error_t err;
  int f;

  if (!p->cur_line)
    return 0;
  for (f = 0; f < N_FIELDS; f++)
    if (IS_REQUIRED (f) && !(p->seen & (1u << f)))
      return loc_reason (&at, p->r_reason, gpg_error (GPG_ERR_MISSING_VALUE),
                         "the stanza for %s lacks '%s'", p->cur.address,
                         field_names[f]);
  if ((err = check_record_rules (&at, &p->cur, p->r_reason)))
    return err;
  if ((err = pani_registry_append (p->reg, &p->cur, p->cur_line)))
    return err;
  p->cur_line = 0;
  p->seen = 0;
  return 0;
}

/* Refuse a second active record for an address, at the first record
 * that is one (sorted: n log n, where asking the records before each
 * record took n squared).  */
static gpg_error_t
check_one_active (struct parser *p)
{
  pan_registry_t reg = p->reg;
  const char **addrs = calloc (reg->count + 1, sizeof *addrs);
  size_t *recs = calloc (reg->count + 1, sizeof *recs), n = 0, first;
  long dup = -2;
  unsigned int at, first_at;

  if (addrs && recs)
    {
      for (size_t i = 0; i < reg->count; i++)
        if (reg->recs[i].status == PAN_STATUS_ACTIVE)
          {
            recs[n] = i;
            addrs[n++] = reg->recs[i].address;
          }
      dup = pani_addr_first_repeat (addrs, n, reg->exact_local, &first);
    }
  free (addrs);
  if (dup < -1)
    {
      free (recs);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  if (dup >= 0)
    {
      dup = (long)recs[dup];
      first = recs[first];
    }
  free (recs);
  if (dup < 0)
    return 0;
  /* (the parser gives every record its line: reg->lines is set) */
  at = reg->lines ? reg->lines[dup] : 0;
  first_at = reg->lines ? reg->lines[first] : 0;
  return loc_reason (&(struct loc){ p->loc.file, at }, p->r_reason,
                     gpg_error (GPG_ERR_INV_DATA),
                     "a second active record for %s (the first is at"
                     " line %u); set all but one to retired",
                     reg->recs[dup].address, first_at);
}

/* Handle the "KEY VALUE" line LINE.  */
static gpg_error_t
parse_key_line (struct parser *p, const char *line, size_t len)
{
  gpg_error_t err;
  const char *sp = memchr (line, ' ', len);
  size_t keylen = sp ? (size_t)(sp - line) : len;
  enum field f = field_lookup (line, keylen);

  if (f == N_FIELDS)
    return loc_reason (&p->loc, p->r_reason,
                       gpg_error (GPG_ERR_UNKNOWN_NAME),
                       "unknown key '%.*s'", (int)keylen, line);
  if (f == F_RECIPIENT)
    {
      if ((err = finish_stanza (p)))
        return err;
      p->cur_line = p->loc.line;
    }
  else if (!p->cur_line)
    return loc_reason (&p->loc, p->r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "'%s' before the first recipient line; a stanza"
                       " starts with \"recipient ADDRESS\"",
                       field_names[f]);
  if (p->seen & (1u << f))
    return loc_reason (&p->loc, p->r_reason, gpg_error (GPG_ERR_DUP_VALUE),
                       "'%s' given twice in the stanza of line %u",
                       field_names[f], p->cur_line);
  p->seen |= 1u << f;
  return parse_field (&p->loc, f, sp ? sp + 1 : "", &p->cur, p->r_reason);
}

/* Handle the line LINE of LEN bytes (without its LF).  */
static gpg_error_t
parse_line (struct parser *p, const char *line, size_t len)
{
  const char *problem = text_problem (line, len);

  if (problem)
    return loc_reason (&p->loc, p->r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "the line contains %s", problem);
  if (!len || line[0] == '#')
    return 0;
  if (line[0] == ' ')
    return loc_reason (&p->loc, p->r_reason, gpg_error (GPG_ERR_INV_DATA),
                       "the line starts with white space");
  return parse_key_line (p, line, len);
}

gpg_error_t
pani_registry_parse (const char *filename, const void *buf, size_t len,
                     pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  struct parser p;
  const char *s = buf, *nl;
  char *line = NULL;
  size_t pos = 0, n;

  *r_reg = NULL;
  memset (&p, 0, sizeof p);
  p.loc.file = filename ? filename : "registry";
  p.r_reason = r_reason;
  if ((err = pani_registry_new (&p.reg)))
    goto leave;
  /* The file holds one active record per address as written; whether
   * two spellings are one mailbox is the look-ups' business.  */
  p.reg->exact_local = 1;
  if (!(line = malloc (MAX_LINE + 1)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  while (pos < len)
    {
      p.loc.line++;
      nl = memchr (s + pos, '\n', len - pos);
      n = nl ? (size_t)(nl - (s + pos)) : len - pos;
      if (n > MAX_LINE)
        {
          err = loc_reason (&p.loc, r_reason, gpg_error (GPG_ERR_INV_DATA),
                            "the line is longer than %d bytes", MAX_LINE);
          goto leave;
        }
      memcpy (line, s + pos, n);
      line[n] = 0;
      if ((err = parse_line (&p, line, n)))
        goto leave;
      pos += n + (nl != NULL);
    }
  if ((err = finish_stanza (&p)) || (err = check_one_active (&p)))
    goto leave;
  p.reg->exact_local = 0; /* Look-ups: the default until told.  */
  *r_reg = p.reg;
  p.reg = NULL;

leave:
  pani_registry_clear_rec (&p.cur);
  pan_registry_release (p.reg);
  free (line);
  return err;
}

gpg_error_t
pan_registry_load (const char *path, pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL;
  size_t len;

  *r_reg = NULL;
  if ((err = pani_read_file (path, PANI_REGISTRY_MAX, &buf, &len, r_reason)))
    return err;
  err = pani_registry_parse (path, buf, len, r_reg, r_reason);
  free (buf);
  return err;
}


/*
 * Writing.
 */

static gpg_error_t
write_record (const struct pan_recipient *rec, estream_t out)
{
  char tbuf[32];
  const char *text;
  int f;

  if (es_fputs ("\n", out) == EOF)
    return gpg_error_from_syserror ();
  for (f = 0; f < N_FIELDS; f++)
    {
      if (!(text = field_text (rec, f, tbuf, sizeof tbuf)))
        {
          if (IS_REQUIRED (f))
            return gpg_error (GPG_ERR_INV_VALUE);
          continue;
        }
      if (es_fprintf (out, "%s %s\n", field_names[f], text) < 0)
        return gpg_error_from_syserror ();
    }
  return 0;
}

gpg_error_t
pani_registry_write (pan_registry_t reg, estream_t out)
{
  gpg_error_t err;
  size_t i;

  if (es_fputs (FILE_HEADER, out) == EOF)
    return gpg_error_from_syserror ();
  for (i = 0; reg && i < reg->count; i++)
    if ((err = write_record (&reg->recs[i], out)))
      return err;
  return 0;
}


/*
 * Checking a record that a caller made.
 */

gpg_error_t
pani_registry_validate (const char *path, const struct pan_recipient *rec,
                        struct pan_recipient *valid, char **r_reason)
{
  gpg_error_t err;
  struct loc loc = { path, 0 };
  char tbuf[32];
  const char *text;
  int f;

  for (f = 0; f < N_FIELDS; f++)
    {
      if (!(text = field_text (rec, f, tbuf, sizeof tbuf)))
        {
          if (IS_REQUIRED (f))
            return loc_reason (&loc, r_reason,
                               gpg_error (GPG_ERR_MISSING_VALUE),
                               "the new record lacks '%s'", field_names[f]);
          continue;
        }
      if ((err = parse_field (&loc, f, text, valid, r_reason)))
        return err;
    }
  return check_record_rules (&loc, valid, r_reason);
}
