/* queue.c - the queue of copies the MTA did not take: recovery of a
 * crashed pansend's copies, retries, listing, dropping
 *
 * A queued copy is two files in HOME/queue named by its copy id: ID.eml,
 * the complete encrypted message, and ID.env, its envelope (deliver.c
 * writes both; the envelope makes the copy queued).  A process that
 * works on a copy holds an exclusive flock on its ID.eml: in spool/ it
 * tells that the sending process lives; in queue/ it keeps two flushes
 * from handing the same copy over twice.  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "engine-int.h"
#include "queue-int.h"

#define MAX_ENVELOPE 65536


/*
 * The envelope file.
 */

static int
parse_number (const char *s, long long *r_num)
{
  long long n = 0;

  if (!*s || (*s == '0' && s[1]))
    return -1;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9' || n > (LLONG_MAX - 9) / 10)
        return -1;
      n = n * 10 + (*s - '0');
    }
  *r_num = n;
  return 0;
}

/* A copy id: 'c', then letters, digits and '-' (it names files).  */
static int
is_copy_id (const char *s)
{
  size_t n = 0;

  if (*s != 'c')
    return 0;
  for (; s[n]; n++)
    if (!pani_is_alnum (s[n]) && s[n] != '-')
      return 0;
  return n > 1 && n < 48;
}

static int
is_sha256 (const char *s)
{
  size_t n = 0;

  for (; s[n]; n++)
    if (pani_hexval (s[n]) < 0 || (s[n] >= 'A' && s[n] <= 'F'))
      return 0;
  return n == 64;
}

static gpg_error_t
add_rcpt (struct pani_envelope *env, char *value)
{
  char **tmp;

  if (env->nrcpts == PANI_ENVELOPE_MAX_RCPTS || !*value)
    return gpg_error (GPG_ERR_INV_DATA);
  if (!(tmp = realloc (env->rcpts, (env->nrcpts + 2) * sizeof *tmp)))
    return gpg_error_from_syserror ();
  env->rcpts = tmp;
  env->rcpts[env->nrcpts++] = value;
  env->rcpts[env->nrcpts] = NULL;
  return 0;
}

/* Store field NAME of ENV: VALUE; SEEN has a bit per field.  */
static gpg_error_t
set_field (struct pani_envelope *env, const char *name, char *value,
           unsigned int *seen)
{
  /* The first nine are required (PANI_ENVELOPE_REQUIRED), the rest
   * optional.  */
  static const char *const names[] = {
    "panmail-queue", "copy",      "message-id", "sender",       "size",
    "sha256",        "created",   "attempts",   "next-attempt", "dsn-notify",
    "dsn-ret",       "dsn-envid", "body-type"
  };
  long long *nums[] = { NULL,          NULL,           NULL,
                        NULL,          &env->size,     NULL,
                        &env->created, &env->attempts, &env->next_attempt,
                        NULL,          NULL,           NULL,
                        NULL };
  char **strs[] = { NULL,
                    &env->copy,
                    &env->message_id,
                    &env->sender,
                    NULL,
                    &env->sha256,
                    NULL,
                    NULL,
                    NULL,
                    &env->dsn_notify,
                    &env->dsn_ret,
                    &env->dsn_envid,
                    &env->body_type };
  size_t i;

  if (!strcmp (name, "rcpt"))
    return add_rcpt (env, value);
  for (i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcmp (name, names[i]))
      break;
  if (i == sizeof names / sizeof *names || (*seen & (1u << i)))
    return gpg_error (GPG_ERR_INV_DATA);
  *seen |= 1u << i;
  if (!i)
    return strcmp (value, "1") ? gpg_error (GPG_ERR_INV_DATA) : 0;
  if (nums[i])
    return parse_number (value, nums[i]) ? gpg_error (GPG_ERR_INV_DATA) : 0;
  *strs[i] = value;
  return 0;
}

gpg_error_t
pani_envelope_parse (char *text, size_t len, struct pani_envelope *env,
                     char **r_reason)
{
  gpg_error_t err = 0;
  unsigned int seen = 0;
  char *line = text, *end = text + len, *nl, *colon;

  memset (env, 0, sizeof *env);
  if (memchr (text, 0, len))
    err = gpg_error (GPG_ERR_INV_DATA);
  for (; !err && line < end; line = nl + 1)
    {
      if (!(nl = memchr (line, '\n', end - line)))
        {
          err = gpg_error (GPG_ERR_INV_DATA); /* Cut short.  */
          break; /* Not past the end, nor NULL + 1.  */
        }
      if (!(colon = memchr (line, ':', nl - line)) || colon[1] != ' ')
        err = gpg_error (GPG_ERR_INV_DATA);
      else
        {
          *nl = *colon = 0;
          err = set_field (env, line, colon + 2, &seen);
        }
    }
  if (!err
      && ((seen & 0x1ff) != 0x1ff || !env->nrcpts || !is_copy_id (env->copy)
          || !is_sha256 (env->sha256)))
    err = gpg_error (GPG_ERR_INV_DATA);
  if (err)
    {
      pani_envelope_clear (env);
      return pani_reason (r_reason, err,
                          "not a queue envelope (a field is"
                          " missing, repeated, unknown or malformed)");
    }
  return 0;
}

void
pani_envelope_clear (struct pani_envelope *env)
{
  /* Spelled out (the memset clears it too): a failed parse clears ENV,
   * and its owner clears it again.  */
  free (env->rcpts);
  env->rcpts = NULL;
  memset (env, 0, sizeof *env);
}


/*
 * One copy in spool/ or queue/, locked.
 */

struct qcopy
{
  char id[48];
  char *eml;  /* DIR/ID.eml, open and locked as FD. */
  char *envp; /* DIR/ID.env.  */
  int fd;
  char *text; /* The envelope file, parsed into ENV. */
  struct pani_envelope env;
};

static void
qcopy_release (struct qcopy *q)
{
  if (q->fd >= 0)
    close (q->fd); /* Also releases the lock.  */
  free (q->eml);
  free (q->envp);
  free (q->text);
  pani_envelope_clear (&q->env);
  memset (q, 0, sizeof *q);
  q->fd = -1;
}

/* Open and lock the copy ID in DIR: GPG_ERR_LOCKED if another process
 * holds it, GPG_ERR_ENOENT if it is gone.  */
static gpg_error_t
qcopy_open (const char *dir, const char *id, struct qcopy *q)
{
  struct stat st;

  memset (q, 0, sizeof *q);
  q->fd = -1;
  snprintf (q->id, sizeof q->id, "%s", id);
  q->eml = pani_strdupf ("%s/%s.eml", dir, id);
  q->envp = pani_strdupf ("%s/%s.env", dir, id);
  if (!q->eml || !q->envp)
    return gpg_error_from_syserror ();
  /* O_NONBLOCK: a FIFO put in its place must not hold us.  */
  if ((q->fd = open (q->eml, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK))
      < 0)
    return gpg_error_from_syserror ();
  if (fstat (q->fd, &st))
    return gpg_error_from_syserror ();
  if (!S_ISREG (st.st_mode))
    return gpg_error (GPG_ERR_WRONG_BLOB_TYPE);
  if (flock (q->fd, LOCK_EX | LOCK_NB))
    return errno == EWOULDBLOCK ? gpg_error (GPG_ERR_LOCKED)
                                : gpg_error_from_syserror ();
  if (fstat (q->fd, &st))
    return gpg_error_from_syserror ();
  return st.st_nlink ? 0 : gpg_error (GPG_ERR_ENOENT);
}

/* Read and parse the envelope of Q.  */
static gpg_error_t
qcopy_read_env (struct qcopy *q, char **r_reason)
{
  gpg_error_t err = 0;
  int fd = open (q->envp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  size_t len = 0;
  ssize_t n;
  struct stat st;

  if (fd < 0)
    return gpg_error_from_syserror ();
  /* Only a regular file: reading a FIFO could wait for ever.  */
  if (fstat (fd, &st) || !S_ISREG (st.st_mode))
    err = gpg_error (GPG_ERR_WRONG_BLOB_TYPE);
  else if (!(q->text = malloc (MAX_ENVELOPE + 1)))
    err = gpg_error_from_syserror ();
  while (!err && len < MAX_ENVELOPE
         && (n = read (fd, q->text + len, MAX_ENVELOPE - len)) != 0)
    if (n > 0)
      len += n;
    else if (errno != EINTR)
      err = gpg_error_from_syserror ();
  close (fd);
  if (err)
    return err;
  q->text[len] = 0;
  if ((err = pani_envelope_parse (q->text, len, &q->env, r_reason)))
    return err;
  if (strcmp (q->env.copy, q->id))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "%s names copy %s", q->envp, q->env.copy);
  return 0;
}

/* Write the audit record EVENT/OUTCOME (exit code CODE, REASON) of the
 * copy of ENV.  */
static gpg_error_t
record (pan_ctx_t ctx, const struct pani_envelope *env, const char *event,
        const char *outcome, int code, const char *reason, char **r_reason)
{
  struct pan_audit_event ev;

  memset (&ev, 0, sizeof ev);
  ev.event = event;
  ev.tool = "pansend";
  ev.message_id = *env->message_id ? env->message_id : NULL;
  ev.copy = env->copy;
  ev.envelope_from = env->sender;
  ev.ciphertext_sha256 = env->sha256;
  ev.size = env->size;
  ev.outcome = outcome;
  ev.exit_code = code;
  ev.reason = reason;
  return pan_audit_append (ctx, &ev, time (NULL), r_reason);
}

static void
free_ids (char **ids)
{
  for (size_t i = 0; ids && ids[i]; i++)
    free (ids[i]);
  free (ids);
}

/* Collect the ids of the files NAME.SUFFIX in DIR (a NULL-terminated
 * malloc'ed list of malloc'ed ids).  */
static gpg_error_t
list_ids (const char *dir, const char *suffix, char ***r_ids)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char **ids = NULL, **tmp;
  size_t n = 0, slen = strlen (suffix), len;

  *r_ids = NULL;
  if (!d)
    return errno == ENOENT ? 0 : gpg_error_from_syserror ();
  while ((e = readdir (d)))
    if ((len = strlen (e->d_name)) > slen && e->d_name[0] == 'c'
        && !strcmp (e->d_name + len - slen, suffix))
      {
        if (!(tmp = realloc (ids, (n + 2) * sizeof *tmp))
            || !(tmp[n] = pani_strndup (e->d_name, len - slen)))
          {
            closedir (d);
            free_ids (tmp ? tmp : ids);
            return gpg_error_from_syserror ();
          }
        ids = tmp;
        ids[++n] = NULL;
      }
  closedir (d);
  *r_ids = ids;
  return 0;
}


/*
 * Recovery of what a crashed pansend left in spool/.
 */

/* Move the locked copy Q of spool/ to QUEUE (its envelope read) and
 * record it.  */
static gpg_error_t
recover_to_queue (pan_ctx_t ctx, struct qcopy *q, const char *queue,
                  char **r_reason)
{
  gpg_error_t err;
  char *eml = pani_strdupf ("%s/%s.eml", queue, q->id);
  char *env = pani_strdupf ("%s/%s.env", queue, q->id);

  q->env.attempts = 0;
  q->env.next_attempt = time (NULL);
  if (!eml || !env)
    err = gpg_error_from_syserror ();
  else if (rename (q->eml, eml))
    err = pani_reason_sys (r_reason, eml);
  else if (!(err = pani_envelope_write (env, &q->env, r_reason)))
    {
      unlink (q->envp);
      err = record (ctx, &q->env, "queue", "queued", 75,
                    "recovered: the"
                    " pansend that had this copy ended (crashed or killed)"
                    " before the MTA took it; it is queued for"
                    " 'pansend -q'",
                    r_reason);
    }
  free (eml);
  free (env);
  return err;
}

/* The copy ID in SPOOL: if its process is gone, queue it when it was
 * staged (it has an envelope), else remove it (never committed).  */
static gpg_error_t
recover_one (pan_ctx_t ctx, const char *spool, const char *queue,
             const char *id, unsigned int *r_count, char **r_reason)
{
  gpg_error_t err;
  struct qcopy q;

  err = qcopy_open (spool, id, &q);
  /* Alive, done meanwhile, or (in a home shared by several senders)
   * the copy of another user, which that user's next run queues.  */
  if (gpg_err_code (err) == GPG_ERR_LOCKED
      || gpg_err_code (err) == GPG_ERR_ENOENT
      || gpg_err_code (err) == GPG_ERR_EACCES)
    err = 0;
  else if (gpg_err_code (err) == GPG_ERR_WRONG_BLOB_TYPE)
    err = pani_reason (r_reason, err, "%s is not a regular file; remove it",
                       q.eml);
  else if (!err && !qcopy_read_env (&q, NULL))
    {
      if (!(err = recover_to_queue (ctx, &q, queue, r_reason)))
        ++*r_count;
    }
  else if (!err)
    {
      unlink (q.envp);
      unlink (q.eml);
    }
  qcopy_release (&q);
  return err;
}

/* An envelope in SPOOL without its ciphertext: the crash came between
 * the two renames of a copy to QUEUE.  */
static void
recover_envelope (const char *spool, const char *queue, const char *id)
{
  char *from = pani_strdupf ("%s/%s.env", spool, id);
  char *eml = pani_strdupf ("%s/%s.eml", spool, id);
  char *qeml = pani_strdupf ("%s/%s.eml", queue, id);
  char *qenv = pani_strdupf ("%s/%s.env", queue, id);
  struct stat st;

  if (from && eml && qeml && qenv && lstat (eml, &st))
    {
      if (!lstat (qeml, &st) && lstat (qenv, &st))
        rename (from, qenv);
      else
        unlink (from);
    }
  free (from);
  free (eml);
  free (qeml);
  free (qenv);
}

/* Remove the scratch homes in SPOOL (NAME.PID.XXXXXX, see
 * pani_engine_scratch_new) whose process is gone.  */
static void
remove_dead_scratch (const char *spool)
{
  DIR *d = opendir (spool);
  struct dirent *e;
  char *dot, *end, *path;
  long pid;

  while (d && (e = readdir (d)))
    {
      if (e->d_name[0] == '.' || !(dot = strchr (e->d_name, '.')))
        continue;
      pid = strtol (dot + 1, &end, 10);
      if (pid <= 0 || *end != '.' || kill ((pid_t)pid, 0) == 0
          || errno != ESRCH)
        continue;
      if ((path = pani_strdupf ("%s/%s", spool, e->d_name)))
        pani_engine_scratch_remove (path);
      free (path);
    }
  if (d)
    closedir (d);
}

gpg_error_t
pan_queue_recover (pan_ctx_t ctx, unsigned int *r_count, char **r_reason)
{
  gpg_error_t err;
  char *spool = pan_ctx_path (ctx, "spool");
  char *queue = pan_ctx_path (ctx, "queue");
  char **ids = NULL;

  *r_count = 0;
  if (!spool || !queue)
    err = gpg_error_from_syserror ();
  else if (!(err = list_ids (spool, ".eml", &ids)))
    for (size_t i = 0; !err && ids && ids[i]; i++)
      err = recover_one (ctx, spool, queue, ids[i], r_count, r_reason);
  free_ids (ids);
  ids = NULL;
  if (!err && !(err = list_ids (spool, ".env", &ids)))
    for (size_t i = 0; ids && ids[i]; i++)
      recover_envelope (spool, queue, ids[i]);
  if (!err)
    remove_dead_scratch (spool);
  free_ids (ids);
  free (spool);
  free (queue);
  return err;
}


/*
 * Retrying, listing and dropping queued copies.
 */

/* The wait after the ATTEMPTS-th failed hand-over: doubled each time. */
static long long
backoff (long long attempts)
{
  long long wait = PANI_QUEUE_FIRST_RETRY;

  while (--attempts > 0 && wait < PANI_QUEUE_MAX_RETRY)
    wait *= 2;
  return wait < PANI_QUEUE_MAX_RETRY ? wait : PANI_QUEUE_MAX_RETRY;
}

/* Remove the locked queued copy Q: envelope first (it makes the copy
 * queued), then the ciphertext.  */
static void
qcopy_remove (struct qcopy *q)
{
  unlink (q->envp);
  unlink (q->eml);
}

/* Hand the locked queued copy Q to the MTA ARGV once.  */
static gpg_error_t
retry_one (pan_ctx_t ctx, struct qcopy *q, const char *const *argv,
           struct pan_queue_counts *counts, char **r_reason)
{
  gpg_error_t err;
  char *why = NULL;
  time_t now;

  err = pani_mta_hand_over (ctx, q->fd, &q->env, argv, &why);
  if (!err)
    {
      /* Recorded before it is removed: a crash in between gives a
       * second hand-over later, with a second "delivered" record of the
       * same copy id (at least once, duplicates detectable).  */
      if (!(err = record (ctx, &q->env, "delivered", "delivered", 0, NULL,
                          r_reason)))
        qcopy_remove (q);
      counts->delivered++;
      goto leave;
    }
  now = time (NULL);
  q->env.attempts++;
  q->env.next_attempt = now + backoff (q->env.attempts);
  counts->failed++;
  if (!(err = pani_envelope_write (q->envp, &q->env, r_reason)))
    err = record (ctx, &q->env, "queue", "queued", 75, why, r_reason);
leave:
  free (why);
  return err;
}

/* Flush the queued copy ID of QUEUE.  */
static gpg_error_t
flush_one (pan_ctx_t ctx, const char *queue, const char *id,
           const char *const *argv, unsigned int flags,
           struct pan_queue_counts *counts, char **r_reason)
{
  gpg_error_t err;
  struct qcopy q;
  long lifetime = pan_config_get_int (pan_ctx_config (ctx),
                                      "queue-lifetime");
  time_t now = time (NULL);

  err = qcopy_open (queue, id, &q);
  if (gpg_err_code (err) == GPG_ERR_LOCKED)
    counts->busy++;
  if (gpg_err_code (err) == GPG_ERR_LOCKED
      || gpg_err_code (err) == GPG_ERR_ENOENT)
    err = 0;
  else if (!err && !(err = qcopy_read_env (&q, r_reason)))
    {
      if (now - q.env.created > (lifetime > 0 ? lifetime : 432000))
        {
          if (!(err = record (ctx, &q.env, "drop", "dropped", 75,
                              "older"
                              " than queue-lifetime: never delivered",
                              r_reason)))
            qcopy_remove (&q);
          counts->dropped++;
        }
      else if (!(flags & PAN_QUEUE_FORCE) && q.env.next_attempt > now)
        counts->waiting++;
      else
        err = retry_one (ctx, &q, argv, counts, r_reason);
    }
  qcopy_release (&q);
  return err;
}

gpg_error_t
pan_queue_flush (pan_ctx_t ctx, const char *const *argv, unsigned int flags,
                 struct pan_queue_counts *counts, char **r_reason)
{
  gpg_error_t err;
  char *queue = pan_ctx_path (ctx, "queue");
  char **ids = NULL;

  memset (counts, 0, sizeof *counts);
  if (!queue)
    return gpg_error_from_syserror ();
  if (!(err = list_ids (queue, ".env", &ids)))
    for (size_t i = 0; !err && ids && ids[i]; i++)
      err = flush_one (ctx, queue, ids[i], argv, flags, counts, r_reason);
  free_ids (ids);
  free (queue);
  return err;
}

gpg_error_t
pan_queue_drop (pan_ctx_t ctx, const char *id, char **r_reason)
{
  gpg_error_t err;
  char *queue = pan_ctx_path (ctx, "queue");
  struct qcopy q;

  memset (&q, 0, sizeof q);
  q.fd = -1;
  if (!queue)
    err = gpg_error_from_syserror ();
  else if (!is_copy_id (id))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                       "%s is not a"
                       " copy id (see pansend --queue-list)",
                       id);
  else if ((err = qcopy_open (queue, id, &q)))
    pani_reason (r_reason, err, "copy %s: %s", id,
                 gpg_err_code (err) == GPG_ERR_LOCKED
                   ? "being delivered right now; try again"
                   : gpg_err_code (err) == GPG_ERR_ENOENT
                   ? "not in the queue"
                   : gpg_strerror (err));
  else if (!(err = qcopy_read_env (&q, r_reason))
           && !(err = record (ctx, &q.env, "drop", "dropped", 0,
                              "dropped"
                              " from the queue by the operator",
                              r_reason)))
    qcopy_remove (&q);
  qcopy_release (&q);
  free (queue);
  return err;
}

gpg_error_t
pan_queue_list (pan_ctx_t ctx, pan_queue_cb_t cb, void *opaque,
                char **r_reason)
{
  gpg_error_t err;
  char *queue = pan_ctx_path (ctx, "queue");
  char **ids = NULL;
  struct qcopy q;
  struct pan_queue_entry e;

  if (!queue)
    return gpg_error_from_syserror ();
  err = list_ids (queue, ".env", &ids);
  for (size_t i = 0; !err && ids && ids[i]; i++)
    {
      memset (&q, 0, sizeof q);
      q.fd = -1;
      snprintf (q.id, sizeof q.id, "%s", ids[i]);
      if ((q.envp = pani_strdupf ("%s/%s.env", queue, ids[i]))
          && !qcopy_read_env (&q, NULL))
        {
          e = (struct pan_queue_entry){
            q.env.copy,        q.env.message_id,
            q.env.sender,      (const char *const *)q.env.rcpts,
            q.env.nrcpts,      q.env.size,
            q.env.created,     q.env.attempts,
            q.env.next_attempt
          };
          err = cb (opaque, &e);
        }
      qcopy_release (&q);
    }
  free_ids (ids);
  free (queue);
  return err;
}
