/* keys-int.h - GPGME helpers shared inside libpanmail  */
#ifndef PAN_KEYS_INT_H
#define PAN_KEYS_INT_H

#include <gpgme.h>

/* Create a GPGME context for PROTOCOL on the GnuPG home GNUPG_HOME,
 * local key listing only, offline.  */
gpg_error_t pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                            gpgme_ctx_t *r_gctx);

/* Check that KEY can encrypt at NOW: not revoked, expired, disabled or
 * invalid, and with a usable encryption subkey.  */
gpg_error_t pani_key_usable (gpgme_key_t key, time_t now, char **r_reason);

/* Look up the key FPR in GCTX; its primary fingerprint must equal FPR
 * (GPG_ERR_NO_PUBKEY otherwise).  */
gpg_error_t pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr,
                                 gpgme_key_t *r_key);

#endif /* PAN_KEYS_INT_H */
