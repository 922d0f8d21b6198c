/* audit-tail.c - the ends of closed segments: the last record, and
 * the newest registry digest of a log
 *
 * Read from the end of a file (pread, backwards) so that the cost does
 * not grow with the log; a compressed segment (audit-gz.c) can only be
 * read from its start, a chunk at a time.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"

/* Call FN (L, ARG) for every line of the compressed segment PATH, in
 * order, reading it a chunk at a time.  */
static gpg_error_t
gz_lines (const char *path,
          void (*fn) (const struct pani_audit_line *l, void *arg), void *arg,
          char **r_reason)
{
  struct pani_audit_snapshot snap;
  struct pani_audit_lines lines;
  struct pani_audit_line l;
  char *files[1];
  gpg_error_t err;

  memset (&snap, 0, sizeof snap);
  snap.logfd = -1;
  snap.no_log = 1;
  files[0] = (char *)path; /* Not released: SNAP is not.  */
  snap.files = files;
  snap.nfiles = 1;
  if ((err = pani_audit_lines_open (&lines, &snap)))
    return err;
  while (pani_audit_lines_next (&lines, &l))
    fn (&l, arg);
  if ((err = lines.err))
    err = pani_reason (r_reason, err, "%s",
                       lines.reason ? lines.reason : path);
  pani_audit_lines_release (&lines);
  return err;
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

/* gz_lines: mark ARG with the line L if it names a registry digest
 * (the last one marked is the newest).  */
static void
mark_gz_line (const struct pani_audit_line *l, void *arg)
{
  if (l->has_nl)
    mark_line (l->p, l->len, arg);
}

/* Find the newest registry digest in the segment PATH into MARK.  A
 * torn last line (no LF) is no record: the search starts before it.
 * A compressed segment is read from its start.  */
static gpg_error_t
mark_segment (const char *path, struct pani_audit_registry_mark *mark,
              char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL;
  struct stat st;
  off_t end, start;
  int fd = -1;

  if (pani_audit_is_gz (path))
    return gz_lines (path, mark_gz_line, mark, r_reason);
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
 * The last record of a closed segment.
 */

/* The last line of a compressed segment, as gz_lines walks it.  */
struct last_line
{
  char *buf; /* PAN_AUDIT_MAX_LINE + 1 bytes.  */
  size_t len;
  int has_nl;
};

static void
keep_last (const struct pani_audit_line *l, void *arg)
{
  struct last_line *ll = arg;

  ll->len = l->len > PAN_AUDIT_MAX_LINE ? PAN_AUDIT_MAX_LINE + 1 : l->len;
  memcpy (ll->buf, l->p, ll->len);
  ll->has_nl = l->has_nl;
}

/* Read the last line of the closed segment PATH into BUF (room for
 * PAN_AUDIT_MAX_LINE + 2 bytes); its length at *R_LEN.  */
static gpg_error_t
last_line (const char *path, char *buf, size_t *r_len, char **r_reason)
{
  gpg_error_t err;
  size_t want = PAN_AUDIT_MAX_LINE + 2, n;
  struct last_line ll = { buf, 0, 0 };
  struct stat st;
  char *start;
  int fd;

  if (pani_audit_is_gz (path))
    {
      if ((err = gz_lines (path, keep_last, &ll, r_reason)))
        return err;
      *r_len = ll.len;
      return ll.has_nl ? 0 : gpg_error (GPG_ERR_INV_DATA);
    }
  if ((err = pani_open_file (path, O_RDONLY, 0, &fd, r_reason)))
    return err;
  if (fstat (fd, &st))
    err = pani_reason_sys (r_reason, path);
  n = !err && (size_t)st.st_size < want ? (size_t)st.st_size : want;
  if (!err
      && (pread (fd, buf, n, st.st_size - (off_t)n) != (ssize_t)n || n < 2
          || buf[n - 1] != '\n'))
    err = gpg_error (GPG_ERR_INV_DATA);
  close (fd);
  if (err)
    return err;
  for (start = buf + n - 1; start > buf && start[-1] != '\n'; start--)
    ;
  *r_len = (size_t)(buf + n - 1 - start);
  memmove (buf, start, *r_len);
  return 0;
}

gpg_error_t
pani_audit_segment_end (const char *path, struct pani_audit_parsed *p,
                        char hash[AUDIT_HEXLEN], char **r_reason)
{
  gpg_error_t err;
  char *buf = malloc (PAN_AUDIT_MAX_LINE + 2);
  size_t len = 0;

  if (!buf)
    return gpg_error_from_syserror ();
  err = last_line (path, buf, &len, r_reason);
  if (gpg_err_code (err) == GPG_ERR_INV_DATA && r_reason && !*r_reason)
    pani_reason (r_reason, err, "%s does not end in a record", path);
  else if (!err && pani_audit_parse (buf, len, p, NULL))
    {
      err = gpg_error (GPG_ERR_INV_DATA);
      pani_reason (r_reason, err,
                   "%s: its last record is not valid; run 'panaudit"
                   " verify'",
                   path);
    }
  else if (!err)
    pani_sha256_hex (buf, len, hash);
  p->rec.line = NULL;
  free (buf);
  return err;
}
