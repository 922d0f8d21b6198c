/* smime.c - S/MIME recipients through gpgsm: the S/MIME table of
 * operations
 *
 * A recipient is pinned to one X.509 certificate by its SHA-1
 * fingerprint.  Its checks (validity, key usage, address, and the chain
 * as gpgsm validates it with the configured revocation checking, see
 * smime-trust.c), its enrollment and the encryption of a copy (CMS
 * enveloped-data, signed-data inside it if smime-signing-cert is set,
 * RFC 8551) are here.  */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "engine-int.h"
#include "seal-int.h"
#include "smime-trust-int.h"
#include "crl-int.h"
#include "proto-int.h"
#include "smime-int.h"


/*
 * Checks of one certificate.
 */

/* True if KEY carries the e-mail address ADDR (normal form, matched as
 * CONFIG says).  */
static int
has_address (pan_config_t config, gpgme_key_t key, const char *addr)
{
  int found = 0;

  for (gpgme_user_id_t uid = key->uids; uid && !found; uid = uid->next)
    {
      char *norm = NULL;

      /* For X.509 GPGME puts "<addr>" in email; address is bare.  */
      if (!pani_uid_address (uid, &norm))
        found = pan_addr_same (config, norm, addr);
      free (norm);
    }
  return found;
}

/* The checks of a recipient certificate that need no chain.  */
static gpg_error_t
check_leaf (pan_ctx_t ctx, gpgme_key_t key, const char *addr, time_t now,
            char **r_reason)
{
  gpg_error_t err;
  const char *fpr = key->subkeys->fpr;

  if ((err = pani_smime_check_dates (key, now, r_reason)))
    return err;
  if (key->revoked || key->subkeys->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "certificate %s is revoked", fpr);
  if (!key->can_encrypt || !key->subkeys->can_encrypt)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "certificate %s does not allow encryption (its"
                        " keyUsage lacks keyEncipherment); ask for an"
                        " encryption certificate",
                        fpr);
  if (addr && !has_address (ctx->config, key, addr))
    return pani_reason (r_reason, gpg_error (GPG_ERR_WRONG_NAME),
                        "certificate %s is not issued to %s (neither"
                        " subjectAltName nor subject holds it)",
                        fpr, addr);
  return 0;
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
explain_invalid (pan_ctx_t ctx, gpgme_ctx_t gctx, gpgme_key_t key,
                 enum pani_revocation mode, time_t now, char **r_reason)
{
  gpg_error_t err = why_invalid (gctx, key);
  const char *fpr = key->subkeys->fpr;

  if (gpg_err_code (err) == GPG_ERR_CERT_REVOKED)
    return pani_reason (r_reason, err, "certificate %s is revoked", fpr);
  if (gpg_err_code (err) == GPG_ERR_BAD_CERT_CHAIN
      || gpg_err_code (err) == GPG_ERR_NOT_TRUSTED
      || gpg_err_code (err) == GPG_ERR_MISSING_CERT
      || gpg_err_code (err) == GPG_ERR_MISSING_ISSUER_CERT)
    return pani_reason (r_reason, err,
                        "certificate %s does not chain to a"
                        " CA trusted in this home (%s); trust its root"
                        " with 'pankey trust-ca' or give the chain",
                        fpr, gpg_strerror (err));
  /* A status that could not be had is a refusal by policy, whatever
   * code gpgsm gave for it.  */
  if (mode != PANI_REVOCATION_OFF)
    return pani_crl_explain (ctx, key, pani_smime_mode_name (mode), err, now,
                             r_reason);
  return pani_reason (r_reason, err, "gpgsm refuses certificate %s: %s", fpr,
                      gpg_strerror (err));
}

/* The chain as gpgsm validated it for KEY (listed with validation).  */
static gpg_error_t
check_chain (pan_ctx_t ctx, gpgme_ctx_t gctx, gpgme_key_t key,
             enum pani_revocation mode, time_t now, char **r_reason)
{
  gpgme_validity_t validity = key->uids ? key->uids->validity
                                        : GPGME_VALIDITY_UNKNOWN;

  if (key->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "certificate %s is revoked", key->subkeys->fpr);
  if (key->invalid || key->subkeys->invalid
      || validity < GPGME_VALIDITY_FULL)
    return explain_invalid (ctx, gctx, key, mode, now, r_reason);
  return 0;
}

/* Look the pinned FPR up with validation and check it at NOW.  */
static gpg_error_t
check_pinned (pan_ctx_t ctx, const char *fpr, time_t now, const char *addr,
              time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  enum pani_revocation mode = PANI_REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if ((err = pani_smime_mode (ctx, &mode, r_reason))
      || (err = pani_smime_configure (ctx, NULL, r_reason))
      || (err = pani_smime_cms_new (ctx->gnupg_home, 1, mode, &gctx,
                                    r_reason)))
    return err;
  err = pani_get_pinned_key (gctx, fpr, &key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    pani_reason (r_reason, err,
                 "the pinned certificate %s is missing from"
                 " %s; enroll it again",
                 fpr, ctx->gnupg_home);
  else if (err)
    pani_reason (r_reason, err, "looking up certificate %s: %s", fpr,
                 gpg_strerror (err));
  else if (!(err = check_leaf (ctx, key, addr, now, r_reason)))
    err = check_chain (ctx, gctx, key, mode, now, r_reason);
  if (!err && r_expires)
    *r_expires = key->subkeys->expires;
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

/* Check that the pinned certificate FPR (40 hex digits, its SHA-1
 * fingerprint) in the GnuPG home of CTX can be encrypted to at NOW:
 * present (GPG_ERR_NO_PUBKEY), within its validity period
 * (GPG_ERR_KEY_EXPIRED, GPG_ERR_CERT_TOO_YOUNG), allowing encryption
 * (GPG_ERR_UNUSABLE_PUBKEY), not revoked (GPG_ERR_CERT_REVOKED) and
 * validated by gpgsm up to a CA trusted in the home, with the
 * configured revocation checking (GPG_ERR_BAD_CERT_CHAIN, or gpgsm's
 * own code, e.g. GPG_ERR_NO_CRL_KNOWN, when the check could not be
 * done).  If R_EXPIRES is not NULL the certificate's notAfter is stored
 * there.  */
static gpg_error_t
smime_check (pan_ctx_t ctx, const char *fpr, time_t now, time_t *r_expires,
             char **r_reason)
{
  if (r_expires)
    *r_expires = 0;
  if (!fpr || strlen (fpr) != 40)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                        "an S/MIME certificate is pinned by its 40-digit"
                        " SHA-1 fingerprint, not \"%s\"",
                        fpr ? fpr : "");
  return check_pinned (ctx, fpr, now, NULL, r_expires, r_reason);
}

/* What gpgsm says of the S/MIME certificate FPR at NOW: a certificate
 * whose chain, validity or revocation check fails is not usable, and
 * the policy verdict names why.  */
static gpg_error_t
smime_describe (pan_ctx_t ctx, const char *fpr, time_t now,
                struct pan_key_info *info, char **r_reason)
{
  gpg_error_t err;
  char *why = NULL;

  err = smime_check (ctx, fpr, now, &info->expires, &why);
  snprintf (info->algorithm, sizeof info->algorithm, "x509");
  info->present = gpg_err_code (err) != GPG_ERR_NO_PUBKEY;
  info->revoked = gpg_err_code (err) == GPG_ERR_CERT_REVOKED;
  info->expired = gpg_err_code (err) == GPG_ERR_KEY_EXPIRED
    || gpg_err_code (err) == GPG_ERR_CERT_EXPIRED;
  info->usable = !err;
  if (err && info->present && !info->revoked && !info->expired)
    {
      info->policy = PAN_SEVERITY_CRITICAL;
      info->policy_reason = pani_strdupf ("the certificate does not"
                                          " validate: %s; check its chain"
                                          " and revocation status",
                                          why ? why : gpg_strerror (err));
    }
  if (!info->present)
    pani_reason (r_reason, err, "%s", why ? why : gpg_strerror (err));
  free (why);
  return info->present ? 0 : err;
}


/*
 * Enrollment.
 */

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

/* Import the pinned KEY and the intermediate CAs of S into the home
 * behind GCTX; *NEW lists the certificates new there, also after an
 * error.  */
static gpg_error_t
install_chain (struct pani_smime_scratch *s, gpgme_ctx_t gctx,
               gpgme_key_t key, char ***new, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_smime_copy_cert (s, gctx, key->subkeys->fpr, new,
                                   r_reason)))
    return err;
  for (size_t i = 0; i < s->nkeys; i++)
    {
      gpgme_key_t ca = s->keys[i];

      if (ca == key || !ca->can_certify || pani_smime_is_self_signed (ca))
        continue;
      if ((err = pani_smime_copy_cert (s, gctx, ca->subkeys->fpr, new,
                                       r_reason)))
        return err;
    }
  return 0;
}

static gpg_error_t
enroll_checked (pan_ctx_t ctx, struct pani_smime_scratch *s, gpgme_key_t key,
                const char *addr, time_t now, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  char **added = NULL;
  const char *fpr = key->subkeys->fpr;

  if ((err = pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF,
                                 &gctx, r_reason)))
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
pani_smime_enroll (pan_ctx_t ctx, const char *addr_in, const char *fpr_in,
                   const void *data, size_t len, time_t now, char **r_fpr,
                   char **r_reason)
{
  gpg_error_t err;
  struct pani_smime_scratch s;
  char *pin = NULL, *addr = NULL;
  gpgme_key_t key;

  memset (&s, 0, sizeof s);
  if (r_fpr)
    *r_fpr = NULL;
  if ((err = pan_fpr_normalize (fpr_in, &pin, r_reason))
      || (err = pan_addr_normalize (addr_in, &addr, r_reason))
      || (err = pani_smime_scratch_open (ctx, pin, data, len,
                                         "certificate (and its chain)", &s,
                                         &key, r_reason))
      || (err = check_leaf (ctx, key, addr, now, r_reason))
      || (err = enroll_checked (ctx, &s, key, addr, now, r_reason)))
    goto leave;
  if (r_fpr && !(*r_fpr = pani_strdup (key->subkeys->fpr)))
    err = gpg_error (GPG_ERR_ENOMEM);
leave:
  pani_smime_scratch_release (&s);
  free (addr);
  free (pin);
  return err;
}


/*
 * Encryption.
 */

/* The MIME fields (LF line ends) and the empty line that head an S/MIME
 * enveloped-data entity whose body is the base64 text gpgsm writes.  No
 * tail is needed: that text ends with a line end.  */
static const char envelope_head[] =
  "MIME-Version: 1.0\n"
  "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;\n"
  "\tname=\"smime.p7m\"\n"
  "Content-Transfer-Encoding: base64\n"
  "Content-Disposition: attachment; filename=\"smime.p7m\"\n"
  "Content-Description: S/MIME encrypted message\n"
  "\n";

/* The head of the signed entity that is encrypted (CRLF: canonical).  */
static const char signed_head[] =
  "Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n"
  " name=\"smime.p7m\"\r\n"
  "Content-Transfer-Encoding: base64\r\n"
  "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n";

/* Check every pinned certificate of REQ and look each up in GCTX.  */
static gpg_error_t
collect_certs (const struct pani_encrypt_req *req, gpgme_ctx_t gctx,
               gpgme_key_t **r_keys, char **r_reason)
{
  gpg_error_t err = 0;
  gpgme_key_t *keys = calloc (req->nrcpts + 1, sizeof *keys);
  const char *fpr;

  *r_keys = NULL;
  if (!keys)
    return gpg_error (GPG_ERR_ENOMEM);
  for (size_t i = 0; !err && i < req->nrcpts; i++)
    if (!(err = smime_check (req->ctx, (fpr = req->fprs[i]), req->now, NULL,
                             r_reason)))
      {
        err = pani_get_pinned_key (gctx, fpr, &keys[i]);
        if (err)
          pani_reason (r_reason, err, "certificate %s: %s", fpr,
                       gpg_strerror (err));
      }
  if (err)
    {
      pani_release_keys (keys);
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
                          ? res->invalid_recipients->fpr
                          : "?",
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

/* Encrypt PLAIN with gpgsm to the certificates of REQ, each checked
 * first, and append the CMS enveloped-data as base64 lines to
 * REQ->OUT_FD.  The content is encrypted with AES-256-CBC (cipher-algo
 * in gpgsm.conf).  Any recipient gpgsm refuses fails the whole
 * message.  */
static gpg_error_t
encrypt_stream (const struct pani_encrypt_req *req, gpgme_data_t plain,
                char **r_reason)
{
  gpg_error_t err;
  enum pani_revocation mode = PANI_REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t *keys = NULL;
  gpgme_data_t cipher = NULL;
  int out_fd = req->out_fd;
  static struct gpgme_data_cbs cbs = { NULL, spool_write_cb, NULL, NULL };

  if ((err = pani_smime_mode (req->ctx, &mode, r_reason))
      || (err = pani_smime_cms_new (req->ctx->gnupg_home, 0, mode, &gctx,
                                    r_reason))
      || (err = collect_certs (req, gctx, &keys, r_reason))
      || (err = gpgme_data_new_from_cbs (&cipher, &cbs, &out_fd))
      || (err = gpgme_data_set_encoding (cipher,
                                         GPGME_DATA_ENCODING_BASE64)))
    goto leave;
  pani_data_streaming (plain, 1);
  pani_data_streaming (cipher, 0);
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
  pani_release_keys (keys);
  gpgme_release (gctx);
  return err;
}


/*
 * Signing before encryption.
 */

/* Make GCTX sign with the certificate SIGNER, whose secret key is in
 * the home.  GPGME takes no passphrase callback for gpgsm, so the key's
 * passphrase must be in gpg-agent (preset by the operator).  */
static gpg_error_t
add_signer (gpgme_ctx_t gctx, const char *signer, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  err = pani_get_one_key (gctx, signer, 1, &key);
  if (err || !key || !key->can_sign)
    {
      gpgme_key_unref (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                          "the S/MIME signing certificate %s"
                          " (smime-signing-cert) has no usable secret key"
                          " in the home; nothing was sent",
                          signer);
    }
  err = gpgme_signers_add (gctx, key);
  gpgme_key_unref (key);
  return err;
}

/* Sign PLAIN (a CRLF-canonical MIME entity) with the S/MIME certificate
 * SIGNER, its secret key in CTX's home, as opaque CMS signed-data
 * written base64 to OUT.  XXX: GPGME takes no passphrase callback for
 * gpgsm, so the passphrase given to pansend is not used: the key's
 * passphrase must be preset in gpg-agent.  */
static gpg_error_t
sign_stream (pan_ctx_t ctx, const char *signer, gpgme_data_t plain,
             gpgme_data_t out, char **r_reason)
{
  gpg_error_t err;
  enum pani_revocation mode = PANI_REVOCATION_CRL;
  gpgme_ctx_t gctx = NULL;
  gpgme_sign_result_t res;

  if ((err = pani_smime_mode (ctx, &mode, r_reason))
      || (err = pani_smime_cms_new (ctx->gnupg_home, 0, mode, &gctx,
                                    r_reason))
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
                       " sent",
                       signer, gpg_strerror (err));
  else if (!res || res->invalid_signers || !res->signatures)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the message could not be signed with %s; nothing"
                       " was sent",
                       signer);
leave:
  gpgme_release (gctx);
  return err;
}

/* The signed entity, made in a seal and read back for encryption.  */
struct signed_sink
{
  pani_seal_t seal;
  int prev_cr;
  gpg_error_t err;
};

/* Keep gpgsm's base64 lines, with CRLF ends: the entity that is
 * encrypted is canonical.  */
static ssize_t
signed_write_cb (void *handle, const void *buffer, size_t size)
{
  struct signed_sink *sink = handle;
  const char *p = buffer;

  for (size_t i = 0; !sink->err && i < size; i++)
    {
      if (p[i] == '\n' && !sink->prev_cr)
        sink->err = pani_seal_write (sink->seal, "\r", 1);
      if (!sink->err)
        sink->err = pani_seal_write (sink->seal, p + i, 1);
      sink->prev_cr = p[i] == '\r';
    }
  if (sink->err)
    {
      errno = EIO;
      return -1;
    }
  return size;
}

static ssize_t
seal_read_cb (void *handle, void *buffer, size_t size)
{
  size_t n = 0;

  if (pani_seal_read (handle, buffer, size, &n))
    {
      errno = EIO;
      return -1;
    }
  return n;
}

/* Sign the entity of REQ with SIGNER into SINK->seal (a sealed spool:
 * the signed entity still holds the plaintext) as an
 * application/pkcs7-mime signed-data entity.  */
static gpg_error_t
sign_to_seal (const struct pani_encrypt_req *req, const char *signer,
              struct signed_sink *sink, char **r_reason)
{
  gpg_error_t err;
  gpg_error_t failed;
  gpgme_data_t out = NULL;
  static struct gpgme_data_cbs out_cbs = { NULL, signed_write_cb, NULL,
                                           NULL };
  char *spool = pan_ctx_path (req->ctx, "spool");

  if (!spool)
    return gpg_error (GPG_ERR_ENOMEM);
  err = pani_seal_create (spool, &sink->seal);
  free (spool);
  if (err
      || (err = pani_seal_write (sink->seal, signed_head,
                                 strlen (signed_head)))
      || (err = gpgme_data_new_from_cbs (&out, &out_cbs, sink)))
    goto leave;
  pani_data_streaming (req->plain, 1);
  pani_data_streaming (out, 1);
  err = sign_stream (req->ctx, signer, req->plain, out, r_reason);
  if ((failed = *req->plain_err ? *req->plain_err : sink->err))
    err = pani_reason (r_reason, failed, "signing the message body: %s",
                       gpg_strerror (failed));
  if (!err)
    err = pani_seal_rewind (sink->seal);
leave:
  gpgme_data_release (out);
  return err;
}

/* Append the S/MIME part of REQ's message to REQ->OUT_FD: the envelope
 * head, then the entity of REQ encrypted, signed first (signed-data
 * inside enveloped-data, RFC 8551) if smime-signing-cert is set.  */
static gpg_error_t
smime_encrypt (const struct pani_encrypt_req *req, char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t sealed = NULL;
  static struct gpgme_data_cbs seal_cbs = { seal_read_cb, NULL, NULL, NULL };
  struct signed_sink sink = { NULL, 0, 0 };
  const char *signer;

  if ((err = pani_write_all (req->out_fd, envelope_head,
                             strlen (envelope_head))))
    return err;
  if (!req->nrcpts)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_USER_ID),
                        "no S/MIME recipients to encrypt to");
  signer = pan_config_get (pan_ctx_config (req->ctx), "smime-signing-cert");
  if (signer && *signer && strcmp (signer, "none"))
    {
      if (!(err = sign_to_seal (req, signer, &sink, r_reason))
          && !(
            err = gpgme_data_new_from_cbs (&sealed, &seal_cbs, sink.seal)))
        {
          pani_data_streaming (sealed, 1);
          err = encrypt_stream (req, sealed, r_reason);
        }
    }
  else
    err = encrypt_stream (req, req->plain, r_reason);
  if (*req->plain_err)
    err = pani_reason (r_reason, *req->plain_err,
                       "reading the message"
                       " body: %s",
                       gpg_strerror (*req->plain_err));
  gpgme_data_release (sealed);
  pani_seal_release (sink.seal);
  return err;
}


/*
 * Inspection: the certificates of a file, checked as enroll checks
 * them (the chain and revocation only at enroll, in the home).
 */

/* Describe the certificate KEY of the scratch S, check it as enroll
 * would at NOW without an address, and tell CB.  */
static gpg_error_t
inspect_one (pan_ctx_t ctx, struct pani_smime_scratch *s, gpgme_key_t key,
             time_t now, pani_inspect_cb_t cb, void *opaque)
{
  struct pan_key_info info;
  gpgme_subkey_t sub = key->subkeys;
  char hex[65], *why = NULL, *algo = gpgme_pubkey_algo_string (sub);
  gpg_error_t err;

  memset (&info, 0, sizeof info);
  info.protocol = PAN_PROTOCOL_SMIME;
  snprintf (info.fingerprint, sizeof info.fingerprint, "%s", sub->fpr);
  snprintf (info.algorithm, sizeof info.algorithm, "%s",
            algo ? algo : "x509");
  gpgme_free (algo);
  info.present = 1;
  info.bits = sub->length;
  info.created = sub->timestamp > 0 ? sub->timestamp : 0;
  info.expires = sub->expires > 0 ? sub->expires : 0;
  info.revoked = key->revoked || sub->revoked;
  info.expired = info.expires && info.expires <= now;
  pani_smime_cert_sha256 (s->gctx, sub->fpr, hex);
  if (key->can_certify)
    err = pani_reason (&why, gpg_error (GPG_ERR_BAD_CA_CERT),
                       "a CA certificate: trust a root CA with 'pankey"
                       " trust-ca'; enroll the partner's own certificate");
  else
    err = check_leaf (ctx, key, NULL, now, &why);
  info.usable = !err;
  err = cb (opaque, key, &info, *hex ? hex : NULL, err, why);
  free (why);
  return err;
}

static gpg_error_t
smime_inspect (pan_ctx_t ctx, const void *data, size_t len, time_t now,
               pani_inspect_cb_t cb, void *opaque, char **r_reason)
{
  struct pani_smime_scratch s;
  gpg_error_t err;

  memset (&s, 0, sizeof s);
  err = pani_smime_scratch_load (ctx, &s, data, len, r_reason);
  for (size_t i = 0; !err && i < s.nkeys; i++)
    err = inspect_one (ctx, &s, s.keys[i], now, cb, opaque);
  pani_smime_scratch_release (&s);
  return err;
}

const struct pani_proto_ops pani_smime_ops = {
  PAN_PROTOCOL_SMIME,
  smime_check,
  smime_describe,
  pani_smime_enroll,
  NULL, /* No refresh: enroll a renewed one.  */
  smime_encrypt,
  NULL, /* A certificate is its own key: the */
  NULL, /* fingerprint pins all that is used.  */
  smime_inspect
};
