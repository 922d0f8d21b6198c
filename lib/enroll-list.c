/* enroll-list.c - the list of a bulk enrollment (pankey enroll --batch)
 *
 * One pair a line, the address and the fingerprint checked out of band
 * for it, separated by white space (spaces or tabs):
 *
 *   # finance team, fingerprints read out on 2026-11-24
 *   alice@example.test  0123456789ABCDEF0123456789ABCDEF01234567
 *   bob@example.test    89abcdef0123456789abcdef0123456789abcdef
 *
 * A line whose first non-blank character is '#' is a comment (an
 * address that starts with '#' is listed with its local part quoted,
 * "#ops"@example.net); blank lines are skipped.  The
 * parser is strict: a line that is not a pair, an address that
 * pan_addr_normalize refuses, a fingerprint that is not 40 or 64 hex
 * digits (any case; kept in upper case), an address given twice, a NUL,
 * a carriage return or a line over 4,096 bytes is refused with its line
 * number, and nothing is enrolled.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "addrlist-int.h"
#include "enroll-list-int.h"

/* The longest line, without its LF.  */
#define MAX_LINE 4096

struct pair
{
  char *addr;
  char fpr[65];
};

struct pan_enroll_list
{
  struct pair *pairs;
  size_t count;
  size_t size;
};

void
pan_enroll_list_release (pan_enroll_list_t list)
{
  if (!list)
    return;
  for (size_t i = 0; i < list->count; i++)
    free (list->pairs[i].addr);
  free (list->pairs);
  free (list);
}

size_t
pan_enroll_list_count (pan_enroll_list_t list)
{
  return list ? list->count : 0;
}

const char *
pan_enroll_list_address (pan_enroll_list_t list, size_t idx)
{
  return list && idx < list->count ? list->pairs[idx].addr : NULL;
}

const char *
pan_enroll_list_fingerprint (pan_enroll_list_t list, size_t idx)
{
  return list && idx < list->count ? list->pairs[idx].fpr : NULL;
}

/* Store the fingerprint of the LEN bytes at S in upper case in FPR
 * (65 bytes); non-zero if they are not 40 or 64 hex digits.  */
static int
take_fpr (const char *s, size_t len, char *fpr)
{
  if (len != 40 && len != 64)
    return -1;
  for (size_t i = 0; i < len; i++)
    {
      if (!s[i] || !strchr ("0123456789abcdefABCDEF", s[i]))
        return -1;
      fpr[i] = s[i] >= 'a' ? s[i] - 32 : s[i];
    }
  fpr[len] = 0;
  return 0;
}

static gpg_error_t
add_pair (pan_enroll_list_t list, char *addr, const char *fpr)
{
  struct pair *tmp;

  if (list->count == list->size)
    {
      size_t size = list->size ? 2 * list->size : 64;

      if (!(tmp = realloc (list->pairs, size * sizeof *tmp)))
        return gpg_error_from_syserror ();
      list->pairs = tmp;
      list->size = size;
    }
  list->pairs[list->count].addr = addr;
  memcpy (list->pairs[list->count].fpr, fpr, 65);
  list->count++;
  return 0;
}

/* An address and its place, for finding one given twice.  */
struct addr_at
{
  const char *addr;
  size_t idx;
};

/* Order by address, ignoring ASCII case (so that every pair that
 * pani_addr_same may call the same is side by side), then by place.  */
static int
addr_at_cmp (const void *a, const void *b)
{
  const struct addr_at *x = a, *y = b;
  int c = pani_ascii_casecmp (x->addr, y->addr);

  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Return the place of the first address before SORTED[I] that
 * pani_addr_same calls the same, or -1.  */
static long
earlier_same (const struct addr_at *sorted, size_t i, int exact_local)
{
  long first = -1;

  for (size_t j = i;
       j > 0 && !pani_ascii_casecmp (sorted[j - 1].addr, sorted[i].addr);
       j--)
    if (pani_addr_same (sorted[j - 1].addr, sorted[i].addr, exact_local))
      first = (long)sorted[j - 1].idx;
  return first;
}

long
pani_addr_first_repeat (const char *const *addrs, size_t n, int exact_local,
                        size_t *r_first)
{
  struct addr_at *sorted = calloc (n + 1, sizeof *sorted);
  long dup = -1, e;

  *r_first = 0;
  if (!sorted)
    return -2;
  for (size_t i = 0; i < n; i++)
    sorted[i] = (struct addr_at){ addrs[i], i };
  qsort (sorted, n, sizeof *sorted, addr_at_cmp);
  for (size_t i = 0; i < n; i++)
    if ((e = earlier_same (sorted, i, exact_local)) >= 0
        && (dup < 0 || sorted[i].idx < (size_t)dup))
      {
        dup = (long)sorted[i].idx;
        *r_first = (size_t)e;
      }
  free (sorted);
  return dup;
}

/* Refuse an address that LIST (read from LINES) gives twice.  */
static gpg_error_t
refuse_repeat (pan_enroll_list_t list, const unsigned int *lines,
               char **r_reason)
{
  const char **addrs = calloc (list->count + 1, sizeof *addrs);
  size_t first;
  long dup;

  if (!addrs)
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < list->count; i++)
    addrs[i] = list->pairs[i].addr;
  /* (local parts as written: an address that differs only by case is
   * refused by its enroll, as pankey enroll refuses it, under
   * address-case insensitive) */
  dup = pani_addr_first_repeat (addrs, list->count, 1, &first);
  free (addrs);
  if (dup == -2)
    return gpg_error (GPG_ERR_ENOMEM);
  if (dup < 0)
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "line %u: %s is given at line %u already", lines[dup],
                      list->pairs[dup].addr, lines[first]);
}

/* Split LINE (LEN bytes, no NUL) into its two words; 0 if it has not
 * exactly two.  */
static int
two_words (const char *line, size_t len, const char **w1, size_t *n1,
           const char **w2, size_t *n2)
{
  size_t i = 0;

  while (i < len && pani_is_wsp (line[i]))
    i++;
  *w1 = line + i;
  while (i < len && !pani_is_wsp (line[i]))
    i++;
  *n1 = (size_t)(line + i - *w1);
  while (i < len && pani_is_wsp (line[i]))
    i++;
  *w2 = line + i;
  while (i < len && !pani_is_wsp (line[i]))
    i++;
  *n2 = (size_t)(line + i - *w2);
  while (i < len && pani_is_wsp (line[i]))
    i++;
  return *n1 && *n2 && i == len;
}

/* Parse line NO (LINE, LEN bytes) into LIST.  */
static gpg_error_t
parse_line (pan_enroll_list_t list, unsigned int **lines, unsigned int no,
            const char *line, size_t len, char **r_reason)
{
  gpg_error_t err = gpg_error (GPG_ERR_INV_DATA);
  const char *w1, *w2;
  size_t n1, n2, skip;
  char fpr[65], *addr = NULL, *word = NULL, *why = NULL;
  unsigned int *tmp;

  if (memchr (line, 0, len) || memchr (line, '\r', len))
    return pani_reason (r_reason, err,
                        "line %u: a NUL byte or a carriage return", no);
  skip = pani_span (line, len, " \t");
  if (skip >= len || line[skip] == '#')
    return 0;
  if (!two_words (line, len, &w1, &n1, &w2, &n2))
    return pani_reason (r_reason, err,
                        "line %u: write \"ADDRESS FINGERPRINT\", two words",
                        no);
  if (take_fpr (w2, n2, fpr))
    return pani_reason (r_reason, err,
                        "line %u: the fingerprint must be 40 or 64 hex"
                        " digits in one word",
                        no);
  if (!(word = pani_strndup (w1, n1)))
    return gpg_error_from_syserror ();
  if (pan_addr_normalize (word, &addr, &why))
    err = pani_reason (r_reason, err, "line %u: bad address: %s", no,
                       why ? why : "not an address");
  else if (!(tmp = realloc (*lines, (list->count + 1) * sizeof *tmp)))
    err = gpg_error_from_syserror ();
  else
    {
      *lines = tmp;
      tmp[list->count] = no;
      if (!(err = add_pair (list, addr, fpr)))
        addr = NULL;
    }
  pan_free (addr);
  pan_free (why);
  free (word);
  return err;
}

gpg_error_t
pan_enroll_list_parse (const void *buf, size_t len,
                       pan_enroll_list_t *r_list, char **r_reason)
{
  gpg_error_t err = 0;
  pan_enroll_list_t list;
  unsigned int *lines = NULL, no = 0;
  const char *s = buf, *nl;
  size_t pos = 0, n;

  *r_list = NULL;
  if (!(list = calloc (1, sizeof *list)))
    return gpg_error_from_syserror ();
  while (!err && pos < len)
    {
      no++;
      nl = memchr (s + pos, '\n', len - pos);
      n = nl ? (size_t)(nl - (s + pos)) : len - pos;
      if (n > MAX_LINE)
        err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                           "line %u is longer than %d bytes", no, MAX_LINE);
      else
        err = parse_line (list, &lines, no, s + pos, n, r_reason);
      pos += n + (nl != NULL);
    }
  if (!err && !list->count)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                       "the list names no \"ADDRESS FINGERPRINT\" pair");
  if (!err)
    err = refuse_repeat (list, lines, r_reason);
  free (lines);
  if (err)
    pan_enroll_list_release (list);
  else
    *r_list = list;
  return err;
}
