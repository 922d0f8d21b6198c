/* policy-int.h - the algorithm policy (not installed)  */
#ifndef PAN_POLICY_INT_H
#define PAN_POLICY_INT_H

#include "panmail.h"

/* Judge a public key algorithm against the policy of CONFIG (NULL: the
 * defaults): ALGO is "rsa", "dsa", "elg", "ecdh", "ecdsa" or "eddsa",
 * BITS its size, CURVE its curve or NULL.  RSA below min-rsa-bits, DSA,
 * ElGamal, a curve not in allowed-curves and anything else: critical;
 * RSA below warn-rsa-bits: warning.  *R_REASON (R_REASON may be NULL)
 * says which rule and how to fix it.  */
pan_severity_t pani_policy_check_algo (pan_config_t config, const char *algo,
                                       unsigned int bits, const char *curve,
                                       char **r_reason);

/* Judge the OpenPGP hash algorithm ALGO (RFC 4880 number) of a binding
 * signature: MD5, SHA-1, RIPEMD-160 and unknown numbers are critical. */
pan_severity_t pani_policy_check_digest (int algo, char **r_reason);

/* Return cryptoperiod-days of CONFIG (NULL: the default, 365).  */
long pani_policy_cryptoperiod_days (pan_config_t config);

/* Parse BUF/LEN, the output of "gpg --with-colons --check-sigs FPR",
 * and store at *R_ALGO the hash algorithm of the weakest binding: the
 * newest valid self-signature of the primary key, of each user ID that
 * is not revoked and of each subkey neither revoked nor expired; at
 * *R_WHERE (may be NULL) which one it is.  GPG_ERR_INV_DATA: malformed;
 * GPG_ERR_NO_DATA: no valid self-signature of FPR.  */
gpg_error_t pani_policy_parse_colons (const void *buf, size_t len,
                                      const char *fpr, int *r_algo,
                                      char **r_where, char **r_reason);

#endif /* PAN_POLICY_INT_H */
