/* cmdutil.h - what the panmail tools share: messages and exit codes  */
#ifndef PAN_CMDUTIL_H
#define PAN_CMDUTIL_H

#include <gpg-error.h>
#include "panmail.h"

/* Set the program name and the usage texts used by --help.  */
void cmd_setup (const char *name, const char *usage,
                const char *description);

/* Print the --version text of the tool named at cmd_setup, as gpgrt's
 * argparse prints it for the others.  */
void cmd_print_version (void);

/* Return the program name.  */
const char *cmd_name (void);

/* Print "NAME: REASON" (or "NAME: WHAT: strerror") on stderr, with
 * control characters replaced so that nothing a message carried can
 * play tricks with a terminal.  Frees REASON.  */
void cmd_error (gpg_error_t err, const char *what, char *reason);

/* Print "NAME: " and the formatted text on stderr.  */
void cmd_info (const char *fmt, ...) GPGRT_ATTR_PRINTF (1, 2);

/* Print TEXT on OUT with control characters replaced by '?'.  */
void cmd_put_safe (estream_t out, const char *text);

/* Initialise libpanmail or exit with status 70.  */
void cmd_init_library (void);

/* Print TEXT on OUT as a JSON string, quotes included.  */
void cmd_put_json_string (estream_t out, const char *text);

/* Print SEP and "NAME": on OUT, then VALUE as a JSON string, or null
 * if VALUE is NULL.  */
void cmd_put_json_member (estream_t out, const char *sep, const char *name,
                          const char *value);

/* The same for the time T (RFC 3339), null if T is 0.  */
void cmd_put_json_time (estream_t out, const char *sep, const char *name,
                        time_t t);

/* Map an error of pan_audit_append to an exit code: 73 if the record
 * could not be created (full disk, read-only, permissions), else 74.  */
int cmd_exit_for_audit (gpg_error_t err);

/* Append EV to the audit log of CTX at the current time; on failure say
 * so and return the exit code of cmd_exit_for_audit, else 0.  */
int cmd_audit (pan_ctx_t ctx, const struct pan_audit_event *ev);

/* Open the home HOME (see pan_ctx_open); on failure say why and return
 * FAIL_CODE, else 0.  */
int cmd_open_home (const char *home, pan_ctx_t *r_ctx, int fail_code);

/* For a command about the keys of the registry of CTX alone: if the
 * home uses no S/MIME (pan_smime_in_use), let GPGME use OpenPGP only
 * (pan_ctx_openpgp_only), which spares it the search through gpgconf,
 * and return true.  Call it before GnuPG is first used.  */
int cmd_openpgp_only_unless_smime (pan_ctx_t ctx);

/* Read the registry of CTX into *R_REG; on failure say why and return
 * FAIL_CODE, else 0.  */
int cmd_load_registry (pan_ctx_t ctx, pan_registry_t *r_reg, int fail_code);

/* First finish what a crashed pansend left in the home of CTX
 * (pan_queue_recover: its copies are queued, with a record each) and
 * say how many; on failure say why and return the exit code of
 * cmd_exit_for_audit, else 0.  */
int cmd_recover (pan_ctx_t ctx);

/* True if the effective uid owns the home of CTX: its operator (in a
 * single-user home, its only user), not a sender of a shared home.  */
int cmd_is_operator (pan_ctx_t ctx);

#endif /* PAN_CMDUTIL_H */
