/* openpgp.c - OpenPGP keys through gpg: the OpenPGP table of operations
 *
 * The registry pins each address to one primary fingerprint and the
 * encryption subkeys accepted with it (openpgp-pins.c); the key is
 * looked up by the primary fingerprint (pani_get_pinned_key).  A key is checked (not
 * revoked, expired, disabled or invalid, with a usable encryption
 * subkey, within the algorithm policy) at enroll, refresh and every
 * send.  Enrollment and refresh first work in a scratch keyring; only
 * the pinned key reaches the home.  The scratch keyring's gpg.conf says
 * "no-sig-cache": the binding signatures are checked there whatever a
 * cache entry in the home's keyring claims, and only the subkeys whose
 * binding holds are pinned.  The hash algorithms of binding
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
#include "fileio-int.h"
#include "openpgp-int.h"
#include "openpgp-pins-int.h"
#include "openpgp-list-int.h"
#include "openpgp-encrypt-int.h"
#include "registry-int.h"
#include "registry-verdict-int.h"


/*
 * Whether a key can encrypt.
 */

/* True if SUB is one of PINS (NULL: any subkey counts).  */
static int
counts (gpgme_subkey_t sub, const char *pins)
{
  return !pins || (sub->fpr && pani_registry_pinned (pins, sub->fpr));
}

/* Return the time after which KEY can no longer encrypt: the earlier of
 * the primary key's expiry and the latest expiry of its usable
 * encryption subkeys (those of PINS if not NULL); 0 if it does not
 * expire.  */
static time_t
usable_until (gpgme_key_t key, const char *pins, time_t now)
{
  time_t primary = key->subkeys->expires, best = -1;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (counts (sub, pins) && pani_openpgp_subkey_usable (sub, now))
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

/* Check that KEY can encrypt at NOW: not revoked, expired, disabled or
 * invalid, and with a usable encryption subkey (one of PINS if not
 * NULL).  */
static gpg_error_t
key_usable (gpgme_key_t key, const char *pins, time_t now, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_openpgp_check_primary (key, now, r_reason)))
    return err;
  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (counts (sub, pins) && pani_openpgp_subkey_usable (sub, now))
      return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                      "key %s has no usable %sencryption subkey"
                      " (all expired, revoked or missing)",
                      key->subkeys->fpr, pins ? "pinned " : "");
}

/* True if KEY has a valid user ID whose address is ADDR (as CONFIG
 * matches addresses).  */
static int
has_uid_for (pan_config_t config, gpgme_key_t key, const char *addr)
{
  int found = 0;

  for (gpgme_user_id_t uid = key->uids; uid && !found; uid = uid->next)
    {
      char *norm = NULL;

      if (uid->revoked || uid->invalid)
        continue;
      if (!pani_uid_address (uid, &norm))
        found = pan_addr_same (config, norm, addr);
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

/* Judge the hash algorithm of the binding self-signatures of FPR in
 * GNUPG_HOME.  */
static pan_severity_t
policy_selfsigs (const char *gnupg_home, const char *fpr, char **r_reason)
{
  gpgme_data_t out = NULL;
  char *buf = NULL, *where = NULL, *why = NULL;
  const char *listed = NULL;
  size_t len = 0;
  int algo = 0;
  pan_severity_t sev = PAN_SEVERITY_CRITICAL;

  if (!pani_openpgp_listed_sigs (gnupg_home, fpr, &listed, &len))
    {
      if (pani_policy_parse_colons (listed, len, fpr, &algo, &where, &why))
        goto leave;
    }
  else if (pani_openpgp_list_sigs (gnupg_home, fpr, &out, &why))
    goto leave;
  else if (!(buf = gpgme_data_release_and_get_mem (out, &len))
           || pani_policy_parse_colons (buf, len, fpr, &algo, &where, &why))
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

/* Refuse a key whose policy verdict is SEV (WHY says why).  */
static gpg_error_t
refuse_policy (pan_severity_t sev, const char *why, char **r_reason)
{
  if (sev != PAN_SEVERITY_CRITICAL)
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                      "refused by the algorithm policy: %s",
                      why ? why : "see pankey check");
}

/* Refuse KEY if it breaks the algorithm policy.  */
static gpg_error_t
enforce_policy (pan_config_t config, const char *gnupg_home, gpgme_key_t key,
                time_t now, char **r_reason)
{
  char *why = NULL;
  gpg_error_t err;
  pan_severity_t sev = key_policy (config, gnupg_home, key, now, &why);

  err = refuse_policy (sev, why, r_reason);
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
                 ctx->gnupg_home, pani_engine_strerror (err));
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

/* Look up the pinned key FPR in the home of CTX as home_key does, or,
 * once many keys were looked up there, in the listing of the whole
 * keyring (openpgp-list.c; *R_GCTX is then NULL).  For reports only:
 * the checks before an import or a send list the key itself.  */
static gpg_error_t
listed_key (pan_ctx_t ctx, const char *fpr, const char *hint,
            gpgme_ctx_t *r_gctx, gpgme_key_t *r_key, char **r_reason)
{
  gpg_error_t err = pani_openpgp_listed_key (ctx->gnupg_home, fpr, r_key);

  *r_gctx = NULL;
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    return pani_reason (r_reason, err,
                        "the pinned key %s is missing from %s%s", fpr,
                        ctx->gnupg_home, hint);
  if (!err)
    return 0;
  return home_key (ctx, fpr, hint, r_gctx, r_key, r_reason);
}

static void fill_info (pan_config_t config, const char *gnupg_home,
                       gpgme_key_t key, time_t now,
                       struct pan_key_info *info);

/* The check of the pinned key FPR with the subkeys PINS (NULL: any
 * subkey), see pani_proto_ops.  If INFO is not NULL, describe the key
 * there on the way (the policy is judged once), with the primary key's
 * expiry at *R_PEXP (0: never), and store the keys PINS leaves out at
 * *R_UNPINNED: one look-up for all.  */
static gpg_error_t
check_pinned (pan_ctx_t ctx, const char *fpr, const char *pins, time_t now,
              time_t *r_expires, struct pan_key_info *info, time_t *r_pexp,
              char **r_unpinned, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  if (r_expires)
    *r_expires = 0;
  if (!(err = home_key (ctx, fpr, "; enroll it again", &gctx, &key,
                        r_reason))
      && !(err = key_usable (key, pins, now, r_reason)) && !info)
    err = enforce_policy (ctx->config, ctx->gnupg_home, key, now, r_reason);
  else if (!err)
    {
      fill_info (ctx->config, ctx->gnupg_home, key, now, info);
      *r_pexp = key->subkeys->expires > 0 ? key->subkeys->expires : 0;
      if (!(err = refuse_policy (info->policy, info->policy_reason,
                                 r_reason)))
        err = pani_openpgp_unpinned_list (key, pins, r_unpinned);
    }
  if (!err && r_expires)
    *r_expires = usable_until (key, pins, now);
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

static gpg_error_t
openpgp_check_pinned (pan_ctx_t ctx, const char *fpr, const char *pins,
                      time_t now, time_t *r_expires, char **r_reason)
{
  return check_pinned (ctx, fpr, pins, now, r_expires, NULL, NULL, NULL,
                       r_reason);
}

static gpg_error_t
openpgp_check (pan_ctx_t ctx, const char *fpr, time_t now, time_t *r_expires,
               char **r_reason)
{
  return openpgp_check_pinned (ctx, fpr, NULL, now, r_expires, r_reason);
}

/* List the keys of the pinned key FPR in the home of CTX that PINS does
 * not name (see pani_openpgp_unpinned_list).  */
static gpg_error_t
openpgp_unpinned (pan_ctx_t ctx, const char *fpr, const char *pins,
                  char **r_list, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;

  *r_list = NULL;
  if (!(err = listed_key (ctx, fpr, "; enroll it again", &gctx, &key,
                          r_reason)))
    err = pani_openpgp_unpinned_list (key, pins, r_list);
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

static void
fill_info (pan_config_t config, const char *gnupg_home, gpgme_key_t key,
           time_t now, struct pan_key_info *info)
{
  gpgme_subkey_t pk = key->subkeys, enc = pani_openpgp_enc_subkey (key, now);

  info->present = 1;
  algo_string (pk, info->algorithm, sizeof info->algorithm);
  info->bits = pk->length;
  if (enc)
    algo_string (enc, info->enc_algorithm, sizeof info->enc_algorithm);
  info->created = pk->timestamp > 0 ? pk->timestamp : 0;
  info->expires = usable_until (key, NULL, now);
  info->revoked = key->revoked || pk->revoked;
  info->expired = !info->revoked
    && (key->expired || pk->expired || (pk->expires && pk->expires <= now));
  info->usable = !key_usable (key, NULL, now, NULL);
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

  if (!(err = listed_key (ctx, fpr, "", &gctx, &key, r_reason)))
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
  if ((err = pani_engine_scratch_new (ctx, "keycheck", &s->dir, r_reason))
      || (err = pani_openpgp_scratch_conf (s->dir, r_reason)))
    return err;
  if ((err = pani_gpgme_new (s->dir, GPGME_PROTOCOL_OpenPGP, &s->gctx))
      || (err = gpgme_data_new_from_mem (&s->data, buf, len, 0)))
    pani_reason (r_reason, err, "cannot start GPGME: %s",
                 pani_engine_strerror (err));
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

/* Check KEY in the scratch keyring SCRATCH as enroll does before it
 * looks at the user IDs: usable at NOW, within the policy of CONFIG.  */
static gpg_error_t
check_key (pan_config_t config, const char *scratch, gpgme_key_t key,
           time_t now, char **r_reason)
{
  gpg_error_t err;

  if ((err = key_usable (key, NULL, now, r_reason)))
    return err;
  return enforce_policy (config, scratch, key, now, r_reason);
}

/* Check the key FPR in the scratch keyring SCRATCH behind GCTX.  */
static gpg_error_t
check_candidate (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *scratch,
                 const char *addr, const char *fpr, time_t now,
                 gpgme_key_t *r_key, char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_key = NULL;
  if ((err = pani_get_pinned_key (gctx, fpr, &key)))
    return pani_reason (r_reason, err, "key %s could not be imported: %s",
                        fpr, gpg_strerror (err));
  if ((err = check_key (ctx->config, scratch, key, now, r_reason)))
    goto leave;
  if (!has_uid_for (ctx->config, key, addr))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_WRONG_NAME),
                       "key %s has no valid user ID for %s; the recipient"
                       " must add one",
                       fpr, addr);
leave:
  if (err)
    gpgme_key_unref (key);
  else
    *r_key = key;
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

/* Store at *R_PINS the encryption keys of FPR in the scratch keyring
 * behind GCTX whose bindings gpg checked there without its cache (NULL
 * if there is none), and their ends at *R_EXPIRY (see
 * pani_openpgp_pin_list); if R_UNPINNED is not NULL and there are
 * pins, the keys that they leave out (pani_openpgp_unpinned_list).  */
static gpg_error_t
scratch_pin_list (gpgme_ctx_t gctx, const char *fpr, char **r_pins,
                  char **r_expiry, char **r_unpinned)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_pins = NULL;
  *r_expiry = NULL;
  if (!(err = pani_get_pinned_key (gctx, fpr, &key)))
    err = pani_openpgp_pin_list (key, r_pins, r_expiry);
  if (!err && r_unpinned && *r_pins)
    err = pani_openpgp_unpinned_list (key, *r_pins, r_unpinned);
  gpgme_key_unref (key);
  return err;
}

/* The pins of KEY (pani_openpgp_pin_list); there must be one.  */
static gpg_error_t
key_pins (gpgme_key_t key, char **r_pins, char **r_expiry, char **r_reason)
{
  gpg_error_t err = pani_openpgp_pin_list (key, r_pins, r_expiry);

  if (!err && !*r_pins)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                       "key %s has no encryption subkey with a valid"
                       " binding signature",
                       key->subkeys->fpr);
  return err;
}

/* Make S the scratch keyring in which the key FPR of BUF/LEN is
 * checked: the one of the bulk enrollment under way, which holds the
 * whole key file already (*R_BORROWED set), else a new one with
 * BUF/LEN imported.  */
static gpg_error_t
scratch_for (pan_ctx_t ctx, const void *buf, size_t len, const char *fpr,
             struct scratch *s, int *r_borrowed, char **r_reason)
{
  gpg_error_t err;
  int found, others;

  memset (s, 0, sizeof *s);
  if ((*r_borrowed = pani_openpgp_split_current ((const char **)&s->dir,
                                                 &s->gctx)))
    return 0;
  if ((err = scratch_open (ctx, buf, len, s, r_reason))
      || (err = inspect_key_data (s->gctx, s->data, fpr, &found, &others,
                                  r_reason)))
    return err;
  if (!found)
    return no_such_key (fpr, r_reason);
  return import_data (s->gctx, s->data, r_reason);
}

gpg_error_t
pani_openpgp_enroll (pan_ctx_t ctx, const char *addr, const char *fpr,
                     const void *buf, size_t len, time_t now,
                     char **r_subkeys, char **r_expiry,
                     struct pan_key_info *r_info, time_t *r_pexp,
                     char **r_unpinned, char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  gpgme_data_t pinned = NULL;
  gpgme_key_t key = NULL;
  char *pins = NULL, *ends = NULL, *unpinned = NULL;
  struct pan_key_info info;
  int borrowed = 0;
  time_t pexp = 0;

  memset (&info, 0, sizeof info);
  *r_subkeys = NULL;
  *r_expiry = NULL;
  if ((err = scratch_for (ctx, buf, len, fpr, &s, &borrowed, r_reason))
      || (err = check_candidate (ctx, s.gctx, s.dir, addr, fpr, now, &key,
                                 r_reason))
      || (err = key_pins (key, &pins, &ends, r_reason))
      || (err = export_one (s.gctx, fpr, &pinned, r_reason))
      || (err = import_pinned (ctx, pinned, fpr, r_reason))
      || (err = check_pinned (ctx, fpr, pins, now, NULL,
                              r_info ? r_info : &info,
                              r_pexp ? r_pexp : &pexp, &unpinned, r_reason)))
    goto leave;
  *r_subkeys = pins;
  pins = NULL;
  *r_expiry = ends;
  ends = NULL;
  if (r_unpinned)
    {
      *r_unpinned = unpinned;
      unpinned = NULL;
    }

leave:
  free (pins);
  free (ends);
  free (unpinned);
  free (info.policy_reason);
  gpgme_key_unref (key);
  gpgme_data_release (pinned);
  if (!borrowed)
    scratch_close (&s);
  return err;
}

static gpg_error_t
openpgp_enroll (pan_ctx_t ctx, const char *addr, const char *fpr,
                const void *buf, size_t len, time_t now, char **r_fpr,
                char **r_reason)
{
  gpg_error_t err;
  char *pins = NULL, *ends = NULL;

  if (r_fpr)
    *r_fpr = NULL;
  err = pani_openpgp_enroll (ctx, addr, fpr, buf, len, now, &pins, &ends,
                             NULL, NULL, NULL, r_reason);
  if (!err && r_fpr && !(*r_fpr = pani_strdup (fpr)))
    err = gpg_error (GPG_ERR_ENOMEM);
  free (pins);
  free (ends);
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

/* Describe the merged key FPR of the scratch keyring SCRATCH, its
 * primary key's expiry at *R_PEXP (if not NULL).  */
static gpg_error_t
describe_update (pan_ctx_t ctx, gpgme_ctx_t gctx, const char *scratch,
                 const char *fpr, time_t now, struct pan_key_info *r_info,
                 time_t *r_pexp)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  if (!r_info)
    return 0;
  if (!(err = pani_get_pinned_key (gctx, fpr, &key)))
    fill_info (ctx->config, scratch, key, now, r_info);
  if (!err && r_pexp)
    *r_pexp = key->subkeys->expires > 0 ? key->subkeys->expires : 0;
  gpgme_key_unref (key);
  return err;
}

gpg_error_t
pani_openpgp_refresh (pan_ctx_t ctx, const char *fpr, const void *buf,
                      size_t len, time_t now, int check_only,
                      struct pan_key_info *info, char **r_subkeys,
                      char **r_expiry, time_t *r_pexp, char **r_unpinned,
                      char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  gpgme_data_t merged = NULL;

  if (r_subkeys)
    *r_subkeys = NULL;
  if (r_expiry)
    *r_expiry = NULL;
  if (r_unpinned)
    *r_unpinned = NULL;
  if ((err = scratch_open (ctx, buf, len, &s, r_reason))
      || (err = inspect_update (s.gctx, s.data, fpr, r_reason))
      || (err = seed_scratch (ctx, s.gctx, fpr, r_reason))
      || (err = import_data (s.gctx, s.data, r_reason))
      || (err = check_update (ctx, s.gctx, s.dir, fpr, now, r_reason))
      || (err = describe_update (ctx, s.gctx, s.dir, fpr, now, info, r_pexp))
      || (r_subkeys
          && (err = scratch_pin_list (s.gctx, fpr, r_subkeys, r_expiry,
                                      r_unpinned)))
      || (err = export_one (s.gctx, fpr, &merged, r_reason)))
    goto leave;
  if (!check_only)
    err = import_pinned (ctx, merged, fpr, r_reason);

leave:
  gpgme_data_release (merged);
  scratch_close (&s);
  return err;
}


static gpg_error_t
openpgp_refresh (pan_ctx_t ctx, const char *fpr, const void *buf, size_t len,
                 time_t now, int check_only, struct pan_key_info *info,
                 char **r_reason)
{
  return pani_openpgp_refresh (ctx, fpr, buf, len, now, check_only, info,
                               NULL, NULL, NULL, NULL, r_reason);
}


/*
 * Inspection: what a key file holds, checked as enroll checks it.
 */

/* The most keys of one file that are shown.  */
#define MAX_INSPECT 64

/* List at most MAX_INSPECT keys of the scratch keyring behind GCTX into
 * KEYS (NULL-terminated).  */
static gpg_error_t
list_scratch (gpgme_ctx_t gctx, gpgme_key_t *keys)
{
  gpg_error_t err;
  gpgme_key_t key;
  size_t n = 0;

  keys[0] = NULL;
  if ((err = gpgme_op_keylist_start (gctx, NULL, 0)))
    return err;
  while (!(err = gpgme_op_keylist_next (gctx, &key)))
    if (n < MAX_INSPECT)
      {
        keys[n++] = key;
        keys[n] = NULL;
      }
    else
      gpgme_key_unref (key);
  gpgme_op_keylist_end (gctx);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

/* Describe KEY of the scratch S, check it as enroll would at NOW and
 * tell CB.  */
static gpg_error_t
inspect_one (pan_config_t config, struct scratch *s, gpgme_key_t key,
             time_t now, pani_inspect_cb_t cb, void *opaque)
{
  struct pan_key_info info;
  char *why = NULL, *pins = NULL, *ends = NULL;
  gpg_error_t err;

  memset (&info, 0, sizeof info);
  info.protocol = PAN_PROTOCOL_OPENPGP;
  snprintf (info.fingerprint, sizeof info.fingerprint, "%s",
            key->subkeys->fpr);
  fill_info (config, s->dir, key, now, &info);
  if (!(err = check_key (config, s->dir, key, now, &why)))
    err = key_pins (key, &pins, &ends, &why);
  err = cb (opaque, key, &info, NULL, err, why);
  free (pins);
  free (ends);
  free (why);
  free (info.policy_reason);
  return err;
}

static gpg_error_t
openpgp_inspect (pan_ctx_t ctx, const void *buf, size_t len, time_t now,
                 pani_inspect_cb_t cb, void *opaque, char **r_reason)
{
  gpg_error_t err;
  struct scratch s;
  gpgme_key_t keys[MAX_INSPECT + 1] = { NULL };
  int found, others = 0;

  if ((err = scratch_open (ctx, buf, len, &s, r_reason))
      || (err = inspect_key_data (s.gctx, s.data, "", &found, &others,
                                  r_reason)))
    goto leave;
  if (!others)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                       "the file holds no OpenPGP key");
  else if (!(err = import_data (s.gctx, s.data, r_reason))
           && !(err = list_scratch (s.gctx, keys)))
    for (size_t i = 0; !err && keys[i]; i++)
      err = inspect_one (ctx ? ctx->config : NULL, &s, keys[i], now, cb,
                         opaque);
leave:
  for (size_t i = 0; keys[i]; i++)
    gpgme_key_unref (keys[i]);
  scratch_close (&s);
  return err;
}

const struct pani_proto_ops pani_openpgp_ops = {
  PAN_PROTOCOL_OPENPGP, openpgp_check,    openpgp_describe,
  openpgp_enroll,       openpgp_refresh,  pani_openpgp_encrypt,
  openpgp_check_pinned, openpgp_unpinned, openpgp_inspect
};

gpg_error_t
pani_openpgp_enforce_policy (pan_config_t config, const char *gnupg_home,
                             gpgme_key_t key, time_t now, char **r_reason)
{
  return enforce_policy (config, gnupg_home, key, now, r_reason);
}
