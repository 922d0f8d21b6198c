/* scan-walk.c - walking paths for PANs (data discovery)
 *
 * The walk does not follow symbolic links below a path it was given,
 * skips devices, FIFOs and sockets, and opens everything relative to
 * the directory it is in (openat with O_NOFOLLOW), so that a link put in
 * place of a file during the scan is not followed either.  Directories
 * are read whole and walked in name order.  Each regular file is read
 * in PAN_SCAN_CHUNK pieces into one buffer and fed to a stream of its
 * format (scan.c); with more than one job the walk opens the files and
 * a pool of threads reads them (scan-pool.c).  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "scan-int.h"

/*
 * Reporting.
 */

/* Report EVENT of the path at W to the file callback.  */
static void
tell (struct scan_walk *w, const struct scan_where *at,
      pan_scan_event_t event, pan_scan_format_t format,
      unsigned long long bytes, gpg_error_t err, const char *why)
{
  struct pan_scan_file f;
  char *path = NULL, *reason = NULL;
  gpg_error_t rc;

  if (w->err || !w->o->file_cb)
    return;
  if ((rc = pani_scan_masked_copy (at->path, &path)))
    goto leave;
  if (why && !(reason = pani_strdupf ("%s: %s", path, why)))
    {
      rc = gpg_error_from_syserror ();
      goto leave;
    }
  f.path = path;
  f.event = event;
  f.format = format;
  f.depth = at->depth;
  f.bytes = bytes;
  f.err = err;
  f.reason = reason;
  rc = w->o->file_cb (w->o->opaque, &f);

leave:
  w->err = rc;
  free (reason);
  free (path);
}

static void
tell_skip (struct scan_walk *w, const struct scan_where *at, const char *why)
{
  tell (w, at, PAN_SCAN_SKIPPED, PAN_SCAN_PLAIN, 0, 0, why);
}

/* Report that WHAT failed with ERR for the path at AT; a lack of
 * memory stops the walk.  */
static void
tell_err (struct scan_walk *w, const struct scan_where *at, gpg_error_t err,
          const char *what)
{
  char *why, text[256];

  if (gpg_err_code (err) == GPG_ERR_ENOMEM)
    {
      w->err = err;
      return;
    }
  gpg_strerror_r (err, text, sizeof text);
  if (!(why = pani_strdupf ("%s: %s", what, text)))
    w->err = gpg_error_from_syserror ();
  else
    tell (w, at, PAN_SCAN_FAILED, PAN_SCAN_PLAIN, 0, err, why);
  free (why);
}

/* Report the system error of the last call about the path at AT.  */
static void
tell_syserr (struct scan_walk *w, const struct scan_where *at,
             const char *what)
{
  tell_err (w, at, gpg_error_from_syserror (), what);
}

static int
excluded (const struct scan_walk *w, const char *path)
{
  const char *base = strrchr (path, '/');
  const char *const *g;

  base = base && base[1] ? base + 1 : path;
  for (g = w->o->exclude; g && *g; g++)
    if (!fnmatch (*g, path, 0) || !fnmatch (*g, base, 0))
      return 1;
  return 0;
}

/* Return true if the directory open at FD is cur/, new/ or tmp/ of a
 * Maildir: it is one of those of its parent, which has cur/ and new/.  */
static int
is_maildir_dir (int fd)
{
  struct stat self, cur, new, tmp;

  if (fstat (fd, &self) || fstatat (fd, "../cur", &cur, 0)
      || fstatat (fd, "../new", &new, 0) || !S_ISDIR (cur.st_mode)
      || !S_ISDIR (new.st_mode))
    return 0;
  if (fstatat (fd, "../tmp", &tmp, 0))
    tmp = cur;
  return (self.st_dev == cur.st_dev && self.st_ino == cur.st_ino)
    || (self.st_dev == new.st_dev &&self.st_ino == new.st_ino)
    || (self.st_dev == tmp.st_dev && self.st_ino == tmp.st_ino);
}

/* Return true if the directory holding the path given as PATH is one
 * of a Maildir.  */
static int
parent_is_maildir (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *dir = slash ? pani_strndup (path, slash - path + 1) : NULL;
  int fd, yes = 0;

  if (slash && !dir)
    return 0;
  fd = open (dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      yes = is_maildir_dir (fd);
      close (fd);
    }
  free (dir);
  return yes;
}


/*
 * Files.
 */

/* Read up to LEN bytes from FD into BUF, short only at end of file.  */
static ssize_t
read_full (int fd, char *buf, size_t len)
{
  size_t got = 0;
  ssize_t n;

  while (got < len)
    {
      n = read (fd, buf + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (!n)
        break;
      got += n;
    }
  return got;
}

static int
looks_binary (const char *buf, size_t len)
{
  return memchr (buf, 0,
                 len < PAN_SCAN_BINARY_TEST ? len : PAN_SCAN_BINARY_TEST)
    != NULL;
}

/* Feed the file open at FD, whose first LEN bytes are in W->BUF, to
 * STREAM, counting the bytes in *R_TOTAL; return a read error.  */
static gpg_error_t
stream_file (struct scan_walk *w, const struct scan_where *at, int fd,
             pan_scan_stream_t stream, size_t len,
             unsigned long long *r_total)
{
  ssize_t n = len;

  *r_total = 0;
  while (n > 0)
    {
      *r_total += n;
      if ((w->err = pan_scan_stream_feed (stream, w->buf, n)))
        return 0;
      tell (w, at, PAN_SCAN_PROGRESS, PAN_SCAN_PLAIN, *r_total, 0, NULL);
      if (w->err || (size_t)n < PAN_SCAN_CHUNK)
        break;
      n = read_full (fd, w->buf, PAN_SCAN_CHUNK);
      if (n > 0 && (size_t)n > w->used)
        w->used = n;
    }
  if (n < 0)
    return gpg_error_from_syserror ();
  if (!w->err)
    w->err = pan_scan_stream_finish (stream);
  return 0;
}

/* Scan the regular file open at FD (a scan_fd_fn).  */
static void
scan_fd (struct scan_walk *w, const struct scan_where *at, int fd)
{
  pan_scan_stream_t stream = NULL;
  pan_scan_format_t format;
  ssize_t n = read_full (fd, w->buf, PAN_SCAN_CHUNK);
  unsigned long long total;
  gpg_error_t err;

  if (n < 0)
    {
      tell_syserr (w, at, "cannot read");
      return;
    }
  w->used = n;
  if (w->o->skip_binary && looks_binary (w->buf, n))
    {
      tell_skip (w, at, "binary (a NUL byte in its first 8 KiB)");
      return;
    }
  format = pani_scan_format_detect (at->path, at->in_maildir, w->buf, n);
  if ((w->err = pan_scan_stream_new (w->scanner, at->path, format, w->o,
                                     &stream)))
    return;
  err = stream_file (w, at, fd, stream, n, &total);
  pan_scan_stream_release (stream);
  if (err)
    tell_err (w, at, err, "cannot read");
  else
    tell (w, at, PAN_SCAN_SCANNED, format, total, 0, NULL);
}

static void
scan_file (struct scan_walk *w, const struct scan_where *at, int follow)
{
  struct stat st;
  int fd = openat (at->dirfd, at->name,
                   O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK
                     | (follow ? 0 : O_NOFOLLOW));

  if (fd < 0)
    {
      tell_syserr (w, at, "cannot open");
      return;
    }
  if (fstat (fd, &st))
    tell_syserr (w, at, "cannot stat");
  else if (!S_ISREG (st.st_mode))
    tell_skip (w, at, "not a regular file (it changed during the scan)");
  else if (w->pool)
    {
      w->err = pani_scan_pool_submit (w->pool, at, fd);
      return;
    }
  else
    scan_fd (w, at, fd);
  close (fd);
  pani_wipe (w->buf, w->used);
  w->used = 0;
}


/*
 * Directories.
 */

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The names in a directory: their text one after the other, each with
 * its NUL, and V pointing at each.  */
struct names
{
  struct pani_buf text;
  char **v;
  size_t n;
};

static void
free_names (struct names *ns)
{
  pani_buf_free (&ns->text);
  free (ns->v);
  ns->v = NULL;
  ns->n = 0;
}

/* Point NS->V at each of the NS->N names in NS->TEXT.  */
static gpg_error_t
index_names (struct names *ns)
{
  char *p;
  size_t i;

  if (!ns->n)
    return 0;
  if (!(ns->v = calloc (ns->n, sizeof *ns->v)))
    return gpg_error_from_syserror ();
  for (i = 0, p = ns->text.data; i < ns->n; i++, p += strlen (p) + 1)
    ns->v[i] = p;
  return 0;
}

/* Read the names in the directory open at FD, sorted, into NS.  */
static gpg_error_t
read_names (int fd, struct names *ns)
{
  gpg_error_t err = 0;
  struct dirent *de;
  int dfd = dup (fd);
  DIR *dir = dfd < 0 ? NULL : fdopendir (dfd);

  if (!dir)
    {
      err = gpg_error_from_syserror ();
      if (dfd >= 0)
        close (dfd);
      return err;
    }
  for (errno = 0; (de = readdir (dir)); errno = 0)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      {
        pani_buf_put (&ns->text, de->d_name, strlen (de->d_name) + 1);
        ns->n++;
      }
  if (errno)
    err = gpg_error_from_syserror ();
  closedir (dir);
  if (!err)
    err = pani_buf_error (&ns->text);
  if (!err)
    err = index_names (ns);
  if (err)
    free_names (ns);
  else if (ns->n)
    qsort (ns->v, ns->n, sizeof *ns->v, cmp_names);
  return err;
}

static void walk_path (struct scan_walk *w, const struct scan_where *at,
                       int follow);

/* Walk the entries NS of the directory open at FD.  */
static void
walk_entries (struct scan_walk *w, const struct scan_where *at, int fd,
              const struct names *ns)
{
  size_t i, plen = strlen (at->path);
  int slash = plen && at->path[plen - 1] == '/';
  struct scan_where child;
  char *path;

  child.dirfd = fd;
  child.depth = at->depth + 1;
  child.in_maildir = is_maildir_dir (fd);
  for (i = 0; i < ns->n && !w->err; i++)
    {
      if (!(path = pani_strdupf ("%s%s%s", at->path, slash ? "" : "/",
                                 ns->v[i])))
        {
          w->err = gpg_error_from_syserror ();
          break;
        }
      child.name = ns->v[i];
      child.path = path;
      walk_path (w, &child, 0);
      free (path);
    }
}

/* Return true if the directory ST is one being walked.  */
static int
is_ancestor (const struct scan_walk *w, const struct stat *st)
{
  size_t i;

  for (i = 0; i < w->nanc; i++)
    if (w->anc[i].dev == st->st_dev && w->anc[i].ino == st->st_ino)
      return 1;
  return 0;
}

static void
walk_dir (struct scan_walk *w, const struct scan_where *at, int follow)
{
  struct stat st;
  struct names ns = {
    {NULL, 0, 0, 0},
    NULL, 0
  };
  gpg_error_t err;
  int fd = openat (at->dirfd, at->name,
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC
                     | (follow ? 0 : O_NOFOLLOW));

  if (fd < 0 || fstat (fd, &st))
    {
      tell_syserr (w, at, "cannot open the directory");
      goto leave;
    }
  if (is_ancestor (w, &st))
    {
      tell_skip (w, at, "directory loop (already being scanned)");
      goto leave;
    }
  if ((err = read_names (fd, &ns)))
    {
      tell_err (w, at, err, "cannot read the directory");
      goto leave;
    }
  w->anc[w->nanc].dev = st.st_dev;
  w->anc[w->nanc].ino = st.st_ino;
  w->nanc++;
  walk_entries (w, at, fd, &ns);
  w->nanc--;

leave:
  free_names (&ns);
  if (fd >= 0)
    close (fd);
}

static void
tell_too_deep (struct scan_walk *w, const struct scan_where *at)
{
  char *why = pani_strdupf ("more than %d directories deep: not scanned",
                            PAN_SCAN_MAX_DEPTH);

  if (!why)
    w->err = gpg_error_from_syserror ();
  else
    tell (w, at, PAN_SCAN_FAILED, PAN_SCAN_PLAIN, 0,
          gpg_error (GPG_ERR_TOO_LARGE), why);
  free (why);
}

/* Walk the path at AT, following a symbolic link to it if FOLLOW.  */
static void
walk_path (struct scan_walk *w, const struct scan_where *at, int follow)
{
  struct stat st;

  if (excluded (w, at->path))
    tell_skip (w, at, "excluded");
  else if (fstatat (at->dirfd, at->name, &st,
                    follow ? 0 : AT_SYMLINK_NOFOLLOW))
    tell_syserr (w, at, "cannot stat");
  else if (S_ISLNK (st.st_mode))
    tell_skip (w, at, "symbolic link (not followed)");
  else if (S_ISDIR (st.st_mode) && at->depth >= PAN_SCAN_MAX_DEPTH)
    tell_too_deep (w, at);
  else if (S_ISDIR (st.st_mode))
    walk_dir (w, at, follow);
  else if (S_ISREG (st.st_mode))
    scan_file (w, at, follow);
  else
    tell_skip (w, at, "not a regular file (device, FIFO or socket)");
}

/* Walk PATH with W, whose options are set.  */
static void
walk_top (struct scan_walk *w, const char *path)
{
  struct scan_where at;

  at.dirfd = AT_FDCWD;
  at.name = path;
  at.path = path;
  at.depth = 0;
  at.in_maildir = parent_is_maildir (path);
  walk_path (w, &at, 1);
}

/* Walk PATH and let a pool of JOBS threads scan the files.  */
static gpg_error_t
walk_pooled (struct scan_walk *w, const char *path, unsigned int jobs)
{
  gpg_error_t err;

  err = pani_scan_pool_new (w->scanner, w->o, jobs, scan_fd, &w->pool,
                            &w->o);
  if (err)
    return err;
  walk_top (w, path);
  err = pani_scan_pool_finish (w->pool);
  pani_scan_pool_release (w->pool);
  w->pool = NULL;
  return w->err ? w->err : err;
}

gpg_error_t
pan_scan_path (pan_scanner_t scanner, const char *path,
               const struct pan_scan_options *options)
{
  struct scan_walk *w;
  gpg_error_t err;

  if (!path || !*path || !options)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(w = calloc (1, sizeof *w)) || !(w->buf = malloc (PAN_SCAN_CHUNK)))
    {
      err = gpg_error_from_syserror ();
      free (w);
      return err;
    }
  w->o = options;
  w->scanner = scanner;
  if (options->jobs > 1)
    err = walk_pooled (w, path, options->jobs);
  else
    {
      walk_top (w, path);
      err = w->err;
    }
  pani_wipe (w->buf, PAN_SCAN_CHUNK);
  free (w->buf);
  free (w);
  return err;
}
