/* deliver.c - hand a job's encrypted copies to the MTA; keep what it
 * does not take in the queue
 *
  * Each copy goes to "sendmail -i -f SENDER -- RCPTS" (or the configured
  * MTA, with the DSN options given), run with posix_spawn (never a
  * shell) in a process group of its own, with only descriptors 0-2.
  * The spool file is fed to it through a pipe of which pansend keeps the
  * reading end as well: once the MTA has exited, what is left in the
  * pipe is what it did not read.  A copy is delivered only if the MTA
  * exited 0 within mta-timeout and read every byte of it; otherwise it
  * goes to the queue with its envelope.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "job-int.h"
#include "deliver-int.h"

extern char **environ;

/* Append to FULL at *K the option OPT with VAL, if VAL is set.  */
static void
put_option (char **full, size_t *k, const char *opt, const char *val)
{
  if (!val)
    return;
  full[(*k)++] = (char *)opt;
  full[(*k)++] = (char *)val;
}

/* Build the MTA command for the copy of ENV: ARGV without its own -f, -r
 * and -t,
 * then "-i -f SENDER", the DSN options and body type given, "--", then
 * the copy's recipients.  The recipients are given explicitly rather
 * than with -t: MTAs disagree on what -t does with addresses on the
 * command line (Sendmail drops them, Postfix adds them), Bcc must not
 * travel in the headers, and each copy goes only to its own recipients.
 * "--" keeps an address that starts with '-' from being taken for an
 * option.  */
static gpg_error_t
build_mta_argv (const struct pani_envelope *env, const char *const *argv,
                char ***r_full)
{
  size_t n = 0, k = 0, skip;
  const char *ignored;
  char **full;

  *r_full = NULL;
  while (argv[n])
    n++;
  if (!(full = calloc (n + 13 + env->nrcpts + 1, sizeof *full)))
    return gpg_error (GPG_ERR_ENOMEM);
  full[k++] = (char *)argv[0];
  for (size_t i = 1; i < n; i += skip ? skip : 1)
    if (!(skip = pani_mta_own_option (argv, i, &ignored)))
      full[k++] = (char *)argv[i];
  full[k++] = (char *)"-i";
  put_option (full, &k, "-f", env->sender);
  put_option (full, &k, "-N", env->dsn_notify);
  put_option (full, &k, "-R", env->dsn_ret);
  put_option (full, &k, "-V", env->dsn_envid);
  put_option (full, &k, "-B", env->body_type);
  full[k++] = (char *)"--";
  for (size_t i = 0; i < env->nrcpts; i++)
    full[k++] = env->rcpts[i];
  *r_full = full;
  return 0;
}


/*
 * One run of the MTA.
 */

struct mta_run
{
  pid_t pid;
  int pidfd;        /* Readable once the MTA exited.  */
  int wfd;          /* The pipe: what we write,        */
  int rfd;          /* and our hold of its reading end. */
  long long fed;    /* Bytes written into the pipe.    */
  long long unread; /* Left in the pipe at the MTA's exit. */
  int status;       /* Exit status, 128+N for signal N. */
  int timed_out;
  struct timespec deadline;
};

/* Start the MTA FULL on a new pipe, in its own process group, with the
 * default action for SIGPIPE and no descriptor but 0-2.  */
static gpg_error_t
spawn_mta (char **full, struct mta_run *m)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t def, none;
  int p[2], rc;

  if (pipe2 (p, O_CLOEXEC))
    return gpg_error_from_syserror ();
  m->rfd = p[0];
  m->wfd = p[1];
  sigemptyset (&def);
  sigaddset (&def, SIGPIPE);
  sigemptyset (&none);
  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  if ((rc = posix_spawnattr_init (&attr)))
    {
      posix_spawn_file_actions_destroy (&fa);
      return gpg_error_from_errno (rc);
    }
  if (!(rc = posix_spawn_file_actions_adddup2 (&fa, p[0], 0))
      && !(rc = posix_spawn_file_actions_addclosefrom_np (&fa, 3))
      && !(rc = posix_spawnattr_setpgroup (&attr, 0))
      && !(rc = posix_spawnattr_setsigdefault (&attr, &def))
      && !(rc = posix_spawnattr_setsigmask (&attr, &none))
      && !(rc = posix_spawnattr_setflags (&attr,
                                          POSIX_SPAWN_SETPGROUP
                                            | POSIX_SPAWN_SETSIGDEF
                                            | POSIX_SPAWN_SETSIGMASK)))
    rc = posix_spawnp (&m->pid, full[0], &fa, &attr, full, environ);
  posix_spawn_file_actions_destroy (&fa);
  posix_spawnattr_destroy (&attr);
  if (rc)
    return gpg_error_from_errno (rc);
  if ((m->pidfd = pani_pidfd_open (m->pid)) < 0
      || fcntl (m->wfd, F_SETFL, O_NONBLOCK))
    return gpg_error_from_syserror ();
  return 0;
}

/* Wait until the pipe of M takes more (1), the MTA exited or the pipe
 * broke (0), or the time is up (-1).  */
static int
wait_writable (struct mta_run *m)
{
  struct pollfd p[2] = {
    {m->wfd,    POLLOUT, 0},
    { m->pidfd, POLLIN,  0}
  };
  int rc;

  while ((rc = poll (p, 2, pani_ms_until (&m->deadline))) < 0
         && errno == EINTR)
    ;
  if (!rc)
    return -1;
  if (rc < 0 || p[1].revents || (p[0].revents & (POLLERR | POLLHUP)))
    return 0;
  return 1;
}

/* Feed the SIZE bytes of FD to M until all are written, the MTA exits
 * or the time is up.  */
static gpg_error_t
feed_mta (struct mta_run *m, int fd, long long size)
{
  char buf[65536];
  ssize_t have = 0, pos = 0, n;
  int rc;

  while (m->fed < size)
    {
      if (pos == have)
        {
          while ((have = pread (fd, buf, sizeof buf, m->fed)) < 0
                 && errno == EINTR)
            ;
          if (have <= 0)
            return have ? gpg_error_from_syserror ()
                        : gpg_error (GPG_ERR_TRUNCATED);
          pos = 0;
        }
      if ((rc = wait_writable (m)) <= 0)
        {
          m->timed_out = rc < 0;
          return 0;
        }
      n = write (m->wfd, buf + pos, have - pos);
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (n < 0)
        return 0; /* The MTA is gone; its exit tells.  */
      pos += n;
      m->fed += n;
    }
  return 0;
}

/* Wait for the MTA of M to exit (killing its process group when the
 * time is up) and see what it left unread.  */
static void
finish_mta (struct mta_run *m)
{
  struct pollfd p = { m->pidfd, POLLIN, 0 };
  int rc, wstatus, unread = 0;

  if (m->wfd >= 0)
    close (m->wfd); /* End of the copy for the MTA.  */
  m->wfd = -1;
  while (!m->timed_out
         && (rc = poll (&p, 1, pani_ms_until (&m->deadline))) <= 0)
    if (!rc || errno != EINTR)
      m->timed_out = 1;
  if (m->timed_out)
    kill (-m->pid, SIGKILL);
  while (waitpid (m->pid, &wstatus, 0) < 0)
    if (errno != EINTR)
      {
        wstatus = 0xff00; /* Exit status 255.  */
        break;
      }
  m->status = WIFEXITED (wstatus) ? WEXITSTATUS (wstatus)
                                  : 128 + WTERMSIG (wstatus);
  if (ioctl (m->rfd, FIONREAD, &unread))
    unread = -1;
  m->unread = unread;
}

static void
mta_release (struct mta_run *m)
{
  if (m->wfd >= 0)
    close (m->wfd);
  if (m->rfd >= 0)
    close (m->rfd);
  if (m->pidfd >= 0)
    close (m->pidfd);
}

/* Run the MTA FULL on the SIZE bytes of FD within TIMEOUT seconds; say
 * in *R_REASON why the copy was not taken whole (GPG_ERR_EPIPE).  */
static gpg_error_t
run_mta (int fd, long long size, char **full, long timeout,
         long long *r_taken, char **r_reason)
{
  gpg_error_t err;
  struct mta_run m = {
    -1, -1, -1, -1, 0, 0, -1, 0, {0, 0}
  };

  pani_deadline_in (&m.deadline, timeout);
  err = spawn_mta (full, &m);
  if (err && m.pid < 0)
    pani_reason (r_reason, err, "cannot run the MTA %s: %s", full[0],
                 gpg_strerror (err));
  if (m.pid > 0)
    {
      if (!err)
        err = feed_mta (&m, fd, size);
      if (err)
        m.timed_out = 1; /* Stop it now.  */
      finish_mta (&m);
    }
  *r_taken = m.fed - (m.unread > 0 ? m.unread : 0);
  if (!err && m.timed_out)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_TIMEOUT),
                       "the MTA %s"
                       " did not finish within mta-timeout (%ld s) and was"
                       " killed",
                       full[0], timeout);
  else if (!err && m.status)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                       "the MTA %s"
                       " exited with status %d",
                       full[0], m.status);
  else if (!err && (m.fed != size || m.unread))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                       "the MTA %s"
                       " exited 0 but read only %lld of the %lld bytes",
                       full[0], *r_taken, size);
  mta_release (&m);
  return err;
}


/*
 * The envelope of a copy, and the queue.
 */

/* Append the line "NAME: VALUE" to B if VALUE is set.  */
static void
put_optional (struct pani_buf *b, const char *name, const char *value)
{
  if (value)
    pani_buf_printf (b, "%s: %s\n", name, value);
}

gpg_error_t
pani_envelope_write (const char *path, const struct pani_envelope *env,
                     char **r_reason)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  gpg_error_t err;

  pani_buf_printf (&b,
                   "panmail-queue: 1\ncopy: %s\nmessage-id: %s\n"
                   "sender: %s\nsize: %lld\nsha256: %s\ncreated: %lld\n"
                   "attempts: %lld\nnext-attempt: %lld\n",
                   env->copy, env->message_id, env->sender, env->size,
                   env->sha256, env->created, env->attempts,
                   env->next_attempt);
  put_optional (&b, "dsn-notify", env->dsn_notify);
  put_optional (&b, "dsn-ret", env->dsn_ret);
  put_optional (&b, "dsn-envid", env->dsn_envid);
  put_optional (&b, "body-type", env->body_type);
  for (size_t i = 0; i < env->nrcpts; i++)
    pani_buf_printf (&b, "rcpt: %s\n", env->rcpts[i]);
  if (!(err = pani_buf_error (&b)))
    err = pani_write_file_atomic (path, b.data, b.len, 0600, r_reason);
  pani_buf_free (&b);
  return err;
}

/* Fill ENV (zeroed) with the envelope of C of JOB; release ENV->rcpts
 * with free.  */
static gpg_error_t
fill_envelope (pan_job_t job, struct copy *c, struct pani_envelope *env)
{
  env->copy = c->id;
  env->message_id = job->message_id ? job->message_id : (char *)"";
  env->sender = (char *)pan_job_envelope_sender (job, NULL);
  env->dsn_notify = (char *)job->env.dsn_notify;
  env->dsn_ret = (char *)job->env.dsn_ret;
  env->dsn_envid = (char *)job->env.dsn_envid;
  env->body_type = (char *)job->env.body_type;
  env->sha256 = c->digest;
  env->size = c->size;
  env->created = job->now;
  if (!(env->rcpts = calloc (c->nrcpts + 1, sizeof *env->rcpts)))
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < c->nrcpts; i++)
    env->rcpts[i] = job->rcpts[c->rcpts[i]].addr;
  env->nrcpts = c->nrcpts;
  return 0;
}

/* Write the envelope of C of JOB to PATH.  */
static gpg_error_t
write_envelope (pan_job_t job, struct copy *c, const char *path,
                long long attempts, time_t next, char **r_reason)
{
  struct pani_envelope env;
  gpg_error_t err;

  memset (&env, 0, sizeof env);
  if ((err = fill_envelope (job, c, &env)))
    return err;
  env.attempts = attempts;
  env.next_attempt = next;
  err = pani_envelope_write (path, &env, r_reason);
  free (env.rcpts);
  return err;
}

gpg_error_t
pan_job_stage (pan_job_t job, size_t copy, char **r_reason)
{
  struct copy *c = copy < job->ncopies ? &job->copies[copy] : NULL;
  gpg_error_t err;

  if (!c || !c->spool_path || !c->digest[0])
    return gpg_error (GPG_ERR_INV_STATE);
  if (c->env_path)
    return 0;
  if (!(c->env_path = pani_strdupf ("%s/spool/%s.env",
                                    pan_ctx_home (job->ctx), c->id)))
    return gpg_error_from_syserror ();
  if ((err = write_envelope (job, c, c->env_path, 0, job->now, r_reason)))
    return err;
  pani_test_crash ("staged");
  return 0;
}

const char *
pan_job_copy_id (pan_job_t job, size_t copy)
{
  return copy < job->ncopies && job->copies[copy].id[0]
    ? job->copies[copy].id
    : NULL;
}

/* Move C to the queue: its ciphertext, then its envelope (the envelope
 * makes it a queued copy), with the time of the next attempt.  */
static gpg_error_t
queue_copy (pan_job_t job, struct copy *c, char **r_reason)
{
  gpg_error_t err;
  char *eml = pani_strdupf ("%s/queue/%s.eml", pan_ctx_home (job->ctx),
                            c->id);
  char *env = pani_strdupf ("%s/queue/%s.env", pan_ctx_home (job->ctx),
                            c->id);

  if (!eml || !env)
    err = gpg_error_from_syserror ();
  else if (rename (c->spool_path, eml))
    err = pani_reason_sys (r_reason, eml);
  else if (!(err = write_envelope (job, c, env, 1,
                                   time (NULL) + PANI_QUEUE_FIRST_RETRY,
                                   r_reason)))
    {
      free (c->spool_path);
      c->spool_path = NULL;
      if (c->env_path)
        unlink (c->env_path);
    }
  free (eml);
  free (env);
  return err;
}

static long
mta_timeout (pan_ctx_t ctx)
{
  long t = pan_config_get_int (pan_ctx_config (ctx), "mta-timeout");

  return t > 0 ? t : 300;
}

gpg_error_t
pani_mta_hand_over (pan_ctx_t ctx, int fd, const struct pani_envelope *env,
                    const char *const *argv, char **r_reason)
{
  gpg_error_t err;
  char **full;
  long long taken;

  if ((err = build_mta_argv (env, argv, &full)))
    return err;
  err = run_mta (fd, env->size, full, mta_timeout (ctx), &taken, r_reason);
  free (full);
  return err;
}

gpg_error_t
pan_job_deliver (pan_job_t job, size_t copy, const char *const *argv,
                 char **r_reason)
{
  gpg_error_t err, qerr;
  struct copy *c = copy < job->ncopies ? &job->copies[copy] : NULL;
  struct pani_envelope env;
  char *why = NULL;

  if (!c || !c->spool_path || !c->digest[0] || !argv || !argv[0])
    return gpg_error (GPG_ERR_INV_STATE);
  memset (&env, 0, sizeof env);
  if ((err = fill_envelope (job, c, &env)))
    return err;
  pani_test_crash ("pending");
  err = pani_mta_hand_over (job->ctx, c->spool_fd, &env, argv, &why);
  free (env.rcpts);
  if (!err)
    {
      pani_test_crash ("handed");
      unlink (c->spool_path);
      free (c->spool_path);
      c->spool_path = NULL;
      goto leave;
    }
  qerr = queue_copy (job, c, NULL);
  pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE), "%s; copy %s %s",
               why ? why : gpg_strerror (err), c->id,
               qerr ? "could not be queued either: it is lost, send again"
                    : "is queued");
  err = gpg_error (gpg_err_code (err) == GPG_ERR_TIMEOUT ? GPG_ERR_TIMEOUT
                                                         : GPG_ERR_EPIPE);
leave:
  free (why);
  return err;
}
