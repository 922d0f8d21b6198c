/* pankey-bundle.h - pankey export, import and the operator keys  */
#ifndef PANKEY_BUNDLE_H
#define PANKEY_BUNDLE_H

#include <stddef.h>

/* Read FILE ("-": stdin), at most MAXLEN bytes, into malloc'ed *R_BUF
 * and its length at *R_LEN; say why not and return the exit code
 * (pankey.c).  */
int read_key_file (const char *file, long maxlen, char **r_buf,
                   size_t *r_len);

/* pankey init --operator-key FPR... --file KEYS, pankey operator-key
 * add --fingerprint FPR --file KEYS: pin each of the N keys FPRS, read
 * from FILE, as an operator key of the home HOME, recorded for
 * OPERATOR_NAME; return the exit code.  */
int pankey_operator_keys (const char *home, const char *const *fprs,
                          size_t n, const char *file,
                          const char *operator_name);

/* pankey operator-key remove --fingerprint FPR: unpin FPR in HOME,
 * recorded for OPERATOR_NAME; return the exit code.  */
int pankey_operator_remove (const char *home, const char *fpr,
                            const char *operator_name);

/* pankey export --sign --operator FPR [--signer-home DIR] [-o FILE]:
 * write the bundle of HOME signed by FPR to OUTPUT (NULL or "-":
 * stdout); return the exit code.  */
int pankey_export (const char *home, const char *fpr,
                   const char *signer_home, const char *output);

/* pankey import BUNDLE: import the bundle in FILE ("-": stdin) into
 * HOME, recorded for OPERATOR_NAME; return the exit code.  */
int pankey_import (const char *home, const char *file,
                   const char *operator_name);

#endif /* PANKEY_BUNDLE_H */
