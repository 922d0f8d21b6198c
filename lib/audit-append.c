/* audit-append.c - appending records to the audit log
 *
 * Writers hold HOME/audit.lock, append each line with one write(2) and
 * fsync(2), then replace audit.key.  A line without its LF (a killed
 * writer) is closed by the next writer and named, by length and hash,
 * in a "recovery" record, so that it is neither lost nor hidden.
 *
 * The audit key is created here too, together with its first record
 * and under the same hold of the lock: a key is handed out only once
 * its creation is recorded.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"

/* The log of a home, opened for appending under its lock.  */
struct writer
{
  const struct pani_audit_files *f; /* Locked by the caller.  */
  int fd;
  off_t size;  /* Of the log, as we left it.  */
  int need_nl; /* The log ends in a torn line.  */
  off_t torn_len;
  char torn_hash[AUDIT_HEXLEN];
  unsigned long long last_seq;
  char prev[AUDIT_HEXLEN];
  struct pani_audit_state st;
  char host[256];
};


/*
 * The end of the log.
 */

/* Store at *R_POS the offset of the last LF before END, or -1.  */
static gpg_error_t
find_last_lf (int fd, off_t end, off_t *r_pos)
{
  char chunk[4096];
  off_t start;
  ssize_t n;

  *r_pos = -1;
  while (end > 0)
    {
      start = end > (off_t)sizeof chunk ? end - (off_t)sizeof chunk : 0;
      n = pread (fd, chunk, end - start, start);
      if (n != end - start)
        return n < 0 ? gpg_error_from_syserror () : gpg_error (GPG_ERR_EIO);
      while (n > 0)
        if (chunk[--n] == '\n')
          {
            *r_pos = start + n;
            return 0;
          }
      end = start;
    }
  return 0;
}

static gpg_error_t
hash_range (int fd, off_t start, off_t len, char hex[AUDIT_HEXLEN])
{
  gpg_error_t err;
  gcry_md_hd_t hd;
  char chunk[4096];
  ssize_t n;

  if ((err = gcry_md_open (&hd, GCRY_MD_SHA256, 0)))
    return err;
  while (!err && len > 0)
    {
      n = pread (fd, chunk,
                 len > (off_t)sizeof chunk ? sizeof chunk : (size_t)len,
                 start);
      if (n <= 0)
        err = n < 0 ? gpg_error_from_syserror () : gpg_error (GPG_ERR_EIO);
      else
        {
          gcry_md_write (hd, chunk, n);
          start += n;
          len -= n;
        }
    }
  if (!err)
    pani_bin2hex (gcry_md_read (hd, GCRY_MD_SHA256), 32, hex);
  gcry_md_close (hd);
  return err;
}

/* Read the last complete line [START, END) and take its seq and hash.  */
static gpg_error_t
read_last_record (struct writer *w, off_t start, off_t end, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_parsed p;
  char *line = NULL, *why = NULL;
  size_t len = (size_t)(end - start);

  memset (&p, 0, sizeof p);
  if (end - start > PAN_AUDIT_MAX_LINE)
    err = gpg_error (GPG_ERR_INV_DATA);
  else if (!(line = malloc (len + 1)))
    err = gpg_error_from_syserror ();
  else if (pread (w->fd, line, len, start) != (ssize_t)len)
    err = gpg_error (GPG_ERR_EIO);
  else if (!(err = pani_audit_parse (line, len, &p, &why)))
    {
      w->last_seq = p.rec.seq;
      pani_sha256_hex (line, len, w->prev);
    }
  if (gpg_err_code (err) == GPG_ERR_INV_DATA)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                       "%s: the last record is not valid (%s); nothing can"
                       " be appended until 'panaudit verify' is clean",
                       w->f->log, why ? why : "too long");
  else if (err)
    err = pani_reason (r_reason, err, "%s: %s", w->f->log,
                       gpg_strerror (err));
  pani_audit_parsed_clear (&p);
  free (why);
  free (line);
  return err;
}

/* Find the last record and any torn line after it.  */
static gpg_error_t
read_tail (struct writer *w, char **r_reason)
{
  gpg_error_t err;
  off_t lf, lf0;

  w->last_seq = 0;
  memcpy (w->prev, AUDIT_ZERO_HASH, sizeof w->prev);
  if (!w->size && w->f->new_segment && w->st.seq > 1)
    {
      /* The first record of a segment that panaudit rotate just
       * started continues the chain of the one it closed.  */
      w->last_seq = w->st.seq - 1;
      memcpy (w->prev, w->st.prev, sizeof w->prev);
      return 0;
    }
  if (!w->size)
    return 0;
  if ((err = find_last_lf (w->fd, w->size, &lf)))
    return pani_reason (r_reason, err, "%s: %s", w->f->log,
                        gpg_strerror (err));
  if (lf != w->size - 1)
    {
      w->need_nl = 1;
      w->torn_len = w->size - (lf + 1);
      if ((err = hash_range (w->fd, lf + 1, w->torn_len, w->torn_hash)))
        return pani_reason (r_reason, err, "%s: %s", w->f->log,
                            gpg_strerror (err));
    }
  if (lf < 0)
    return 0;
  if ((err = find_last_lf (w->fd, lf, &lf0)))
    return pani_reason (r_reason, err, "%s: %s", w->f->log,
                        gpg_strerror (err));
  return read_last_record (w, lf0 + 1, lf, r_reason);
}

/* Bring audit.key in line with the log, or refuse.  */
static gpg_error_t
reconcile_state (struct writer *w, char **r_reason)
{
  unsigned long long s = w->st.seq;

  if (s == w->last_seq)
    {
      /* A writer died after its append, before it saved the evolved
       * key: evolve it and save it now, before this record, so that
       * another crash cannot leave the key two records behind.  */
      gpg_error_t err;

      w->st.seq++;
      memcpy (w->st.prev, w->prev, sizeof w->st.prev);
      if ((err = pani_audit_key_evolve (w->st.key)))
        return err;
      return pani_audit_state_write (w->f->key, &w->st, r_reason);
    }
  if (s == w->last_seq + 1)
    return 0;
  if (s > w->last_seq)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                        "%s expects record %llu but %s ends at record %llu:"
                        " the log was truncated or replaced; run 'panaudit"
                        " verify'",
                        w->f->key, s, w->f->log, w->last_seq);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                      "%s is %llu records behind %s: records were added"
                      " without the audit key; run 'panaudit verify'",
                      w->f->key, w->last_seq - s, w->f->log);
}


/*
 * The writer.
 */

/* Open the log; create it only for the first record, so that a log
 * removed later is noticed.  */
static gpg_error_t
open_log_for_append (struct writer *w, char **r_reason)
{
  struct stat st;
  gpg_error_t err;

  if ((err = pani_open_file (w->f->log,
                             O_RDWR | O_APPEND
                               | (w->st.seq == 1 ? O_CREAT : 0),
                             0600, &w->fd, r_reason)))
    return err;
  if (fstat (w->fd, &st))
    return pani_reason_sys (r_reason, w->f->log);
  w->size = st.st_size;
  return 0;
}

static gpg_error_t
read_state (struct writer *w, char **r_reason)
{
  gpg_error_t err;
  int missing = 0;

  if ((err = pani_audit_state_read (w->f->key, &w->st, &missing, r_reason)))
    return err;
  if (missing)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                        "%s is missing: records cannot be authenticated;"
                        " create it with 'panaudit init-key' (new home) or"
                        " restore it from a backup",
                        w->f->key);
  return 0;
}

static void
writer_release (struct writer *w)
{
  if (w->fd >= 0)
    close (w->fd);
  w->fd = -1;
  pani_audit_state_clear (&w->st);
}

/* Open the log of the files F, which the caller has locked, for the
 * next record.  */
static gpg_error_t
writer_open (struct writer *w, const struct pani_audit_files *f,
             char **r_reason)
{
  gpg_error_t err;

  memset (w, 0, sizeof *w);
  w->f = f;
  w->fd = -1;
  pani_hostname (w->host, sizeof w->host, "unknown");
  if ((err = read_state (w, r_reason))
      || (err = open_log_for_append (w, r_reason))
      || (err = read_tail (w, r_reason)))
    return err;
  return reconcile_state (w, r_reason);
}

/* Undo a partial append.  */
static void
cut_back (struct writer *w)
{
  if (!ftruncate (w->fd, w->size))
    fsync (w->fd);
}

/* Append DATA/LEN (one write, continued only after a short write) and
 * fsync; on failure cut the log back.  */
static gpg_error_t
append_bytes (struct writer *w, const char *data, size_t len,
              char **r_reason)
{
  gpg_error_t err = pani_write_all (w->fd, data, len);

  if (!err && fsync (w->fd))
    err = gpg_error_from_syserror ();
  if (err)
    {
      cut_back (w);
      return pani_reason (r_reason, err, "%s: appending the record: %s",
                          w->f->log, gpg_strerror (err));
    }
  w->size += len;
  return 0;
}

/* Make the line (with LF) of REC, whose MAC is computed here.  */
static gpg_error_t
make_line (struct writer *w, struct pan_audit_record *rec,
           struct pani_buf *b, char **r_reason)
{
  gpg_error_t err;
  char mac[AUDIT_HEXLEN];
  size_t start;

  if (w->need_nl)
    pani_buf_putc (b, '\n');
  start = b->len;
  pani_audit_format_prefix (b, rec);
  if ((err = pani_buf_error (b)))
    return err;
  err = pani_audit_key_mac (w->st.key, b->data + start, b->len - start, mac);
  if (err)
    return err;
  pani_buf_printf (b, AUDIT_MAC_PREFIX "%s\"}", mac);
  if ((err = pani_buf_error (b)))
    return err;
  if (b->len - start > PAN_AUDIT_MAX_LINE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "the audit record would be longer than %d bytes",
                        PAN_AUDIT_MAX_LINE);
  pani_buf_putc (b, '\n');
  return pani_buf_error (b);
}

/* Append REC as the next record, then evolve and store the key.  */
static gpg_error_t
write_record (struct writer *w, struct pan_audit_record *rec,
              char **r_reason)
{
  gpg_error_t err;
  struct pani_buf b = { NULL, 0, 0, 0 };
  off_t before = w->size;
  size_t skip;

  rec->seq = w->st.seq;
  rec->host = w->host;
  rec->prev = w->prev;
  if ((err = make_line (w, rec, &b, r_reason))
      || (err = append_bytes (w, b.data, b.len, r_reason)))
    goto leave;
  pani_test_crash ("audit-appended");
  skip = w->need_nl;
  w->need_nl = 0;
  pani_sha256_hex (b.data + skip, b.len - skip - 1, w->st.prev);
  w->st.seq++;
  if ((err = pani_audit_key_evolve (w->st.key))
      || (err = pani_audit_state_write (w->f->key, &w->st, r_reason)))
    {
      w->size = before;
      cut_back (w);
      goto leave;
    }
  memcpy (w->prev, w->st.prev, sizeof w->prev);
  w->last_seq = rec->seq;

leave:
  pani_buf_free (&b);
  return err;
}

static const char *
login_user (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return pw && pw->pw_name ? pw->pw_name : "unknown";
}

static gpg_error_t
write_recovery (struct writer *w, time_t now, const char *tool,
                char **r_reason)
{
  struct pan_audit_record rec;

  memset (&rec, 0, sizeof rec);
  rec.time = now;
  rec.ev.event = "recovery";
  rec.ev.tool = tool;
  rec.ev.operator_name = login_user ();
  rec.ev.reason = "the log ended in a torn line (an interrupted writer);"
                  " the line is kept and named here";
  rec.torn_length = w->torn_len;
  rec.torn_sha256 = w->torn_hash;
  return write_record (w, &rec, r_reason);
}


/*
 * The first record of a segment, and a rotation that stopped half-way
 * (see closing_swap in audit-segment.c).
 */

gpg_error_t
pani_audit_segment_open (const struct pani_audit_files *f, const char *dir,
                         const char *name, unsigned long long first,
                         unsigned long long last, const char *head,
                         const char *operator_name, time_t now, int facility,
                         char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files g = *f;
  struct pani_audit_registry_mark mark;
  struct pan_audit_event ev;
  char *why;

  if ((err = pani_audit_newest_registry (f, dir, &mark, r_reason)))
    return err;
  why = pani_strdupf ("continues from the closed segment %s (records %llu"
                      " to %llu, head sha256 %s)",
                      name, first, last, head);
  if (!why)
    return gpg_error_from_syserror ();
  g.new_segment = 1;
  /* The new segment carries the newest registry digest: pansend and
   * pankey check find it there, and pruning the segment that recorded
   * it does not lose it.  */
  memset (&ev, 0, sizeof ev);
  ev.registry_sha256 = mark.seq ? mark.sha256 : NULL;
  ev.event = "segment-open";
  ev.tool = "panaudit";
  ev.operator_name = operator_name;
  ev.outcome = "ok";
  ev.reason = why;
  err = pani_audit_append_locked (&g, &ev, now, facility, r_reason);
  free (why);
  return err;
}

/* If the new audit.log of a rotation, TMP, is still there: put it in
 * place if audit.log of F is still the closed segment NEWEST (the
 * rotation stopped after the link), else it is a leftover: remove it.  */
static gpg_error_t
finish_swap (const struct pani_audit_files *f, const char *tmp,
             const char *newest, char **r_reason)
{
  struct stat log_st, seg_st;

  if (!lstat (f->log, &log_st) && !lstat (newest, &seg_st)
      && log_st.st_dev == seg_st.st_dev && log_st.st_ino == seg_st.st_ino)
    {
      if (rename (tmp, f->log))
        return pani_reason (r_reason, gpg_error_from_syserror (),
                            "%s: a rotation stopped before it put the new"
                            " log in place, and it cannot be done here"
                            " (%s); run 'panaudit rotate' as the"
                            " operator",
                            f->log, strerror (errno));
      return 0;
    }
  if (unlink (tmp) && errno != ENOENT)
    return pani_reason_sys (r_reason, tmp);
  return 0;
}

/* If the empty audit.log of F continues the chain that the closed
 * segment NEWEST ends with its segment-close record (audit.key names
 * that record as the last), write the segment-open record the stopped
 * rotation did not write.  */
static gpg_error_t
finish_open (const struct pani_audit_files *f, const char *dir,
             const char *newest, time_t now, int facility, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_parsed p;
  struct pani_audit_state st;
  char hash[AUDIT_HEXLEN];
  const char *base = strrchr (newest, '/');
  int missing = 0;

  memset (&p, 0, sizeof p);
  if ((err = pani_audit_state_read (f->key, &st, &missing, r_reason)))
    return err;
  base = base ? base + 1 : newest;
  if (!missing && st.seq > 1
      && !pani_audit_segment_end (newest, &p, hash, NULL)
      && p.rec.seq == st.seq - 1 && !strcmp (hash, st.prev)
      && !strcmp (p.rec.ev.event, "segment-close"))
    err = pani_audit_segment_open (f, dir, base,
                                   strtoull (base + 6, NULL, 10), p.rec.seq,
                                   hash, NULL, now, facility, r_reason);
  pani_audit_parsed_clear (&p);
  pani_audit_state_clear (&st);
  return err;
}

gpg_error_t
pani_audit_finish_rotation (const struct pani_audit_files *f, time_t now,
                            int facility, char **r_reason)
{
  gpg_error_t err = 0;
  const char *slash = strrchr (f->log, '/');
  char *tmp = pani_strdupf ("%s%s", f->log, AUDIT_NEW_SUFFIX),
       **paths = NULL;
  char *dir = slash ? pani_strdupf ("%.*s", (int)(slash - f->log), f->log)
                    : pani_strdup (".");
  struct stat st;
  int have_tmp;
  size_t n = 0;

  if (!tmp || !dir)
    err = gpg_error_from_syserror ();
  else if (f->new_segment)
    goto leave;
  have_tmp = !err && !lstat (tmp, &st);
  if (err || (!have_tmp && (lstat (f->log, &st) || st.st_size)))
    goto leave;
  if ((err = pani_audit_segments_list (dir, &paths, &n, r_reason)) || !n)
    goto leave;
  if (have_tmp && (err = finish_swap (f, tmp, paths[n - 1], r_reason)))
    goto leave;
  if (!lstat (f->log, &st) && !st.st_size)
    err = finish_open (f, dir, paths[n - 1], now, facility, r_reason);

leave:
  pani_audit_segments_free (paths, n);
  free (tmp);
  free (dir);
  return err;
}

/* Append EV (checked) at NOW to the log of F, which the caller has
 * locked, closing a torn line first; mirror it to FACILITY.  */
gpg_error_t
pani_audit_append_locked (const struct pani_audit_files *f,
                          const struct pan_audit_event *ev, time_t now,
                          int facility, char **r_reason)
{
  gpg_error_t err;
  struct writer w;
  struct pan_audit_record rec;

  memset (&w, 0, sizeof w);
  w.fd = -1;
  if ((err = pani_audit_finish_rotation (f, now, facility, r_reason))
      || (err = writer_open (&w, f, r_reason)))
    goto leave;
  if (w.need_nl && (err = write_recovery (&w, now, ev->tool, r_reason)))
    goto leave;
  memset (&rec, 0, sizeof rec);
  rec.time = now;
  rec.ev = *ev;
  if (!rec.ev.operator_name)
    rec.ev.operator_name = login_user ();
  rec.torn_length = -1;
  if ((err = write_record (&w, &rec, r_reason)))
    goto leave;
  pani_audit_syslog_mirror (facility, &rec, w.prev);

leave:
  writer_release (&w);
  return err;
}


/*
 * The public calls.
 */

/* Check EV and the syslog settings of CTX, then lock CTX's audit files
 * into F.  */
static gpg_error_t
prepare (pan_ctx_t ctx, const struct pan_audit_event *ev,
         struct pani_audit_files *f, int *r_facility, char **r_reason)
{
  gpg_error_t err;

  memset (f, 0, sizeof *f);
  f->lockfd = -1;
  *r_facility = -1;
  if ((err = pani_audit_check_event (ev, r_reason))
      || (err = pani_audit_syslog_config (ctx, r_facility, r_reason))
      || (err = pani_audit_files_init (ctx, f)))
    return err;
  return pani_audit_lock (f, r_reason);
}

/* EV (whose log F is locked) with its registry_checked written as
 * registry_sha256 if the log's newest digest still is that one.  So
 * the newest digest is found in the last records, not behind every
 * send since the last key change (pansend looks for it at each send);
 * a key change recorded since the writer's check wins.  If the search
 * fails, the record goes without.  */
static struct pan_audit_event
carry_registry (pan_ctx_t ctx, const struct pani_audit_files *f,
                const struct pan_audit_event *ev)
{
  struct pan_audit_event out = *ev;
  struct pani_audit_registry_mark mark;

  out.registry_checked = NULL;
  if (ev->registry_checked && !ev->registry_sha256
      && !pani_audit_newest_registry (f, pan_ctx_home (ctx), &mark, NULL)
      && mark.seq && !strcmp (mark.sha256, ev->registry_checked))
    out.registry_sha256 = ev->registry_checked;
  return out;
}

gpg_error_t
pan_audit_append (pan_ctx_t ctx, const struct pan_audit_event *ev,
                  time_t now, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;
  struct pan_audit_event out;
  int facility;

  if (!(err = prepare (ctx, ev, &f, &facility, r_reason)))
    {
      out = carry_registry (ctx, &f, ev);
      err = pani_audit_append_locked (&f, &out, now, facility, r_reason);
    }
  pani_audit_files_release (&f);
  return err;
}

/* Undo the creation of the key of F (locked) whose first record could
 * not be stored.  A log that still holds a line keeps its audit.key.  */
static void
remove_new_key (const struct pani_audit_files *f)
{
  struct stat st;
  int empty;

  if (!stat (f->log, &st))
    empty = !st.st_size;
  else
    empty = errno == ENOENT;
  if (empty)
    unlink (f->key);
}

gpg_error_t
pan_audit_create_key (pan_ctx_t ctx, const struct pan_audit_event *ev,
                      time_t now, unsigned int flags, char **r_key_hex,
                      char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;
  struct pan_audit_event out;
  struct pani_audit_registry_mark mark;
  char *hex = NULL;
  int facility;

  *r_key_hex = NULL;
  if ((err = prepare (ctx, ev, &f, &facility, r_reason)))
    goto leave;
  err = pani_audit_key_create (&f, &hex, r_reason);
  if (gpg_err_code (err) == GPG_ERR_EEXIST && (flags & PAN_AUDIT_KEEP_KEY))
    {
      err = 0;
      if (r_reason)
        {
          free (*r_reason);
          *r_reason = NULL;
        }
    }
  if (err)
    goto leave;
  /* Only a new home (a new key, and no log or closed segment that
   * records a registry) starts with EV's digest; otherwise it is
   * recorded only if it already is the newest: a registry edited behind
   * pankey's back is not accepted by an init, neither one that kept the
   * key nor one that made a new key because audit.key and audit.log
   * were gone.  */
  out = *ev;
  if (out.registry_sha256
      && (!hex
          || pani_audit_newest_registry (&f, pan_ctx_home (ctx), &mark, NULL)
          || mark.seq))
    {
      out.registry_checked = out.registry_sha256;
      out.registry_sha256 = NULL;
    }
  out = carry_registry (ctx, &f, &out);
  if ((err = pani_audit_append_locked (&f, &out, now, facility, r_reason))
      && hex)
    remove_new_key (&f);
  if (!err)
    {
      *r_key_hex = hex;
      hex = NULL;
    }

leave:
  pan_audit_key_release (hex);
  pani_audit_files_release (&f);
  return err;
}
