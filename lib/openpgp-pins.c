/* openpgp-pins.c - the subkeys of an OpenPGP key that a record pins
 *
 * The registry pins, besides the primary fingerprint, every encryption
 * key accepted at enroll, rotate or refresh, when the bindings were
 * checked in a scratch keyring without gpg's signature cache.  A
 * subkey that reaches the keyring some other way (grafted onto the
 * pinned key, with a forged binding that a cache entry calls valid) is
 * not pinned: pansend never encrypts to it, and pankey check reports
 * it.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "registry-int.h"
#include "openpgp-pins-int.h"

int
pani_openpgp_subkey_usable (gpgme_subkey_t sub, time_t now)
{
  return sub->can_encrypt && !sub->revoked && !sub->expired && !sub->disabled
    && !sub->invalid && (!sub->expires || sub->expires > now);
}

gpg_error_t
pani_openpgp_check_primary (gpgme_key_t key, time_t now, char **r_reason)
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

/* Append the fingerprint of SUB to the list BUF.  */
static void
list_add (struct pani_buf *buf, gpgme_subkey_t sub)
{
  if (buf->len)
    pani_buf_putc (buf, ' ');
  pani_buf_puts (buf, sub->fpr);
}

/* Hand the list BUF over to *R_LIST (NULL if empty).  */
static gpg_error_t
list_finish (struct pani_buf *buf, char **r_list)
{
  *r_list = NULL;
  if (!buf->len)
    return pani_buf_error (buf);
  if (!(*r_list = pani_buf_take (buf)))
    return gpg_error (GPG_ERR_ENOMEM);
  return 0;
}

gpg_error_t
pani_openpgp_pin_list (gpgme_key_t key, char **r_list)
{
  struct pani_buf buf = { NULL, 0, 0, 0 };

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (sub->fpr && sub->can_encrypt && !sub->invalid && !sub->revoked)
      list_add (&buf, sub);
  return list_finish (&buf, r_list);
}

gpgme_subkey_t
pani_openpgp_pinned_subkey (gpgme_key_t key, const char *pins, time_t now)
{
  gpgme_subkey_t best = NULL;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (sub->fpr && pani_registry_pinned (pins, sub->fpr)
        && pani_openpgp_subkey_usable (sub, now)
        && (!best || sub->timestamp >= best->timestamp))
      best = sub;
  return best;
}

gpg_error_t
pani_openpgp_unpinned_list (gpgme_key_t key, const char *pins, char **r_list)
{
  struct pani_buf buf = { NULL, 0, 0, 0 };

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    if (sub->fpr && !pani_registry_pinned (pins, sub->fpr)
        && (sub->invalid || (sub->can_encrypt && !sub->revoked)))
      list_add (&buf, sub);
  return list_finish (&buf, r_list);
}
