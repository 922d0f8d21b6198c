/* util.h - internal helpers of libpanmail (not installed)  */
/* Internal names start with pani_ and are not exported from the shared
 * library (only ^pan_ is).  */
#ifndef PAN_UTIL_H
#define PAN_UTIL_H

#include <stddef.h>
#include <stdarg.h>
#include <gpg-error.h>

#if defined(__GNUC__)
#define PAN_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define PAN_PRINTF(a, b)
#endif

/* Store a malloc'ed reason made from FMT at *R_REASON (if R_REASON is not
 * NULL and no reason is stored yet) and return ERR.  */
gpg_error_t pani_reason (char **r_reason, gpg_error_t err, const char *fmt,
                         ...) PAN_PRINTF (3, 4);

/* Return gpg_error_from_syserror () with a reason naming WHAT (a path
 * or an action).  */
gpg_error_t pani_reason_sys (char **r_reason, const char *what);

/* Return a malloc'ed string made from FMT, or NULL on ENOMEM.  */
char *pani_strdupf (const char *fmt, ...) PAN_PRINTF (1, 2);

/* Copy SRC into malloc'ed memory; NULL on ENOMEM.  */
char *pani_strdup (const char *src);

/* Copy LEN bytes of SRC into a malloc'ed string.  */
char *pani_strndup (const char *src, size_t len);

/* Return the name of the user running us, or "unknown" (valid until
 * the next call of getpwuid).  */
const char *pani_login_user (void);

/* Store this host's name in BUF (SIZE bytes, always terminated), or
 * FALLBACK if it has none.  */
void pani_hostname (char *buf, size_t size, const char *fallback);

/* Compare A and B ignoring ASCII case.  */
int pani_ascii_casecmp (const char *a, const char *b);

/* Return true if C is an ASCII control character (or DEL).  */
int pani_is_ctrl (int c);

/* Return how many of the first LEN bytes of S are in ACCEPT: strspn
 * for a buffer that need not end in a NUL.  */
size_t pani_span (const char *s, size_t len, const char *accept);

/* Return the value of the hex digit C (either case), or -1.  */
int pani_hexval (int c);

/* Write the N bytes of BIN as 2*N lower-case hex digits and a NUL to
 * HEX.  */
void pani_bin2hex (const void *bin, size_t n, char *hex);

/* Write NBYTES (at most 32) of fresh nonce as hex and a NUL to HEX
 * (2*NBYTES+1 bytes): unique names, not secrets.  */
void pani_nonce_hex (char *hex, size_t nbytes);


/*
 * Memory that may hold secrets or plaintext.
 */

/* Overwrite the LEN bytes at P with zeros in a way the compiler keeps
 * (explicit_bzero where the C library has it).  */
void pani_wipe (void *p, size_t len);

/* Wipe the LEN bytes at P, then free P (NULL is accepted).  */
void pani_wipe_free (void *p, size_t len);

/* Wipe and free the string S (NULL is accepted).  */
void pani_wipe_free_str (char *s);


/*
 * A growable byte buffer that wipes every copy it leaves behind.  Out
 * of memory is sticky: check pani_buf_error once at the end.  DATA is
 * always NUL-terminated once anything was put.
 */
struct pani_buf
{
  char *data;
  size_t len, size;
  int failed; /* An allocation failed.  */
};

/* Append the N bytes at P to B.  */
void pani_buf_put (struct pani_buf *b, const void *p, size_t n);

/* Append the string S to B.  */
void pani_buf_puts (struct pani_buf *b, const char *s);

/* Append the byte C to B.  */
void pani_buf_putc (struct pani_buf *b, int c);

/* Append the code point CP (at most 0x10FFFF) to B as UTF-8.  */
void pani_buf_put_utf8 (struct pani_buf *b, unsigned long cp);

/* Append the text made from FMT to B.  */
void pani_buf_printf (struct pani_buf *b, const char *fmt, ...)
  PAN_PRINTF (2, 3);

/* Return GPG_ERR_ENOMEM if an append to B failed, else 0.  */
gpg_error_t pani_buf_error (const struct pani_buf *b);

/* Hand over the string in B (an empty string if nothing was put) and
 * reset B; NULL if memory ran out (B is then wiped and freed).  */
char *pani_buf_take (struct pani_buf *b);

/* Wipe the contents of B and make it empty, keeping its memory.  */
void pani_buf_clear (struct pani_buf *b);

/* Wipe and free B and make it empty.  */
void pani_buf_free (struct pani_buf *b);


/*
 * Characters and UTF-8.
 */

/* Return true for a space or a tab (RFC 5322 WSP).  */
int pani_is_wsp (int c);

/* Return C in lower case if it is an ASCII capital.  */
int pani_ascii_lower (int c);

/* Return true if the LEN bytes at S equal the lower-case string LIT,
 * ignoring ASCII case.  */
int pani_mem_caseeq (const char *s, size_t len, const char *lit);

/* Write code point CP (at most 0x10FFFF) as UTF-8 to OUT (4 bytes at
 * least) and return the number of bytes written.  */
size_t pani_utf8_encode (unsigned long cp, unsigned char *out);

/* Return the length of the valid UTF-8 sequence (no overlong form, no
 * surrogate, at most U+10FFFF) that starts at P and ends before END,
 * or 0 if there is none.  */
size_t pani_utf8_len (const unsigned char *p, const unsigned char *end);

/* Write the N bytes of BIN as 2*N upper-case hex digits and a NUL to
 * HEX (the form fingerprints take).  */
void pani_bin2hex_upper (const void *bin, size_t n, char *hex);

/* Write the SHA-256 of what is left to read of FD as 64 lower-case hex
 * digits and a NUL to HEX.  */
gpg_error_t pani_sha256_fd (int fd, char *hex);

/* Write the SHA-256 of the LEN bytes at DATA as 64 lower-case hex
 * digits and a NUL to HEX.  */
void pani_sha256_hex (const void *data, size_t len, char hex[65]);

/* True if the stats A and B are of the same file, unchanged (device,
 * inode, size, modification and change times).  */
struct stat;
int pani_same_file (const struct stat *a, const struct stat *b);

/* Files and locks (fileio.c).  */
#include "fileio-int.h"

/* Return true if C is an ASCII digit.  */
static inline int
pani_is_digit (int c)
{
  return (unsigned int)(c - '0') < 10;
}

/* Return true if C is an ASCII letter or digit.  */
static inline int
pani_is_alnum (int c)
{
  return pani_is_digit (c) || (unsigned int)((c | 0x20) - 'a') < 26;
}

/*
 * Deadlines (CLOCK_MONOTONIC) and waiting for a child's exit.
 */

struct timespec;

/* Set *TS to SECONDS from now.  */
void pani_deadline_in (struct timespec *ts, long seconds);

/* Milliseconds from now to the deadline TS (0 once it is past), for
 * poll(2).  */
int pani_ms_until (const struct timespec *ts);

/* A descriptor (close-on-exec) that polls readable once the child PID
 * exits (pidfd_open; without it, a socket a thread makes readable), or
 * -1 with errno set.  */
int pani_pidfd_open (int pid);

/* Parse BUF, the NUL-terminated text of /proc/PID/stat: store the
 * parent's pid at *R_PPID, the state letter at *R_STATE and the command
 * name (what lies between the first '(' and the last ')', cut to SIZE
 * bytes with its NUL) in COMM.  Return 0, or -1 if BUF is not such a
 * line.  */
int pani_proc_stat_parse (const char *buf, long *r_ppid, char *r_state,
                          char *comm, size_t size);

/* The next pid in the NUL-terminated list at *P (decimal pids separated
 * by spaces, as in /proc/PID/task/TID/children), with *P moved past it;
 * 0, with *P unchanged, at the end of the list or at anything that is
 * not a pid from 1 to INT_MAX.  */
long pani_proc_next_pid (const char **p);

/* Tests only (configure --enable-test-hooks): kill this process
 * (SIGKILL; its process group too if PANMAIL_TEST_CRASH_GROUP is set)
 * when the environment variable PANMAIL_TEST_CRASH_AT names STEP.  A
 * release build has no such hook.  */
#ifdef PAN_TEST_HOOKS
void pani_test_crash (const char *step);
#else
#define pani_test_crash(step) ((void)0)
#endif

/* Tests only (configure --enable-test-hooks): hang (sleep until a
 * signal ends the process) when the environment variable
 * PANMAIL_TEST_HANG_AT names STEP, as a stuck engine would.  */
#ifdef PAN_TEST_HOOKS
void pani_test_hang (const char *step);
#else
#define pani_test_hang(step) ((void)0)
#endif

#endif /* PAN_UTIL_H */
