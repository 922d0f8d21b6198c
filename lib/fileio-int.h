/* fileio-int.h - reading and replacing files, locks (fileio.c)  */
#ifndef PAN_FILEIO_INT_H
#define PAN_FILEIO_INT_H

#include <stddef.h>
#include <gpg-error.h>

/* Read the whole file PATH (at most MAXLEN bytes, GPG_ERR_TOO_LARGE
 * beyond) into malloc'ed *R_BUF with a terminating NUL not counted in
 * *R_LEN.  PATH "-" reads stdin.  */
gpg_error_t pani_read_file (const char *path, size_t maxlen, char **r_buf,
                            size_t *r_len, char **r_reason);

/* Open the file PATH with FLAGS (and MODE if they create it), never
 * through a symbolic link (O_NOFOLLOW), and check the descriptor: it
 * must be a regular file (GPG_ERR_EPERM with a reason otherwise).  The
 * descriptor is close-on-exec; store it at *R_FD.  */
gpg_error_t pani_open_file (const char *path, int flags, int mode, int *r_fd,
                            char **r_reason);

/* pani_read_file of a file in a home: opened by pani_open_file.  */
gpg_error_t pani_read_file_nofollow (const char *path, size_t maxlen,
                                     char **r_buf, size_t *r_len,
                                     char **r_reason);

/* Write all LEN bytes of DATA to FD (retrying short writes and
 * EINTR); a write that takes nothing gives GPG_ERR_EIO.  */
gpg_error_t pani_write_all (int fd, const void *data, size_t len);

/* Replace the file PATH atomically with DATA/LEN: write a temporary
 * file in the same directory with mode MODE, fsync it, rename it over
 * PATH and fsync the directory.  */
gpg_error_t pani_write_file_atomic (const char *path, const void *data,
                                    size_t len, int mode, char **r_reason);

/* Take an exclusive lock on the file PATH (created 0600 if missing),
 * waiting at most TIMEOUT seconds (GPG_ERR_TIMEOUT).  The lock is held
 * until pani_unlock (*R_FD).  */
gpg_error_t pani_lock (const char *path, int timeout, int *r_fd,
                       char **r_reason);

/* Release a lock taken with pani_lock.  */
void pani_unlock (int fd);

#endif /* PAN_FILEIO_INT_H */
