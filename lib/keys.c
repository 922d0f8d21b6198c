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
      if (pani_hexval (*input) < 0)
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

/* Return the time after which KEY can no longer encrypt: the earlier of
 * the primary key's expiry and the latest expiry of its usable
 * encryption subkeys; 0 if it does not expire.  */
static time_t
usable_until (gpgme_key_t key, time_t now)
{
  time_t primary = key->subkeys->expires, best = -1;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (subkey_can_encrypt (sub, now))
      {
        if (!sub->expires)
          best = 0;
        else if (best && sub->expires > best)
          best = sub->expires;
      }
  if (best < 0 || !best)
    return primary;
  return primary && primary < best ? primary : best;
}

/* Return the policy's name of ALGO: rsa, dsa, elg, ecdh, ecdsa, eddsa. */
static const char *
policy_algo_name (gpgme_pubkey_algo_t algo)
{
  switch (algo)
    {
    case GPGME_PK_RSA: case GPGME_PK_RSA_E: case GPGME_PK_RSA_S:
      return "rsa";
    case GPGME_PK_DSA:   return "dsa";
    case GPGME_PK_ELG: case GPGME_PK_ELG_E:
      return "elg";
    case GPGME_PK_ECC: case GPGME_PK_ECDH:
      return "ecdh";
    case GPGME_PK_ECDSA: return "ecdsa";
    case GPGME_PK_EDDSA: return "eddsa";
    default:             return gpgme_pubkey_algo_name (algo);
    }
}

/* Judge the algorithm of SUB of KEY; store why in *R_WHY.  */
static pan_severity_t
policy_subkey (pan_config_t config, gpgme_key_t key, gpgme_subkey_t sub,
               char **r_why)
{
  char *why = NULL;
  pan_severity_t sev;

  *r_why = NULL;
  sev = pan_policy_check_algo (config, policy_algo_name (sub->pubkey_algo),
                               sub->length, sub->curve, &why);
  if (sev != PAN_SEVERITY_OK)
    *r_why = pani_strdupf ("%s %s: %s",
                           sub == key->subkeys ? "key" : "subkey",
                           sub == key->subkeys ? sub->fpr : sub->keyid,
                           why ? why : pan_severity_name (sev));
  free (why);
  return sev;
}

/* Judge the algorithms of KEY's subkeys that are still in force (not
 * revoked or expired at NOW); store why the worst is bad in *R_WHY.  */
static pan_severity_t
policy_subkeys (pan_config_t config, gpgme_key_t key, time_t now,
                char **r_why)
{
  pan_severity_t worst = PAN_SEVERITY_OK, sev;
  char *why;

  *r_why = NULL;
  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    {
      if (sub->revoked || sub->expired
          || (sub->expires && sub->expires <= now))
        continue;
      sev = policy_subkey (config, key, sub, &why);
      if (sev > worst)
        {
          worst = sev;
          free (*r_why);
          *r_why = why;
        }
      else
        free (why);
    }
  return worst;
}

/* Return the file name of the gpg that GPGME runs.  */
static const char *
gpg_program (void)
{
  gpgme_engine_info_t info = NULL;

  if (gpgme_get_engine_info (&info))
    return NULL;
  for (; info; info = info->next)
    if (info->protocol == GPGME_PROTOCOL_OpenPGP)
      return info->file_name;
  return NULL;
}

/* Run "gpg --with-colons --check-sigs FPR" on GNUPG_HOME (no shell)
 * and store its output in *R_OUT.  */
static gpg_error_t
list_sigs (const char *gnupg_home, const char *fpr, gpgme_data_t *r_out,
           char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t out = NULL, errout = NULL;
  const char *prog = gpg_program ();
  const char *argv[] = { "gpg", "--homedir", gnupg_home, "--batch",
                         "--no-tty", "--with-colons", "--fixed-list-mode",
                         "--trust-model", "always",
                         "--no-auto-check-trustdb", "--no-sig-cache",
                         "--check-sigs", "--", fpr, NULL };

  *r_out = NULL;
  if (!prog)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_ENGINE),
                        "GPGME knows no gpg program");
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, GPGME_PROTOCOL_SPAWN))
      || (err = gpgme_data_new (&out)) || (err = gpgme_data_new (&errout))
      || (err = gpgme_op_spawn (gctx, prog, argv, NULL, out, errout, 0)))
    {
      pani_reason (r_reason, err, "running %s --check-sigs: %s", prog,
                   gpg_strerror (err));
      gpgme_data_release (out);
      out = NULL;
    }
  gpgme_data_release (errout);
  gpgme_release (gctx);
  *r_out = out;
  return err;
}

/* Judge the hash algorithm of the binding self-signatures of FPR in
 * GNUPG_HOME.  */
static pan_severity_t
policy_selfsigs (const char *gnupg_home, const char *fpr, char **r_reason)
{
  gpgme_data_t out = NULL;
  char *buf = NULL, *where = NULL, *why = NULL;
  size_t len = 0;
  int algo = 0;
  pan_severity_t sev = PAN_SEVERITY_CRITICAL;

  if (list_sigs (gnupg_home, fpr, &out, &why))
    goto leave;
  buf = gpgme_data_release_and_get_mem (out, &len);
  if (pan_policy_parse_colons (buf, len, fpr, &algo, &where, &why))
    goto leave;
  free (why);
  why = NULL;
  sev = pan_policy_check_digest (algo, &why);
 leave:
  if (sev != PAN_SEVERITY_OK)
    pani_reason (r_reason, 0, "key %s%s%s: %s", fpr, where ? ", " : "",
                 where ? where : "", why ? why
                 : "cannot check its self-signatures");
  gpgme_free (buf);
  free (where);
  free (why);
  return sev;
}

/* Apply the algorithm policy of CONFIG to KEY (primary fingerprint
 * FPR) in GNUPG_HOME at NOW; *R_REASON names the worst finding.  */
static pan_severity_t
key_policy (pan_config_t config, const char *gnupg_home, gpgme_key_t key,
            time_t now, char **r_reason)
{
  char *why = NULL;
  pan_severity_t sev = policy_subkeys (config, key, now, &why), sev2;

  if (sev < PAN_SEVERITY_CRITICAL)
    {
      char *why2 = NULL;

      sev2 = policy_selfsigs (gnupg_home, key->subkeys->fpr, &why2);
      if (sev2 > sev)
        {
          sev = sev2;
          free (why);
          why = why2;
          why2 = NULL;
        }
      free (why2);
    }
  if (sev != PAN_SEVERITY_OK && r_reason && !*r_reason)
    *r_reason = why;
  else
    free (why);
  return sev;
}

/* Refuse KEY if it breaks the algorithm policy.  */
static gpg_error_t
enforce_policy (pan_config_t config, const char *gnupg_home, gpgme_key_t key,
                time_t now, char **r_reason)
{
  char *why = NULL;
  gpg_error_t err = 0;

  if (key_policy (config, gnupg_home, key, now, &why)
      == PAN_SEVERITY_CRITICAL)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                       "refused by the algorithm policy: %s",
                       why ? why : "see pankey check");
  free (why);
  return err;
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
  else if (!(err = pani_key_usable (key, now, r_reason)))
    err = enforce_policy (ctx->config, ctx->gnupg_home, key, now, r_reason);
  if (!err && r_expires)
    *r_expires = usable_until (key, now);
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
                  int *r_found, int *r_others, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key;

  *r_found = 0;
  *r_others = 0;
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
      else
        ++*r_others;
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
  (void)st;
  (void)flag;
  (void)ftw;
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

/* Check the key FPR in the scratch keyring SCRATCH behind GCTX.  */
static gpg_error_t
check_candidate (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *scratch,
                 const char *addr, const char *fpr, time_t now,
                 char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  if ((err = pani_get_pinned_key (gctx, fpr, &key)))
    return pani_reason (r_reason, err, "key %s could not be imported: %s",
                        fpr, gpg_strerror (err));
  if ((err = pani_key_usable (key, now, r_reason))
      || (err = enforce_policy (ctx->config, scratch, key, now, r_reason)))
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

static gpg_error_t
no_such_key (const char *fpr, char **r_reason)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_NO_PUBKEY),
                      "the key file holds no key with primary"
                      " fingerprint %s; check the file and the"
                      " fingerprint you were given", fpr);
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
  int found, others;

  if ((err = make_scratch_home (ctx, &scratch, r_reason)))
    return err;
  if ((err = pani_gpgme_new (scratch, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_data_new_from_mem (&data, buf, len, 0)))
    {
      pani_reason (r_reason, err, "cannot start GPGME: %s",
                   gpg_strerror (err));
      goto leave;
    }
  if ((err = inspect_key_data (gctx, data, fpr, &found, &others, r_reason)))
    goto leave;
  if (!found)
    {
      err = no_such_key (fpr, r_reason);
      goto leave;
    }
  if ((err = import_data (gctx, data, r_reason))
      || (err = check_candidate (ctx, gctx, scratch, addr, fpr, now,
                                 r_reason))
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


/*
 * Refresh: import an update of a pinned key without changing the pin.
 */

/* Import into the scratch keyring behind GCTX the key FPR as the home
 * of CTX holds it, so that an update merges with it.  */
static gpg_error_t
seed_scratch (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *fpr,
              char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t home = NULL;
  gpgme_key_t key = NULL;
  gpgme_data_t current = NULL;

  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             &home)))
    return pani_reason (r_reason, err, "cannot start GPGME for %s: %s",
                        ctx->gnupg_home, gpg_strerror (err));
  if ((err = pani_get_pinned_key (home, fpr, &key)))
    pani_reason (r_reason, err, "the pinned key %s is missing from %s;"
                 " enroll it again with pankey rotate", fpr,
                 ctx->gnupg_home);
  else if (!(err = export_one (home, fpr, &current, r_reason)))
    err = import_data (gctx, current, r_reason);
  gpgme_data_release (current);
  gpgme_key_unref (key);
  gpgme_release (home);
  return err;
}

/* Check the key data DATA for a refresh of FPR: it holds that key and
 * no other.  */
static gpg_error_t
inspect_update (gpgme_ctx_t gctx, gpgme_data_t data, const char *fpr,
                char **r_reason)
{
  gpg_error_t err;
  int found, others;

  if ((err = inspect_key_data (gctx, data, fpr, &found, &others, r_reason)))
    return err;
  if (!found)
    return no_such_key (fpr, r_reason);
  if (others)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "the key file holds %d key(s) besides %s; a refresh"
                        " takes only an update of the pinned key: export"
                        " just that key", others, fpr);
  return 0;
}

/* Apply the policy to the merged key FPR in the scratch keyring.  */
static gpg_error_t
check_update (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *scratch,
              const char *fpr, time_t now, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  if ((err = pani_get_pinned_key (gctx, fpr, &key)))
    return pani_reason (r_reason, err, "key %s could not be merged: %s",
                        fpr, gpg_strerror (err));
  err = enforce_policy (ctx->config, scratch, key, now, r_reason);
  gpgme_key_unref (key);
  return err;
}

static void fill_info (pan_config_t config, const char *gnupg_home,
                       gpgme_key_t key, time_t now,
                       struct pan_key_info *info);

/* Describe the merged key FPR of the scratch keyring SCRATCH.  */
static gpg_error_t
describe_update (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *scratch,
                 const char *fpr, time_t now, struct pan_key_info *r_info)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  if (!r_info)
    return 0;
  if (!(err = pani_get_pinned_key (gctx, fpr, &key)))
    fill_info (ctx->config, scratch, key, now, r_info);
  gpgme_key_unref (key);
  return err;
}

gpg_error_t
pan_keys_refresh_openpgp (pan_ctx_t ctx, const char *fpr, const void *buf,
                          size_t len, time_t now, int check_only,
                          struct pan_key_info *r_info, char **r_reason)
{
  gpg_error_t err;
  char *scratch = NULL;
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t data = NULL, merged = NULL;

  if (r_info)
    {
      memset (r_info, 0, sizeof *r_info);
      r_info->protocol = PAN_PROTOCOL_OPENPGP;
      snprintf (r_info->fingerprint, sizeof r_info->fingerprint, "%s", fpr);
    }

  if ((err = make_scratch_home (ctx, &scratch, r_reason)))
    return err;
  if ((err = pani_gpgme_new (scratch, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_data_new_from_mem (&data, buf, len, 0)))
    {
      pani_reason (r_reason, err, "cannot start GPGME: %s",
                   gpg_strerror (err));
      goto leave;
    }
  if ((err = inspect_update (gctx, data, fpr, r_reason))
      || (err = seed_scratch (ctx, gctx, fpr, r_reason))
      || (err = import_data (gctx, data, r_reason))
      || (err = check_update (ctx, gctx, scratch, fpr, now, r_reason))
      || (err = describe_update (ctx, gctx, scratch, fpr, now, r_info))
      || (err = export_one (gctx, fpr, &merged, r_reason)))
    goto leave;
  if (!check_only)
    err = import_pinned (ctx, merged, fpr, r_reason);

 leave:
  gpgme_data_release (merged);
  gpgme_data_release (data);
  gpgme_release (gctx);
  remove_tree (scratch);
  free (scratch);
  return err;
}


/*
 * What is known of a pinned key.
 */

/* Copy the algorithm of SUB ("ed25519", "rsa3072") into BUF.  */
static void
algo_string (gpgme_subkey_t sub, char *buf, size_t size)
{
  char *s = gpgme_pubkey_algo_string (sub);

  snprintf (buf, size, "%s", s ? s : "unknown");
  gpgme_free (s);
}

/* Return the newest encryption subkey of KEY usable at NOW, else the
 * newest encryption subkey, else NULL.  */
static gpgme_subkey_t
enc_subkey (gpgme_key_t key, time_t now)
{
  gpgme_subkey_t best = NULL, any = NULL;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    {
      if (!sub->can_encrypt)
        continue;
      if (!any || sub->timestamp >= any->timestamp)
        any = sub;
      if (subkey_can_encrypt (sub, now)
          && (!best || sub->timestamp >= best->timestamp))
        best = sub;
    }
  return best ? best : any;
}

static void
fill_info (pan_config_t config, const char *gnupg_home, gpgme_key_t key,
           time_t now, struct pan_key_info *info)
{
  gpgme_subkey_t pk = key->subkeys, enc = enc_subkey (key, now);

  info->present = 1;
  algo_string (pk, info->algorithm, sizeof info->algorithm);
  info->bits = pk->length;
  if (enc)
    algo_string (enc, info->enc_algorithm, sizeof info->enc_algorithm);
  info->created = pk->timestamp > 0 ? pk->timestamp : 0;
  info->expires = usable_until (key, now);
  info->revoked = key->revoked || pk->revoked;
  info->expired = !info->revoked
    && (key->expired || pk->expired || (pk->expires && pk->expires <= now));
  info->usable = !pani_key_usable (key, now, NULL);
  info->policy = key_policy (config, gnupg_home, key, now,
                             &info->policy_reason);
}

/* What gpgsm says of the S/MIME certificate FPR at NOW: a certificate
 * whose chain, validity or revocation check fails is not usable, and
 * the policy verdict names why.  */
static gpg_error_t
smime_info (pan_ctx_t ctx, const char *fpr, time_t now,
            struct pan_key_info *info, char **r_reason)
{
  gpg_error_t err;
  char *why = NULL;

  err = pani_smime_check (ctx, fpr, now, &info->expires, &why);
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

gpg_error_t
pan_keys_info (pan_ctx_t ctx, pan_protocol_t protocol, const char *fpr,
               time_t now, struct pan_key_info *r_info, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  memset (r_info, 0, sizeof *r_info);
  r_info->protocol = protocol;
  snprintf (r_info->fingerprint, sizeof r_info->fingerprint, "%s", fpr);
  if (protocol == PAN_PROTOCOL_SMIME)
    return smime_info (ctx, fpr, now, r_info, r_reason);
  if (protocol != PAN_PROTOCOL_OPENPGP)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_IMPLEMENTED),
                        "protocol %s is not supported yet",
                        pan_protocol_name (protocol));
  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP, &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME for %s: %s",
                        ctx->gnupg_home, gpg_strerror (err));
  err = pani_get_pinned_key (gctx, fpr, &key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    pani_reason (r_reason, err, "the pinned key %s is missing from %s",
                 fpr, ctx->gnupg_home);
  else if (err)
    pani_reason (r_reason, err, "looking up key %s: %s", fpr,
                 gpg_strerror (err));
  else
    fill_info (ctx->config, ctx->gnupg_home, key, now, r_info);
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

void
pan_keys_info_release (struct pan_key_info *info)
{
  if (!info)
    return;
  free (info->policy_reason);
  info->policy_reason = NULL;
}
