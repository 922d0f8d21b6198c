/* smime-int.h - S/MIME (CMS) helpers shared inside libpanmail  */
#ifndef PAN_SMIME_INT_H
#define PAN_SMIME_INT_H

#include <gpgme.h>

#include "panmail.h"

/* The panmail.conf setting that chooses revocation checking, its words
 * and its default.  */
#define PANI_SMIME_REVOCATION_SETTING "smime-revocation-check"
#define PANI_SMIME_REVOCATION_DEFAULT "crl"

/* Write gpgsm.conf (and dirmngr.conf) in the GnuPG home of CTX for the
 * revocation checking MODE ("off", "crl" or "ocsp"; NULL: the value of
 * smime-revocation-check in CTX's configuration) unless they already
 * say so; a dirmngr running with other settings is stopped.  Every
 * function of smime.c calls it first, so gpgsm never runs with stale
 * settings.  */
gpg_error_t pani_smime_configure (pan_ctx_t ctx, const char *mode,
                                  char **r_reason);

/* Check that the pinned certificate FPR (40 hex digits, its SHA-1
 * fingerprint) in the GnuPG home of CTX can be encrypted to at NOW:
 * present (GPG_ERR_NO_PUBKEY), within its validity period
 * (GPG_ERR_KEY_EXPIRED, GPG_ERR_CERT_TOO_YOUNG), allowing encryption
 * (GPG_ERR_UNUSABLE_PUBKEY), not revoked (GPG_ERR_CERT_REVOKED) and
 * validated by gpgsm up to a CA trusted in the home, with the
 * configured revocation checking (GPG_ERR_BAD_CERT_CHAIN, or gpgsm's
 * own code, e.g. GPG_ERR_NO_CRL_KNOWN, when the check could not be
 * done).  If R_EXPIRES is not NULL the certificate's notAfter is stored
 * there.  */
gpg_error_t pani_smime_check (pan_ctx_t ctx, const char *fpr, time_t now,
                              time_t *r_expires, char **r_reason);

/* Return the MIME fields (LF line ends) and the empty line that head an
 * S/MIME enveloped-data entity whose body is the base64 text written
 * by pani_smime_encrypt_stream.  No tail is needed: that text ends with
 * a line end.  */
const char *pani_smime_envelope_head (void);

/* Encrypt PLAIN (the CRLF-canonical inner MIME entity) with gpgsm to
 * the NFPRS pinned certificates FPRS, each checked with
 * pani_smime_check at NOW first, and append the CMS enveloped-data as
 * base64 lines to OUT_FD.  The content is encrypted with AES-256-CBC
 * (cipher-algo in gpgsm.conf).  Any recipient gpgsm refuses fails the
 * whole message; NFPRS 0 gives GPG_ERR_NO_USER_ID.  */
gpg_error_t pani_smime_encrypt_stream (pan_ctx_t ctx,
                                       const char *const *fprs,
                                       size_t nfprs, gpgme_data_t plain,
                                       int out_fd, time_t now,
                                       char **r_reason);

/* Sign PLAIN (a CRLF-canonical MIME entity) with the S/MIME certificate
 * SIGNER, its secret key in CTX's home, as opaque CMS signed-data
 * written base64 to OUT.  XXX: GPGME takes no passphrase callback for
 * gpgsm, so PASSPHRASE is not used: the key's passphrase must be preset
 * in gpg-agent.  */
gpg_error_t pani_smime_sign_stream (pan_ctx_t ctx, const char *signer,
                                    const char *passphrase,
                                    gpgme_data_t plain, gpgme_data_t out,
                                    char **r_reason);

#endif /* PAN_SMIME_INT_H */
