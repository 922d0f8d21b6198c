/* pankey-bundle.c - pankey export, pankey import and the operator keys
 * they trust (pan_bundle_*; see pankey(8), EXPORT AND IMPORT)  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-bundle.h"

/* The largest bundle pankey reads (the library refuses larger ones).  */
#define MAX_BUNDLE (16L * 1024 * 1024)

/* Say why the bundle operation WHAT stopped with ERR and REASON, and
 * return its exit code from RES.  */
static int
report (const char *what, gpg_error_t err, char *reason,
        const struct pan_bundle_result *res)
{
  cmd_error (err, what, reason);
  if (res->audit_failed && res->exit_code)
    cmd_info ("the audit record of this refusal could not be written");
  if (res->audit_failed && !res->exit_code)
    return cmd_exit_for_audit (err);
  return res->exit_code ? res->exit_code : pan_bundle_exit_code (err);
}

/* What a bundle command holds while it runs.  */
struct job
{
  pan_ctx_t ctx;
  struct pan_bundle_req req;
  struct pan_bundle_result res;
  char *reason;
};

/* Start J on the home HOME for the key FPR (may be NULL) and
 * OPERATOR_NAME; return the exit code.  */
static int
job_open (struct job *j, const char *home, const char *fpr,
          const char *operator_name)
{
  memset (j, 0, sizeof *j);
  j->req.fingerprint = fpr;
  j->req.operator_name = operator_name;
  return cmd_open_home (home, &j->ctx, EX_CONFIG);
}

static void
job_release (struct job *j)
{
  pan_bundle_result_release (&j->res);
  pan_ctx_release (j->ctx);
}

/* Pin the key FPR of the key file DATA/LEN in CTX.  */
static int
add_one (pan_ctx_t ctx, const char *fpr, const char *data, size_t len,
         const char *operator_name)
{
  struct pan_bundle_req req;
  struct pan_bundle_result res;
  char *reason = NULL;
  gpg_error_t err;

  memset (&req, 0, sizeof req);
  memset (&res, 0, sizeof res);
  req.fingerprint = fpr;
  req.data = data;
  req.len = len;
  req.operator_name = operator_name;
  if (!(err = pan_bundle_operator_add (ctx, &req, &reason)))
    {
      es_printf ("pankey: pinned operator key %s: bundles signed by it may"
                 " be imported\n",
                 fpr);
      return 0;
    }
  if (gpg_err_code (err) == GPG_ERR_NO_DATA)
    cmd_info ("'pankey inspect --file FILE' shows what the file holds");
  res.exit_code = pan_bundle_exit_code (err);
  return report ("operator key refused", err, reason, &res);
}

int
pankey_operator_keys (const char *home, const char *const *fprs, size_t n,
                      const char *file, const char *operator_name)
{
  pan_ctx_t ctx = NULL;
  char *data = NULL;
  size_t len = 0;
  int rc;

  if ((rc = cmd_open_home (home, &ctx, EX_CONFIG))
      || (rc = read_key_file (file,
                              pan_config_get_int (pan_ctx_config (ctx),
                                                  "max-key-size"),
                              &data, &len)))
    goto leave;
  for (size_t i = 0; !rc && i < n; i++)
    rc = add_one (ctx, fprs[i], data, len, operator_name);
leave:
  free (data);
  pan_ctx_release (ctx);
  return rc;
}

int
pankey_operator_remove (const char *home, const char *fpr,
                        const char *operator_name)
{
  struct job j;
  gpg_error_t err;
  int rc;

  if (!(rc = job_open (&j, home, fpr, operator_name)))
    {
      if ((err = pan_bundle_operator_remove (j.ctx, &j.req, &j.reason)))
        rc = report ("operator-key remove", err, j.reason, &j.res);
      else
        es_printf ("pankey: unpinned operator key %s: bundles signed by it"
                   " are refused\n",
                   fpr);
    }
  job_release (&j);
  return rc;
}

/* Write the LEN bytes of DATA to OUTPUT (NULL or "-": stdout).  */
static int
write_output (const char *output, const char *data, size_t len)
{
  int to_stdout = !output || !strcmp (output, "-");
  estream_t fp = to_stdout ? es_stdout : es_fopen (output, "wb");
  int failed;

  if (!fp)
    {
      cmd_error (gpg_error_from_syserror (), output, NULL);
      return EX_CANTCREAT;
    }
  failed = es_write (fp, data, len, NULL) != 0;
  failed |= to_stdout ? es_fflush (fp) != 0 : es_fclose (fp) != 0;
  if (failed)
    {
      cmd_error (gpg_error_from_syserror (), to_stdout ? "stdout" : output,
                 NULL);
      return EX_IOERR;
    }
  return 0;
}

int
pankey_export (const char *home, const char *fpr, const char *signer_home,
               const char *output)
{
  struct job j;
  gpg_error_t err;
  int rc;

  if ((rc = job_open (&j, home, fpr, NULL)))
    goto leave;
  j.req.signer_home = signer_home;
  if ((err = pan_bundle_export (j.ctx, &j.req, &j.res, &j.reason)))
    rc = report ("export", err, j.reason, &j.res);
  else if (!(rc = write_output (output, j.res.data, j.res.len)))
    cmd_info ("exported bundle %llu of home %s, signed by %s (SHA-256 of"
              " its text %s)",
              j.res.serial, j.res.home, j.res.signer, j.res.sha256);
leave:
  job_release (&j);
  return rc;
}

/* Say what the import RES did.  */
static void
print_import (const struct pan_bundle_result *res)
{
  if (res->already)
    {
      es_printf ("pankey: bundle %llu of home %s was imported already;"
                 " nothing changed\n",
                 res->serial, res->home);
      return;
    }
  es_printf ("pankey: imported bundle %llu of home %s, signed by %s: %u"
             " enrolled, %u rotated, %u revoked, %u unenrolled, %u"
             " unchanged\n",
             res->serial, res->home, res->signer, res->enrolled,
             res->rotated, res->revoked, res->unenrolled, res->unchanged);
}

int
pankey_import (const char *home, const char *file, const char *operator_name)
{
  struct job j;
  char *data = NULL;
  size_t len = 0;
  gpg_error_t err;
  int rc;

  if ((rc = job_open (&j, home, NULL, operator_name))
      || (rc = read_key_file (file, MAX_BUNDLE, &data, &len))
      || (rc = cmd_recover (j.ctx)))
    goto leave;
  j.req.data = data;
  j.req.len = len;
  if ((err = pan_bundle_import (j.ctx, &j.req, &j.res, &j.reason)))
    {
      if (j.res.enrolled + j.res.rotated + j.res.revoked + j.res.unenrolled)
        cmd_info ("changes made before it stopped: %u enrolled, %u rotated,"
                  " %u revoked, %u unenrolled",
                  j.res.enrolled, j.res.rotated, j.res.revoked,
                  j.res.unenrolled);
      rc = report ("import", err, j.reason, &j.res);
    }
  else
    print_import (&j.res);
leave:
  job_release (&j);
  free (data);
  return rc;
}
