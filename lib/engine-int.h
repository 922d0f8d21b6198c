/* engine-int.h - GPGME on a home's GnuPG home (layer 3 of lib/README)  */
#ifndef PAN_ENGINE_INT_H
#define PAN_ENGINE_INT_H

#include <gpgme.h>

#include "panmail.h"
#include "engine-agent-int.h"
#include "engine-guard-int.h"

/* Create a GPGME context for PROTOCOL on the GnuPG home GNUPG_HOME,
 * local key listing only, offline.  Every context of the library is
 * made here.  The process then holds a shared flock on GNUPG_HOME
 * until it exits; the last one out stops the home's gpg-agent and
 * dirmngr (see pani_agent_conf_keeps).  */
gpg_error_t pani_gpgme_new (const char *gnupg_home,
                            gpgme_protocol_t protocol, gpgme_ctx_t *r_gctx);

/* What ERR, from pani_gpgme_new, means for a person: gpg_strerror, or
 * for GPG_ERR_ENGINE_TOO_OLD the GnuPG version needed and where the
 * programs were looked for.  */
const char *pani_engine_strerror (gpg_error_t err);

/* Make GNUPG_HOME the home of every OpenPGP context that names no
 * other, unless one was chosen before (by the first context): contexts
 * on it then skip GPGME's "gpg --version" run.  For a process that
 * opens its first context on a scratch keyring but most on the home's
 * (enroll --batch: two per key).  */
gpg_error_t pani_engine_prefer_home (const char *gnupg_home);

/* Make GPGME copy the data DH to or from the engine in 64 KiB pieces
 * rather than its default 4 KiB, one system call each: a large message
 * costs a sixteenth of the polls, reads and writes; with SENSITIVE,
 * GPGME wipes its buffer (DH carries plaintext).  Call before the
 * first I/O on DH.  */
void pani_data_streaming (gpgme_data_t dh, int sensitive);

/* The one key of GCTX matching PATTERN (SECRET: with its secret key);
 * GPG_ERR_NO_PUBKEY or _NO_SECKEY if none, GPG_ERR_AMBIGUOUS_NAME if
 * several.  gpgme_get_key without its extra context.  */
gpg_error_t pani_get_one_key (gpgme_ctx_t gctx, const char *pattern,
                              int secret, gpgme_key_t *r_key);

/* Look up the key FPR in GCTX; its primary fingerprint must equal FPR
 * (GPG_ERR_NO_PUBKEY otherwise).  */
gpg_error_t pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr,
                                 gpgme_key_t *r_key);

/* Store at *R_ADDR the address of the user ID UID in normal form, with
 * the case of its local part as the user ID writes it (GPGME gives it
 * in lower case, which address-case exact would not match); GnuPG's
 * address decides which mailbox it is.  GPG_ERR_NO_USER_ID if UID
 * names none.  */
gpg_error_t pani_uid_address (gpgme_user_id_t uid, char **r_addr);

/* Release the keys of the NULL-terminated array KEYS and the array
 * (NULL is accepted).  */
void pani_release_keys (gpgme_key_t *keys);

/* Make an empty scratch GnuPG home HOME/spool/NAME.PID.XXXXXX of CTX, in
 * which given key material is inspected before any of it reaches the
 * home's keyring (CTX NULL: $TMPDIR/panmail-NAME.XXXXXX, mode 0700, for
 * a look at a file without a home); store its malloc'ed path at
 * *R_DIR.  */
gpg_error_t pani_engine_scratch_new (pan_ctx_t ctx, const char *name,
                                     char **r_dir, char **r_reason);

/* Remove the scratch home DIR and everything in it (NULL: nothing).  A
 * daemon that still runs on it must have been stopped first.  */
void pani_engine_scratch_remove (const char *dir);

#endif /* PAN_ENGINE_INT_H */
