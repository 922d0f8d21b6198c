/* openpgp-encrypt.c - encrypting one copy to OpenPGP keys: PGP/MIME
 *
 * gpg is given, through GPGME's recipient string, one pinned subkey
 * per recipient, named exactly ("FPR!"): gpg never chooses a subkey
 * itself, so one that reached the keyring without pankey is never used.
 * The subkey was chosen from the times the registry keeps (no key
 * listing: one gpg run for all recipients), or, for a record without
 * them, is the newest pinned subkey the keyring shows usable.  gpg
 * refuses a key revoked or expired since it was pinned; the refusal
 * names the recipient (REQ->REFUSED).  An empty recipient list would
 * make GPGME encrypt symmetrically: it is refused.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "engine-int.h"
#include "openpgp-pins-int.h"
#include "registry-int.h"
#include "registry-verdict-int.h"
#include "openpgp-encrypt-int.h"

static void
make_boundary (char *buf, size_t size)
{
  char hex[25];

  pani_nonce_hex (hex, 12);
  snprintf (buf, size, "panmail-%s", hex);
}

static gpg_error_t
write_pgpmime_head (int fd, const char *boundary)
{
  gpg_error_t err;
  char *mime = pani_strdupf (
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/encrypted;\n"
    "\tprotocol=\"application/pgp-encrypted\";\n"
    "\tboundary=\"%s\"\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
    "--%s\n"
    "Content-Type: application/pgp-encrypted\n"
    "Content-Description: PGP/MIME version identification\n"
    "\n"
    "Version: 1\n"
    "\n"
    "--%s\n"
    "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
    "Content-Description: OpenPGP encrypted message\n"
    "Content-Disposition: inline; filename=\"encrypted.asc\"\n"
    "\n",
    boundary, boundary, boundary);

  if (!mime)
    return gpg_error (GPG_ERR_ENOMEM);
  err = pani_write_all (fd, mime, strlen (mime));
  free (mime);
  return err;
}

static gpg_error_t
write_pgpmime_tail (int fd, const char *boundary)
{
  gpg_error_t err;
  char *tail = pani_strdupf ("\n--%s--\n", boundary);

  if (!tail)
    return gpg_error (GPG_ERR_ENOMEM);
  err = pani_write_all (fd, tail, strlen (tail));
  free (tail);
  return err;
}

/* Look up the pinned key of recipient I of REQ in GCTX and append to
 * RECP the line "SUBKEY!" naming the newest of its pinned subkeys that
 * can encrypt: gpg then takes that key and no other.  */
static gpg_error_t
add_recipient (const struct pani_encrypt_req *req, size_t i,
               gpgme_ctx_t gctx, struct pani_buf *recp, char **r_reason)
{
  gpg_error_t err;
  const char *fpr = req->fprs[i];
  const char *pins = req->pins ? req->pins[i] : NULL;
  gpgme_key_t key = NULL;
  gpgme_subkey_t sub;

  if (!fpr || !pins)
    return gpg_error (GPG_ERR_INV_STATE); /* Not resolved.  */
  if (req->chosen && req->chosen[i])
    {
      if (!pani_registry_pinned (pins, req->chosen[i]))
        return gpg_error (GPG_ERR_INV_STATE);
      pani_buf_printf (recp, "%s!\n", req->chosen[i]);
      return 0;
    }
  if (!(err = pani_get_pinned_key (gctx, fpr, &key))
      && !(err = pani_openpgp_check_primary (key, req->now, r_reason)))
    {
      if ((sub = pani_openpgp_pinned_subkey (key, pins, req->now)))
        pani_buf_printf (recp, "%s!\n", sub->fpr);
      else
        err = pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                           "none of the pinned subkeys (%s) can encrypt",
                           pins);
    }
  if (err)
    pani_reason (r_reason, err, "%s: key %s cannot be used: %s",
                 req->addrs[i], fpr, gpg_strerror (err));
  gpgme_key_unref (key);
  return err;
}

/* Store at *R_RECP the recipients of REQ for gpgme_op_encrypt_ext: one
 * pinned subkey per line, each checked again.  */
static gpg_error_t
collect_recipients (const struct pani_encrypt_req *req, gpgme_ctx_t gctx,
                    char **r_recp, char **r_reason)
{
  gpg_error_t err = 0;
  struct pani_buf recp = { NULL, 0, 0, 0 };

  *r_recp = NULL;
  for (size_t i = 0; !err && i < req->nrcpts; i++)
    err = add_recipient (req, i, gctx, &recp, r_reason);
  if (!err && !(err = pani_buf_error (&recp))
      && !(*r_recp = pani_buf_take (&recp)))
    err = gpg_error (GPG_ERR_ENOMEM);
  pani_buf_free (&recp);
  return err;
}

/* Return the number of the line of RECP (one "FPR!" per line) that
 * names the key NAME (with or without its "!"), or -1.  */
static long
recipient_line (const char *recp, const char *name)
{
  size_t n = name ? strcspn (name, "!") : 0, len;
  long line = 0;

  for (const char *p = recp; n && p && *p; p += len + 1, line++)
    {
      len = strcspn (p, "\n");
      if (len == n + 1 && !memcmp (p, name, n))
        return line;
      if (!p[len])
        break;
    }
  return -1;
}

/* Note in REQ->REFUSED the first recipient of RECP whose key gpg
 * refused (RES's invalid recipients) and say which and why; return
 * GPG_ERR_UNUSABLE_PUBKEY, or 0 if gpg refused none.  */
static gpg_error_t
note_refused (const struct pani_encrypt_req *req, const char *recp,
              gpgme_encrypt_result_t res, char **r_reason)
{
  gpgme_invalid_key_t first = NULL;
  long idx = -1, line;

  for (gpgme_invalid_key_t inv = res ? res->invalid_recipients : NULL; inv;
       inv = inv->next)
    if ((line = recipient_line (recp, inv->fpr)) >= 0
        && (idx < 0 || line < idx))
      idx = line, first = inv;
  if (!res || !res->invalid_recipients)
    return 0;
  if (!first)
    first = res->invalid_recipients;
  else if (req->refused)
    *req->refused = idx;
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                      "gpg refused key %s: %s", first->fpr,
                      gpg_strerror (first->reason));
}

static gpg_error_t
check_encrypt_result (const struct pani_encrypt_req *req, const char *recp,
                      gpgme_ctx_t gctx, int signing, char **r_reason)
{
  gpg_error_t err;
  gpgme_encrypt_result_t res = gpgme_op_encrypt_result (gctx);
  gpgme_sign_result_t sres = signing ? gpgme_op_sign_result (gctx) : NULL;

  if (!res)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpg gave no encryption result");
  if ((err = note_refused (req, recp, res, r_reason)))
    return err;
  if (signing && (!sres || sres->invalid_signers || !sres->signatures))
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                        "the message could not be signed with the"
                        " configured signing key; nothing was sent");
  return 0;
}

/* Give gpg the passphrase OPAQUE (loopback pinentry).  */
static gpg_error_t
passphrase_cb (void *opaque, const char *uid_hint, const char *info,
               int prev_was_bad, int fd)
{
  const char *passphrase = opaque;

  if (prev_was_bad || !passphrase)
    return gpg_error (GPG_ERR_BAD_PASSPHRASE);
  if (gpgme_io_writen (fd, passphrase, strlen (passphrase))
      || gpgme_io_writen (fd, "\n", 1))
    return gpg_error_from_syserror ();
  return 0;
}

/* Make GCTX sign with the configured OpenPGP signing key, if any; set
 * *R_SIGNING.  */
static gpg_error_t
setup_signing (const struct pani_encrypt_req *req, gpgme_ctx_t gctx,
               int *r_signing, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;
  const char *fpr = pan_config_get (pan_ctx_config (req->ctx),
                                    "signing-key");

  *r_signing = 0;
  if (!fpr || !*fpr || !strcmp (fpr, "none"))
    return 0;
  err = pani_get_one_key (gctx, fpr, 1, &key);
  if (err || !key || !key->subkeys
      || pani_ascii_casecmp (key->subkeys->fpr, fpr) || !key->can_sign)
    {
      gpgme_key_unref (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                          "the signing key %s (setting signing-key) has no"
                          " usable secret key in %s/gnupg; nothing was sent",
                          fpr, pan_ctx_home (req->ctx));
    }
  err = gpgme_signers_add (gctx, key);
  gpgme_key_unref (key);
  if (!err && req->passphrase)
    {
      gpgme_set_pinentry_mode (gctx, GPGME_PINENTRY_MODE_LOOPBACK);
      gpgme_set_passphrase_cb (gctx, passphrase_cb, (void *)req->passphrase);
    }
  *r_signing = !err;
  return err;
}

/* Encrypt REQ->PLAIN to the pinned subkeys of REQ, appending armored ciphertext
 * to REQ->OUT_FD.  */
static gpg_error_t
encrypt_openpgp (const struct pani_encrypt_req *req, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  char *recp = NULL;
  gpgme_data_t cipher = NULL;
  gpgme_encrypt_flags_t flags = GPGME_ENCRYPT_ALWAYS_TRUST
    | GPGME_ENCRYPT_NO_ENCRYPT_TO;
  int signing = 0;

  if ((err = pani_gpgme_new (req->ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME: %s",
                        pani_engine_strerror (err));
  if ((err = collect_recipients (req, gctx, &recp, r_reason))
      || (err = setup_signing (req, gctx, &signing, r_reason))
      || (err = gpgme_data_new_from_fd (&cipher, req->out_fd)))
    goto leave;
  pani_data_streaming (req->plain, 1); /* As the caller should have.  */
  pani_data_streaming (cipher, 0);
  gpgme_set_armor (gctx, 1);
  err = signing
    ? gpgme_op_encrypt_sign_ext (gctx, NULL, recp, flags, req->plain, cipher)
    : gpgme_op_encrypt_ext (gctx, NULL, recp, flags, req->plain, cipher);
  if (*req->plain_err)
    err = pani_reason (r_reason, *req->plain_err,
                       "reading the message"
                       " body: %s",
                       gpg_strerror (*req->plain_err));
  else if (err
           && note_refused (req, recp, gpgme_op_encrypt_result (gctx),
                            r_reason))
    err = gpg_error (GPG_ERR_UNUSABLE_PUBKEY);
  else if (err)
    pani_reason (r_reason, err, "encryption failed: %s", gpg_strerror (err));
  else
    err = check_encrypt_result (req, recp, gctx, signing, r_reason);

leave:
  gpgme_data_release (cipher);
  free (recp);
  gpgme_release (gctx);
  return err;
}

/* Write the PGP/MIME part of REQ's message: a multipart/encrypted head,
 * the armored ciphertext, the closing boundary.  */
gpg_error_t
pani_openpgp_encrypt (const struct pani_encrypt_req *req, char **r_reason)
{
  gpg_error_t err;
  char boundary[64];

  /* An empty recipient list would make GPGME encrypt symmetrically.  */
  if (!req->nrcpts)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_USER_ID),
                        "no OpenPGP recipients to encrypt to");
  make_boundary (boundary, sizeof boundary);
  if ((err = write_pgpmime_head (req->out_fd, boundary))
      || (err = encrypt_openpgp (req, r_reason)))
    return err;
  return write_pgpmime_tail (req->out_fd, boundary);
}
