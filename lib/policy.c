/* policy.c - the algorithm policy and the lifecycle review of keys
 *
 * The policy (panmail.conf: min-rsa-bits, warn-rsa-bits, allowed-curves)
 * is applied at enroll, refresh and send.  Settings this build of
 * config.c does not know yet read as NULL or 0 and mean the default.
 *
 * The hash algorithm of binding self-signatures is not in GPGME's key
 * listing, so openpgp.c runs "gpg --with-colons --check-sigs" and the
 * parser here reads its output (fuzzed by fuzz/fuzz-colons.c).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "panmail.h"
#include "util.h"
#include "policy-int.h"

#define DEFAULT_WARN_DAYS 30
#define DEFAULT_CRYPTOPERIOD 365
#define DEFAULT_MIN_RSA 2048
#define DEFAULT_WARN_RSA 3072
#define DEFAULT_CURVES                                         \
  "cv25519 ed25519 nistp256 nistp384 nistp521 brainpoolP256r1" \
  " brainpoolP384r1 brainpoolP512r1"

/* The longest colon line the parser accepts.  */
#define MAX_COLON_LINE 65536

/* The most fields a colon line may have that the parser looks at.  */
#define N_COLON_FIELDS 20


/*
 * Settings.
 */

/* Return integer setting NAME of CONFIG, DEF if it is unknown or 0.  */
static long
get_int (pan_config_t config, const char *name, long def)
{
  long v = config ? pan_config_get_int (config, name) : 0;

  return v > 0 ? v : def;
}

long
pan_policy_warn_days (pan_config_t config)
{
  return get_int (config, "expire-warn-days", DEFAULT_WARN_DAYS);
}

long
pani_policy_cryptoperiod_days (pan_config_t config)
{
  return get_int (config, "cryptoperiod-days", DEFAULT_CRYPTOPERIOD);
}

static const char *
allowed_curves (pan_config_t config)
{
  const char *v = config ? pan_config_get (config, "allowed-curves") : NULL;

  return v && *v ? v : DEFAULT_CURVES;
}

const char *
pan_severity_name (pan_severity_t severity)
{
  switch (severity)
    {
    case PAN_SEVERITY_OK: return "OK";
    case PAN_SEVERITY_WARNING: return "WARNING";
    case PAN_SEVERITY_CRITICAL: return "CRITICAL";
    default: return "UNKNOWN";
    }
}


/*
 * Algorithms.
 */

/* True if the white-space separated LIST holds WORD (ASCII case
 * ignored).  */
static int
word_in_list (const char *list, const char *word)
{
  size_t n = strlen (word), m;

  while (*list)
    {
      list += strspn (list, " \t");
      m = strcspn (list, " \t");
      if (m == n && m && !strncasecmp (list, word, n))
        return 1;
      list += m;
    }
  return 0;
}

/* Store a reason made of FMT (if R_REASON) and return SEV.  */
static pan_severity_t judge (char **r_reason, pan_severity_t sev,
                             const char *fmt, ...) PAN_PRINTF (3, 4);

static pan_severity_t
judge (char **r_reason, pan_severity_t sev, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  if (!r_reason)
    return sev;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  *r_reason = msg;
  return sev;
}

static pan_severity_t
check_rsa (pan_config_t config, unsigned int bits, char **r_reason)
{
  long min = get_int (config, "min-rsa-bits", DEFAULT_MIN_RSA);
  long warn = get_int (config, "warn-rsa-bits", DEFAULT_WARN_RSA);

  if (bits < min)
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "RSA %u bits is below min-rsa-bits %ld; ask for an RSA"
                  " %ld bits or Curve25519 key",
                  bits, min, warn > min ? warn : min);
  if (bits < warn)
    return judge (r_reason, PAN_SEVERITY_WARNING,
                  "RSA %u bits is below warn-rsa-bits %ld; plan a new key"
                  " of RSA %ld bits or Curve25519",
                  bits, warn, warn);
  return PAN_SEVERITY_OK;
}

static pan_severity_t
check_curve (pan_config_t config, const char *algo, const char *curve,
             char **r_reason)
{
  const char *allowed = allowed_curves (config);

  if (!curve || !*curve)
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "%s key without a known curve; ask for a Curve25519"
                  " key",
                  algo);
  if (!word_in_list (allowed, curve))
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "curve %s is not in allowed-curves (%s); ask for a key"
                  " on one of them",
                  curve, allowed);
  return PAN_SEVERITY_OK;
}

pan_severity_t
pani_policy_check_algo (pan_config_t config, const char *algo,
                        unsigned int bits, const char *curve,
                        char **r_reason)
{
  if (r_reason)
    *r_reason = NULL;
  if (!algo)
    algo = "";
  if (!strcasecmp (algo, "rsa"))
    return check_rsa (config, bits, r_reason);
  if (!strcasecmp (algo, "dsa"))
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "DSA is not allowed (FIPS 186-5 withdrew it); ask for"
                  " an Ed25519 or RSA key");
  if (!strcasecmp (algo, "elg"))
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "ElGamal is not allowed; ask for a Curve25519 or RSA"
                  " encryption subkey");
  if (!strcasecmp (algo, "ecdh") || !strcasecmp (algo, "ecdsa")
      || !strcasecmp (algo, "eddsa"))
    return check_curve (config, algo, curve, r_reason);
  return judge (r_reason, PAN_SEVERITY_CRITICAL,
                "public key algorithm '%s' is not allowed; ask for an"
                " Ed25519/Curve25519 or RSA key",
                algo);
}

/* Return the strength rank of the OpenPGP hash algorithm ALGO: 0 for
 * broken or unknown ones.  */
static int
hash_rank (int algo)
{
  switch (algo)
    {
    case 11: return 1; /* SHA-224 */
    case 8:
    case 12: return 2; /* SHA-256, SHA3-256 */
    case 9: return 3;  /* SHA-384 */
    case 10:
    case 14: return 4; /* SHA-512, SHA3-512 */
    default: return 0;
    }
}

static const char *
hash_name (int algo)
{
  switch (algo)
    {
    case 1: return "MD5";
    case 2: return "SHA-1";
    case 3: return "RIPEMD-160";
    default: return NULL;
    }
}

pan_severity_t
pani_policy_check_digest (int algo, char **r_reason)
{
  if (r_reason)
    *r_reason = NULL;
  if (hash_rank (algo))
    return PAN_SEVERITY_OK;
  if (hash_name (algo))
    return judge (r_reason, PAN_SEVERITY_CRITICAL,
                  "a binding self-signature uses %s; the key holder must"
                  " re-sign the key with SHA-256 or better (gpg"
                  " --cert-digest-algo SHA256 --quick-set-expire)",
                  hash_name (algo));
  return judge (r_reason, PAN_SEVERITY_CRITICAL,
                "a binding self-signature uses unknown hash algorithm %d;"
                " the key holder must re-sign it with SHA-256",
                algo);
}


/*
 * "gpg --with-colons --check-sigs" output.
 */

/* One line split at colons: pointers into a private copy.  */
struct colon_line
{
  char *buf;
  const char *f[N_COLON_FIELDS]; /* Field 1 is f[0]; missing ones "".  */
};

/* The state of the colons parser.  */
struct colon_parser
{
  const char *want_fpr;
  int state;               /* 0: outside, 1: pub seen, 2: in key. */
  char keyid[17];          /* The primary key's ID.  */
  int comp_live;           /* The current component counts.  */
  int comp_algo;           /* Its newest good self-sig's hash ... */
  unsigned long comp_time; /* ... and time; 0: none yet.  */
  char comp_where[64];
  unsigned int nuid;
  int found; /* At least one component counted.  */
  int weak_algo;
  int weak_rank;
  char weak_where[64];
};

static void
split_line (struct colon_line *cl, char *line)
{
  int i = 0;
  char *p = line;

  cl->buf = line;
  for (i = 0; i < N_COLON_FIELDS; i++)
    cl->f[i] = "";
  for (i = 0; i < N_COLON_FIELDS && p; i++)
    {
      char *colon = strchr (p, ':');

      cl->f[i] = p;
      if (colon)
        *colon = 0;
      p = colon ? colon + 1 : NULL;
    }
}

/* Parse the unsigned decimal S (empty: 0) into *R_NUM.  */
static int
parse_num (const char *s, unsigned long *r_num)
{
  unsigned long n = 0;

  if (strlen (s) > 12 || strspn (s, "0123456789") != strlen (s))
    return 0;
  for (; *s; s++)
    n = n * 10 + (unsigned long)(*s - '0');
  *r_num = n;
  return 1;
}

/* Fold the finished component into the weakest binding so far.  */
static void
end_component (struct colon_parser *p)
{
  int rank;

  if (p->comp_live && p->comp_time)
    {
      rank = hash_rank (p->comp_algo);
      if (!p->found || rank < p->weak_rank)
        {
          p->weak_algo = p->comp_algo;
          p->weak_rank = rank;
          memcpy (p->weak_where, p->comp_where, sizeof p->weak_where);
        }
      p->found = 1;
    }
  p->comp_live = 0;
  p->comp_time = 0;
  p->comp_algo = 0;
}

/* Start a component (user ID, subkey, the primary key itself) that
 * counts if LIVE (not revoked or expired).  */
static void
begin_component (struct colon_parser *p, int live)
{
  end_component (p);
  p->comp_live = live;
}

/* True if CLASS ("13x") is a binding class for the current component:
 * a certification of a user ID, a subkey binding or a direct key
 * signature.  */
static int
binding_class (const char *cls)
{
  return !strncmp (cls, "10", 2) || !strncmp (cls, "11", 2)
    || !strncmp (cls, "12", 2) || !strncmp (cls, "13", 2)
    || !strncmp (cls, "18", 2) || !strncasecmp (cls, "1f", 2);
}

static gpg_error_t
handle_sig (struct colon_parser *p, const struct colon_line *cl,
            char **r_reason)
{
  unsigned long when, algo;

  if (strcmp (cl->f[1], "!") || strcasecmp (cl->f[4], p->keyid)
      || !binding_class (cl->f[10]))
    return 0;
  if (!parse_num (cl->f[5], &when) || !parse_num (cl->f[15], &algo)
      || algo > 255)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "gpg printed a signature line with a bad time or"
                        " hash algorithm");
  if (when >= p->comp_time)
    {
      p->comp_time = when ? when : 1;
      p->comp_algo = (int)algo;
    }
  return 0;
}

static gpg_error_t
handle_pub (struct colon_parser *p, const struct colon_line *cl,
            char **r_reason)
{
  end_component (p);
  if (p->state == 2)
    {
      p->state = 0;
      return 0;
    }
  if (strlen (cl->f[4]) != 16
      || strspn (cl->f[4], "0123456789ABCDEFabcdef") != 16)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "gpg printed a key line without a key ID");
  memcpy (p->keyid, cl->f[4], 17);
  p->state = 1;
  return 0;
}

/* Handle the split line CL.  */
static gpg_error_t
handle_line (struct colon_parser *p, const struct colon_line *cl,
             char **r_reason)
{
  const char *type = cl->f[0];

  if (!strcmp (type, "sec") || !strcmp (type, "ssb"))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "gpg listed secret key material");
  if (!strcmp (type, "pub"))
    return handle_pub (p, cl, r_reason);
  if (!strcmp (type, "fpr") && p->state == 1)
    {
      p->state = pani_ascii_casecmp (cl->f[9], p->want_fpr) ? 0 : 2;
      if (p->state == 2)
        {
          begin_component (p, 1);
          strcpy (p->comp_where, "the primary key");
        }
      return 0;
    }
  if (p->state != 2)
    return 0;
  if (!strcmp (type, "uid") || !strcmp (type, "uat"))
    {
      begin_component (p, strcmp (cl->f[1], "r") != 0);
      snprintf (p->comp_where, sizeof p->comp_where, "user ID #%u",
                ++p->nuid);
    }
  else if (!strcmp (type, "sub"))
    {
      begin_component (p, strcmp (cl->f[1], "r") && strcmp (cl->f[1], "e"));
      snprintf (p->comp_where, sizeof p->comp_where, "subkey %.16s",
                cl->f[4]);
    }
  else if (!strcmp (type, "sig"))
    return handle_sig (p, cl, r_reason);
  return 0;
}

/* Feed the LEN bytes at LINE (no LF) to the parser.  */
static gpg_error_t
parse_colon_line (struct colon_parser *p, const char *line, size_t len,
                  char **r_reason)
{
  struct colon_line cl;
  char *copy;
  gpg_error_t err;

  if (len && line[len - 1] == '\r')
    len--;
  if (len > MAX_COLON_LINE || memchr (line, 0, len))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "gpg printed an overlong or binary line");
  if (!(copy = pani_strndup (line, len)))
    return gpg_error_from_syserror ();
  split_line (&cl, copy);
  err = handle_line (p, &cl, r_reason);
  free (copy);
  return err;
}

gpg_error_t
pani_policy_parse_colons (const void *buf, size_t len, const char *fpr,
                          int *r_algo, char **r_where, char **r_reason)
{
  gpg_error_t err = 0;
  struct colon_parser p;
  const char *s = buf, *nl;
  size_t pos = 0, n;

  *r_algo = 0;
  if (r_where)
    *r_where = NULL;
  memset (&p, 0, sizeof p);
  p.want_fpr = fpr ? fpr : "";
  while (!err && pos < len)
    {
      nl = memchr (s + pos, '\n', len - pos);
      n = nl ? (size_t)(nl - (s + pos)) : len - pos;
      err = parse_colon_line (&p, s + pos, n, r_reason);
      pos += n + (nl != NULL);
    }
  if (err)
    return err;
  end_component (&p);
  if (!p.found)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "gpg listed no valid self-signature of key %s",
                        p.want_fpr);
  *r_algo = p.weak_algo;
  if (r_where && !(*r_where = pani_strdup (p.weak_where)))
    return gpg_error_from_syserror ();
  return 0;
}
