/* smime-trust.c - what S/MIME trusts: the CAs, revocation checking, and
 * the gpgsm contexts and scratch home that decide it
 *
 * Trust is explicit and local.  The operator trusts a root CA in the
 * home (pani_smime_trust_ca): its SHA-1 fingerprint goes into the
 * gpg-agent's trustlist.txt of the home's GnuPG home, and no other list
 * (no "include-default", no system trustlist) is accepted.  Each
 * recipient is pinned to one certificate by its SHA-1 fingerprint,
 * which is how gpgsm names certificates.  gpgsm validates the chain up
 * to a trusted root, with the configured revocation checking, for every
 * check and every encryption: GPGME_ENCRYPT_ALWAYS_TRUST is never used.
 *
 * gpgsm.conf and dirmngr.conf of the GnuPG home are written from
 * panmail.conf (smime-revocation-check) before each use:
 *   off   no CRL or OCSP checks (closed test set-ups only)
 *   crl   CRLs through dirmngr, also for certificates without a CRL
 *         distribution point (the CRL must then be in dirmngr's cache,
 *         "pankey load-crl", see crl.c); no CRL, no encryption
 *   ocsp  OCSP through dirmngr, CRLs as the fallback
 * The roots are CRL-checked too: gpgsm 2.2's
 * disable-trusted-cert-crl-check turns off the check of the whole chain
 * below a trusted root, not only of the root.
 *
 * Certificates given for trust or enrollment are first imported into a
 * scratch GnuPG home and inspected there; only the pinned certificate
 * and the intermediate CAs that came with it reach the home.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "registry-int.h"
#include "engine-int.h"
#include "smime-trust-int.h"

#define TRUSTLIST_FILE "trustlist.txt"
#define MAX_TRUSTLIST (1024 * 1024)

/* The head of a configuration file written here; %s: the mode.  */
#define CONF_HEAD(file)                                                  \
  "# " file " of a panmail home, written by panmail from panmail.conf\n" \
  "# (smime-revocation-check %s): edits here are overwritten.\n"

static const char *const gpgsm_conf_mode[] = {
  /* off */
  "disable-crl-checks\n"
  "disable-ocsp\n",
  /* crl */
  "enable-crl-checks\n"
  "enable-issuer-based-crl-check\n"
  "disable-ocsp\n",
  /* ocsp */
  "enable-crl-checks\n"
  "enable-issuer-based-crl-check\n"
  "enable-ocsp\n"
};


/*
 * Configuration: gpgsm.conf and dirmngr.conf from panmail.conf.
 */

/* The words of smime-revocation-check, in the order of enum
 * pani_revocation.  */
static const char *const mode_words[] = { "off", "crl", "ocsp" };

static gpg_error_t
parse_mode (const char *word, enum pani_revocation *r_mode, char **r_reason)
{
  for (int i = 0; i < 3; i++)
    if (!strcmp (word, mode_words[i]))
      {
        *r_mode = i;
        return 0;
      }
  return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                      "%s is \"%s\"; use off, crl or ocsp",
                      PANI_SMIME_REVOCATION_SETTING, word);
}

static const char *
configured_mode (pan_ctx_t ctx)
{
  const char *value = NULL;

  if (ctx->config)
    value = pan_config_get (ctx->config, PANI_SMIME_REVOCATION_SETTING);
  return value ? value : PANI_SMIME_REVOCATION_DEFAULT;
}

gpg_error_t
pani_smime_mode (pan_ctx_t ctx, enum pani_revocation *r_mode,
                 char **r_reason)
{
  return parse_mode (configured_mode (ctx), r_mode, r_reason);
}

const char *
pani_smime_mode_name (enum pani_revocation mode)
{
  return mode_words[mode <= PANI_REVOCATION_OCSP ? mode
                                                 : PANI_REVOCATION_OCSP];
}

/* Write TEXT to DIR/NAME unless the file holds it already; set
 * *R_CHANGED if it was written.  */
static gpg_error_t
write_if_changed (const char *dir, const char *name, const char *text,
                  int *r_changed, char **r_reason)
{
  gpg_error_t err;
  char *path = pani_strdupf ("%s/%s", dir, name);
  char *old = NULL;
  size_t oldlen = 0;

  *r_changed = 0;
  if (!path)
    return gpg_error_from_syserror ();
  err = pani_read_file (path, 65536, &old, &oldlen, NULL);
  if (!err && oldlen == strlen (text) && !memcmp (old, text, oldlen))
    goto leave;
  err = pani_write_file_atomic (path, text, strlen (text), 0600, r_reason);
  *r_changed = !err;
leave:
  free (old);
  free (path);
  return err;
}

/* Write the configuration files for MODE (named WORD) into DIR.  */
static gpg_error_t
write_conf (const char *dir, enum pani_revocation mode, const char *word,
            int *r_changed, char **r_reason)
{
  gpg_error_t err;
  char *gpgsm = NULL, *dirmngr = NULL;
  int changed1 = 0, changed2 = 0;

  *r_changed = 0;
  gpgsm = pani_strdupf (CONF_HEAD ("gpgsm.conf") "cipher-algo AES256\n%s",
                        word, gpgsm_conf_mode[mode]);
  dirmngr = pani_strdupf (CONF_HEAD ("dirmngr.conf") "%s", word,
                          mode == PANI_REVOCATION_OCSP ? "allow-ocsp\n"
                                                       : "");
  if (!gpgsm || !dirmngr)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if (!(err = write_if_changed (dir, "gpgsm.conf", gpgsm, &changed1,
                                r_reason)))
    err = write_if_changed (dir, "dirmngr.conf", dirmngr, &changed2,
                            r_reason);
  *r_changed = changed1 || changed2;
leave:
  free (gpgsm);
  free (dirmngr);
  return err;
}

gpg_error_t
pani_smime_configure (pan_ctx_t ctx, const char *word, char **r_reason)
{
  gpg_error_t err;
  enum pani_revocation mode = PANI_REVOCATION_CRL;
  int changed;

  if (!word)
    word = configured_mode (ctx);
  if ((err = parse_mode (word, &mode, r_reason)))
    return err;
  if ((err = write_conf (ctx->gnupg_home, mode, word, &changed, r_reason)))
    return err;
  /* A running dirmngr keeps the settings it started with.  */
  if (changed)
    pani_engine_gpgconf (ctx->gnupg_home, "--kill", "dirmngr");
  return 0;
}


/*
 * GPGME for CMS.
 */

/* A CMS context on HOMEDIR; VALIDATE asks gpgsm to validate the chain
 * of each listed certificate.  Only with revocation checking off is
 * gpgsm told it is offline (which would skip the checks).  */
gpg_error_t
pani_smime_cms_new (const char *homedir, int validate,
                    enum pani_revocation mode, gpgme_ctx_t *r_gctx,
                    char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_keylist_mode_t kmode = GPGME_KEYLIST_MODE_LOCAL;

  *r_gctx = NULL;
  if (validate)
    kmode |= GPGME_KEYLIST_MODE_VALIDATE;
  if ((err = pani_gpgme_new (homedir, GPGME_PROTOCOL_CMS, &gctx))
      || (err = gpgme_set_keylist_mode (gctx, kmode))
      || (err = gpgme_set_pinentry_mode (gctx, GPGME_PINENTRY_MODE_CANCEL)))
    {
      gpgme_release (gctx);
      return pani_reason (r_reason, err,
                          "cannot start gpgsm through GPGME"
                          " for %s: %s",
                          homedir, gpg_strerror (err));
    }
  gpgme_set_offline (gctx, mode == PANI_REVOCATION_OFF);
  *r_gctx = gctx;
  return 0;
}

gpg_error_t
pani_smime_export_der (gpgme_ctx_t gctx, const char *fpr, char **r_der,
                       size_t *r_len)
{
  gpg_error_t err;
  gpgme_data_t out = NULL;

  *r_der = NULL;
  *r_len = 0;
  if ((err = gpgme_data_new (&out)))
    return err;
  gpgme_set_armor (gctx, 0);
  if ((err = gpgme_op_export (gctx, fpr, 0, out)))
    {
      gpgme_data_release (out);
      return err;
    }
  *r_der = gpgme_data_release_and_get_mem (out, r_len);
  if (!*r_der || !*r_len)
    {
      gpgme_free (*r_der);
      *r_der = NULL;
      return gpg_error (GPG_ERR_NO_PUBKEY);
    }
  return 0;
}

gpg_error_t
pani_smime_cert_sha256 (gpgme_ctx_t gctx, const char *fpr, char *hex)
{
  gpg_error_t err;
  unsigned char digest[32];
  char *der;
  size_t len;

  *hex = 0;
  if ((err = pani_smime_export_der (gctx, fpr, &der, &len)))
    return err;
  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, der, len);
  gpgme_free (der);
  pani_bin2hex_upper (digest, sizeof digest, hex);
  return 0;
}

/* Append to the NULL-terminated list *LIST the fingerprints that the
 * import RES made new.  The list stays whole on every path, so that
 * what it names can be deleted again.  */
static gpg_error_t
append_new (gpgme_import_result_t res, char ***list)
{
  size_t n = 0, k = 0, room = res->considered > 0 ? res->considered : 0;
  char **tmp;

  while (*list && (*list)[n])
    n++;
  if (!(tmp = realloc (*list, (n + room + 1) * sizeof *tmp)))
    return gpg_error (GPG_ERR_ENOMEM);
  *list = tmp;
  tmp[n] = NULL;
  for (gpgme_import_status_t st = res->imports; st && k < room;
       st = st->next)
    if (st->fpr && !st->result && (st->status & GPGME_IMPORT_NEW))
      {
        if (!(tmp[n + k] = pani_strdup (st->fpr)))
          return gpg_error (GPG_ERR_ENOMEM);
        tmp[n + ++k] = NULL;
      }
  return 0;
}

/* Import DATA/LEN into GCTX; if NEW is not NULL, append to *NEW the
 * fingerprints that were new there.  */
static gpg_error_t
import_buf (gpgme_ctx_t gctx, const void *data, size_t len, char ***new)
{
  gpg_error_t err;
  gpgme_data_t in = NULL;
  gpgme_import_result_t res;

  if ((err = gpgme_data_new_from_mem (&in, data, len, 0)))
    return err;
  err = gpgme_op_import (gctx, in);
  gpgme_data_release (in);
  if (err)
    return err;
  res = gpgme_op_import_result (gctx);
  if (!res || res->imported + res->unchanged == 0)
    return gpg_error (GPG_ERR_NO_DATA);
  if (res->secret_imported || res->secret_read)
    return gpg_error (GPG_ERR_FORBIDDEN);
  return new ? append_new (res, new) : 0;
}


/*
 * The scratch GnuPG home where given certificates are inspected.
 */

/* True if the certificate data holds a private key in PEM.  */
static int
has_private_key (const void *data, size_t len)
{
  return memmem (data, len, "PRIVATE KEY-----", 16) != NULL;
}

void
pani_smime_scratch_release (struct pani_smime_scratch *s)
{
  for (size_t i = 0; i < s->nkeys; i++)
    gpgme_key_unref (s->keys[i]);
  gpgme_release (s->gctx);
  /* gpgsm started a gpg-agent (and perhaps a dirmngr) there: stopped
   * by pani_engine_scratch_remove.  */
  pani_engine_scratch_remove (s->dir);
  free (s->dir);
  memset (s, 0, sizeof *s);
}

gpg_error_t
pani_smime_scratch_load (pan_ctx_t ctx, struct pani_smime_scratch *s,
                         const void *data, size_t len, char **r_reason)
{
  gpg_error_t err;
  int changed;
  gpgme_key_t key;

  if ((err = pani_engine_scratch_new (ctx, "certcheck", &s->dir, r_reason))
      || (err = write_conf (s->dir, PANI_REVOCATION_OFF, "off", &changed,
                            r_reason))
      || (err = pani_smime_cms_new (s->dir, 0, PANI_REVOCATION_OFF, &s->gctx,
                                    r_reason)))
    return err;
  err = import_buf (s->gctx, data, len, NULL);
  if (gpg_err_code (err) == GPG_ERR_FORBIDDEN)
    return pani_reason (r_reason, err,
                        "the file holds a private key;"
                        " give only the certificate");
  if (err)
    return pani_reason (r_reason, err,
                        "the file holds no certificate that"
                        " gpgsm can read (PEM, DER or PKCS#7): %s",
                        gpg_strerror (err));
  if ((err = gpgme_op_keylist_start (s->gctx, NULL, 0)))
    return err;
  while (!(err = gpgme_op_keylist_next (s->gctx, &key)))
    if (s->nkeys < PANI_SMIME_MAX_CERTS)
      s->keys[s->nkeys++] = key;
    else
      gpgme_key_unref (key);
  gpgme_op_keylist_end (s->gctx);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

/* Return the certificate in S whose SHA-1 or SHA-256 fingerprint is
 * PIN (not referenced), or NULL.  */
static gpgme_key_t
scratch_find (struct pani_smime_scratch *s, const char *pin)
{
  char hex[65];

  for (size_t i = 0; i < s->nkeys; i++)
    {
      gpgme_key_t key = s->keys[i];

      if (!key->subkeys || !key->subkeys->fpr)
        continue;
      if (!pani_ascii_casecmp (key->subkeys->fpr, pin))
        return key;
      if (strlen (pin) != 64
          || pani_smime_cert_sha256 (s->gctx, key->subkeys->fpr, hex))
        continue;
      if (!pani_ascii_casecmp (hex, pin))
        return key;
    }
  return NULL;
}

gpg_error_t
pani_smime_scratch_open (pan_ctx_t ctx, const char *pin, const void *data,
                         size_t len, const char *give,
                         struct pani_smime_scratch *s, gpgme_key_t *r_key,
                         char **r_reason)
{
  gpg_error_t err;

  memset (s, 0, sizeof *s);
  *r_key = NULL;
  if ((err = pani_smime_configure (ctx, NULL, r_reason)))
    return err;
  if (has_private_key (data, len))
    return pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                        "the file holds a private key; give only the %s",
                        give);
  if ((err = pani_smime_scratch_load (ctx, s, data, len, r_reason)))
    return err;
  if ((*r_key = scratch_find (s, pin)))
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                      "the file holds no certificate with the SHA-1 or"
                      " SHA-256 fingerprint %s; check the file and the"
                      " fingerprint you were given",
                      pin);
}

gpg_error_t
pani_smime_copy_cert (struct pani_smime_scratch *s, gpgme_ctx_t gctx,
                      const char *fpr, char ***new, char **r_reason)
{
  gpg_error_t err;
  char *der = NULL;
  size_t len;

  if (!(err = pani_smime_export_der (s->gctx, fpr, &der, &len)))
    err = import_buf (gctx, der, len, new);
  gpgme_free (der);
  if (err)
    pani_reason (r_reason, err, "importing certificate %s failed: %s", fpr,
                 gpg_strerror (err));
  return err;
}


/*
 * Checks of a certificate.
 */

gpg_error_t
pani_smime_check_dates (gpgme_key_t key, time_t now, char **r_reason)
{
  gpgme_subkey_t sub = key->subkeys;

  if (sub->timestamp > 0 && sub->timestamp > now)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_TOO_YOUNG),
                        "certificate %s is not valid yet (notBefore is"
                        " in the future)",
                        sub->fpr);
  if (sub->expires > 0 && sub->expires <= now)
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                        "certificate %s has expired; ask for a renewed"
                        " certificate",
                        sub->fpr);
  return 0;
}

int
pani_smime_is_self_signed (gpgme_key_t key)
{
  return key->chain_id
    && !pani_ascii_casecmp (key->chain_id, key->subkeys->fpr);
}


/*
 * The trustlist.
 */

/* Parse the fingerprint at *P (hex, pairs optionally separated by
 * colons) into FPR (41 bytes); advance *P.  */
static int
parse_trust_fpr (const char **p, const char *end, char *fpr)
{
  size_t n = 0;
  const char *s = *p;

  while (s < end && n < 40)
    {
      if (n && !(n & 1) && *s == ':')
        s++;
      if (s >= end || pani_hexval (*s) < 0)
        return 0;
      fpr[n++] = (*s >= 'a') ? *s - 32 : *s;
      s++;
    }
  if (n != 40 || (s < end && *s != ' ' && *s != '\t'))
    return 0;
  fpr[40] = 0;
  *p = s;
  return 1;
}

/* Return 1 if the flags in [P, END) allow S/MIME, 0 if not, -1 if they
 * are malformed (the first word must be S, P or *).  */
static int
trust_flags_smime (const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p >= end)
    return -1;
  if (end - p >= 1 && (*p == 'S' || *p == '*')
      && (end - p == 1 || p[1] == ' ' || p[1] == '\t'))
    return 1;
  if (*p == 'P' && (end - p == 1 || p[1] == ' ' || p[1] == '\t'))
    return 0;
  return -1;
}

/* Parse the line [P, END) numbered LINENO; append to FPRS.  */
static gpg_error_t
parse_trust_line (const char *p, const char *end, unsigned int lineno,
                  char **fprs, size_t *n, char **r_reason)
{
  char fpr[41];
  int flags;

  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    end--;
  if (p == end || *p == '#' || *p == '!')
    return 0;
  if ((size_t)(end - p) == 15 && !memcmp (p, "include-default", 15))
    return pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                        "trustlist.txt:%u: include-default would trust"
                        " CAs outside this home; remove the line",
                        lineno);
  if (!parse_trust_fpr (&p, end, fpr)
      || (flags = trust_flags_smime (p, end)) < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "trustlist.txt:%u: not \"FINGERPRINT S\"; fix or"
                        " remove the line",
                        lineno);
  if (flags && !(fprs[(*n)++] = pani_strdup (fpr)))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pani_smime_trustlist_parse (const void *buf, size_t len, char ***r_fprs,
                            size_t *r_count, char **r_reason)
{
  gpg_error_t err = 0;
  const char *p = buf, *end = p + len, *nul;
  char **fprs;
  size_t n = 0, lines = 1;
  unsigned int lineno = 0;

  *r_fprs = NULL;
  *r_count = 0;
  for (size_t i = 0; i < len; i++)
    lines += p[i] == '\n';
  if ((nul = memchr (buf, 0, len)))
    {
      for (const char *q = p; q < nul; q++)
        lineno += *q == '\n';
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "trustlist.txt:%u: holds a NUL byte", lineno + 1);
    }
  if (!(fprs = calloc (lines + 1, sizeof *fprs)))
    return gpg_error_from_syserror ();
  while (!err && p < end)
    {
      const char *eol = memchr (p, '\n', end - p);

      if (!eol)
        eol = end;
      err = parse_trust_line (p, eol, ++lineno, fprs, &n, r_reason);
      p = eol + 1;
    }
  if (err)
    {
      pan_argv_release (fprs);
      return err;
    }
  *r_fprs = fprs;
  *r_count = n;
  return 0;
}

static gpg_error_t
read_trustlist (pan_ctx_t ctx, char **r_text, size_t *r_len, char ***r_fprs,
                size_t *r_count, char **r_reason)
{
  gpg_error_t err;
  char *path = pani_strdupf ("%s/%s", ctx->gnupg_home, TRUSTLIST_FILE);

  *r_text = NULL;
  *r_len = 0;
  if (!path)
    return gpg_error_from_syserror ();
  err = pani_read_file (path, MAX_TRUSTLIST, r_text, r_len, NULL);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      err = 0;
      *r_text = pani_strdup ("");
      if (!*r_text)
        err = gpg_error_from_syserror ();
    }
  else if (err)
    pani_reason_sys (r_reason, path);
  if (!err)
    err = pani_smime_trustlist_parse (*r_text, *r_len, r_fprs, r_count,
                                      r_reason);
  if (err)
    {
      free (*r_text);
      *r_text = NULL;
    }
  free (path);
  return err;
}

/* Add FPR to the trustlist of CTX's home and make gpg-agent read it.  */
static gpg_error_t
add_to_trustlist (pan_ctx_t ctx, const char *fpr, const char *subject,
                  char **r_reason)
{
  gpg_error_t err;
  char *text = NULL, *path = NULL, *newtext = NULL, **fprs = NULL;
  size_t len, count;
  int have = 0;

  if ((err = read_trustlist (ctx, &text, &len, &fprs, &count, r_reason)))
    goto leave;
  for (size_t i = 0; i < count; i++)
    have |= !strcmp (fprs[i], fpr);
  if (have)
    goto leave;
  path = pani_strdupf ("%s/%s", ctx->gnupg_home, TRUSTLIST_FILE);
  newtext = pani_strdupf ("%s%s%s# %s\n%s S\n", text,
                          len && text[len - 1] != '\n' ? "\n" : "",
                          len ? ""
                              : "# Root CAs trusted for S/MIME, added"
                                " with 'pankey trust-ca'.\n",
                          subject ? subject : "(no subject)", fpr);
  if (!path || !newtext)
    err = gpg_error_from_syserror ();
  else
    err = pani_write_file_atomic (path, newtext, strlen (newtext), 0600,
                                  r_reason);
leave:
  if (!err && pani_engine_gpgconf (ctx->gnupg_home, "--reload", "gpg-agent"))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                       "gpg-agent of %s did not reload %s", ctx->gnupg_home,
                       TRUSTLIST_FILE);
  pan_argv_release (fprs);
  free (newtext);
  free (path);
  free (text);
  return err;
}


/*
 * Trusting a CA.
 */

/* In the scratch home, trust KEY and see that gpgsm takes it as a
 * root CA.  */
static gpg_error_t
check_ca_in_scratch (struct pani_smime_scratch *s, gpgme_key_t key,
                     char **r_reason)
{
  gpg_error_t err;
  char *path = pani_strdupf ("%s/%s", s->dir, TRUSTLIST_FILE);
  char *line = pani_strdupf ("%s S\n", key->subkeys->fpr);
  gpgme_key_t vkey = NULL;

  if (!path || !line)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = pani_write_file_atomic (path, line, strlen (line), 0600,
                                     r_reason)))
    goto leave;
  gpgme_set_keylist_mode (s->gctx,
                          GPGME_KEYLIST_MODE_LOCAL
                            | GPGME_KEYLIST_MODE_VALIDATE);
  if ((err = pani_get_pinned_key (s->gctx, key->subkeys->fpr, &vkey)))
    goto leave;
  if (vkey->invalid || !vkey->uids
      || vkey->uids->validity != GPGME_VALIDITY_ULTIMATE)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                       "gpgsm does not accept certificate %s as a root CA"
                       " (is basicConstraints cA set?)",
                       key->subkeys->fpr);
leave:
  gpgme_key_unref (vkey);
  free (line);
  free (path);
  return err;
}

static gpg_error_t
check_ca (struct pani_smime_scratch *s, gpgme_key_t key, time_t now,
          char **r_reason)
{
  gpg_error_t err;
  const char *fpr = key->subkeys->fpr;

  if (!pani_smime_is_self_signed (key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                        "certificate %s is not self-signed; trust the root"
                        " CA of its chain, not an intermediate",
                        fpr);
  if (!key->can_certify)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                        "certificate %s is not a CA certificate (its"
                        " keyUsage lacks keyCertSign)",
                        fpr);
  if ((err = pani_smime_check_dates (key, now, r_reason)))
    return err;
  return check_ca_in_scratch (s, key, r_reason);
}

/* Check in CTX's home that gpgsm takes FPR as a trusted root.  */
static gpg_error_t
check_trusted_in_home (pan_ctx_t ctx, const char *fpr, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if ((err = pani_smime_cms_new (ctx->gnupg_home, 1, PANI_REVOCATION_OFF,
                                 &gctx, r_reason)))
    return err;
  if (!(err = pani_get_pinned_key (gctx, fpr, &key))
      && (key->invalid || !key->uids
          || key->uids->validity != GPGME_VALIDITY_ULTIMATE))
    err = gpg_error (GPG_ERR_NOT_TRUSTED);
  if (err)
    pani_reason (r_reason, err,
                 "gpgsm in %s does not trust CA %s after"
                 " adding it: %s",
                 ctx->gnupg_home, fpr, gpg_strerror (err));
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

static gpg_error_t
install_ca (pan_ctx_t ctx, struct pani_smime_scratch *s, gpgme_key_t key,
            char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  const char *fpr = key->subkeys->fpr;

  if ((err = pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF,
                                 &gctx, r_reason)))
    return err;
  if (!(err = pani_smime_copy_cert (s, gctx, fpr, NULL, r_reason))
      && !(err = add_to_trustlist (ctx, fpr,
                                   key->uids ? key->uids->uid : NULL,
                                   r_reason)))
    err = check_trusted_in_home (ctx, fpr, r_reason);
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pani_smime_trust_ca (pan_ctx_t ctx, const char *fpr_in, const void *data,
                     size_t len, time_t now, char **r_fpr, char **r_reason)
{
  gpg_error_t err;
  struct pani_smime_scratch s;
  char *pin = NULL;
  gpgme_key_t key;

  memset (&s, 0, sizeof s);
  if (r_fpr)
    *r_fpr = NULL;
  if ((err = pan_fpr_normalize (fpr_in, &pin, r_reason))
      || (err = pani_smime_scratch_open (ctx, pin, data, len,
                                         "CA certificate", &s, &key,
                                         r_reason))
      || (err = check_ca (&s, key, now, r_reason))
      || (err = install_ca (ctx, &s, key, r_reason)))
    goto leave;
  if (r_fpr && !(*r_fpr = pani_strdup (key->subkeys->fpr)))
    err = gpg_error (GPG_ERR_ENOMEM);
leave:
  pani_smime_scratch_release (&s);
  free (pin);
  return err;
}


/*
 * Listing the trusted CAs.
 */

void
pan_smime_cas_release (struct pan_smime_ca *cas, size_t count)
{
  for (size_t i = 0; cas && i < count; i++)
    {
      free (cas[i].fpr);
      free (cas[i].sha256);
      free (cas[i].subject);
    }
  free (cas);
}

/* Fill CA (whose fpr is set) from the keybox behind GCTX.  */
static gpg_error_t
describe_ca (gpgme_ctx_t gctx, struct pan_smime_ca *ca)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;
  char hex[65];

  err = pani_get_pinned_key (gctx, ca->fpr, &key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    {
      ca->missing = 1;
      return 0;
    }
  if (err)
    return err;
  ca->not_before = key->subkeys->timestamp > 0 ? key->subkeys->timestamp : 0;
  ca->not_after = key->subkeys->expires > 0 ? key->subkeys->expires : 0;
  if (key->uids && key->uids->uid
      && !(ca->subject = pani_strdup (key->uids->uid)))
    err = gpg_error_from_syserror ();
  gpgme_key_unref (key);
  if (!err && !pani_smime_cert_sha256 (gctx, ca->fpr, hex)
      && !(ca->sha256 = pani_strdup (hex)))
    err = gpg_error_from_syserror ();
  return err;
}

gpg_error_t
pan_smime_list_cas (pan_ctx_t ctx, struct pan_smime_ca **r_cas,
                    size_t *r_count, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  struct pan_smime_ca *cas = NULL;
  char *text = NULL, **fprs = NULL;
  size_t len, count = 0;

  *r_cas = NULL;
  *r_count = 0;
  if ((err = read_trustlist (ctx, &text, &len, &fprs, &count, r_reason))
      || !count /* No CA: gpgsm has nothing to describe.  */
      || (err = pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF,
                                    &gctx, r_reason)))
    goto leave;
  if (!(cas = calloc (count + 1, sizeof *cas)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  for (size_t i = 0; !err && i < count; i++)
    {
      cas[i].fpr = fprs[i];
      fprs[i] = NULL;
      err = describe_ca (gctx, &cas[i]);
    }
  if (err)
    goto leave;
  *r_cas = cas;
  *r_count = count;
  cas = NULL;
leave:
  pan_smime_cas_release (cas, count);
  free (fprs);
  gpgme_release (gctx);
  free (text);
  return err;
}

/* Set *R_FOUND if the file FD holds NEEDLE (NLEN bytes, at most 64),
 * read in pieces: no copy of a registry of megabytes is made.  */
static gpg_error_t
fd_holds (int fd, const char *needle, size_t nlen, int *r_found)
{
  char buf[32768 + 64];
  size_t keep = 0, have, total = 0;
  ssize_t n;

  /* Pieces of 32 KB of the file after the KEEP bytes carried over.  */
  while ((n = read (fd, buf + keep, 32768)))
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return gpg_error_from_syserror ();
      if ((total += (size_t)n) > PANI_REGISTRY_MAX)
        return gpg_error (GPG_ERR_TOO_LARGE);
      have = keep + (size_t)n;
      if (memmem (buf, have, needle, nlen))
        {
          *r_found = 1;
          return 0;
        }
      /* A needle cut by the end of this piece.  */
      keep = have < nlen - 1 ? have : nlen - 1;
      memmove (buf, buf + have - keep, keep);
    }
  *r_found = 0;
  return 0;
}

/* Set *R_IN_USE unless CTX's registry holds no S/MIME record: looked
 * for in its text, not parsed (a registry of ten thousand records
 * takes tens of milliseconds to parse).  The parser takes an S/MIME
 * record only from the line "protocol smime"; the words anywhere else
 * (a note) only cost the speed-up.  A home without a registry has
 * none.  */
static gpg_error_t
registry_has_smime (pan_ctx_t ctx, int *r_in_use)
{
  gpg_error_t err;
  int fd;

  err = pani_home_open (ctx, PAN_REGISTRY_FILE, O_RDONLY, 0,
                        PANI_HOME_OPERATOR, &fd, NULL);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      *r_in_use = 0;
      return 0;
    }
  if (err)
    return err;
  err = fd_holds (fd, "protocol smime", 14, r_in_use);
  close (fd);
  return err;
}

gpg_error_t
pan_smime_in_use (pan_ctx_t ctx, int *r_in_use)
{
  char *text = NULL, **fprs = NULL;
  size_t len, count = 0;
  gpg_error_t err;

  *r_in_use = 1; /* Until both the trustlist and the registry say not.  */
  err = read_trustlist (ctx, &text, &len, &fprs, &count, NULL);
  pan_argv_release (fprs);
  free (text);
  if (err || count)
    return err;
  return registry_has_smime (ctx, r_in_use);
}
