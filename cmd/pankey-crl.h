/* pankey-crl.h - pankey load-crl, list-crls and the CRL lines of check  */
#ifndef PANKEY_CRL_H
#define PANKEY_CRL_H

#include <time.h>
#include <gpg-error.h>

#include "panmail.h"

/* pankey load-crl FILE [--file CHAIN]: load the CRL in FILE into the
 * home HOME's dirmngr, with the CA certificates in CHAIN_FILE (NULL:
 * none) for an issuer the home lacks, recorded for OPERATOR_NAME;
 * return the exit code.  */
int pankey_load_crl (const char *home, const char *file,
                     const char *chain_file, const char *operator_name);

/* pankey list-crls [--json]: the CRLs the home HOME holds; return the
 * exit code.  */
int pankey_list_crls (const char *home, int json);

/* After trust-ca: warn on stderr if revocation for the CA FPR cannot be
 * established in HOME (no CRL loaded, or an expired one).  */
void pankey_crl_note_ca (const char *home, const char *fpr);

/* One finding of pankey check about a CRL: CRITICAL if EXPIRED, else
 * WARNING (it expires within the warning days).  */
typedef void (*pankey_crl_finding_t) (void *opaque, int expired,
                                      const struct pan_crl *crl, long days,
                                      const char *text);

/* Review the CRLs of CTX's home at NOW (unless revocation checking is
 * off): call CB for each that has expired or expires within WARN
 * days.  Return an error (with *R_REASON) if they could not be
 * listed.  */
gpg_error_t pankey_review_crls (pan_ctx_t ctx, time_t now, long warn,
                                pankey_crl_finding_t cb, void *opaque,
                                char **r_reason);

#endif /* PANKEY_CRL_H */
