/* envelope.c - the envelope of a send job: sender and DSN options
 *
 * What the MTA is told besides the recipients: the envelope sender,
 * given with -f or -r, else the home's "envelope-sender", else the -f
 * of its "sendmail" setting, else the login user; and the DSN options
 * (-N, -R, -V) and body type (-B) given on pansend's command line.  The
 * audit record holds the sender that is passed on and the DSN options.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "job-int.h"

/* Copy SRC into *R_DST (NULL stays NULL); -1 if memory ran out.  */
static int
copy_str (const char **r_dst, const char *src)
{
  *r_dst = src ? pani_strdup (src) : NULL;
  return src && !*r_dst ? -1 : 0;
}

/* Make the audit record's "dsn" of JOB's envelope.  */
static gpg_error_t
make_dsn (pan_job_t job)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  const struct pan_envelope *env = &job->env;

  if (!env->dsn_notify && !env->dsn_ret && !env->dsn_envid)
    return 0;
  if (env->dsn_notify)
    pani_buf_printf (&b, " NOTIFY=%s", env->dsn_notify);
  if (env->dsn_ret)
    pani_buf_printf (&b, " RET=%s", env->dsn_ret);
  if (env->dsn_envid)
    pani_buf_printf (&b, " ENVID=%s", env->dsn_envid);
  pani_buf_put (&b, "", 1);
  if (b.failed)
    {
      pani_buf_free (&b);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  job->dsn = pani_strdup (b.data + 1);
  pani_buf_free (&b);
  return job->dsn ? 0 : gpg_error_from_syserror ();
}

gpg_error_t
pan_job_set_envelope (pan_job_t job, const struct pan_envelope *env,
                      char **r_reason)
{
  struct pan_envelope *e = &job->env;

  pani_job_release_envelope (job);
  if (!env)
    return 0;
  if (copy_str (&e->sender, env->sender)
      || copy_str (&e->full_name, env->full_name)
      || copy_str (&e->dsn_notify, env->dsn_notify)
      || copy_str (&e->dsn_ret, env->dsn_ret)
      || copy_str (&e->dsn_envid, env->dsn_envid)
      || copy_str (&e->body_type, env->body_type) || make_dsn (job))
    {
      pani_job_release_envelope (job);
      return pani_reason (r_reason, gpg_error (GPG_ERR_ENOMEM),
                          "out of memory setting the envelope");
    }
  return 0;
}

const char *
pan_job_dsn (pan_job_t job)
{
  return job->dsn;
}

size_t
pani_mta_own_option (const char *const *argv, size_t i,
                     const char **r_sender)
{
  const char *a = argv[i];

  *r_sender = NULL;
  if (!strcmp (a, "-t"))
    return 1;
  if ((a[0] != '-' || (a[1] != 'f' && a[1] != 'r')))
    return 0;
  if (a[2])
    {
      *r_sender = a + 2;
      return 1;
    }
  *r_sender = argv[i + 1];
  return argv[i + 1] ? 2 : 1;
}

/* The -f or -r of the MTA command ARGV, copied, or NULL.  */
static char *
sender_of_argv (const char *const *argv)
{
  const char *s;

  for (size_t i = 1; argv && argv[0] && argv[i] && strcmp (argv[i], "--");
       i++)
    {
      size_t n = pani_mta_own_option (argv, i, &s);

      if (s)
        return pani_strdup (s);
      if (n > 1)
        i++;
    }
  return NULL;
}

/* The -f or -r of the home's "sendmail" setting, copied, or NULL.  */
static char *
sender_of_config (pan_config_t config)
{
  char **argv = NULL, *sender = NULL;

  if (!pan_argv_split (pan_config_get (config, "sendmail"), &argv))
    sender = sender_of_argv ((const char *const *)argv);
  pan_argv_release (argv);
  return sender;
}

const char *
pan_job_envelope_sender (pan_job_t job, const char *const *mta_argv)
{
  pan_config_t config = pan_ctx_config (job->ctx);
  const char *given = pan_config_get (config, "envelope-sender");

  if (job->sender)
    return job->sender;
  if (job->env.sender)
    job->sender = pani_strdup (job->env.sender);
  else if (given && *given)
    job->sender = pani_strdup (given);
  else if (mta_argv)
    job->sender = sender_of_argv (mta_argv);
  else
    job->sender = sender_of_config (config);
  if (!job->sender)
    job->sender = pani_strdup (pani_login_user ());
  return job->sender ? job->sender : pani_login_user ();
}
