/* keys-int.h - choosing a protocol's operations (layer 5)  */
#ifndef PAN_KEYS_INT_H
#define PAN_KEYS_INT_H

#include "proto-int.h"

/* Return the table of operations of PROTOCOL, or NULL if panmail
 * cannot encrypt to it.  */
const struct pani_proto_ops *pani_keys_ops (pan_protocol_t protocol);

/* Import from the key material DATA/LEN only the OpenPGP key whose
 * primary fingerprint is FPR into the GnuPG home of CTX, after checking
 * it in a scratch keyring: it must have a valid user ID for ADDR, a
 * usable encryption subkey, and be neither expired (at NOW), revoked nor
 * disabled.  Nothing is imported if a check fails.  Store at
 * *R_SUBKEYS the encryption keys to pin: those whose binding signature
 * gpg checked there without its signature cache, newest first; and at
 * *R_EXPIRY when each can no longer encrypt (a record's
 * "subkey-expiry").  Describe the key as the home then holds it into
 * R_INFO (if not NULL; release it) and store at *R_UNPINNED (if not
 * NULL) its keys that the pins leave out.  */
gpg_error_t pani_keys_import_openpgp (pan_ctx_t ctx, const char *addr,
                                      const char *fpr, const void *data,
                                      size_t len, time_t now,
                                      char **r_subkeys, char **r_expiry,
                                      struct pan_key_info *r_info,
                                      time_t *r_pexp, char **r_unpinned,
                                      char **r_reason);

/* Import from DATA/LEN an update of the pinned OpenPGP key FPR (new
 * expiry, new subkey, a revocation) into the GnuPG home of CTX, merged
 * in a scratch keyring first: the file must hold that key and no other
 * (GPG_ERR_NO_PUBKEY, GPG_ERR_INV_DATA) and the result must pass the
 * algorithm policy at NOW (GPG_ERR_UNUSABLE_PUBKEY).  A key that is
 * revoked or expired after the update is imported all the same.  With
 * CHECK_ONLY nothing is imported.  If R_INFO is not NULL the merged key
 * is described there (see pani_keys_info; release it).  If R_SUBKEYS
 * is not NULL the encryption keys of the merged key to pin are stored
 * there, checked as at enroll (NULL if none is left), their ends at
 * *R_EXPIRY (as pani_keys_import_openpgp's), and at *R_UNPINNED (if not
 * NULL) the keys of the merged key those leave out.  */
gpg_error_t pani_keys_refresh_openpgp (
  pan_ctx_t ctx, const char *fpr, const void *data, size_t len, time_t now,
  int check_only, struct pan_key_info *r_info, char **r_subkeys,
  char **r_expiry, time_t *r_pexp, char **r_unpinned, char **r_reason);

/* Check that the key of the enrollment REC can be encrypted to at NOW
 * as pansend encrypts: with only the subkeys it pins (OpenPGP).  A
 * record that pins none is refused (GPG_ERR_CONFIGURATION) with the
 * operator's fix in the reason.  *R_EXPIRES as pan_keys_check.  */
gpg_error_t pani_keys_check_pinned (pan_ctx_t ctx,
                                    const struct pan_recipient *rec,
                                    time_t now, time_t *r_expires,
                                    char **r_reason);

/* Store at *R_LIST the keys of REC's key in the keyring that REC does
 * not pin and that could pass for encryption keys (NULL if none; always
 * NULL for S/MIME: a certificate is its own key).  A record that pins
 * nothing gives GPG_ERR_CONFIGURATION as pani_keys_check_pinned.  */
gpg_error_t pani_keys_unpinned (pan_ctx_t ctx,
                                const struct pan_recipient *rec,
                                char **r_list, char **r_reason);

/* Choose, from what the OpenPGP record REC recorded when it pinned its
 * subkeys ("subkey-expiry"), the key pansend encrypts to at NOW without
 * a look at the keyring: the newest pinned subkey whose time has not
 * come (*R_SUBKEY, malloc'ed); store at *R_EXPIRES when the key can no
 * longer encrypt (0: never).  gpg, given that key by exact fingerprint,
 * refuses it if it was revoked or expired since.  GPG_ERR_NO_DATA if
 * REC records no times (an older record, S/MIME) or none is left: the
 * keyring must then decide (pani_keys_check_pinned).  */
gpg_error_t pani_keys_recorded_subkey (const struct pan_recipient *rec,
                                       time_t now, char **r_subkey,
                                       time_t *r_expires);

/* Fill *R_INFO with what the GnuPG home of CTX knows of the key FPR of
 * PROTOCOL at NOW, the policy verdict included; a key that is not there
 * gives GPG_ERR_NO_PUBKEY (R_INFO->PRESENT 0).  Release R_INFO's
 * strings with pani_keys_info_release, also after an error.  */
gpg_error_t pani_keys_info (pan_ctx_t ctx, pan_protocol_t protocol,
                            const char *fpr, time_t now,
                            struct pan_key_info *r_info, char **r_reason);

/* Release the strings of INFO (the structure itself is the caller's).  */
void pani_keys_info_release (struct pan_key_info *info);

/* The recorded verdicts (keys-verdict.c).  */

/* Set *R_VALID if the keyring of CTX is as the last transaction of
 * pankey left it (its stamp says so, or there is neither).  */
gpg_error_t pani_keys_stamp_valid (pan_ctx_t ctx, int *r_valid);

/* Record the keyring of CTX as it is now in its stamp: only after a
 * transaction that found the stamp valid.  */
gpg_error_t pani_keys_stamp_write (pan_ctx_t ctx, char **r_reason);

/* Store in TAG (17 bytes) the tag of the policy settings of CONFIG.  */
void pani_keys_policy_tag (pan_config_t config, char *tag);

/* Store at *R_STATE and *R_POLICY (NULL if none) a record's
 * "key-state" and "key-policy" for the key INFO describes (judged
 * under the policy of CTX), whose primary key expires at
 * PRIMARY_EXPIRES (0: never), with the keys UNPINNED (NULL or "": none)
 * that the record does not pin.  */
gpg_error_t pani_keys_verdict_make (pan_ctx_t ctx,
                                    const struct pan_key_info *info,
                                    time_t primary_expires,
                                    const char *unpinned, char **r_state,
                                    char **r_policy);

/* pani_keys_info of the key of REC, from the verdict REC records when
 * the reports may take it, else from the keyring.  */
gpg_error_t pani_keys_review_info (pan_ctx_t ctx,
                                   const struct pan_recipient *rec,
                                   time_t now, struct pan_key_info *r_info,
                                   char **r_reason);

/* pani_keys_unpinned of REC, from its verdict as pani_keys_review_info
 * takes it.  */
gpg_error_t pani_keys_review_unpinned (pan_ctx_t ctx,
                                       const struct pan_recipient *rec,
                                       char **r_list, char **r_reason);

/* Describe the expiry of INFO ("expires 2027-...", "does not expire",
 * "revoked by its holder"), in BUF if needed.  */
const char *pani_keys_expiry_words (const struct pan_key_info *info,
                                    char *buf, size_t size);

#endif /* PAN_KEYS_INT_H */
