/* engine-int.h - GPGME on a home's GnuPG home (layer 3 of lib/README)  */
#ifndef PAN_ENGINE_INT_H
#define PAN_ENGINE_INT_H

#include <gpgme.h>

#include "panmail.h"
#include "engine-agent-int.h"

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

/* A watchdog over the GnuPG engine processes (gpg, gpgsm) that GPGME
 * runs for one operation.  GPGME starts them detached and reports
 * neither their exit status nor a time-out, so the process becomes a
 * child subreaper: the engines become its children, and the guard
 * waits for each and checks that it exited 0.  */
typedef struct pani_engine_guard *pani_engine_guard_t;

/* Start a guard that kills the engine processes (SIGKILL) once TIMEOUT
 * seconds have passed, not counting the time held (see
 * pani_engine_guard_hold) and adding one second per MiB of progress
 * (pani_engine_guard_progress).  */
gpg_error_t pani_engine_guard_begin (long timeout, pani_engine_guard_t *r_g);

/* Start a guard over the engine processes of a step of CTX that runs
 * no encryption (key look-ups, imports): they are killed once
 * gpg-timeout seconds (CTX's, 120 if CTX is NULL) have passed, and
 * pani_engine_guard_end then gives GPG_ERR_TIMEOUT, but not their exit
 * statuses (GPGME reports those).  */
gpg_error_t pani_engine_watch_begin (pan_ctx_t ctx,
                                     pani_engine_guard_t *r_g);

/* End the guard G of pani_engine_watch_begin over a step that gave
 * ERR: GPG_ERR_TIMEOUT (its reason replacing *R_REASON) if the engine
 * was killed, else ERR.  */
gpg_error_t pani_engine_watch_end (pani_engine_guard_t g, gpg_error_t err,
                                   char **r_reason);

/* Stop counting time (HOLD non-zero), e.g. while waiting for input
 * that the engine does not control, or count it again (HOLD 0).  */
void pani_engine_guard_hold (pani_engine_guard_t g, int hold);

/* Tell G that data flows to the engine: it runs, and G watches for
 * its end.  */
void pani_engine_guard_kick (pani_engine_guard_t g);

/* Return non-zero once an engine that read a pipe of ours has ended,
 * or G killed the engines: the data not yet read is wanted no more
 * (GPGME would write it to the /dev/null put in place of the pipe).  */
int pani_engine_guard_gone (pani_engine_guard_t g);

/* Note NBYTES of data given to the engine.  */
void pani_engine_guard_progress (pani_engine_guard_t g, size_t nbytes);

/* End the guard G (NULL: nothing): wait (within its time) for every
 * engine process to exit and check its status.  GPG_ERR_TIMEOUT if the
 * time ran out, GPG_ERR_GENERAL if an engine was killed or exited
 * non-zero (with a reason).  */
gpg_error_t pani_engine_guard_end (pani_engine_guard_t g, char **r_reason);

#endif /* PAN_ENGINE_INT_H */
