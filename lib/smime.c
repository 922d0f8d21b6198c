/* smime.c - S/MIME recipients: X.509 certificates through GPGME and gpgsm
 *
 * Trust is explicit and local.  The operator trusts a root CA in the
 * home (pan_smime_trust_ca): its SHA-1 fingerprint goes into the
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
 *         e.g. "gpgsm --call-dirmngr loadcrl"); no CRL, no encryption
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
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "keys-int.h"
#include "smime-int.h"

extern char **environ;

#define TRUSTLIST_FILE "trustlist.txt"
#define MAX_TRUSTLIST (1024 * 1024)
#define MAX_CERTS 64            /* In one file given for enrollment.  */

enum revocation
  {
    REVOCATION_OFF,
    REVOCATION_CRL,
    REVOCATION_OCSP
  };

/* The head of a configuration file written here; %s: the mode.  */
#define CONF_HEAD(file)                                                 \
  "# " file " of a panmail home, written by panmail from panmail.conf\n" \
  "# (smime-revocation-check %s): edits here are overwritten.\n"

static const char *const gpgsm_conf_mode[] =
  {
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
 * Small helpers.
 */

static void
hex_encode (const unsigned char *buf, size_t len, char *hex)
{
  static const char digits[] = "0123456789ABCDEF";

  for (size_t i = 0; i < len; i++)
    {
      hex[2 * i] = digits[buf[i] >> 4];
      hex[2 * i + 1] = digits[buf[i] & 15];
    }
  hex[2 * len] = 0;
}

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

/* Return the gpgconf program GPGME uses.  */
static const char *
gpgconf_program (void)
{
  gpgme_engine_info_t info = NULL;

  if (gpgme_get_engine_info (&info))
    return "gpgconf";
  for (; info; info = info->next)
    if (info->protocol == GPGME_PROTOCOL_GPGCONF && info->file_name)
      return info->file_name;
  return "gpgconf";
}

/* Run "gpgconf --homedir HOMEDIR ARG1 ARG2" without input or output.  */
static gpg_error_t
run_gpgconf (const char *homedir, const char *arg1, const char *arg2)
{
  const char *prog = gpgconf_program ();
  char *argv[] = { (char *)prog, (char *)"--homedir", (char *)homedir,
                   (char *)arg1, (char *)arg2, NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, status;

  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  rc = posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  if (!rc)
    rc = posix_spawn (&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc)
    return gpg_error_from_errno (rc);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return gpg_error_from_syserror ();
  return WIFEXITED (status) && !WEXITSTATUS (status)
    ? 0 : gpg_error (GPG_ERR_GENERAL);
}

/* Normalise the fingerprint INPUT as pan_fpr_normalize does, but also
 * accept the colons with which OpenSSL and gpgsm print X.509
 * fingerprints.  */
static gpg_error_t
normalize_pin (const char *input, char **r_fpr, char **r_reason)
{
  gpg_error_t err;
  char *copy = malloc (strlen (input) + 1), *d = copy;

  *r_fpr = NULL;
  if (!copy)
    return gpg_error_from_syserror ();
  for (const char *p = input; *p; p++)
    if (*p != ':')
      *d++ = *p;
  *d = 0;
  err = pan_fpr_normalize (copy, r_fpr, r_reason);
  free (copy);
  return err;
}

/* True if the certificate data holds a private key in PEM.  */
static int
has_private_key (const void *data, size_t len)
{
  return memmem (data, len, "PRIVATE KEY-----", 16) != NULL;
}


/*
 * Configuration: gpgsm.conf and dirmngr.conf from panmail.conf.
 */

static gpg_error_t
parse_mode (const char *word, enum revocation *r_mode, char **r_reason)
{
  static const char *const words[] = { "off", "crl", "ocsp" };

  for (int i = 0; i < 3; i++)
    if (!strcmp (word, words[i]))
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

static gpg_error_t
get_mode (pan_ctx_t ctx, enum revocation *r_mode, char **r_reason)
{
  return parse_mode (configured_mode (ctx), r_mode, r_reason);
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
write_conf (const char *dir, enum revocation mode, const char *word,
            int *r_changed, char **r_reason)
{
  gpg_error_t err;
  char *gpgsm = NULL, *dirmngr = NULL;
  int changed1 = 0, changed2 = 0;

  *r_changed = 0;
  gpgsm = pani_strdupf (CONF_HEAD ("gpgsm.conf") "cipher-algo AES256\n%s",
                        word, gpgsm_conf_mode[mode]);
  dirmngr = pani_strdupf (CONF_HEAD ("dirmngr.conf") "%s", word,
                          mode == REVOCATION_OCSP ? "allow-ocsp\n" : "");
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
  enum revocation mode = REVOCATION_CRL;
  int changed;

  if (!word)
    word = configured_mode (ctx);
  if ((err = parse_mode (word, &mode, r_reason)))
    return err;
  if ((err = write_conf (ctx->gnupg_home, mode, word, &changed, r_reason)))
    return err;
  /* A running dirmngr keeps the settings it started with.  */
  if (changed)
    run_gpgconf (ctx->gnupg_home, "--kill", "dirmngr");
  return 0;
}


/*
 * GPGME for CMS.
 */

/* A CMS context on HOMEDIR; VALIDATE asks gpgsm to validate the chain
 * of each listed certificate.  Only with revocation checking off is
 * gpgsm told it is offline (which would skip the checks).  */
static gpg_error_t
cms_new (const char *homedir, int validate, enum revocation mode,
         gpgme_ctx_t *r_gctx, char **r_reason)
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
      return pani_reason (r_reason, err, "cannot start gpgsm through GPGME"
                          " for %s: %s", homedir, gpg_strerror (err));
    }
  gpgme_set_offline (gctx, mode == REVOCATION_OFF);
  *r_gctx = gctx;
  return 0;
}

/* Export the certificate FPR from GCTX as DER into malloc'ed *R_DER.  */
static gpg_error_t
export_der (gpgme_ctx_t gctx, const char *fpr, char **r_der, size_t *r_len)
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

/* Store the hex SHA-256 of DER/LEN in HEX (65 bytes).  */
static void
sha256_hex (const void *der, size_t len, char *hex)
{
  unsigned char digest[32];

  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, der, len);
  hex_encode (digest, sizeof digest, hex);
}

/* Import DATA/LEN into GCTX; *R_NEW (if not NULL) gets the malloc'ed
 * NULL-terminated list of fingerprints that were new there.  */
static gpg_error_t
import_buf (gpgme_ctx_t gctx, const void *data, size_t len, char ***r_new)
{
  gpg_error_t err;
  gpgme_data_t in = NULL;
  gpgme_import_result_t res;
  size_t n = 0;

  if (r_new)
    *r_new = NULL;
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
  if (!r_new)
    return 0;
  if (!(*r_new = calloc (res->considered + 1, sizeof **r_new)))
    return gpg_error_from_syserror ();
  for (gpgme_import_status_t st = res->imports; st; st = st->next)
    if (st->fpr && !st->result && (st->status & GPGME_IMPORT_NEW)
        && n < (size_t)res->considered)
      if (!((*r_new)[n++] = pani_strdup (st->fpr)))
        return gpg_error_from_syserror ();
  return 0;
}

/* Delete the certificates FPRS from GCTX (undoing an import).  */
static void
delete_certs (gpgme_ctx_t gctx, char **fprs)
{
  for (size_t i = 0; fprs && fprs[i]; i++)
    {
      gpgme_key_t key = NULL;

      if (!pani_get_pinned_key (gctx, fprs[i], &key))
        gpgme_op_delete_ext (gctx, key, GPGME_DELETE_FORCE);
      gpgme_key_unref (key);
    }
}


/*
 * The scratch GnuPG home where given certificates are inspected.
 */

struct scratch
{
  char *dir;
  gpgme_ctx_t gctx;
  gpgme_key_t keys[MAX_CERTS + 1];
  size_t nkeys;
};

static void
scratch_release (struct scratch *s)
{
  for (size_t i = 0; i < s->nkeys; i++)
    gpgme_key_unref (s->keys[i]);
  gpgme_release (s->gctx);
  if (s->dir)
    {
      run_gpgconf (s->dir, "--kill", "all");
      nftw (s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
  free (s->dir);
  memset (s, 0, sizeof *s);
}

/* Make the scratch home with CRL checks off (it checks structure; the
 * home checks revocation) and list into S the certificates of
 * DATA/LEN.  */
static gpg_error_t
scratch_load (pan_ctx_t ctx, struct scratch *s, const void *data,
              size_t len, char **r_reason)
{
  gpg_error_t err;
  int changed;
  gpgme_key_t key;

  memset (s, 0, sizeof *s);
  if (!(s->dir = pani_strdupf ("%s/spool/certcheck.XXXXXX", ctx->home)))
    return gpg_error_from_syserror ();
  if (!mkdtemp (s->dir))
    {
      err = pani_reason_sys (r_reason, s->dir);
      free (s->dir);
      s->dir = NULL;
      return err;
    }
  if ((err = write_conf (s->dir, REVOCATION_OFF, "off", &changed, r_reason))
      || (err = cms_new (s->dir, 0, REVOCATION_OFF, &s->gctx, r_reason)))
    return err;
  err = import_buf (s->gctx, data, len, NULL);
  if (gpg_err_code (err) == GPG_ERR_FORBIDDEN)
    return pani_reason (r_reason, err, "the file holds a private key;"
                        " give only the certificate");
  if (err)
    return pani_reason (r_reason, err, "the file holds no certificate that"
                        " gpgsm can read (PEM, DER or PKCS#7): %s",
                        gpg_strerror (err));
  if ((err = gpgme_op_keylist_start (s->gctx, NULL, 0)))
    return err;
  while (!(err = gpgme_op_keylist_next (s->gctx, &key)))
    if (s->nkeys < MAX_CERTS)
      s->keys[s->nkeys++] = key;
    else
      gpgme_key_unref (key);
  gpgme_op_keylist_end (s->gctx);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

/* Return the certificate in S whose SHA-1 or SHA-256 fingerprint is
 * PIN (not referenced), or NULL.  */
static gpgme_key_t
scratch_find (struct scratch *s, const char *pin)
{
  char hex[65], *der;
  size_t len;

  for (size_t i = 0; i < s->nkeys; i++)
    {
      gpgme_key_t key = s->keys[i];

      if (!key->subkeys || !key->subkeys->fpr)
        continue;
      if (!pani_ascii_casecmp (key->subkeys->fpr, pin))
        return key;
      if (strlen (pin) != 64 || export_der (s->gctx, key->subkeys->fpr,
                                            &der, &len))
        continue;
      sha256_hex (der, len, hex);
      gpgme_free (der);
      if (!pani_ascii_casecmp (hex, pin))
        return key;
    }
  return NULL;
}

static gpg_error_t
find_pinned (struct scratch *s, const char *pin, const char *what,
             gpgme_key_t *r_key, char **r_reason)
{
  if ((*r_key = scratch_find (s, pin)))
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                      "the file holds no %s with the SHA-1 or SHA-256"
                      " fingerprint %s; check the file and the"
                      " fingerprint you were given", what, pin);
}

/* Copy the certificate FPR from S into the home behind GCTX.  */
static gpg_error_t
copy_cert (struct scratch *s, gpgme_ctx_t gctx, const char *fpr,
           char ***r_new, char **r_reason)
{
  gpg_error_t err;
  char *der = NULL;
  size_t len;

  if (!(err = export_der (s->gctx, fpr, &der, &len)))
    err = import_buf (gctx, der, len, r_new);
  gpgme_free (der);
  if (err)
    pani_reason (r_reason, err, "importing certificate %s failed: %s",
                 fpr, gpg_strerror (err));
  return err;
}


/*
 * Checks of one certificate.
 */

static gpg_error_t
check_dates (gpgme_key_t key, time_t now, char **r_reason)
{
  gpgme_subkey_t sub = key->subkeys;

  if (sub->timestamp > 0 && sub->timestamp > now)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_TOO_YOUNG),
                        "certificate %s is not valid yet (notBefore is"
                        " in the future)", sub->fpr);
  if (sub->expires > 0 && sub->expires <= now)
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                        "certificate %s has expired; ask for a renewed"
                        " certificate", sub->fpr);
  return 0;
}

static int
is_self_signed (gpgme_key_t key)
{
  return key->chain_id && !pani_ascii_casecmp (key->chain_id,
                                               key->subkeys->fpr);
}

/* True if KEY carries the e-mail address ADDR (normal form).  */
static int
has_address (gpgme_key_t key, const char *addr)
{
  int found = 0;

  for (gpgme_user_id_t uid = key->uids; uid && !found; uid = uid->next)
    {
      char *norm = NULL;

      /* For X.509 GPGME puts "<addr>" in email; address is bare.  */
      if (!uid->address || !*uid->address)
        continue;
      if (!pan_addr_normalize (uid->address, &norm, NULL))
        found = !strcmp (norm, addr);
      free (norm);
    }
  return found;
}

/* The checks of a recipient certificate that need no chain.  */
static gpg_error_t
check_leaf (gpgme_key_t key, const char *addr, time_t now, char **r_reason)
{
  gpg_error_t err;
  const char *fpr = key->subkeys->fpr;

  if ((err = check_dates (key, now, r_reason)))
    return err;
  if (key->revoked || key->subkeys->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "certificate %s is revoked", fpr);
  if (!key->can_encrypt || !key->subkeys->can_encrypt)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "certificate %s does not allow encryption (its"
                        " keyUsage lacks keyEncipherment); ask for an"
                        " encryption certificate", fpr);
  if (addr && !has_address (key, addr))
    return pani_reason (r_reason, gpg_error (GPG_ERR_WRONG_NAME),
                        "certificate %s is not issued to %s (neither"
                        " subjectAltName nor subject holds it)", fpr, addr);
  return 0;
}

static const char *
mode_text (enum revocation mode)
{
  switch (mode)
    {
    case REVOCATION_OFF: return "off";
    case REVOCATION_CRL: return "crl";
    default: return "ocsp";
    }
}

/* Ask gpgsm why it refuses KEY: encrypt nothing to it and return the
 * reason of the refusal (or GPG_ERR_BAD_CERT_CHAIN).  */
static gpg_error_t
why_invalid (gpgme_ctx_t gctx, gpgme_key_t key)
{
  gpg_error_t err;
  gpgme_key_t keys[2] = { key, NULL };
  gpgme_data_t plain = NULL, cipher = NULL;
  gpgme_encrypt_result_t res;

  gpgme_set_keylist_mode (gctx, GPGME_KEYLIST_MODE_LOCAL);
  if ((err = gpgme_data_new_from_mem (&plain, "", 0, 0))
      || (err = gpgme_data_new (&cipher)))
    goto leave;
  err = gpgme_op_encrypt (gctx, keys, GPGME_ENCRYPT_NO_ENCRYPT_TO, plain,
                          cipher);
  res = gpgme_op_encrypt_result (gctx);
  if (res && res->invalid_recipients && res->invalid_recipients->reason)
    err = res->invalid_recipients->reason;
  else if (!err)
    err = gpg_error (GPG_ERR_BAD_CERT_CHAIN);
 leave:
  gpgme_data_release (plain);
  gpgme_data_release (cipher);
  return err;
}

static gpg_error_t
explain_invalid (gpgme_ctx_t gctx, gpgme_key_t key, enum revocation mode,
                 char **r_reason)
{
  gpg_error_t err = why_invalid (gctx, key);
  const char *fpr = key->subkeys->fpr;

  if (gpg_err_code (err) == GPG_ERR_CERT_REVOKED)
    return pani_reason (r_reason, err, "certificate %s is revoked", fpr);
  if (gpg_err_code (err) == GPG_ERR_BAD_CERT_CHAIN
      || gpg_err_code (err) == GPG_ERR_NOT_TRUSTED
      || gpg_err_code (err) == GPG_ERR_MISSING_CERT
      || gpg_err_code (err) == GPG_ERR_MISSING_ISSUER_CERT)
    return pani_reason (r_reason, err, "certificate %s does not chain to a"
                        " CA trusted in this home (%s); trust its root"
                        " with 'pankey trust-ca' or give the chain",
                        fpr, gpg_strerror (err));
  /* A status that could not be had is a refusal by policy, whatever
   * code gpgsm gave for it.  */
  if (mode != REVOCATION_OFF)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_CRL_KNOWN),
                        "certificate %s: gpgsm could not"
                        " establish that it is not revoked"
                        " (smime-revocation-check %s): %s; make the CRL"
                        " or OCSP responder reachable (or load the CRL"
                        " with 'gpgsm --call-dirmngr loadcrl')", fpr,
                        mode_text (mode), gpg_strerror (err));
  return pani_reason (r_reason, err, "gpgsm refuses certificate %s: %s",
                      fpr, gpg_strerror (err));
}

/* The chain as gpgsm validated it for KEY (listed with validation).  */
static gpg_error_t
check_chain (gpgme_ctx_t gctx, gpgme_key_t key, enum revocation mode,
             char **r_reason)
{
  gpgme_validity_t validity = key->uids ? key->uids->validity
    : GPGME_VALIDITY_UNKNOWN;

  if (key->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "certificate %s is revoked", key->subkeys->fpr);
  if (key->invalid || key->subkeys->invalid || validity < GPGME_VALIDITY_FULL)
    return explain_invalid (gctx, key, mode, r_reason);
  return 0;
}

/* Look the pinned FPR up with validation and check it at NOW.  */
static gpg_error_t
check_pinned (pan_ctx_t ctx, const char *fpr, time_t now, const char *addr,
              time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  enum revocation mode = REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if ((err = get_mode (ctx, &mode, r_reason))
      || (err = pani_smime_configure (ctx, NULL, r_reason))
      || (err = cms_new (ctx->gnupg_home, 1, mode, &gctx, r_reason)))
    return err;
  err = pani_get_pinned_key (gctx, fpr, &key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    pani_reason (r_reason, err, "the pinned certificate %s is missing from"
                 " %s; enroll it again", fpr, ctx->gnupg_home);
  else if (err)
    pani_reason (r_reason, err, "looking up certificate %s: %s", fpr,
                 gpg_strerror (err));
  else if (!(err = check_leaf (key, addr, now, r_reason)))
    err = check_chain (gctx, key, mode, r_reason);
  if (!err && r_expires)
    *r_expires = key->subkeys->expires;
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pani_smime_check (pan_ctx_t ctx, const char *fpr, time_t now,
                  time_t *r_expires, char **r_reason)
{
  if (r_expires)
    *r_expires = 0;
  if (!fpr || strlen (fpr) != 40)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                        "an S/MIME certificate is pinned by its 40-digit"
                        " SHA-1 fingerprint, not \"%s\"", fpr ? fpr : "");
  return check_pinned (ctx, fpr, now, NULL, r_expires, r_reason);
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
                        " CAs outside this home; remove the line", lineno);
  if (!parse_trust_fpr (&p, end, fpr)
      || (flags = trust_flags_smime (p, end)) < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "trustlist.txt:%u: not \"FINGERPRINT S\"; fix or"
                        " remove the line", lineno);
  if (flags && !(fprs[(*n)++] = pani_strdup (fpr)))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pan_smime_trustlist_parse (const void *buf, size_t len, char ***r_fprs,
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
read_trustlist (pan_ctx_t ctx, char **r_text, size_t *r_len,
                char ***r_fprs, size_t *r_count, char **r_reason)
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
    err = pan_smime_trustlist_parse (*r_text, *r_len, r_fprs, r_count,
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
                          len ? "" : "# Root CAs trusted for S/MIME, added"
                          " with 'pankey trust-ca'.\n",
                          subject ? subject : "(no subject)", fpr);
  if (!path || !newtext)
    err = gpg_error_from_syserror ();
  else
    err = pani_write_file_atomic (path, newtext, strlen (newtext), 0600,
                                  r_reason);
 leave:
  if (!err && run_gpgconf (ctx->gnupg_home, "--reload", "gpg-agent"))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                       "gpg-agent of %s did not reload %s",
                       ctx->gnupg_home, TRUSTLIST_FILE);
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
check_ca_in_scratch (struct scratch *s, gpgme_key_t key, char **r_reason)
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
  gpgme_set_keylist_mode (s->gctx, GPGME_KEYLIST_MODE_LOCAL
                          | GPGME_KEYLIST_MODE_VALIDATE);
  if ((err = pani_get_pinned_key (s->gctx, key->subkeys->fpr, &vkey)))
    goto leave;
  if (vkey->invalid || !vkey->uids
      || vkey->uids->validity != GPGME_VALIDITY_ULTIMATE)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                       "gpgsm does not accept certificate %s as a root CA"
                       " (is basicConstraints cA set?)", key->subkeys->fpr);
 leave:
  gpgme_key_unref (vkey);
  free (line);
  free (path);
  return err;
}

static gpg_error_t
check_ca (struct scratch *s, gpgme_key_t key, time_t now, char **r_reason)
{
  gpg_error_t err;
  const char *fpr = key->subkeys->fpr;

  if (!is_self_signed (key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                        "certificate %s is not self-signed; trust the root"
                        " CA of its chain, not an intermediate", fpr);
  if (!key->can_certify)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_CA_CERT),
                        "certificate %s is not a CA certificate (its"
                        " keyUsage lacks keyCertSign)", fpr);
  if ((err = check_dates (key, now, r_reason)))
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

  if ((err = cms_new (ctx->gnupg_home, 1, REVOCATION_OFF, &gctx, r_reason)))
    return err;
  if (!(err = pani_get_pinned_key (gctx, fpr, &key))
      && (key->invalid || !key->uids
          || key->uids->validity != GPGME_VALIDITY_ULTIMATE))
    err = gpg_error (GPG_ERR_NOT_TRUSTED);
  if (err)
    pani_reason (r_reason, err, "gpgsm in %s does not trust CA %s after"
                 " adding it: %s", ctx->gnupg_home, fpr, gpg_strerror (err));
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

static gpg_error_t
install_ca (pan_ctx_t ctx, struct scratch *s, gpgme_key_t key,
            char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  const char *fpr = key->subkeys->fpr;

  if ((err = cms_new (ctx->gnupg_home, 0, REVOCATION_OFF, &gctx, r_reason)))
    return err;
  if (!(err = copy_cert (s, gctx, fpr, NULL, r_reason))
      && !(err = add_to_trustlist (ctx, fpr, key->uids ? key->uids->uid
                                   : NULL, r_reason)))
    err = check_trusted_in_home (ctx, fpr, r_reason);
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pan_smime_trust_ca (pan_ctx_t ctx, const char *fpr_in, const void *data,
                    size_t len, time_t now, char **r_fpr, char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  char *pin = NULL;
  gpgme_key_t key;

  memset (&s, 0, sizeof s);
  if (r_fpr)
    *r_fpr = NULL;
  if ((err = normalize_pin (fpr_in, &pin, r_reason))
      || (err = pani_smime_configure (ctx, NULL, r_reason)))
    goto leave;
  if (has_private_key (data, len))
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                         "the file holds a private key; give only the CA"
                         " certificate");
      goto leave;
    }
  if ((err = scratch_load (ctx, &s, data, len, r_reason))
      || (err = find_pinned (&s, pin, "certificate", &key, r_reason))
      || (err = check_ca (&s, key, now, r_reason))
      || (err = install_ca (ctx, &s, key, r_reason)))
    goto leave;
  if (r_fpr && !(*r_fpr = pani_strdup (key->subkeys->fpr)))
    err = gpg_error_from_syserror ();
 leave:
  scratch_release (&s);
  free (pin);
  return err;
}


/*
 * Enrollment.
 */

/* Append the strings of MORE to *LIST (both NULL-terminated).  */
static gpg_error_t
join_lists (char ***list, char **more)
{
  size_t n = 0, m = 0;
  char **tmp;

  while (*list && (*list)[n])
    n++;
  while (more && more[m])
    m++;
  if (!(tmp = realloc (*list, (n + m + 1) * sizeof *tmp)))
    return gpg_error_from_syserror ();
  memcpy (tmp + n, more ? more : tmp + n, m * sizeof *tmp);
  tmp[n + m] = NULL;
  *list = tmp;
  free (more);
  return 0;
}

/* Import the pinned KEY and the intermediate CAs of S into the home
 * behind GCTX; *R_NEW lists the certificates new there.  */
static gpg_error_t
install_chain (struct scratch *s, gpgme_ctx_t gctx, gpgme_key_t key,
               char ***r_new, char **r_reason)
{
  gpg_error_t err;
  char **more = NULL;

  *r_new = NULL;
  if ((err = copy_cert (s, gctx, key->subkeys->fpr, &more, r_reason))
      || (err = join_lists (r_new, more)))
    return err;
  for (size_t i = 0; i < s->nkeys; i++)
    {
      gpgme_key_t ca = s->keys[i];

      if (ca == key || !ca->can_certify || is_self_signed (ca))
        continue;
      more = NULL;
      if ((err = copy_cert (s, gctx, ca->subkeys->fpr, &more, r_reason))
          || (err = join_lists (r_new, more)))
        return err;
    }
  return 0;
}

static gpg_error_t
enroll_checked (pan_ctx_t ctx, struct scratch *s, gpgme_key_t key,
                const char *addr, time_t now, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  char **added = NULL;
  const char *fpr = key->subkeys->fpr;

  if ((err = cms_new (ctx->gnupg_home, 0, REVOCATION_OFF, &gctx, r_reason)))
    return err;
  err = install_chain (s, gctx, key, &added, r_reason);
  if (!err)
    err = check_pinned (ctx, fpr, now, addr, NULL, r_reason);
  if (err)
    delete_certs (gctx, added);
  pan_argv_release (added);
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pan_smime_enroll (pan_ctx_t ctx, const char *addr_in, const char *fpr_in,
                  const void *data, size_t len, time_t now, char **r_fpr,
                  char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  char *pin = NULL, *addr = NULL;
  gpgme_key_t key;

  memset (&s, 0, sizeof s);

  *r_fpr = NULL;
  if ((err = normalize_pin (fpr_in, &pin, r_reason))
      || (err = pan_addr_normalize (addr_in, &addr, r_reason))
      || (err = pani_smime_configure (ctx, NULL, r_reason)))
    goto leave;
  if (has_private_key (data, len))
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                         "the file holds a private key; give only the"
                         " certificate (and its chain)");
      goto leave;
    }
  if ((err = scratch_load (ctx, &s, data, len, r_reason))
      || (err = find_pinned (&s, pin, "certificate", &key, r_reason))
      || (err = check_leaf (key, addr, now, r_reason))
      || (err = enroll_checked (ctx, &s, key, addr, now, r_reason)))
    goto leave;
  if (!(*r_fpr = pani_strdup (key->subkeys->fpr)))
    err = gpg_error_from_syserror ();
 leave:
  scratch_release (&s);
  free (addr);
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
  char *der = NULL, hex[65];
  size_t len;

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
  if (!err && !export_der (gctx, ca->fpr, &der, &len))
    {
      sha256_hex (der, len, hex);
      gpgme_free (der);
      if (!(ca->sha256 = pani_strdup (hex)))
        err = gpg_error_from_syserror ();
    }
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
      || (err = cms_new (ctx->gnupg_home, 0, REVOCATION_OFF, &gctx,
                         r_reason)))
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


/*
 * Encryption.
 */

const char *
pani_smime_envelope_head (void)
{
  return "MIME-Version: 1.0\n"
    "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\n"
    "\tname=\"smime.p7m\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"smime.p7m\"\n"
    "Content-Description: S/MIME encrypted message\n"
    "\n";
}

static void
release_keys (gpgme_key_t *keys)
{
  for (size_t i = 0; keys && keys[i]; i++)
    gpgme_key_unref (keys[i]);
  free (keys);
}

/* Check every pinned certificate of FPRS and look each up in GCTX.  */
static gpg_error_t
collect_certs (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *const *fprs,
               size_t nfprs, time_t now, gpgme_key_t **r_keys,
               char **r_reason)
{
  gpg_error_t err = 0;
  gpgme_key_t *keys = calloc (nfprs + 1, sizeof *keys);

  *r_keys = NULL;
  if (!keys)
    return gpg_error_from_syserror ();
  for (size_t i = 0; !err && i < nfprs; i++)
    if (!(err = pani_smime_check (ctx, fprs[i], now, NULL, r_reason)))
      {
        err = pani_get_pinned_key (gctx, fprs[i], &keys[i]);
        if (err)
          pani_reason (r_reason, err, "certificate %s: %s", fprs[i],
                       gpg_strerror (err));
      }
  if (err)
    {
      release_keys (keys);
      return err;
    }
  *r_keys = keys;
  return 0;
}

static gpg_error_t
check_result (gpgme_ctx_t gctx, char **r_reason)
{
  gpgme_encrypt_result_t res = gpgme_op_encrypt_result (gctx);

  if (!res)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpgsm gave no encryption result");
  if (res->invalid_recipients)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "gpgsm refused certificate %s: %s",
                        res->invalid_recipients->fpr
                        ? res->invalid_recipients->fpr : "?",
                        gpg_strerror (res->invalid_recipients->reason));
  return 0;
}

/* Write the ciphertext to the spool fd through a callback: GPGME hands
 * an fd-based data object straight to gpgsm and closes it afterwards,
 * which would close the spool file under send.c.  */
static ssize_t
spool_write_cb (void *handle, const void *buffer, size_t size)
{
  return pani_write_all (*(int *)handle, buffer, size) ? -1 : (ssize_t)size;
}

/* Make GCTX sign with the certificate SIGNER, whose secret key is in
 * the home.  GPGME takes no passphrase callback for gpgsm, so the key's
 * passphrase must be in gpg-agent (preset by the operator).  */
static gpg_error_t
add_signer (gpgme_ctx_t gctx, const char *signer, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  err = gpgme_get_key (gctx, signer, &key, 1);
  if (err || !key || !key->can_sign)
    {
      gpgme_key_unref (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                          "the S/MIME signing certificate %s"
                          " (smime-signing-cert) has no usable secret key"
                          " in the home; nothing was sent", signer);
    }
  err = gpgme_signers_add (gctx, key);
  gpgme_key_unref (key);
  return err;
}

gpg_error_t
pani_smime_sign_stream (pan_ctx_t ctx, const char *signer,
                        const char *passphrase, gpgme_data_t plain,
                        gpgme_data_t out, char **r_reason)
{
  gpg_error_t err;
  enum revocation mode = REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_sign_result_t res;

  if ((err = get_mode (ctx, &mode, r_reason))
      || (err = cms_new (ctx->gnupg_home, 0, mode, &gctx, r_reason))
      || (err = add_signer (gctx, signer, r_reason))
      || (err = gpgme_data_set_encoding (out, GPGME_DATA_ENCODING_BASE64)))
    goto leave;
  gpgme_set_armor (gctx, 0);
  err = gpgme_op_sign (gctx, plain, out, GPGME_SIG_MODE_NORMAL);
  res = err ? NULL : gpgme_op_sign_result (gctx);
  /* Whatever gpgsm says, the configured signer could not sign.  */
  if (err)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "S/MIME signing with %s failed: %s (is its"
                       " passphrase preset in gpg-agent?); nothing was"
                       " sent", signer, gpg_strerror (err));
  else if (!res || res->invalid_signers || !res->signatures)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the message could not be signed with %s; nothing"
                       " was sent", signer);
 leave:
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pani_smime_encrypt_stream (pan_ctx_t ctx, const char *const *fprs,
                           size_t nfprs, gpgme_data_t plain, int out_fd,
                           time_t now, char **r_reason)
{
  gpg_error_t err;
  enum revocation mode = REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t *keys = NULL;
  gpgme_data_t cipher = NULL;
  static struct gpgme_data_cbs cbs = { NULL, spool_write_cb, NULL, NULL };

  if (!nfprs)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_USER_ID),
                        "no S/MIME recipients to encrypt to");
  if ((err = get_mode (ctx, &mode, r_reason))
      || (err = cms_new (ctx->gnupg_home, 0, mode, &gctx, r_reason))
      || (err = collect_certs (ctx, gctx, fprs, nfprs, now, &keys,
                               r_reason)))
    goto leave;
  if ((err = gpgme_data_new_from_cbs (&cipher, &cbs, &out_fd))
      || (err = gpgme_data_set_encoding (cipher,
                                         GPGME_DATA_ENCODING_BASE64)))
    goto leave;
  gpgme_data_set_flag (plain, "sensitive", "1");
  gpgme_set_armor (gctx, 0);
  err = gpgme_op_encrypt (gctx, keys, GPGME_ENCRYPT_NO_ENCRYPT_TO, plain,
                          cipher);
  if (err)
    pani_reason (r_reason, err, "S/MIME encryption failed: %s",
                 gpg_strerror (err));
  else
    err = check_result (gctx, r_reason);
 leave:
  gpgme_data_release (cipher);
  release_keys (keys);
  gpgme_release (gctx);
  return err;
}
