/* keys.c - pinned keys in the home's GnuPG home, through GPGME
 *
 * The registry pins each address to one primary fingerprint.  Keys are
 * always looked up by that full fingerprint and the primary fingerprint
 * of what GPGME returns is compared again, so a key that merely carries a
 * matching user ID, or a subkey fingerprint, is never taken.  */
#include <config.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "keys-int.h"
#include "smime-int.h"

static int
is_hex (int c)
{
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')
    || (c >= 'a' && c <= 'f');
}

gpg_error_t
pan_fpr_normalize (const char *input, char **r_fpr, char **r_reason)
{
  char *fpr;
  size_t n = 0;

  *r_fpr = NULL;
  if (!strncmp (input, "0x", 2) || !strncmp (input, "0X", 2))
    input += 2;
  if (!(fpr = malloc (strlen (input) + 1)))
    return gpg_error_from_syserror ();
  for (; *input; input++)
    {
      if (*input == ' ' || *input == '\t')
        continue;
      if (!is_hex (*input))
        {
          free (fpr);
          return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                              "the fingerprint may hold only hex digits"
                              " and spaces");
        }
      fpr[n++] = (*input >= 'a') ? *input - 32 : *input;
    }
  fpr[n] = 0;
  if (n == 40 || n == 64)
    {
      *r_fpr = fpr;
      return 0;
    }
  free (fpr);
  if (n == 8 || n == 16)
    return pani_reason (r_reason, gpg_error (GPG_ERR_AMBIGUOUS_NAME),
                        "a %zu-digit key ID is not a fingerprint and can"
                        " be forged; give the full 40 or 64 digit"
                        " fingerprint read out of band", n);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                      "a fingerprint has 40 or 64 hex digits, not %zu", n);
}

gpg_error_t
pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                gpgme_ctx_t *r_gctx)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;

  *r_gctx = NULL;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, protocol))
      || (err = gpgme_ctx_set_engine_info (gctx, protocol, NULL, gnupg_home))
      || (err = gpgme_set_keylist_mode (gctx, GPGME_KEYLIST_MODE_LOCAL)))
    {
      gpgme_release (gctx);
      return err;
    }
  gpgme_set_offline (gctx, 1);
  *r_gctx = gctx;
  return 0;
}

/* Return the pinned key FPR: its primary fingerprint must equal FPR.  */
gpg_error_t
pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr, gpgme_key_t *r_key)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_key = NULL;
  err = gpgme_get_key (gctx, fpr, &key, 0);
  if (gpg_err_code (err) == GPG_ERR_EOF || (!err && !key))
    return gpg_error (GPG_ERR_NO_PUBKEY);
  if (err)
    return err;
  if (!key->subkeys || !key->subkeys->fpr
      || pani_ascii_casecmp (key->subkeys->fpr, fpr))
    {
      gpgme_key_unref (key);
      return gpg_error (GPG_ERR_NO_PUBKEY);
    }
  *r_key = key;
  return 0;
}

static int
subkey_can_encrypt (gpgme_subkey_t sub, time_t now)
{
  return sub->can_encrypt && !sub->revoked && !sub->expired
    && !sub->disabled && !sub->invalid
    && (!sub->expires || sub->expires > now);
}

static gpg_error_t
check_primary (gpgme_key_t key, time_t now, char **r_reason)
{
  gpgme_subkey_t pk = key->subkeys;

  if (key->revoked || pk->revoked)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "key %s is revoked", pk->fpr);
  if (key->expired || pk->expired || (pk->expires && pk->expires <= now))
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_EXPIRED),
                        "key %s has expired; ask the recipient for an"
                        " extended or new key", pk->fpr);
  if (key->disabled)
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_DISABLED),
                        "key %s is disabled", pk->fpr);
  if (key->invalid || pk->invalid)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_PUBKEY),
                        "key %s is invalid", pk->fpr);
  return 0;
}

gpg_error_t
pani_key_usable (gpgme_key_t key, time_t now, char **r_reason)
{
  gpg_error_t err;

  if ((err = check_primary (key, now, r_reason)))
    return err;
  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (subkey_can_encrypt (sub, now))
      return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                      "key %s has no usable encryption subkey"
                      " (all expired, revoked or missing)",
                      key->subkeys->fpr);
}

/* True if KEY has a valid user ID whose address is ADDR.  */
static int
has_uid_for (gpgme_key_t key, const char *addr)
{
  int found = 0;

  for (gpgme_user_id_t uid = key->uids; uid && !found; uid = uid->next)
    {
      char *norm = NULL;

      if (uid->revoked || uid->invalid || !uid->address)
        continue;
      if (!pan_addr_normalize (uid->address, &norm, NULL))
        found = !strcmp (norm, addr);
      free (norm);
    }
  return found;
}

gpg_error_t
pan_keys_check (pan_ctx_t ctx, pan_protocol_t protocol, const char *fpr,
                time_t now, time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if (r_expires)
    *r_expires = 0;
  if (protocol == PAN_PROTOCOL_SMIME)
    return pani_smime_check (ctx, fpr, now, r_expires, r_reason);
  if (protocol != PAN_PROTOCOL_OPENPGP)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_IMPLEMENTED),
                        "protocol %s is not supported yet",
                        pan_protocol_name (protocol));
  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP, &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME for %s: %s",
                        ctx->gnupg_home, gpg_strerror (err));
  err = pani_get_pinned_key (gctx, fpr, &key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    pani_reason (r_reason, err, "the pinned key %s is missing from %s;"
                 " enroll it again", fpr, ctx->gnupg_home);
  else if (err)
    pani_reason (r_reason, err, "looking up key %s: %s", fpr,
                 gpg_strerror (err));
  else
    err = pani_key_usable (key, now, r_reason);
  if (!err && r_expires)
    *r_expires = key->subkeys->expires;
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}


/*
 * Enrollment: check the key in a scratch keyring, import only it.
 */

/* List the keys in DATA without importing.  Sets *R_FOUND if one has the
 * primary fingerprint FPR and refuses secret key material.  */
static gpg_error_t
inspect_key_data (gpgme_ctx_t gctx, gpgme_data_t data, const char *fpr,
                  int *r_found, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key;

  *r_found = 0;
  if ((err = gpgme_op_keylist_from_data_start (gctx, data, 0)))
    return pani_reason (r_reason, err, "cannot read the key file: %s",
                        gpg_strerror (err));
  while (!(err = gpgme_op_keylist_next (gctx, &key)))
    {
      if (key->secret)
        err = pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                           "the key file holds secret key material;"
                           " export only the public key");
      else if (key->subkeys && !pani_ascii_casecmp (key->subkeys->fpr, fpr))
        *r_found = 1;
      gpgme_key_unref (key);
      if (err)
        break;
    }
  gpgme_op_keylist_end (gctx);
  if (gpg_err_code (err) == GPG_ERR_EOF)
    err = 0;
  return err;
}

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

/* Remove the scratch GnuPG home DIR and everything in it.  */
static void
remove_tree (const char *dir)
{
  nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static gpg_error_t
make_scratch_home (pan_ctx_t ctx, char **r_dir, char **r_reason)
{
  char *dir = pani_strdupf ("%s/spool/keycheck.XXXXXX", ctx->home);

  *r_dir = NULL;
  if (!dir)
    return gpg_error_from_syserror ();
  if (!mkdtemp (dir))
    {
      gpg_error_t err = pani_reason_sys (r_reason, dir);
      free (dir);
      return err;
    }
  *r_dir = dir;
  return 0;
}

static gpg_error_t
import_data (gpgme_ctx_t gctx, gpgme_data_t data, char **r_reason)
{
  gpg_error_t err;

  gpgme_data_seek (data, 0, SEEK_SET);
  if ((err = gpgme_op_import (gctx, data)))
    return pani_reason (r_reason, err, "importing the key failed: %s",
                        gpg_strerror (err));
  return 0;
}

/* Check the key FPR in the scratch keyring behind GCTX.  */
static gpg_error_t
check_candidate (gpgme_ctx_t gctx, const char *addr, const char *fpr,
                 time_t now, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  if ((err = pani_get_pinned_key (gctx, fpr, &key)))
    return pani_reason (r_reason, err, "key %s could not be imported: %s",
                        fpr, gpg_strerror (err));
  if ((err = pani_key_usable (key, now, r_reason)))
    goto leave;
  if (!has_uid_for (key, addr))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_WRONG_NAME),
                       "key %s has no valid user ID for %s; the recipient"
                       " must add one", fpr, addr);
 leave:
  gpgme_key_unref (key);
  return err;
}

/* Export the key FPR from GCTX as the only key into *R_OUT.  */
static gpg_error_t
export_one (gpgme_ctx_t gctx, const char *fpr, gpgme_data_t *r_out,
            char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t out = NULL;

  *r_out = NULL;
  if ((err = gpgme_data_new (&out)))
    return err;
  if ((err = gpgme_op_export (gctx, fpr, 0, out)))
    {
      gpgme_data_release (out);
      return pani_reason (r_reason, err, "exporting key %s failed: %s",
                          fpr, gpg_strerror (err));
    }
  gpgme_data_seek (out, 0, SEEK_SET);
  *r_out = out;
  return 0;
}

/* Import KEYDATA (the one pinned key) into the home's keyring and make
 * sure the import touched exactly that key.  */
static gpg_error_t
import_pinned (pan_ctx_t ctx, gpgme_data_t keydata, const char *fpr,
               char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_import_result_t res;

  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP, &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME for %s: %s",
                        ctx->gnupg_home, gpg_strerror (err));
  if ((err = import_data (gctx, keydata, r_reason)))
    goto leave;
  res = gpgme_op_import_result (gctx);
  if (!res || res->considered != 1 || !res->imports
      || res->imports->next || !res->imports->fpr
      || pani_ascii_casecmp (res->imports->fpr, fpr)
      || res->imports->result)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                       "importing key %s into %s did not import exactly"
                       " that key", fpr, ctx->gnupg_home);
 leave:
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pan_keys_import_openpgp (pan_ctx_t ctx, const char *addr, const char *fpr,
                         const void *buf, size_t len, time_t now,
                         char **r_reason)
{
  gpg_error_t err;
  char *scratch = NULL;
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t data = NULL, pinned = NULL;
  int found;

  if ((err = make_scratch_home (ctx, &scratch, r_reason)))
    return err;
  if ((err = pani_gpgme_new (scratch, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_data_new_from_mem (&data, buf, len, 0)))
    {
      pani_reason (r_reason, err, "cannot start GPGME: %s",
                   gpg_strerror (err));
      goto leave;
    }
  if ((err = inspect_key_data (gctx, data, fpr, &found, r_reason)))
    goto leave;
  if (!found)
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                         "the key file holds no key with primary"
                         " fingerprint %s; check the file and the"
                         " fingerprint you were given", fpr);
      goto leave;
    }
  if ((err = import_data (gctx, data, r_reason))
      || (err = check_candidate (gctx, addr, fpr, now, r_reason))
      || (err = export_one (gctx, fpr, &pinned, r_reason))
      || (err = import_pinned (ctx, pinned, fpr, r_reason)))
    goto leave;
  err = pan_keys_check (ctx, PAN_PROTOCOL_OPENPGP, fpr, now, NULL, r_reason);

 leave:
  gpgme_data_release (pinned);
  gpgme_data_release (data);
  gpgme_release (gctx);
  remove_tree (scratch);
  free (scratch);
  return err;
}
