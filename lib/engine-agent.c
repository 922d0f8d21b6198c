/* engine-agent.c - the GnuPG programs and the daemons of a GnuPG home:
 * which programs GPGME runs, gpgconf runs with a bound, and stopping a
 * home's gpg-agent and dirmngr when its last user exits.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "engine-agent-int.h"

extern char **environ;

/* The longest a gpgconf run (--kill, --reload) may take, in seconds.  */
#define PANI_GPGCONF_TIMEOUT 10


/*
 * The daemons of a GnuPG home.  gpg and gpgsm start gpg-agent (and
 * gpgsm dirmngr) on the home and leave them running; they would keep
 * its file system busy, and the agent a signing passphrase in its
 * cache.  Every process that makes a GPGME context on a GnuPG home
 * holds a shared flock on its directory until it exits; then whoever
 * gets the lock exclusively at once is the last user and stops them
 * ("gpgconf --kill all", bounded), unless the operator configured a
 * cache in the home's gpg-agent.conf (pani_agent_conf_keeps).
 */

/* The GnuPG homes this process uses, each with its locked directory.  */
struct engine_home
{
  struct engine_home *next;
  char *dir;
  int fd;
};

static pthread_mutex_t homes_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t homes_once = PTHREAD_ONCE_INIT;
static struct engine_home *homes;

/* Skip white space (and a CR) from P, not beyond END.  */
static const char *
skip_space (const char *p, const char *end)
{
  while (p < end && (pani_is_wsp (*p) || *p == '\r'))
    p++;
  return p;
}

/* Is [P, END) a positive number, white space around it allowed?  */
static int
is_positive (const char *p, const char *end)
{
  int nonzero = 0;

  for (p = skip_space (p, end); p < end && *p >= '0' && *p <= '9'; p++)
    nonzero |= *p != '0';
  return skip_space (p, end) == end && nonzero;
}

int
pani_agent_conf_keeps (const char *text, size_t len)
{
  const char *line = text, *end = text + len, *nl, *p, *word;
  size_t n;

  for (; line < end; line = nl + 1)
    {
      if (!(nl = memchr (line, '\n', end - line)))
        nl = end;
      for (p = line; p < nl && pani_is_wsp (*p); p++)
        ;
      for (word = p; p < nl && !pani_is_wsp (*p) && *p != '\r'; p++)
        ;
      n = p - word;
      if ((n == 23 && !memcmp (word, "allow-preset-passphrase", n)
           && skip_space (p, nl) == nl)
          || (((n == 17 && !memcmp (word, "default-cache-ttl", n))
               || (n == 13 && !memcmp (word, "max-cache-ttl", n)))
              && is_positive (p, nl)))
        return 1;
    }
  return 0;
}

/* Does the gpg-agent.conf of DIR configure a cache (see
 * pani_agent_conf_keeps)?  A file that cannot be read: no.  */
static int
keeps_cache (const char *dir)
{
  char *path = pani_strdupf ("%s/gpg-agent.conf", dir);
  char *buf = malloc (65536);
  int fd = path ? open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                : -1;
  struct stat st;
  ssize_t n, len = 0;
  int keep = 0;

  if (fd >= 0 && buf && !fstat (fd, &st) && S_ISREG (st.st_mode))
    {
      while (len < 65536
             && ((n = read (fd, buf + len, 65536 - len)) > 0
                 || (n < 0 && errno == EINTR)))
        len += n > 0 ? n : 0;
      keep = pani_agent_conf_keeps (buf, len);
    }
  if (fd >= 0)
    close (fd);
  free (buf);
  free (path);
  return keep;
}

/* May a daemon run on the GnuPG home DIR: its sockets are there, or
 * in a socket directory under /run/user (which one, only gpgconf
 * knows)?  Saves running gpgconf for nothing.  */
static int
may_have_daemons (const char *dir)
{
  static const char *const names[] = { "S.gpg-agent", "S.dirmngr",
                                       "S.keyboxd" };
  char path[64];
  struct stat st;
  int found;

  snprintf (path, sizeof path, "/run/user/%lu/gnupg",
            (unsigned long)geteuid ());
  if (!lstat (path, &st))
    return 1;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    {
      char *sock = pani_strdupf ("%s/%s", dir, names[i]);

      found = !sock || !lstat (sock, &st);
      free (sock);
      if (found)
        return 1;
    }
  return 0;
}

void
pani_engine_stop_daemons (const char *dir)
{
  if (may_have_daemons (dir))
    pani_engine_gpgconf (dir, "--kill", "all");
}

/* At exit: stop the daemons of each home this process was the last to
 * use, and let go of the homes.  */
static void
leave_homes (void)
{
  struct engine_home *h;

  pthread_mutex_lock (&homes_lock);
  while ((h = homes))
    {
      homes = h->next;
      if (!flock (h->fd, LOCK_EX | LOCK_NB) && !keeps_cache (h->dir))
        pani_engine_stop_daemons (h->dir);
      close (h->fd);
      free (h->dir);
      free (h);
    }
  pthread_mutex_unlock (&homes_lock);
}

static void
register_leave (void)
{
  atexit (leave_homes);
}

/* Take a shared lock on FD, waiting (while the last user of the home
 * stops its daemons) a little longer than gpgconf may take.  */
static int
lock_shared (int fd)
{
  struct timespec pause = { 0, 20 * 1000 * 1000 }, deadline;

  pani_deadline_in (&deadline, PANI_GPGCONF_TIMEOUT + 5);
  while (flock (fd, LOCK_SH | LOCK_NB))
    {
      if ((errno != EWOULDBLOCK && errno != EINTR)
          || !pani_ms_until (&deadline))
        return -1;
      nanosleep (&pause, NULL);
    }
  return 0;
}

/* Note that this process uses the GnuPG home DIR (see above).  Without
 * the lock the home is used all the same: its daemons are then left to
 * the other processes to stop.  */
void
pani_engine_use_home (const char *dir)
{
  struct engine_home *h;
  int fd;

  pthread_once (&homes_once, register_leave);
  pthread_mutex_lock (&homes_lock);
  for (h = homes; h && strcmp (h->dir, dir); h = h->next)
    ;
  if (!h
      && (fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
        >= 0)
    {
      if (lock_shared (fd) || !(h = calloc (1, sizeof *h))
          || !(h->dir = pani_strdup (dir)))
        {
          free (h);
          close (fd);
        }
      else
        {
          h->fd = fd;
          h->next = homes;
          homes = h;
        }
    }
  pthread_mutex_unlock (&homes_lock);
}

/* Forget the home DIR (a scratch home about to be removed: its daemons
 * are stopped there).  */
void
pani_engine_forget_home (const char *dir)
{
  struct engine_home **hp, *h;

  pthread_mutex_lock (&homes_lock);
  for (hp = &homes; *hp && strcmp ((*hp)->dir, dir); hp = &(*hp)->next)
    ;
  if ((h = *hp))
    {
      *hp = h->next;
      close (h->fd);
      free (h->dir);
      free (h);
    }
  pthread_mutex_unlock (&homes_lock);
}


/*
 * The GnuPG programs.
 */

const char *
pani_engine_program (gpgme_protocol_t protocol)
{
  gpgme_engine_info_t info = NULL;

  if (gpgme_get_engine_info (&info))
    return NULL;
  for (; info; info = info->next)
    if (info->protocol == protocol)
      return info->file_name;
  return NULL;
}

gpg_error_t
pani_engine_spawn (const char *prog, const char *argv[], gpgme_data_t *r_out)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t out = NULL, errout = NULL;

  *r_out = NULL;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, GPGME_PROTOCOL_SPAWN))
      || (err = gpgme_data_new (&out)) || (err = gpgme_data_new (&errout))
      || (err = gpgme_op_spawn (gctx, prog, argv, NULL, out, errout, 0)))
    {
      gpgme_data_release (out);
      out = NULL;
    }
  gpgme_data_release (errout);
  gpgme_release (gctx);
  *r_out = out;
  return err;
}

char *
pani_engine_sibling (const char *name)
{
  const char *known = pani_engine_program (GPGME_PROTOCOL_GPGCONF);
  const char *slash;

  if (!known)
    known = pani_engine_program (GPGME_PROTOCOL_OpenPGP);
  slash = known ? strrchr (known, '/') : NULL;
  if (!slash)
    return pani_strdupf ("/usr/bin/%s", name);
  return pani_strdupf ("%.*s/%s", (int)(slash - known), known, name);
}

/* Wait at most TIMEOUT seconds for the child PID to exit (killing it
 * then); store its wait status at *R_STATUS.  */
static gpg_error_t
wait_bounded (pid_t pid, long timeout, int *r_status)
{
  struct timespec deadline;
  struct pollfd p = { pani_pidfd_open (pid), POLLIN, 0 };
  gpg_error_t err = 0;
  int rc = 0;

  pani_deadline_in (&deadline, timeout);
  if (p.fd >= 0)
    {
      while ((rc = poll (&p, 1, pani_ms_until (&deadline))) < 0
             && errno == EINTR)
        ;
      close (p.fd);
    }
  if (p.fd < 0 || rc <= 0)
    {
      /* No pidfd, or the time is up: it must not keep us.  */
      kill (pid, SIGKILL);
      err = gpg_error (GPG_ERR_TIMEOUT);
    }
  while (waitpid (pid, r_status, 0) < 0)
    if (errno != EINTR)
      return gpg_error_from_syserror ();
  return err;
}

/* Start PROG with ARGV, its stdin and stdout /dev/null and its stderr
 * stdout, no other descriptor; store its pid at *R_PID.  */
static gpg_error_t
spawn_quiet (const char *prog, char *argv[], pid_t *r_pid)
{
  posix_spawn_file_actions_t fa;
  int rc;

  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  rc = posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  if (!rc)
    rc = posix_spawn_file_actions_addclosefrom_np (&fa, 3);
  if (!rc)
    rc = posix_spawn (r_pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  return rc ? gpg_error_from_errno (rc) : 0;
}

gpg_error_t
pani_engine_gpgconf (const char *homedir, const char *arg1, const char *arg2)
{
  /* GPGME's gpgconf, or the one next to gpg.  */
  char *prog = pani_engine_sibling ("gpgconf");
  char *argv[] = { prog,         (char *)"--homedir", (char *)homedir,
                   (char *)arg1, (char *)arg2,        NULL };
  pid_t pid;
  int status;
  gpg_error_t err;

  if (!prog)
    return gpg_error_from_syserror ();
  err = spawn_quiet (prog, argv, &pid);
  free (prog);
  if (err || (err = wait_bounded (pid, PANI_GPGCONF_TIMEOUT, &status)))
    return err;
  return WIFEXITED (status) && !WEXITSTATUS (status)
    ? 0
    : gpg_error (GPG_ERR_GENERAL);
}
