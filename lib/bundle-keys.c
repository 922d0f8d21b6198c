/* bundle-keys.c - the operator keys of a home's bundles: pinning them,
 * signing a bundle, verifying one
 *
 * A home accepts bundles signed by the OpenPGP keys its operator pinned
 * (pankey init --operator-key, pankey operator-key add): each is checked
 * as an enrollment is, against a fingerprint given out of band, in a
 * scratch keyring; only it reaches the home's keyring, and only its
 * primary fingerprint in HOME/bundles makes it an operator key.  A key
 * of a recipient in the same keyring that signs a bundle is refused as
 * any unpinned signer is.  The secret key that signs a bundle stays in
 * the operator's own GnuPG home, never in a panmail home.  */
#include <config.h>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "home-int.h"
#include "engine-int.h"
#include "bundle-int.h"
#include "openpgp-int.h"


int
pan_bundle_exit_code (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_NO_DATA:
    case GPG_ERR_INV_DATA:
    case GPG_ERR_DUP_VALUE:
    case GPG_ERR_MISSING_VALUE:
    case GPG_ERR_TOO_LARGE: return EX_DATAERR;
    case GPG_ERR_BAD_SIGNATURE:
    case GPG_ERR_NO_PUBKEY:
    case GPG_ERR_NOT_TRUSTED:
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_SIG_EXPIRED:
    case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED:
    case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_FORBIDDEN:
    case GPG_ERR_CONFLICT: return EX_NOPERM;
    case GPG_ERR_NO_SECKEY: return EX_NOINPUT;
    case GPG_ERR_NOT_FOUND: return EX_NOUSER;
    case GPG_ERR_BAD_DATA: /* The registry was changed behind
                              pankey's back.  */
    case GPG_ERR_CONFIGURATION: return EX_CONFIG;
    default: return EX_SOFTWARE;
    }
}


/*
 * The state file and its lock.
 */

/* Take HOME/bundles.lock of CTX (lock-timeout); release it with
 * pani_unlock.  */
static gpg_error_t
bundle_lock (pan_ctx_t ctx, int *r_fd, char **r_reason)
{
  char *path = pan_ctx_path (ctx, PANI_BUNDLE_LOCK_FILE);
  gpg_error_t err;

  *r_fd = -1;
  if (!path)
    return gpg_error_from_syserror ();
  err = pani_lock (path,
                   pan_config_get_int (pan_ctx_config (ctx), "lock-timeout"),
                   r_fd, r_reason);
  free (path);
  return err;
}

gpg_error_t
pani_bundle_run (pan_ctx_t ctx, gpg_error_t (*fn) (void *, char **),
                 void *opaque, char **r_reason)
{
  int fd = -1;
  pani_engine_guard_t watch = NULL;
  gpg_error_t err;

  if (!(err = bundle_lock (ctx, &fd, r_reason))
      && !(err = pani_engine_watch_begin (ctx, &watch)))
    err = pani_engine_watch_end (watch, fn (opaque, r_reason), r_reason);
  pani_unlock (fd);
  return err;
}

gpg_error_t
pani_bundle_state_load (pan_ctx_t ctx, struct pani_bundle_state *st,
                        char **r_reason)
{
  char *buf = NULL, *sub = NULL;
  size_t len;
  gpg_error_t err;

  memset (st, 0, sizeof *st);
  err = pani_home_read (ctx, PANI_BUNDLE_STATE_FILE, PANI_HOME_OPERATOR,
                        65536, &buf, &len, r_reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      free (*r_reason);
      *r_reason = NULL;
      pani_nonce_hex (st->home, 16);
      return 0;
    }
  if (err)
    return err;
  if ((err = pani_bundle_state_parse (buf, len, st, &sub)))
    {
      pani_reason (r_reason, err, "%s/%s: %s", pan_ctx_home (ctx),
                   PANI_BUNDLE_STATE_FILE, sub ? sub : gpg_strerror (err));
      pani_bundle_state_clear (st);
    }
  free (sub);
  free (buf);
  return err;
}

gpg_error_t
pani_bundle_state_save (pan_ctx_t ctx, const struct pani_bundle_state *st,
                        char **r_reason)
{
  struct pani_buf out = { 0 };
  char *path = pan_ctx_path (ctx, PANI_BUNDLE_STATE_FILE);
  gpg_error_t err;

  pani_bundle_state_write (st, &out);
  if (!path || pani_buf_error (&out))
    err = gpg_error (GPG_ERR_ENOMEM);
  else
    err = pani_write_file_atomic (path, out.data, out.len, 0600, r_reason);
  pani_buf_free (&out);
  free (path);
  return err;
}

gpg_error_t
pani_bundle_record (pan_ctx_t ctx, const struct pani_bundle_event *e,
                    char **r_reason)
{
  struct pan_audit_event ev;
  struct pan_audit_key key;
  char digest[65];

  memset (&ev, 0, sizeof ev);
  memset (&key, 0, sizeof key);
  /* The registry as it is, only if the log already recorded it: the
   * changes of an import recorded their own digests, and a refused
   * import must not make a registry edited behind pankey's back the
   * recorded one.  */
  if (!pan_registry_digest (ctx, digest, NULL))
    ev.registry_checked = digest;
  ev.event = e->event;
  ev.tool = "pankey";
  ev.operator_name = e->operator_name;
  ev.outcome = e->outcome;
  ev.exit_code = e->exit_code;
  ev.reason = e->reason;
  if (e->fingerprint)
    {
      key.address = "operator";
      key.protocol = PAN_PROTOCOL_OPENPGP;
      key.fingerprint = e->fingerprint;
      ev.keys = &key;
      ev.nkeys = 1;
    }
  return pan_audit_append (ctx, &ev, time (NULL), r_reason);
}


/*
 * Pinning an operator key.
 */

/* Refuse KEY (primary fingerprint FPR) unless it can sign at NOW.  */
static gpg_error_t
check_signing_key (gpgme_key_t key, const char *fpr, time_t now,
                   char **r_reason)
{
  if (key->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "key %s is revoked", fpr);
  if (key->expired
      || (key->subkeys->expires && key->subkeys->expires <= now))
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                        "key %s has expired", fpr);
  if (key->disabled || key->invalid)
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_DISABLED),
                        "key %s is disabled or invalid", fpr);
  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (sub->can_sign && !sub->revoked && !sub->expired && !sub->disabled
        && !sub->invalid && (!sub->expires || sub->expires > now))
      return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                      "key %s has no usable signing key", fpr);
}

/* Export the key FPR alone from GCTX into *R_OUT, its length at
 * *R_LEN (gpgme_free it).  */
static gpg_error_t
export_key (gpgme_ctx_t gctx, const char *fpr, gpgme_export_mode_t mode,
            char **r_out, size_t *r_len, char **r_reason)
{
  gpgme_data_t out = NULL;
  gpg_error_t err;

  *r_out = NULL;
  if ((err = gpgme_data_new (&out)))
    return err;
  if ((err = gpgme_op_export (gctx, fpr, mode, out)))
    {
      gpgme_data_release (out);
      return pani_reason (r_reason, err, "exporting key %s failed: %s", fpr,
                          gpg_strerror (err));
    }
  *r_out = gpgme_data_release_and_get_mem (out, r_len);
  if (!*r_out || !*r_len)
    {
      gpgme_free (*r_out);
      *r_out = NULL;
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                          "key %s could not be exported", fpr);
    }
  return 0;
}

gpg_error_t
pani_bundle_export_key (pan_ctx_t ctx, pan_protocol_t protocol,
                        const char *fpr, char **r_data, size_t *r_len,
                        char **r_reason)
{
  gpgme_ctx_t gctx = NULL;
  gpg_error_t err;

  err = pani_gpgme_new (ctx->gnupg_home,
                        protocol == PAN_PROTOCOL_SMIME
                          ? GPGME_PROTOCOL_CMS
                          : GPGME_PROTOCOL_OpenPGP,
                        &gctx);
  if (!err)
    err = export_key (gctx, fpr,
                      protocol == PAN_PROTOCOL_SMIME
                        ? 0
                        : GPGME_EXPORT_MODE_MINIMAL,
                      r_data, r_len, r_reason);
  gpgme_release (gctx);
  return err;
}

/* Import DATA/LEN into GCTX; exactly the key FPR must be touched if
 * ONLY.  */
static gpg_error_t
import_into (gpgme_ctx_t gctx, const void *data, size_t len, const char *fpr,
             int only, char **r_reason)
{
  gpgme_data_t in = NULL;
  gpgme_import_result_t res;
  gpg_error_t err;

  if ((err = gpgme_data_new_from_mem (&in, data, len, 0)))
    return err;
  err = gpgme_op_import (gctx, in);
  gpgme_data_release (in);
  if (err)
    return pani_reason (r_reason, err, "importing the key failed: %s",
                        gpg_strerror (err));
  res = gpgme_op_import_result (gctx);
  if (only
      && (!res || res->considered != 1 || !res->imports || res->imports->next
          || !res->imports->fpr || strcmp (res->imports->fpr, fpr)
          || res->imports->result))
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "importing key %s did not import exactly that key",
                        fpr);
  return 0;
}

/* Check the operator key FPR of DATA/LEN in the scratch keyring DIR
 * of GCTX at NOW, against the signing rules and the algorithm policy of
 * CTX (a weak operator key would let bundles be forged), and export it
 * alone into *R_KEY and *R_LEN.  */
static gpg_error_t
check_in_scratch (pan_ctx_t ctx, const char *dir, gpgme_ctx_t gctx,
                  const char *fpr, const void *data, size_t len, time_t now,
                  char **r_key, size_t *r_len, char **r_reason)
{
  gpgme_key_t key = NULL, sec = NULL;
  gpg_error_t err;

  if ((err = import_into (gctx, data, len, fpr, 0, r_reason)))
    return err;
  if (pani_get_pinned_key (gctx, fpr, &key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "the key file holds no key with primary"
                        " fingerprint %s; check the file and the"
                        " fingerprint you were given",
                        fpr);
  if (!pani_get_one_key (gctx, fpr, 1, &sec))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                       "the key file holds secret key material; export"
                       " only the public key");
  else if (!(err = check_signing_key (key, fpr, now, r_reason))
           && !(err = pani_openpgp_enforce_policy (pan_ctx_config (ctx), dir,
                                                   key, now, r_reason)))
    err = export_key (gctx, fpr, GPGME_EXPORT_MODE_MINIMAL, r_key, r_len,
                      r_reason);
  gpgme_key_unref (sec);
  gpgme_key_unref (key);
  return err;
}

/* Check the operator key FPR of DATA/LEN in a scratch keyring at NOW
 * and import it alone into the keyring of CTX.  */
static gpg_error_t
import_operator_key (pan_ctx_t ctx, const char *fpr, const void *data,
                     size_t len, time_t now, char **r_reason)
{
  char *dir = NULL, *key = NULL;
  size_t keylen = 0;
  gpgme_ctx_t gctx = NULL;
  gpg_error_t err;

  if ((err = pani_engine_scratch_new (ctx, "opkey", &dir, r_reason)))
    return err;
  if (!(err = pani_gpgme_new (dir, GPGME_PROTOCOL_OpenPGP, &gctx)))
    err = check_in_scratch (ctx, dir, gctx, fpr, data, len, now, &key,
                            &keylen, r_reason);
  gpgme_release (gctx);
  gctx = NULL;
  if (!err
      && !(err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                                 &gctx)))
    err = import_into (gctx, key, keylen, fpr, 1, r_reason);
  gpgme_release (gctx);
  gpgme_free (key);
  pani_engine_scratch_remove (dir);
  free (dir);
  return err;
}

/* Record the pinning of FPR (REFUSED: its refusal with ERR) as
 * REQ->OPERATOR_NAME.  */
static gpg_error_t
record_pin (pan_ctx_t ctx, const struct pan_bundle_req *req, const char *fpr,
            gpg_error_t err, const char *why, char **r_reason)
{
  struct pani_bundle_event e = { .event = "operator-key",
                                 .operator_name = req->operator_name,
                                 .fingerprint = fpr };
  char *text = pani_strdupf ("operator key %s %s: %s", fpr,
                             err     ? "refused"
                               : why ? "unpinned"
                                     : "pinned",
                             err ? why
                               : why
                               ? why
                               : "bundles signed by it may be imported");

  e.outcome = err ? "refused" : "ok";
  e.exit_code = err ? pan_bundle_exit_code (err) : 0;
  e.reason = text;
  err = text ? pani_bundle_record (ctx, &e, r_reason)
             : gpg_error_from_syserror ();
  free (text);
  return err;
}

/* An operator key to pin.  */
struct pin
{
  pan_ctx_t ctx;
  const struct pan_bundle_req *req;
  const char *fpr; /* Normalised.  */
};

/* Pin the key of P in the state of its home, checking the key first,
 * under the bundle lock (pani_bundle_run).  */
static gpg_error_t
pin_operator (void *opaque, char **r_reason)
{
  struct pin *p = opaque;
  pan_ctx_t ctx = p->ctx;
  const struct pan_bundle_req *req = p->req;
  const char *fpr = p->fpr;
  struct pani_bundle_state st;
  time_t now = req->now ? req->now : time (NULL);
  char *why = NULL;
  gpg_error_t err, rerr;

  if ((err = pani_bundle_state_load (ctx, &st, r_reason)))
    return err;
  if (!pani_bundle_state_pins (&st, fpr)
      && st.noperators == PANI_BUNDLE_MAX_OPERATORS)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                       "the home pins %d operator keys already",
                       PANI_BUNDLE_MAX_OPERATORS);
  else if ((err = import_operator_key (ctx, fpr, req->data, req->len, now,
                                       &why)))
    {
      rerr = record_pin (ctx, req, fpr, err, why, r_reason);
      pani_reason (r_reason, err, "%s", why);
      err = rerr ? rerr : err;
    }
  else if (!(err = record_pin (ctx, req, fpr, 0, NULL, r_reason))
           && !pani_bundle_state_pins (&st, fpr))
    {
      if (!(st.operators[st.noperators] = pani_strdup (fpr)))
        err = gpg_error_from_syserror ();
      else
        st.noperators++;
      if (!err)
        err = pani_bundle_state_save (ctx, &st, r_reason);
    }
  free (why);
  pani_bundle_state_clear (&st);
  return err;
}

/* Unpin the key of P, under the bundle lock (pani_bundle_run).  */
static gpg_error_t
unpin_operator (void *opaque, char **r_reason)
{
  struct pin *p = opaque;
  struct pani_bundle_state st;
  size_t i;
  gpg_error_t err;

  if ((err = pani_bundle_state_load (p->ctx, &st, r_reason)))
    return err;
  for (i = 0; i < st.noperators && strcmp (st.operators[i], p->fpr); i++)
    ;
  if (i == st.noperators)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                       "%s is not an operator key of this home", p->fpr);
  else if (!(err = record_pin (p->ctx, p->req, p->fpr, 0,
                               "bundles signed by it are refused",
                               r_reason)))
    {
      free (st.operators[i]);
      memmove (st.operators + i, st.operators + i + 1,
               (st.noperators - i - 1) * sizeof *st.operators);
      st.operators[--st.noperators] = NULL;
      err = pani_bundle_state_save (p->ctx, &st, r_reason);
    }
  pani_bundle_state_clear (&st);
  return err;
}

/* Run FN on the operator key of REQ under the bundle lock of CTX; the
 * key file is needed if NEED_DATA.  */
static gpg_error_t
operator_change (pan_ctx_t ctx, const struct pan_bundle_req *req,
                 gpg_error_t (*fn) (void *, char **), int need_data,
                 char **r_reason)
{
  struct pin p = { ctx, req, NULL };
  char *fpr = NULL;
  gpg_error_t err;

  *r_reason = NULL;
  if (!req->fingerprint || (need_data && !req->data))
    return pani_reason (r_reason, gpg_error (GPG_ERR_MISSING_VALUE),
                        "an operator key needs its fingerprint%s",
                        need_data ? " and its key file" : "");
  if ((err = pan_fpr_normalize (req->fingerprint, &fpr, r_reason)))
    return err;
  p.fpr = fpr;
  err = pani_bundle_run (ctx, fn, &p, r_reason);
  free (fpr);
  return err;
}

gpg_error_t
pan_bundle_operator_add (pan_ctx_t ctx, const struct pan_bundle_req *req,
                         char **r_reason)
{
  return operator_change (ctx, req, pin_operator, 1, r_reason);
}

gpg_error_t
pan_bundle_operator_remove (pan_ctx_t ctx, const struct pan_bundle_req *req,
                            char **r_reason)
{
  return operator_change (ctx, req, unpin_operator, 0, r_reason);
}


/*
 * Signing and verifying.
 */

/* Store at *R_DIR the operator's GnuPG home: DIR, else $GNUPGHOME,
 * else ~/.gnupg; refuse the GnuPG home of CTX.  */
static gpg_error_t
signer_home (pan_ctx_t ctx, const char *dir, char **r_dir, char **r_reason)
{
  const char *home = getenv ("HOME"), *gnupghome = getenv ("GNUPGHOME");
  char *path, real[PATH_MAX], mine[PATH_MAX];

  *r_dir = NULL;
  if (dir)
    path = pani_strdup (dir);
  else if (gnupghome && *gnupghome)
    path = pani_strdup (gnupghome);
  else
    path = pani_strdupf ("%s/.gnupg", home ? home : "");
  if (!path)
    return gpg_error_from_syserror ();
  if (!realpath (path, real) || !realpath (ctx->gnupg_home, mine)
      || !strcmp (real, mine))
    {
      gpg_error_t err =
        pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                     "the operator's GnuPG home %s is missing"
                     " or is the panmail home's; give the"
                     " one that holds your secret key"
                     " (--signer-home or GNUPGHOME)",
                     path);
      free (path);
      return err;
    }
  *r_dir = path;
  return 0;
}

/* Check the result of signing with KEY on GCTX.  */
static gpg_error_t
check_signed (gpgme_ctx_t gctx, gpgme_key_t key, char **r_reason)
{
  gpgme_sign_result_t res = gpgme_op_sign_result (gctx);
  gpgme_new_signature_t sig = res ? res->signatures : NULL;
  int ours = 0;

  for (gpgme_subkey_t sub = key->subkeys; sig && sub; sub = sub->next)
    ours |= sub->fpr && sig->fpr && !strcmp (sub->fpr, sig->fpr);
  if (!res || res->invalid_signers || !sig || sig->next || !ours)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpg did not sign the bundle with key %s alone",
                        key->subkeys->fpr);
  return 0;
}

/* Sign TEXT/LEN as a clearsigned message with the secret key FPR of
 * GCTX into *R_OUT (gpgme_free it).  */
static gpg_error_t
sign_with (gpgme_ctx_t gctx, const char *fpr, const char *text, size_t len,
           char **r_out, size_t *r_len, char **r_reason)
{
  gpgme_key_t key = NULL;
  gpgme_data_t in = NULL, out = NULL;
  gpg_error_t err;

  if (pani_get_one_key (gctx, fpr, 1, &key) || !key || !key->subkeys
      || strcmp (key->subkeys->fpr, fpr))
    {
      gpgme_key_unref (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                          "the operator's GnuPG home has no secret key %s",
                          fpr);
    }
  if (!(err = gpgme_signers_add (gctx, key))
      && !(err = gpgme_data_new_from_mem (&in, text, len, 0))
      && !(err = gpgme_data_new (&out)))
    {
      gpgme_set_armor (gctx, 1);
      if ((err = gpgme_op_sign (gctx, in, out, GPGME_SIG_MODE_CLEAR)))
        pani_reason (r_reason, err,
                     "signing the bundle with key %s failed:"
                     " %s",
                     fpr, gpg_strerror (err));
      else if (!(err = check_signed (gctx, key, r_reason)))
        {
          *r_out = gpgme_data_release_and_get_mem (out, r_len);
          out = NULL;
        }
    }
  gpgme_data_release (in);
  gpgme_data_release (out);
  gpgme_key_unref (key);
  return err;
}

gpg_error_t
pani_bundle_sign (pan_ctx_t ctx, const char *dir, const char *fpr,
                  const char *text, size_t len, char **r_out, size_t *r_len,
                  char **r_reason)
{
  char *home = NULL, *out = NULL;
  gpgme_ctx_t gctx = NULL;
  gpg_error_t err;

  *r_out = NULL;
  if ((err = signer_home (ctx, dir, &home, r_reason)))
    return err;
  if ((err = pani_gpgme_new (home, GPGME_PROTOCOL_OpenPGP, &gctx)))
    pani_reason (r_reason, err, "cannot start GPGME: %s",
                 pani_engine_strerror (err));
  else if (!(err = sign_with (gctx, fpr, text, len, &out, r_len, r_reason))
           && !(*r_out = pani_strndup (out, *r_len)))
    err = gpg_error_from_syserror ();
  gpgme_free (out);
  gpgme_release (gctx);
  /* The signer's home is the operator's own: its gpg-agent (and the
   * passphrase it may cache) is left as gpg itself would leave it, not
   * stopped when pankey exits.  */
  if (home)
    pani_engine_forget_home (home);
  free (home);
  return err;
}

/* What a bundle's signature says, copied from GPGME's result (which
 * the next operation on its context frees).  */
struct sig_info
{
  char fpr[65];
  gpgme_sigsum_t summary;
};

/* Check the one signature SIG of WHAT (a bundle, an anchor): good, and
 * made by a key of KEY that can sign; store KEY's primary fingerprint at
 * *R_SIGNER.  */
static gpg_error_t
check_signer (const char *what, const struct sig_info *sig, gpgme_key_t key,
              time_t now, char **r_signer, char **r_reason)
{
  const char *fpr = key->subkeys->fpr;
  gpgme_subkey_t sub;

  for (sub = key->subkeys; sub; sub = sub->next)
    if (sub->fpr && !strcmp (sub->fpr, sig->fpr))
      break;
  if (!sub || !sub->can_sign)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                        "the %s's signature is not by a signing key of %s",
                        what, fpr);
  if (sub->revoked || key->revoked
      || (sig->summary & GPGME_SIGSUM_KEY_REVOKED))
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "operator key %s is revoked", fpr);
  if (sub->expired || key->expired || (sub->expires && sub->expires <= now)
      || (sig->summary
          & (GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_SIG_EXPIRED)))
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                        "operator key %s has expired", fpr);
  if (!(*r_signer = pani_strdup (fpr)))
    return gpg_error_from_syserror ();
  return 0;
}

/* Say why the signature SIG of WHAT is not good.  */
static gpg_error_t
bad_status (const char *what, gpgme_signature_t sig, char **r_reason)
{
  const char *fpr = sig->fpr ? sig->fpr : "?";

  switch (gpg_err_code (sig->status))
    {
    case GPG_ERR_NO_PUBKEY:
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                          "the %s is signed by key %s, which is not an"
                          " operator key of this home (see 'pankey"
                          " operator-key add')",
                          what, fpr);
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_SIG_EXPIRED:
      return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                          "the %s's signature by key %s has expired", what,
                          fpr);
    case GPG_ERR_CERT_REVOKED:
      return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                          "the %s is signed by the revoked key %s", what,
                          fpr);
    default:
      return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                          "the %s's signature by key %s is bad (%s): it"
                          " was changed after it was signed",
                          what, fpr, gpg_strerror (sig->status));
    }
}

/* Check the verification result of GCTX (of WHAT) against the operator
 * keys of ST at NOW; the signer's primary fingerprint at *R_SIGNER.  */
static gpg_error_t
check_verified (const char *what, gpgme_ctx_t gctx,
                const struct pani_bundle_state *st, time_t now,
                char **r_signer, char **r_reason)
{
  gpgme_verify_result_t res = gpgme_op_verify_result (gctx);
  gpgme_signature_t sig = res ? res->signatures : NULL;
  gpgme_key_t key = NULL;
  struct sig_info info;
  gpg_error_t err;

  if (!sig || sig->next)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "the %s is not signed by exactly one key", what);
  if (sig->status || !sig->fpr || strlen (sig->fpr) >= sizeof info.fpr)
    return bad_status (what, sig, r_reason);
  strcpy (info.fpr, sig->fpr);
  info.summary = sig->summary;
  if (pani_get_one_key (gctx, info.fpr, 0, &key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                        "the key %s that signed the %s is not in the"
                        " home's keyring",
                        info.fpr, what);
  err = check_signer (what, &info, key, now, r_signer, r_reason);
  gpgme_key_unref (key);
  if (!err && !pani_bundle_state_pins (st, *r_signer))
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_NOT_TRUSTED),
                         "the %s is signed by key %s, which is not an"
                         " operator key of this home (see 'pankey"
                         " operator-key add')",
                         what, *r_signer);
      free (*r_signer);
      *r_signer = NULL;
    }
  return err;
}

gpg_error_t
pani_bundle_verify (pan_ctx_t ctx, const struct pani_bundle_state *st,
                    const char *what, const void *data, size_t len,
                    time_t now, char **r_text, size_t *r_len,
                    char **r_signer, char **r_reason)
{
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t sig = NULL, plain = NULL;
  char *text = NULL;
  gpg_error_t err;

  *r_text = *r_signer = NULL;
  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_data_new_from_mem (&sig, data, len, 0))
      || (err = gpgme_data_new (&plain)))
    goto leave;
  if (gpgme_op_verify (gctx, sig, NULL, plain))
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                         "not a signed %s (an OpenPGP clearsigned"
                         " message)",
                         what);
      goto leave;
    }
  if ((err = check_verified (what, gctx, st, now, r_signer, r_reason)))
    goto leave;
  text = gpgme_data_release_and_get_mem (plain, r_len);
  plain = NULL;
  if (!(*r_text = pani_strndup (text ? text : "", text ? *r_len : 0)))
    err = gpg_error_from_syserror ();
leave:
  gpgme_free (text);
  gpgme_data_release (sig);
  gpgme_data_release (plain);
  gpgme_release (gctx);
  return err;
}
