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
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"
#include "timeutil-int.h"


/*
 * A snapshot of the log and audit.key, taken under the lock.
 */

/* Bytes read from a log file at once.  */
#define LINES_CHUNK (256 * 1024)
/* Bytes of a line kept: one more than a record may have.  */
#define LINES_SLOT (PAN_AUDIT_MAX_LINE + 1)

void
pani_audit_snapshot_release (struct pani_audit_snapshot *snap)
{
  size_t i;

  for (i = 0; i < snap->nfiles; i++)
    free (snap->files[i]);
  free (snap->files);
  if (snap->logfd >= 0)
    close (snap->logfd);
  free (snap->checkpoint);
  pani_audit_state_clear (&snap->state);
  memset (snap, 0, sizeof *snap);
  snap->logfd = -1;
}

/* Open the open segment LOGPATH and note its length.  */
static gpg_error_t
open_log_snapshot (const char *logpath, struct pani_audit_snapshot *snap,
                   char **r_reason)
{
  struct stat st;
  gpg_error_t err;

  err = pani_open_file (logpath, O_RDONLY, 0, &snap->logfd, r_reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      pan_free (*r_reason);
      *r_reason = NULL;
      return 0;
    }
  if (err)
    return err;
  if (fstat (snap->logfd, &st))
    return pani_reason_sys (r_reason, logpath);
  snap->loglen = (unsigned long long)st.st_size;
  return 0;
}

/* A rotation stopped after it linked audit.log to its closed name (see
 * closing_swap): if the open log of SNAP is the newest closed segment,
 * read it as empty, as the rotation leaves it.  */
static void
skip_linked_log (struct pani_audit_snapshot *snap)
{
  struct stat log_st, seg_st;

  if (snap->logfd >= 0 && snap->nfiles >= 2 && !fstat (snap->logfd, &log_st)
      && !lstat (snap->files[snap->nfiles - 2], &seg_st)
      && log_st.st_dev == seg_st.st_dev && log_st.st_ino == seg_st.st_ino)
    snap->loglen = 0;
}

/* Append a copy of PATH to the files of SNAP.  */
static gpg_error_t
snapshot_add (struct pani_audit_snapshot *snap, const char *path)
{
  char **tmp = realloc (snap->files, (snap->nfiles + 1) * sizeof *tmp);

  if (!tmp)
    return gpg_error_from_syserror ();
  snap->files = tmp;
  if (!(snap->files[snap->nfiles] = pani_strdup (path)))
    return gpg_error_from_syserror ();
  snap->nfiles++;
  return 0;
}

/* True if the closed segment PATH ends before the CHECKPOINT (may be
 * NULL): panaudit prune was stopped before it removed the file.  */
static int
pruned (const char *checkpoint, const char *path)
{
  unsigned long long cp, last;
  const char *base = strrchr (path, '/');

  if (!checkpoint || !base
      || sscanf (checkpoint, "panmail-anchor 1 seq=%llu", &cp) != 1)
    return 0;
  last = strtoull (base + 1 + 19, NULL, 10);
  return last <= cp;
}

/* Add the closed segments in DIR to SNAP, oldest first, and the
 * checkpoint that pruning left, if any.  */
static gpg_error_t
add_segments (struct pani_audit_snapshot *snap, const char *dir,
              char **r_reason)
{
  gpg_error_t err = 0;
  char **paths, *path = pani_strdupf ("%s/%s", dir, AUDIT_CHECKPOINT_FILE);
  size_t i, n;

  if (!path)
    return gpg_error_from_syserror ();
  if (!access (path, F_OK) || errno != ENOENT)
    err = pani_read_file_nofollow (path, 256, &snap->checkpoint, &n,
                                   r_reason);
  free (path);
  if (err)
    return err;

  if ((err = pani_audit_segments_list (dir, &paths, &n, r_reason)))
    return err;
  for (i = 0; !err && i < n; i++)
    if (!pruned (snap->checkpoint, paths[i]))
      err = snapshot_add (snap, paths[i]);
  pani_audit_segments_free (paths, n);
  return err;
}

/* Drop a lock error that only means the home is read-only.  */
static gpg_error_t
lock_or_read_only (struct pani_audit_files *f, char **r_reason)
{
  gpg_error_t err = pani_audit_lock (f, r_reason);

  if (gpg_err_code (err) != GPG_ERR_EROFS
      && gpg_err_code (err) != GPG_ERR_EACCES)
    return err;
  if (r_reason)
    {
      free (*r_reason);
      *r_reason = NULL;
    }
  return 0;
}

gpg_error_t
pani_audit_snapshot_take (pan_ctx_t ctx, struct pani_audit_snapshot *snap,
                          char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;

  memset (snap, 0, sizeof *snap);
  snap->logfd = -1;
  if ((err = pani_audit_files_init (ctx, &f)))
    return err;
  if (!(err = lock_or_read_only (&f, r_reason))
      && !(err = add_segments (snap, pan_ctx_home (ctx), r_reason))
      && !(err = open_log_snapshot (f.log, snap, r_reason))
      && !(err = snapshot_add (snap, f.log)))
    err = pani_audit_state_read (f.key, &snap->state, &snap->state_missing,
                                 r_reason);
  if (!err)
    skip_linked_log (snap);
  pani_audit_files_release (&f);
  if (err)
    pani_audit_snapshot_release (snap);
  return err;
}


gpg_error_t
pani_audit_snapshot_dir (const char *dir, struct pani_audit_snapshot *snap,
                         char **r_reason)
{
  gpg_error_t err;
  char *log = pani_strdupf ("%s/%s", dir, AUDIT_LOG_FILE);

  memset (snap, 0, sizeof *snap);
  snap->logfd = -1;
  snap->state_missing = 1;
  if (!log)
    return gpg_error_from_syserror ();
  if (!(err = add_segments (snap, dir, r_reason))
      && !(err = open_log_snapshot (log, snap, r_reason))
      && !(err = snapshot_add (snap, log)))
    skip_linked_log (snap);
  free (log);
  if (err)
    pani_audit_snapshot_release (snap);
  return err;
}


/*
 * The lines of the log, from memory or read in chunks.
 */

void
pani_audit_lines_init (struct pani_audit_lines *c, const char *data,
                       size_t len)
{
  memset (c, 0, sizeof *c);
  c->fd = -1;
  c->data = data;
  c->len = data ? len : 0;
}

gpg_error_t
pani_audit_lines_open (struct pani_audit_lines *c,
                       const struct pani_audit_snapshot *snap)
{
  pani_audit_lines_init (c, NULL, 0);
  c->snap = snap;
  c->win = malloc (LINES_CHUNK);
  c->slot[0] = malloc (LINES_SLOT);
  c->slot[1] = malloc (LINES_SLOT);
  if (c->win && c->slot[0] && c->slot[1])
    return 0;
  pani_audit_lines_release (c);
  return gpg_error_from_syserror ();
}

/* Close the file C reads, unless it is the snapshot's audit.log.  */
static void
close_file (struct pani_audit_lines *c)
{
  pani_audit_gz_close (c->gz);
  c->gz = NULL;
  if (c->fd >= 0 && (!c->snap || c->fd != c->snap->logfd))
    close (c->fd);
  c->fd = -1;
}

void
pani_audit_lines_release (struct pani_audit_lines *c)
{
  close_file (c);
  free (c->win);
  free (c->slot[0]);
  free (c->slot[1]);
  free (c->reason);
  /* Spelled out (init clears them too): a failed open releases C, and
   * its owner releases it again.  */
  c->win = c->slot[0] = c->slot[1] = c->reason = NULL;
  pani_audit_lines_init (c, NULL, 0);
}

static int
memory_next (struct pani_audit_lines *c, struct pani_audit_line *l)
{
  const char *nl;

  if (c->pos >= c->len)
    return 0;
  l->p = c->data + c->pos;
  nl = memchr (l->p, '\n', c->len - c->pos);
  l->len = nl ? (size_t)(nl - l->p) : c->len - c->pos;
  l->has_nl = !!nl;
  l->no = ++c->lineno;
  l->file = NULL;
  c->pos += l->len + !!nl;
  return 1;
}

/* Stop reading with ERR about the current file.  */
static int
lines_fail (struct pani_audit_lines *c, gpg_error_t err)
{
  const char *file = c->snap->files[c->nextfile - 1];

  c->err = err;
  free (c->reason);
  if (c->gz && gpg_err_code (err) == GPG_ERR_INV_DATA)
    c->reason = pani_strdupf ("%s: the compressed data is damaged or cut"
                              " short (not what gzip wrote)",
                              file);
  else
    c->reason = pani_strdupf ("%s: %s", file, gpg_strerror (err));
  return 0;
}

/* Open the closed segment PATH into C.  One that was compressed since
 * the snapshot was taken is read from its .gz.  */
static int
open_closed (struct pani_audit_lines *c, const char *path)
{
  gpg_error_t err;
  struct stat st;
  char *gzpath;

  err = pani_open_file (path, O_RDONLY, 0, &c->fd, NULL);
  if (gpg_err_code (err) == GPG_ERR_ENOENT && !pani_audit_is_gz (path))
    {
      if (!(gzpath = pani_strdupf ("%s%s", path, AUDIT_GZ_SUFFIX)))
        return lines_fail (c, gpg_error_from_syserror ());
      err = pani_open_file (gzpath, O_RDONLY, 0, &c->fd, NULL);
      if (!err)
        err = pani_audit_gz_open (c->fd, &c->gz);
      free (gzpath);
    }
  else if (!err && pani_audit_is_gz (path))
    err = pani_audit_gz_open (c->fd, &c->gz);
  if (err)
    return lines_fail (c, err);
  if (fstat (c->fd, &st))
    return lines_fail (c, gpg_error_from_syserror ());
  c->left = (unsigned long long)st.st_size;
  return 1;
}

/* Open the next file of the snapshot; false if there is none.  */
static int
open_next_file (struct pani_audit_lines *c)
{
  const struct pani_audit_snapshot *snap = c->snap;
  const char *path;

  if (c->nextfile >= snap->nfiles)
    return 0;
  path = snap->files[c->nextfile++];
  c->lineno = c->wpos = c->wend = 0;
  if (c->nextfile == snap->nfiles && !snap->no_log)
    {
      c->fd = snap->logfd;
      c->left = snap->loglen;
      if (c->fd >= 0 && lseek (c->fd, 0, SEEK_SET))
        return lines_fail (c, gpg_error_from_syserror ());
      return 1;
    }
  return open_closed (c, path);
}

/* Read the next chunk of the compressed file of C; false at its end.  */
static int
fill_gz (struct pani_audit_lines *c)
{
  gpg_error_t err;
  size_t n;

  if ((err = pani_audit_gz_read (c->gz, c->win, LINES_CHUNK, &n)))
    return lines_fail (c, err);
  c->wpos = 0;
  c->wend = n;
  return n > 0;
}

/* Read the next chunk of the current file; false at its end.  */
static int
fill (struct pani_audit_lines *c)
{
  size_t want = c->left < LINES_CHUNK ? (size_t)c->left : LINES_CHUNK;
  ssize_t n;

  if (c->gz)
    return fill_gz (c);
  if (!want || c->fd < 0)
    return 0;
  do
    n = read (c->fd, c->win, want);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return lines_fail (c,
                       n < 0 ? gpg_error_from_syserror ()
                             : gpg_error (GPG_ERR_EIO));
  c->wpos = 0;
  c->wend = (size_t)n;
  c->left -= (unsigned long long)n;
  return 1;
}

/* Read the next line of the current file into a slot; false at its
 * end.  */
static int
file_line (struct pani_audit_lines *c, struct pani_audit_line *l)
{
  char *s = c->slot[c->which ^ 1], *p, *nl;
  size_t n = 0, take, k;
  int any = 0;

  for (nl = NULL; !nl;)
    {
      if (c->wpos == c->wend && !fill (c))
        break;
      any = 1;
      p = c->win + c->wpos;
      nl = memchr (p, '\n', c->wend - c->wpos);
      take = nl ? (size_t)(nl - p) : c->wend - c->wpos;
      k = take < LINES_SLOT - n ? take : LINES_SLOT - n;
      memcpy (s + n, p, k);
      n += k;
      c->wpos += take + !!nl;
    }
  if (!any || c->err)
    return 0;
  c->which ^= 1;
  l->p = s;
  l->len = n;
  l->has_nl = !!nl;
  l->no = ++c->lineno;
  l->file = c->snap->files[c->nextfile - 1];
  return 1;
}

int
pani_audit_lines_next (struct pani_audit_lines *c, struct pani_audit_line *l)
{
  if (!c->snap)
    return memory_next (c, l);
  while (!c->err)
    {
      if (c->fd < 0 && c->nextfile < c->snap->nfiles && !open_next_file (c))
        return 0;
      if (file_line (c, l))
        return 1;
      if (c->err || c->nextfile >= c->snap->nfiles)
        return 0;
      close_file (c);
    }
  return 0;
}


/*
 * Reading records: pan_audit_open, pan_audit_next.
 */

struct pan_audit_reader
{
  struct pani_audit_snapshot snap;
  struct pani_audit_lines lines;
  unsigned long long skipped;
  struct pan_audit_filter filter; /* Its strings are in STRINGS.  */
  char *strings;
  char *recipient;     /* The filter's, normalised if it can be.  */
  pan_config_t config; /* How addresses match (address-case).  */
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
has_recipient (pan_config_t config, const struct pan_audit_record *rec,
               const char *addr)
{
  size_t i;

  for (i = 0; i < rec->ev.nkeys; i++)
    if (pan_addr_same (config, rec->ev.keys[i].address, addr))
      return 1;
  return 0;
}

/* True if WORD is one of the NULL-terminated LIST.  */
static int
in_list (const char *const *list, const char *word)
{
  for (; word && *list; list++)
    if (!strcmp (*list, word))
      return 1;
  return 0;
}

int
pan_audit_is_event (const char *event)
{
  static const char *const events[] = {
    "send",     "delivered",     "queue",
    "drop",     "refuse",        "recovery",
    "init",     "init-key",      "enroll",
    "rotate",   "refresh",       "revoke",
    "unenroll", "retire",        "trust-ca",
    "import",   "export",        "registry-accept",
    "note",     "segment-close", "segment-open",
    "prune",    "load-crl",      "operator-key",
    NULL
  };

  return in_list (events, event);
}

int
pan_audit_is_outcome (const char *outcome)
{
  static const char *const outcomes[] = { "pending", "delivered", "queued",
                                          "dropped", "refused",   "ok",
                                          "failed",  "sent",      NULL };

  return in_list (outcomes, outcome);
}

static int
filter_match (const struct pan_audit_filter *f, pan_config_t config,
              const struct pan_audit_record *rec)
{
  if ((f->since && rec->time < f->since)
      || (f->until && rec->time > f->until))
    return 0;
  if (f->event && strcmp (f->event, rec->ev.event))
    return 0;
  if (f->outcome
      && (!rec->ev.outcome || strcmp (f->outcome, rec->ev.outcome)))
    return 0;
  if (f->message_id
      && (!rec->ev.message_id
          || !same_message_id (f->message_id, rec->ev.message_id)))
    return 0;
  return !f->recipient || has_recipient (config, rec, f->recipient);
}

/* Copy the filter F into RD: its strings into the one block
 * RD->STRINGS, which RD owns.  */
static gpg_error_t
copy_filter (pan_audit_reader_t rd, const struct pan_audit_filter *f)
{
  const char **const field[] = { &rd->filter.recipient, &rd->filter.event,
                                 &rd->filter.message_id,
                                 &rd->filter.outcome };
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
  rd->config = pan_ctx_config (ctx);
  if ((err = copy_filter (rd, filter))
      || (err = pani_audit_snapshot_take (ctx, &rd->snap, r_reason)))
    {
      pan_audit_close (rd);
      return err;
    }
  if ((err = pani_audit_lines_open (&rd->lines, &rd->snap)))
    {
      pan_audit_close (rd);
      return err;
    }
  if (rd->filter.recipient
      && !pan_addr_normalize (rd->filter.recipient, &rd->recipient, NULL))
    rd->filter.recipient = rd->recipient;
  /* The log holds a Message-ID masked as the writer masks it (a digit
   * run that passes Luhn): compare it masked the same way.  The string
   * is RD's copy.  */
  if (rd->filter.message_id)
    pani_audit_mask_in_place ((char *)rd->filter.message_id);
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
      if (filter_match (&rd->filter, rd->config, &rd->cur.rec))
        {
          *r_rec = &rd->cur.rec;
          return 0;
        }
    }
  return rd->lines.err ? rd->lines.err : gpg_error (GPG_ERR_EOF);
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
  pani_audit_lines_release (&rd->lines);
  pani_audit_snapshot_release (&rd->snap);
  pani_audit_parsed_clear (&rd->cur);
  free (rd->strings);
  free (rd->recipient);
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
      || sscanf (s + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 || s[6]
      || hh > 23 || mm > 59)
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
      snprintf (buf, sizeof buf, "%sT%s", s,
                end_of_day ? "23:59:59Z" : "00:00:00Z");
      return pani_time_parse (buf, r_time);
    }
  if (n < 20 || n > 25 || (s[19] != 'Z' && !parse_offset (s + 19, &off))
      || (s[19] == 'Z' && s[20]))
    return gpg_error (GPG_ERR_INV_TIME);
  snprintf (buf, sizeof buf, "%.19sZ", s);
  if (pani_time_parse (buf, r_time))
    return gpg_error (GPG_ERR_INV_TIME);
  *r_time -= off;
  return 0;
}
