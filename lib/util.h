/* util.h - internal helpers of libpanmail (not installed)  */
/* Internal names start with pani_ and are not exported from the shared
 * library (only ^pan_ is).  */
#ifndef PAN_UTIL_H
#define PAN_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <gpg-error.h>

#if defined(__GNUC__)
# define PAN_PRINTF(a,b) __attribute__ ((format (printf, a, b)))
#else
# define PAN_PRINTF(a,b)
#endif

/* Store a malloc'ed reason made from FMT at *R_REASON (if R_REASON is not
 * NULL and no reason is stored yet) and return ERR.  */
gpg_error_t pani_reason (char **r_reason, gpg_error_t err,
                        const char *fmt, ...) PAN_PRINTF (3, 4);

/* Return gpg_error_from_syserror () with a reason naming WHAT (a path
 * or an action).  */
gpg_error_t pani_reason_sys (char **r_reason, const char *what);

/* Return a malloc'ed string made from FMT, or NULL on ENOMEM.  */
char *pani_strdupf (const char *fmt, ...) PAN_PRINTF (1, 2);

/* Copy SRC into malloc'ed memory; NULL on ENOMEM.  */
char *pani_strdup (const char *src);

/* Copy LEN bytes of SRC into a malloc'ed string.  */
char *pani_strndup (const char *src, size_t len);

/* Compare A and B ignoring ASCII case.  */
int pani_ascii_casecmp (const char *a, const char *b);

/* Return true if C is an ASCII control character (or DEL).  */
int pani_is_ctrl (int c);

/* Return the value of the hex digit C (either case), or -1.  */
int pani_hexval (int c);

/* Write the N bytes of BIN as 2*N lower-case hex digits and a NUL to
 * HEX.  */
void pani_bin2hex (const void *bin, size_t n, char *hex);

/* Write NBYTES (at most 32) of fresh nonce as hex and a NUL to HEX
 * (2*NBYTES+1 bytes): unique names, not secrets.  */
void pani_nonce_hex (char *hex, size_t nbytes);

/* Read the whole file PATH (at most MAXLEN bytes, GPG_ERR_TOO_LARGE
 * beyond) into malloc'ed *R_BUF with a terminating NUL not counted in
 * *R_LEN.  PATH "-" reads stdin.  */
gpg_error_t pani_read_file (const char *path, size_t maxlen,
                           char **r_buf, size_t *r_len, char **r_reason);

/* Write all LEN bytes of DATA to FD (retrying short writes and
 * EINTR).  */
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

#endif /* PAN_UTIL_H */
