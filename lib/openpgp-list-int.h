/* openpgp-list-int.h - one listing of a keyring for many look-ups
 * (layer 4, openpgp-list.c)  */
#ifndef PAN_OPENPGP_LIST_INT_H
#define PAN_OPENPGP_LIST_INT_H

#include <gpgme.h>

#include "panmail.h"

/* Look up the key whose primary fingerprint is FPR in the listing of
 * the whole keyring of GNUPG_HOME, made once this process has looked up
 * several keys there (again when the keyring file changed); store a
 * reference at *R_KEY (gpgme_key_unref it).  GPG_ERR_NOT_FOUND while
 * there is no listing (look the key up on its own), GPG_ERR_NO_PUBKEY
 * if the keyring has no such key.  */
gpg_error_t pani_openpgp_listed_key (const char *gnupg_home, const char *fpr,
                                     gpgme_key_t *r_key);

/* Store at *R_BUF and *R_LEN the part about the key FPR of one
 * "gpg --check-sigs --no-sig-cache" colon listing of every key of
 * GNUPG_HOME, made with (and kept as long as) the listing of
 * pani_openpgp_listed_key; GPG_ERR_NOT_FOUND if there is none.  */
gpg_error_t pani_openpgp_listed_sigs (const char *gnupg_home,
                                      const char *fpr, const char **r_buf,
                                      size_t *r_len);

/* Run "gpg --with-colons --check-sigs --no-sig-cache FPR" (every key if
 * FPR is NULL) on GNUPG_HOME (no shell) and store its output in
 * *R_OUT.  */
gpg_error_t pani_openpgp_list_sigs (const char *gnupg_home, const char *fpr,
                                    gpgme_data_t *r_out, char **r_reason);

/* Write the gpg.conf of the scratch GnuPG home DIR: every signature
 * checked (no cache), no gpg-agent started.  */
gpg_error_t pani_openpgp_scratch_conf (const char *dir, char **r_reason);

/* A key file of many keys read once into a scratch keyring, to take
 * its keys one at a time (pankey enroll --batch).  */
typedef struct pani_openpgp_split *pani_openpgp_split_t;

/* Read the key material DATA/LEN into a new scratch keyring of CTX
 * (*R_SPLIT); one that holds secret key material is refused
 * (GPG_ERR_FORBIDDEN).  */
gpg_error_t pani_openpgp_split_new (pan_ctx_t ctx, const void *data,
                                    size_t len,
                                    pani_openpgp_split_t *r_split,
                                    char **r_reason);

/* Store at *R_BUF (malloc'ed) and *R_LEN the key whose primary
 * fingerprint is FPR as SPLIT holds it (binary; empty if it has no such
 * key): key material for one enroll.  */
gpg_error_t pani_openpgp_split_get (pani_openpgp_split_t split,
                                    const char *fpr, char **r_buf,
                                    size_t *r_len);

/* Check each key an enrollment takes, until SPLIT is released or
 * another (NULL: none) is used, in the scratch keyring of SPLIT, which
 * holds the whole key file already, rather than in a new one: a bulk
 * enrollment checks every pair in one scratch keyring.  */
void pani_openpgp_split_use (pani_openpgp_split_t split);

/* If a split is in use, store its scratch GnuPG home and its context
 * (both borrowed) and return 1, else return 0.  */
int pani_openpgp_split_current (const char **r_dir, gpgme_ctx_t *r_gctx);

/* Remove SPLIT's scratch keyring (NULL: nothing).  */
void pani_openpgp_split_release (pani_openpgp_split_t split);

#endif /* PAN_OPENPGP_LIST_INT_H */
