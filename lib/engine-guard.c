/* engine-guard.c - the watchdog over the GnuPG engine processes that
 * GPGME starts (gpg, gpgsm), and the warm-up of GPGME's first look at
 * the engines
 *
 * The engines are found in /proc as this process's children (it is a
 * child subreaper).  A guard kills them when their time is up, and
 * unsticks GPGME when one dies (see HACKING).  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "engine-agent-int.h"
#include "engine-guard-int.h"

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
  int gone;                   /* A reader of our pipes ended, or the
                                 engines were killed.  */
  int asleep_held;            /* The thread sleeps until HOLD ends.  */
  long first_pid;             /* The first pid handed out after the
                                 start, or -1 (see engine_child_since).  */
  struct timespec deadline;   /* CLOCK_MONOTONIC.  */
  struct timespec held_since; /* When HOLD began (tv_sec -1: none).  */
  size_t progress;            /* Bytes not yet turned into time.  */
};

#define GUARD_MIB (1024 * 1024)

/* Set while the warm-up makes GPGME's engine list: GPGME holds the
 * list's lock meanwhile, so the engine is known by the name GPGME looks
 * for in PATH once gpgconf is not asked ("gpg"), not by asking GPGME,
 * which would wait for the engine that is to be killed.  */
static atomic_int engines_unlisted;

/* Is PID an engine process (gpg, gpgsm): its command name is the base
 * name of a program GPGME runs.  */
static int
is_engine_name (const char *comm)
{
  static const gpgme_protocol_t protocols[] = { GPGME_PROTOCOL_OpenPGP,
                                                GPGME_PROTOCOL_CMS };

  if (atomic_load (&engines_unlisted))
    return !strcmp (comm, "gpg");
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
  char path[300], buf[512];
  int fd;
  ssize_t n;
  long ppid;

  snprintf (path, sizeof path, "/proc/%s/stat", name);
  if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    return -1;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  if (pani_proc_stat_parse (buf, &ppid, r_state, comm, size))
    return -1;
  *r_ppid = (pid_t)ppid;
  return 0;
}

/* Is process NAME (a /proc entry) an engine child of SELF (one that
 * runs, if LIVE)?  */
static int
is_engine_child (const char *name, pid_t self, int live)
{
  pid_t ppid;
  char comm[64], state;

  return !proc_parent (name, &ppid, comm, sizeof comm, &state)
    && ppid == self && is_engine_name (comm)
    && (!live || (state != 'Z' && state != 'X'));
}

/* Store up to MAX pids of this process's engine children in PIDS (only
 * those that run if LIVE); return how many.  */
static size_t
engine_children (pid_t *pids, size_t max, int live)
{
  DIR *dir = opendir ("/proc");
  struct dirent *d;
  size_t n = 0;
  pid_t self = getpid ();

  while (dir && n < max && (d = readdir (dir)))
    if (d->d_name[0] >= '1' && d->d_name[0] <= '9'
        && is_engine_child (d->d_name, self, live))
      pids[n++] = (pid_t)atol (d->d_name);
  if (dir)
    closedir (dir);
  return n;
}

/* Add to PIDS (holding *N of MAX) the engine children of SELF named in
 * the children list at PATH (pids separated by spaces); return -1 if
 * the list cannot be read or holds anything but pids.  */
static int
listed_engines (const char *path, pid_t self, pid_t *pids, size_t *n,
                size_t max)
{
  char buf[16384], name[24];
  const char *p = buf;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  ssize_t got = 0;
  long pid;

  if (fd < 0)
    return -1;
  /* The kernel hands out about a page per read.  */
  while (len < sizeof buf - 1
         && ((got = read (fd, buf + len, sizeof buf - 1 - len)) > 0
             || (got < 0 && errno == EINTR)))
    len += got > 0 ? (size_t)got : 0;
  close (fd);
  if (got != 0)
    return -1; /* An error, or more children than BUF holds.  */
  buf[len] = 0;
  while (*n < max && (pid = pani_proc_next_pid (&p)) > 0)
    {
      snprintf (name, sizeof name, "%ld", pid);
      if (is_engine_child (name, self, 0))
        pids[(*n)++] = (pid_t)pid;
    }
  /* A list not read to its end is no list: the walk looks instead.  */
  p += strspn (p, " \n");
  return *n < max && *p ? -1 : 0;
}

/* Store up to MAX pids of this process's engine children, running or
 * ended, in PIDS, from the kernel's lists of each thread's children
 * (/proc/self/task/TID/children): a look at a handful of processes
 * rather than all of /proc, which costs about 10 us per process on the
 * host.  The lists are exact only while no child starts or is reaped,
 * as at the end of an operation.  Return how many, or -1 if a list
 * cannot be read (a kernel without CONFIG_PROC_CHILDREN).  */
static long
ended_engine_children (pid_t *pids, size_t max)
{
  DIR *dir;
  struct dirent *d;
  char path[64];
  size_t n = 0;
  pid_t self = getpid ();
  int bad = 0;

#ifdef PAN_TEST_HOOKS
  /* fault-gpg.sh: the walk through /proc, as without the lists.  */
  const char *walk = getenv ("PANMAIL_TEST_PROC_WALK");

  if (walk && *walk)
    return -1;
#endif
  if (!(dir = opendir ("/proc/self/task")))
    return -1;
  while (!bad && (d = readdir (dir)))
    if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
      {
        snprintf (path, sizeof path, "/proc/self/task/%.20s/children",
                  d->d_name);
        bad = listed_engines (path, self, pids, &n, max) < 0;
      }
  closedir (dir);
  return bad ? -1 : (long)n;
}

/* The last pid the kernel handed out, or -1.  */
static long
last_pid (void)
{
  char buf[32];
  int fd = open ("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read (fd, buf, sizeof buf - 1) : -1;

  if (fd >= 0)
    close (fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  return strtol (buf, NULL, 10);
}

/* The most pids engine_child_since looks at one by one.  */
#define RECENT_PIDS 512

/* Store the pid of a running engine child of this process, started
 * since pid FIRST was handed out, at *R_PID; return 1 if there is one.
 * Only the pids handed out since are looked at, not all of /proc,
 * unless the pids wrapped around or too many were handed out.  Missing
 * an engine here only delays its watch: the kill walks all of /proc,
 * and the end looks at every child.  */
static int
engine_child_since (long first, pid_t *r_pid)
{
  long last = last_pid ();
  pid_t self = getpid ();
  char name[24];

  if (first < 0 || last < first - 1 || last - first >= RECENT_PIDS)
    return engine_children (r_pid, 1, 1) == 1;
  for (long pid = first; pid <= last; pid++)
    {
      snprintf (name, sizeof name, "%ld", pid);
      if (is_engine_child (name, self, 1))
        {
          *r_pid = (pid_t)pid;
          return 1;
        }
    }
  return 0;
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
 * what is left to nowhere and sees the engine's end.  Return how many
 * it replaced.  */
static int
unstick_pipes (void)
{
  int replaced = 0;
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
        replaced += dup3 (null, fd, O_CLOEXEC) >= 0;
    }
  if (dir)
    closedir (dir);
  if (null >= 0)
    close (null);
  return replaced;
}

/* Once data flows, find the engine and wait for its exit.  */
static int
watch_engine (pani_engine_guard_t g, int pidfd)
{
  pid_t pid;

  if (pidfd < 0 && g->kick && engine_child_since (g->first_pid, &pid))
    pidfd = pani_pidfd_open (pid);
  /* While an engine is watched, a kick has nothing to tell: leaving
   * KICK set spares each read of the body a write to the wake-up pipe
   * and the guard a wake-up (a 50 MB body did 21,000 of each).  */
  g->kick = pidfd >= 0;
  return pidfd;
}

/* The watchdog: kills the engines when the time is up; when an engine
 * dies, unsticks GPGME (unstick_pipes).  No busy waiting: it sleeps in
 * poll on its wake-up pipe and the engine's pidfd.  */
static void *
guard_thread (void *arg)
{
  pani_engine_guard_t g = arg;
  int pidfd = -1, timeout, stuck;
  char buf[64];

  pthread_mutex_lock (&g->lock);
  while (!g->stop)
    {
      struct pollfd p[2] = {
        {g->wake[0], POLLIN, 0},
        { -1,        POLLIN, 0}
      };

      if (g->expired
          || (g->held_since.tv_sec < 0 && !pani_ms_until (&g->deadline)))
        {
          /* The time is up: kill the engines, and every engine GPGME
           * starts after (a step may run several) until the guard ends,
           * looking for them ten times a second.  */
          g->expired = g->gone = 1;
          kill_engines ();
          unstick_pipes ();
          timeout = 100;
        }
      else
        timeout = g->held_since.tv_sec < 0 ? pani_ms_until (&g->deadline)
                                           : -1;
      g->asleep_held = timeout < 0;
      p[1].fd = pidfd = watch_engine (g, pidfd);
      pthread_mutex_unlock (&g->lock);
      if (poll (p, 2, timeout) > 0 && (p[0].revents & POLLIN))
        (void)!read (g->wake[0], buf, sizeof buf);
      stuck = 0;
      if (p[1].revents)
        {
          /* The engine is gone.  Whichever it was (perhaps the "gpg
           * --version" before the one at work), a pipe of ours that no
           * one reads any more tells that the engine reading it
           * ended.  */
          stuck = unstick_pipes () > 0;
          close (pidfd);
          pidfd = -1;
        }
      pthread_mutex_lock (&g->lock);
      g->gone |= stuck;
      /* A next engine is looked for when data flows again, not now:
       * the look is a walk through /proc.  */
      if (p[1].revents)
        g->kick = 0;
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
  gpg_error_t err;
  int rc;

  *r_g = NULL;
  /* No engine of the warm-up runs under the guard.  */
  if ((err = pan_engine_settle ()))
    return err;
#ifdef PR_SET_CHILD_SUBREAPER
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
    return gpg_error_from_syserror ();
#endif
  if (!(g = calloc (1, sizeof *g)))
    return gpg_error_from_syserror ();
  pthread_mutex_init (&g->lock, NULL);
  g->first_pid = last_pid ();
  if (g->first_pid >= 0)
    g->first_pid++;
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

int
pani_engine_guard_gone (pani_engine_guard_t g)
{
  int gone;

  if (!g)
    return 0;
  pthread_mutex_lock (&g->lock);
  gone = g->gone;
  pthread_mutex_unlock (&g->lock);
  return gone;
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
      /* Only a thread that saw the hold sleeps past the new deadline;
       * one that did not wakes at the old one and looks again.  A hold
       * needs no wake-up either: the thread checks it before killing.
       * (Each read of stdin holds: waking for each cost a 50 MB body
       * 14,000 wake-ups.)  */
      if (g->asleep_held)
        guard_wake (g);
    }
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

/* Wait until DEADLINE at most for the engine PID to exit, else kill it;
 * reap it and store its status at *R_STATUS.  Return 0 if it exited in
 * time.  */
static int
reap_engine (pid_t pid, const struct timespec *deadline, int *r_status)
{
  int pidfd = pani_pidfd_open (pid);
  struct pollfd pfd = { pidfd, POLLIN, 0 };
  pid_t got;

  if (pidfd >= 0)
    {
      while (poll (&pfd, 1, pani_ms_until (deadline)) < 0 && errno == EINTR)
        ;
      close (pidfd);
    }
  while ((got = waitpid (pid, r_status, WNOHANG)) < 0 && errno == EINTR)
    ;
  if (got == pid)
    return 0;
  kill (pid, SIGKILL);
  while (waitpid (pid, r_status, 0) < 0 && errno == EINTR)
    ;
  return -1;
}

/* Store up to MAX pids of this process's engine children, running or
 * ended, in PIDS: from the kernel's lists, else from all of /proc.
 * Return how many.  */
static size_t
ended_or_running_engines (pid_t *pids, size_t max)
{
  long listed = ended_engine_children (pids, max);

  return listed >= 0 ? (size_t)listed : engine_children (pids, max, 0);
}

/* Wait (until the deadline of G) for the engine PID to exit and check
 * its status.  */
static gpg_error_t
wait_engine (pani_engine_guard_t g, pid_t pid, char **r_reason)
{
  int status;

  if (reap_engine (pid, &g->deadline, &status))
    return pani_reason (r_reason, gpg_error (GPG_ERR_TIMEOUT),
                        "the GnuPG engine (pid %ld) did not end in time"
                        " (gpg-timeout) and was killed",
                        (long)pid);
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
  n = ended_or_running_engines (pids, 64);
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


/*
 * The warm-up: GPGME's first look at the engines ("gpg --version",
 * about 2 ms) runs in a thread of its own while the caller reads its
 * input, from pan_engine_warm_up until whatever needs the engines
 * first (pan_engine_settle).  Only that thread and GPGME, which locks
 * its engine list, touch the engines meanwhile; the thread is always
 * joined by the thread that started it, which waits until gpg-timeout
 * at most: then it kills the engine (this process is already its
 * subreaper), and the settle fails.
 */

static struct
{
  pthread_t thread;
  int running;
  struct timespec deadline; /* CLOCK_MONOTONIC.  */
  gpg_error_t err;          /* GPG_ERR_TIMEOUT: gpg was killed.  */
} warm;

static void *
warm_up (void *unused)
{
  (void)unused;
  /* Any error (a gpg too old) is found again, and told, by the next
   * check.  */
  (void)gpgme_engine_check_version (GPGME_PROTOCOL_OpenPGP);
  atomic_store (&engines_unlisted, 0);
  return NULL;
}

gpg_error_t
pani_engine_warm_start (long timeout)
{
  gpg_error_t err;

  if ((err = pan_engine_settle ()))
    return err;
#ifdef PR_SET_CHILD_SUBREAPER
  /* The engine becomes our child once GPGME's go-between has ended.  */
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
    return 0; /* No warm-up: the first context looks, under a guard.  */
#endif
  pani_deadline_in (&warm.deadline, timeout > 0 ? timeout : 120);
  atomic_store (&engines_unlisted, 1);
  /* Without a thread, the first context checks the engines itself.  */
  warm.running = !pthread_create (&warm.thread, NULL, warm_up, NULL);
  if (!warm.running)
    atomic_store (&engines_unlisted, 0);
  return 0;
}

int
pani_engine_warming (void)
{
  return warm.running;
}

/* Reap the engine the warm-up left (its "gpg --version", ended or
 * ending), waiting until the warm-up's deadline at most: its exit
 * status is GPGME's business, not the next guard's.  */
static void
reap_warm_engines (void)
{
  pid_t pids[64];
  size_t n = ended_or_running_engines (pids, 64);
  int status;

  for (size_t i = 0; i < n; i++)
    (void)reap_engine (pids[i], &warm.deadline, &status);
}

gpg_error_t
pan_engine_settle (void)
{
  struct timespec grace;

  if (!warm.running)
    return warm.err;
  if (!pthread_clockjoin_np (warm.thread, NULL, CLOCK_MONOTONIC,
                             &warm.deadline))
    reap_warm_engines ();
  else
    {
      /* Its time is up: the join ends with the engine, or else it is
       * not waited for again.  */
      kill_engines ();
      warm.err = gpg_error (GPG_ERR_TIMEOUT);
      pani_deadline_in (&grace, 5);
      if (pthread_clockjoin_np (warm.thread, NULL, CLOCK_MONOTONIC, &grace))
        pthread_detach (warm.thread);
    }
  warm.running = 0;
  return warm.err;
}
