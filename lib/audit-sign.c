/* audit-sign.c - anchors signed with an operator key
 *
 * panaudit anchor --sign signs the anchor line of the log ("panmail-
 * anchor 1 seq=N sha256=HEX") as a clearsigned OpenPGP message with an
 * operator's secret key, kept in the operator's own GnuPG home as for
 * bundles (bundle-keys.c).  Whoever holds the signed anchor later can
 * check that an operator vouched for that head, and verify the log
 * against it: with the home, against the operator keys the home pins
 * (pankey operator-key); off the host (verify --dir), against the
 * operator's public key given as a file, in a scratch keyring.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "engine-int.h"
#include "bundle-int.h"

#define ANCHOR_LINE_PREFIX "panmail-anchor 1 seq="
#define KEY_FILE_MAX (1024 * 1024)

gpg_error_t
pan_audit_anchor_sign (pan_ctx_t ctx, const char *fpr,
                       const char *signer_home, char **r_signed,
                       char **r_reason)
{
  gpg_error_t err;
  char *line = NULL, *text = NULL, *out = NULL;
  size_t len = 0;

  *r_signed = NULL;
  if ((err = pan_audit_anchor (ctx, &line, r_reason)))
    return err;
  if (!(text = pani_strdupf ("%s\n", line)))
    err = gpg_error_from_syserror ();
  else if (!(err = pani_bundle_sign (ctx, signer_home, fpr, text,
                                     strlen (text), &out, &len, r_reason)))
    {
      *r_signed = out;
      out = NULL;
    }
  pan_free (line);
  free (text);
  free (out);
  return err;
}

/* Take the anchor line out of the signed text TEXT/LEN into *R_LINE.  */
static gpg_error_t
anchor_text (const char *text, size_t len, char **r_line, char **r_reason)
{
  size_t n = len;

  while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
    n--;
  if (n < sizeof ANCHOR_LINE_PREFIX - 1 || memchr (text, '\n', n)
      || strncmp (text, ANCHOR_LINE_PREFIX, sizeof ANCHOR_LINE_PREFIX - 1))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "the signed text is not an anchor line");
  if (!(*r_line = pani_strndup (text, n)))
    return gpg_error_from_syserror ();
  return 0;
}

/* Check that GCTX's verification found one good signature by a key of
 * its keyring that may sign now, neither revoked nor expired; its
 * primary fingerprint at *R_SIGNER.  */
static gpg_error_t
check_one_good (gpgme_ctx_t gctx, char **r_signer, char **r_reason)
{
  gpgme_verify_result_t res = gpgme_op_verify_result (gctx);
  gpgme_signature_t sig = res ? res->signatures : NULL;
  gpgme_key_t key = NULL;
  gpgme_subkey_t sub = NULL;
  gpg_error_t err = 0;
  char fpr[65]; /* Copied: the key listing frees the result.  */

  if (!sig || sig->next || sig->status || !sig->fpr
      || strlen (sig->fpr) >= sizeof fpr)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                        "the anchor does not carry exactly one good"
                        " signature by the operator key given (%s)",
                        sig && sig->status ? gpg_strerror (sig->status)
                                           : "no such signature");
  strcpy (fpr, sig->fpr);
  if (pani_get_one_key (gctx, fpr, 0, &key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                        "the anchor is signed by key %s, not by the"
                        " operator key given",
                        fpr);
  for (sub = key->subkeys; sub; sub = sub->next)
    if (sub->fpr && !strcmp (sub->fpr, fpr))
      break;
  if (!sub || !sub->can_sign || sub->revoked || key->revoked || sub->expired
      || key->expired)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the anchor's signature is not by a valid signing"
                       " key of %s (revoked, expired or not for signing)",
                       key->subkeys->fpr);
  else if (!(*r_signer = pani_strdup (key->subkeys->fpr)))
    err = gpg_error_from_syserror ();
  gpgme_key_unref (key);
  return err;
}

/* Verify DATA/LEN in the keyring of GCTX into *R_TEXT (gpgme_free).  */
static gpg_error_t
verify_in (gpgme_ctx_t gctx, const void *data, size_t len, char **r_text,
           size_t *r_len, char **r_signer, char **r_reason)
{
  gpgme_data_t sig = NULL, plain = NULL;
  gpg_error_t err;

  if ((err = gpgme_data_new_from_mem (&sig, data, len, 0))
      || (err = gpgme_data_new (&plain)))
    goto leave;
  if (gpgme_op_verify (gctx, sig, NULL, plain))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                       "the anchor is not an OpenPGP clearsigned message");
  else if (!(err = check_one_good (gctx, r_signer, r_reason)))
    {
      *r_text = gpgme_data_release_and_get_mem (plain, r_len);
      plain = NULL;
    }
leave:
  gpgme_data_release (sig);
  gpgme_data_release (plain);
  return err;
}

/* Check DATA/LEN against the one key in KEY_FILE, in a scratch keyring
 * made for it; the signed text at *R_TEXT (gpgme_free).  */
static gpg_error_t
check_with_file (const char *key_file, const void *data, size_t len,
                 char **r_text, size_t *r_len, char **r_signer,
                 char **r_reason)
{
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t kd = NULL;
  gpgme_import_result_t imp;
  char *dir = NULL, *key = NULL;
  size_t keylen = 0;
  gpg_error_t err;

  if ((err = pani_read_file (key_file, KEY_FILE_MAX, &key, &keylen,
                             r_reason))
      || (err = pani_engine_scratch_new (NULL, "anchor", &dir, r_reason))
      || (err = pani_gpgme_new (dir, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_data_new_from_mem (&kd, key, keylen, 0)))
    goto leave;
  if (gpgme_op_import (gctx, kd) || !(imp = gpgme_op_import_result (gctx))
      || imp->considered != 1 || imp->secret_read)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                       "%s is not one public OpenPGP key", key_file);
  else
    err = verify_in (gctx, data, len, r_text, r_len, r_signer, r_reason);
leave:
  gpgme_data_release (kd);
  gpgme_release (gctx);
  pani_engine_scratch_remove (dir);
  free (dir);
  free (key);
  return err;
}

/* Check DATA/LEN against the operator keys CTX's home pins.  */
static gpg_error_t
check_with_home (pan_ctx_t ctx, const void *data, size_t len, char **r_text,
                 size_t *r_len, char **r_signer, char **r_reason)
{
  struct pani_bundle_state st;
  gpg_error_t err;
  char *text = NULL;

  memset (&st, 0, sizeof st);
  if ((err = pani_bundle_state_load (ctx, &st, r_reason)))
    goto leave;
  if (!st.noperators)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                       "the home pins no operator key (pankey operator-key"
                       " add) to check a signed anchor with; give the"
                       " operator's key with --operator-key");
  else if (!(err = pani_bundle_verify (ctx, &st, "anchor", data, len,
                                       time (NULL), &text, r_len, r_signer,
                                       r_reason)))
    {
      *r_text = text;
      text = NULL;
    }
leave:
  free (text);
  pani_bundle_state_clear (&st);
  return err;
}

gpg_error_t
pan_audit_anchor_check (pan_ctx_t ctx, const char *key_file,
                        const void *data, size_t len, char **r_line,
                        char **r_signer, char **r_reason)
{
  gpg_error_t err;
  char *text = NULL;
  size_t tlen = 0;

  *r_line = *r_signer = NULL;
  if (key_file)
    {
      err = check_with_file (key_file, data, len, &text, &tlen, r_signer,
                             r_reason);
      if (!err)
        err = anchor_text (text, tlen, r_line, r_reason);
      gpgme_free (text);
    }
  else if (!ctx)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                       "without a home, a signed anchor is checked against"
                       " the operator's key given with --operator-key");
  else
    {
      err = check_with_home (ctx, data, len, &text, &tlen, r_signer,
                             r_reason);
      if (!err)
        err = anchor_text (text, tlen, r_line, r_reason);
      free (text);
    }
  if (err)
    {
      free (*r_signer);
      free (*r_line);
      *r_line = *r_signer = NULL;
    }
  return err;
}
