/* pansend - send a message encrypted to every recipient's pinned key
 *
 * A drop-in for "| sendmail -t": reads one message on stdin and hands
 * the PGP/MIME encrypted result to the MTA, or refuses (fail closed).
 * Exit codes are sysexits(3), see pansend(1).  */
#include <config.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define GPGRT_ENABLE_ARGPARSE_MACROS 1
#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"

enum opt_values
  {
    oHome = 500,
    oSendmail,
    oPassphraseFd,
    oDryRun = 'n',
    oVerbose = 'v',
    oIgnoreT = 't',
    oIgnoreI = 'i',
    oSendmailO = 'o',
    oSubject = 's',
    oAttach = 'a',
    oCc = 'c',
    oBcc = 'b',
    oFrom = 'r'
  };

static gpgrt_opt_t opts[] =
  {
    ARGPARSE_group (300, "@Options:\n "),
    ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
    ARGPARSE_s_s (oSendmail, "sendmail", "|CMD|run CMD instead of the"
                  " configured MTA"),
    ARGPARSE_s_i (oPassphraseFd, "passphrase-fd",
                  "|N|read the signing key's passphrase from fd N"),
    ARGPARSE_s_n (oDryRun, "dry-run", "check everything, send nothing"),
    ARGPARSE_s_n (oVerbose, "verbose", "tell which key each recipient gets"),
    ARGPARSE_group (301, "@\nmailx-style (build the message from a text"
                    " body on stdin):\n "),
    ARGPARSE_s_s (oSubject, "subject", "|TEXT|the Subject"),
    ARGPARSE_s_s (oAttach, "attach", "|FILE[;TYPE]|attach FILE"),
    ARGPARSE_s_s (oCc, "cc", "|ADDR|a Cc recipient"),
    ARGPARSE_s_s (oBcc, "bcc", "|ADDR|a Bcc recipient"),
    ARGPARSE_s_s (oFrom, "from", "|ADDR|the From (default: login@host)"),
    ARGPARSE_s_n (oIgnoreT, "read-recipients", "@"),
    ARGPARSE_s_n (oIgnoreI, "ignore-dots", "@"),
    ARGPARSE_s_s (oSendmailO, "sendmail-option", "@"),
    ARGPARSE_end ()
  };

struct options
{
  const char *home;
  const char *sendmail;
  int dry_run;
  int verbose;
  int passphrase_fd;            /* -1: none.  */
  char **addrs;                 /* Recipients from the command line.  */
  size_t naddrs;
  int compose;                  /* mailx-style: -s, -a, -c, -b or -r.  */
  struct pan_compose spec;
  struct strlist { const char **items; size_t n; } attach, cc, bcc;
};

static void
strlist_add (struct strlist *list, const char *item)
{
  const char **tmp = realloc (list->items, (list->n + 2) * sizeof *tmp);

  if (!tmp)
    {
      cmd_error (gpg_error_from_syserror (), "out of memory", NULL);
      exit (EX_OSERR);
    }
  tmp[list->n++] = item;
  tmp[list->n] = NULL;
  list->items = tmp;
}

static void
add_addr (struct options *o, char *addr)
{
  char **tmp = realloc (o->addrs, (o->naddrs + 2) * sizeof *tmp);

  if (!tmp)
    {
      cmd_error (gpg_error_from_syserror (), "out of memory", NULL);
      exit (EX_OSERR);
    }
  o->addrs = tmp;
  o->addrs[o->naddrs++] = addr;
  o->addrs[o->naddrs] = NULL;
}

static void
parse_options (int *argc, char ***argv, struct options *o)
{
  gpgrt_argparse_t pargs;

  memset (&pargs, 0, sizeof pargs);
  pargs.argc = argc;
  pargs.argv = argv;
  pargs.flags = ARGPARSE_FLAG_MIXED | ARGPARSE_FLAG_ALL;

  while (gpgrt_argparse (NULL, &pargs, opts))
    switch (pargs.r_opt)
      {
      case ARGPARSE_IS_ARG: add_addr (o, pargs.r.ret_str); break;
      case oHome: o->home = pargs.r.ret_str; break;
      case oSendmail: o->sendmail = pargs.r.ret_str; break;
      case oPassphraseFd: o->passphrase_fd = pargs.r.ret_int; break;
      case oDryRun: o->dry_run = 1; break;
      case oVerbose: o->verbose = 1; break;
      case oIgnoreT: case oIgnoreI: break;  /* What we do anyway.  */
      case oSubject: o->spec.subject = pargs.r.ret_str; o->compose = 1; break;
      case oAttach: strlist_add (&o->attach, pargs.r.ret_str);
        o->compose = 1; break;
      case oCc: strlist_add (&o->cc, pargs.r.ret_str); o->compose = 1; break;
      case oBcc: strlist_add (&o->bcc, pargs.r.ret_str); o->compose = 1;
        break;
      case oFrom: o->spec.from = pargs.r.ret_str; o->compose = 1; break;
      case oSendmailO:
        if (strcmp (pargs.r.ret_str, "i"))
          pargs.err = ARGPARSE_PRINT_ERROR;
        break;
      default: pargs.err = ARGPARSE_PRINT_ERROR; break;
      }
  if (pargs.err)
    exit (EX_USAGE);
  gpgrt_argparse (NULL, &pargs, NULL);
}

/* Map an error of reading the message to an exit code.  */
static int
exit_for_message (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_INV_DATA: case GPG_ERR_TOO_LARGE: case GPG_ERR_NO_DATA:
    case GPG_ERR_LINE_TOO_LONG: case GPG_ERR_BAD_DATA:
      return EX_DATAERR;
    default:
      return EX_IOERR;
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
    case GPG_ERR_KEY_EXPIRED: case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED: case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_BAD_PUBKEY: case GPG_ERR_WRONG_KEY_USAGE:
    case GPG_ERR_NO_CRL_KNOWN: case GPG_ERR_CRL_TOO_OLD:
    case GPG_ERR_BAD_CERT_CHAIN: case GPG_ERR_NOT_TRUSTED:
    case GPG_ERR_CERT_EXPIRED: case GPG_ERR_MISSING_ISSUER_CERT:
    case GPG_ERR_CERT_TOO_YOUNG:
      return EX_NOPERM;
    default:
      return EX_CONFIG;
    }
}

/* Map an error of encrypting to an exit code.  */
static int
exit_for_encrypt (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_UNUSABLE_PUBKEY: case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_CERT_REVOKED: case GPG_ERR_KEY_DISABLED:
    case GPG_ERR_BAD_PUBKEY: case GPG_ERR_NO_PUBKEY:
    case GPG_ERR_BAD_PASSPHRASE: case GPG_ERR_NO_SECKEY:
    case GPG_ERR_BAD_SIGNATURE: case GPG_ERR_CANCELED:
    case GPG_ERR_NOT_TRUSTED: case GPG_ERR_CERT_EXPIRED:
    case GPG_ERR_NO_CRL_KNOWN: case GPG_ERR_CRL_TOO_OLD:
      return EX_NOPERM;
    case GPG_ERR_ENOSPC: case GPG_ERR_EACCES: case GPG_ERR_EROFS:
    case GPG_ERR_ENOENT: case GPG_ERR_EDQUOT:
      return EX_CANTCREAT;
    default:
      return EX_SOFTWARE;
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
                  ncopies, pan_protocol_name (pan_job_copy_protocol (job, c)),
                  pan_job_copy_hidden (job, c) ? ", hidden recipient" : "");
      for (size_t i = 0; i < pan_job_copy_recipient_count (job, c); i++)
        es_fprintf (es_stderr, " %s", pan_job_recipient_addr
                    (job, pan_job_copy_recipient (job, c, i)));
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

static const char *
login_user (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return pw && pw->pw_name ? pw->pw_name : "unknown";
}

/* Fill REC for JOB: the message, the resolved recipients and keys of
 * copy COPY (all of them if COPY is -1), and the copy's ciphertext once
 * there is one.  */
static void
record_init (struct record *rec, pan_job_t job, long copy, const char *event,
             const char *outcome, int exit_code)
{
  pan_headers_t headers = pan_job_headers (job);
  size_t n = 0, total = copy < 0 ? pan_job_recipient_count (job)
    : pan_job_copy_recipient_count (job, copy);

  memset (rec, 0, sizeof *rec);
  rec->ev.event = event;
  rec->ev.tool = "pansend";
  rec->ev.outcome = outcome;
  rec->ev.exit_code = exit_code;
  rec->ev.envelope_from = login_user ();
  rec->ev.size = -1;
  if (headers)
    {
      rec->ev.message_id = pan_job_message_id (job);
      rec->ev.header_from = pan_headers_get (headers, "From");
    }
  if (copy >= 0)
    rec->ev.ciphertext_sha256 = pan_job_copy_digest (job, copy,
                                                     &rec->ev.size);
  rec->ev.pans = pan_job_pans (job, &rec->ev.npans);
  rec->keys = calloc (total + 1, sizeof *rec->keys);
  for (size_t i = 0; rec->keys && i < total; i++)
    {
      size_t r = copy < 0 ? i : pan_job_copy_recipient (job, copy, i);

      if (pan_job_recipient_fpr (job, r))
        rec->keys[n++] = (struct pan_audit_key)
          { pan_job_recipient_addr (job, r),
            pan_job_recipient_protocol (job, r),
            pan_job_recipient_fpr (job, r) };
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
  free (copy);
  return rc;
}

static int
prepare (pan_ctx_t ctx, pan_job_t job, gpgrt_stream_t in, struct options *o)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_job_read_headers (job, in, &reason)))
    return refuse (ctx, job, exit_for_message (err), err,
                   "reading the message", reason);
  if ((err = pan_job_check_headers (job, &reason)))
    return refuse (ctx, job, gpg_err_code (err) == GPG_ERR_FORBIDDEN
                   ? EX_NOPERM : EX_CONFIG, err, "headers", reason);
  /* mailx-style, the addresses are the To of the composed message.  */
  for (size_t i = 0; !o->compose && i < o->naddrs; i++)
    if ((err = pan_job_add_recipient (job, o->addrs[i], &reason)))
      return refuse (ctx, job, EX_USAGE, err,
                     "a recipient on the command line", reason);
  if ((err = pan_job_resolve (job, time (NULL), &reason)))
    return refuse (ctx, job, exit_for_resolve (err), err, "recipients",
                   reason);
  if (pan_job_warnings (job))
    cmd_info ("warning: %s", pan_job_warnings (job));
  if (o->verbose)
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
    return 0;
  record_outcome (ctx, job, c, "queue", "queued", EX_TEMPFAIL, reason);
  cmd_error (err, "delivery", reason);
  return EX_TEMPFAIL;
}

static int
deliver (pan_ctx_t ctx, pan_job_t job, struct options *o)
{
  gpg_error_t err;
  char **argv = NULL;
  const char *cmd = o->sendmail ? o->sendmail
    : pan_config_get (pan_ctx_config (ctx), "sendmail");
  int rc = 0;

  if ((err = pan_argv_split (cmd, &argv)))
    return refuse (ctx, job, o->sendmail ? EX_USAGE : EX_CONFIG, err,
                   o->sendmail ? "--sendmail" : "setting sendmail", NULL);
  /* Every record comes before the first hand-over: if one cannot be
   * written, nothing is sent.  */
  for (size_t c = 0; !rc && c < pan_job_copy_count (job); c++)
    rc = record_outcome (ctx, job, c, "send", "sent", 0,
                         pan_job_warnings (job));
  if (!rc)
    for (size_t c = 0; c < pan_job_copy_count (job); c++)
      if (deliver_copy (ctx, job, c, argv))
        rc = EX_TEMPFAIL;  /* And on with the others: each is recorded.  */
  pan_argv_release (argv);
  return rc;
}

/* mailx-style: the message is made from the text on stdin.  */
static int
open_composed (struct options *o, gpgrt_stream_t *r_in)
{
  gpg_error_t err;
  char *reason = NULL;

  o->spec.to = (const char *const *)o->addrs;
  o->spec.cc = o->cc.items;
  o->spec.bcc = o->bcc.items;
  o->spec.attachments = o->attach.items;
  if ((err = pan_compose_open (&o->spec, es_stdin, time (NULL), r_in,
                               &reason)))
    {
      cmd_error (err, "composing the message", reason);
      return EX_NOINPUT;
    }
  return 0;
}

static int
run (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_job_t job = NULL;
  gpgrt_stream_t in = es_stdin;
  char *reason = NULL;
  int rc;

  if ((rc = cmd_open_home (o->home, &ctx, EX_CONFIG)))
    return rc;
  if ((err = pan_registry_check_recorded (ctx, &reason)))
    {
      cmd_error (err, "checking the registry", reason);
      rc = gpg_err_code (err) == GPG_ERR_BAD_DATA ? EX_NOPERM : EX_CONFIG;
      goto leave;
    }
  if ((err = pan_job_new (ctx, &job)))
    {
      cmd_error (err, NULL, NULL);
      rc = EX_OSERR;
      goto leave;
    }
  if (o->passphrase_fd >= 0
      && (err = pan_job_passphrase_fd (job, o->passphrase_fd, &reason)))
    {
      cmd_error (err, "--passphrase-fd", reason);
      rc = EX_USAGE;
      goto leave;
    }
  if ((o->compose && (rc = open_composed (o, &in)))
      || (rc = prepare (ctx, job, in, o)))
    goto leave;
  if ((err = pan_job_encrypt (job, in, &reason)))
    {
      rc = refuse (ctx, job, exit_for_encrypt (err), err, "encryption",
                   reason);
      goto leave;
    }
  if (o->dry_run)
    {
      if (o->verbose)
        cmd_info ("dry run: all checks passed, nothing sent");
      goto leave;
    }
  rc = deliver (ctx, job, o);

 leave:
  if (in != es_stdin)
    es_fclose (in);
  pan_job_release (job);
  pan_ctx_release (ctx);
  return rc;
}

int
main (int argc, char **argv)
{
  struct options o = { NULL };

  o.passphrase_fd = -1;
  int rc;

  cmd_setup ("pansend", "Usage: pansend [OPTIONS] [ADDR...] < MESSAGE\n"
             "       pansend -s SUBJECT [-a FILE]... [-c ADDR]... [-b ADDR]..."
             " ADDR... < TEXT",
             "Send the message on stdin encrypted to every recipient's"
             " pinned key,\nor send nothing at all.\n");
  parse_options (&argc, &argv, &o);
  cmd_init_library ();
  rc = run (&o);
  free (o.addrs);
  free (o.attach.items);
  free (o.cc.items);
  free (o.bcc.items);
  return rc;
}
