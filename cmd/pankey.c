/* pankey - enroll and manage the recipients' pinned keys
 *
 * Commands: init, enroll, list, show.  See pankey(8).  */
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
    oForce,
    oFingerprint,
    oFile,
    oOperator,
    oProtocol,
    oJson
  };

static gpgrt_opt_t opts[] =
  {
    ARGPARSE_group (300, "@Commands:\n "
                    "  init                       create the home\n"
                    "  enroll ADDR --fingerprint FPR --file KEY|-\n"
                    "                             pin ADDR to the key FPR\n"
                    "  list                       list enrolled recipients\n"
                    "  show ADDR                  show ADDR's enrollments\n"
                    "\nOptions:\n "),
    ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
    ARGPARSE_s_n (oForce, "force", "init: accept a non-empty directory"),
    ARGPARSE_s_s (oFingerprint, "fingerprint",
                  "|FPR|the full fingerprint checked out of band"),
    ARGPARSE_s_s (oFile, "file", "|FILE|read the key from FILE (- = stdin)"),
    ARGPARSE_s_s (oOperator, "operator", "|NAME|who enrolls (default: login"
                  " user)"),
    ARGPARSE_s_s (oProtocol, "protocol", "|NAME|openpgp (default)"),
    ARGPARSE_s_n (oJson, "json", "list, show: one JSON object per line"),
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
  int json;
  char *args[3];
  int nargs;
};

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
      default: pargs.err = ARGPARSE_PRINT_ERROR; break;
      }
  if (pargs.err)
    exit (EX_USAGE);
  gpgrt_argparse (NULL, &pargs, NULL);
}

static int
open_home (struct options *o, pan_ctx_t *r_ctx)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_ctx_open (o->home, r_ctx, &reason)))
    {
      cmd_error (err, "opening the home", reason);
      return EX_CONFIG;
    }
  return 0;
}

static int
open_registry (pan_ctx_t ctx, pan_registry_t *r_reg)
{
  gpg_error_t err;
  char *reason = NULL;
  char *path = pan_ctx_path (ctx, "registry");

  err = pan_registry_load (path, r_reg, &reason);
  free (path);
  if (err)
    {
      cmd_error (err, "reading the registry", reason);
      return EX_CONFIG;
    }
  return 0;
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

/* Refuse early if ADDR already has an active enrollment.  */
static int
check_not_enrolled (pan_ctx_t ctx, const char *addr)
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
  pan_registry_release (reg);
  return rc;
}

static int
record_enrollment (pan_ctx_t ctx, struct options *o, const char *addr,
                   const char *fpr, time_t now)
{
  gpg_error_t err;
  char *reason = NULL, *path = pan_ctx_path (ctx, "registry");
  struct pan_recipient rec = { (char *)addr, PAN_PROTOCOL_OPENPGP,
                               (char *)fpr, now, NULL, PAN_STATUS_ACTIVE };

  rec.enrolled_by = (char *)(o->operator_name ? o->operator_name
                             : login_user ());
  err = pan_registry_add (path, &rec,
                          pan_config_get_int (pan_ctx_config (ctx),
                                              "lock-timeout"), &reason);
  free (path);
  if (err)
    {
      cmd_error (err, "updating the registry", reason);
      return gpg_err_code (err) == GPG_ERR_EEXIST ? EX_CANTCREAT
        : EX_IOERR;
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
  if (o->protocol && strcmp (o->protocol, "openpgp"))
    {
      cmd_info ("--protocol %s is not supported yet; only openpgp",
                o->protocol);
      return EX_UNAVAILABLE;
    }
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

/* Record the enrollment of ADDR to FPR (or its refusal) in the audit
 * log.  */
static int
audit_enroll (pan_ctx_t ctx, struct options *o, const char *addr,
              const char *fpr, const char *outcome, const char *reason)
{
  struct pan_audit_key key = { addr, PAN_PROTOCOL_OPENPGP, fpr };
  struct pan_audit_event ev = { .event = "enroll", .tool = "pankey",
                                .operator_name = o->operator_name,
                                .keys = &key, .nkeys = 1,
                                .outcome = outcome, .reason = reason };

  return cmd_audit (ctx, &ev);
}

static int
enroll_key (pan_ctx_t ctx, struct options *o, const char *addr,
            const char *fpr, time_t now)
{
  gpg_error_t err;
  char *reason = NULL, *buf = NULL;
  size_t len = 0;
  int rc;

  rc = read_key_file (o->file, pan_config_get_int (pan_ctx_config (ctx),
                                                   "max-key-size"),
                      &buf, &len);
  if (rc)
    return rc;
  err = pan_keys_import_openpgp (ctx, addr, fpr, buf, len, now, &reason);
  free (buf);
  if (err)
    {
      audit_enroll (ctx, o, addr, fpr, "refused",
                    reason ? reason : gpg_strerror (err));
      cmd_error (err, "enroll refused", reason);
      return exit_for_import (err);
    }
  return 0;
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
      || (rc = check_not_enrolled (ctx, addr)))
    goto leave;
  if ((rc = enroll_key (ctx, o, addr, fpr, now)))
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
  es_printf ("pankey: enrolled %s with OpenPGP key %s\n", addr, fpr);

 leave:
  free (addr);
  free (fpr);
  pan_ctx_release (ctx);
  return rc;
}


/* pankey list, pankey show */

static void
print_json (const struct pan_recipient *rec)
{
  char when[32];

  es_fputs ("{\"address\":", es_stdout);
  cmd_put_json_string (es_stdout, rec->address);
  es_fprintf (es_stdout, ",\"protocol\":\"%s\",\"fingerprint\":\"%s\","
              "\"enrolled_at\":\"%s\",\"enrolled_by\":",
              pan_protocol_name (rec->protocol), rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when));
  cmd_put_json_string (es_stdout, rec->enrolled_by);
  es_fprintf (es_stdout, ",\"status\":\"%s\"}\n",
              pan_status_name (rec->status));
}

static void
print_row (const struct pan_recipient *rec)
{
  char when[32];

  es_fprintf (es_stdout, "%-30s %-7s %-40s %s  %-7s ", rec->address,
              pan_protocol_name (rec->protocol), rec->fingerprint,
              pan_time_format (rec->enrolled_at, when, sizeof when),
              pan_status_name (rec->status));
  cmd_put_safe (es_stdout, rec->enrolled_by);
  es_putc ('\n', es_stdout);
}

static int
cmd_list (struct options *o)
{
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("list takes no arguments");
  if ((rc = open_home (o, &ctx)) || (rc = open_registry (ctx, &reg)))
    goto leave;
  if (!o->json)
    es_fprintf (es_stdout, "%-30s %-7s %-40s %-20s  %-7s %s\n", "ADDRESS",
                "PROTO", "FINGERPRINT", "ENROLLED", "STATUS", "BY");
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    (o->json ? print_json : print_row) (pan_registry_get (reg, i));

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
  if (rec->status == PAN_STATUS_ACTIVE)
    print_key_state (ctx, rec);
}

static int
show_records (pan_ctx_t ctx, pan_registry_t reg, const char *addr, int json)
{
  int shown = 0;

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (strcmp (rec->address, addr))
        continue;
      if (json)
        print_json (rec);
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

int
main (int argc, char **argv)
{
  struct options o = { NULL };
  static const struct { const char *name; int (*fnc) (struct options *); }
  commands[] = {
    { "init", cmd_init }, { "enroll", cmd_enroll }, { "list", cmd_list },
    { "show", cmd_show }
  };

  cmd_setup ("pankey", "Usage: pankey [OPTIONS] COMMAND [ARGS]",
             "Enroll recipients' keys after checking their fingerprints"
             " out of band.\n");
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
