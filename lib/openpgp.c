/* openpgp.c - OpenPGP keys through gpg: the OpenPGP table of operations
 *
 * The registry pins each address to one primary fingerprint; the key
 * is looked up by it (pani_get_pinned_key).  A key is checked (not
 * revoked, expired, disabled or invalid, with a usable encryption
 * subkey, within the algorithm policy) at enroll, refresh and every
 * send.  Enrollment and refresh first work in a scratch keyring; only
 * the pinned key reaches the home.  The hash algorithms of binding
 * self-signatures are not in GPGME's key listing: "gpg --check-sigs"
 * gives them, read by the parser of policy.c.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "engine-int.h"
#include "proto-int.h"
#include "policy-int.h"


/*
 * Whether a key can encrypt.
 */

static int
subkey_can_encrypt (gpgme_subkey_t sub, time_t now)
{
  return sub->can_encrypt && !sub->revoked && !sub->expired && !sub->disabled
    && !sub->invalid && (!sub->expires || sub->expires > now);
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
                        " extended or new key",
                        pk->fpr);
  if (key->disabled)
    return pani_reason (r_reason, gpg_error (GPG_ERR_KEY_DISABLED),
                        "key %s is disabled", pk->fpr);
  if (key->invalid || pk->invalid)
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_PUBKEY),
                        "key %s is invalid", pk->fpr);
  return 0;
}

/* Check that KEY can encrypt at NOW: not revoked, expired, disabled or
 * invalid, and with a usable encryption subkey.  */
static gpg_error_t
key_usable (gpgme_key_t key, time_t now, char **r_reason)
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


/*
 * The algorithm policy applied to a key.
 */

/* Return the policy's name of ALGO: rsa, dsa, elg, ecdh, ecdsa, eddsa. */
static const char *
policy_algo_name (gpgme_pubkey_algo_t algo)
{
  switch (algo)
    {
    case GPGME_PK_RSA:
    case GPGME_PK_RSA_E:
    case GPGME_PK_RSA_S: return "rsa";
    case GPGME_PK_DSA: return "dsa";
    case GPGME_PK_ELG:
    case GPGME_PK_ELG_E: return "elg";
    case GPGME_PK_ECC:
    case GPGME_PK_ECDH: return "ecdh";
    case GPGME_PK_ECDSA: return "ecdsa";
    case GPGME_PK_EDDSA: return "eddsa";
    default: return gpgme_pubkey_algo_name (algo);
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
  sev = pani_policy_check_algo (config, policy_algo_name (sub->pubkey_algo),
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

/* Run "gpg --with-colons --check-sigs FPR" on GNUPG_HOME (no shell)
 * and store its output in *R_OUT.  */
static gpg_error_t
list_sigs (const char *gnupg_home, const char *fpr, gpgme_data_t *r_out,
           char **r_reason)
{
  gpg_error_t err;
  const char *prog = pani_engine_program (GPGME_PROTOCOL_OpenPGP);
  const char *argv[] = { "gpg",
                         "--homedir",
                         gnupg_home,
                         "--batch",
                         "--no-tty",
                         "--with-colons",
                         "--fixed-list-mode",
                         "--trust-model",
                         "always",
                         "--no-auto-check-trustdb",
                         "--no-sig-cache",
                         "--check-sigs",
                         "--",
                         fpr,
                         NULL };

  *r_out = NULL;
  if (!prog)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_ENGINE),
                        "GPGME knows no gpg program");
  if ((err = pani_engine_spawn (prog, argv, r_out)))
    pani_reason (r_reason, err, "running %s --check-sigs: %s", prog,
                 gpg_strerror (err));
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
  if (pani_policy_parse_colons (buf, len, fpr, &algo, &where, &why))
    goto leave;
  free (why);
  why = NULL;
  sev = pani_policy_check_digest (algo, &why);
leave:
  if (sev != PAN_SEVERITY_OK)
    pani_reason (r_reason, 0, "key %s%s%s: %s", fpr, where ? ", " : "",
                 where ? where : "",
                 why ? why : "cannot check its self-signatures");
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


/*
 * Checking and describing a pinned key.
 */

/* Open a context on the GnuPG home of CTX.  */
static gpg_error_t
home_context (pan_ctx_t ctx, gpgme_ctx_t *r_gctx, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_gpgme_new (ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             r_gctx)))
    pani_reason (r_reason, err, "cannot start GPGME for %s: %s",
                 ctx->gnupg_home, gpg_strerror (err));
  return err;
}

/* Look up the pinned key FPR in the home of CTX through a new context
 * (*R_GCTX, also after an error); HINT ends the reason if the key is
 * missing.  */
static gpg_error_t
home_key (pan_ctx_t ctx, const char *fpr, const char *hint,
          gpgme_ctx_t *r_gctx, gpgme_key_t *r_key, char **r_reason)
{
  gpg_error_t err;

  *r_key = NULL;
  if ((err = home_context (ctx, r_gctx, r_reason)))
    return err;
  err = pani_get_pinned_key (*r_gctx, fpr, r_key);
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    pani_reason (r_reason, err, "the pinned key %s is missing from %s%s",
                 fpr, ctx->gnupg_home, hint);
  else if (err)
    pani_reason (r_reason, err, "looking up key %s: %s", fpr,
                 gpg_strerror (err));
  return err;
}

static gpg_error_t
openpgp_check (pan_ctx_t ctx, const char *fpr, time_t now, time_t *r_expires,
               char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if (r_expires)
    *r_expires = 0;
  if (!(err = home_key (ctx, fpr, "; enroll it again", &gctx, &key,
                        r_reason))
      && !(err = key_usable (key, now, r_reason)))
    err = enforce_policy (ctx->config, ctx->gnupg_home, key, now, r_reason);
  if (!err && r_expires)
    *r_expires = usable_until (key, now);
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

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
  info->usable = !key_usable (key, now, NULL);
  info->policy = key_policy (config, gnupg_home, key, now,
                             &info->policy_reason);
}

static gpg_error_t
openpgp_describe (pan_ctx_t ctx, const char *fpr, time_t now,
                  struct pan_key_info *info, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if (!(err = home_key (ctx, fpr, "", &gctx, &key, r_reason)))
    fill_info (ctx->config, ctx->gnupg_home, key, now, info);
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}


/*
 * Enrollment: check the key in a scratch keyring, import only it.
 */

/* A scratch keyring and the key data given to enroll or refresh.  */
struct scratch
{
  char *dir;
  gpgme_ctx_t gctx;
  gpgme_data_t data;
};

/* Make S: an empty scratch keyring and the key data BUF/LEN.  */
static gpg_error_t
scratch_open (pan_ctx_t ctx, const void *buf, size_t len, struct scratch *s,
              char **r_reason)
{
  gpg_error_t err;

  memset (s, 0, sizeof *s);
  if ((err = pani_engine_scratch_new (ctx, "keycheck", &s->dir, r_reason)))
    return err;
  if ((err = pani_gpgme_new (s->dir, GPGME_PROTOCOL_OpenPGP, &s->gctx))
      || (err = gpgme_data_new_from_mem (&s->data, buf, len, 0)))
    pani_reason (r_reason, err, "cannot start GPGME: %s",
                 gpg_strerror (err));
  return err;
}

static void
scratch_close (struct scratch *s)
{
  gpgme_data_release (s->data);
  gpgme_release (s->gctx);
  pani_engine_scratch_remove (s->dir);
  free (s->dir);
}

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
  if ((err = key_usable (key, now, r_reason))
      || (err = enforce_policy (ctx->config, scratch, key, now, r_reason)))
    goto leave;
  if (!has_uid_for (key, addr))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_WRONG_NAME),
                       "key %s has no valid user ID for %s; the recipient"
                       " must add one",
                       fpr, addr);
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
      return pani_reason (r_reason, err, "exporting key %s failed: %s", fpr,
                          gpg_strerror (err));
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

  if ((err = home_context (ctx, &gctx, r_reason))
      || (err = import_data (gctx, keydata, r_reason)))
    goto leave;
  res = gpgme_op_import_result (gctx);
  if (!res || res->considered != 1 || !res->imports || res->imports->next
      || !res->imports->fpr || pani_ascii_casecmp (res->imports->fpr, fpr)
      || res->imports->result)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                       "importing key %s into %s did not import exactly"
                       " that key",
                       fpr, ctx->gnupg_home);
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
                      " fingerprint you were given",
                      fpr);
}

static gpg_error_t
openpgp_enroll (pan_ctx_t ctx, const char *addr, const char *fpr,
                const void *buf, size_t len, time_t now, char **r_fpr,
                char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  gpgme_data_t pinned = NULL;
  int found, others;

  if (r_fpr)
    *r_fpr = NULL;
  if ((err = scratch_open (ctx, buf, len, &s, r_reason))
      || (err = inspect_key_data (s.gctx, s.data, fpr, &found, &others,
                                  r_reason)))
    goto leave;
  if (!found)
    {
      err = no_such_key (fpr, r_reason);
      goto leave;
    }
  if ((err = import_data (s.gctx, s.data, r_reason))
      || (err = check_candidate (ctx, s.gctx, s.dir, addr, fpr, now,
                                 r_reason))
      || (err = export_one (s.gctx, fpr, &pinned, r_reason))
      || (err = import_pinned (ctx, pinned, fpr, r_reason))
      || (err = openpgp_check (ctx, fpr, now, NULL, r_reason)))
    goto leave;
  if (r_fpr && !(*r_fpr = pani_strdup (fpr)))
    err = gpg_error (GPG_ERR_ENOMEM);

leave:
  gpgme_data_release (pinned);
  scratch_close (&s);
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

  if ((err = home_context (ctx, &home, r_reason)))
    return err;
  if ((err = pani_get_pinned_key (home, fpr, &key)))
    pani_reason (r_reason, err,
                 "the pinned key %s is missing from %s;"
                 " enroll it again with pankey rotate",
                 fpr, ctx->gnupg_home);
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
                        " just that key",
                        others, fpr);
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
    return pani_reason (r_reason, err, "key %s could not be merged: %s", fpr,
                        gpg_strerror (err));
  err = enforce_policy (ctx->config, scratch, key, now, r_reason);
  gpgme_key_unref (key);
  return err;
}

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

static gpg_error_t
openpgp_refresh (pan_ctx_t ctx, const char *fpr, const void *buf, size_t len,
                 time_t now, int check_only, struct pan_key_info *info,
                 char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  gpgme_data_t merged = NULL;

  if ((err = scratch_open (ctx, buf, len, &s, r_reason))
      || (err = inspect_update (s.gctx, s.data, fpr, r_reason))
      || (err = seed_scratch (ctx, s.gctx, fpr, r_reason))
      || (err = import_data (s.gctx, s.data, r_reason))
      || (err = check_update (ctx, s.gctx, s.dir, fpr, now, r_reason))
      || (err = describe_update (ctx, s.gctx, s.dir, fpr, now, info))
      || (err = export_one (s.gctx, fpr, &merged, r_reason)))
    goto leave;
  if (!check_only)
    err = import_pinned (ctx, merged, fpr, r_reason);

leave:
  gpgme_data_release (merged);
  scratch_close (&s);
  return err;
}


/*
 * Encryption of one copy: PGP/MIME (RFC 3156).
 */

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

/* Collect the pinned keys of the recipients of REQ, each checked
 * again.  */
static gpg_error_t
collect_keys (const struct pani_encrypt_req *req, gpgme_ctx_t gctx,
              gpgme_key_t **r_keys, char **r_reason)
{
  gpg_error_t err = 0;
  gpgme_key_t *keys = calloc (req->nrcpts + 1, sizeof *keys);

  *r_keys = NULL;
  if (!keys)
    return gpg_error (GPG_ERR_ENOMEM);
  for (size_t i = 0; !err && i < req->nrcpts; i++)
    {
      const char *fpr = req->fprs[i];

      if (!fpr)
        err = gpg_error (GPG_ERR_INV_STATE); /* Not resolved.  */
      else if (!(err = pani_get_pinned_key (gctx, fpr, &keys[i])))
        err = key_usable (keys[i], req->now, r_reason);
      if (err)
        pani_reason (r_reason, err, "%s: key %s cannot be used: %s",
                     req->addrs[i], fpr ? fpr : "-", gpg_strerror (err));
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
check_encrypt_result (gpgme_ctx_t gctx, int signing, char **r_reason)
{
  gpgme_encrypt_result_t res = gpgme_op_encrypt_result (gctx);
  gpgme_sign_result_t sres = signing ? gpgme_op_sign_result (gctx) : NULL;

  if (!res)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpg gave no encryption result");
  if (res->invalid_recipients)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "gpg refused key %s: %s",
                        res->invalid_recipients->fpr,
                        gpg_strerror (res->invalid_recipients->reason));
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

/* Encrypt REQ->PLAIN to the keys of REQ, appending armored ciphertext
 * to REQ->OUT_FD.  */
static gpg_error_t
encrypt_openpgp (const struct pani_encrypt_req *req, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t *keys = NULL;
  gpgme_data_t cipher = NULL;
  gpgme_encrypt_flags_t flags = GPGME_ENCRYPT_ALWAYS_TRUST
    | GPGME_ENCRYPT_NO_ENCRYPT_TO;
  int signing = 0;

  if ((err = pani_gpgme_new (req->ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME: %s",
                        gpg_strerror (err));
  if ((err = collect_keys (req, gctx, &keys, r_reason))
      || (err = setup_signing (req, gctx, &signing, r_reason))
      || (err = gpgme_data_new_from_fd (&cipher, req->out_fd)))
    goto leave;
  gpgme_data_set_flag (req->plain, "sensitive", "1");
  gpgme_set_armor (gctx, 1);
  err = signing
    ? gpgme_op_encrypt_sign (gctx, keys, flags, req->plain, cipher)
    : gpgme_op_encrypt (gctx, keys, flags, req->plain, cipher);
  if (*req->plain_err)
    err = pani_reason (r_reason, *req->plain_err,
                       "reading the message"
                       " body: %s",
                       gpg_strerror (*req->plain_err));
  else if (err)
    pani_reason (r_reason, err, "encryption failed: %s", gpg_strerror (err));
  else
    err = check_encrypt_result (gctx, signing, r_reason);

leave:
  gpgme_data_release (cipher);
  pani_release_keys (keys);
  gpgme_release (gctx);
  return err;
}

/* Write the PGP/MIME part of REQ's message: a multipart/encrypted head,
 * the armored ciphertext, the closing boundary.  */
static gpg_error_t
openpgp_encrypt (const struct pani_encrypt_req *req, char **r_reason)
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


const struct pani_proto_ops pani_openpgp_ops = {
  PAN_PROTOCOL_OPENPGP, openpgp_check,   openpgp_describe,
  openpgp_enroll,       openpgp_refresh, openpgp_encrypt
};
