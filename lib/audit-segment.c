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
 *
 * Compressing a segment: it is written to X.log.gz.tmp outside the
 * audit lock (writers are not held up), with the owner and mode of a
 * closed segment, and synced; then, under the lock, renamed to X.log.gz
 * and X.log removed.  Readers that listed X.log before find X.log.gz in
 * its place (audit-read.c); a run stopped between the two leaves both,
 * and the listing takes X.log.  A flock on X.log keeps two compressors
 * of one segment apart.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* Fill R with the owner and modes of the role of CTX's home.  */
void
pani_audit_file_role (pan_ctx_t ctx, struct pani_audit_role *r)
{
  r->uid = ctx->operator_uid;
  r->gid = ctx->shared ? ctx->sender_gid : (gid_t)-1;
  r->log = ctx->shared ? 0660 : 0600;
  r->closed = ctx->shared ? 0440 : 0400;
  r->checkpoint = ctx->shared ? 0640 : 0600;
}

gpg_error_t
pani_audit_set_role (int fd, const char *path,
                     const struct pani_audit_role *r, mode_t mode,
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
  struct pani_audit_role role;
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
  return 0;
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

/* Make the closed segment read-only under its name and put an empty
 * audit.log in its place, each with the owner and mode of its role.
 * The new file is made first as audit.log.new, so that audit.log is
 * never missing: a rotation stopped after the link leaves audit.log and
 * the closed segment as one file, which readers take as an empty
 * audit.log and the next writer completes (audit-append.c).  */
static gpg_error_t
closing_swap (const struct pani_audit_files *f, const struct closing *c,
              char **r_reason)
{
  gpg_error_t err;
  char *tmp = pani_strdupf ("%s%s", f->log, AUDIT_NEW_SUFFIX);
  int fd = -1;

  if (!tmp)
    return gpg_error_from_syserror ();
  if (unlink (tmp) && errno != ENOENT)
    err = pani_reason_sys (r_reason, tmp);
  else if (!(err = pani_open_file (tmp, O_WRONLY | O_CREAT | O_EXCL,
                                   c->role.log, &fd, r_reason))
           && !(err = pani_audit_set_role (fd, tmp, &c->role, c->role.log,
                                           r_reason))
           && fsync (fd))
    err = pani_reason_sys (r_reason, tmp);
  if (fd >= 0)
    close (fd);
  if (!err && !(err = pani_open_file (f->log, O_RDONLY, 0, &fd, r_reason)))
    {
      err = pani_audit_set_role (fd, f->log, &c->role, c->role.closed,
                                 r_reason);
      close (fd);
    }
  if (!err && link (f->log, c->path))
    err = pani_reason_sys (r_reason, c->path);
  pani_test_crash ("rotate-linked");
  if (!err && rename (tmp, f->log))
    err = pani_reason_sys (r_reason, f->log);
  pani_test_crash ("rotate-renamed");
  free (tmp);
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

  if ((err = pani_audit_finish_rotation (f, now, facility, r_reason))
      || (err = closing_begin (f, c, r_reason)))
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
  return pani_audit_segment_open (f, c->dir, c->name, c->first, c->last,
                                  c->head, operator_name, now, facility,
                                  r_reason);
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
  pani_audit_file_role (ctx, &c.role);
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

  /* H is written by every pani_audit_segment_end that returns 0; cleared for the
   * analysers, which cannot see that an error is never 0.  */
  memset (h, 0, sizeof h);
  memset (&p, 0, sizeof p);
  for (*r_n = 0; !err && *r_n < npaths; ++*r_n)
    {
      if ((err = pani_audit_segment_end (paths[*r_n], &p, h, r_reason)))
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
                  const struct pani_audit_role *role, char **r_reason)
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
      err = pani_audit_set_role (fd, path, role, role->checkpoint, r_reason);
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
              const char *line, const struct pani_audit_role *role,
              time_t now, int facility, char **r_reason)
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
  struct pani_audit_role role;

  *r_count = 0;
  pani_audit_file_role (ctx, &role);
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


/*
 * Compressing closed segments.
 */

/* Compress the closed segment open at SRC into the new file TMP, owned
 * and moded as ROLE says for a closed segment, and sync it.  */
static gpg_error_t
compress_to (int src, const char *tmp, const struct pani_audit_role *role,
             char **r_reason)
{
  gpg_error_t err;
  int dst;

  if (unlink (tmp) && errno != ENOENT)
    return pani_reason_sys (r_reason, tmp);
  if ((err = pani_open_file (tmp, O_WRONLY | O_CREAT | O_EXCL, 0600, &dst,
                             r_reason)))
    return err;
  if ((err = pani_audit_gz_compress (src, dst)))
    err = pani_reason (r_reason, err, "%s: %s", tmp, gpg_strerror (err));
  else if (!(err = pani_audit_set_role (dst, tmp, role, role->closed,
                                        r_reason))
           && fsync (dst))
    err = pani_reason_sys (r_reason, tmp);
  close (dst);
  if (err)
    unlink (tmp);
  return err;
}

/* Under the lock of F, put TMP in place as GZ and remove the closed
 * segment PATH, unless prune removed it meanwhile; then sync DIR.  */
static gpg_error_t
compress_switch (struct pani_audit_files *f, const char *dir,
                 const char *path, const char *tmp, const char *gz,
                 char **r_reason)
{
  gpg_error_t err;
  struct stat st;
  int fd;

  if ((err = pani_audit_lock (f, r_reason)))
    return err;
  if (lstat (path, &st))
    unlink (tmp);
  else if (rename (tmp, gz))
    err = pani_reason_sys (r_reason, gz);
  else if (unlink (path))
    err = pani_reason_sys (r_reason, path);
  pani_unlock (f->lockfd);
  f->lockfd = -1;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (!err && (fd < 0 || fsync (fd)))
    err = pani_reason_sys (r_reason, dir);
  if (fd >= 0)
    close (fd);
  return err;
}

/* Compress the closed segment PATH of the home DIR to PATH.gz.  Set
 * *R_DONE unless another process is compressing it (it holds the
 * segment's flock).  */
static gpg_error_t
compress_segment (struct pani_audit_files *f, const char *dir,
                  const char *path, const struct pani_audit_role *role,
                  int *r_done, char **r_reason)
{
  gpg_error_t err;
  char *gz = pani_strdupf ("%s%s", path, AUDIT_GZ_SUFFIX);
  char *tmp = pani_strdupf ("%s%s.tmp", path, AUDIT_GZ_SUFFIX);
  int src = -1;

  *r_done = 0;
  if (!gz || !tmp)
    err = gpg_error_from_syserror ();
  else if ((err = pani_open_file (path, O_RDONLY, 0, &src, r_reason)))
    ;
  else if (flock (src, LOCK_EX | LOCK_NB))
    err = errno == EWOULDBLOCK ? 0 : pani_reason_sys (r_reason, path);
  else if (!(err = compress_to (src, tmp, role, r_reason))
           && !(err = compress_switch (f, dir, path, tmp, gz, r_reason)))
    *r_done = 1;
  if (src >= 0)
    close (src);
  free (gz);
  free (tmp);
  return err;
}

gpg_error_t
pan_audit_compress (pan_ctx_t ctx, size_t *r_count, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;
  struct pani_audit_role role;
  char **paths = NULL;
  size_t npaths = 0, i;
  int done;

  *r_count = 0;
  pani_audit_file_role (ctx, &role);
  if ((err = pani_audit_files_init (ctx, &f)))
    return err;
  err = pani_audit_segments_list (pan_ctx_home (ctx), &paths, &npaths,
                                  r_reason);
  for (i = 0; !err && i < npaths; i++)
    if (!pani_audit_is_gz (paths[i])
        && !(err = compress_segment (&f, pan_ctx_home (ctx), paths[i], &role,
                                     &done, r_reason)))
      *r_count += done;
  pani_audit_segments_free (paths, npaths);
  pani_audit_files_release (&f);
  return err;
}
