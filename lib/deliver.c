/* deliver.c - hand a job's encrypted copies to the MTA; keep what it
 * does not take in the queue
 *
 * Each copy goes to "sendmail -i -f SENDER -- RCPTS" (or the configured
 * MTA, with the DSN options given) with its spool file as stdin, run
 * with posix_spawn, never a shell.  */
#include <config.h>

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "job-int.h"

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

/* Build the MTA command for copy C: ARGV without its own -f, -r and -t,
 * then "-i -f SENDER", the DSN options and body type given, "--", then
 * the copy's recipients.  The recipients are given explicitly rather
 * than with -t: MTAs disagree on what -t does with addresses on the
 * command line (Sendmail drops them, Postfix adds them), Bcc must not
 * travel in the headers, and each copy goes only to its own recipients.
 * "--" keeps an address that starts with '-' from being taken for an
 * option.  */
static gpg_error_t
build_mta_argv (pan_job_t job, const struct copy *c,
                const char *const *argv, char ***r_full)
{
  size_t n = 0, k = 0, skip;
  const char *sender = pan_job_envelope_sender (job, argv), *ignored;
  char **full;

  *r_full = NULL;
  while (argv[n])
    n++;
  if (!(full = calloc (n + 13 + c->nrcpts + 1, sizeof *full)))
    return gpg_error (GPG_ERR_ENOMEM);
  full[k++] = (char *)argv[0];
  for (size_t i = 1; i < n; i += skip ? skip : 1)
    if (!(skip = pani_mta_own_option (argv, i, &ignored)))
      full[k++] = (char *)argv[i];
  full[k++] = (char *)"-i";
  put_option (full, &k, "-f", sender);
  put_option (full, &k, "-N", job->env.dsn_notify);
  put_option (full, &k, "-R", job->env.dsn_ret);
  put_option (full, &k, "-V", job->env.dsn_envid);
  put_option (full, &k, "-B", job->env.body_type);
  full[k++] = (char *)"--";
  for (size_t i = 0; i < c->nrcpts; i++)
    full[k++] = job->rcpts[c->rcpts[i]].addr;
  *r_full = full;
  return 0;
}

/* Run the MTA on FD; store its exit status.  */
static gpg_error_t
run_mta (int fd, char **full, int *r_status)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, wstatus;

  *r_status = -1;
  if (lseek (fd, 0, SEEK_SET))
    return gpg_error_from_syserror ();
  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  rc = posix_spawn_file_actions_adddup2 (&fa, fd, 0);
  if (!rc)
    rc = posix_spawnp (&pid, full[0], &fa, NULL, full, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc)
    return gpg_error_from_errno (rc);
  while (waitpid (pid, &wstatus, 0) < 0)
    if (errno != EINTR)
      return gpg_error_from_syserror ();
  *r_status = WIFEXITED (wstatus) ? WEXITSTATUS (wstatus)
    : 128 + WTERMSIG (wstatus);
  return 0;
}

/* Keep the ciphertext the MTA did not take; return its queue path.  */
static char *
queue_spool (pan_job_t job, struct copy *c)
{
  const char *base = strrchr (c->spool_path, '/') + 1;
  char *dest = pani_strdupf ("%s/queue/%s.eml", pan_ctx_home (job->ctx),
                             base);

  if (!dest)
    return NULL;
  if (rename (c->spool_path, dest))
    {
      free (dest);
      return NULL;
    }
  free (c->spool_path);
  c->spool_path = NULL;
  return dest;
}

gpg_error_t
pan_job_deliver (pan_job_t job, size_t copy, const char *const *argv,
                 char **r_reason)
{
  gpg_error_t err;
  struct copy *c = copy < job->ncopies ? &job->copies[copy] : NULL;
  char **full = NULL, *queued;
  int status;

  if (!c || !c->spool_path || !argv || !argv[0])
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = build_mta_argv (job, c, argv, &full)))
    return err;
  err = run_mta (c->spool_fd, full, &status);
  free (full);
  if (!err && !status)
    {
      unlink (c->spool_path);
      free (c->spool_path);
      c->spool_path = NULL;
      return 0;
    }
  queued = queue_spool (job, c);
  if (err)
    pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                 "cannot run the MTA %s: %s; the encrypted message is"
                 " queued as %s", argv[0], gpg_strerror (err),
                 queued ? queued : "(queueing failed too)");
  else
    pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                 "the MTA %s exited with status %d; the encrypted message"
                 " is queued as %s", argv[0], status,
                 queued ? queued : "(queueing failed too)");
  free (queued);
  return gpg_error (GPG_ERR_EPIPE);
}
