/* crl-list.c - the listing of dirmngr's CRL cache (LISTCRLS), parsed
 *
 * dirmngr prints each CRL it holds as a block that starts with a line
 * of dashes: " Name:\tvalue" fields (Issuer, This Update, Next Update,
 * Trust Check, ...), a line "  SERIAL:\t reasons(...) rdate: TIME" per
 * revoked certificate, and lines of its own about a CRL it will not use
 * ("ERROR: ...", translated).  Its "Begin"/"End" lines are translated
 * too, so only the dashes and the field names are relied on.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "panmail.h"
#include "util.h"
#include "crl-list-int.h"

/* The most CRLs read from one listing.  */
#define MAX_CRLS 4096

void
pan_crls_release (struct pan_crl *crls, size_t count)
{
  for (size_t i = 0; crls && i < count; i++)
    {
      free (crls[i].issuer);
      free (crls[i].trust_fpr);
      free (crls[i].problem);
      free (crls[i].source);
    }
  free (crls);
}

/* Parse dirmngr's time "YYYYMMDDTHHMMSS" (UTC) of LEN bytes at S into
 * *R_T; an empty value is 0.  Return -1 if it is not such a time.  */
static int
parse_isotime (const char *s, size_t len, time_t *r_t)
{
  struct tm tm;
  int v[6], width[6] = { 4, 2, 2, 2, 2, 2 };
  size_t pos = 0;

  *r_t = 0;
  if (!len)
    return 0;
  if (len != 15 || s[8] != 'T')
    return -1;
  for (int i = 0; i < 6; i++)
    {
      v[i] = 0;
      pos += i == 3;
      for (int k = 0; k < width[i]; k++, pos++)
        {
          if (s[pos] < '0' || s[pos] > '9')
            return -1;
          v[i] = v[i] * 10 + (s[pos] - '0');
        }
    }
  if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31
      || v[3] > 23 || v[4] > 59 || v[5] > 60)
    return -1;
  memset (&tm, 0, sizeof tm);
  tm.tm_year = v[0] - 1900;
  tm.tm_mon = v[1] - 1;
  tm.tm_mday = v[2];
  tm.tm_hour = v[3];
  tm.tm_min = v[4];
  tm.tm_sec = v[5];
  *r_t = timegm (&tm);
  return 0;
}

/* A copy of the LEN bytes at S with control characters replaced by
 * '?'; NULL on ENOMEM.  */
static char *
clean_copy (const char *s, size_t len)
{
  char *copy = pani_strndup (s, len);

  for (char *p = copy; p && *p; p++)
    if (pani_is_ctrl ((unsigned char)*p))
      *p = '?';
  return copy;
}

/* True if the LEN bytes at LINE are a line of ten or more dashes.  */
static int
is_separator (const char *line, size_t len)
{
  return len >= 10 && pani_span (line, len, "-") == len;
}

/* True if LINE (LEN bytes) is "  HEX:\t..." (a revoked certificate).  */
static int
is_entry (const char *line, size_t len)
{
  size_t n;

  if (len < 4 || line[0] != ' ' || line[1] != ' ')
    return 0;
  n = pani_span (line + 2, len - 2, "0123456789ABCDEFabcdef");
  return n > 0 && 2 + n + 1 < len && line[2 + n] == ':'
    && line[3 + n] == '\t';
}

/* Store the value of the field NAME in LINE/LEN at *R_VAL, *R_VLEN and
 * return 1, or return 0 if LINE is not that field.  */
static int
field (const char *line, size_t len, const char *name, const char **r_val,
       size_t *r_vlen)
{
  size_t n = strlen (name);

  if (len < n + 3 || line[0] != ' ' || memcmp (line + 1, name, n)
      || line[n + 1] != ':' || line[n + 2] != '\t')
    return 0;
  *r_val = line + n + 3;
  *r_vlen = len - n - 3;
  return 1;
}

/* Take the time field NAME of LINE into *R_T; 1 if it was that field,
 * -1 if it was with a bad time, 0 if not.  */
static int
time_field (const char *line, size_t len, const char *name, time_t *r_t)
{
  const char *val;
  size_t vlen;

  if (!field (line, len, name, &val, &vlen))
    return 0;
  return parse_isotime (val, vlen, r_t) ? -1 : 1;
}

/* Take the string field NAME of LINE into *R_S (replacing it); 1 if
 * it was that field, -1 on ENOMEM, 0 if not.  */
static int
string_field (const char *line, size_t len, const char *name, char **r_s)
{
  const char *val;
  size_t vlen;

  if (!field (line, len, name, &val, &vlen))
    return 0;
  free (*r_s);
  *r_s = clean_copy (val, vlen);
  return *r_s ? 1 : -1;
}

/* Take the "Trust Check" field (a SHA-1 fingerprint, or "[system]" or
 * "[missing]", kept as NULL); 1, -1 or 0 as string_field.  */
static int
trust_field (const char *line, size_t len, struct pan_crl *c)
{
  int rc = string_field (line, len, "Trust Check", &c->trust_fpr);

  if (rc == 1
      && (strlen (c->trust_fpr) != 40
          || strspn (c->trust_fpr, "0123456789ABCDEF") != 40))
    {
      free (c->trust_fpr);
      c->trust_fpr = NULL;
    }
  return rc;
}

/* A line of dirmngr about the CRL C ("ERROR: ..."): kept, the first
 * one, as its problem.  */
static int
problem_line (const char *line, size_t len, struct pan_crl *c)
{
  size_t skip = pani_span (line, len, " ");

  if (skip == 0 || skip >= len || line[skip] == '\t'
      || memchr (line, '\t', len) || c->problem)
    return 0;
  c->problem = clean_copy (line + skip, len - skip);
  return c->problem ? 1 : -1;
}

/* The source named in "Begin CRL dump (retrieved via SOURCE)": the
 * text within the last parentheses of a line that starts with no
 * space.  */
static int
source_line (const char *line, size_t len, struct pan_crl *c)
{
  const char *open = memchr (line, '(', len);

  if (!len || line[0] == ' ' || !open || line[len - 1] != ')' || c->source)
    return 0;
  open = memchr (open, ' ', (size_t)(line + len - open));
  open = open ? memchr (open + 1, ' ', (size_t)(line + len - open - 1))
              : NULL;
  if (!open || open + 1 >= line + len - 1)
    return 0;
  c->source = clean_copy (open + 1, (size_t)(line + len - 1 - open - 1));
  return c->source ? 1 : -1;
}

/* True if LINE/LEN is a field that is not used.  */
static int
ignored_field (const char *line, size_t len)
{
  static const char *const names[] = { "Issuer Hash", "CRL Number ",
                                       "AuthKeyId  " };
  const char *val;
  size_t vlen;

  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (field (line, len, names[i], &val, &vlen))
      return 1;
  return 0;
}

/* Parse LINE/LEN of a block into C; -1 on a bad time or ENOMEM.  */
static int
parse_line (const char *line, size_t len, struct pan_crl *c)
{
  int rc;

  if (is_entry (line, len))
    {
      c->revoked++;
      return 0;
    }
  if ((rc = string_field (line, len, "Issuer", &c->issuer))
      || (rc = time_field (line, len, "This Update", &c->this_update))
      || (rc = time_field (line, len, "Next Update", &c->next_update))
      || (rc = trust_field (line, len, c))
      || (rc = source_line (line, len, c)))
    return rc < 0 ? -1 : 0;
  /* Other fields, their continuation lines (spaces, then a tab) and
   * blank lines say nothing we use.  */
  if (ignored_field (line, len))
    return 0;
  return problem_line (line, len, c) < 0 ? -1 : 0;
}

/* Check the block C, the NUMBER-th, once it is complete.  */
static gpg_error_t
check_block (const struct pan_crl *c, size_t number, char **r_reason)
{
  if (!c->issuer || !*c->issuer)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "dirmngr's list of CRLs: CRL %zu names no issuer",
                        number);
  if (!c->this_update)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "dirmngr's list of CRLs: the CRL of %s has no"
                        " valid \"This Update\"",
                        c->issuer);
  return 0;
}

/* Start a new block in *CRLS (*N of them so far).  */
static gpg_error_t
new_block (struct pan_crl **crls, size_t *n, char **r_reason)
{
  struct pan_crl *tmp;

  if (*n >= MAX_CRLS)
    return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "dirmngr lists more than %d CRLs", MAX_CRLS);
  if (!(tmp = realloc (*crls, (*n + 1) * sizeof *tmp)))
    return gpg_error_from_syserror ();
  memset (tmp + *n, 0, sizeof *tmp);
  *crls = tmp;
  (*n)++;
  return 0;
}

/* Parse the lines of BUF/LEN into *CRLS (*N of them).  */
static gpg_error_t
parse_lines (const char *buf, size_t len, struct pan_crl **crls, size_t *n,
             char **r_reason)
{
  gpg_error_t err = 0;
  const char *p = buf, *end = buf + len;

  while (!err && p < end)
    {
      const char *eol = memchr (p, '\n', (size_t)(end - p));
      size_t llen = (size_t)((eol ? eol : end) - p);

      if (is_separator (p, llen))
        {
          if (*n)
            err = check_block (&(*crls)[*n - 1], *n, r_reason);
          if (!err)
            err = new_block (crls, n, r_reason);
        }
      else if (*n && parse_line (p, llen, &(*crls)[*n - 1]))
        err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                           "dirmngr's list of CRLs: CRL %zu: a bad"
                           " time or out of memory",
                           *n);
      p = eol ? eol + 1 : end;
    }
  if (!err && *n)
    err = check_block (&(*crls)[*n - 1], *n, r_reason);
  return err;
}

gpg_error_t
pani_crl_parse_list (const void *buf, size_t len, struct pan_crl **r_crls,
                     size_t *r_count, char **r_reason)
{
  gpg_error_t err;
  struct pan_crl *crls = NULL;
  size_t n = 0;

  *r_crls = NULL;
  *r_count = 0;
  if (memchr (buf, 0, len))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "dirmngr's list of CRLs holds a NUL byte");
  if ((err = parse_lines (buf, len, &crls, &n, r_reason)))
    {
      pan_crls_release (crls, n);
      return err;
    }
  *r_crls = crls;
  *r_count = n;
  return 0;
}
