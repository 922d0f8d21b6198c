/* engine-guard-int.h - the watchdog over the GnuPG engines, and the
 * warm-up (internal)  */
#ifndef PAN_ENGINE_GUARD_INT_H
#define PAN_ENGINE_GUARD_INT_H

#include <gpgme.h>

#include "panmail.h"

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

/* Start GPGME's first look at the engines ("gpg --version") in a thread
 * of its own, under a watch of TIMEOUT seconds (pan_ctx_openpgp_only);
 * pan_engine_settle waits for it.  An error of an earlier warm-up is
 * returned.  */
gpg_error_t pani_engine_warm_start (long timeout);

/* True while a warm-up started and was not waited for.  */
int pani_engine_warming (void);

#endif /* PAN_ENGINE_GUARD_INT_H */
