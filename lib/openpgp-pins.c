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
#include "registry-verdict-int.h"
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

/* Return the time after which SUB of KEY can no longer encrypt: its
 * own expiry or the primary key's, whichever comes first (0: never).  */
static time_t
subkey_end (gpgme_key_t key, gpgme_subkey_t sub)
{
  time_t own = sub->expires > 0 ? sub->expires : 0;
  time_t primary = key->subkeys->expires > 0 ? key->subkeys->expires : 0;

  if (!own || (primary && primary < own))
    return primary;
  return own;
}

/* Append the end of SUB of KEY to the list BUF: "never" or a time.  */
static void
expiry_add (struct pani_buf *buf, gpgme_key_t key, gpgme_subkey_t sub)
{
  char when[32];
  time_t end = subkey_end (key, sub);

  if (buf->len)
    pani_buf_putc (buf, ' ');
  pani_buf_puts (buf,
                 end ? pan_time_format (end, when, sizeof when) : "never");
}

/* Store in SUBS (room for N) the keys of KEY to pin, newest first, and
 * return how many there are.  */
static size_t
pin_candidates (gpgme_key_t key, gpgme_subkey_t *subs, size_t n)
{
  size_t count = 0, j;

  for (gpgme_subkey_t sub = key->subkeys; sub && count < n; sub = sub->next)
    {
      if (!sub->fpr || !sub->can_encrypt || sub->invalid || sub->revoked)
        continue;
      for (j = count; j > 0 && subs[j - 1]->timestamp < sub->timestamp; j--)
        subs[j] = subs[j - 1];
      subs[j] = sub;
      count++;
    }
  return count;
}

gpg_error_t
pani_openpgp_pin_list (gpgme_key_t key, char **r_list, char **r_expiry)
{
  gpg_error_t err;
  struct pani_buf buf = { NULL, 0, 0, 0 }, ends = { NULL, 0, 0, 0 };
  gpgme_subkey_t subs[PANI_OPENPGP_MAX_PINS];
  size_t n = pin_candidates (key, subs, PANI_OPENPGP_MAX_PINS);

  if (r_expiry)
    *r_expiry = NULL;
  for (size_t i = 0; i < n; i++)
    {
      list_add (&buf, subs[i]);
      expiry_add (&ends, key, subs[i]);
    }
  if (!(err = list_finish (&buf, r_list)) && r_expiry
      && (err = list_finish (&ends, r_expiry)))
    {
      free (*r_list);
      *r_list = NULL;
    }
  pani_buf_free (&buf);
  pani_buf_free (&ends);
  return err;
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

gpgme_subkey_t
pani_openpgp_enc_subkey (gpgme_key_t key, time_t now)
{
  gpgme_subkey_t best = NULL, any = NULL;

  for (gpgme_subkey_t sub = key->subkeys; sub; sub = sub->next)
    {
      if (!sub->can_encrypt)
        continue;
      if (!any || sub->timestamp >= any->timestamp)
        any = sub;
      if (pani_openpgp_subkey_usable (sub, now)
          && (!best || sub->timestamp >= best->timestamp))
        best = sub;
    }
  return best ? best : any;
}
