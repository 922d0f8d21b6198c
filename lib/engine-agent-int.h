/* engine-agent-int.h - the GnuPG programs and the daemons of a GnuPG
 * home (layer 3 of lib/README; engine-int.h includes it)  */
#ifndef PAN_ENGINE_AGENT_INT_H
#define PAN_ENGINE_AGENT_INT_H

#include <gpgme.h>

#include "panmail.h"

/* Return the file name of the program GPGME runs for PROTOCOL, or
 * NULL if GPGME knows none.  */
const char *pani_engine_program (gpgme_protocol_t protocol);

/* The GnuPG program NAME (e.g. "dirmngr"): GnuPG installs its programs
 * side by side, so it is looked for next to gpgconf, or next to gpg if
 * GPGME skipped gpgconf (pan_ctx_openpgp_only); /usr/bin/NAME if
 * GPGME knows neither.  Malloced; NULL if out of core.  */
char *pani_engine_sibling (const char *name);

/* Run PROG with ARGV (NULL-terminated, ARGV[0] the name) through
 * GPGME's spawn engine, no shell and no input, and store what it wrote
 * to stdout in *R_OUT (stderr is discarded).  */
gpg_error_t pani_engine_spawn (const char *prog, const char *argv[],
                               gpgme_data_t *r_out);

/* Note that this process uses the GnuPG home DIR (a shared flock on
 * it until exit; the last user out stops its daemons).  */
void pani_engine_use_home (const char *dir);

/* Forget the home DIR (a scratch home about to be removed).  */
void pani_engine_forget_home (const char *dir);

/* Stop the daemons of the GnuPG home DIR ("gpgconf --kill all"),
 * unless none can run there: none of their sockets is in DIR, and
 * there is no socket directory under /run/user (where only gpgconf
 * knows which is DIR's).  */
void pani_engine_stop_daemons (const char *dir);

/* Run "gpgconf --homedir HOMEDIR ARG1 ARG2" without input or output
 * and with only descriptors 0-2 (e.g. "--kill", "dirmngr"); it must
 * exit 0 within 10 seconds (else it is killed: GPG_ERR_TIMEOUT).  */
gpg_error_t pani_engine_gpgconf (const char *homedir, const char *arg1,
                                 const char *arg2);

/* Does the gpg-agent.conf TEXT (LEN bytes) configure a passphrase
 * cache: "allow-preset-passphrase", or "default-cache-ttl" or
 * "max-cache-ttl" with a number above 0?  Then the daemons of the home
 * are left running when the last process that used it exits; else
 * they are stopped ("gpgconf --kill all").  */
int pani_agent_conf_keeps (const char *text, size_t len);

#endif /* PAN_ENGINE_AGENT_INT_H */
