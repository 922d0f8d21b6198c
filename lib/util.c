/* util.c - internal helpers of libpanmail  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"

void
pan_free (void *p)
{
  free (p);
}

gpg_error_t
pani_reason (char **r_reason, gpg_error_t err, const char *fmt, ...)
{
  va_list ap;
  char *s;

  if (!r_reason || *r_reason)
    return err;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  *r_reason = s;
  return err;
}

gpg_error_t
pani_reason_sys (char **r_reason, const char *what)
{
  gpg_error_t err = gpg_error_from_syserror ();

  return pani_reason (r_reason, err, "%s: %s", what, gpg_strerror (err));
}

char *
pani_strdupf (const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  return s;
}

char *
pani_strdup (const char *src)
{
  return src ? strdup (src) : NULL;
}

char *
pani_strndup (const char *src, size_t len)
{
  char *s = malloc (len + 1);

  if (!s)
    return NULL;
  memcpy (s, src, len);
  s[len] = 0;
  return s;
}

const char *
pani_login_user (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return pw && pw->pw_name ? pw->pw_name : "unknown";
}

void
pani_hostname (char *buf, size_t size, const char *fallback)
{
  if (gethostname (buf, size - 1) || !*buf)
    snprintf (buf, size, "%s", fallback);
  buf[size - 1] = 0;
}

int
pani_ascii_lower (int c)
{
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

int
pani_ascii_casecmp (const char *a, const char *b)
{
  for (; *a && pani_ascii_lower (*a) == pani_ascii_lower (*b); a++, b++)
    ;
  return pani_ascii_lower ((unsigned char)*a)
    - pani_ascii_lower ((unsigned char)*b);
}

int
pani_is_wsp (int c)
{
  return c == ' ' || c == '\t';
}

int
pani_mem_caseeq (const char *s, size_t len, const char *lit)
{
  if (strlen (lit) != len)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (pani_ascii_lower ((unsigned char)s[i]) != (unsigned char)lit[i])
      return 0;
  return 1;
}

int
pani_is_ctrl (int c)
{
  return (c >= 0 && c < 0x20) || c == 0x7f;
}

size_t
pani_span (const char *s, size_t len, const char *accept)
{
  size_t n = 0;

  while (n < len && s[n] && strchr (accept, s[n]))
    n++;
  return n;
}

int
pani_hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static void
bin2hex_digits (const void *bin, size_t n, char *hex, const char *digits)
{
  const unsigned char *p = bin;

  for (size_t i = 0; i < n; i++)
    {
      hex[2 * i] = digits[p[i] >> 4];
      hex[2 * i + 1] = digits[p[i] & 15];
    }
  hex[2 * n] = 0;
}

void
pani_bin2hex (const void *bin, size_t n, char *hex)
{
  bin2hex_digits (bin, n, hex, "0123456789abcdef");
}

void
pani_bin2hex_upper (const void *bin, size_t n, char *hex)
{
  bin2hex_digits (bin, n, hex, "0123456789ABCDEF");
}

void
pani_nonce_hex (char *hex, size_t nbytes)
{
  unsigned char nonce[32];

  if (nbytes > sizeof nonce)
    nbytes = sizeof nonce;
  gcry_create_nonce (nonce, nbytes);
  pani_bin2hex (nonce, nbytes, hex);
}


void
pani_wipe (void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
  if (p)
    explicit_bzero (p, len);
#else
  volatile unsigned char *v = p;

  while (v && len--)
    *v++ = 0;
#endif
}

void
pani_wipe_free (void *p, size_t len)
{
  if (!p)
    return;
  pani_wipe (p, len);
  free (p);
}

void
pani_wipe_free_str (char *s)
{
  if (s)
    pani_wipe_free (s, strlen (s));
}


/* Make room in B for N more bytes and the NUL; a failure is sticky.
 * The old block is wiped, not realloc'ed: it may hold plaintext.  */
static int
buf_reserve (struct pani_buf *b, size_t n)
{
  size_t size = b->size ? b->size : 256;
  char *tmp;

  if (b->failed || n > SIZE_MAX / 2 - b->len)
    return !(b->failed = 1);
  if (b->data && b->len + n + 1 <= b->size)
    return 1;
  while (size < b->len + n + 1)
    size *= 2;
  if (!(tmp = malloc (size)))
    return !(b->failed = 1);
  if (b->data)
    memcpy (tmp, b->data, b->len);
  pani_wipe_free (b->data, b->size);
  b->data = tmp;
  b->size = size;
  return 1;
}

void
pani_buf_put (struct pani_buf *b, const void *p, size_t n)
{
  if (!buf_reserve (b, n))
    return;
  if (n)
    memcpy (b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
}

void
pani_buf_puts (struct pani_buf *b, const char *s)
{
  pani_buf_put (b, s, strlen (s));
}

void
pani_buf_putc (struct pani_buf *b, int c)
{
  char ch = (char)c;

  pani_buf_put (b, &ch, 1);
}

void
pani_buf_put_utf8 (struct pani_buf *b, unsigned long cp)
{
  unsigned char u[4];

  pani_buf_put (b, u, pani_utf8_encode (cp, u));
}

void
pani_buf_printf (struct pani_buf *b, const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    b->failed = 1;
  else
    {
      pani_buf_puts (b, s);
      pani_wipe_free_str (s);
    }
  va_end (ap);
}

gpg_error_t
pani_buf_error (const struct pani_buf *b)
{
  return b->failed ? gpg_error (GPG_ERR_ENOMEM) : 0;
}

char *
pani_buf_take (struct pani_buf *b)
{
  char *s;

  if (!b->data)
    pani_buf_put (b, "", 0);
  if (b->failed)
    {
      pani_buf_free (b);
      return NULL;
    }
  s = b->data;
  memset (b, 0, sizeof *b);
  return s;
}

void
pani_buf_clear (struct pani_buf *b)
{
  pani_wipe (b->data, b->len);
  b->len = 0;
  b->failed = 0;
}

void
pani_buf_free (struct pani_buf *b)
{
  pani_wipe_free (b->data, b->size);
  memset (b, 0, sizeof *b);
}


size_t
pani_utf8_encode (unsigned long cp, unsigned char *out)
{
  if (cp < 0x80)
    return out[0] = cp, 1;
  if (cp < 0x800)
    return out[0] = 0xc0 | (cp >> 6), out[1] = 0x80 | (cp & 0x3f), 2;
  if (cp < 0x10000)
    return out[0] = 0xe0 | (cp >> 12), out[1] = 0x80 | ((cp >> 6) & 0x3f),
           out[2] = 0x80 | (cp & 0x3f), 3;
  out[0] = 0xf0 | (cp >> 18);
  out[1] = 0x80 | ((cp >> 12) & 0x3f);
  out[2] = 0x80 | ((cp >> 6) & 0x3f);
  out[3] = 0x80 | (cp & 0x3f);
  return 4;
}

size_t
pani_utf8_len (const unsigned char *p, const unsigned char *end)
{
  size_t n, i;
  unsigned long cp;

  if (*p < 0x80)
    return 1;
  if (*p >= 0xc2 && *p <= 0xdf)
    n = 2, cp = *p & 0x1f;
  else if (*p >= 0xe0 && *p <= 0xef)
    n = 3, cp = *p & 0x0f;
  else if (*p >= 0xf0 && *p <= 0xf4)
    n = 4, cp = *p & 0x07;
  else
    return 0;
  if ((size_t)(end - p) < n)
    return 0;
  for (i = 1; i < n; i++)
    {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
      || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return n;
}


/*
 * Command lines (pan_argv_split, pan_argv_release: panmail.h).
 */

gpg_error_t
pan_argv_split (const char *command, char ***r_argv)
{
  size_t len = strlen (command), n = 0;
  char **argv = calloc (len / 2 + 2, sizeof *argv);
  char *word = malloc (len + 1);
  gpg_error_t err = 0;

  *r_argv = NULL;
  if (!argv || !word)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  for (const char *p = command; !err && *p;)
    {
      size_t wlen = 0;
      char quote = 0;

      while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
      if (!*p)
        break;
      for (; *p && (quote || !(*p == ' ' || *p == '\t' || *p == '\n')); p++)
        {
          if (!quote && (*p == '"' || *p == '\''))
            quote = *p;
          else if (quote && *p == quote)
            quote = 0;
          else
            word[wlen++] = *p;
        }
      if (quote)
        err = gpg_error (GPG_ERR_UNFINISHED);
      else if (!(argv[n++] = pani_strndup (word, wlen)))
        err = gpg_error_from_syserror ();
    }
  if (!err && !n)
    err = gpg_error (GPG_ERR_MISSING_VALUE);
  if (!err)
    {
      *r_argv = argv;
      argv = NULL;
    }
leave:
  free (word);
  pan_argv_release (argv);
  return err;
}

void
pan_argv_release (char **argv)
{
  for (size_t i = 0; argv && argv[i]; i++)
    free (argv[i]);
  free (argv);
}


/*
 * Deadlines and waiting for a child's exit.
 */

void
pani_deadline_in (struct timespec *ts, long seconds)
{
  clock_gettime (CLOCK_MONOTONIC, ts);
  ts->tv_sec += seconds;
}

int
pani_ms_until (const struct timespec *ts)
{
  struct timespec now;
  long long ms;

  clock_gettime (CLOCK_MONOTONIC, &now);
  ms = (ts->tv_sec - now.tv_sec) * 1000LL
    + (ts->tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The stand-in for a pidfd: a thread waits for the child to exit
 * (without reaping it) and then makes its socket readable.  */
struct pid_watch
{
  pid_t pid;
  int fd;
};

static void *
watch_pid (void *arg)
{
  struct pid_watch *w = arg;
  siginfo_t si;

  while (waitid (P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT) < 0
         && errno == EINTR)
    ;
  send (w->fd, "x", 1, MSG_NOSIGNAL); /* The reader may be gone.  */
  close (w->fd);
  free (w);
  return NULL;
}

/* Without pidfd_open (Linux before 5.3, valgrind 3.19): the same from
 * a socket pair and a thread.  */
static int
pidfd_emulate (pid_t pid)
{
  struct pid_watch *w = malloc (sizeof *w);
  int sv[2] = { -1, -1 }, rc = -1;
  pthread_attr_t attr;
  pthread_t thread;

  if (!w || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    goto leave;
  w->pid = pid;
  w->fd = sv[1];
  if ((errno = pthread_attr_init (&attr)))
    goto leave;
  if (!(errno = pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED))
      && !(errno = pthread_create (&thread, &attr, watch_pid, w)))
    {
      w = NULL; /* The thread's now.  */
      rc = sv[0];
      sv[0] = sv[1] = -1;
    }
  pthread_attr_destroy (&attr);

leave:
  if (sv[0] >= 0)
    {
      close (sv[0]);
      close (sv[1]);
    }
  free (w);
  return rc;
}

int
pani_pidfd_open (int pid)
{
  int fd = -1;

#ifdef SYS_pidfd_open
  /* A pidfd is close-on-exec from the start.  */
  fd = (int)syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
#endif
  if (fd < 0 && errno == ENOSYS)
    fd = pidfd_emulate ((pid_t)pid);
  return fd;
}

int
pani_proc_stat_parse (const char *buf, long *r_ppid, char *r_state,
                      char *comm, size_t size)
{
  const char *open_paren = strchr (buf, '('),
             *close_paren = strrchr (buf, ')');
  char state;
  long ppid;
  size_t len;

  if (!open_paren || !close_paren || close_paren < open_paren || !size
      || sscanf (close_paren + 1, " %c %ld", &state, &ppid) != 2 || ppid < 0
      || ppid > INT_MAX)
    return -1;
  len = (size_t)(close_paren - open_paren - 1);
  if (len >= size)
    len = size - 1;
  memcpy (comm, open_paren + 1, len);
  comm[len] = 0;
  *r_state = state;
  *r_ppid = ppid;
  return 0;
}

long
pani_proc_next_pid (const char **p)
{
  const char *s = *p;
  char *end;
  long pid;

  while (*s == ' ' || *s == '\n')
    s++;
  if (*s < '1' || *s > '9')
    return 0;
  errno = 0;
  pid = strtol (s, &end, 10);
  if (errno || pid > INT_MAX || (*end && *end != ' ' && *end != '\n'))
    return 0;
  *p = end;
  return pid;
}


#ifdef PAN_TEST_HOOKS
void
pani_test_crash (const char *step)
{
  const char *at = getenv ("PANMAIL_TEST_CRASH_AT");

  if (at && !strcmp (at, step))
    kill (getenv ("PANMAIL_TEST_CRASH_GROUP") ? 0 : getpid (), SIGKILL);
}

void
pani_test_hang (const char *step)
{
  const char *at = getenv ("PANMAIL_TEST_HANG_AT");

  if (at && !strcmp (at, step))
    for (;;)
      pause ();
}
#endif

void
pani_sha256_hex (const void *data, size_t len, char hex[65])
{
  unsigned char digest[32];

  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, len ? data : "", len);
  pani_bin2hex (digest, sizeof digest, hex);
}

gpg_error_t
pani_sha256_fd (int fd, char *hex)
{
  unsigned char buf[65536];
  const unsigned char *d;
  gcry_md_hd_t md;
  ssize_t n;
  gpg_error_t err;

  if ((err = gcry_md_open (&md, GCRY_MD_SHA256, 0)))
    return err;
  while ((n = read (fd, buf, sizeof buf)) != 0)
    if (n > 0)
      gcry_md_write (md, buf, (size_t)n);
    else if (errno != EINTR)
      {
        err = gpg_error_from_syserror ();
        break;
      }
  if (!err && (d = gcry_md_read (md, GCRY_MD_SHA256)))
    pani_bin2hex (d, 32, hex);
  gcry_md_close (md);
  return err;
}

int
pani_same_file (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino
    && a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec
    && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
    && a->st_ctim.tv_sec == b->st_ctim.tv_sec
    && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
