/* pankey - enroll and manage the recipients' pinned keys
 *
 * Commands: init, enroll, list, show, check, rotate, refresh, revoke,
 * unenroll.  See pankey(8).  */
#include <config.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
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
#include "pankey-check.h"

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
    oNote
  };

static gpgrt_opt_t opts[] =
  {
    ARGPARSE_group (300, "@Commands:\n "
                    "  init                       create the home\n"
                    "  enroll ADDR --fingerprint FPR --file KEY|-\n"
                    "                             pin ADDR to the key FPR\n"
                    "  list                       list enrolled recipients\n"
                    "  show ADDR                  show ADDR's enrollments\n"
                    "  check [--days N]           find expired, expiring,"
                    " weak keys\n"
                    "  rotate ADDR --fingerprint FPR --file KEY|-\n"
                    "                             replace ADDR's key\n"
                    "  refresh ADDR --file KEY|-  import an update of ADDR's"
                    " key\n"
                    "  trust-ca --fingerprint FPR --file CA\n"
                    "                             trust an S/MIME root CA\n"
                    "  revoke ADDR [--fingerprint FPR] --reason WHY"
                    " [--note TEXT]\n"
                    "                             make a key unusable\n"
                    "  unenroll ADDR [--note TEXT] end ADDR's enrollment\n"
                    "\nOptions:\n "),
    ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
    ARGPARSE_s_n (oForce, "force", "init: accept a non-empty directory"),
    ARGPARSE_s_s (oFingerprint, "fingerprint",
                  "|FPR|the full fingerprint checked out of band"),
    ARGPARSE_s_s (oFile, "file", "|FILE|read the key from FILE (- = stdin)"),
    ARGPARSE_s_s (oOperator, "operator", "|NAME|who enrolls (default: login"
                  " user)"),
    ARGPARSE_s_s (oProtocol, "protocol", "|NAME|openpgp (default) or smime"),
    ARGPARSE_s_n (oJson, "json", "list, show, check: one JSON object per"
                  " line"),
    ARGPARSE_s_s (oDays, "days", "|N|check: warn of keys expiring within N"
                  " days"),
    ARGPARSE_s_s (oReason, "reason", "|WHY|revoke: compromised, superseded,"
                  " left or other"),
    ARGPARSE_s_s (oNote, "note", "|TEXT|revoke, unenroll: a note for the"
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
  pan_protocol_t proto;         /* From --protocol; OpenPGP by default.  */
  int json;
  const char *days;
  const char *reason;
  const char *note;
  char *args[3];
  int nargs;
};

static char *strdupf (const char *fmt, ...) GPGRT_ATTR_PRINTF (1, 2);

/* Return a malloc'ed string made from FMT; exit on ENOMEM.  */
static char *
strdupf (const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    {
      cmd_info ("out of core");
      exit (EX_OSERR);
    }
  va_end (ap);
  return s;
}

static void
usage_error (const char *what)
{
  cmd_info ("%s (see 'pankey --help')", what);
  exit (EX_USAGE);
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
      case ARGPARSE_IS_ARG:
        if (o->nargs == 3)
          usage_error ("too many arguments");
        o->args[o->nargs++] = pargs.r.ret_str;
        break;
      case oHome: o->home = pargs.r.ret_str; break;
      case oForce: o->force = 1; break;
      case oFingerprint: o->fingerprint = pargs.r.ret_str; break;
      case oFile: o->file = pargs.r.ret_str; break;
      case oOperator: o->operator_name = pargs.r.ret_str; break;
      case oProtocol: o->protocol = pargs.r.ret_str; break;
      case oJson: o->json = 1; break;
      case oDays: o->days = pargs.r.ret_str; break;
      case oReason: o->reason = pargs.r.ret_str; break;
      case oNote: o->note = pargs.r.ret_str; break;
      default: pargs.err = ARGPARSE_PRINT_ERROR; break;
      }
  if (pargs.err)
    exit (EX_USAGE);
  gpgrt_argparse (NULL, &pargs, NULL);
}

static int
open_home (struct options *o, pan_ctx_t *r_ctx)
{
  return cmd_open_home (o->home, r_ctx, EX_CONFIG);
}

static int
open_registry (pan_ctx_t ctx, pan_registry_t *r_reg)
{
  return cmd_load_registry (ctx, r_reg, EX_CONFIG);
}


/* pankey init */

/* Create the audit key (shown once) and record the init.  */
static int
init_audit (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *key = NULL;
  struct pan_audit_event ev = { .event = "init", .tool = "pankey",
                                .operator_name = o->operator_name,
                                .outcome = "ok" };
  int rc;

  if ((rc = open_home (o, &ctx)))
    return rc;
  err = pan_audit_init_key (ctx, &key, &reason);
  if (gpg_err_code (err) == GPG_ERR_EEXIST)
    {
      cmd_info ("the home already has an audit key; keeping it");
      free (reason);
    }
  else if (err)
    {
      cmd_error (err, "creating the audit key", reason);
      pan_ctx_release (ctx);
      return EX_CANTCREAT;
    }
  else
    {
      es_printf ("audit key: %s\n", key);
      es_fflush (es_stdout);
      pan_audit_key_release (key);
      cmd_info ("keep the audit key offline: 'panaudit verify --key'"
                " needs it; it is not stored and not shown again");
    }
  rc = cmd_audit (ctx, &ev);
  pan_ctx_release (ctx);
  return rc;
}

static int
cmd_init (struct options *o)
{
  gpg_error_t err;
  char *reason = NULL;
  const char *home = pan_home_resolve (o->home);

  if (o->nargs != 1)
    usage_error ("init takes no arguments");
  if ((err = pan_home_init (home, o->force, &reason)))
    {
      cmd_error (err, "init", reason);
      return gpg_err_code (err) == GPG_ERR_EEXIST ? EX_CANTCREAT : EX_OSERR;
    }
  es_printf ("pankey: created the panmail home %s\n", home);
  return init_audit (o);
}


/* pankey enroll */

static const char *
login_user (void)
{
  struct passwd *pw = getpwuid (getuid ());

  return pw && pw->pw_name ? pw->pw_name : "unknown";
}

/* Read the key file (at most MAXLEN bytes) into *R_BUF.  */
static int
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

static int
exit_for_import (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_KEY_EXPIRED: case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED: case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_BAD_PUBKEY: case GPG_ERR_WRONG_NAME:
    case GPG_ERR_FORBIDDEN:
      return EX_NOPERM;
    case GPG_ERR_NO_PUBKEY: case GPG_ERR_NO_DATA: case GPG_ERR_INV_DATA:
      return EX_DATAERR;
    default:
      return EX_SOFTWARE;
    }
}

/* Refuse FPR if REG records it as revoked: a revoked key is never
 * pinned again.  */
static int
check_not_revoked (pan_registry_t reg, const char *fpr)
{
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (rec->status == PAN_STATUS_REVOKED
          && !strcmp (rec->fingerprint, fpr))
        {
          cmd_info ("key %s was revoked for %s (%s); it cannot be enrolled"
                    " again: ask for a new key", fpr, rec->address,
                    rec->reason ? rec->reason : "no reason given");
          return EX_NOPERM;
        }
    }
  return 0;
}

/* Refuse early if ADDR already has an active enrollment or FPR was
 * revoked.  */
static int
check_not_enrolled (pan_ctx_t ctx, const char *addr, const char *fpr)
{
  pan_registry_t reg = NULL;
  const struct pan_recipient *rec;
  int rc;

  if ((rc = open_registry (ctx, &reg)))
    return rc;
  if ((rec = pan_registry_lookup (reg, addr)))
    {
      cmd_info ("%s is already enrolled with key %s; use 'pankey rotate'"
                " to replace it", addr, rec->fingerprint);
      rc = EX_CANTCREAT;
    }
  else
    rc = check_not_revoked (reg, fpr);
  pan_registry_release (reg);
  return rc;
}

/* The operator: --operator, else the login user.  */
static const char *
operator_of (struct options *o)
{
  return o->operator_name ? o->operator_name : login_user ();
}

/* Fill REC (borrowing the strings) as a new active record.  */
static void
make_record (struct pan_recipient *rec, struct options *o, const char *addr,
             const char *fpr, time_t now)
{
  memset (rec, 0, sizeof *rec);
  rec->address = (char *)addr;
  rec->protocol = o->proto;
  rec->fingerprint = (char *)fpr;
  rec->enrolled_at = now;
  rec->enrolled_by = (char *)operator_of (o);
  rec->status = PAN_STATUS_ACTIVE;
}

static int
exit_for_registry (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_EEXIST: case GPG_ERR_CONFLICT: return EX_CANTCREAT;
    case GPG_ERR_NOT_FOUND: return EX_NOUSER;
    case GPG_ERR_CERT_REVOKED: return EX_NOPERM;
    case GPG_ERR_INV_DATA: case GPG_ERR_INV_VALUE: return EX_DATAERR;
    default: return EX_IOERR;
    }
}

static int
record_enrollment (pan_ctx_t ctx, struct options *o, const char *addr,
                   const char *fpr, time_t now)
{
  gpg_error_t err;
  char *reason = NULL, *path = pan_ctx_path (ctx, "registry");
  struct pan_recipient rec;

  make_record (&rec, o, addr, fpr, now);
  err = pan_registry_add (path, &rec,
                          pan_config_get_int (pan_ctx_config (ctx),
                                              "lock-timeout"), &reason);
  free (path);
  if (err)
    {
      cmd_error (err, "updating the registry", reason);
      return exit_for_registry (err);
    }
  return 0;
}

/* Check the arguments of enroll; store the normal forms.  */
static int
enroll_args (struct options *o, char **r_addr, char **r_fpr)
{
  gpg_error_t err;
  char *reason = NULL;

  if (o->nargs != 2 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey enroll ADDR --fingerprint FPR --file KEY|-");
  if (o->protocol && pan_protocol_parse (o->protocol, &o->proto))
    usage_error ("--protocol is openpgp or smime");
  if ((err = pan_addr_normalize (o->args[1], r_addr, &reason)))
    {
      cmd_error (err, "the address", reason);
      return EX_USAGE;
    }
  if ((err = pan_fpr_normalize (o->fingerprint, r_fpr, &reason)))
    {
      cmd_error (err, "--fingerprint", reason);
      return EX_USAGE;
    }
  return 0;
}

/* Record EVENT of the keys KEYS/NKEYS in the audit log.  */
static int
audit_keys (pan_ctx_t ctx, struct options *o, const char *event,
            const struct pan_audit_key *keys, size_t nkeys,
            const char *outcome, const char *reason)
{
  struct pan_audit_event ev = { .event = event, .tool = "pankey",
                                .operator_name = operator_of (o),
                                .keys = keys, .nkeys = nkeys,
                                .outcome = outcome, .reason = reason };

  return cmd_audit (ctx, &ev);
}

/* Record EVENT of ADDR's key FPR in the audit log.  */
static int
audit_key (pan_ctx_t ctx, struct options *o, const char *event,
           const char *addr, const char *fpr, const char *outcome,
           const char *reason)
{
  struct pan_audit_key key = { addr, o->proto, fpr };

  return audit_keys (ctx, o, event, &key, 1, outcome, reason);
}

/* Record the enrollment of ADDR to FPR (or its refusal) in the audit
 * log.  */
static int
audit_enroll (pan_ctx_t ctx, struct options *o, const char *addr,
              const char *fpr, const char *outcome, const char *reason)
{
  return audit_key (ctx, o, "enroll", addr, fpr, outcome, reason);
}

/* Import and check the S/MIME certificate FPR for ADDR; the registry
 * pins its SHA-1 fingerprint (gpgsm's name for it), which replaces
 * *R_FPR when the operator gave the SHA-256 one.  */
static gpg_error_t
import_smime (pan_ctx_t ctx, const char *addr, char **r_fpr,
              const char *buf, size_t len, time_t now, char **r_reason)
{
  gpg_error_t err;
  char *sha1 = NULL;

  err = pan_smime_enroll (ctx, addr, *r_fpr, buf, len, now, &sha1,
                          r_reason);
  if (!err && sha1 && strcmp (sha1, *r_fpr))
    {
      cmd_info ("%s: SHA-256 %s is the certificate with SHA-1 %s; the"
                " registry pins the SHA-1", addr, *r_fpr, sha1);
      free (*r_fpr);
      *r_fpr = sha1;
      sha1 = NULL;
    }
  free (sha1);
  return err;
}

static int
enroll_key (pan_ctx_t ctx, struct options *o, const char *addr,
            char **r_fpr, time_t now, const char *event)
{
  gpg_error_t err;
  char *reason = NULL, *buf = NULL;
  const char *fpr = *r_fpr;
  size_t len = 0;
  int rc;

  rc = read_key_file (o->file, pan_config_get_int (pan_ctx_config (ctx),
                                                   "max-key-size"),
                      &buf, &len);
  if (rc)
    return rc;
  if (o->proto == PAN_PROTOCOL_SMIME)
    err = import_smime (ctx, addr, r_fpr, buf, len, now, &reason);
  else
    err = pan_keys_import_openpgp (ctx, addr, fpr, buf, len, now, &reason);
  free (buf);
  if (err)
    {
      audit_key (ctx, o, event, addr, fpr, "refused",
                 reason ? reason : gpg_strerror (err));
      cmd_error (err, "enroll refused", reason);
      return exit_for_import (err);
    }
  return 0;
}

/* Say so if the key FPR is only just within the algorithm policy.  */
static void
warn_policy (pan_ctx_t ctx, const char *fpr, time_t now)
{
  struct pan_key_info info;

  if (!pan_keys_info (ctx, PAN_PROTOCOL_OPENPGP, fpr, now, &info, NULL)
      && info.policy == PAN_SEVERITY_WARNING)
    cmd_info ("warning: key %s: %s", fpr,
              info.policy_reason ? info.policy_reason : "weak");
  pan_keys_info_release (&info);
}

static int
cmd_enroll (struct options *o)
{
  pan_ctx_t ctx = NULL;
  char *addr = NULL, *fpr = NULL;
  time_t now = time (NULL);
  int rc;

  if ((rc = enroll_args (o, &addr, &fpr))
      || (rc = open_home (o, &ctx))
      || (rc = check_not_enrolled (ctx, addr, fpr)))
    goto leave;
  if ((rc = enroll_key (ctx, o, addr, &fpr, now, "enroll")))
    goto leave;
  /* The record comes first: a key imported but not pinned is never
   * used, a pin without a record would be a change nobody can trace.  */
  if ((rc = audit_enroll (ctx, o, addr, fpr, "ok", NULL)))
    goto leave;
  if ((rc = record_enrollment (ctx, o, addr, fpr, now)))
    {
      audit_enroll (ctx, o, addr, fpr, "failed",
                    "the registry could not be updated");
      goto leave;
    }
  es_printf ("pankey: enrolled %s with %s %s\n", addr,
             o->proto == PAN_PROTOCOL_SMIME ? "S/MIME certificate"
             : "OpenPGP key", fpr);
  if (o->proto == PAN_PROTOCOL_OPENPGP)
    warn_policy (ctx, fpr, now);

 leave:
  free (addr);
  free (fpr);
  pan_ctx_release (ctx);
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
  es_fprintf (es_stdout, ",\"protocol\":\"%s\",\"fingerprint\":\"%s\","
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
              "                 SUBJECT\n", es_stdout);
  for (size_t i = 0; i < n; i++)
    {
      pan_time_format (cas[i].not_after, until, sizeof until);
      if (json)
        {
          es_fprintf (es_stdout, "{\"ca\":true,\"protocol\":\"smime\","
                      "\"fingerprint\":\"%s\",\"not_after\":\"%s\","
                      "\"missing\":%s,\"subject\":", cas[i].fpr, until,
                      cas[i].missing ? "true" : "false");
          cmd_put_json_string (es_stdout, cas[i].subject ? cas[i].subject
                               : "");
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

  es_fprintf (es_stdout, "address     %s\nprotocol    %s\nfingerprint %s\n"
              "enrolled-at %s\nenrolled-by ", rec->address,
              pan_protocol_name (rec->protocol), rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when));
  cmd_put_safe (es_stdout, rec->enrolled_by);
  es_fprintf (es_stdout, "\nstatus      %s\n", pan_status_name (rec->status));
  if (rec->changed_at)
    print_opt ("changed-at", pan_time_format (rec->changed_at, when,
                                              sizeof when));
  print_opt ("changed-by", rec->changed_by);
  print_opt ("reason", rec->reason);
  print_opt ("note", rec->note);
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

      if (strcmp (rec->address, addr))
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
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  char *addr = NULL, *reason = NULL;
  int rc;

  if (o->nargs != 2)
    usage_error ("usage: pankey show ADDR");
  if ((err = pan_addr_normalize (o->args[1], &addr, &reason)))
    {
      cmd_error (err, "the address", reason);
      return EX_USAGE;
    }
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
  long days;

  if (o->nargs != 1 || pankey_parse_days (o->days, &days))
    {
      cmd_info ("usage: pankey check [--days N (0..3650)] [--json]");
      return PANKEY_CHECK_UNKNOWN;
    }
  return pankey_check (o->home, o->json, days);
}



/* pankey rotate, refresh, revoke, unenroll */

/* Open the home and find the active record of ADDR (normalised into
 * *R_ADDR); on success the caller releases *R_CTX, *R_REG, *R_ADDR.  */
static int
open_enrolled (struct options *o, const char *arg, pan_ctx_t *r_ctx,
               pan_registry_t *r_reg, char **r_addr,
               const struct pan_recipient **r_rec)
{
  gpg_error_t err;
  char *reason = NULL;
  int rc;

  *r_ctx = NULL;
  *r_reg = NULL;
  *r_rec = NULL;
  if ((err = pan_addr_normalize (arg, r_addr, &reason)))
    {
      cmd_error (err, "the address", reason);
      return EX_USAGE;
    }
  if ((rc = open_home (o, r_ctx)) || (rc = open_registry (*r_ctx, r_reg)))
    return rc;
  if (!(*r_rec = pan_registry_lookup (*r_reg, *r_addr)))
    {
      cmd_info ("%s has no active enrollment (see 'pankey show %s')",
                *r_addr, *r_addr);
      return EX_NOUSER;
    }
  return 0;
}

static int
registry_rotate (pan_ctx_t ctx, struct options *o, const char *addr,
                 const char *old_fpr, const char *fpr, time_t now)
{
  gpg_error_t err;
  char *reason = NULL, *path = pan_ctx_path (ctx, "registry");
  struct pan_recipient rec;

  make_record (&rec, o, addr, fpr, now);
  err = pan_registry_rotate (path, &rec, old_fpr,
                             pan_config_get_int (pan_ctx_config (ctx),
                                                 "lock-timeout"), &reason);
  free (path);
  if (err)
    {
      cmd_error (err, "updating the registry", reason);
      return exit_for_registry (err);
    }
  return 0;
}

/* Check the arguments of rotate: the address and the new key.  */
static int
rotate_args (struct options *o, char **r_fpr)
{
  gpg_error_t err;
  char *reason = NULL;

  if (o->nargs != 2 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey rotate ADDR --fingerprint FPR --file KEY|-");
  if ((err = pan_fpr_normalize (o->fingerprint, r_fpr, &reason)))
    {
      cmd_error (err, "--fingerprint", reason);
      return EX_USAGE;
    }
  return 0;
}

/* Import the new key, record the rotation, then change the registry.  */
static int
rotate_to (pan_ctx_t ctx, pan_registry_t reg, struct options *o,
           const struct pan_recipient *old, const char *fpr)
{
  struct pan_audit_key keys[2] = {
    { old->address, old->protocol, old->fingerprint },
    { old->address, old->protocol, fpr } };
  time_t now = time (NULL);
  char *why, *pinned = NULL;
  int rc;

  o->proto = old->protocol;

  if (!strcmp (old->fingerprint, fpr))
    {
      cmd_info ("%s is already pinned to %s; use 'pankey refresh' to"
                " import an update of that key", old->address, fpr);
      return EX_CANTCREAT;
    }
  if (!(pinned = strdupf ("%s", fpr)))
    return EX_OSERR;
  if ((rc = check_not_revoked (reg, fpr))
      || (rc = enroll_key (ctx, o, old->address, &pinned, now, "rotate")))
    {
      free (pinned);
      return rc;
    }
  fpr = keys[1].fingerprint = pinned;
  why = strdupf ("rotated: key %s retired, key %s active",
                     old->fingerprint, fpr);
  rc = audit_keys (ctx, o, "rotate", keys, 2, "ok", why);
  if (!rc && (rc = registry_rotate (ctx, o, old->address, old->fingerprint,
                                    fpr, now)))
    audit_keys (ctx, o, "rotate", keys, 2, "failed",
                "the registry could not be updated");
  free (why);
  if (!rc)
    {
      es_printf ("pankey: rotated %s: key %s is active, key %s retired\n",
                 old->address, fpr, old->fingerprint);
      warn_policy (ctx, fpr, now);
    }
  free (pinned);
  return rc;
}

static int
cmd_rotate (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  const struct pan_recipient *old;
  char *addr = NULL, *fpr = NULL;
  int rc;

  if ((rc = rotate_args (o, &fpr))
      || (rc = open_enrolled (o, o->args[1], &ctx, &reg, &addr, &old)))
    goto leave;
  rc = rotate_to (ctx, reg, o, old, fpr);

 leave:
  free (addr);
  free (fpr);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}

/* Describe the expiry of INFO into BUF.  */
static const char *
expiry_words (const struct pan_key_info *info, char *buf, size_t size)
{
  char when[32];

  if (info->revoked)
    return "revoked by its holder";
  if (!info->expires)
    return "does not expire";
  snprintf (buf, size, "%s %s", info->expired ? "expired" : "expires",
            pan_time_format (info->expires, when, sizeof when));
  return buf;
}

/* Check the update in BUF/LEN of REC's key and record the refresh.  */
static int
refresh_check (pan_ctx_t ctx, struct options *o,
               const struct pan_recipient *rec, const char *buf, size_t len,
               time_t now, char **r_what)
{
  gpg_error_t err;
  struct pan_key_info before, after;
  char *reason = NULL, b1[64], b2[64];

  *r_what = NULL;
  pan_keys_info (ctx, rec->protocol, rec->fingerprint, now, &before, NULL);
  err = pan_keys_refresh_openpgp (ctx, rec->fingerprint, buf, len, now, 1,
                                  &after, &reason);
  if (err)
    {
      audit_key (ctx, o, "refresh", rec->address, rec->fingerprint,
                 "refused", reason ? reason : gpg_strerror (err));
      cmd_error (err, "refresh refused", reason);
    }
  else
    *r_what = strdupf ("key was: %s; now: %s",
                           expiry_words (&before, b1, sizeof b1),
                           expiry_words (&after, b2, sizeof b2));
  pan_keys_info_release (&before);
  pan_keys_info_release (&after);
  return err ? exit_for_import (err) : 0;
}

/* Say what is wrong with REC's key after a refresh, if anything.  */
static void
warn_unusable (pan_ctx_t ctx, const struct pan_recipient *rec, time_t now)
{
  gpg_error_t err;
  char *reason = NULL;

  err = pan_keys_check (ctx, rec->protocol, rec->fingerprint, now, NULL,
                        &reason);
  if (!err)
    return;
  cmd_info ("warning: the key cannot be used now: %s",
            reason ? reason : gpg_strerror (err));
  cmd_info ("pankey revoke %s --reason superseded, then enroll a new key",
            rec->address);
  free (reason);
}

static int
refresh_key (pan_ctx_t ctx, struct options *o,
             const struct pan_recipient *rec, const char *buf, size_t len)
{
  gpg_error_t err;
  char *reason = NULL, *what = NULL;
  time_t now = time (NULL);
  int rc;

  if ((rc = refresh_check (ctx, o, rec, buf, len, now, &what))
      || (rc = audit_key (ctx, o, "refresh", rec->address, rec->fingerprint,
                          "ok", what)))
    goto leave;
  err = pan_keys_refresh_openpgp (ctx, rec->fingerprint, buf, len, now, 0,
                                  NULL, &reason);
  if (err)
    {
      audit_key (ctx, o, "refresh", rec->address, rec->fingerprint,
                 "failed", reason ? reason : gpg_strerror (err));
      cmd_error (err, "refresh failed", reason);
      rc = exit_for_import (err);
      goto leave;
    }
  es_printf ("pankey: refreshed key %s of %s: ", rec->fingerprint,
             rec->address);
  cmd_put_safe (es_stdout, what);
  es_putc ('\n', es_stdout);
  warn_unusable (ctx, rec, now);

 leave:
  free (what);
  return rc;
}

static int
cmd_refresh (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  const struct pan_recipient *rec;
  char *addr = NULL, *buf = NULL;
  size_t len = 0;
  int rc;

  if (o->nargs != 2 || !o->file || o->fingerprint)
    usage_error ("usage: pankey refresh ADDR --file KEY|-");
  if ((rc = open_enrolled (o, o->args[1], &ctx, &reg, &addr, &rec))
      || (rc = read_key_file (o->file,
                              pan_config_get_int (pan_ctx_config (ctx),
                                                  "max-key-size"),
                              &buf, &len)))
    goto leave;
  rc = refresh_key (ctx, o, rec, buf, len);

 leave:
  free (buf);
  free (addr);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}

/* Find the record revoke changes: ADDR's with --fingerprint, else the
 * active one.  */
static const struct pan_recipient *
revoke_target (pan_registry_t reg, const char *addr, const char *fpr)
{
  const struct pan_recipient *found = pan_registry_lookup (reg, addr);

  if (!fpr)
    return found;
  if (found && !strcmp (found->fingerprint, fpr))
    return found;
  found = NULL;
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (!strcmp (rec->address, addr) && !strcmp (rec->fingerprint, fpr))
        found = rec;
    }
  return found;
}

/* Apply the change CHG to the registry of CTX.  */
static int
registry_change (pan_ctx_t ctx, const struct pan_registry_change *chg)
{
  gpg_error_t err;
  char *reason = NULL, *path = pan_ctx_path (ctx, "registry");

  err = pan_registry_set_status (path, chg,
                                 pan_config_get_int (pan_ctx_config (ctx),
                                                     "lock-timeout"),
                                 &reason);
  free (path);
  if (err)
    {
      cmd_error (err, "updating the registry", reason);
      return exit_for_registry (err);
    }
  return 0;
}

/* Record EVENT for REC, then apply CHG; say what was done.  */
static int
change_state (pan_ctx_t ctx, struct options *o, const char *event,
              const struct pan_recipient *rec,
              const struct pan_registry_change *chg)
{
  char *why = strdupf ("%s%s%s", chg->reason, chg->note ? ": " : "",
                           chg->note ? chg->note : "");
  int rc;

  rc = audit_key (ctx, o, event, rec->address, rec->fingerprint, "ok", why);
  if (!rc && (rc = registry_change (ctx, chg)))
    audit_key (ctx, o, event, rec->address, rec->fingerprint, "failed",
               "the registry could not be updated");
  free (why);
  if (!rc)
    es_printf ("pankey: %s key %s of %s (%s)\n",
               chg->status == PAN_STATUS_REVOKED ? "revoked" : "unenrolled",
               rec->fingerprint, rec->address, chg->reason);
  return rc;
}

/* Check the arguments of revoke.  */
static int
revoke_args (struct options *o, char **r_fpr)
{
  gpg_error_t err;
  char *reason = NULL;

  *r_fpr = NULL;
  if (o->nargs != 2 || !o->reason)
    usage_error ("usage: pankey revoke ADDR [--fingerprint FPR] --reason"
                 " compromised|superseded|left|other [--note TEXT]");
  if (!pan_registry_reason_valid (PAN_STATUS_REVOKED, o->reason))
    usage_error ("--reason must be compromised, superseded, left or other");
  if (o->fingerprint
      && (err = pan_fpr_normalize (o->fingerprint, r_fpr, &reason)))
    {
      cmd_error (err, "--fingerprint", reason);
      return EX_USAGE;
    }
  return 0;
}

static int
revoke_record (pan_ctx_t ctx, pan_registry_t reg, struct options *o,
               const char *addr, const char *fpr)
{
  const struct pan_recipient *rec = revoke_target (reg, addr, fpr);
  struct pan_registry_change chg = { addr, NULL, PAN_STATUS_REVOKED,
                                     o->reason, o->note, operator_of (o),
                                     time (NULL) };
  int rc;

  if (!rec)
    {
      cmd_info ("%s has no %s%s (see 'pankey show %s')", addr,
                fpr ? "enrollment with key " : "active enrollment",
                fpr ? fpr : "", addr);
      return EX_NOUSER;
    }
  if (rec->status == PAN_STATUS_REVOKED)
    {
      cmd_info ("key %s of %s is already revoked; nothing changed",
                rec->fingerprint, addr);
      return 0;
    }
  chg.fingerprint = rec->fingerprint;
  rc = change_state (ctx, o, "revoke", rec, &chg);
  if (!rc && rec->status == PAN_STATUS_ACTIVE)
    cmd_info ("%s has no usable key now; enroll a new one with"
              " 'pankey enroll'", addr);
  return rc;
}

static int
cmd_revoke (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  char *addr = NULL, *fpr = NULL, *reason = NULL;
  int rc;

  if ((rc = revoke_args (o, &fpr)))
    return rc;
  if ((err = pan_addr_normalize (o->args[1], &addr, &reason)))
    {
      cmd_error (err, "the address", reason);
      rc = EX_USAGE;
      goto leave;
    }
  if ((rc = open_home (o, &ctx)) || (rc = open_registry (ctx, &reg)))
    goto leave;
  rc = revoke_record (ctx, reg, o, addr, fpr);

 leave:
  free (addr);
  free (fpr);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}

static int
cmd_unenroll (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  const struct pan_recipient *rec;
  char *addr = NULL;
  int rc;

  if (o->nargs != 2 || o->fingerprint || o->reason)
    usage_error ("usage: pankey unenroll ADDR [--note TEXT]");
  if (!(rc = open_enrolled (o, o->args[1], &ctx, &reg, &addr, &rec)))
    {
      struct pan_registry_change chg = { addr, rec->fingerprint,
                                         PAN_STATUS_RETIRED, "unenrolled",
                                         o->note, operator_of (o),
                                         time (NULL) };

      rc = change_state (ctx, o, "unenroll", rec, &chg);
    }
  free (addr);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}

/* pankey trust-ca */

static int
cmd_trust_ca (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *fpr = NULL, *sha1 = NULL, *buf = NULL, *reason = NULL, *why = NULL;
  size_t len = 0;
  int rc;

  if (o->nargs != 1 || !o->fingerprint || !o->file)
    usage_error ("usage: pankey trust-ca --fingerprint FPR --file CA");
  if ((err = pan_fpr_normalize (o->fingerprint, &fpr, &reason)))
    {
      cmd_error (err, "--fingerprint", reason);
      return EX_USAGE;
    }
  if ((rc = open_home (o, &ctx))
      || (rc = read_key_file (o->file, pan_config_get_int
                              (pan_ctx_config (ctx), "max-key-size"),
                              &buf, &len)))
    goto leave;
  err = pan_smime_trust_ca (ctx, fpr, buf, len, time (NULL), &sha1, &reason);
  why = strdupf ("CA certificate pinned as %s%s, SHA-1 %s",
                 strlen (fpr) == 64 ? "sha256:" : "", fpr,
                 sha1 ? sha1 : "-");
  if (err)
    {
      struct pan_audit_event ev = { .event = "trust-ca", .tool = "pankey",
                                    .operator_name = operator_of (o),
                                    .outcome = "refused", .reason = reason };
      cmd_audit (ctx, &ev);
      cmd_error (err, "trust-ca refused", reason);
      rc = exit_for_import (err);
      goto leave;
    }
  else
    {
      struct pan_audit_event ev = { .event = "trust-ca", .tool = "pankey",
                                    .operator_name = operator_of (o),
                                    .outcome = "ok", .reason = why };
      if ((rc = cmd_audit (ctx, &ev)))
        goto leave;
    }
  es_printf ("pankey: trusted the CA %s for S/MIME\n", sha1);

 leave:
  free (why);
  free (sha1);
  free (buf);
  free (fpr);
  pan_ctx_release (ctx);
  return rc;
}


int
main (int argc, char **argv)
{
  struct options o = { NULL };
  static const struct { const char *name; int (*fnc) (struct options *); }
  commands[] = {
    { "init", cmd_init }, { "enroll", cmd_enroll }, { "list", cmd_list },
    { "show", cmd_show }, { "check", cmd_check }, { "rotate", cmd_rotate },
    { "refresh", cmd_refresh }, { "revoke", cmd_revoke },
    { "unenroll", cmd_unenroll }, { "trust-ca", cmd_trust_ca }
  };

  cmd_setup ("pankey", "Usage: pankey [OPTIONS] COMMAND [ARGS]",
             "Enroll recipients' keys after checking their fingerprints"
             " out of band.\n");
  o.proto = PAN_PROTOCOL_OPENPGP;
  parse_options (&argc, &argv, &o);
  if (!o.nargs)
    usage_error ("no command given");
  cmd_init_library ();
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp (o.args[0], commands[i].name))
      return commands[i].fnc (&o);
  cmd_info ("unknown command '%s' (see 'pankey --help')", o.args[0]);
  return EX_USAGE;
}
