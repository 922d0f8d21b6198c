/* audit-list.c - the names of the closed segments of an audit log
 *
 * A closed segment is HOME/audit-FIRST-LAST-TIME1-TIME2.log (12-digit
 * sequence numbers of its first and last record, their times as
 * YYYYMMDDTHHMMSSZ), or the same name with ".gz" once compressed
 * (audit-gz.c).  Their names sort in the order of their records.
 */
#include <config.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"

/* audit-NNNNNNNNNNNN-NNNNNNNNNNNN-YYYYMMDDTHHMMSSZ-YYYYMMDDTHHMMSSZ.log */
#define SEG_NAME_LEN (6 + 12 + 1 + 12 + 1 + 16 + 1 + 16 + 4)

int
pani_audit_is_gz (const char *path)
{
  size_t n = strlen (path);

  return n > 3 && !strcmp (path + n - 3, AUDIT_GZ_SUFFIX);
}

/* True if NAME is the name of a closed segment (compressed or not).  */
static int
is_segment_name (const char *name)
{
  static const char pattern[] =
    "audit-DDDDDDDDDDDD-DDDDDDDDDDDD-DDDDDDDDTDDDDDDZ-DDDDDDDDTDDDDDDZ.log";
  size_t i, len = strlen (name);

  if (len != SEG_NAME_LEN
      && (len != SEG_NAME_LEN + 3 || strcmp (name + SEG_NAME_LEN, ".gz")))
    return 0;
  for (i = 0; i < SEG_NAME_LEN; i++)
    if (pattern[i] == 'D' ? !(name[i] >= '0' && name[i] <= '9')
                          : name[i] != pattern[i])
      return 0;
  return 1;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

void
pani_audit_segments_free (char **paths, size_t n)
{
  size_t i;

  for (i = 0; paths && i < n; i++)
    free (paths[i]);
  free (paths);
}

/* Add DIR/NAME to *PATHS (*N of them, room for *CAP).  */
static gpg_error_t
add_path (char ***paths, size_t *n, size_t *cap, const char *dir,
          const char *name)
{
  char **tmp;
  size_t newcap = *cap ? 2 * *cap : 16;

  if (!*paths || *n + 1 >= *cap)
    {
      if (!(tmp = realloc (*paths, newcap * sizeof *tmp)))
        return gpg_error_from_syserror ();
      *paths = tmp;
      *cap = newcap;
    }
  if (!((*paths)[*n] = pani_strdupf ("%s/%s", dir, name)))
    return gpg_error_from_syserror ();
  (*paths)[++*n] = NULL;
  return 0;
}

/* Drop from the sorted PATHS (N of them) each X.log.gz whose X.log is
 * there too (a compression that did not finish; X.log is whole); return
 * how many are left.  */
static size_t
drop_half_compressed (char **paths, size_t n)
{
  size_t i, j = 0, len;

  for (i = 0; i < n; i++)
    {
      len = j ? strlen (paths[j - 1]) : 0;
      if (j && pani_audit_is_gz (paths[i]) && strlen (paths[i]) == len + 3
          && !strncmp (paths[i], paths[j - 1], len))
        free (paths[i]);
      else
        paths[j++] = paths[i];
    }
  if (paths)
    paths[j] = NULL;
  return j;
}

gpg_error_t
pani_audit_segments_list (const char *dir, char ***r_paths, size_t *r_n,
                          char **r_reason)
{
  gpg_error_t err = 0;
  DIR *d = opendir (dir);
  struct dirent *de;
  char **paths = NULL;
  size_t n = 0, cap = 0;

  *r_paths = NULL;
  *r_n = 0;
  if (!d)
    return pani_reason_sys (r_reason, dir);
  while (!err && (de = readdir (d)))
    if (is_segment_name (de->d_name))
      err = add_path (&paths, &n, &cap, dir, de->d_name);
  closedir (d);
  if (err)
    {
      pani_audit_segments_free (paths, n);
      return err;
    }
  if (n)
    qsort (paths, n, sizeof *paths, cmp_names);
  *r_paths = paths;
  *r_n = drop_half_compressed (paths, n);
  return 0;
}
