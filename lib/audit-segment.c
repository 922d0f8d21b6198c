/* audit-segment.c - closed segments of the audit log and rotation
 *
 * panaudit rotate closes the open segment, HOME/audit.log, under the
 * audit lock that every writer takes: it appends a "segment-close"
 * record (its prev is the segment's head, and its reason names it),
 * makes the file read-only and renames it to
 * audit-FIRST-LAST-TIME1-TIME2.log (12-digit sequence numbers of its
 * first and last record, their times as YYYYMMDDTHHMMSSZ), then starts
 * a new audit.log whose first record, "segment-open", names the closed
 * file and continues the one hash chain and key: sequence numbers and
 * prev hashes run on across files.  Writers waiting for the lock then
 * append to the new file; none sees a missing log.
 *
 * Readers take the closed segments in name order, then audit.log, as
 * one chain; so a removed, reordered or edited segment breaks the
 * sequence or the chain, and audit.key (or an anchor) shows records
 * removed from the end.
 *
 * The files rotate and prune make belong to the home's operator, with
 * the modes of its role, whoever runs them (root from cron, say): in a
 * home shared with senders the new audit.log is 0660, a closed segment
 * 0440 and audit.checkpoint 0640, all of the senders' group; in a
 * single-user home 0600, 0400 and 0600.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"
#include "home-int.h"

#define SEG_PREFIX "audit-"
#define SEG_SUFFIX ".log"
/* audit-NNNNNNNNNNNN-NNNNNNNNNNNN-YYYYMMDDTHHMMSSZ-YYYYMMDDTHHMMSSZ.log */
#define SEG_NAME_LEN (6 + 12 + 1 + 12 + 1 + 16 + 1 + 16 + 4)


/*
 * Listing the closed segments.
 */

/* True if NAME is the name of a closed segment.  */
static int
is_segment_name (const char *name)
{
  static const char pattern[] =
    "audit-DDDDDDDDDDDD-DDDDDDDDDDDD-DDDDDDDDTDDDDDDZ-DDDDDDDDTDDDDDDZ.log";
  size_t i;

  if (strlen (name) != SEG_NAME_LEN)
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
  *r_n = n;
  return 0;
}


/*
 * The newest registry digest.
 */

/* What a line must hold to be worth parsing for a registry digest.  */
static const char registry_key[] = "\"registry_sha256\":\"";

/* The chunk read backwards: a whole record fits in it.  */
#define BACK_CHUNK (PAN_AUDIT_MAX_LINE + 65536)

/* If the line LINE/LEN is a record with a registry digest, store it in
 * MARK.  */
static void
mark_line (const char *line, size_t len,
           struct pani_audit_registry_mark *mark)
{
  struct pani_audit_parsed p;

  memset (&p, 0, sizeof p);
  if (memmem (line, len, registry_key, sizeof registry_key - 1)
      && !pani_audit_parse (line, len, &p, NULL) && p.rec.ev.registry_sha256
      && pani_audit_is_hash (p.rec.ev.registry_sha256))
    {
      snprintf (mark->sha256, sizeof mark->sha256, "%s",
                p.rec.ev.registry_sha256);
      snprintf (mark->event, sizeof mark->event, "%s",
                p.rec.ev.event ? p.rec.ev.event : "");
      mark->seq = p.rec.seq;
      mark->time = p.rec.time;
    }
  pani_audit_parsed_clear (&p);
}

/* Store at *R_HITS the offsets in BUF/LEN (from FROM on) of the lines
 * that name the registry digest, in file order, and their number at
 * *R_N: one pass of memmem over the chunk, so that a log of sends is
 * passed over fast and lines that only look right cost no rescan.  */
static gpg_error_t
find_hits (const char *buf, size_t len, size_t from, size_t **r_hits,
           size_t *r_n)
{
  const size_t klen = sizeof registry_key - 1;
  const char *p = buf + from, *q, *nl;
  size_t *hits = NULL, *tmp, n = 0, size = 0;

  while ((q = memmem (p, (size_t)(buf + len - p), registry_key, klen)))
    {
      nl = memrchr (buf + from, '\n', (size_t)(q - (buf + from)));
      if (n == size)
        {
          size = size ? 2 * size : 16;
          if (!(tmp = realloc (hits, size * sizeof *hits)))
            {
              free (hits);
              return gpg_error_from_syserror ();
            }
          hits = tmp;
        }
      hits[n++] = nl ? (size_t)(nl + 1 - buf) : from;
      /* On to the next line: one hit per line is enough.  */
      if (!(nl = memchr (q, '\n', (size_t)(buf + len - q))))
        break;
      p = nl + 1;
    }
  *r_hits = hits;
  *r_n = n;
  return 0;
}

/* Look at the complete lines of BUF/LEN, read at offset START of a file
 * and ending at a line end, from the last to the first, until one
 * marks MARK.  Store at *R_NEXT the offset at which the lines not
 * looked at end (the first, partial one of BUF), or -1 if a line is too
 * long.  */
static gpg_error_t
mark_chunk (const char *buf, size_t len, off_t start,
            struct pani_audit_registry_mark *mark, off_t *r_next)
{
  gpg_error_t err;
  const char *nl;
  size_t from = 0, *hits = NULL, n = 0, end;

  *r_next = -1;
  if (start)
    {
      if (!(nl = memchr (buf, '\n', len)) || (size_t)(nl + 1 - buf) == len)
        return 0;
      from = (size_t)(nl + 1 - buf);
    }
  if ((err = find_hits (buf, len, from, &hits, &n)))
    return err;
  while (!mark->seq && n > 0)
    {
      n--;
      end = (size_t)((const char *)memchr (buf + hits[n], '\n',
                                           len - hits[n])
                     - buf);
      mark_line (buf + hits[n], end - hits[n], mark);
    }
  free (hits);
  *r_next = start + (off_t)from;
  return 0;
}

/* The offset of the end of the last line of BUF/LEN, read at START, or
 * -1 if it holds none (then only START 0 is fine: nothing to read).  */
static off_t
last_line_end (const char *buf, size_t len, off_t start)
{
  const char *nl = memrchr (buf, '\n', len);

  if (nl)
    return start + (nl + 1 - buf);
  return start ? -1 : 0;
}

/* Find the newest registry digest in the segment PATH into MARK.  A
 * torn last line (no LF) is no record: the search starts before it.  */
static gpg_error_t
mark_segment (const char *path, struct pani_audit_registry_mark *mark,
              char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL;
  struct stat st;
  off_t end, start;
  int fd = -1;

  if ((err = pani_open_file (path, O_RDONLY, 0, &fd, r_reason)))
    return gpg_err_code (err) == GPG_ERR_ENOENT ? 0 : err;
  if (fstat (fd, &st) || !(buf = malloc (BACK_CHUNK)))
    err = pani_reason_sys (r_reason, path);
  for (end = err || !buf ? 0 : st.st_size;
       !err && buf && !mark->seq && end > 0; end = start)
    {
      start = end > BACK_CHUNK ? end - BACK_CHUNK : 0;
      if (pread (fd, buf, (size_t)(end - start), start)
          != (ssize_t)(end - start))
        err = pani_reason_sys (r_reason, path);
      else if (end == st.st_size && buf[end - start - 1] != '\n')
        start = last_line_end (buf, (size_t)(end - start), start);
      else
        err = mark_chunk (buf, (size_t)(end - start), start, mark, &start);
      if (!err && start < 0)
        err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                           "%s: a line longer than %d bytes", path,
                           PAN_AUDIT_MAX_LINE);
    }
  free (buf);
  close (fd);
  return err;
}

gpg_error_t
pani_audit_newest_registry (const struct pani_audit_files *f,
                            const char *dir,
                            struct pani_audit_registry_mark *mark,
                            char **r_reason)
{
  gpg_error_t err;
  char **paths = NULL;
  size_t n = 0;

  memset (mark, 0, sizeof *mark);
  if ((err = mark_segment (f->log, mark, r_reason)) || mark->seq)
    return err;
  if ((err = pani_audit_segments_list (dir, &paths, &n, r_reason)))
    return err;
  for (size_t i = n; !err && !mark->seq && i > 0; i--)
    err = mark_segment (paths[i - 1], mark, r_reason);
  pani_audit_segments_free (paths, n);
  return err;
}


/*
 * Rotation.
 */

/* Read the first record of the open segment F->LOG into P (its line in
 * *R_LINE, to be freed).  */
static gpg_error_t
read_first (const struct pani_audit_files *f, struct pani_audit_parsed *p,
            char **r_line, char **r_reason)
{
  gpg_error_t err;
  int fd;
  char *buf = NULL, *nl;
  ssize_t n;

  *r_line = NULL;
  if ((err = pani_open_file (f->log, O_RDONLY, 0, &fd, r_reason)))
    return err;
  if (!(buf = malloc (PAN_AUDIT_MAX_LINE + 1)))
    err = gpg_error_from_syserror ();
  else if ((n = pread (fd, buf, PAN_AUDIT_MAX_LINE + 1, 0)) < 0)
    err = pani_reason_sys (r_reason, f->log);
  else if (!n || !(nl = memchr (buf, '\n', (size_t)n)))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                       "%s holds no complete record: nothing to rotate",
                       f->log);
  else if ((err = pani_audit_parse (buf, (size_t)(nl - buf), p, NULL)))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                       "%s: the first record is not valid; run 'panaudit"
                       " verify'",
                       f->log);
  close (fd);
  if (err)
    free (buf);
  else
    *r_line = buf;
  return err;
}

/* Format T as YYYYMMDDTHHMMSSZ into BUF (17 bytes).  */
static void
compact_time (time_t t, char buf[17])
{
  struct tm tm;

  gmtime_r (&t, &tm);
  strftime (buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* Who owns the files rotate and prune make, and their modes.  */
struct file_role
{
  uid_t uid;
  gid_t gid; /* (gid_t)-1: as the directory gives it.  */
  mode_t log, closed, checkpoint;
};

/* Fill R with the owner and modes of the role of CTX's home.  */
static void
file_role (pan_ctx_t ctx, struct file_role *r)
{
  r->uid = ctx->operator_uid;
  r->gid = ctx->shared ? ctx->sender_gid : (gid_t)-1;
  r->log = ctx->shared ? 0660 : 0600;
  r->closed = ctx->shared ? 0440 : 0400;
  r->checkpoint = ctx->shared ? 0640 : 0600;
}

/* Give the file FD (PATH) the owner of R and MODE.  Only root may give
 * a file away: others keep what they made.  */
static gpg_error_t
set_role (int fd, const char *path, const struct file_role *r, mode_t mode,
          char **r_reason)
{
  if ((fchown (fd, r->uid, r->gid) && errno != EPERM) || fchmod (fd, mode))
    return pani_reason_sys (r_reason, path);
  return 0;
}

/* What a rotation needs to know of the segment it closes.  */
struct closing
{
  unsigned long long first, last;
  time_t first_time;
  char head[AUDIT_HEXLEN]; /* Before the closing record.  */
  char *name;              /* Of the closed file.  */
  char *path;
  struct stat st;  /* Of audit.log before.  */
  const char *dir; /* The home: where the closed segments are.  */
  struct file_role role;
  struct pani_audit_registry_mark mark; /* The newest registry digest. */
};

/* Append the record of EVENT with REASON; REGISTRY (NULL: none) is the
 * registry digest it carries.  */
static gpg_error_t
append_event (const struct pani_audit_files *f, const char *event,
              const char *operator_name, const char *reason,
              const char *registry, time_t now, int facility,
              char **r_reason)
{
  struct pan_audit_event ev;

  memset (&ev, 0, sizeof ev);
  ev.registry_sha256 = registry;
  ev.event = event;
  ev.tool = "panaudit";
  ev.operator_name = operator_name;
  ev.outcome = "ok";
  ev.reason = reason;
  return pani_audit_append_locked (f, &ev, now, facility, r_reason);
}

/* Learn where the open segment of F starts into C.  */
static gpg_error_t
closing_begin (const struct pani_audit_files *f, struct closing *c,
               char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_parsed p;
  char *line = NULL;

  memset (&p, 0, sizeof p);
  if ((err = read_first (f, &p, &line, r_reason)))
    return err;
  c->first = p.rec.seq;
  c->first_time = p.rec.time;
  pani_audit_parsed_clear (&p);
  free (line);
  if (lstat (f->log, &c->st))
    return pani_reason_sys (r_reason, f->log);
  return pani_audit_newest_registry (f, c->dir, &c->mark, r_reason);
}

/* After the closing record: name the closed file of C from audit.key
 * (the closing record is the last) and the time NOW.  */
static gpg_error_t
closing_name (const struct pani_audit_files *f, struct closing *c,
              time_t now, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_state st;
  char t1[17], t2[17];
  const char *slash = strrchr (f->log, '/');
  int missing = 0;

  if ((err = pani_audit_state_read (f->key, &st, &missing, r_reason)))
    return err;
  if (missing || st.seq < 2)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                       "%s is missing", f->key);
  else
    {
      c->last = st.seq - 1;
      memcpy (c->head, st.prev, sizeof c->head);
      compact_time (c->first_time, t1);
      compact_time (now, t2);
      c->name = pani_strdupf (SEG_PREFIX "%012llu-%012llu-%s-%s" SEG_SUFFIX,
                              c->first, c->last, t1, t2);
      c->path = c->name
        ? pani_strdupf ("%.*s/%s", slash ? (int)(slash - f->log) : 1,
                        slash ? f->log : ".", c->name)
        : NULL;
      if (!c->path)
        err = gpg_error_from_syserror ();
    }
  pani_audit_state_clear (&st);
  return err;
}

/* Make the closed segment read-only under its name and start an empty
 * audit.log, each with the owner and mode of its role.  */
static gpg_error_t
closing_swap (const struct pani_audit_files *f, const struct closing *c,
              char **r_reason)
{
  gpg_error_t err;
  int fd;

  if ((err = pani_open_file (f->log, O_RDONLY, 0, &fd, r_reason)))
    return err;
  err = set_role (fd, f->log, &c->role, c->role.closed, r_reason);
  close (fd);
  if (err)
    return err;
  if (link (f->log, c->path))
    return pani_reason_sys (r_reason, c->path);
  if (unlink (f->log))
    return pani_reason_sys (r_reason, f->log);
  if ((err = pani_open_file (f->log, O_WRONLY | O_CREAT | O_EXCL,
                             c->role.log, &fd, r_reason)))
    return err;
  if (!(err = set_role (fd, f->log, &c->role, c->role.log, r_reason))
      && fsync (fd))
    err = pani_reason_sys (r_reason, f->log);
  close (fd);
  return err;
}

/* Close the open segment of F (locked) at NOW for OPERATOR_NAME and
 * start the next; the closed file's path in C.  */
static gpg_error_t
rotate_locked (struct pani_audit_files *f, struct closing *c,
               const char *operator_name, time_t now, int facility,
               char **r_reason)
{
  gpg_error_t err;
  char *why = NULL;

  if ((err = closing_begin (f, c, r_reason)))
    return err;
  why = pani_strdupf ("closes the segment that starts at record %llu;"
                      " its head is the prev of this record",
                      c->first);
  if (!why)
    return gpg_error_from_syserror ();
  err = append_event (f, "segment-close", operator_name, why, NULL, now,
                      facility, r_reason);
  free (why);
  if (err || (err = closing_name (f, c, now, r_reason))
      || (err = closing_swap (f, c, r_reason)))
    return err;
  why = pani_strdupf ("continues from the closed segment %s (records %llu"
                      " to %llu, head sha256 %s)",
                      c->name, c->first, c->last, c->head);
  if (!why)
    return gpg_error_from_syserror ();
  f->new_segment = 1;
  /* The new segment carries the newest registry digest: pansend and
   * pankey check find it there, and pruning the segment that recorded
   * it does not lose it.  */
  err = append_event (f, "segment-open", operator_name, why,
                      c->mark.seq ? c->mark.sha256 : NULL, now, facility,
                      r_reason);
  free (why);
  return err;
}

gpg_error_t
pan_audit_rotate (pan_ctx_t ctx, const char *operator_name, time_t now,
                  char **r_segment, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;
  struct closing c;
  int facility = -1;

  memset (&c, 0, sizeof c);
  c.dir = pan_ctx_home (ctx);
  file_role (ctx, &c.role);
  *r_segment = NULL;
  if (!(err = pani_audit_syslog_config (ctx, &facility, r_reason))
      && !(err = pani_audit_files_init (ctx, &f)))
    {
      if (!(err = pani_audit_lock (&f, r_reason)))
        err = rotate_locked (&f, &c, operator_name, now, facility, r_reason);
      pani_audit_files_release (&f);
    }
  if (!err)
    {
      *r_segment = c.path;
      c.path = NULL;
    }
  free (c.name);
  free (c.path);
  return err;
}


/*
 * Pruning.
 */

/* Store the time, sequence number and line hash of the last record of
 * the closed segment PATH.  */
static gpg_error_t
segment_end (const char *path, struct pani_audit_parsed *p,
             char hash[AUDIT_HEXLEN], char **r_reason)
{
  gpg_error_t err = 0;
  int fd = -1;
  size_t want = PAN_AUDIT_MAX_LINE + 2, n;
  char *buf = NULL, *end, *start;
  struct stat st;
  ssize_t got;

  if ((err = pani_open_file (path, O_RDONLY, 0, &fd, r_reason)))
    goto leave;
  if (fstat (fd, &st))
    {
      err = pani_reason_sys (r_reason, path);
      goto leave;
    }
  if (!(buf = malloc (want)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  n = (size_t)st.st_size < want ? (size_t)st.st_size : want;
  got = pread (fd, buf, n, st.st_size - (off_t)n);
  if (got != (ssize_t)n || n < 2 || buf[n - 1] != '\n')
    {
      err = gpg_error (GPG_ERR_INV_DATA);
      pani_reason (r_reason, err, "%s does not end in a record", path);
      goto leave;
    }
  end = buf + n - 1;
  for (start = end; start > buf && start[-1] != '\n'; start--)
    ;
  if (pani_audit_parse (start, (size_t)(end - start), p, NULL))
    {
      err = gpg_error (GPG_ERR_INV_DATA);
      pani_reason (r_reason, err,
                   "%s: its last record is not valid; run 'panaudit"
                   " verify'",
                   path);
    }
  else
    pani_audit_sha256_hex (start, (size_t)(end - start), hash);
  p->rec.line = NULL;

leave:
  if (fd >= 0)
    close (fd);
  free (buf);
  return err;
}

/* Count at *R_N the oldest closed segments of PATHS whose last record
 * is older than CUT; the last of them ends with record *R_SEQ, whose
 * line hashes to HASH.  */
static gpg_error_t
prunable (char **paths, size_t npaths, time_t cut, size_t *r_n,
          unsigned long long *r_seq, char hash[AUDIT_HEXLEN],
          char **r_reason)
{
  gpg_error_t err = 0;
  struct pani_audit_parsed p;
  char h[AUDIT_HEXLEN];

  /* H is written by every segment_end that returns 0; cleared for the
   * analysers, which cannot see that an error is never 0.  */
  memset (h, 0, sizeof h);
  memset (&p, 0, sizeof p);
  for (*r_n = 0; !err && *r_n < npaths; ++*r_n)
    {
      if ((err = segment_end (paths[*r_n], &p, h, r_reason)))
        break;
      if (p.rec.time >= cut)
        break;
      *r_seq = p.rec.seq;
      memcpy (hash, h, AUDIT_HEXLEN);
    }
  pani_audit_parsed_clear (&p);
  return err;
}

/* Store the checkpoint LINE beside the log of F, owned as ROLE says.  */
static gpg_error_t
write_checkpoint (const struct pani_audit_files *f, const char *line,
                  const struct file_role *role, char **r_reason)
{
  gpg_error_t err;
  char *path, *text = NULL;
  int fd;

  if (!(path = pani_strdupf ("%.*s%s",
                             (int)(strrchr (f->log, '/') + 1 - f->log),
                             f->log, AUDIT_CHECKPOINT_FILE)))
    return gpg_error_from_syserror ();
  if (!(text = pani_strdupf ("%s\n", line)))
    err = gpg_error_from_syserror ();
  else if (!(err = pani_write_file_atomic (path, text, strlen (text),
                                           role->checkpoint, r_reason))
           && !(err = pani_open_file (path, O_RDONLY, 0, &fd, r_reason)))
    {
      err = set_role (fd, path, role, role->checkpoint, r_reason);
      close (fd);
    }
  free (text);
  free (path);
  return err;
}

/* Record the pruning up to the checkpoint LINE, store the checkpoint,
 * then remove the N segments PATHS (F locked).  */
static gpg_error_t
prune_locked (const struct pani_audit_files *f, char **paths, size_t n,
              const char *line, const struct file_role *role, time_t now,
              int facility, char **r_reason)
{
  gpg_error_t err;
  char *why;
  size_t i;

  why = pani_strdupf ("pruned %zu closed segments older than"
                      " audit-retention; the log continues after the"
                      " checkpoint %s",
                      n, line);
  if (!why)
    return gpg_error_from_syserror ();
  err = append_event (f, "prune", NULL, why, NULL, now, facility, r_reason);
  free (why);
  if (err || (err = write_checkpoint (f, line, role, r_reason)))
    return err;
  for (i = 0; !err && i < n; i++)
    if (unlink (paths[i]))
      err = pani_reason_sys (r_reason, paths[i]);
  return err;
}

gpg_error_t
pan_audit_prune (pan_ctx_t ctx, time_t now, size_t *r_count, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;
  long days = pan_config_get_int (pan_ctx_config (ctx), "audit-retention");
  char **paths = NULL, hash[AUDIT_HEXLEN], *line = NULL;
  unsigned long long seq = 0;
  size_t npaths = 0, n = 0;
  int facility = -1;
  struct file_role role;

  *r_count = 0;
  file_role (ctx, &role);
  if ((err = pani_audit_syslog_config (ctx, &facility, r_reason))
      || (err = pani_audit_files_init (ctx, &f)))
    return err;
  if ((err = pani_audit_lock (&f, r_reason))
      || (err = pani_audit_segments_list (pan_ctx_home (ctx), &paths,
                                          &npaths, r_reason))
      || (err = prunable (paths, npaths, now - days * 86400L, &n, &seq, hash,
                          r_reason)))
    goto leave;
  if (!n || !paths)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                       "no closed segment ends before the retention of %ld"
                       " days (audit-retention): nothing pruned",
                       days);
  else if (!(line = pani_strdupf ("panmail-anchor 1 seq=%llu sha256=%s", seq,
                                  hash)))
    err = gpg_error_from_syserror ();
  else if (!(err = prune_locked (&f, paths, n, line, &role, now, facility,
                                 r_reason)))
    *r_count = n;

leave:
  free (line);
  pani_audit_segments_free (paths, npaths);
  pani_audit_files_release (&f);
  return err;
}
