/* scan-allow.c - allow lists: numbers an operator found harmless
 *
 * "panaudit scan --allow FILE" reads a list of keyed hashes (HMAC-SHA256
 * under the home's PAN key, as "panaudit scan --json" prints them), each
 * with a comment saying why the number is harmless:
 *
 *   # test cards of the vendor's API documentation, checked 2026-11-24
 *   3f1c...(64 hex digits)  docs/api.md: Visa test card
 *
 * The list never holds a number in clear: an entry is a hash, not
 * digits, and a list with a card number anywhere (a comment, a line
 * starting with '#') is refused.  Entries are kept sorted and found by
 * binary search.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "scan-allow-int.h"

/* Longest allow list and line read.  */
#define MAX_FILE (16 * 1024 * 1024)
#define MAX_LINE 4096

/* Hex digits of a hash.  */
#define HASH_LEN 64

struct entry
{
  char hash[HASH_LEN + 1]; /* Lower case.  */
  char *comment;
  size_t line;
};

struct pan_scan_allow
{
  struct entry *v;
  size_t n, size;
};

/* The line being parsed.  */
struct line
{
  const char *p;
  size_t len;
  size_t number;
};

static int
cmp_entries (const void *a, const void *b)
{
  return strcmp (((const struct entry *)a)->hash,
                 ((const struct entry *)b)->hash);
}

/* Order by hash, then by line.  */
static int
cmp_entry_lines (const void *a, const void *b)
{
  const struct entry *x = a, *y = b;
  int c = strcmp (x->hash, y->hash);

  return c ? c : x->line < y->line ? -1 : x->line > y->line;
}

static gpg_error_t
first_pan_cb (void *opaque, const struct pan_hit *hit)
{
  unsigned long long *first = opaque;

  if (*first == (unsigned long long)-1)
    *first = hit->offset;
  return 0;
}

/* Store at *R_LINE the line of the first card number in BUF/LEN, or 0
 * if it holds none.  Hashes hold none: their digits are glued to
 * letters or run longer than a PAN.  */
static gpg_error_t
pan_line (const char *buf, size_t len, size_t *r_line)
{
  unsigned long long first = (unsigned long long)-1;
  pan_scanner_t s = NULL;
  gpg_error_t err;
  size_t i;

  *r_line = 0;
  if (!len)
    return 0;
  if (!(err = pan_scanner_new (NULL, 0, &s))
      && !(err = pan_scanner_feed (s, buf, len, first_pan_cb, &first)))
    err = pan_scanner_finish (s, first_pan_cb, &first);
  pan_scanner_release (s);
  if (err || first == (unsigned long long)-1)
    return err;
  for (*r_line = 1, i = 0; i < first; i++)
    *r_line += buf[i] == '\n';
  return 0;
}

/* Return why the comment C/LEN cannot be kept, or NULL.  */
static const char *
check_comment (const char *c, size_t len)
{
  const unsigned char *p = (const unsigned char *)c, *end = p + len;
  size_t u;

  if (!len)
    return "no comment after the hash (say why the number is harmless)";
  for (; p < end; p += u)
    {
      u = *p < 0x80 ? 1 : pani_utf8_len (p, end);
      if (!u)
        return "the comment is not valid UTF-8";
      if (*p < ' ' && *p != '\t')
        return "a control character in the comment";
    }
  return NULL;
}

/* Add the entry on line L: HASH (64 hex digits) and its comment.  */
static gpg_error_t
add_entry (pan_scan_allow_t a, const struct line *l, const char *comment,
           size_t clen, char **r_reason)
{
  struct entry *e, *tmp;
  size_t i, size;

  if (a->n == a->size || !a->v)
    {
      size = a->size ? 2 * a->size : 64;
      if (!(tmp = realloc (a->v, size * sizeof *tmp)))
        return gpg_error_from_syserror ();
      a->v = tmp;
      a->size = size;
    }
  e = a->v + a->n;
  for (i = 0; i < HASH_LEN; i++)
    e->hash[i] = (char)pani_ascii_lower ((unsigned char)l->p[i]);
  e->hash[HASH_LEN] = 0;
  e->line = l->number;
  if (!(e->comment = pani_strndup (comment, clen)))
    return pani_reason (r_reason, gpg_error_from_syserror (),
                        "line %zu: out of core", l->number);
  a->n++;
  return 0;
}

/* Return the length of the white space at P/LEN.  */
static size_t
space_len (const char *p, size_t len)
{
  size_t n = 0;

  while (n < len && pani_is_wsp ((unsigned char)p[n]))
    n++;
  return n;
}

/* Parse the line L (white space at both ends removed) into A.  */
static gpg_error_t
parse_line (pan_scan_allow_t a, const struct line *l, char **r_reason)
{
  const char *why;
  size_t i, sp;

  for (i = 0; i < l->len && i < HASH_LEN && pani_hexval (l->p[i]) >= 0; i++)
    ;
  if (i < HASH_LEN
      || (l->len > HASH_LEN && !pani_is_wsp ((unsigned char)l->p[HASH_LEN])))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "line %zu: not a keyed hash (64 hex digits, as"
                        " 'panaudit scan --json' prints them)",
                        l->number);
  sp = space_len (l->p + HASH_LEN, l->len - HASH_LEN);
  if ((why = check_comment (l->p + HASH_LEN + sp, l->len - HASH_LEN - sp)))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "line %zu: %s", l->number, why);
  return add_entry (a, l, l->p + HASH_LEN + sp, l->len - HASH_LEN - sp,
                    r_reason);
}

/* Cut the next line off *R_P (before END) into L.  */
static void
next_line (const char **r_p, const char *end, struct line *l)
{
  const char *p = *r_p, *eol = memchr (p, '\n', end - p);
  size_t len = (eol ? eol : end) - p, lead;

  *r_p = eol ? eol + 1 : end;
  lead = space_len (p, len);
  p += lead;
  len -= lead;
  while (len
         && (pani_is_wsp ((unsigned char)p[len - 1]) || p[len - 1] == '\r'))
    len--;
  l->p = p;
  l->len = len;
  l->number++;
}

/* Keep the first entry of a hash listed more than once (A is sorted by
 * hash and line): a list built from a report lists a number once for
 * each place it was found.  */
static void
drop_repeats (pan_scan_allow_t a)
{
  size_t i, n = 0;

  for (i = 0; i < a->n; i++)
    if (n && !strcmp (a->v[n - 1].hash, a->v[i].hash))
      free (a->v[i].comment);
    else
      a->v[n++] = a->v[i];
  a->n = n;
}

gpg_error_t
pani_scan_allow_parse (const void *buf, size_t len,
                       pan_scan_allow_t *r_allow, char **r_reason)
{
  gpg_error_t err = 0;
  pan_scan_allow_t a;
  const char *p = buf ? buf : "", *end = p + len;
  struct line l;

  if (!r_allow || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_allow = NULL;
  if (!(a = calloc (1, sizeof *a)))
    return gpg_error_from_syserror ();
  memset (&l, 0, sizeof l);
  if (!(err = pan_line (buf, len, &l.number)) && l.number)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                       "line %zu holds a card number; an allow list holds"
                       " only keyed hashes",
                       l.number);
  l.number = 0;
  while (!err && p < end)
    {
      next_line (&p, end, &l);
      if (l.len > MAX_LINE)
        err = pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                           "line %zu: longer than %d bytes", l.number,
                           MAX_LINE);
      else if (l.len && *l.p != '#')
        err = parse_line (a, &l, r_reason);
    }
  if (!err && a->n)
    {
      qsort (a->v, a->n, sizeof *a->v, cmp_entry_lines);
      drop_repeats (a);
    }
  if (err)
    pan_scan_allow_release (a);
  else
    *r_allow = a;
  return err;
}

gpg_error_t
pan_scan_allow_load (const char *path, pan_scan_allow_t *r_allow,
                     char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL, *why = NULL;
  size_t len;

  if (!r_allow || !path)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_allow = NULL;
  if ((err = pani_read_file (path, MAX_FILE, &buf, &len, r_reason)))
    return err;
  err = pani_scan_allow_parse (buf, len, r_allow, &why);
  if (why)
    {
      pani_reason (r_reason, err, "%s: %s", path, why);
      free (why);
    }
  pani_wipe_free (buf, len);
  return err;
}

const char *
pani_scan_allow_find (pan_scan_allow_t a, const char *hash)
{
  struct entry key, *e;

  if (!a || !a->n || !hash || strlen (hash) != HASH_LEN)
    return NULL;
  memset (&key, 0, sizeof key);
  memcpy (key.hash, hash, HASH_LEN + 1);
  e = bsearch (&key, a->v, a->n, sizeof *a->v, cmp_entries);
  return e ? e->comment : NULL;
}

size_t
pani_scan_allow_count (pan_scan_allow_t a)
{
  return a ? a->n : 0;
}

void
pan_scan_allow_release (pan_scan_allow_t a)
{
  size_t i;

  if (!a)
    return;
  for (i = 0; i < a->n; i++)
    free (a->v[i].comment);
  free (a->v);
  free (a);
}
