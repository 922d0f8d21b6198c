/* fileio.c - reading and replacing files, locks (internal)  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static gpg_error_t
read_stream (FILE *fp, size_t maxlen, char **r_buf, size_t *r_len)
{
  size_t size = 4096, len = 0, n;
  char *buf = malloc (size + 1), *tmp;

  if (!buf)
    return gpg_error_from_syserror ();
  while ((n = fread (buf + len, 1, size - len, fp)) > 0)
    {
      len += n;
      if (len > maxlen)
        {
          free (buf);
          return gpg_error (GPG_ERR_TOO_LARGE);
        }
      if (len == size)
        {
          size *= 2;
          if (!(tmp = realloc (buf, size + 1)))
            {
              free (buf);
              return gpg_error_from_syserror ();
            }
          buf = tmp;
        }
    }
  if (ferror (fp))
    {
      free (buf);
      return gpg_error_from_syserror ();
    }
  buf[len] = 0;
  *r_buf = buf;
  *r_len = len;
  return 0;
}

gpg_error_t
pani_read_file (const char *path, size_t maxlen, char **r_buf, size_t *r_len,
                char **r_reason)
{
  gpg_error_t err;
  FILE *fp;
  int is_stdin = !strcmp (path, "-");

  *r_buf = NULL;
  *r_len = 0;
  fp = is_stdin ? stdin : fopen (path, "rb");
  if (!fp)
    return pani_reason_sys (r_reason, path);
  err = read_stream (fp, maxlen, r_buf, r_len);
  if (!is_stdin)
    fclose (fp);
  if (gpg_err_code (err) == GPG_ERR_TOO_LARGE)
    return pani_reason (r_reason, err, "%s: larger than %zu bytes",
                        is_stdin ? "standard input" : path, maxlen);
  if (err)
    return pani_reason (r_reason, err, "%s: %s",
                        is_stdin ? "standard input" : path,
                        gpg_strerror (err));
  return 0;
}

gpg_error_t
pani_write_all (int fd, const void *data, size_t len)
{
  const char *p = data;
  ssize_t n;

  while (len)
    {
      n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return gpg_error_from_syserror ();
      if (!n) /* Nothing taken: trying again would loop for ever.  */
        return gpg_error (GPG_ERR_EIO);
      p += n;
      len -= n;
    }
  return 0;
}

static gpg_error_t
fsync_dir_of (const char *path)
{
  char *dir = pani_strdup (path), *slash;
  int fd, rc;

  if (!dir)
    return gpg_error_from_syserror ();
  slash = strrchr (dir, '/');
  if (slash == dir)
    slash[1] = 0;
  else if (slash)
    *slash = 0;
  else
    strcpy (dir, ".");
  fd = open (dir, O_RDONLY | O_DIRECTORY);
  free (dir);
  if (fd < 0)
    return gpg_error_from_syserror ();
  rc = fsync (fd);
  close (fd);
  return rc ? gpg_error_from_syserror () : 0;
}

gpg_error_t
pani_write_file_atomic (const char *path, const void *data, size_t len,
                        int mode, char **r_reason)
{
  gpg_error_t err = 0;
  char *tmp = pani_strdupf ("%s.tmpXXXXXX", path);
  int fd = -1;

  if (!tmp)
    return gpg_error_from_syserror ();
  fd = mkstemp (tmp);
  if (fd < 0)
    {
      err = pani_reason_sys (r_reason, tmp);
      goto leave;
    }
  if (fchmod (fd, mode) || (err = pani_write_all (fd, data, len))
      || fsync (fd))
    {
      err = pani_reason (r_reason, err ? err : gpg_error_from_syserror (),
                         "%s: %s", tmp,
                         gpg_strerror (err ? err
                                           : gpg_error_from_syserror ()));
      goto leave;
    }
  if (close (fd))
    {
      fd = -1;
      err = pani_reason_sys (r_reason, tmp);
      goto leave;
    }
  fd = -1;
  if (rename (tmp, path))
    {
      err = pani_reason_sys (r_reason, path);
      goto leave;
    }
  if ((err = fsync_dir_of (path)))
    pani_reason (r_reason, err, "%s: fsync of directory: %s", path,
                 gpg_strerror (err));

leave:
  if (fd >= 0)
    close (fd);
  if (err)
    unlink (tmp);
  free (tmp);
  return err;
}

gpg_error_t
pani_open_file (const char *path, int flags, int mode, int *r_fd,
                char **r_reason)
{
  gpg_error_t err;
  struct stat st;
  int fd;

  /* O_NONBLOCK: a FIFO put in the file's place must not hang us.  */
  *r_fd = -1;
  fd = open (path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
  if (fd < 0 && errno == ELOOP)
    return pani_reason (r_reason, gpg_error (GPG_ERR_EPERM),
                        "%s is a symbolic link; refused: put the file"
                        " itself there",
                        path);
  if (fd < 0)
    return pani_reason_sys (r_reason, path);
  if (fstat (fd, &st)
      || fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK))
    err = pani_reason_sys (r_reason, path);
  else if (!S_ISREG (st.st_mode))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_EPERM),
                       "%s is not a regular file; refused", path);
  else
    {
      *r_fd = fd;
      return 0;
    }
  close (fd);
  return err;
}

gpg_error_t
pani_read_file_nofollow (const char *path, size_t maxlen, char **r_buf,
                         size_t *r_len, char **r_reason)
{
  gpg_error_t err;
  FILE *fp;
  int fd;

  *r_buf = NULL;
  *r_len = 0;
  if ((err = pani_open_file (path, O_RDONLY, 0, &fd, r_reason)))
    return err;
  if (!(fp = fdopen (fd, "rb")))
    {
      err = pani_reason_sys (r_reason, path);
      close (fd);
      return err;
    }
  err = read_stream (fp, maxlen, r_buf, r_len);
  fclose (fp);
  if (err)
    pani_reason (r_reason, err, "%s: %s", path, gpg_strerror (err));
  return err;
}

gpg_error_t
pani_lock (const char *path, int timeout, int *r_fd, char **r_reason)
{
  struct flock fl;
  struct timespec pause = { 0, 50 * 1000 * 1000 };
  long tries = (long)timeout * 20;
  int fd;
  gpg_error_t oerr;

  *r_fd = -1;
  oerr = pani_open_file (path, O_RDWR | O_CREAT, 0600, &fd, r_reason);
  if (oerr)
    return oerr;
  memset (&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  while (fcntl (fd, F_SETLK, &fl))
    {
      if (errno != EACCES && errno != EAGAIN && errno != EINTR)
        {
          gpg_error_t err = pani_reason_sys (r_reason, path);
          close (fd);
          return err;
        }
      if (tries-- <= 0)
        {
          close (fd);
          return pani_reason (r_reason, gpg_error (GPG_ERR_TIMEOUT),
                              "%s: still locked by another process after %d"
                              " seconds; try again or raise lock-timeout",
                              path, timeout);
        }
      nanosleep (&pause, NULL);
    }
  *r_fd = fd;
  return 0;
}

void
pani_unlock (int fd)
{
  if (fd >= 0)
    close (fd); /* Closing drops the fcntl lock.  */
}
