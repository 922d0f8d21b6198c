/* smime-int.h - S/MIME keys (not installed)  */
#ifndef PAN_SMIME_INT_H
#define PAN_SMIME_INT_H

#include "panmail.h"

/* Import from DATA/LEN (a PEM or DER certificate, a PEM bundle or a
 * PKCS#7 certs-only with its chain) the certificate whose SHA-1 or
 * SHA-256 fingerprint is FPR as the pinned certificate of ADDR, and the
 * intermediate CA certificates of DATA with it.  The certificate must
 * carry ADDR (subjectAltName rfc822Name or e-mail in the subject;
 * GPG_ERR_WRONG_NAME), allow encryption (GPG_ERR_UNUSABLE_PUBKEY), be
 * within its validity period at NOW, and pass pani_smime_check (chain
 * to a CA trusted with pani_smime_trust_ca, revocation checking as
 * configured).  On success its SHA-1 fingerprint, which the registry
 * must pin, is stored at *R_FPR.  Certificates new to the home are
 * removed again if a check fails.  */
gpg_error_t pani_smime_enroll (pan_ctx_t ctx, const char *addr,
                               const char *fpr, const void *data, size_t len,
                               time_t now, char **r_fpr, char **r_reason);

#endif /* PAN_SMIME_INT_H */
