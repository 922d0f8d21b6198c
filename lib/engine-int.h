/* engine-int.h - GPGME on a home's GnuPG home (layer 3 of lib/README)  */
#ifndef PAN_ENGINE_INT_H
#define PAN_ENGINE_INT_H

#include <gpgme.h>

#include "panmail.h"

/* Create a GPGME context for PROTOCOL on the GnuPG home GNUPG_HOME,
 * local key listing only, offline.  Every context of the library is
 * made here.  */
gpg_error_t pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                            gpgme_ctx_t *r_gctx);

/* Look up the key FPR in GCTX; its primary fingerprint must equal FPR
 * (GPG_ERR_NO_PUBKEY otherwise).  */
gpg_error_t pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr,
                                 gpgme_key_t *r_key);

/* Release the keys of the NULL-terminated array KEYS and the array
 * (NULL is accepted).  */
void pani_release_keys (gpgme_key_t *keys);

/* Return the file name of the program GPGME runs for PROTOCOL, or
 * NULL if GPGME knows none.  */
const char *pani_engine_program (gpgme_protocol_t protocol);

/* Run PROG with ARGV (NULL-terminated, ARGV[0] the name) through
 * GPGME's spawn engine, no shell and no input, and store what it wrote
 * to stdout in *R_OUT (stderr is discarded).  */
gpg_error_t pani_engine_spawn (const char *prog, const char *argv[],
                               gpgme_data_t *r_out);

/* Run "gpgconf --homedir HOMEDIR ARG1 ARG2" without input or output
 * (e.g. "--kill", "dirmngr"); it must exit 0.  */
gpg_error_t pani_engine_gpgconf (const char *homedir, const char *arg1,
                                 const char *arg2);

/* Make an empty scratch GnuPG home HOME/spool/NAME.XXXXXX of CTX, in
 * which given key material is inspected before any of it reaches the
 * home's keyring; store its malloc'ed path at *R_DIR.  */
gpg_error_t pani_engine_scratch_new (pan_ctx_t ctx, const char *name,
                                     char **r_dir, char **r_reason);

/* Remove the scratch home DIR and everything in it (NULL: nothing).  A
 * daemon that still runs on it must have been stopped first.  */
void pani_engine_scratch_remove (const char *dir);

#endif /* PAN_ENGINE_INT_H */
