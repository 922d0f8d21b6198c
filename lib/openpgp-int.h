/* openpgp-int.h - OpenPGP enrollment and refresh (layer 4, openpgp.c)
 *
 * openpgp.c checks, enrolls and refreshes keys; openpgp-encrypt.c
 * encrypts a copy; openpgp-pins.c holds what both need: which subkeys
 * can encrypt, which of them a registry record pins.  */
#ifndef PAN_OPENPGP_INT_H
#define PAN_OPENPGP_INT_H

#include <time.h>

#include "panmail.h"

/* Check the key of DATA/LEN whose primary fingerprint is FPR for ADDR
 * in a scratch keyring at NOW and import only it into the home of CTX
 * (see pani_keys_import_openpgp); store at *R_SUBKEYS the encryption
 * keys to pin (a registry record's "subkeys") and at *R_EXPIRY their
 * ends ("subkey-expiry"); describe the key as the home holds it then
 * into R_INFO (if not NULL; release it), with its primary key's expiry
 * at *R_PEXP (if not NULL; 0: never), and store the keys the pins
 * leave out at *R_UNPINNED (if not NULL).  */
gpg_error_t pani_openpgp_enroll (pan_ctx_t ctx, const char *addr,
                                 const char *fpr, const void *data,
                                 size_t len, time_t now, char **r_subkeys,
                                 char **r_expiry,
                                 struct pan_key_info *r_info, time_t *r_pexp,
                                 char **r_unpinned, char **r_reason);

/* Merge the update DATA/LEN of the pinned key FPR (see
 * pani_keys_refresh_openpgp); if R_SUBKEYS is not NULL store there the
 * encryption keys of the merged key to pin (NULL if none is left) and
 * at *R_EXPIRY (then not NULL either) their ends, at *R_PEXP (if not
 * NULL and INFO is not) the merged primary key's expiry, and at
 * *R_UNPINNED (if not NULL) the keys of the merged key that the pins
 * leave out.  */
gpg_error_t pani_openpgp_refresh (pan_ctx_t ctx, const char *fpr,
                                  const void *data, size_t len, time_t now,
                                  int check_only, struct pan_key_info *info,
                                  char **r_subkeys, char **r_expiry,
                                  time_t *r_pexp, char **r_unpinned,
                                  char **r_reason);

/* Refuse KEY (listed from the keyring GNUPG_HOME) if its algorithms or
 * self-signatures break the algorithm policy of CONFIG at NOW.  */
gpg_error_t pani_openpgp_enforce_policy (pan_config_t config,
                                         const char *gnupg_home,
                                         gpgme_key_t key, time_t now,
                                         char **r_reason);

#endif /* PAN_OPENPGP_INT_H */
