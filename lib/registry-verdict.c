/* registry-verdict.c - the verdict on a key that a record keeps
 *
 * enroll, rotate and refresh judge an OpenPGP key (expiry, revocation,
 * the algorithm policy, its self-signatures checked by gpg) and record
 * the verdict in the key's record, so that pankey list and check and
 * panaudit keys need not ask gpg again for each of ten thousand keys:
 *
 *   key-state 0f1e2d3c4b5a6978 2026-11-24T23:18:43Z never
 *     2028-11-24T23:18:43Z u ok ed25519 255 cv25519
 *   key-policy RSA 2048 bits is below warn-rsa-bits (3072)
 *
 * (one line).  The words of "key-state": the tag of the policy settings
 * it was judged under, when the key was made ("-": unknown), when its
 * primary key expires and when the key can no longer encrypt ("never"
 * for either), the flags that held then ("-" or r(evoked), (e)x(pired),
 * u(sable), in that order), the policy's verdict (ok, warning or
 * critical), the primary key's algorithm and size, the newest
 * encryption key's algorithm ("-": none), and the keys of the key in
 * the keyring that the record does not pin, if any.  "key-policy" is
 * the policy's reason, only where it found something.  The text is
 * strict: a value that pani_registry_verdict_format would not write
 * back as it is gets refused.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "registry-verdict-int.h"
#include "timeutil-int.h"

/* The most unpinned keys a verdict names.  */
#define MAX_UNPINNED 32

static const char *const severities[] = { "ok", "warning", "critical" };

/* Copy the word W (LEN bytes) into BUF of SIZE; 0 if it does not fit
 * or is empty.  */
static int
take_word (const char *w, size_t len, char *buf, size_t size)
{
  if (!len || len >= size)
    return 0;
  memcpy (buf, w, len);
  buf[len] = 0;
  return 1;
}

/* Parse the time word W ("never" or NONE gives 0) into *R_T.  */
static int
parse_time (const char *w, size_t len, const char *none, time_t *r_t)
{
  char buf[32];

  *r_t = 0;
  if (!take_word (w, len, buf, sizeof buf))
    return 0;
  if (!strcmp (buf, none))
    return 1;
  return !pani_time_parse (buf, r_t) && *r_t > 0;
}

static int
parse_flags (const char *w, size_t len, struct pani_key_verdict *v)
{
  size_t i = 0;

  if (len == 1 && *w == '-')
    return 1;
  v->revoked = i < len && w[i] == 'r' && ++i;
  v->expired = i < len && w[i] == 'x' && ++i;
  v->usable = i < len && w[i] == 'u' && ++i;
  return i == len && len;
}

static int
parse_severity (const char *w, size_t len, pan_severity_t *r_sev)
{
  for (size_t i = 0; i < sizeof severities / sizeof *severities; i++)
    if (strlen (severities[i]) == len && !memcmp (w, severities[i], len))
      {
        *r_sev = (pan_severity_t)i;
        return 1;
      }
  return 0;
}

static int
parse_bits (const char *w, size_t len, unsigned int *r_bits)
{
  unsigned long n = 0;

  if (!len || len > 5 || (w[0] == '0' && len > 1))
    return 0;
  for (size_t i = 0; i < len; i++)
    if (w[i] < '0' || w[i] > '9')
      return 0;
    else
      n = n * 10 + (unsigned long)(w[i] - '0');
  *r_bits = (unsigned int)n;
  return n <= 65535;
}

/* True if W/LEN is 40 or 64 upper-case hex digits.  */
static int
is_fpr (const char *w, size_t len)
{
  if (len != 40 && len != 64)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!((w[i] >= '0' && w[i] <= '9') || (w[i] >= 'A' && w[i] <= 'F')))
      return 0;
  return 1;
}

/* Parse word number I (W, LEN bytes) of a verdict into V.  */
static int
parse_word (size_t i, const char *w, size_t len, struct pani_key_verdict *v)
{
  switch (i)
    {
    case 0:
      return len == 16 && strspn (w, "0123456789abcdef") >= 16
        && take_word (w, len, v->tag, sizeof v->tag);
    case 1: return parse_time (w, len, "-", &v->created);
    case 2: return parse_time (w, len, "never", &v->primary_expires);
    case 3: return parse_time (w, len, "never", &v->expires);
    case 4: return parse_flags (w, len, v);
    case 5: return parse_severity (w, len, &v->policy);
    case 6: return take_word (w, len, v->algorithm, sizeof v->algorithm);
    case 7: return parse_bits (w, len, &v->bits);
    case 8:
      return (len == 1 && *w == '-')
        || take_word (w, len, v->enc_algorithm, sizeof v->enc_algorithm);
    default:
      if (!v->unpinned)
        v->unpinned = w;
      return i < 9 + MAX_UNPINNED && is_fpr (w, len);
    }
}

/* Parse VALUE into V without checking that it is written as
 * pani_registry_verdict_format writes it.  */
static gpg_error_t
parse_words (const char *value, struct pani_key_verdict *v)
{
  const char *p = value;
  size_t i = 0, len;

  memset (v, 0, sizeof *v);
  for (; *p; i++)
    {
      len = strcspn (p, " ");
      if (!parse_word (i, p, len, v))
        return gpg_error (GPG_ERR_INV_DATA);
      p += len;
      if (*p && !*++p) /* A trailing space.  */
        return gpg_error (GPG_ERR_INV_DATA);
    }
  if (i < 9)
    return gpg_error (GPG_ERR_INV_DATA);
  if (!v->unpinned)
    v->unpinned = "";
  return 0;
}

gpg_error_t
pani_registry_verdict_parse (const char *value, struct pani_key_verdict *v)
{
  gpg_error_t err;
  char *again = NULL;

  if ((err = parse_words (value, v)))
    return err;
  if ((err = pani_registry_verdict_format (v, &again)))
    return err;
  if (strcmp (again, value))
    err = gpg_error (GPG_ERR_INV_DATA);
  free (again);
  return err;
}

/* Write T into BUF (32 bytes) as a verdict writes it: NONE for 0.  */
static const char *
time_word (time_t t, const char *none, char *buf, size_t size)
{
  return t ? pan_time_format (t, buf, size) : none;
}

gpg_error_t
pani_registry_verdict_format (const struct pani_key_verdict *v,
                              char **r_value)
{
  char c[32], pe[32], e[32], flags[4];
  size_t n = 0;
  const char *unpinned = v->unpinned ? v->unpinned : "";

  *r_value = NULL;
  if ((unsigned int)v->policy >= sizeof severities / sizeof *severities)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (v->revoked)
    flags[n++] = 'r';
  if (v->expired)
    flags[n++] = 'x';
  if (v->usable)
    flags[n++] = 'u';
  if (!n)
    flags[n++] = '-';
  flags[n] = 0;
  *r_value = pani_strdupf ("%s %s %s %s %s %s %s %u %s%s%s", v->tag,
                           time_word (v->created, "-", c, sizeof c),
                           time_word (v->primary_expires, "never", pe,
                                      sizeof pe),
                           time_word (v->expires, "never", e, sizeof e),
                           flags, severities[v->policy], v->algorithm,
                           v->bits,
                           *v->enc_algorithm ? v->enc_algorithm : "-",
                           *unpinned ? " " : "", unpinned);
  return *r_value ? 0 : gpg_error_from_syserror ();
}

/* (A list of fingerprints as "subkeys" and a verdict's unpinned keys
 * have it.)  */
int
pani_registry_pinned (const char *subkeys, const char *fpr)
{
  size_t n = fpr ? strlen (fpr) : 0, len;

  for (const char *p = subkeys; n && p && *p; p += len + (p[len] == ' '))
    {
      len = strcspn (p, " ");
      if (len == n && !memcmp (p, fpr, n))
        return 1;
    }
  return 0;
}
