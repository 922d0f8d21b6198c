/* pankey-inspect.c - pankey inspect: what a key file holds
 *
 * Read-only: the keys are looked at in a scratch home that is removed
 * again; the home (if any) gives only its policy, and nothing is
 * recorded.  The fingerprints are printed in the forms the operator
 * compares with: gpg's and sq's groups of four, OpenSSL's and gpgsm's
 * colon-separated bytes for a certificate.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-inspect.h"
#include "pankey-bundle.h"

/* Write the hex fingerprint FPR into BUF (SIZE bytes) in groups of four
 * digits, as gpg and sq print it (two spaces in the middle of a 40-digit
 * one).  */
static const char *
fpr_groups (const char *fpr, char *buf, size_t size)
{
  size_t n = strlen (fpr), o = 0;

  for (size_t i = 0; i < n && o + 7 < size; i++)
    {
      if (i && !(i % 4))
        buf[o++] = ' ';
      if (n == 40 && i == 20)
        buf[o++] = ' ';
      buf[o++] = fpr[i];
    }
  buf[o] = 0;
  return buf;
}

/* Write FPR into BUF (SIZE bytes) as AB:CD:..., as OpenSSL prints it.  */
static const char *
fpr_colons (const char *fpr, char *buf, size_t size)
{
  size_t n = strlen (fpr), o = 0;

  for (size_t i = 0; i + 1 < n && o + 4 < size; i += 2)
    {
      if (i)
        buf[o++] = ':';
      buf[o++] = fpr[i];
      buf[o++] = fpr[i + 1];
    }
  buf[o] = 0;
  return buf;
}

/* The date of T (or "never"), in BUF.  */
static const char *
day_of (time_t t, char *buf, size_t size)
{
  if (!t)
    return "never";
  pan_time_format (t, buf, size);
  return buf;
}

static void
print_line (const char *name, const char *value)
{
  es_fprintf (es_stdout, "  %-12s ", name);
  cmd_put_safe (es_stdout, value);
  es_putc ('\n', es_stdout);
}

static void
print_list (const char *name, char **list)
{
  for (size_t i = 0; list && list[i]; i++)
    print_line (name, list[i]);
}

/* The state of the key of D: "usable", "revoked", "expired" or "not
 * usable".  */
static const char *
state_of (const struct pan_key_desc *d)
{
  if (d->info.revoked)
    return "revoked";
  if (d->info.expired)
    return "expired";
  return d->info.usable ? "usable" : "not usable";
}

static void
print_keys (const struct pan_key_desc *d)
{
  char when[32], line[256];

  for (size_t i = 0; i < d->nsubkeys; i++)
    {
      const struct pan_subkey_desc *k = &d->subkeys[i];

      snprintf (line, sizeof line, "%s %s %s%s%s expires %s", k->fingerprint,
                k->algorithm, *k->usage ? k->usage : "-",
                k->revoked ? " revoked" : "", k->expired ? " expired" : "",
                day_of (k->expires, when, sizeof when));
      print_line (i ? "subkey" : "primary key", line);
    }
}

static void
print_text (const struct pan_key_desc *d, const char *file)
{
  char buf[200], when[32];
  int pgp = d->info.protocol == PAN_PROTOCOL_OPENPGP;

  es_fprintf (es_stdout, "%s %s\n",
              pgp ? "OpenPGP key" : "X.509 certificate",
              d->info.fingerprint);
  if (pgp)
    print_line ("fingerprint",
                fpr_groups (d->info.fingerprint, buf, sizeof buf));
  else
    {
      print_line ("SHA-1",
                  fpr_colons (d->info.fingerprint, buf, sizeof buf));
      if (*d->sha256)
        print_line ("SHA-256", fpr_colons (d->sha256, buf, sizeof buf));
    }
  print_list (pgp ? "user ID" : "name", d->user_ids);
  if (d->issuer)
    print_line ("issuer", d->issuer);
  print_list ("address", d->addresses);
  snprintf (buf, sizeof buf, "%s (%u bits)%s%s", d->info.algorithm,
            d->info.bits, *d->info.enc_algorithm ? ", encryption " : "",
            d->info.enc_algorithm);
  print_line ("algorithm", buf);
  print_keys (d);
  print_line ("created", day_of (d->info.created, when, sizeof when));
  print_line ("expires", day_of (d->info.expires, when, sizeof when));
  print_line ("state", state_of (d));
  if (pgp)
    {
      snprintf (buf, sizeof buf, "%s%s%s",
                pan_severity_name (d->info.policy),
                d->info.policy_reason ? ": " : "",
                d->info.policy_reason ? d->info.policy_reason : "");
      print_line ("policy", buf);
    }
  if (d->accepted)
    {
      snprintf (buf, sizeof buf,
                "accepted: pankey enroll ADDRESS%s"
                " --fingerprint %s --file %s",
                pgp ? "" : " --protocol smime", d->info.fingerprint, file);
      print_line ("enroll", buf);
    }
  else
    {
      es_fprintf (es_stdout, "  %-12s refused: ", "enroll");
      cmd_put_safe (es_stdout, d->refusal);
      es_putc ('\n', es_stdout);
    }
}

/* Print SEP "NAME":[...] with the strings of LIST.  */
static void
json_list (const char *name, char **list)
{
  es_fprintf (es_stdout, ",\"%s\":[", name);
  for (size_t i = 0; list && list[i]; i++)
    {
      if (i)
        es_putc (',', es_stdout);
      cmd_put_json_string (es_stdout, list[i]);
    }
  es_putc (']', es_stdout);
}

static void
json_subkeys (const struct pan_key_desc *d)
{
  es_fputs (",\"subkeys\":[", es_stdout);
  for (size_t i = 0; i < d->nsubkeys; i++)
    {
      const struct pan_subkey_desc *k = &d->subkeys[i];

      es_fprintf (es_stdout,
                  "%s{\"fingerprint\":\"%s\",\"algorithm\":", i ? "," : "",
                  k->fingerprint);
      cmd_put_json_string (es_stdout, k->algorithm);
      es_fprintf (es_stdout, ",\"bits\":%u,\"usage\":\"%s\"", k->bits,
                  k->usage);
      cmd_put_json_time (es_stdout, ",", "created", k->created);
      cmd_put_json_time (es_stdout, ",", "expires", k->expires);
      es_fprintf (es_stdout, ",\"revoked\":%s,\"expired\":%s}",
                  k->revoked ? "true" : "false",
                  k->expired ? "true" : "false");
    }
  es_putc (']', es_stdout);
}

/* The fingerprints of D, each form as a member.  */
static void
json_fingerprints (const struct pan_key_desc *d)
{
  char buf[200];

  cmd_put_json_member (es_stdout, ",", "fingerprint", d->info.fingerprint);
  if (d->info.protocol == PAN_PROTOCOL_OPENPGP)
    {
      cmd_put_json_member (es_stdout, ",", "fingerprint_gpg",
                           fpr_groups (d->info.fingerprint, buf,
                                       sizeof buf));
      return;
    }
  cmd_put_json_member (es_stdout, ",", "sha1_openssl",
                       fpr_colons (d->info.fingerprint, buf, sizeof buf));
  cmd_put_json_member (es_stdout, ",", "sha256",
                       *d->sha256 ? d->sha256 : NULL);
  cmd_put_json_member (es_stdout, ",", "sha256_openssl",
                       *d->sha256 ? fpr_colons (d->sha256, buf, sizeof buf)
                                  : NULL);
  cmd_put_json_member (es_stdout, ",", "issuer", d->issuer);
}

static void
print_json (const struct pan_key_desc *d)
{
  es_fputs ("{\"v\":1", es_stdout);
  cmd_put_json_member (es_stdout, ",", "protocol",
                       pan_protocol_name (d->info.protocol));
  json_fingerprints (d);
  json_list ("user_ids", d->user_ids);
  json_list ("addresses", d->addresses);
  cmd_put_json_member (es_stdout, ",", "algorithm", d->info.algorithm);
  es_fprintf (es_stdout, ",\"bits\":%u", d->info.bits);
  cmd_put_json_member (es_stdout, ",", "encryption_algorithm",
                       *d->info.enc_algorithm ? d->info.enc_algorithm
                                              : NULL);
  cmd_put_json_time (es_stdout, ",", "created", d->info.created);
  cmd_put_json_time (es_stdout, ",", "expires", d->info.expires);
  es_fprintf (es_stdout, ",\"state\":\"%s\"", state_of (d));
  if (d->info.protocol == PAN_PROTOCOL_OPENPGP)
    {
      cmd_put_json_member (es_stdout, ",", "policy",
                           pan_severity_name (d->info.policy));
      cmd_put_json_member (es_stdout, ",", "policy_reason",
                           d->info.policy_reason);
      json_subkeys (d);
    }
  es_fprintf (es_stdout, ",\"accepted\":%s", d->accepted ? "true" : "false");
  cmd_put_json_member (es_stdout, ",", "refusal", d->refusal);
  es_fputs ("}\n", es_stdout);
}

/* Open the home for its policy: HOME if given (it must open), else the
 * default home if it can be opened (else none: the default policy).  */
static int
policy_home (const char *home, pan_ctx_t *r_ctx)
{
  char *reason = NULL;
  const char *env = getenv ("PANMAIL_HOME");

  *r_ctx = NULL;
  if (home || (env && *env))
    return cmd_open_home (home, r_ctx, EX_CONFIG);
  if (pan_ctx_open (NULL, r_ctx, &reason))
    *r_ctx = NULL;
  pan_free (reason);
  return 0;
}

int
pankey_inspect (const char *home, const char *file, int json)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  struct pan_key_desc *descs = NULL;
  size_t count = 0, len = 0;
  char *reason = NULL, *data = NULL;
  int rc;

  if ((rc = policy_home (home, &ctx)))
    return rc;
  /* The home's max-key-size, as enroll would apply it.  */
  if ((rc = read_key_file (file,
                           pan_config_get_int (ctx ? pan_ctx_config (ctx)
                                                   : NULL,
                                               "max-key-size"),
                           &data, &len)))
    {
      pan_ctx_release (ctx);
      return rc;
    }
  err = pan_keys_inspect (ctx, data, len, time (NULL), &descs, &count,
                          &reason);
  free (data);
  if (err)
    {
      cmd_error (err, file, reason);
      rc = gpg_err_code (err) == GPG_ERR_FORBIDDEN ? EX_NOPERM : EX_DATAERR;
    }
  for (size_t i = 0; i < count; i++)
    {
      if (json)
        print_json (&descs[i]);
      else
        {
          if (i)
            es_putc ('\n', es_stdout);
          print_text (&descs[i], file);
        }
    }
  if (!json && !err && !ctx)
    cmd_info ("no panmail home: the default policy applies");
  pan_keys_inspect_release (descs, count);
  pan_ctx_release (ctx);
  return rc;
}
