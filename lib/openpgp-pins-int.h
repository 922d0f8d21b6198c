/* openpgp-pins-int.h - the subkeys of an OpenPGP key that a registry
 * record pins (layer 4, openpgp-pins.c)  */
#ifndef PAN_OPENPGP_PINS_INT_H
#define PAN_OPENPGP_PINS_INT_H

#include <time.h>
#include <gpgme.h>

#include "panmail.h"

/* True if SUB can encrypt at NOW: an encryption key, not revoked,
 * expired, disabled or invalid.  */
int pani_openpgp_subkey_usable (gpgme_subkey_t sub, time_t now);

/* Check that the primary key of KEY is not revoked, expired at NOW,
 * disabled or invalid.  */
gpg_error_t pani_openpgp_check_primary (gpgme_key_t key, time_t now,
                                        char **r_reason);

/* The most encryption keys of one key that a record pins (the
 * registry's limit).  */
#define PANI_OPENPGP_MAX_PINS 32

/* Store at *R_LIST the fingerprints of the encryption keys of KEY (the
 * primary included if it can encrypt) whose binding is valid and that
 * are not revoked, newest first, one space between: what a registry
 * record pins ("subkeys").  If R_EXPIRY is not NULL store there, for
 * each, when it can no longer encrypt ("subkey-expiry").  KEY must come
 * from a listing that checked the bindings without the signature cache.
 * *R_LIST is NULL if there is none.  */
gpg_error_t pani_openpgp_pin_list (gpgme_key_t key, char **r_list,
                                   char **r_expiry);

/* Return the newest key of KEY that PINS names and that can encrypt at
 * NOW, or NULL.  */
gpgme_subkey_t pani_openpgp_pinned_subkey (gpgme_key_t key, const char *pins,
                                           time_t now);

/* Store at *R_LIST the keys of KEY that PINS does not name and that
 * could be taken for encryption keys: those that can encrypt and are
 * not revoked, and those whose binding is invalid (a legitimate import
 * drops them).  *R_LIST is NULL if there is none.  */
gpg_error_t pani_openpgp_unpinned_list (gpgme_key_t key, const char *pins,
                                        char **r_list);

/* Return the newest encryption subkey of KEY usable at NOW, else the
 * newest encryption subkey, else NULL (what the reports name).  */
gpgme_subkey_t pani_openpgp_enc_subkey (gpgme_key_t key, time_t now);

#endif /* PAN_OPENPGP_PINS_INT_H */
