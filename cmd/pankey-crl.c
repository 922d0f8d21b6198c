/* pankey-crl.c - "pankey load-crl" and "pankey list-crls": CRLs that
 * the operator gives for S/MIME revocation checking without network,
 * and what pankey check and trust-ca say about them.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-crl.h"

/* The largest CRL file read.  */
#define MAX_CRL_FILE (64L * 1024 * 1024)

/* Read FILE ("-": stdin) into *R_BUF; return an exit code.  */
static int
read_crl_file (const char *file, char **r_buf, size_t *r_len)
{
  estream_t fp = strcmp (file, "-") ? es_fopen (file, "rb") : es_stdin;
  char *buf = NULL;
  size_t nread = 0;
  int rc = 0;

  *r_buf = NULL;
  if (!fp)
    {
      cmd_error (gpg_error_from_syserror (), file, NULL);
      return EX_NOINPUT;
    }
  if (!(buf = malloc (MAX_CRL_FILE + 1)))
    rc = EX_OSERR;
  else if (es_read (fp, buf, MAX_CRL_FILE + 1, &nread))
    {
      cmd_error (gpg_error_from_syserror (), file, NULL);
      rc = EX_NOINPUT;
    }
  else if (nread > (size_t)MAX_CRL_FILE)
    {
      cmd_info ("%s: larger than %ld bytes", file, MAX_CRL_FILE);
      rc = EX_DATAERR;
    }
  if (fp != es_stdin)
    es_fclose (fp);
  if (rc)
    free (buf);
  else
    {
      *r_buf = buf;
      *r_len = nread;
    }
  return rc;
}

/* The exit code of a CRL that was not loaded (ERR).  */
static int
refused_code (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_TIMEOUT: return EX_TEMPFAIL;
    case GPG_ERR_ENOMEM: return EX_OSERR;
    case GPG_ERR_CONFIGURATION: return EX_CONFIG;
    default: return EX_DATAERR;
    }
}

static void
print_loaded (const struct pan_crl *crl)
{
  char t1[32], t2[32];

  es_fputs ("pankey: loaded the CRL of ", es_stdout);
  cmd_put_safe (es_stdout, crl->issuer);
  es_fprintf (es_stdout, " (this update %s, next update %s, %zu revoked)\n",
              pan_time_format (crl->this_update, t1, sizeof t1),
              crl->next_update
                ? pan_time_format (crl->next_update, t2, sizeof t2)
                : "none",
              crl->revoked);
}

int
pankey_load_crl (const char *home, const char *file, const char *chain_file,
                 const char *operator_name)
{
  pan_ctx_t ctx = NULL;
  struct pan_crl *crl = NULL;
  char *buf = NULL, *chain = NULL, *reason = NULL;
  size_t len = 0, chainlen = 0;
  gpg_error_t err;
  int rc;

  if ((rc = read_crl_file (file, &buf, &len))
      || (chain_file && (rc = read_crl_file (chain_file, &chain, &chainlen)))
      || (rc = cmd_open_home (home, &ctx, EX_CONFIG)))
    goto leave;
  err = pan_crl_load (ctx, buf, len, chain, chainlen, operator_name,
                      time (NULL), &crl, &reason);
  if (err && crl)
    {
      cmd_error (err, "the CRL is loaded, but its audit record", reason);
      rc = cmd_exit_for_audit (err);
    }
  else if (err)
    {
      cmd_error (err, "load-crl refused", reason);
      rc = refused_code (err);
    }
  else
    print_loaded (crl);
  if (crl)
    pan_crls_release (crl, 1);
leave:
  pan_ctx_release (ctx);
  free (chain);
  free (buf);
  return rc;
}

static void
print_crl_json (const struct pan_crl *c, time_t now)
{
  es_fputs ("{\"v\":1,\"type\":\"crl\"", es_stdout);
  cmd_put_json_member (es_stdout, ",", "issuer", c->issuer);
  cmd_put_json_member (es_stdout, ",", "trust_fingerprint", c->trust_fpr);
  cmd_put_json_time (es_stdout, ",", "this_update", c->this_update);
  cmd_put_json_time (es_stdout, ",", "next_update", c->next_update);
  if (c->next_update)
    es_fprintf (es_stdout, ",\"days\":%ld",
                pan_days_until (now, c->next_update));
  es_fprintf (es_stdout, ",\"expired\":%s,\"revoked\":%zu",
              c->next_update && c->next_update <= now ? "true" : "false",
              c->revoked);
  cmd_put_json_member (es_stdout, ",", "problem", c->problem);
  es_fputs ("}\n", es_stdout);
}

static void
print_crl_row (const struct pan_crl *c, time_t now)
{
  char t1[32], t2[32];
  const char *state = "ok";

  if (c->problem)
    state = "unusable";
  else if (c->next_update && c->next_update <= now)
    state = "EXPIRED";
  es_fprintf (es_stdout, "%-20s  %-20s  %-8s  %7zu  ",
              pan_time_format (c->this_update, t1, sizeof t1),
              c->next_update
                ? pan_time_format (c->next_update, t2, sizeof t2)
                : "-",
              state, c->revoked);
  cmd_put_safe (es_stdout, c->issuer);
  es_putc ('\n', es_stdout);
}

int
pankey_list_crls (const char *home, int json)
{
  pan_ctx_t ctx = NULL;
  struct pan_crl *crls = NULL;
  size_t n = 0;
  char *reason = NULL;
  time_t now = time (NULL);
  gpg_error_t err;
  int rc;

  if ((rc = cmd_open_home (home, &ctx, EX_CONFIG)))
    return rc;
  if ((err = pan_crl_list (ctx, &crls, &n, &reason)))
    {
      cmd_error (err, "list-crls", reason);
      rc = EX_UNAVAILABLE;
    }
  else if (!json)
    es_fputs ("THIS UPDATE           NEXT UPDATE           STATE     "
              "REVOKED  ISSUER\n",
              es_stdout);
  for (size_t i = 0; !err && i < n; i++)
    if (json)
      print_crl_json (&crls[i], now);
    else
      print_crl_row (&crls[i], now);
  pan_crls_release (crls, n);
  pan_ctx_release (ctx);
  return rc;
}

void
pankey_crl_note_ca (const char *home, const char *fpr)
{
  pan_ctx_t ctx = NULL;
  char *reason = NULL;
  gpg_error_t err;

  if (pan_ctx_open (home, &ctx, NULL))
    return;
  if ((err = pan_crl_check_ca (ctx, fpr, time (NULL), &reason)))
    cmd_error (err, "warning", reason);
  pan_ctx_release (ctx);
}

/* The text of a finding about the CRL C at NOW (DAYS to its expiry).  */
static char *
finding_text (const struct pan_crl *c, int expired, long days)
{
  char when[32];

  pan_time_format (c->next_update, when, sizeof when);
  if (expired)
    return gpgrt_bsprintf ("expired on %s: certificates of this CA are"
                           " refused; load its current CRL with"
                           " 'pankey load-crl FILE'",
                           when);
  return gpgrt_bsprintf ("expires in %ld day%s (%s); load its next CRL"
                         " with 'pankey load-crl FILE' before then",
                         days, days == 1 ? "" : "s", when);
}

gpg_error_t
pankey_review_crls (pan_ctx_t ctx, time_t now, long warn,
                    pankey_crl_finding_t cb, void *opaque, char **r_reason)
{
  const char *mode = pan_config_get (pan_ctx_config (ctx),
                                     "smime-revocation-check");
  struct pan_crl *crls = NULL;
  size_t n = 0;
  gpg_error_t err;

  if (mode && !strcmp (mode, "off"))
    return 0;
  if ((err = pan_crl_list (ctx, &crls, &n, r_reason)))
    return err;
  for (size_t i = 0; i < n; i++)
    {
      const struct pan_crl *c = &crls[i];
      long days = pan_days_until (now, c->next_update);
      int expired = c->next_update <= now;
      char *text;

      if (!c->next_update || (!expired && days > warn))
        continue;
      text = finding_text (c, expired, days);
      cb (opaque, expired, c, days, text ? text : "expires soon");
      gpgrt_free (text);
    }
  pan_crls_release (crls, n);
  return 0;
}
