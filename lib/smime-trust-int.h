/* smime-trust-int.h - what smime.c takes from smime-trust.c (layer 4)
 *
 * smime-trust.c owns what S/MIME trusts: the revocation configuration,
 * the gpgsm contexts made to it, the scratch home where given
 * certificates are inspected, and the trusted CAs.  smime.c builds the
 * S/MIME table of operations on it; smime-trust.c uses nothing of
 * smime.c.  */
#ifndef PAN_SMIME_TRUST_INT_H
#define PAN_SMIME_TRUST_INT_H

#include <time.h>
#include <gpgme.h>

#include "panmail.h"

/* The panmail.conf setting that chooses revocation checking, its words
 * and its default.  */
#define PANI_SMIME_REVOCATION_SETTING "smime-revocation-check"
#define PANI_SMIME_REVOCATION_DEFAULT "crl"

/* The most certificates read from one file given for trust or
 * enrollment.  */
#define PANI_SMIME_MAX_CERTS 64

/* Revocation checking: smime-revocation-check off, crl or ocsp.  */
enum pani_revocation
{
  PANI_REVOCATION_OFF,
  PANI_REVOCATION_CRL,
  PANI_REVOCATION_OCSP
};

/* Write gpgsm.conf (and dirmngr.conf) in the GnuPG home of CTX for the
 * revocation checking MODE ("off", "crl" or "ocsp"; NULL: the value of
 * smime-revocation-check in CTX's configuration) unless they already
 * say so; a dirmngr running with other settings is stopped.  Every
 * S/MIME operation calls it first, so gpgsm never runs with stale
 * settings.  */
gpg_error_t pani_smime_configure (pan_ctx_t ctx, const char *mode,
                                  char **r_reason);

/* Store the revocation checking configured for CTX at *R_MODE.  */
gpg_error_t pani_smime_mode (pan_ctx_t ctx, enum pani_revocation *r_mode,
                             char **r_reason);

/* Return the word of MODE in panmail.conf ("off", "crl", "ocsp").  */
const char *pani_smime_mode_name (enum pani_revocation mode);

/* A CMS context on HOMEDIR; VALIDATE asks gpgsm to validate the chain
 * of each listed certificate.  Only with revocation checking off is
 * gpgsm told it is offline (which would skip the checks).  */
gpg_error_t pani_smime_cms_new (const char *homedir, int validate,
                                enum pani_revocation mode,
                                gpgme_ctx_t *r_gctx, char **r_reason);

/* Export the certificate FPR from GCTX as DER into *R_DER, *R_LEN
 * (release with gpgme_free); GPG_ERR_NO_PUBKEY if GCTX has none.  */
gpg_error_t pani_smime_export_der (gpgme_ctx_t gctx, const char *fpr,
                                   char **r_der, size_t *r_len);

/* Store at HEX (65 bytes) the SHA-256 fingerprint (upper-case hex) of
 * the certificate FPR of GCTX, as OpenSSL computes it over the DER.  */
gpg_error_t pani_smime_cert_sha256 (gpgme_ctx_t gctx, const char *fpr,
                                    char *hex);

/* A scratch GnuPG home (revocation checks off: it checks structure,
 * the home checks revocation) and the certificates of a given file.  */
struct pani_smime_scratch
{
  char *dir;
  gpgme_ctx_t gctx;
  gpgme_key_t keys[PANI_SMIME_MAX_CERTS + 1];
  size_t nkeys;
};

/* Configure CTX's home (pani_smime_configure), refuse DATA/LEN if it
 * holds a private key ("give only the GIVE"), load its certificates
 * into the new scratch home S and store at *R_KEY (owned by S) the one
 * whose SHA-1 or SHA-256 fingerprint is PIN (normalised).  Release S
 * with pani_smime_scratch_release, also after an error.  */
gpg_error_t pani_smime_scratch_open (pan_ctx_t ctx, const char *pin,
                                     const void *data, size_t len,
                                     const char *give,
                                     struct pani_smime_scratch *s,
                                     gpgme_key_t *r_key, char **r_reason);

/* Make the scratch home S with revocation checks off (it checks
 * structure; the home checks revocation) and list into S the
 * certificates of DATA/LEN (PEM, DER or PKCS#7; a private key is
 * refused).  Release S with pani_smime_scratch_release, also after an
 * error.  */
gpg_error_t pani_smime_scratch_load (pan_ctx_t ctx,
                                     struct pani_smime_scratch *s,
                                     const void *data, size_t len,
                                     char **r_reason);

/* Stop the daemons of the scratch home S, remove it and clear S.  */
void pani_smime_scratch_release (struct pani_smime_scratch *s);

/* Copy the certificate FPR from S into the home behind GCTX.  If NEW
 * is not NULL, the fingerprints that were new there are appended to
 * the NULL-terminated list *NEW (NULL: empty), which the caller
 * releases with pan_argv_release whatever the result.  */
gpg_error_t pani_smime_copy_cert (struct pani_smime_scratch *s,
                                  gpgme_ctx_t gctx, const char *fpr,
                                  char ***new, char **r_reason);

/* Check that the certificate KEY is within its validity period at NOW
 * (GPG_ERR_CERT_TOO_YOUNG, GPG_ERR_KEY_EXPIRED).  */
gpg_error_t pani_smime_check_dates (gpgme_key_t key, time_t now,
                                    char **r_reason);

/* Return true if KEY is self-signed (a root).  */
int pani_smime_is_self_signed (gpgme_key_t key);

/* Parse the gpg-agent trustlist text BUF/LEN and store at *R_FPRS the
 * *R_COUNT SHA-1 fingerprints (upper-case hex, no colons) it trusts for
 * S/MIME (flag S or *); release with pan_argv_release.  Comments,
 * blank lines and disabled ("!") entries are skipped.  A malformed line
 * gives GPG_ERR_INV_DATA and "include-default" (trust in a list outside
 * the home) GPG_ERR_FORBIDDEN, with "trustlist.txt:LINE: ..." in
 * *R_REASON.  */
gpg_error_t pani_smime_trustlist_parse (const void *buf, size_t len,
                                        char ***r_fprs, size_t *r_count,
                                        char **r_reason);

/* Trust the root CA certificate in DATA/LEN (PEM or DER; other
 * certificates in DATA are ignored) whose SHA-1 or SHA-256 fingerprint
 * is FPR (40 or 64 hex digits, as read out of band) for S/MIME in CTX's
 * home: it must be self-signed, a CA (basicConstraints cA, keyCertSign;
 * GPG_ERR_BAD_CA_CERT), within its validity period at NOW
 * (GPG_ERR_KEY_EXPIRED, GPG_ERR_CERT_TOO_YOUNG).  It is imported and its
 * SHA-1 fingerprint added to gnupg/trustlist.txt; that fingerprint is
 * stored at *R_FPR if R_FPR is not NULL.  Nothing changes if a check
 * fails; trusting a trusted CA again is not an error.  */
gpg_error_t pani_smime_trust_ca (pan_ctx_t ctx, const char *fpr,
                                 const void *data, size_t len, time_t now,
                                 char **r_fpr, char **r_reason);

#endif /* PAN_SMIME_TRUST_INT_H */
