/* audit-read.c - reading the audit log: snapshot, reader, filters
 *
 * Readers never take the lock for longer than it takes to see how long
 * the log and audit.key are: the log is mapped as it stood then, and
 * writers append behind it.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"


/*
 * A snapshot of the log and audit.key, taken under the lock.
 */

void
pani_audit_snapshot_release (struct pani_audit_snapshot *snap)
{
  if (snap->data)
    munmap (snap->data, snap->len);
  pani_audit_state_clear (&snap->state);
  memset (snap, 0, sizeof *snap);
}

/* Map the first SIZE bytes of the open file FD.  */
static gpg_error_t
map_log (int fd, off_t size, struct pani_audit_snapshot *snap)
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
open_log_snapshot (const char *logpath, struct pani_audit_snapshot *snap,
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

gpg_error_t
pani_audit_snapshot_take (pan_ctx_t ctx, struct pani_audit_snapshot *snap,
                          char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;

  memset (snap, 0, sizeof *snap);
  if ((err = pani_audit_files_init (ctx, &f)))
    return err;
  err = pani_audit_lock (&f, r_reason);
  if (gpg_err_code (err) == GPG_ERR_EROFS
      || gpg_err_code (err) == GPG_ERR_EACCES)
    {
      err = 0;
      if (r_reason)
        {
          free (*r_reason);
          *r_reason = NULL;
        }
    }
  if (!err && !(err = open_log_snapshot (f.log, snap, r_reason)))
    err = pani_audit_state_read (f.key, &snap->state, &snap->state_missing,
                                 r_reason);
  pani_audit_files_release (&f);
  if (err)
    pani_audit_snapshot_release (snap);
  return err;
}


/*
 * Reading records: pan_audit_open, pan_audit_next.
 */

struct pan_audit_reader
{
  struct pani_audit_snapshot snap;
  struct pani_audit_lines lines;
  unsigned long long skipped;
  struct pan_audit_filter filter;       /* Its strings are in STRINGS.  */
  char *strings;
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
filter_match (const struct pan_audit_filter *f,
              const struct pan_audit_record *rec)
{
  if ((f->since && rec->time < f->since) || (f->until && rec->time > f->until))
    return 0;
  if (f->event && strcmp (f->event, rec->ev.event))
    return 0;
  if (f->message_id && (!rec->ev.message_id
                        || !same_message_id (f->message_id,
                                             rec->ev.message_id)))
    return 0;
  return !f->recipient || has_recipient (rec, f->recipient);
}

/* Copy the filter F into RD: its strings into the one block
 * RD->STRINGS, which RD owns.  */
static gpg_error_t
copy_filter (pan_audit_reader_t rd, const struct pan_audit_filter *f)
{
  const char **const field[] = { &rd->filter.recipient, &rd->filter.event,
    &rd->filter.message_id };
  size_t i, n, total = 0;
  char *p;

  if (!f)
    return 0;
  rd->filter = *f;
  for (i = 0; i < sizeof field / sizeof *field; i++)
    total += *field[i] ? strlen (*field[i]) + 1 : 0;
  if (!total)
    return 0;
  if (!(p = rd->strings = malloc (total)))
    return gpg_error_from_syserror ();
  for (i = 0; i < sizeof field / sizeof *field; i++)
    if (*field[i])
      {
        n = strlen (*field[i]) + 1;
        memcpy (p, *field[i], n);
        *field[i] = p;
        p += n;
      }
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
      || (err = pani_audit_snapshot_take (ctx, &rd->snap, r_reason)))
    {
      pan_audit_close (rd);
      return err;
    }
  pani_audit_lines_init (&rd->lines, rd->snap.data, rd->snap.len);
  *r_reader = rd;
  return 0;
}

gpg_error_t
pan_audit_next (pan_audit_reader_t rd, const struct pan_audit_record **r_rec)
{
  struct pani_audit_line l;

  *r_rec = NULL;
  while (pani_audit_lines_next (&rd->lines, &l))
    {
      if (!l.has_nl || pani_audit_parse (l.p, l.len, &rd->cur, NULL))
        {
          rd->skipped++;
          continue;
        }
      if (filter_match (&rd->filter, &rd->cur.rec))
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
  pani_audit_snapshot_release (&rd->snap);
  pani_audit_parsed_clear (&rd->cur);
  free (rd->strings);
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
  snprintf (buf, sizeof buf, "%.19sZ", s);
  if (pan_time_parse (buf, r_time))
    return gpg_error (GPG_ERR_INV_TIME);
  *r_time -= off;
  return 0;
}
