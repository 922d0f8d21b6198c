/* lifecycle-batch.c - enrolling many keys from one list and one key file
 *
 * pankey enroll --batch LIST --file KEYS: the key file is read into a
 * scratch keyring once (openpgp-list.c), and each pair of the list is
 * enrolled by pan_lifecycle_enroll with only its own key, exported from
 * there: every pair is checked (in that one scratch keyring, which
 * already holds it: a keyring of its own would cost each pair a new
 * home, an import and its removal), imported, recorded and pinned one
 * by one, exactly as a single enroll.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "openpgp-list-int.h"
#include "engine-int.h"
#include "home-roles-int.h"

/* Read the key file of REQ (its data, or through its reader) for the
 * N keys of a list: max-key-size each, 256 MiB at most.  */
static gpg_error_t
batch_key_file (pan_ctx_t ctx, const struct pan_lifecycle_req *req, size_t n,
                const void **r_data, size_t *r_len, char **r_reason)
{
  long maxlen = pan_config_get_int (pan_ctx_config (ctx), "max-key-size");

  *r_data = req->data;
  *r_len = req->len;
  if (req->data)
    return 0;
  if (!req->read_key)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                        "no key material given");
  if (maxlen <= 0 || (size_t)maxlen > (256UL << 20) / (n ? n : 1))
    maxlen = 256L << 20;
  else
    maxlen *= (long)n;
  return req->read_key (req->read_key_opaque, maxlen, r_data, r_len);
}

/* Enroll pair IDX of LIST with its key from SPLIT as REQ says.  */
static gpg_error_t
enroll_pair (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
             pan_enroll_list_t list, size_t idx, pani_openpgp_split_t split,
             pan_enroll_batch_cb_t cb, void *opaque)
{
  gpg_error_t err;
  struct pan_lifecycle_req one = *req;
  struct pan_lifecycle_result res;
  char *key = NULL, *reason = NULL;
  size_t len = 0;

  memset (&res, 0, sizeof res);
  one.address = pan_enroll_list_address (list, idx);
  one.fingerprint = pan_enroll_list_fingerprint (list, idx);
  one.protocol = PAN_PROTOCOL_OPENPGP;
  one.read_key = NULL;
  one.read_key_opaque = NULL;
  if (!(err = pani_openpgp_split_get (split, one.fingerprint, &key, &len)))
    {
      one.data = key;
      one.len = len;
      err = pan_lifecycle_enroll (ctx, &one, &res, &reason);
    }
  if (cb)
    cb (opaque, idx, err, &res, reason);
  pan_lifecycle_result_release (&res);
  free (reason);
  free (key);
  return err;
}

gpg_error_t
pan_lifecycle_enroll_batch (pan_ctx_t ctx,
                            const struct pan_lifecycle_req *req,
                            pan_enroll_list_t list, pan_enroll_batch_cb_t cb,
                            void *opaque, char **r_reason)
{
  gpg_error_t err, first = 0;
  pani_openpgp_split_t split = NULL;
  const void *data = NULL;
  size_t len = 0;

  if (!ctx || !req || !list)
    return gpg_error (GPG_ERR_INV_ARG);
  if (req->protocol && req->protocol != PAN_PROTOCOL_OPENPGP)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_SUPPORTED),
                        "a bulk enrollment takes OpenPGP keys only");
  /* The home's keyring before the scratch one, which gets one context
   * where the home's gets two per key.  */
  if ((err = pani_engine_prefer_home (ctx->gnupg_home))
      || (err = batch_key_file (ctx, req, pan_enroll_list_count (list),
                                &data, &len, r_reason))
      || (err = pani_openpgp_split_new (ctx, data, len, &split, r_reason)))
    return err;
  pani_openpgp_split_use (split);
  for (size_t i = 0; i < pan_enroll_list_count (list); i++)
    if ((err = enroll_pair (ctx, req, list, i, split, cb, opaque)) && !first)
      first = err;
  pani_openpgp_split_use (NULL);
  pani_openpgp_split_release (split);
  if (first)
    pani_reason (r_reason, first,
                 "not every key of the list was enrolled (see above)");
  return first;
}
