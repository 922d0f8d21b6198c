/* pankey - enroll and manage the recipients' pinned keys
 *
 * Commands: init, enroll, list, show, check, rotate, refresh, revoke,
 * unenroll, trust-ca, load-crl, list-crls, inspect.  See pankey(8).  Each command that changes keys
 * is one transaction of the library (pan_lifecycle_*), which checks,
 * changes and records it; this file parses, prints and maps errors to
 * exit codes.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#define GPGRT_ENABLE_ARGPARSE_MACROS 1
#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-check.h"
#include "pankey-crl.h"
#include "pankey-bundle.h"
#include "pankey-inspect.h"

enum opt_values
{
  oHome = 500,
  oForce,
  oFingerprint,
  oFile,
  oOperator,
  oProtocol,
  oJson,
  oDays,
  oReason,
  oNote,
  oSenderGroup,
  oOperatorKey,
  oSign,
  oSignerHome,
  oBatch,
  oOutput = 'o',
  oWarn = 'w',
  oCrit = 'c',
  oTimeout = 't'
};

/* Each option but --home, as a bit of struct options' GIVEN, and the
 * options each command takes.  */
#define O_FORCE (1u << 0)
#define O_FINGERPRINT (1u << 1)
#define O_FILE (1u << 2)
#define O_OPERATOR (1u << 3)
#define O_PROTOCOL (1u << 4)
#define O_JSON (1u << 5)
#define O_DAYS (1u << 6)
#define O_REASON (1u << 7)
#define O_NOTE (1u << 8)
#define O_WARN (1u << 9)
#define O_CRIT (1u << 10)
#define O_TIMEOUT (1u << 11)
#define O_SENDER_GROUP (1u << 12)
#define O_OPERATOR_KEY (1u << 13)
#define O_SIGN (1u << 14)
#define O_SIGNER_HOME (1u << 15)
#define O_OUTPUT (1u << 16)
#define O_BATCH (1u << 17)
static const char *const option_names[] = { "--force",
                                            "--fingerprint",
                                            "--file",
                                            "--operator",
                                            "--protocol",
                                            "--json",
                                            "--days",
                                            "--reason",
                                            "--note",
                                            "-w",
                                            "-c",
                                            "-t",
                                            "--sender-group",
                                            "--operator-key",
                                            "--sign",
                                            "--signer-home",
                                            "--output",
                                            "--batch" };

static gpgrt_opt_t opts[] = {
  ARGPARSE_group (300,
                  "@Commands:\n "
                  "  init [--sender-group GROUP] create the home\n"
                  "       [--operator-key FPR... --file KEYS]\n"
                  "  enroll ADDR --fingerprint FPR --file KEY|-\n"
                  "                             pin ADDR to the key FPR\n"
                  "  enroll --batch LIST --file KEYS\n"
                  "                             each \"ADDR FPR\" line of "
                  "LIST\n"
                  "  list                       list enrolled recipients\n"
                  "  show ADDR                  show ADDR's enrollments\n"
                  "  check [-w DAYS] [-c DAYS] [-t SECONDS]\n"
                  "                             find keys that need"
                  " attention\n"
                  "  rotate ADDR --fingerprint FPR --file KEY|-\n"
                  "                             replace ADDR's key\n"
                  "  refresh ADDR --file KEY|-  import an update of ADDR's"
                  " key\n"
                  "  trust-ca --fingerprint FPR --file CA\n"
                  "                             trust an S/MIME root CA\n"
                  "  load-crl FILE [--file CA-CERTS]\n"
                  "                             load a CA's CRL (DER or "
                  "PEM)\n"
                  "  list-crls                  list the CRLs loaded\n"
                  "  inspect --file KEY|-       show the keys of a file:"
                  " fingerprints, user IDs, expiry, policy\n"
                  "  revoke ADDR [--fingerprint FPR] --reason WHY"
                  " [--note TEXT]\n"
                  "                             make a key unusable\n"
                  "  unenroll ADDR [--note TEXT] end ADDR's enrollment\n"
                  "  registry-accept --note WHY record the registry as it"
                  " is\n"
                  "  operator-key add --fingerprint FPR --file KEY\n"
                  "                             accept bundles signed by"
                  " FPR\n"
                  "  operator-key remove --fingerprint FPR\n"
                  "                             refuse them from now on\n"
                  "  export --sign --operator FPR [--signer-home DIR]"
                  " [-o FILE]\n"
                  "                             write a signed bundle\n"
                  "  import BUNDLE|-            apply a signed bundle\n"
                  "\nOptions:\n "),
  ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
  ARGPARSE_s_n (oForce, "force", "init: accept a non-empty directory"),
  ARGPARSE_s_s (oSenderGroup, "sender-group",
                "|GROUP|init: share the home"
                " with the senders in GROUP"),
  ARGPARSE_s_s (oOperatorKey, "operator-key",
                "|FPR|init: accept bundles signed by"
                " FPR (repeatable; the keys in --file)"),
  ARGPARSE_s_n (oSign, "sign", "export: sign the bundle (required)"),
  ARGPARSE_s_s (oSignerHome, "signer-home",
                "|DIR|export: the GnuPG home of the"
                " signing key (default: GNUPGHOME)"),
  ARGPARSE_s_s (oOutput, "output",
                "|FILE|export: write to FILE (- ="
                " stdout)"),
  ARGPARSE_s_s (oFingerprint, "fingerprint",
                "|FPR|the full fingerprint checked out of band"),
  ARGPARSE_s_s (oFile, "file", "|FILE|read the key from FILE (- = stdin)"),
  ARGPARSE_s_s (oBatch, "batch",
                "|LIST|enroll: the pairs \"ADDR FPR\" of LIST, their"
                " keys in --file"),
  ARGPARSE_s_s (oOperator, "operator",
                "|NAME|who enrolls (default: login"
                " user); export: the signing key FPR"),
  ARGPARSE_s_s (oProtocol, "protocol", "|NAME|openpgp (default) or smime"),
  ARGPARSE_s_n (oJson, "json",
                "list, show, check, list-crls, inspect: one JSON"
                " object per line"),
  ARGPARSE_s_s (oWarn, "warning",
                "|DAYS|check: WARNING for keys expiring"
                " within DAYS days"),
  ARGPARSE_s_s (oCrit, "critical",
                "|DAYS|check: CRITICAL for keys"
                " expiring within DAYS days"),
  ARGPARSE_s_s (oTimeout, "timeout",
                "|SECONDS|check: UNKNOWN after"
                " SECONDS (default 60)"),
  ARGPARSE_s_s (oDays, "days", "@"),
  ARGPARSE_s_s (oReason, "reason",
                "|WHY|revoke: compromised, superseded,"
                " left or other"),
  ARGPARSE_s_s (oNote, "note",
                "|TEXT|revoke, unenroll: a note for the"
                " record"),
  ARGPARSE_end ()
};

struct options
{
  const char *home;
  int force;
  const char *fingerprint;
  const char *file;
  const char *operator_name;
  const char *protocol;
  pan_protocol_t proto; /* From --protocol; OpenPGP by default.  */
  int registry_keys; /* The command is about the registry's keys alone.  */
  int json;
  const char *days;
  const char *reason;
  const char *note;
  const char *sender_group;
  const char *batch;
  const char *warn, *crit, *timeout;
  const char *operator_keys[16]; /* --operator-key, in order.  */
  size_t n_operator_keys;
  int sign;
  const char *signer_home, *output;
  unsigned int given; /* O_ bits of the options given.  */
  int bad;            /* An option was not understood.  */
  char *args[3];
  int nargs;
};

static void
usage_error (const char *what)
{
  cmd_info ("%s (see 'pankey --help')", what);
  exit (EX_USAGE);
}

/* Take --operator-key VALUE (repeatable) or --sign (OPT) into O.  */
static int
take_bundle_option (struct options *o, int opt, const char *value)
{
  if (opt == oSign)
    {
      o->sign = 1;
      o->given |= O_SIGN;
      return 1;
    }
  if (o->n_operator_keys == sizeof o->operator_keys / sizeof (char *))
    usage_error ("too many --operator-key options");
  o->operator_keys[o->n_operator_keys++] = value;
  o->given |= O_OPERATOR_KEY;
  return 1;
}

/* Store the value VALUE of the option OPT in O and note that it was
 * given; false if OPT is not one of pankey's options.  */
static int
take_option (struct options *o, int opt, const char *value)
{
  const struct
  {
    int opt;
    unsigned int bit;
    const char **field;
  } opts_s[] = {
    {oFingerprint,  O_FINGERPRINT,  &o->fingerprint  },
    { oFile,        O_FILE,         &o->file         },
    { oOperator,    O_OPERATOR,     &o->operator_name},
    { oProtocol,    O_PROTOCOL,     &o->protocol     },
    { oDays,        O_DAYS,         &o->days         },
    { oReason,      O_REASON,       &o->reason       },
    { oNote,        O_NOTE,         &o->note         },
    { oWarn,        O_WARN,         &o->warn         },
    { oCrit,        O_CRIT,         &o->crit         },
    { oTimeout,     O_TIMEOUT,      &o->timeout      },
    { oSenderGroup, O_SENDER_GROUP, &o->sender_group },
    { oSignerHome,  O_SIGNER_HOME,  &o->signer_home  },
    { oOutput,      O_OUTPUT,       &o->output       },
    { oBatch,       O_BATCH,        &o->batch        }
  };

  if (opt == oOperatorKey || opt == oSign)
    return take_bundle_option (o, opt, value);

  if (opt == oForce || opt == oJson)
    {
      *(opt == oForce ? &o->force : &o->json) = 1;
      o->given |= opt == oForce ? O_FORCE : O_JSON;
      return 1;
    }
  for (size_t i = 0; i < sizeof opts_s / sizeof *opts_s; i++)
    if (opts_s[i].opt == opt)
      {
        *opts_s[i].field = value;
        o->given |= opts_s[i].bit;
        return 1;
      }
  return 0;
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
    if (pargs.r_opt == ARGPARSE_IS_ARG)
      {
        if (o->nargs == 3)
          usage_error ("too many arguments");
        o->args[o->nargs++] = pargs.r.ret_str;
      }
    else if (pargs.r_opt == oHome)
      o->home = pargs.r.ret_str;
    else if (!take_option (o, pargs.r_opt, pargs.r.ret_str))
      {
        pargs.err = ARGPARSE_PRINT_WARNING;
        o->bad = 1;
      }
  gpgrt_argparse (NULL, &pargs, NULL);
}

static int
open_home (struct options *o, pan_ctx_t *r_ctx)
{
  int rc = cmd_open_home (o->home, r_ctx, EX_CONFIG);

  if (!rc && o->registry_keys && o->proto == PAN_PROTOCOL_OPENPGP)
    cmd_openpgp_only_unless_smime (*r_ctx);
  return rc;
}

static int
open_registry (pan_ctx_t ctx, pan_registry_t *r_reg)
{
  return cmd_load_registry (ctx, r_reg, EX_CONFIG);
}


/* pankey init */

/* Create the audit key (shown once) with its record of the init, or
 * keep the key the home has and record the init.  */
static int
init_audit (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *key = NULL;
  struct pan_audit_event ev = { .event = "init",
                                .tool = "pankey",
                                .operator_name = o->operator_name,
                                .outcome = "ok" };
  char digest[65];
  int rc;

  if ((rc = open_home (o, &ctx)))
    return rc;
  if (!pan_registry_digest (ctx, digest, NULL))
    ev.registry_sha256 = digest;
  err = pan_audit_create_key (ctx, &ev, time (NULL), PAN_AUDIT_KEEP_KEY,
                              &key, &reason);
  if (err)
    {
      cmd_error (err, "creating the audit key and its record", reason);
      rc = cmd_exit_for_audit (err);
    }
  else if (!key)
    cmd_info ("the home already has an audit key; keeping it");
  else
    {
      es_printf ("audit key: %s\n", key);
      es_fflush (es_stdout);
      cmd_info ("keep the audit key offline: 'panaudit verify --key'"
                " needs it; it is not stored and not shown again");
    }
  pan_audit_key_release (key);
  pan_ctx_release (ctx);
  return rc;
}

static int
cmd_init (struct options *o)
{
  gpg_error_t err;
  char *reason = NULL;
  const char *home = pan_home_resolve (o->home);
  int rc;

  if (o->nargs != 1)
    usage_error ("init takes no arguments");
  if (!o->n_operator_keys != !o->file)
    usage_error ("init: --operator-key FPR needs --file KEYS, and --file"
                 " only goes with it");
  if ((err = pan_home_init (home, o->force, &reason)))
    {
      cmd_error (err, "init", reason);
      return gpg_err_code (err) == GPG_ERR_EEXIST ? EX_CANTCREAT : EX_OSERR;
    }
  es_printf ("pankey: created the panmail home %s\n", home);
  if ((rc = init_audit (o)))
    return rc;
  if (o->n_operator_keys
      && (rc = pankey_operator_keys (o->home, o->operator_keys,
                                     o->n_operator_keys, o->file,
                                     o->operator_name)))
    return rc;
  if (!o->sender_group)
    return 0;
  if ((err = pan_home_share (home, o->sender_group, &reason)))
    {
      cmd_error (err, "sharing the home with the senders", reason);
      return EX_CONFIG;
    }
  es_printf ("pankey: the members of group %s may send from %s\n",
             o->sender_group, home);
  return 0;
}


/* pankey enroll, rotate, refresh, revoke, unenroll, trust-ca: one
 * transaction of the library each (pan_lifecycle_*).  */

/* The key file a transaction reads when it needs the key.  */
struct key_file
{
  const char *name; /* "-": stdin.  */
  char *buf;
  int rc; /* Exit code if reading failed.  */
};

/* Read the key file (at most MAXLEN bytes) into *R_BUF.  */
int
read_key_file (const char *file, long maxlen, char **r_buf, size_t *r_len)
{
  estream_t fp = strcmp (file, "-") ? es_fopen (file, "rb") : es_stdin;
  char *buf = NULL;
  size_t nread = 0;

  if (!fp || !(buf = malloc (maxlen + 1)))
    {
      cmd_error (gpg_error_from_syserror (), file, NULL);
      free (buf);
      return EX_NOINPUT;
    }
  if (es_read (fp, buf, maxlen + 1, &nread) || nread > (size_t)maxlen)
    {
      if (nread > (size_t)maxlen)
        cmd_info ("%s: larger than max-key-size (%ld bytes)", file, maxlen);
      else
        cmd_error (gpg_error_from_syserror (), file, NULL);
      if (fp != es_stdin)
        es_fclose (fp);
      free (buf);
      return EX_DATAERR;
    }
  if (fp != es_stdin)
    es_fclose (fp);
  *r_buf = buf;
  *r_len = nread;
  return 0;
}

/* Hand the key file OPAQUE to a transaction (pan_key_reader_t).  */
static gpg_error_t
read_key_cb (void *opaque, long maxlen, const void **r_data, size_t *r_len)
{
  struct key_file *kf = opaque;

  if ((kf->rc = read_key_file (kf->name, maxlen, &kf->buf, r_len)))
    return gpg_error (kf->rc == EX_NOINPUT ? GPG_ERR_ENOENT
                                           : GPG_ERR_INV_DATA);
  *r_data = kf->buf;
  return 0;
}

/* A verb that runs one lifecycle transaction.  */
struct verb
{
  gpg_error_t (*run) (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                      struct pan_lifecycle_result *r_res, char **r_reason);
  const char *refused; /* What a refused key stopped.  */
  int pins;            /* It pins a new key.  */
  int keyring;         /* Its change is of the keyring (else of
                                   the registry).  */
};

static const struct verb v_enroll = { pan_lifecycle_enroll, "enroll refused",
                                      1, 0 };
static const struct verb v_rotate = { pan_lifecycle_rotate, "enroll refused",
                                      1, 0 };
static const struct verb v_refresh = { pan_lifecycle_refresh,
                                       "refresh refused", 0, 1 };
static const struct verb v_revoke = { pan_lifecycle_revoke, NULL, 0, 0 };
static const struct verb v_unenroll = { pan_lifecycle_unenroll, NULL, 0, 0 };
static const struct verb v_trust_ca = { pan_lifecycle_trust_ca,
                                        "trust-ca refused", 0, 0 };

/* Say that the record of a refusal or failure could not be written.  */
static void
report_record (struct pan_lifecycle_result *res)
{
  if (!res->record_err)
    return;
  cmd_error (res->record_err, "writing the audit record",
             res->record_reason);
  res->record_reason = NULL;
}

/* Say why the transaction of V stopped with ERR and REASON, and return
 * the exit code.  */
static int
report_stop (const struct verb *v, struct pan_lifecycle_result *res,
             gpg_error_t err, char *reason)
{
  int registry_change = res->stage == PAN_LIFECYCLE_APPLY && !v->keyring;

  if (!registry_change)
    report_record (res);
  switch (res->stage)
    {
    case PAN_LIFECYCLE_REGISTRY:
      cmd_error (err, "reading the registry", reason);
      break;
    case PAN_LIFECYCLE_KEY: cmd_error (err, v->refused, reason); break;
    case PAN_LIFECYCLE_AUDIT:
      cmd_error (err, "writing the audit record", reason);
      return cmd_exit_for_audit (err);
    case PAN_LIFECYCLE_APPLY:
      cmd_error (err,
                 registry_change ? "updating the registry"
                                 : "refresh failed",
                 reason);
      report_record (res);
      break;
    default: cmd_error (err, NULL, reason); break;
    }
  /* The same code as the record of the stop carries.  */
  return pan_lifecycle_exit_code (res->stage, err, v->keyring);
}

/* Run the transaction of V for REQ (its key read from KF, if any) into
 * RES; say why it stopped and return the exit code.  */
static int
run (pan_ctx_t ctx, const struct verb *v,
     const struct pan_lifecycle_req *req, struct pan_lifecycle_result *res,
     struct key_file *kf)
{
  gpg_error_t err;
  char *reason = NULL;

  err = v->run (ctx, req, res, &reason);
  if (v->pins && res->fingerprint
      && strcmp (res->fingerprint, req->fingerprint))
    cmd_info ("%s: SHA-256 %s is the certificate with SHA-1 %s; the"
              " registry pins the SHA-1",
              res->address, req->fingerprint, res->fingerprint);
  if (!err)
    return 0;
  if (res->stage == PAN_LIFECYCLE_INPUT && kf && kf->rc)
    {
      free (reason);
      return kf->rc;
    }
  if (res->stage == PAN_LIFECYCLE_KEY && kf
      && gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    cmd_info ("to see the keys in %s and their fingerprints: pankey"
              " inspect --file %s",
              kf->name, kf->name);
  return report_stop (v, res, err, reason);
}

/* Fill REQ from the options, ADDR, FPR and the key file KF (may be
 * NULL).  */
static void
init_request (struct pan_lifecycle_req *req, struct options *o,
              const char *addr, const char *fpr, struct key_file *kf)
{
  memset (req, 0, sizeof *req);
  req->address = addr;
  req->protocol = o->proto;
  req->fingerprint = fpr;
  req->operator_name = o->operator_name;
  req->reason = o->reason;
  req->note = o->note;
  req->now = time (NULL);
  if (kf)
    {
      req->read_key = read_key_cb;
      req->read_key_opaque = kf;
    }
}

/* Normalise the address argument ARG into *R_ADDR.  */
static int
address_arg (const char *arg, char **r_addr)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_addr_normalize (arg, r_addr, &reason)))
    {
      cmd_error (err, "the address", reason);
      return EX_USAGE;
    }
  return 0;
}

/* Normalise --fingerprint into *R_FPR.  */
static int
fingerprint_arg (const char *arg, char **r_fpr)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_fpr_normalize (arg, r_fpr, &reason)))
    {
      cmd_error (err, "--fingerprint", reason);
      return EX_USAGE;
    }
  return 0;
}

/* Say so if the new key of RES is only just within the algorithm
 * policy.  */
static void
warn_policy (const struct pan_lifecycle_result *res)
{
  if (res->key.present && res->key.policy == PAN_SEVERITY_WARNING)
    cmd_info ("warning: key %s: %s", res->fingerprint,
              res->key.policy_reason ? res->key.policy_reason : "weak");
}

/* What a verb holds while it runs.  */
struct job
{
  pan_ctx_t ctx;
  char *addr, *fpr;
  struct key_file kf;
  struct pan_lifecycle_req req;
  struct pan_lifecycle_result res;
};

/* Open the home, queue what a crashed pansend left (as pansend does)
 * and run V for the options O, with the key file if KEY; ADDR and FPR
 * (normalised) are handed over to J.  */
static int
run_job (struct job *j, struct options *o, const struct verb *v, int key)
{
  int rc;

  j->kf.name = o->file;
  if ((rc = open_home (o, &j->ctx)) || (rc = cmd_recover (j->ctx)))
    return rc;
  init_request (&j->req, o, j->addr, j->fpr, key ? &j->kf : NULL);
  return run (j->ctx, v, &j->req, &j->res, &j->kf);
}

/* Say so if the new key of J expires within expire-warn-days: pansend
 * and pankey check will warn about it from now on.  */
static void
warn_expiry (const struct job *j)
{
  const struct pan_key_info *key = &j->res.key;
  long warn = pan_policy_warn_days (pan_ctx_config (j->ctx));
  long days;
  char day[32];

  if (!key->present || !key->expires)
    return;
  days = pan_days_until (j->req.now, key->expires);
  if (days > warn)
    return;
  pan_time_format (key->expires, day, sizeof day);
  cmd_info ("warning: key %s of %s expires in %ld day%s (%s), within"
            " expire-warn-days (%ld): ask for a key that lasts longer and"
            " 'pankey rotate' to it, or have the holder extend it and"
            " 'pankey refresh'",
            j->res.fingerprint, j->res.address, days, days == 1 ? "" : "s",
            day, warn);
}

static void
job_release (struct job *j)
{
  pan_lifecycle_result_release (&j->res);
  free (j->kf.buf);
  free (j->addr);
  free (j->fpr);
  pan_ctx_release (j->ctx);
}

/* Say how pair IDX of a bulk enrollment went; OPAQUE counts those
 * that failed.  */
static void
batch_cb (void *opaque, size_t idx, gpg_error_t err,
          const struct pan_lifecycle_result *res, const char *reason)
{
  unsigned int *failed = opaque;

  if (!err)
    {
      es_printf ("pankey: enrolled %s with OpenPGP key %s\n", res->address,
                 res->fingerprint);
      return;
    }
  (*failed)++;
  cmd_info ("pair %zu (%s) not enrolled: %s", idx + 1,
            res->address ? res->address : "?",
            reason ? reason : gpg_strerror (err));
}

/* pankey enroll --batch LIST --file KEYS: each pair of LIST enrolled as
 * a single enroll (see pan_lifecycle_enroll_batch).  */
static int
cmd_enroll_batch (struct options *o)
{
  struct job j = { NULL };
  pan_enroll_list_t list = NULL;
  char *buf = NULL, *reason = NULL;
  size_t len = 0;
  unsigned int failed = 0;
  gpg_error_t err;
  int rc;

  if (o->nargs != 1 || o->fingerprint || !o->file || !strcmp (o->file, "-")
      || o->proto != PAN_PROTOCOL_OPENPGP)
    usage_error ("usage: pankey enroll --batch LIST --file KEYS");
  if ((rc = read_key_file (o->batch, 64L << 20, &buf, &len)))
    return rc;
  if ((err = pan_enroll_list_parse (buf, len, &list, &reason)))
    {
      cmd_error (err, o->batch, reason);
      free (buf);
      return EX_DATAERR;
    }
  j.kf.name = o->file;
  if (!(rc = open_home (o, &j.ctx)) && !(rc = cmd_recover (j.ctx)))
    {
      init_request (&j.req, o, NULL, NULL, &j.kf);
      err = pan_lifecycle_enroll_batch (j.ctx, &j.req, list, batch_cb,
                                        &failed, &reason);
      if (err)
        cmd_error (err, "enroll --batch", reason);
      es_printf ("pankey: %zu of %zu keys enrolled\n",
                 pan_enroll_list_count (list) - failed,
                 pan_enroll_list_count (list));
      rc = !err ? 0 : j.kf.rc ? j.kf.rc : EX_DATAERR;
    }
  pan_enroll_list_release (list);
  free (buf);
  job_release (&j);
  return rc;
}

static int
cmd_enroll (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->batch)
    return cmd_enroll_batch (o);
  if (o->nargs != 2 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey enroll ADDR --fingerprint FPR --file KEY|-");
  if (o->protocol && pan_protocol_parse (o->protocol, &o->proto))
    usage_error ("--protocol is openpgp or smime");
  if (!(rc = address_arg (o->args[1], &j.addr))
      && !(rc = fingerprint_arg (o->fingerprint, &j.fpr))
      && !(rc = run_job (&j, o, &v_enroll, 1)))
    {
      es_printf ("pankey: enrolled %s with %s %s\n", j.res.address,
                 j.res.protocol == PAN_PROTOCOL_SMIME ? "S/MIME certificate"
                                                      : "OpenPGP key",
                 j.res.fingerprint);
      warn_policy (&j.res);
      warn_expiry (&j);
    }
  job_release (&j);
  return rc;
}

static int
cmd_rotate (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 2 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey rotate ADDR --fingerprint FPR --file KEY|-");
  if (!(rc = fingerprint_arg (o->fingerprint, &j.fpr))
      && !(rc = address_arg (o->args[1], &j.addr))
      && !(rc = run_job (&j, o, &v_rotate, 1)))
    {
      es_printf ("pankey: rotated %s: key %s is active, key %s retired\n",
                 j.res.address, j.res.fingerprint, j.res.old_fingerprint);
      warn_policy (&j.res);
      warn_expiry (&j);
    }
  job_release (&j);
  return rc;
}

static int
cmd_refresh (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 2 || !o->file || o->fingerprint)
    usage_error ("usage: pankey refresh ADDR --file KEY|-");
  if (!(rc = address_arg (o->args[1], &j.addr))
      && !(rc = run_job (&j, o, &v_refresh, 1)))
    {
      es_printf ("pankey: refreshed key %s of %s: ", j.res.fingerprint,
                 j.res.address);
      cmd_put_safe (es_stdout, j.res.what);
      es_putc ('\n', es_stdout);
      if (j.res.unusable)
        {
          cmd_info ("warning: the key cannot be used now: %s",
                    j.res.unusable_reason ? j.res.unusable_reason
                                          : gpg_strerror (j.res.unusable));
          cmd_info ("pankey revoke %s --reason superseded, then enroll a"
                    " new key",
                    j.res.address);
        }
    }
  job_release (&j);
  return rc;
}

static int
cmd_revoke (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 2 || !o->reason)
    usage_error ("usage: pankey revoke ADDR [--fingerprint FPR] --reason"
                 " compromised|superseded|left|other [--note TEXT]");
  if (!pan_registry_reason_valid (PAN_STATUS_REVOKED, o->reason))
    usage_error ("--reason must be compromised, superseded, left or other");
  if ((!o->fingerprint || !(rc = fingerprint_arg (o->fingerprint, &j.fpr)))
      && !(rc = address_arg (o->args[1], &j.addr))
      && !(rc = run_job (&j, o, &v_revoke, 0)))
    {
      if (j.res.unchanged)
        cmd_info ("key %s of %s is already revoked; nothing changed",
                  j.res.fingerprint, j.res.address);
      else
        es_printf ("pankey: revoked key %s of %s (%s)\n", j.res.fingerprint,
                   j.res.address, o->reason);
      if (!j.res.unchanged && j.res.old_status == PAN_STATUS_ACTIVE)
        cmd_info ("%s has no usable key now; enroll a new one with"
                  " 'pankey enroll'",
                  j.res.address);
    }
  job_release (&j);
  return rc;
}

static int
cmd_unenroll (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 2 || o->fingerprint || o->reason)
    usage_error ("usage: pankey unenroll ADDR [--note TEXT]");
  if (!(rc = address_arg (o->args[1], &j.addr))
      && !(rc = run_job (&j, o, &v_unenroll, 0)))
    es_printf ("pankey: unenrolled key %s of %s (unenrolled)\n",
               j.res.fingerprint, j.res.address);
  job_release (&j);
  return rc;
}

static const struct verb v_registry_accept = { pan_lifecycle_registry_accept,
                                               NULL, 0, 0 };

static int
cmd_registry_accept (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 1 || !o->note)
    usage_error ("usage: pankey registry-accept --note WHY");
  if (!(rc = run_job (&j, o, &v_registry_accept, 0)) && j.res.what)
    es_printf ("pankey: recorded the registry as it is (SHA-256 %s)\n",
               j.res.what);
  job_release (&j);
  return rc;
}

static int
cmd_trust_ca (struct options *o)
{
  struct job j = { NULL };
  int rc;

  if (o->nargs != 1 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey trust-ca --fingerprint FPR --file CA");
  if (!(rc = fingerprint_arg (o->fingerprint, &j.fpr))
      && !(rc = run_job (&j, o, &v_trust_ca, 1)))
    {
      es_printf ("pankey: trusted the CA %s for S/MIME\n",
                 j.res.fingerprint);
      pankey_crl_note_ca (o->home, j.res.fingerprint);
    }
  job_release (&j);
  return rc;
}


/* pankey list, pankey show */

/* Return the word for the key state ST of REC: "-" for a record that
 * is not active.  */
static const char *
state_word (const struct pan_recipient *rec, const struct pan_key_status *st)
{
  return rec->status == PAN_STATUS_ACTIVE ? pan_review_state_name (st->state)
                                          : "-";
}

static void
print_json_change (const struct pan_recipient *rec)
{
  if (rec->changed_at)
    cmd_put_json_time (es_stdout, ",", "changed_at", rec->changed_at);
  if (rec->changed_by)
    cmd_put_json_member (es_stdout, ",", "changed_by", rec->changed_by);
  if (rec->reason)
    cmd_put_json_member (es_stdout, ",", "reason", rec->reason);
  if (rec->note)
    cmd_put_json_member (es_stdout, ",", "note", rec->note);
}

static void
print_json_state (const char *state, const struct pan_key_status *st)
{
  if (!strcmp (state, "-"))
    return;
  es_fprintf (es_stdout, ",\"key_state\":\"%s\"", state);
  if (st->info.present && st->info.expires)
    {
      cmd_put_json_time (es_stdout, ",", "expires", st->info.expires);
      es_fprintf (es_stdout, ",\"days_to_expiry\":%ld", st->days);
    }
  else if (st->info.present)
    es_fputs (",\"expires\":null,\"days_to_expiry\":null", es_stdout);
}

static void
print_json (const struct pan_recipient *rec, const char *state,
            const struct pan_key_status *st)
{
  char when[32];

  es_fputs ("{\"address\":", es_stdout);
  cmd_put_json_string (es_stdout, rec->address);
  es_fprintf (es_stdout,
              ",\"protocol\":\"%s\",\"fingerprint\":\"%s\","
              "\"enrolled_at\":\"%s\",\"enrolled_by\":",
              pan_protocol_name (rec->protocol), rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when));
  cmd_put_json_string (es_stdout, rec->enrolled_by);
  es_fprintf (es_stdout, ",\"status\":\"%s\"",
              pan_status_name (rec->status));
  print_json_change (rec);
  print_json_state (state, st);
  es_fputs ("}\n", es_stdout);
}

/* Write the expiry of ST, in days, into BUF.  */
static const char *
expiry_text (const char *state, const struct pan_key_status *st, char *buf,
             size_t size)
{
  if (!strcmp (state, "-") || !st->info.present)
    return "-";
  if (!st->info.expires)
    return "never";
  snprintf (buf, size, "%ldd", st->days);
  return buf;
}

static void
print_row (const struct pan_recipient *rec, const char *state,
           const struct pan_key_status *st)
{
  char when[32], days[32];

  es_fprintf (es_stdout, "%-30s %-7s %-40s %s  %-7s %-8s %-7s ",
              rec->address, pan_protocol_name (rec->protocol),
              rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when),
              pan_status_name (rec->status), state,
              expiry_text (state, st, days, sizeof days));
  cmd_put_safe (es_stdout, rec->enrolled_by);
  es_putc ('\n', es_stdout);
}

static void
list_record (pan_ctx_t ctx, const struct pan_recipient *rec, int json,
             time_t now)
{
  struct pan_key_status st;

  pan_review_key (ctx, rec, now, -1, 0, &st);
  if (json)
    print_json (rec, state_word (rec, &st), &st);
  else
    print_row (rec, state_word (rec, &st), &st);
  pan_review_key_release (&st);
}

/* The CAs trusted for S/MIME, after the recipients.  */
static void
list_cas (pan_ctx_t ctx, int json)
{
  struct pan_smime_ca *cas = NULL;
  size_t n = 0;
  char until[32];

  if (pan_smime_list_cas (ctx, &cas, &n, NULL))
    return;
  if (!n)
    {
      pan_smime_cas_release (cas, n);
      return;
    }
  if (!json)
    es_fputs ("\nTRUSTED S/MIME CA (SHA-1)                       UNTIL"
              "                 SUBJECT\n",
              es_stdout);
  for (size_t i = 0; i < n; i++)
    {
      pan_time_format (cas[i].not_after, until, sizeof until);
      if (json)
        {
          es_fprintf (es_stdout,
                      "{\"ca\":true,\"protocol\":\"smime\","
                      "\"fingerprint\":\"%s\",\"not_after\":\"%s\","
                      "\"missing\":%s,\"subject\":",
                      cas[i].fpr, until, cas[i].missing ? "true" : "false");
          cmd_put_json_string (es_stdout,
                               cas[i].subject ? cas[i].subject : "");
          es_fputs ("}\n", es_stdout);
          continue;
        }
      es_fprintf (es_stdout, "%-47s %-20s  ", cas[i].fpr,
                  cas[i].missing ? "MISSING" : until);
      cmd_put_safe (es_stdout, cas[i].subject ? cas[i].subject : "-");
      es_putc ('\n', es_stdout);
    }
  pan_smime_cas_release (cas, n);
}

static int
cmd_list (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  time_t now = time (NULL);
  int rc;

  if (o->nargs != 1)
    usage_error ("list takes no arguments");
  if ((rc = open_home (o, &ctx)) || (rc = open_registry (ctx, &reg)))
    goto leave;
  if (!o->json)
    es_fprintf (es_stdout, "%-30s %-7s %-40s %-20s  %-7s %-8s %-7s %s\n",
                "ADDRESS", "PROTO", "FINGERPRINT", "ENROLLED", "STATUS",
                "KEY", "EXPIRES", "BY");
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    list_record (ctx, pan_registry_get (reg, i), o->json, now);
  list_cas (ctx, o->json);

leave:
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}

static void
print_key_state (pan_ctx_t ctx, const struct pan_recipient *rec)
{
  gpg_error_t err;
  char *reason = NULL, when[32];
  time_t expires = 0;

  err = pan_keys_check (ctx, rec->protocol, rec->fingerprint, time (NULL),
                        &expires, &reason);
  es_fputs ("key         ", es_stdout);
  if (err)
    cmd_put_safe (es_stdout, reason ? reason : gpg_strerror (err));
  else if (expires)
    es_fprintf (es_stdout, "usable, expires %s",
                pan_time_format (expires, when, sizeof when));
  else
    es_fputs ("usable, does not expire", es_stdout);
  es_putc ('\n', es_stdout);
  free (reason);
}

/* Print "NAME VALUE" for a value that may be missing.  */
static void
print_opt (const char *name, const char *value)
{
  if (!value)
    return;
  es_fprintf (es_stdout, "%-11s ", name);
  cmd_put_safe (es_stdout, value);
  es_putc ('\n', es_stdout);
}

static void
print_details (pan_ctx_t ctx, const struct pan_recipient *rec)
{
  char when[32];

  es_fprintf (es_stdout,
              "address     %s\nprotocol    %s\nfingerprint %s\n"
              "enrolled-at %s\nenrolled-by ",
              rec->address, pan_protocol_name (rec->protocol),
              rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when));
  cmd_put_safe (es_stdout, rec->enrolled_by);
  es_fprintf (es_stdout, "\nstatus      %s\n",
              pan_status_name (rec->status));
  if (rec->changed_at)
    print_opt ("changed-at",
               pan_time_format (rec->changed_at, when, sizeof when));
  print_opt ("changed-by", rec->changed_by);
  print_opt ("reason", rec->reason);
  print_opt ("note", rec->note);
  print_opt ("subkeys", rec->subkeys);
  if (rec->status == PAN_STATUS_ACTIVE)
    print_key_state (ctx, rec);
}

static int
show_records (pan_ctx_t ctx, pan_registry_t reg, const char *addr, int json)
{
  int shown = 0;
  time_t now = time (NULL);

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (!pan_addr_same (pan_ctx_config (ctx), rec->address, addr))
        continue;
      if (json)
        list_record (ctx, rec, 1, now);
      else
        {
          if (shown)
            es_putc ('\n', es_stdout);
          print_details (ctx, rec);
        }
      shown++;
    }
  return shown;
}

static int
cmd_show (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  char *addr = NULL;
  int rc;

  if (o->nargs != 2)
    usage_error ("usage: pankey show ADDR");
  if ((rc = address_arg (o->args[1], &addr)))
    return rc;
  if ((rc = open_home (o, &ctx)) || (rc = open_registry (ctx, &reg)))
    goto leave;
  if (!show_records (ctx, reg, addr, o->json))
    {
      cmd_info ("%s is not enrolled", addr);
      rc = EX_NOUSER;
    }

leave:
  free (addr);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}


/* pankey check */

static int
cmd_check (struct options *o)
{
  struct pankey_check_args a = { o->home, o->json, o->warn,
                                 o->days, o->crit, o->timeout };

  if (o->nargs != 1)
    return pankey_check_usage (o->json, "check takes no arguments");
  return pankey_check (&a);
}


/* pankey load-crl, list-crls */

static int
cmd_load_crl (struct options *o)
{
  if (o->nargs != 2)
    usage_error ("usage: pankey load-crl FILE [--file CA-CERTS]");
  return pankey_load_crl (o->home, o->args[1], o->file, o->operator_name);
}

static int
cmd_list_crls (struct options *o)
{
  if (o->nargs != 1)
    usage_error ("usage: pankey list-crls [--json]");
  return pankey_list_crls (o->home, o->json);
}


/* pankey inspect */

static int
cmd_inspect (struct options *o)
{
  if (o->nargs != 1 || !o->file)
    usage_error ("usage: pankey inspect --file KEY|- [--json]");
  return pankey_inspect (o->home, o->file, o->json);
}

/* pankey operator-key add, export, import (pankey-bundle.c) */

static int
cmd_operator_key (struct options *o)
{
  if (o->nargs == 2 && !strcmp (o->args[1], "remove") && o->fingerprint
      && !o->file)
    return pankey_operator_remove (o->home, o->fingerprint,
                                   o->operator_name);
  if (o->nargs != 2 || strcmp (o->args[1], "add") || !o->fingerprint
      || !o->file)
    usage_error ("usage: pankey operator-key add|remove --fingerprint FPR"
                 " [--file KEY|-]");
  return pankey_operator_keys (o->home, &o->fingerprint, 1, o->file,
                               o->operator_name);
}

static int
cmd_export (struct options *o)
{
  if (o->nargs != 1 || !o->sign || !o->operator_name)
    usage_error ("usage: pankey export --sign --operator FPR [--signer-home"
                 " DIR] [-o FILE|-]");
  return pankey_export (o->home, o->operator_name, o->signer_home,
                        o->output);
}

static int
cmd_import (struct options *o)
{
  if (o->nargs != 2)
    usage_error ("usage: pankey import BUNDLE|-");
  return pankey_import (o->home, o->args[1], o->operator_name);
}


/* A command of pankey and the options it takes (O_ bits).  */
struct command
{
  const char *name;
  int (*fnc) (struct options *);
  /* About the registry's keys alone (and an OpenPGP key it enrolls):
   * OpenPGP only, unless the home uses S/MIME.  Not init, the CA and
   * CRL commands, inspect (a file may hold certificates), the operator
   * keys and bundles (a bundle may hold certificates).  */
  int registry_keys;
  unsigned int takes;
};

/* Exit if the command line had an option that is not understood, or
 * one that the command C does not take: 3 for check (a monitoring
 * plugin's UNKNOWN), else 64.  */
static void
check_options (const struct command *c, struct options *o)
{
  unsigned int extra = o->given & ~c->takes;
  char what[128];
  int i;

  if (!o->bad && !extra)
    return;
  for (i = 0; extra && !(extra & (1u << i)); i++)
    ;
  if (o->bad)
    snprintf (what, sizeof what, "an option is not understood");
  else
    snprintf (what, sizeof what, "%s does not take %s", c->name,
              option_names[i]);
  if (!strcmp (c->name, "check"))
    exit (pankey_check_usage (o->json, what));
  usage_error (what);
}

int
main (int argc, char **argv)
{
  struct options o = { NULL };
  static const struct command commands[] = {
    {"init",             cmd_init,            0,
     O_FORCE | O_OPERATOR | O_SENDER_GROUP | O_OPERATOR_KEY | O_FILE                          },
    { "enroll",          cmd_enroll,          1,
     O_FINGERPRINT | O_FILE | O_OPERATOR | O_PROTOCOL | O_BATCH                               },
    { "list",            cmd_list,            1, O_JSON                                       },
    { "show",            cmd_show,            1, O_JSON                                       },
    { "check",           cmd_check,           0, O_JSON | O_DAYS | O_WARN | O_CRIT | O_TIMEOUT},
    { "rotate",          cmd_rotate,          1, O_FINGERPRINT | O_FILE | O_OPERATOR          },
    { "refresh",         cmd_refresh,         1, O_FILE | O_OPERATOR                          },
    { "revoke",          cmd_revoke,          1,
     O_FINGERPRINT | O_REASON | O_NOTE | O_OPERATOR                                           },
    { "unenroll",        cmd_unenroll,        1, O_NOTE | O_OPERATOR                          },
    { "trust-ca",        cmd_trust_ca,        0, O_FINGERPRINT | O_FILE | O_OPERATOR          },
    { "registry-accept", cmd_registry_accept, 1, O_NOTE | O_OPERATOR                          },
    { "load-crl",        cmd_load_crl,        0, O_FILE | O_OPERATOR                          },
    { "list-crls",       cmd_list_crls,       0, O_JSON                                       },
    { "inspect",         cmd_inspect,         0, O_FILE | O_JSON                              },
    { "operator-key",    cmd_operator_key,    0,
     O_FINGERPRINT | O_FILE | O_OPERATOR                                                      },
    { "export",          cmd_export,          0,
     O_SIGN | O_OPERATOR | O_SIGNER_HOME | O_OUTPUT                                           },
    { "import",          cmd_import,          0, O_OPERATOR                                   }
  };

  cmd_setup ("pankey", "Usage: pankey [OPTIONS] COMMAND [ARGS]",
             "Enroll recipients' keys after checking their fingerprints"
             " out of band.\n");
  o.proto = PAN_PROTOCOL_OPENPGP;
  parse_options (&argc, &argv, &o);
  if (!o.nargs)
    usage_error ("no command given");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp (o.args[0], commands[i].name))
      {
        check_options (&commands[i], &o);
        o.registry_keys = commands[i].registry_keys;
        cmd_init_library ();
        return commands[i].fnc (&o);
      }
  cmd_info ("unknown command '%s' (see 'pankey --help')", o.args[0]);
  return EX_USAGE;
}
