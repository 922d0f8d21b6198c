/* pansend - send a message encrypted to every recipient's pinned key
 *
 * A drop-in for sendmail(1): takes its command line (Postfix's is the
 * reference, see sendmail-args.c), reads one message on stdin and hands
 * the PGP/MIME encrypted result to the MTA, or refuses (fail closed).
 * Exit codes are sysexits(3), see pansend(1).  The send path,
 * pansend_send, is panmailx's too.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pansend.h"


#ifndef PANSEND_NO_MAIN
static const char help_text[] =
  "Send the message on stdin encrypted to every recipient's pinned key,\n"
  "or send nothing at all.  The options are sendmail(1)'s (Postfix's):\n"
  "  -t            recipients from To, Cc and Bcc, plus the arguments\n"
  "                (implied when no recipient is given)\n"
  "  -f ADDR, -r ADDR  the envelope sender (default: envelope-sender,\n"
  "                the -f of the sendmail setting, the login user)\n"
  "  -F NAME       the sender's full name (recorded only)\n"
  "  -N DSN, -R RET, -V ENVID, -B TYPE  passed on to the MTA\n"
  "  -v            tell which key each recipient gets\n"
  "  -bm (send), -bp (list the queue), -q (flush the queue)\n"
  "  -i, -oX, -odX, -n, -m, -G, -U, -A, -C, -h, -L, -O, -X: ignored\n"
  "pansend's own options:\n"
  "  --home DIR          use the panmail home DIR\n"
  "  --sendmail CMD      run CMD instead of the configured MTA\n"
  "  --passphrase-fd N   read the signing key's passphrase from fd N\n"
  "  --dry-run           check everything, send nothing\n"
  "  --verbose           as -v\n"
  "  --flush, --queue-list, --queue-drop ID  the queue\n"
  "  --help, --version\n"
  "See pansend(1).\n";

/* Parse the command line into O or exit: 64 on a usage error.  */
static void
parse_options (int argc, char **argv, struct options *o)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_sendmail_args_parse (argc, argv, &o->args, &reason)))
    {
      cmd_error (err, NULL, reason);
      exit (EX_USAGE);
    }
  if (o->args.mode == PAN_SENDMAIL_HELP)
    {
      es_printf ("Usage: pansend [OPTION...] [--] [ADDR...] < MESSAGE\n%s",
                 help_text);
      exit (0);
    }
  if (o->args.mode == PAN_SENDMAIL_VERSION)
    {
      cmd_print_version ();
      exit (0);
    }
}
#endif /* PANSEND_NO_MAIN */

/* Map an error of reading the message to an exit code.  */
static int
exit_for_message (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_INV_DATA:
    case GPG_ERR_TOO_LARGE:
    case GPG_ERR_NO_DATA:
    case GPG_ERR_LINE_TOO_LONG:
    case GPG_ERR_BAD_DATA: return EX_DATAERR;
    default: return EX_IOERR;
    }
}

/* Map an error of resolving recipients to an exit code.  */
static int
exit_for_resolve (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_NO_USER_ID: return EX_USAGE;
    case GPG_ERR_UNKNOWN_NAME: return EX_NOUSER;
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED:
    case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_BAD_PUBKEY:
    case GPG_ERR_WRONG_KEY_USAGE:
    case GPG_ERR_NO_CRL_KNOWN:
    case GPG_ERR_CRL_TOO_OLD:
    case GPG_ERR_BAD_CERT_CHAIN:
    case GPG_ERR_NOT_TRUSTED:
    case GPG_ERR_CERT_EXPIRED:
    case GPG_ERR_MISSING_ISSUER_CERT:
    case GPG_ERR_CERT_TOO_YOUNG:
    case GPG_ERR_BAD_DATA: /* The registry was changed behind pankey.  */
      return EX_NOPERM;
    default: return EX_CONFIG;
    }
}

/* Map an error of encrypting to an exit code.  */
static int
exit_for_encrypt (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED:
    case GPG_ERR_BAD_PUBKEY:
    case GPG_ERR_NO_PUBKEY:
    case GPG_ERR_BAD_PASSPHRASE:
    case GPG_ERR_NO_SECKEY:
    case GPG_ERR_BAD_SIGNATURE:
    case GPG_ERR_CANCELED:
    case GPG_ERR_NOT_TRUSTED:
    case GPG_ERR_CERT_EXPIRED:
    case GPG_ERR_NO_CRL_KNOWN:
    case GPG_ERR_CRL_TOO_OLD:
    case GPG_ERR_TIMEOUT: return EX_NOPERM;
    case GPG_ERR_ENOSPC:
    case GPG_ERR_EACCES:
    case GPG_ERR_EROFS:
    case GPG_ERR_ENOENT:
    case GPG_ERR_EDQUOT: return EX_CANTCREAT;
    case GPG_ERR_ENGINE_TOO_OLD: return EX_CONFIG;
    default: return EX_SOFTWARE;
    }
}

static void
say_recipients (pan_job_t job)
{
  size_t ncopies = pan_job_copy_count (job);

  for (size_t i = 0; i < pan_job_recipient_count (job); i++)
    cmd_info ("%s: %s key %s", pan_job_recipient_addr (job, i),
              pan_protocol_name (pan_job_recipient_protocol (job, i)),
              pan_job_recipient_fpr (job, i));
  for (size_t c = 0; c < ncopies; c++)
    {
      es_fprintf (es_stderr, "pansend: copy %zu of %zu (%s%s):", c + 1,
                  ncopies,
                  pan_protocol_name (pan_job_copy_protocol (job, c)),
                  pan_job_copy_hidden (job, c) ? ", hidden recipient" : "");
      for (size_t i = 0; i < pan_job_copy_recipient_count (job, c); i++)
        es_fprintf (es_stderr, " %s",
                    pan_job_recipient_addr (job,
                                            pan_job_copy_recipient (job, c,
                                                                    i)));
      es_putc ('\n', es_stderr);
    }
}

/* The audit record of one outcome of JOB.  */
struct record
{
  struct pan_audit_event ev;
  struct pan_audit_key *keys;
  char *reason;
};

/* Fill REC for JOB: the message, the resolved recipients and keys of
 * copy COPY (all of them if COPY is -1), and the copy's ciphertext once
 * there is one.  */
static void
record_init (struct record *rec, pan_job_t job, long copy, const char *event,
             const char *outcome, int exit_code)
{
  pan_headers_t headers = pan_job_headers (job);
  size_t n = 0,
         total = copy < 0 ? pan_job_recipient_count (job)
                          : pan_job_copy_recipient_count (job, copy);

  memset (rec, 0, sizeof *rec);
  rec->ev.event = event;
  rec->ev.tool = cmd_name ();
  rec->ev.outcome = outcome;
  rec->ev.exit_code = exit_code;
  rec->ev.envelope_from = pan_job_envelope_sender (job, NULL);
  rec->ev.dsn = pan_job_dsn (job);
  rec->ev.registry_checked = pan_job_registry_checked (job);
  rec->ev.size = -1;
  if (headers)
    {
      rec->ev.message_id = pan_job_message_id (job);
      rec->ev.header_from = pan_headers_get (headers, "From");
    }
  if (copy >= 0)
    {
      rec->ev.ciphertext_sha256 = pan_job_copy_digest (job, copy,
                                                       &rec->ev.size);
      rec->ev.copy = pan_job_copy_id (job, copy);
    }
  /* The card numbers are listed once per copy, in its "send" record
   * (or in the refusal), not again in its later states.  */
  if (!strcmp (event, "send") || !strcmp (event, "refuse"))
    rec->ev.pans = pan_job_pans (job, &rec->ev.npans);
  rec->keys = calloc (total + 1, sizeof *rec->keys);
  for (size_t i = 0; rec->keys && i < total; i++)
    {
      size_t r = copy < 0 ? i : pan_job_copy_recipient (job, copy, i);

      if (pan_job_recipient_fpr (job, r))
        rec->keys[n++] = (struct pan_audit_key){
          .address = pan_job_recipient_addr (job, r),
          .protocol = pan_job_recipient_protocol (job, r),
          .fingerprint = pan_job_recipient_fpr (job, r)
        };
    }
  rec->ev.keys = rec->keys;
  rec->ev.nkeys = n;
}

/* Record JOB's outcome; return the exit code of a failed record or 0.  */
static int
record_outcome (pan_ctx_t ctx, pan_job_t job, long copy, const char *event,
                const char *outcome, int exit_code, const char *reason)
{
  struct record rec;
  int rc;

  record_init (&rec, job, copy, event, outcome, exit_code);
  rec.ev.reason = reason;
  rc = cmd_audit (ctx, &rec.ev);
  free (rec.keys);
  return rc;
}

/* Report a refusal of JOB (exit code RC, REASON for a person), record it
 * and return RC: the refusal stands even if the record fails.  */
static int
refuse (pan_ctx_t ctx, pan_job_t job, int rc, gpg_error_t err,
        const char *what, char *reason)
{
  char *copy = reason ? strdup (reason) : NULL;

  cmd_error (err, what, reason);
  record_outcome (ctx, job, -1, "refuse", "refused", rc,
                  copy ? copy : gpg_strerror (err));
  if (copy) /* Spelled out for gcc 12's analyzer (a "double free of 0").  */
    free (copy);
  return rc;
}

/* Is every copy of JOB an OpenPGP one?  Then gpgsm is not needed.  */
static int
only_openpgp (pan_job_t job)
{
  for (size_t c = 0; c < pan_job_copy_count (job); c++)
    if (pan_job_copy_protocol (job, c) != PAN_PROTOCOL_OPENPGP)
      return 0;
  return 1;
}

/* Is a recipient of JOB (resolved, or the one its resolve stopped at)
 * an S/MIME one, while GPGME was set up without gpgsm when this send
 * began (O->OPENPGP_ONLY, open_for_send)?  Then an operator enrolled it
 * meanwhile.  */
static int
smime_since_start (pan_job_t job, const struct options *o)
{
  if (!o->openpgp_only)
    return 0;
  for (size_t i = 0; i < pan_job_recipient_count (job); i++)
    if (pan_job_recipient_protocol (job, i) == PAN_PROTOCOL_SMIME)
      return 1;
  return 0;
}

/* Refuse JOB, whose S/MIME recipient GPGME cannot serve
 * (smime_since_start).  */
static int
refuse_smime_since_start (pan_ctx_t ctx, pan_job_t job)
{
  return refuse (ctx, job, EX_NOPERM, gpg_error (GPG_ERR_INV_ENGINE),
                 "recipients",
                 strdup (
                   "an S/MIME recipient was enrolled after this send"
                   " began; nothing was sent: send the message again"));
}

static int
prepare (pan_ctx_t ctx, pan_job_t job, gpgrt_stream_t in, struct options *o)
{
  gpg_error_t err;
  char *reason = NULL;

  pan_job_set_extract (job, o->args.extract);
  if ((err = pan_job_read_headers (job, in, &reason)))
    return refuse (ctx, job, exit_for_message (err), err,
                   "reading the message", reason);
  if ((err = pan_job_check_headers (job, &reason)))
    return refuse (ctx, job,
                   gpg_err_code (err) == GPG_ERR_FORBIDDEN ? EX_NOPERM
                                                           : EX_CONFIG,
                   err, "headers", reason);
  /* With -t the arguments are added to the headers' recipients, as
   * Postfix does; either way they are hidden recipients unless To or Cc
   * names them.  */
  for (size_t i = 0; i < o->args.nrecipients; i++)
    if ((err = pan_job_add_recipient (job, o->args.recipients[i], &reason)))
      return refuse (ctx, job, EX_USAGE, err,
                     "a recipient on the command line", reason);
  err = pan_job_resolve (job, time (NULL), &reason);
  /* Resolved, or stopped where GPGME has no gpgsm.  */
  if ((!err || gpg_err_code (err) == GPG_ERR_INV_ENGINE)
      && smime_since_start (job, o))
    {
      free (reason);
      return refuse_smime_since_start (ctx, job);
    }
  if (err)
    return refuse (ctx, job, exit_for_resolve (err), err, "recipients",
                   reason);
  if (only_openpgp (job) && (err = pan_ctx_openpgp_only (ctx)))
    return refuse (ctx, job, EX_OSERR, err, "setting up GnuPG", NULL);
  if (pan_job_warnings (job))
    cmd_info ("warning: %s", pan_job_warnings (job));
  if (o->args.verbose)
    say_recipients (job);
  return 0;
}

/* Hand copy C to the MTA; a failure queues it (75).  */
static int
deliver_copy (pan_ctx_t ctx, pan_job_t job, size_t c, char **argv)
{
  gpg_error_t err;
  char *reason = NULL;

  err = pan_job_deliver (job, c, (const char *const *)argv, &reason);
  if (!err)
    return record_outcome (ctx, job, c, "delivered", "delivered", 0, NULL);
  record_outcome (ctx, job, c, "queue", "queued", EX_TEMPFAIL, reason);
  cmd_error (err, "delivery", reason);
  return EX_TEMPFAIL;
}

/* Stage copy C and record it as pending: encrypted, not yet handed
 * over.  */
static int
stage_copy (pan_ctx_t ctx, pan_job_t job, size_t c)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_job_stage (job, c, &reason)))
    return refuse (ctx, job, EX_CANTCREAT, err, "staging a copy", reason);
  return record_outcome (ctx, job, c, "send", "pending", 0,
                         pan_job_warnings (job));
}

static int
deliver (pan_ctx_t ctx, pan_job_t job, struct options *o)
{
  gpg_error_t err;
  char **argv = NULL;
  const char *cmd = o->args.sendmail
    ? o->args.sendmail
    : pan_config_get (pan_ctx_config (ctx), "sendmail");
  int rc = 0;

  if ((err = pan_argv_split (cmd, &argv)))
    return refuse (ctx, job, o->args.sendmail ? EX_USAGE : EX_CONFIG, err,
                   o->args.sendmail ? "--sendmail" : "setting sendmail",
                   NULL);
  /* The sender: from the command line, the configuration, or the -f of
   * the MTA command that is run.  */
  pan_job_envelope_sender (job, (const char *const *)argv);
  /* Every record comes before the first hand-over: if one cannot be
   * written, nothing is sent.  */
  for (size_t c = 0; !rc && c < pan_job_copy_count (job); c++)
    rc = stage_copy (ctx, job, c);
  if (!rc)
    for (size_t c = 0; c < pan_job_copy_count (job); c++)
      {
        int crc = deliver_copy (ctx, job, c, argv);

        /* On with the others: each is recorded.  */
        if (crc && (!rc || crc == EX_TEMPFAIL))
          rc = crc;
      }
  pan_argv_release (argv);
  return rc;
}

#ifndef PANSEND_NO_MAIN
/* Print the queued copy E (one line).  */
static gpg_error_t
list_cb (void *opaque, const struct pan_queue_entry *e)
{
  char created[32], next[32];

  (void)opaque;
  es_printf ("%s %lld %s next %s attempts %lld from %s %s to", e->copy,
             e->size, pan_time_format (e->created, created, sizeof created),
             pan_time_format (e->next_attempt, next, sizeof next),
             e->attempts, e->sender, *e->message_id ? e->message_id : "-");
  for (size_t i = 0; i < e->nrcpts; i++)
    es_printf (" %s", e->rcpts[i]);
  es_putc ('\n', es_stdout);
  return 0;
}

/* pansend -q (--flush), --queue-list, --queue-drop ID.  */
static int
queue_verb (pan_ctx_t ctx, struct options *o)
{
  gpg_error_t err;
  char *reason = NULL, **argv = NULL;
  struct pan_queue_counts n;
  const char *cmd = o->args.sendmail
    ? o->args.sendmail
    : pan_config_get (pan_ctx_config (ctx), "sendmail");

  if (o->args.mode == PAN_SENDMAIL_QUEUE_LIST)
    err = pan_queue_list (ctx, list_cb, NULL, &reason);
  else if (o->args.mode == PAN_SENDMAIL_QUEUE_DROP)
    err = pan_queue_drop (ctx, o->args.queue_id, &reason);
  else if (!(err = pan_argv_split (cmd, &argv)))
    {
      err = pan_queue_flush (ctx, (const char *const *)argv, PAN_QUEUE_FORCE,
                             &n, &reason);
      pan_argv_release (argv);
      if (!err && (o->args.verbose || n.failed || n.dropped))
        cmd_info ("queue: %u delivered, %u kept for later, %u dropped"
                  " (queue-lifetime), %u busy",
                  n.delivered, n.failed, n.dropped, n.busy);
      if (!err && n.failed)
        return EX_TEMPFAIL;
    }
  if (!err)
    return 0;
  cmd_error (err, "the queue", reason);
  return gpg_err_code (err) == GPG_ERR_INV_NAME
      || gpg_err_code (err) == GPG_ERR_ENOENT
    ? EX_USAGE
    : gpg_err_code (err) == GPG_ERR_LOCKED ? EX_TEMPFAIL
                                           : cmd_exit_for_audit (err);
}

#endif /* PANSEND_NO_MAIN */

/* Open the home of O and finish what a crashed pansend left.  In a
 * home without S/MIME, GPGME needs no gpgconf (decided before the
 * recovery, which may ask GPGME where the GnuPG programs are), and its
 * check of gpg runs while the message and the registry are read
 * (started after the recovery, which would wait for it).  A registry
 * that gains an S/MIME recipient meanwhile is refused: no gpgsm
 * (refuse_smime_since_start).  */
static int
open_for_send (struct options *o, pan_ctx_t *r_ctx)
{
  int rc;

  if ((rc = cmd_open_home (o->args.home, r_ctx, EX_CONFIG)))
    return rc;
  o->openpgp_only = cmd_openpgp_only_unless_smime (*r_ctx);
  if ((rc = cmd_recover (*r_ctx)))
    return rc;
  if (o->openpgp_only)
    (void)pan_engine_warm_up (*r_ctx);
  return 0;
}

int
pansend_send (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_job_t job = NULL;
  gpgrt_stream_t in = o->in ? o->in : es_stdin;
  char *reason = NULL;
  int rc;

  if ((rc = open_for_send (o, &ctx)))
    goto leave;
  if ((err = pan_job_new (ctx, &job))
      || (err = pan_job_set_envelope (job, &o->args.env, &reason)))
    {
      cmd_error (err, NULL, reason);
      rc = EX_OSERR;
      goto leave;
    }
  if (o->args.passphrase_fd >= 0
      && (err = pan_job_passphrase_fd (job, o->args.passphrase_fd, &reason)))
    {
      cmd_error (err, "--passphrase-fd", reason);
      rc = EX_USAGE;
      goto leave;
    }
  if ((rc = prepare (ctx, job, in, o)))
    goto leave;
  if ((err = pan_job_encrypt (job, in, &reason)))
    {
      /* gpg refused a key that the registry still pins: as if the
       * check of the recipients had found it.  */
      if (pan_job_refused (job))
        rc = refuse (ctx, job, exit_for_resolve (err), err, "recipients",
                     reason);
      else
        rc = refuse (ctx, job, exit_for_encrypt (err), err, "encryption",
                     reason);
      goto leave;
    }
  if (o->args.dry_run)
    {
      if (o->args.verbose)
        cmd_info ("dry run: all checks passed, nothing sent");
      goto leave;
    }
  rc = deliver (ctx, job, o);

leave:
  pan_job_release (job);
  pan_ctx_release (ctx);
  return rc;
}

#ifndef PANSEND_NO_MAIN
/* The queue (-q, --flush, -bp, --queue-list, --queue-drop ID), after
 * what a crashed pansend left is queued.  */
static int
run_queue (struct options *o)
{
  pan_ctx_t ctx = NULL;
  int rc;

  if (!(rc = cmd_open_home (o->args.home, &ctx, EX_CONFIG))
      && !(rc = cmd_recover (ctx)))
    rc = queue_verb (ctx, o);
  pan_ctx_release (ctx);
  return rc;
}

int
main (int argc, char **argv)
{
  struct options o;
  int rc;

  memset (&o, 0, sizeof o);
  cmd_setup ("pansend",
             "Usage: pansend [OPTION...] [--] [ADDR...]"
             " < MESSAGE",
             help_text);
  parse_options (argc, argv, &o);
  cmd_init_library ();
  if (o.args.mode == PAN_SENDMAIL_SEND)
    rc = pansend_send (&o);
  else
    rc = run_queue (&o);
  pan_sendmail_args_release (&o.args);
  return rc;
}
#endif /* PANSEND_NO_MAIN */
