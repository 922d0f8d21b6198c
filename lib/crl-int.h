/* crl-int.h - what smime.c takes from crl.c (layer 4)  */
#ifndef PAN_CRL_INT_H
#define PAN_CRL_INT_H

#include <time.h>
#include <gpgme.h>

#include "panmail.h"

/* Explain why the revocation status of the certificate KEY (listed
 * from the home of CTX) could not be established under
 * the revocation checking MODE_NAME: name the first CA of its chain,
 * from its issuer up, whose CRL is not loaded or has expired at NOW,
 * and how to load it.  Always returns GPG_ERR_NO_CRL_KNOWN; GPGME_ERR
 * is what gpgsm said.  */
gpg_error_t pani_crl_explain (pan_ctx_t ctx, gpgme_key_t key,
                              const char *mode_name, gpg_error_t gpgme_err,
                              time_t now, char **r_reason);

#endif /* PAN_CRL_INT_H */
