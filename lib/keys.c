/* keys.c - the pinned keys of a home, whatever their protocol
 *
 * Each protocol (openpgp.c, smime.c) offers one table of operations
 * (struct pani_proto_ops); this is the one place that chooses the
 * table of a protocol.  The pan_keys_* calls and every other module
 * reach a protocol only through pani_keys_ops.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "keys-int.h"
#include "engine-int.h"
#include "openpgp-int.h"
#include "timeutil-int.h"

/* The protocols panmail can encrypt to.  */
static const struct pani_proto_ops *const protocols[] = { &pani_openpgp_ops,
                                                          &pani_smime_ops };

const struct pani_proto_ops *
pani_keys_ops (pan_protocol_t protocol)
{
  for (size_t i = 0; i < sizeof protocols / sizeof *protocols; i++)
    if (protocols[i]->protocol == protocol)
      return protocols[i];
  return NULL;
}

/* The table of PROTOCOL, or NULL with a reason.  */
static const struct pani_proto_ops *
supported (pan_protocol_t protocol, gpg_error_t *r_err, char **r_reason)
{
  const struct pani_proto_ops *ops = pani_keys_ops (protocol);

  *r_err = 0;
  if (!ops)
    *r_err = pani_reason (r_reason, gpg_error (GPG_ERR_NOT_IMPLEMENTED),
                          "protocol %s is not supported yet",
                          pan_protocol_name (protocol));
  return ops;
}

gpg_error_t
pan_keys_check (pan_ctx_t ctx, pan_protocol_t protocol, const char *fpr,
                time_t now, time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  const struct pani_proto_ops *ops = supported (protocol, &err, r_reason);

  if (r_expires)
    *r_expires = 0;
  if (!ops)
    return err;
  return ops->check (ctx, fpr, now, r_expires, r_reason);
}

/* Start INFO for the key FPR of PROTOCOL: nothing known yet.  */
static void
info_init (struct pan_key_info *info, pan_protocol_t protocol,
           const char *fpr)
{
  memset (info, 0, sizeof *info);
  info->protocol = protocol;
  snprintf (info->fingerprint, sizeof info->fingerprint, "%s", fpr);
}

gpg_error_t
pani_keys_info (pan_ctx_t ctx, pan_protocol_t protocol, const char *fpr,
                time_t now, struct pan_key_info *r_info, char **r_reason)
{
  gpg_error_t err;
  const struct pani_proto_ops *ops;

  info_init (r_info, protocol, fpr);
  if (!(ops = supported (protocol, &err, r_reason)))
    return err;
  return ops->describe (ctx, fpr, now, r_info, r_reason);
}

void
pani_keys_info_release (struct pan_key_info *info)
{
  if (!info)
    return;
  free (info->policy_reason);
  info->policy_reason = NULL;
}

gpg_error_t
pani_keys_import_openpgp (pan_ctx_t ctx, const char *addr, const char *fpr,
                          const void *buf, size_t len, time_t now,
                          char **r_subkeys, char **r_expiry,
                          struct pan_key_info *r_info, time_t *r_pexp,
                          char **r_unpinned, char **r_reason)
{
  if (r_info)
    info_init (r_info, PAN_PROTOCOL_OPENPGP, fpr);
  return pani_openpgp_enroll (ctx, addr, fpr, buf, len, now, r_subkeys,
                              r_expiry, r_info, r_pexp, r_unpinned,
                              r_reason);
}

gpg_error_t
pani_keys_refresh_openpgp (pan_ctx_t ctx, const char *fpr, const void *buf,
                           size_t len, time_t now, int check_only,
                           struct pan_key_info *r_info, char **r_subkeys,
                           char **r_expiry, time_t *r_pexp,
                           char **r_unpinned, char **r_reason)
{
  if (r_info)
    info_init (r_info, PAN_PROTOCOL_OPENPGP, fpr);
  return pani_openpgp_refresh (ctx, fpr, buf, len, now, check_only, r_info,
                               r_subkeys, r_expiry, r_pexp, r_unpinned,
                               r_reason);
}

/* Refuse REC, an enrollment of a protocol that pins subkeys, if it
 * pins none: it was written before they were pinned.  */
static gpg_error_t
need_pins (const struct pan_recipient *rec, char **r_reason)
{
  if (rec->subkeys)
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                      "the registry pins no encryption subkey of key %s"
                      " for %s (a record from before subkeys were"
                      " pinned); the operator must run 'pankey refresh"
                      " %s --file KEYFILE' with the recipient's public key"
                      " (or 'gpg --homedir HOME/gnupg --export %s')",
                      rec->fingerprint, rec->address, rec->address,
                      rec->fingerprint);
}

gpg_error_t
pani_keys_check_pinned (pan_ctx_t ctx, const struct pan_recipient *rec,
                        time_t now, time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  const struct pani_proto_ops *ops = supported (rec->protocol, &err,
                                                r_reason);

  if (r_expires)
    *r_expires = 0;
  if (!ops)
    return err;
  if (!ops->check_pinned)
    return ops->check (ctx, rec->fingerprint, now, r_expires, r_reason);
  if ((err = need_pins (rec, r_reason)))
    return err;
  return ops->check_pinned (ctx, rec->fingerprint, rec->subkeys, now,
                            r_expires, r_reason);
}

gpg_error_t
pani_keys_unpinned (pan_ctx_t ctx, const struct pan_recipient *rec,
                    char **r_list, char **r_reason)
{
  gpg_error_t err;
  const struct pani_proto_ops *ops = supported (rec->protocol, &err,
                                                r_reason);

  *r_list = NULL;
  if (!ops)
    return err;
  if (!ops->unpinned)
    return 0;
  if ((err = need_pins (rec, r_reason)))
    return err;
  return ops->unpinned (ctx, rec->fingerprint, rec->subkeys, r_list,
                        r_reason);
}

/* Store at *R_END the time the word W of LEN bytes (of a record's
 * "subkey-expiry") gives: 0 for "never".  */
static gpg_error_t
parse_end (const char *w, size_t len, time_t *r_end)
{
  char word[32];

  *r_end = 0;
  if (len == 5 && !memcmp (w, "never", 5))
    return 0;
  if (len >= sizeof word)
    return gpg_error (GPG_ERR_INV_TIME);
  memcpy (word, w, len);
  word[len] = 0;
  return pani_time_parse (word, r_end);
}

gpg_error_t
pani_keys_recorded_subkey (const struct pan_recipient *rec, time_t now,
                           char **r_subkey, time_t *r_expires)
{
  const char *fp = rec->subkeys, *ex = rec->subkey_expiry;
  size_t flen, elen;
  time_t end, last = -1;

  *r_subkey = NULL;
  *r_expires = 0;
  if (rec->protocol != PAN_PROTOCOL_OPENPGP || !fp || !ex)
    return gpg_error (GPG_ERR_NO_DATA);
  for (; *fp && *ex; fp += flen + !!fp[flen], ex += elen + !!ex[elen])
    {
      flen = strcspn (fp, " ");
      elen = strcspn (ex, " ");
      if (parse_end (ex, elen, &end))
        {
          free (*r_subkey);
          *r_subkey = NULL;
          return gpg_error (GPG_ERR_INV_TIME);
        }
      if (end && end <= now)
        continue;
      if (!*r_subkey && !(*r_subkey = pani_strndup (fp, flen)))
        return gpg_error_from_syserror ();
      if (last && (!end || end > last))
        last = end;
    }
  if (!*r_subkey)
    return gpg_error (GPG_ERR_NO_DATA);
  *r_expires = last > 0 ? last : 0;
  return 0;
}

/*
 * Inspection of a key file (pankey inspect).
 */

/* The descriptions pan_keys_inspect collects.  */
struct inspection
{
  struct pan_key_desc *descs;
  size_t count, size;
  time_t now;
};

/* Append a copy of S to the NULL-terminated list *LIST unless it is
 * there already.  */
static gpg_error_t
list_add (char ***list, const char *s)
{
  size_t n = 0;
  char **tmp;

  while (*list && (*list)[n])
    if (!strcmp ((*list)[n++], s))
      return 0;
  if (!(tmp = realloc (*list, (n + 2) * sizeof *tmp)))
    return gpg_error_from_syserror ();
  *list = tmp;
  tmp[n + 1] = NULL;
  if (!(tmp[n] = pani_strdup (s)))
    return gpg_error_from_syserror ();
  return 0;
}

/* Note the user IDs of KEY and their addresses in D.  */
static gpg_error_t
take_uids (struct pan_key_desc *d, gpgme_key_t key)
{
  gpg_error_t err = 0;
  char *norm;

  for (gpgme_user_id_t uid = key->uids; uid && !err; uid = uid->next)
    {
      if (uid->revoked || uid->invalid || !uid->uid)
        continue;
      err = list_add (&d->user_ids, uid->uid);
      if (!err && !pani_uid_address (uid, &norm))
        {
          err = list_add (&d->addresses, norm);
          free (norm);
        }
    }
  return err;
}

/* Note the OpenPGP keys of KEY in D.  */
static gpg_error_t
take_subkeys (struct pan_key_desc *d, gpgme_key_t key, time_t now)
{
  size_t n = 0;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    n++;
  if (!(d->subkeys = calloc (n ? n : 1, sizeof *d->subkeys)))
    return gpg_error_from_syserror ();
  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    {
      struct pan_subkey_desc *k = &d->subkeys[d->nsubkeys++];
      char *algo = gpgme_pubkey_algo_string (sub);

      snprintf (k->fingerprint, sizeof k->fingerprint, "%s",
                sub->fpr ? sub->fpr : "");
      snprintf (k->algorithm, sizeof k->algorithm, "%s",
                algo ? algo : "unknown");
      gpgme_free (algo);
      k->bits = sub->length;
      snprintf (k->usage, sizeof k->usage, "%s%s%s%s",
                sub->can_encrypt ? "e" : "", sub->can_sign ? "s" : "",
                sub->can_certify ? "c" : "",
                sub->can_authenticate ? "a" : "");
      k->created = sub->timestamp > 0 ? sub->timestamp : 0;
      k->expires = sub->expires > 0 ? sub->expires : 0;
      k->revoked = sub->revoked;
      k->expired = sub->expired || (k->expires && k->expires <= now);
    }
  return 0;
}

/* Fill D from what an inspection found (see pani_inspect_cb_t).  */
static gpg_error_t
describe (struct pan_key_desc *d, gpgme_key_t key, time_t now,
          const struct pan_key_info *info, const char *sha256,
          gpg_error_t verdict, const char *why)
{
  gpg_error_t err;

  d->info = *info;
  d->info.policy_reason = NULL;
  snprintf (d->sha256, sizeof d->sha256, "%s", sha256 ? sha256 : "");
  d->accepted = !verdict;
  if ((info->policy_reason
       && !(d->info.policy_reason = pani_strdup (info->policy_reason)))
      || (verdict
          && !(
            d->refusal = pani_strdup (why ? why : gpg_strerror (verdict))))
      || (key->issuer_name && info->protocol == PAN_PROTOCOL_SMIME
          && !(d->issuer = pani_strdup (key->issuer_name))))
    return gpg_error_from_syserror ();
  if ((err = take_uids (d, key)))
    return err;
  return info->protocol == PAN_PROTOCOL_OPENPGP ? take_subkeys (d, key, now)
                                                : 0;
}

/* Collect one key of an inspection (a pani_inspect_cb_t).  */
static gpg_error_t
collect (void *opaque, gpgme_key_t key, const struct pan_key_info *info,
         const char *sha256, gpg_error_t verdict, const char *why)
{
  struct inspection *in = opaque;
  struct pan_key_desc *tmp;

  if (in->count == in->size)
    {
      size_t size = in->size ? 2 * in->size : 4;

      if (!(tmp = realloc (in->descs, size * sizeof *tmp)))
        return gpg_error_from_syserror ();
      in->descs = tmp;
      in->size = size;
    }
  memset (&in->descs[in->count], 0, sizeof *in->descs);
  in->count++;
  return describe (&in->descs[in->count - 1], key, in->now, info, sha256,
                   verdict, why);
}

/* The protocol of the key material DATA/LEN, as GPGME identifies it;
 * 0 if it is neither.  */
static pan_protocol_t
identify (const void *data, size_t len)
{
  gpgme_data_t dh = NULL;
  gpgme_data_type_t type = GPGME_DATA_TYPE_INVALID;

  if (!gpgme_data_new_from_mem (&dh, data, len, 0))
    type = gpgme_data_identify (dh, 0);
  gpgme_data_release (dh);
  switch (type)
    {
    case GPGME_DATA_TYPE_PGP_KEY: return PAN_PROTOCOL_OPENPGP;
    case GPGME_DATA_TYPE_X509_CERT:
    case GPGME_DATA_TYPE_CMS_SIGNED:
    case GPGME_DATA_TYPE_CMS_OTHER: return PAN_PROTOCOL_SMIME;
    default: return 0;
    }
}

gpg_error_t
pan_keys_inspect (pan_ctx_t ctx, const void *data, size_t len, time_t now,
                  struct pan_key_desc **r_descs, size_t *r_count,
                  char **r_reason)
{
  gpg_error_t err;
  struct inspection in = { NULL, 0, 0, now };
  pan_protocol_t protocol = identify (data, len);
  const struct pani_proto_ops *ops;

  *r_descs = NULL;
  *r_count = 0;
  if (!protocol)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "the file holds neither OpenPGP keys nor X.509"
                        " certificates (PEM, DER or PKCS#7)");
  if (!(ops = supported (protocol, &err, r_reason)))
    return err;
  err = ops->inspect (ctx, data, len, now, collect, &in, r_reason);
  if (err)
    pan_keys_inspect_release (in.descs, in.count);
  else
    {
      *r_descs = in.descs;
      *r_count = in.count;
    }
  return err;
}

void
pan_keys_inspect_release (struct pan_key_desc *descs, size_t count)
{
  for (size_t i = 0; descs && i < count; i++)
    {
      struct pan_key_desc *d = &descs[i];

      free (d->info.policy_reason);
      free (d->issuer);
      free (d->refusal);
      free (d->subkeys);
      pan_argv_release (d->user_ids);
      pan_argv_release (d->addresses);
    }
  free (descs);
}
