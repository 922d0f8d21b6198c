/* crl-int.h - CRLs in dirmngr's cache (crl-list.c, crl.c)  */
#ifndef PAN_CRL_INT_H
#define PAN_CRL_INT_H

#include <time.h>
#include <gpgme.h>

#include "panmail.h"

/* Parse dirmngr's listing of its CRL cache (the data of LISTCRLS)
 * BUF/LEN into the *R_COUNT CRLs at *R_CRLS (release with
 * pan_crls_release).  Text before the first block is ignored; a block
 * without an issuer or a valid "This Update", a bad time, a NUL byte or
 * more than 4096 blocks give GPG_ERR_INV_DATA (or _TOO_LARGE) with a
 * reason, and no list.  */
gpg_error_t pani_crl_parse_list (const void *buf, size_t len,
                                 struct pan_crl **r_crls, size_t *r_count,
                                 char **r_reason);

/* Explain why the revocation status of the certificate KEY (listed
 * from the home of CTX through GCTX) could not be established under
 * the revocation checking MODE_NAME: name the first CA of its chain,
 * from its issuer up, whose CRL is not loaded or has expired at NOW,
 * and how to load it.  Always returns GPG_ERR_NO_CRL_KNOWN; GPGME_ERR
 * is what gpgsm said.  */
gpg_error_t pani_crl_explain (pan_ctx_t ctx, gpgme_ctx_t gctx,
                              gpgme_key_t key, const char *mode_name,
                              gpg_error_t gpgme_err, time_t now,
                              char **r_reason);

#endif /* PAN_CRL_INT_H */
