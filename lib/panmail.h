/* panmail.h - public interface of libpanmail
 *
 * libpanmail sends e-mail that carries payment card numbers encrypted
 * end to end to keys an operator pinned in a recipient registry.
 *
 * Conventions: every function that can fail returns a gpg_error_t (0 on
 * success).  Output parameters are named r_...; they are set to NULL on
 * entry and handed over only on success.  Where a person needs to know
 * what went wrong, a function takes "char **r_reason" and stores there a
 * malloc'ed one-line explanation (release with pan_free), never holding
 * message plaintext.  Release functions accept NULL.
 */
#ifndef PANMAIL_H
#define PANMAIL_H

#include <stddef.h>
#include <time.h>
#include <gpg-error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Release memory handed out by libpanmail (reasons, strings).  */
void pan_free (void *p);

/* Initialise libgcrypt (with secure memory), GPGME and libgpg-error;
 * call once before anything else.  */
gpg_error_t pan_init (void);

/* Return the version string of libpanmail.  */
const char *pan_version (void);


/*
 * Protocols.
 */
typedef enum
  {
    PAN_PROTOCOL_NONE = 0,
    PAN_PROTOCOL_OPENPGP = 1,
    PAN_PROTOCOL_SMIME = 2
  } pan_protocol_t;

/* Return "openpgp" or "smime" for PROTOCOL, "none" otherwise.  */
const char *pan_protocol_name (pan_protocol_t protocol);

/* Parse NAME ("openpgp" or "smime") into *R_PROTOCOL.  */
gpg_error_t pan_protocol_parse (const char *name, pan_protocol_t *r_protocol);


/*
 * Time.
 */

/* Format T as RFC 3339 UTC ("2026-11-24T23:18:43Z") into BUF (>= 21).  */
char *pan_time_format (time_t t, char *buf, size_t bufsize);

/* Parse an RFC 3339 UTC time as written by pan_time_format.  */
gpg_error_t pan_time_parse (const char *s, time_t *r_time);


/*
 * RFC 5322 header block (message.c).
 */
typedef struct pan_headers *pan_headers_t;

/* Limits on what pan_headers_read accepts.  */
#define PAN_HEADERS_MAX_BYTES  (256 * 1024)
#define PAN_HEADERS_MAX_FIELDS 1000

/* Read the header block of a message from IN, up to and including the
 * empty line (LF or CRLF) that ends it, and leave IN at the first byte
 * of the body.  End of input right after the last field is accepted as
 * a message with an empty body.  Malformed input gives GPG_ERR_INV_DATA,
 * an oversized block GPG_ERR_TOO_LARGE, empty input GPG_ERR_NO_DATA;
 * *R_REASON then says which line is wrong, without quoting it.  */
gpg_error_t pan_headers_read (gpgrt_stream_t in, pan_headers_t *r_headers,
                              char **r_reason);

/* Parse a header block held in memory (used by tests and fuzzers).  */
gpg_error_t pan_headers_parse (const void *buf, size_t len,
                               pan_headers_t *r_headers, size_t *r_consumed,
                               char **r_reason);

/* Release HEADERS.  */
void pan_headers_release (pan_headers_t headers);

/* Return the number of fields in HEADERS.  */
size_t pan_headers_count (pan_headers_t headers);

/* Return the name of field IDX as written (without the colon).  */
const char *pan_headers_name (pan_headers_t headers, size_t idx);

/* Return the unfolded value of field IDX: folding line breaks removed,
 * leading and trailing white space trimmed.  */
const char *pan_headers_value (pan_headers_t headers, size_t idx);

/* Return field IDX as it was read, folded, each line ending in LF.  */
const char *pan_headers_raw (pan_headers_t headers, size_t idx);

/* Return the value of the first field named NAME (case-insensitive), or
 * NULL.  */
const char *pan_headers_get (pan_headers_t headers, const char *name);


/*
 * RFC 5322 address lists (message.c).
 */
typedef struct pan_addrlist *pan_addrlist_t;

/* Create an empty address list.  */
gpg_error_t pan_addrlist_new (pan_addrlist_t *r_list);

/* Release LIST.  */
void pan_addrlist_release (pan_addrlist_t list);

/* Parse VALUE, the unfolded value of an address header (To, Cc, Bcc,
 * From, ...), as an RFC 5322 address-list (display names, quoted local
 * parts, comments, groups, RFC 2047 encoded words in display names) and
 * append each mailbox to LIST.  An empty group adds nothing.  Returns
 * GPG_ERR_INV_DATA with *R_REASON on a syntax error; LIST is then
 * unchanged.  */
gpg_error_t pan_addrlist_parse (pan_addrlist_t list, const char *value,
                                char **r_reason);

/* Return the number of mailboxes in LIST.  */
size_t pan_addrlist_count (pan_addrlist_t list);

/* Return the addr-spec of mailbox IDX in normal form (see
 * pan_addr_normalize).  */
const char *pan_addrlist_addr (pan_addrlist_t list, size_t idx);

/* Return the decoded display name (UTF-8) of mailbox IDX, or NULL.  */
const char *pan_addrlist_display (pan_addrlist_t list, size_t idx);

/* Check that ADDR is a single bare addr-spec (local@domain, the local
 * part possibly quoted) and store its normal form at *R_NORM: the local
 * part as written (quotes removed where not needed), the domain in lower
 * case.  Two addresses are the same recipient iff their normal forms are
 * equal.  */
gpg_error_t pan_addr_normalize (const char *addr, char **r_norm,
                                char **r_reason);


/*
 * Configuration (config.c): the home's panmail.conf.
 */
typedef struct pan_config *pan_config_t;

/* Read the configuration file PATH.  A missing file gives the defaults.
 * Each line is "NAME VALUE", '#' starts a comment; an unknown NAME or a
 * bad VALUE gives GPG_ERR_CONFIGURATION with "PATH:LINE: ..." in
 * *R_REASON.  */
gpg_error_t pan_config_load (const char *path, pan_config_t *r_config,
                             char **r_reason);

/* Parse configuration text held in memory; FILENAME is used in reasons. */
gpg_error_t pan_config_parse (const char *filename, const void *buf,
                              size_t len, pan_config_t *r_config,
                              char **r_reason);

/* Release CONFIG.  */
void pan_config_release (pan_config_t config);

/* Return the string value of setting NAME (the default if not set), or
 * NULL for an unknown NAME.  */
const char *pan_config_get (pan_config_t config, const char *name);

/* Return the value of integer setting NAME.  */
long pan_config_get_int (pan_config_t config, const char *name);

/* Write the commented default configuration (every setting with its
 * default and meaning) to OUT.  */
gpg_error_t pan_config_write_default (gpgrt_stream_t out);


/*
 * Home directory (home.c).
 */
typedef struct pan_ctx *pan_ctx_t;

/* The home used when neither --home nor $PANMAIL_HOME is given.  */
#define PAN_DEFAULT_HOME "/var/lib/panmail"

/* Return the home directory to use: HOME if not NULL, else
 * $PANMAIL_HOME, else PAN_DEFAULT_HOME.  */
const char *pan_home_resolve (const char *home);

/* Create the home HOME: the directory (0700) with panmail.conf, gnupg/,
 * an empty registry, spool/ and queue/.  Refuses (GPG_ERR_EEXIST) a
 * non-empty directory that is not a panmail home unless FORCE.  */
gpg_error_t pan_home_init (const char *home, int force, char **r_reason);

/* Open the existing home HOME (resolved with pan_home_resolve): check
 * its permissions, load its configuration and set up GPGME to use its
 * GnuPG home.  */
gpg_error_t pan_ctx_open (const char *home, pan_ctx_t *r_ctx,
                          char **r_reason);

/* Release CTX.  */
void pan_ctx_release (pan_ctx_t ctx);

/* Return the home directory of CTX.  */
const char *pan_ctx_home (pan_ctx_t ctx);

/* Return the configuration of CTX.  */
pan_config_t pan_ctx_config (pan_ctx_t ctx);

/* Return a malloc'ed path NAME inside the home of CTX.  */
char *pan_ctx_path (pan_ctx_t ctx, const char *name);


/*
 * Recipient registry (registry.c).
 */
typedef enum
  {
    PAN_STATUS_ACTIVE = 1,
    PAN_STATUS_RETIRED = 2,
    PAN_STATUS_REVOKED = 3
  } pan_status_t;

/* One enrollment: an address pinned to one key.  */
struct pan_recipient
{
  char *address;              /* Normal form (pan_addr_normalize).  */
  pan_protocol_t protocol;
  char *fingerprint;          /* Upper-case hex, no spaces.  */
  time_t enrolled_at;
  char *enrolled_by;          /* Operator or login user.  */
  pan_status_t status;
};
typedef struct pan_registry *pan_registry_t;

/* Return "active", "retired" or "revoked".  */
const char *pan_status_name (pan_status_t status);

/* Read the registry file PATH.  A syntax error gives GPG_ERR_INV_DATA
 * (or GPG_ERR_DUP_VALUE, GPG_ERR_MISSING_VALUE, GPG_ERR_UNKNOWN_NAME)
 * with "PATH:LINE: what is wrong" in *R_REASON.  A missing file gives
 * GPG_ERR_ENOENT.  */
gpg_error_t pan_registry_load (const char *path, pan_registry_t *r_reg,
                               char **r_reason);

/* Parse registry text held in memory; FILENAME is used in reasons.  */
gpg_error_t pan_registry_parse (const char *filename, const void *buf,
                                size_t len, pan_registry_t *r_reg,
                                char **r_reason);

/* Release REG.  */
void pan_registry_release (pan_registry_t reg);

/* Return the number of records in REG.  */
size_t pan_registry_count (pan_registry_t reg);

/* Return record IDX of REG.  */
const struct pan_recipient *pan_registry_get (pan_registry_t reg,
                                              size_t idx);

/* Return the active record for the address ADDR (any form accepted by
 * pan_addr_normalize), or NULL.  */
const struct pan_recipient *pan_registry_lookup (pan_registry_t reg,
                                                 const char *addr);

/* Write REG in its file format to OUT.  */
gpg_error_t pan_registry_write (pan_registry_t reg, gpgrt_stream_t out);

/* Add REC to the registry file PATH: under an exclusive lock (waiting at
 * most TIMEOUT seconds) re-read the file, refuse (GPG_ERR_EEXIST) if the
 * address already has an active record, append REC and replace the file
 * atomically (write, fsync, rename).  */
gpg_error_t pan_registry_add (const char *path, const struct pan_recipient *rec,
                              int timeout, char **r_reason);


/*
 * Keys (keys.c): pinned keys in the home's GnuPG home, through GPGME.
 */

/* Normalise the fingerprint INPUT (spaces allowed, any case) to upper
 * case hex.  Refuses short and long key IDs (GPG_ERR_AMBIGUOUS_NAME) and
 * anything but a 40 or 64 digit fingerprint (GPG_ERR_INV_NAME).  */
gpg_error_t pan_fpr_normalize (const char *input, char **r_fpr,
                               char **r_reason);

/* Import from the key material DATA/LEN only the OpenPGP key whose
 * primary fingerprint is FPR into the GnuPG home of CTX, after checking
 * it in a scratch keyring: it must have a valid user ID for ADDR, a
 * usable encryption subkey, and be neither expired (at NOW), revoked nor
 * disabled.  Nothing is imported if a check fails.  */
gpg_error_t pan_keys_import_openpgp (pan_ctx_t ctx, const char *addr,
                                     const char *fpr, const void *data,
                                     size_t len, time_t now,
                                     char **r_reason);

/* Check that the key FPR of PROTOCOL in the GnuPG home of CTX can be
 * used to encrypt to ADDR right now (NOW): present (GPG_ERR_NO_PUBKEY),
 * not expired (GPG_ERR_KEY_EXPIRED), revoked (GPG_ERR_CERT_REVOKED),
 * disabled (GPG_ERR_KEY_DISABLED) or invalid, and with a usable
 * encryption subkey (GPG_ERR_UNUSABLE_PUBKEY).  If R_EXPIRES is not
 * NULL the key's expiry time (0 = never) is stored there.  */
gpg_error_t pan_keys_check (pan_ctx_t ctx, pan_protocol_t protocol,
                            const char *fpr, time_t now, time_t *r_expires,
                            char **r_reason);


/*
 * Sending (send.c): one message from stdin to the MTA.
 */
typedef struct pan_job *pan_job_t;

/* Create a send job in CTX.  */
gpg_error_t pan_job_new (pan_ctx_t ctx, pan_job_t *r_job);

/* Release JOB; removes its spool file if it was not handed over.  */
void pan_job_release (pan_job_t job);

/* Read the header block of the message from IN and collect the
 * recipients of To, Cc and Bcc (GPG_ERR_INV_DATA: malformed).  */
gpg_error_t pan_job_read_headers (pan_job_t job, gpgrt_stream_t in,
                                  char **r_reason);

/* Add ADDR (a bare addr-spec) as a further recipient.  */
gpg_error_t pan_job_add_recipient (pan_job_t job, const char *addr,
                                   char **r_reason);

/* Resolve every recipient to its pinned key and check each key at NOW.
 * Fails on the first recipient that is not enrolled
 * (GPG_ERR_UNKNOWN_NAME) or whose key cannot be used (see
 * pan_keys_check); no recipients gives GPG_ERR_NO_USER_ID.  */
gpg_error_t pan_job_resolve (pan_job_t job, time_t now, char **r_reason);

/* Return the number of recipients of JOB.  */
size_t pan_job_recipient_count (pan_job_t job);

/* Return the address of recipient IDX.  */
const char *pan_job_recipient_addr (pan_job_t job, size_t idx);

/* Return the pinned fingerprint of recipient IDX (after resolve).  */
const char *pan_job_recipient_fpr (pan_job_t job, size_t idx);

/* Return the protocol of recipient IDX (after resolve).  */
pan_protocol_t pan_job_recipient_protocol (pan_job_t job, size_t idx);

/* Encrypt the message: stream the body from IN (after the headers)
 * through GPGME to the recipients' keys and write the complete outgoing
 * PGP/MIME message to a 0600 spool file in the home.  */
gpg_error_t pan_job_encrypt (pan_job_t job, gpgrt_stream_t in, char **r_reason);

/* Hand the spool file to the MTA: ARGV (program and its leading
 * arguments) followed by "-t -i" and the recipients added with
 * pan_job_add_recipient, run with posix_spawn and the spool file as
 * stdin.  If the MTA fails the spool file is moved to the queue and
 * GPG_ERR_EPIPE is returned with the queue file named in *R_REASON.  */
gpg_error_t pan_job_deliver (pan_job_t job, const char *const *argv,
                             char **r_reason);

/* Split COMMAND into words at white space (single and double quotes
 * group, no other shell syntax) into a NULL-terminated *R_ARGV; release
 * with pan_argv_release.  */
gpg_error_t pan_argv_split (const char *command, char ***r_argv);

/* Release an argument vector made by pan_argv_split.  */
void pan_argv_release (char **argv);


/* BEGIN audit (audit.c) */
/*
 * Tamper-evident audit log (audit.c): HOME/audit.log, JSON Lines.
 */

/* One recipient or key named in an audit record.  */
struct pan_audit_key
{
  const char *address;
  pan_protocol_t protocol;
  const char *fingerprint;
};

/* One PAN seen in a message body: only masked and as a keyed hash.  */
struct pan_audit_pan
{
  const char *brand;
  const char *masked;           /* e.g. "411111******1111" */
  const char *hash;             /* hex HMAC-SHA256 under the home's key */
};

/* What happened; NULL/0 fields are left out of the record.  */
struct pan_audit_event
{
  const char *event;            /* send, refuse, queue, init, enroll, ... */
  const char *tool;             /* pansend, pankey, panaudit */
  const char *operator_name;    /* NULL: the login user */
  const char *message_id;
  const char *envelope_from;
  const char *header_from;
  const struct pan_audit_key *keys;
  size_t nkeys;
  const struct pan_audit_pan *pans;
  size_t npans;
  const char *ciphertext_sha256;  /* hex */
  long long size;               /* ciphertext bytes; < 0: none */
  const char *outcome;          /* sent, refused, queued, ok, failed */
  int exit_code;
  const char *reason;
};
/* END audit */

#ifdef __cplusplus
}
#endif
#endif /* PANMAIL_H */
