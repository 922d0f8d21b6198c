/* engine.c - GPGME on a home's GnuPG home: contexts, pinned keys,
 * scratch homes, the GnuPG programs, fingerprints
 *
 * Every GPGME context of the library is made by pani_gpgme_new, so the
 * engine set-up lives in one place.  Keys are always looked up by their
 * full fingerprint and the primary fingerprint of what GPGME returns is
 * compared again (pani_get_pinned_key), so a key that merely carries a
 * matching user ID, or a subkey fingerprint, is never taken.  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "engine-int.h"

extern char **environ;

/* The longest a gpgconf run (--kill, --reload) may take, in seconds.  */
#define PANI_GPGCONF_TIMEOUT 10

gpg_error_t
pan_fpr_normalize (const char *input, char **r_fpr, char **r_reason)
{
  char *fpr;
  size_t n = 0;

  *r_fpr = NULL;
  if (!strncmp (input, "0x", 2) || !strncmp (input, "0X", 2))
    input += 2;
  if (!(fpr = malloc (strlen (input) + 1)))
    return gpg_error_from_syserror ();
  for (; *input; input++)
    {
      if (*input == ' ' || *input == '\t')
        continue;
      if (pani_hexval (*input) < 0)
        {
          free (fpr);
          return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                              "the fingerprint may hold only hex digits"
                              " and spaces");
        }
      fpr[n++] = (*input >= 'a') ? *input - 32 : *input;
    }
  fpr[n] = 0;
  if (n == 40 || n == 64)
    {
      *r_fpr = fpr;
      return 0;
    }
  free (fpr);
  if (n == 8 || n == 16)
    return pani_reason (r_reason, gpg_error (GPG_ERR_AMBIGUOUS_NAME),
                        "a %zu-digit key ID is not a fingerprint and can"
                        " be forged; give the full 40 or 64 digit"
                        " fingerprint read out of band",
                        n);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                      "a fingerprint has 40 or 64 hex digits, not %zu", n);
}


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
      if (!flock (h->fd, LOCK_EX | LOCK_NB) && may_have_daemons (h->dir)
          && !keeps_cache (h->dir))
        pani_engine_gpgconf (h->dir, "--kill", "all");
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
static void
use_home (const char *dir)
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
static void
forget_home (const char *dir)
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
 * Contexts and keys.
 */

gpg_error_t
pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                gpgme_ctx_t *r_gctx)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;

  *r_gctx = NULL;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, protocol))
      || (err = gpgme_ctx_set_engine_info (gctx, protocol, NULL, gnupg_home))
      || (err = gpgme_set_keylist_mode (gctx, GPGME_KEYLIST_MODE_LOCAL)))
    {
      gpgme_release (gctx);
      return err;
    }
  gpgme_set_offline (gctx, 1);
  use_home (gnupg_home);
  *r_gctx = gctx;
  return 0;
}

/* Return the pinned key FPR: its primary fingerprint must equal FPR.  */
gpg_error_t
pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr, gpgme_key_t *r_key)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_key = NULL;
  err = gpgme_get_key (gctx, fpr, &key, 0);
  if (gpg_err_code (err) == GPG_ERR_EOF || (!err && !key))
    return gpg_error (GPG_ERR_NO_PUBKEY);
  if (err)
    return err;
  if (!key->subkeys || !key->subkeys->fpr
      || pani_ascii_casecmp (key->subkeys->fpr, fpr))
    {
      gpgme_key_unref (key);
      return gpg_error (GPG_ERR_NO_PUBKEY);
    }
  *r_key = key;
  return 0;
}

void
pani_release_keys (gpgme_key_t *keys)
{
  for (size_t i = 0; keys && keys[i]; i++)
    gpgme_key_unref (keys[i]);
  free (keys);
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

/* Return the gpgconf program GPGME uses.  */
static const char *
gpgconf_program (void)
{
  const char *prog = pani_engine_program (GPGME_PROTOCOL_GPGCONF);

  return prog ? prog : "gpgconf";
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

gpg_error_t
pani_engine_gpgconf (const char *homedir, const char *arg1, const char *arg2)
{
  const char *prog = gpgconf_program ();
  char *argv[] = { (char *)prog, (char *)"--homedir", (char *)homedir,
                   (char *)arg1, (char *)arg2,        NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, status;
  gpg_error_t err;

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
    rc = posix_spawn (&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc)
    return gpg_error_from_errno (rc);
  if ((err = wait_bounded (pid, PANI_GPGCONF_TIMEOUT, &status)))
    return err;
  return WIFEXITED (status) && !WEXITSTATUS (status)
    ? 0
    : gpg_error (GPG_ERR_GENERAL);
}


/*
 * Scratch homes.
 */

gpg_error_t
pani_engine_scratch_new (pan_ctx_t ctx, const char *name, char **r_dir,
                         char **r_reason)
{
  /* The pid in the name lets pan_queue_recover remove it once its
   * process is gone.  */
  char *dir = pani_strdupf ("%s/spool/%s.%ld.XXXXXX", ctx->home, name,
                            (long)getpid ());
  gpg_error_t err;

  *r_dir = NULL;
  if (!dir)
    return gpg_error (GPG_ERR_ENOMEM);
  if (!mkdtemp (dir))
    {
      err = pani_reason_sys (r_reason, dir);
      free (dir);
      return err;
    }
  *r_dir = dir;
  return 0;
}

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

void
pani_engine_scratch_remove (const char *dir)
{
  /* A scratch home that could not be made is no error.  */
  if (!dir)
    return;
  /* A daemon that still runs there would make its sockets again.  */
  forget_home (dir);
  pani_engine_gpgconf (dir, "--kill", "all");
  nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}


/*
 * The watchdog over the engine processes of one operation.
 */

struct pani_engine_guard
{
  pthread_mutex_t lock;
  pthread_t thread;
  int have_thread;
  int wake[2];                /* A byte wakes the thread up.  */
  int stop;                   /* End asked: the thread returns.  */
  int expired;                /* The time ran out: engines killed.  */
  int time_only;              /* Exit statuses are not checked.  */
  int kick;                   /* Data flows: the engine runs.  */
  struct timespec deadline;   /* CLOCK_MONOTONIC.  */
  struct timespec held_since; /* When HOLD began (tv_sec -1: none).  */
  size_t progress;            /* Bytes not yet turned into time.  */
};

#define GUARD_MIB (1024 * 1024)

/* Is PID an engine process (gpg, gpgsm): its command name is the base
 * name of a program GPGME runs.  */
static int
is_engine_name (const char *comm)
{
  static const gpgme_protocol_t protocols[] = { GPGME_PROTOCOL_OpenPGP,
                                                GPGME_PROTOCOL_CMS };

  for (size_t i = 0; i < sizeof protocols / sizeof *protocols; i++)
    {
      const char *prog = pani_engine_program (protocols[i]);
      const char *base = prog ? strrchr (prog, '/') : NULL;

      base = base ? base + 1 : prog;
      /* The kernel keeps the first 15 bytes of the name.  */
      if (base && !strncmp (base, comm, 15))
        return 1;
    }
  return 0;
}

/* Read the parent and command name of process NAME (a /proc entry).  */
static int
proc_parent (const char *name, pid_t *r_ppid, char *comm, size_t size,
             char *r_state)
{
  char path[300], buf[512], *open_paren, *close_paren;
  int fd, ppid;
  ssize_t n;

  snprintf (path, sizeof path, "/proc/%s/stat", name);
  if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  open_paren = strchr (buf, '(');
  close_paren = strrchr (buf, ')');
  if (!open_paren || !close_paren || close_paren < open_paren
      || sscanf (close_paren + 1, " %c %d", r_state, &ppid) != 2)
    return -1;
  *close_paren = 0;
  snprintf (comm, size, "%s", open_paren + 1);
  *r_ppid = ppid;
  return 0;
}

/* Store up to MAX pids of this process's engine children in PIDS (only
 * those that run if LIVE); return how many.  */
static size_t
engine_children (pid_t *pids, size_t max, int live)
{
  DIR *dir = opendir ("/proc");
  struct dirent *d;
  size_t n = 0;
  pid_t self = getpid (), ppid;
  char comm[64], state;

  while (dir && n < max && (d = readdir (dir)))
    if (d->d_name[0] >= '1' && d->d_name[0] <= '9'
        && !proc_parent (d->d_name, &ppid, comm, sizeof comm, &state)
        && ppid == self && is_engine_name (comm)
        && (!live || (state != 'Z' && state != 'X')))
      pids[n++] = (pid_t)atol (d->d_name);
  if (dir)
    closedir (dir);
  return n;
}

/* Kill the engines and wait (a few seconds at most) until they are
 * gone: only then are their pipes closed.  */
static void
kill_engines (void)
{
  pid_t pids[64];
  size_t n = engine_children (pids, 64, 1);

  for (size_t i = 0; i < n; i++)
    {
      struct pollfd p = { pani_pidfd_open (pids[i]), POLLIN, 0 };

      kill (pids[i], SIGKILL);
      if (p.fd >= 0)
        {
          poll (&p, 1, 5000);
          close (p.fd);
        }
    }
}

/* GPGME 1.18 polls a pipe to a dead engine for POLLOUT for ever
 * (POLLERR alone does not end its loop): put /dev/null in place of
 * every pipe of ours that no one reads any more, so that GPGME writes
 * what is left to nowhere and sees the engine's end.  */
static void
unstick_pipes (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *d;
  struct stat st;
  int null = open ("/dev/null", O_WRONLY | O_CLOEXEC), fd;

  while (dir && null >= 0 && (d = readdir (dir)))
    {
      struct pollfd p = { .fd = atoi (d->d_name) };

      fd = p.fd;
      if (fd > 2 && fd != dirfd (dir) && !fstat (fd, &st)
          && S_ISFIFO (st.st_mode) && poll (&p, 1, 0) == 1
          && (p.revents & POLLERR))
        dup3 (null, fd, O_CLOEXEC);
    }
  if (dir)
    closedir (dir);
  if (null >= 0)
    close (null);
}

/* Once data flows, find the engine and wait for its exit.  */
static int
watch_engine (pani_engine_guard_t g, int pidfd)
{
  pid_t pid;

  if (pidfd < 0 && g->kick && engine_children (&pid, 1, 1))
    pidfd = pani_pidfd_open (pid);
  g->kick = 0;
  return pidfd;
}

/* The watchdog: kills the engines when the time is up; when an engine
 * dies, unsticks GPGME (unstick_pipes).  No busy waiting: it sleeps in
 * poll on its wake-up pipe and the engine's pidfd.  */
static void *
guard_thread (void *arg)
{
  pani_engine_guard_t g = arg;
  int pidfd = -1, timeout;
  char buf[64];

  pthread_mutex_lock (&g->lock);
  while (!g->stop)
    {
      struct pollfd p[2] = {
        {g->wake[0], POLLIN, 0},
        { -1,        POLLIN, 0}
      };

      if (g->held_since.tv_sec < 0 && !pani_ms_until (&g->deadline))
        {
          g->expired = 1;
          kill_engines ();
          unstick_pipes ();
          break;
        }
      timeout = g->held_since.tv_sec < 0 ? pani_ms_until (&g->deadline) : -1;
      p[1].fd = pidfd = watch_engine (g, pidfd);
      pthread_mutex_unlock (&g->lock);
      if (poll (p, 2, timeout) > 0 && (p[0].revents & POLLIN))
        (void)!read (g->wake[0], buf, sizeof buf);
      if (p[1].revents)
        {
          unstick_pipes (); /* The engine is gone.  */
          close (pidfd);
          pidfd = -1;
        }
      pthread_mutex_lock (&g->lock);
    }
  pthread_mutex_unlock (&g->lock);
  if (pidfd >= 0)
    close (pidfd);
  return NULL;
}

static void
guard_wake (pani_engine_guard_t g)
{
  (void)!write (g->wake[1], "", 1);
}

gpg_error_t
pani_engine_guard_begin (long timeout, pani_engine_guard_t *r_g)
{
  pani_engine_guard_t g;
  int rc;

  *r_g = NULL;
#ifdef PR_SET_CHILD_SUBREAPER
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
    return gpg_error_from_syserror ();
#endif
  if (!(g = calloc (1, sizeof *g)))
    return gpg_error_from_syserror ();
  pthread_mutex_init (&g->lock, NULL);
  pani_deadline_in (&g->deadline, timeout);
  g->held_since.tv_sec = -1;
  if (pipe2 (g->wake, O_CLOEXEC | O_NONBLOCK))
    {
      g->wake[0] = g->wake[1] = -1;
      rc = errno;
    }
  else
    rc = pthread_create (&g->thread, NULL, guard_thread, g);
  g->have_thread = !rc;
  *r_g = g;
  if (rc)
    {
      pani_engine_guard_end (g, NULL);
      *r_g = NULL;
      return gpg_error_from_errno (rc);
    }
  return 0;
}

gpg_error_t
pani_engine_watch_begin (pan_ctx_t ctx, pani_engine_guard_t *r_g)
{
  long t = ctx ? pan_config_get_int (ctx->config, "gpg-timeout") : 0;
  gpg_error_t err = pani_engine_guard_begin (t > 0 ? t : 120, r_g);

  if (!err)
    (*r_g)->time_only = 1;
  return err;
}

gpg_error_t
pani_engine_watch_end (pani_engine_guard_t g, gpg_error_t err,
                       char **r_reason)
{
  char *why = NULL;
  gpg_error_t err2 = pani_engine_guard_end (g, &why);

  if (!err2)
    {
      free (why);
      return err;
    }
  /* The time-out is the cause of whatever GPGME saw.  */
  if (r_reason)
    {
      free (*r_reason);
      *r_reason = why;
    }
  else
    free (why);
  return err2;
}

void
pani_engine_guard_kick (pani_engine_guard_t g)
{
  if (!g)
    return;
  pthread_mutex_lock (&g->lock);
  if (!g->kick)
    {
      g->kick = 1;
      guard_wake (g);
    }
  pthread_mutex_unlock (&g->lock);
}

void
pani_engine_guard_hold (pani_engine_guard_t g, int hold)
{
  struct timespec now;

  if (!g)
    return;
  pthread_mutex_lock (&g->lock);
  clock_gettime (CLOCK_MONOTONIC, &now);
  if (hold && g->held_since.tv_sec < 0)
    g->held_since = now;
  else if (!hold && g->held_since.tv_sec >= 0)
    {
      /* The time held is added to the deadline.  */
      g->deadline.tv_sec += now.tv_sec - g->held_since.tv_sec;
      g->deadline.tv_nsec += now.tv_nsec - g->held_since.tv_nsec;
      if (g->deadline.tv_nsec < 0)
        g->deadline.tv_sec--, g->deadline.tv_nsec += 1000000000;
      else if (g->deadline.tv_nsec >= 1000000000)
        g->deadline.tv_sec++, g->deadline.tv_nsec -= 1000000000;
      g->held_since.tv_sec = -1;
    }
  guard_wake (g);
  pthread_mutex_unlock (&g->lock);
}

void
pani_engine_guard_progress (pani_engine_guard_t g, size_t nbytes)
{
  if (!g)
    return;
  pthread_mutex_lock (&g->lock);
  g->progress += nbytes;
  g->deadline.tv_sec += g->progress / GUARD_MIB;
  g->progress %= GUARD_MIB;
  pthread_mutex_unlock (&g->lock);
}

/* Wait (until the deadline of G) for the engine PID to exit and check
 * its status.  */
static gpg_error_t
wait_engine (pani_engine_guard_t g, pid_t pid, char **r_reason)
{
  int pidfd = pani_pidfd_open (pid), status;
  struct pollfd pfd = { pidfd, POLLIN, 0 };
  pid_t got;

  if (pidfd >= 0)
    {
      while (poll (&pfd, 1, pani_ms_until (&g->deadline)) < 0
             && errno == EINTR)
        ;
      close (pidfd);
    }
  while ((got = waitpid (pid, &status, WNOHANG)) < 0 && errno == EINTR)
    ;
  if (got != pid)
    {
      kill (pid, SIGKILL);
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      return pani_reason (r_reason, gpg_error (GPG_ERR_TIMEOUT),
                          "the GnuPG engine (pid %ld) did not end in time"
                          " (gpg-timeout) and was killed",
                          (long)pid);
    }
  if (WIFEXITED (status) && !WEXITSTATUS (status))
    return 0;
  if (WIFSIGNALED (status))
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "the GnuPG engine (pid %ld) was killed by signal"
                        " %d",
                        (long)pid, WTERMSIG (status));
  return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                      "the GnuPG engine (pid %ld) exited with status %d",
                      (long)pid, WEXITSTATUS (status));
}

gpg_error_t
pani_engine_guard_end (pani_engine_guard_t g, char **r_reason)
{
  gpg_error_t err = 0, err2;
  pid_t pids[64];
  size_t n;

  if (!g)
    return 0;
  pthread_mutex_lock (&g->lock);
  g->stop = 1;
  guard_wake (g);
  pthread_mutex_unlock (&g->lock);
  if (g->have_thread)
    pthread_join (g->thread, NULL);
  if (g->expired)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_TIMEOUT),
                       "the GnuPG engine did not finish within gpg-timeout"
                       " and was killed%s",
                       g->time_only ? "" : "; nothing was sent");
  n = engine_children (pids, 64, 0);
  for (size_t i = 0; i < n; i++)
    {
      err2 = wait_engine (g, pids[i], g->time_only ? NULL : r_reason);
      if (g->time_only && gpg_err_code (err2) == GPG_ERR_TIMEOUT)
        err2 = pani_reason (r_reason, err2,
                            "the GnuPG engine did not finish within"
                            " gpg-timeout and was killed");
      else if (g->time_only)
        err2 = 0;
      if (err2 && !err)
        err = err2;
    }
  if (g->wake[0] >= 0)
    close (g->wake[0]);
  if (g->wake[1] >= 0)
    close (g->wake[1]);
  pthread_mutex_destroy (&g->lock);
  free (g);
  return err;
}
