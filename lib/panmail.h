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
 * call once before anything else.  GnuPG is looked for when first used,
 * and must be 2.2 or later (GPG_ERR_ENGINE_TOO_OLD).  */
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
gpg_error_t pan_protocol_parse (const char *name,
                                pan_protocol_t *r_protocol);


/*
 * Time.
 */

/* Format T as RFC 3339 UTC ("2026-11-24T23:18:43Z") into BUF (>= 21).  */
char *pan_time_format (time_t t, char *buf, size_t bufsize);

/* Return the whole days from NOW to WHEN, the one day count of every
 * tool: days begun ahead (WHEN 1 s away is 1 day), full days ago
 * (negative; 1 s ago is 0).  "Within N days" is a count <= N.  */
long pan_days_until (time_t now, time_t when);


/*
 * RFC 5322 header block (headers.c).
 */
typedef struct pan_headers *pan_headers_t;

/* Limits on what pani_headers_read accepts.  */
#define PAN_HEADERS_MAX_BYTES (256 * 1024)
#define PAN_HEADERS_MAX_FIELDS 1000

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

/* Refuse (GPG_ERR_FORBIDDEN, naming the field) HEADERS with a
 * Resent-To, Resent-Cc or Resent-Bcc field: the outer headers travel in
 * clear (a Resent-Bcc would show its hidden recipient) and the MTA is
 * never run with -t, so their recipients would get nothing.  */
gpg_error_t pan_headers_refuse_resent (pan_headers_t headers,
                                       char **r_reason);


/*
 * RFC 5322 address lists (addrlist.c).
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
 * case.  Whether two normal forms name the same recipient is for
 * pan_addr_same to say.  */
gpg_error_t pan_addr_normalize (const char *addr, char **r_norm,
                                char **r_reason);


/*
 * Configuration (config.c): the home's panmail.conf.
 */
typedef struct pan_config *pan_config_t;

/* Return the string value of setting NAME (the default if not set), or
 * NULL for an unknown NAME.  */
const char *pan_config_get (pan_config_t config, const char *name);

/* Return the value of integer setting NAME.  */
long pan_config_get_int (pan_config_t config, const char *name);

/* True if the addresses A and B (normal forms) name the same mailbox
 * under CONFIG's address-case (NULL: the default): domains ignoring
 * case, local parts ignoring ASCII case unless it is "exact".  */
int pan_addr_same (pan_config_t config, const char *a, const char *b);

/*
 * Home directory (home.c).
 */
typedef struct pan_ctx *pan_ctx_t;

/* Return the home directory to use: HOME if not NULL, else
 * $PANMAIL_HOME, else the default home LOCALSTATEDIR/lib/panmail
 * (configure's --localstatedir; /var/lib/panmail in the Debian
 * package).  */
const char *pan_home_resolve (const char *home);

/* Create the home HOME: the directory (0700) with panmail.conf, gnupg/,
 * an empty registry, spool/, queue/ and pan.key (the key of the PANs'
 * keyed hashes).  Refuses (GPG_ERR_EEXIST) a
 * non-empty directory that is not a panmail home unless FORCE.  */
gpg_error_t pan_home_init (const char *home, int force, char **r_reason);

/* Share the home directory HOME (made by pan_home_init, with its audit
 * key; not resolved) with the senders, the members of GROUP: the home
 * and gnupg/ become 2750, config, registry, pan.key and the keyrings
 * 0640, the audit files 0660, spool/ and queue/ 2770, all of group
 * GROUP; the caller (the operator, a member of GROUP) keeps owning
 * them.  See pankey(8), DEPLOYMENT.  */
gpg_error_t pan_home_share (const char *home, const char *group,
                            char **r_reason);

/* Open the existing home HOME (resolved with pan_home_resolve): learn
 * its roles (a 0700 home of the caller, or a 2750 home shared with its
 * group's senders), check it, the directories above it and every file
 * in it without following links (GPG_ERR_CONFIGURATION, tools exit
 * 78), load its configuration and set up GPGME to use its GnuPG home.
 * The operator of a shared home gets umask 027.  */
gpg_error_t pan_ctx_open (const char *home, pan_ctx_t *r_ctx,
                          char **r_reason);

/* Release CTX.  */
void pan_ctx_release (pan_ctx_t ctx);

/* Declare that this process will use GnuPG's OpenPGP engine only (no
 * S/MIME), and mostly on CTX's GnuPG home: GPGME finds gpg itself
 * instead of asking gpgconf, and gpg finds the home through GNUPGHOME,
 * which is set in the environment.  The first use of GnuPG then runs
 * one program ("gpg --version") where it ran six.  Call it before
 * GnuPG is first used; after it, S/MIME operations fail
 * (GPG_ERR_INV_ENGINE).  */
gpg_error_t pan_ctx_openpgp_only (pan_ctx_t ctx);

/* Start GPGME's first look at gpg ("gpg --version") now, in a thread of
 * the library's, under CTX's gpg-timeout, for a caller that will use
 * gpg and has other work to do first (after pan_ctx_openpgp_only; with
 * both engines GPGME would run gpgconf too).  Until pan_engine_settle
 * the caller must not change the environment, fork, or use GPGME
 * itself.  */
gpg_error_t pan_engine_warm_up (pan_ctx_t ctx);

/* Wait until the look of pan_engine_warm_up has ended; GPG_ERR_TIMEOUT
 * if gpg did not end within gpg-timeout and was killed (then every
 * later call fails the same way).  The library's contexts and
 * watchdogs wait for it first; call it before the process exits.  */
gpg_error_t pan_engine_settle (void);

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
  char *address; /* Normal form (pan_addr_normalize).  */
  pan_protocol_t protocol;
  char *fingerprint; /* Upper-case hex, no spaces.  */
  time_t enrolled_at;
  char *enrolled_by; /* Operator or login user.  */
  pan_status_t status;
  /* Only in a record that is no longer active (0/NULL: not known).  */
  time_t changed_at; /* When it was retired or revoked.  */
  char *changed_by;  /* By whom.  */
  char *reason;      /* See pan_registry_reason_valid.  */
  char *note;        /* Free text (UTF-8, one line), or NULL.  */
  /* OpenPGP: the encryption keys pinned (fingerprints as above, one
     * space between), the only ones pansend encrypts to; NULL in a
     * record written before they were pinned (pankey refresh pins
     * them) and in an S/MIME record (a certificate is its own key).  */
  char *subkeys;
  /* OpenPGP: for each key of SUBKEYS, in its order (newest first),
   * "never" or the UTC time after which it can no longer encrypt, as
   * recorded when it was pinned; NULL in older records.  */
  char *subkey_expiry;
  /* OpenPGP: the verdict on the key recorded at enroll, rotate and
   * refresh (its words and the policy's reason, see
   * lib/registry-verdict.c); NULL in older records.  */
  char *key_state;
  char *key_policy;
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

/* Release REG.  */
void pan_registry_release (pan_registry_t reg);

/* Load the registry of CTX into *R_REG, read through a checked
 * descriptor (see pan_ctx_open).  */
gpg_error_t pan_ctx_registry_load (pan_ctx_t ctx, pan_registry_t *r_reg,
                                   char **r_reason);

/* Return the number of records in REG.  */
size_t pan_registry_count (pan_registry_t reg);

/* Return record IDX of REG.  */
const struct pan_recipient *pan_registry_get (pan_registry_t reg,
                                              size_t idx);

/* Return true if REASON may be given for STATUS: retired: "rotated" or
 * "unenrolled"; revoked: "compromised", "superseded", "left", "other". */
int pan_registry_reason_valid (pan_status_t status, const char *reason);

/* A change of an enrollment's state (pan_registry_set_status).  */
struct pan_registry_change
{
  const char *address;     /* Any form pan_addr_normalize accepts.  */
  const char *fingerprint; /* Normalised; NULL: the active record.  */
  pan_status_t status;     /* PAN_STATUS_RETIRED or _REVOKED.  */
  const char *reason;      /* See pan_registry_reason_valid.  */
  const char *note;        /* NULL or one line of text.  */
  const char *changed_by;
  time_t changed_at;
};

/*
 * Keys (keys.c, openpgp.c, smime.c; pan_fpr_normalize: engine.c): pinned
 * keys in the home's GnuPG home, through GPGME.
 */

/* Normalise the fingerprint INPUT (spaces or colons allowed, as gpg, sq
 * and OpenSSL print it; any case) to upper case hex.  Refuses short and long key IDs (GPG_ERR_AMBIGUOUS_NAME) and
 * anything but a 40 or 64 digit fingerprint (GPG_ERR_INV_NAME).  */
gpg_error_t pan_fpr_normalize (const char *input, char **r_fpr,
                               char **r_reason);

/* Check that the key FPR of PROTOCOL in the GnuPG home of CTX can be
 * used to encrypt to ADDR right now (NOW): present (GPG_ERR_NO_PUBKEY),
 * not expired (GPG_ERR_KEY_EXPIRED), revoked (GPG_ERR_CERT_REVOKED),
 * disabled (GPG_ERR_KEY_DISABLED) or invalid, with a usable encryption
 * subkey and within the algorithm policy (GPG_ERR_UNUSABLE_PUBKEY, see
 * pani_policy_check_algo).  If R_EXPIRES is not NULL the time after which
 * the key can no longer encrypt (0 = never) is stored there: the earlier
 * of the primary key's expiry and the latest expiry of its usable
 * encryption subkeys.  */
gpg_error_t pan_keys_check (pan_ctx_t ctx, pan_protocol_t protocol,
                            const char *fpr, time_t now, time_t *r_expires,
                            char **r_reason);

/* Severity of a finding, in the monitoring-plugin order (exit codes of
 * pankey check).  */
typedef enum
{
  PAN_SEVERITY_OK = 0,
  PAN_SEVERITY_WARNING = 1,
  PAN_SEVERITY_CRITICAL = 2,
  PAN_SEVERITY_UNKNOWN = 3
} pan_severity_t;

/* Return "OK", "WARNING", "CRITICAL" or "UNKNOWN".  */
const char *pan_severity_name (pan_severity_t severity);

/* What pani_keys_info learns of one pinned key at NOW.  */
struct pan_key_info
{
  pan_protocol_t protocol;
  char fingerprint[65];
  int present;            /* The key is in the home's keyring.  */
  char algorithm[32];     /* Primary key: "ed25519", "rsa3072", ...  */
  unsigned int bits;      /* Of the primary key.  */
  char enc_algorithm[32]; /* Newest encryption subkey, or "".  */
  time_t created;
  time_t expires; /* Can no longer encrypt after; 0: never.  */
  int revoked;
  int expired;
  int usable;            /* Can encrypt at NOW (policy aside).  */
  pan_severity_t policy; /* Verdict of the algorithm policy.  */
  char *policy_reason;   /* Which rule and how to fix it, or NULL.  */
};

/* One key of an inspected OpenPGP key, the primary key first.  */
struct pan_subkey_desc
{
  char fingerprint[65];
  char algorithm[32]; /* "cv25519", "rsa3072", ...  */
  unsigned int bits;
  char usage[8]; /* gpg's letters: e(ncrypt), s(ign), c(ertify), a(uth) */
  time_t created;
  time_t expires; /* 0: never.  */
  int revoked;
  int expired;
};

/* One key or certificate of a file, as pan_keys_inspect found it.  */
struct pan_key_desc
{
  struct pan_key_info info; /* Fingerprint (OpenPGP: of the primary key;
                               X.509: SHA-1), algorithm, dates, state;
                               OpenPGP: the algorithm policy's verdict.  */
  char sha256[65];          /* X.509: the SHA-256 fingerprint, else "".  */
  char *issuer;             /* X.509: the issuer's name, else NULL.  */
  char **user_ids;          /* NULL-terminated: the OpenPGP user IDs that
                               are valid, the X.509 subject and
                               alternative names.  */
  char **addresses;         /* NULL-terminated: their e-mail addresses in
                               normal form, each once.  */
  struct pan_subkey_desc *subkeys; /* OpenPGP: NSUBKEYS of them.  */
  size_t nsubkeys;
  int accepted;  /* pankey enroll would accept it, given a user ID (or
                    certificate address) for the address and, for
                    S/MIME, a chain to a CA trusted with trust-ca.  */
  char *refusal; /* If not, why not.  */
  void *reserved[4];
};

/* Look at the keys or certificates of DATA/LEN (OpenPGP armored or
 * binary, X.509 PEM, DER or PKCS#7) in a scratch home, as enroll checks
 * them at NOW under the policy of CTX (NULL: no home, the defaults),
 * changing no home: store them at *R_DESCS, *R_COUNT of them (release
 * with pan_keys_inspect_release).  GPG_ERR_NO_DATA: neither keys nor
 * certificates; GPG_ERR_FORBIDDEN: secret key material.  */
gpg_error_t pan_keys_inspect (pan_ctx_t ctx, const void *data, size_t len,
                              time_t now, struct pan_key_desc **r_descs,
                              size_t *r_count, char **r_reason);

/* Release the COUNT descriptions DESCS of pan_keys_inspect.  */
void pan_keys_inspect_release (struct pan_key_desc *descs, size_t count);

/*
 * Algorithm policy and key lifecycle (policy.c).  Settings of
 * panmail.conf: min-rsa-bits (2048), warn-rsa-bits (3072),
 * allowed-curves, expire-warn-days (30), cryptoperiod-days (365).
 */

/* Return expire-warn-days of CONFIG (NULL: the default, 30): pansend
 * warns when a key it uses expires within that many days.  */
long pan_policy_warn_days (pan_config_t config);

/*
 * Sending (job.c, send.c, deliver.c; pan_argv_*: util.c): one message
 * from stdin to the MTA.
 */
typedef struct pan_job *pan_job_t;

/* Create a send job in CTX.  */
gpg_error_t pan_job_new (pan_ctx_t ctx, pan_job_t *r_job);

/* Release JOB; removes its spool file if it was not handed over.  */
void pan_job_release (pan_job_t job);

/* Read the header block of the message from IN and collect the
 * recipients of To, Cc and Bcc, or with pan_job_set_extract (JOB, 0)
 * only which addresses are visible (GPG_ERR_INV_DATA: malformed).  */
gpg_error_t pan_job_read_headers (pan_job_t job, gpgrt_stream_t in,
                                  char **r_reason);

/* Scan every header of JOB that travels in clear (all but Content-*,
 * which are encrypted, and Bcc, which is removed), as written and RFC
 * 2047 decoded, for card numbers: the first found gives
 * GPG_ERR_FORBIDDEN, naming the header and the masked PAN in
 * *R_REASON, and is listed in pan_job_pans.  */
gpg_error_t pan_job_check_headers (pan_job_t job, char **r_reason);

/* Return the distinct card numbers found in JOB's headers and body so
 * far (masked and keyed hashes, for the audit record), at most 256, and
 * store their number at *R_COUNT.  */
const struct pan_audit_pan *pan_job_pans (pan_job_t job, size_t *r_count);

/* Add ADDR (a bare addr-spec) as a further recipient.  */
gpg_error_t pan_job_add_recipient (pan_job_t job, const char *addr,
                                   char **r_reason);

/* Resolve every recipient to its pinned key and check each key at NOW.
 * Fails on the first recipient that is not enrolled
 * (GPG_ERR_UNKNOWN_NAME) or whose key cannot be used (see
 * pan_keys_check); no recipients gives GPG_ERR_NO_USER_ID; a registry
 * that differs from the one the audit log recorded gives
 * GPG_ERR_BAD_DATA (see pan_registry_check_recorded).  */
gpg_error_t pan_job_resolve (pan_job_t job, time_t now, char **r_reason);

/* Return a line naming the recipients' keys that expire within
 * expire-warn-days (after pan_job_resolve), or NULL.  */
const char *pan_job_warnings (pan_job_t job);

/* Return the number of recipients of JOB.  */
size_t pan_job_recipient_count (pan_job_t job);

/* Return the address of recipient IDX.  */
const char *pan_job_recipient_addr (pan_job_t job, size_t idx);

/* Return the pinned fingerprint of recipient IDX (after resolve).  */
const char *pan_job_recipient_fpr (pan_job_t job, size_t idx);

/* Return the protocol of recipient IDX (after resolve).  */
pan_protocol_t pan_job_recipient_protocol (pan_job_t job, size_t idx);

/* Return the header block of JOB (after pan_job_read_headers).  */
pan_headers_t pan_job_headers (pan_job_t job);

/* Return the Message-ID of JOB's message: the one it carries, or the one
 * pansend adds to the outgoing message if it has none.  */
const char *pan_job_message_id (pan_job_t job);

/* Return the number of copies JOB sends (after pan_job_resolve): one
 * per protocol for the recipients named in To and Cc, and one for each
 * hidden recipient (Bcc, command line), encrypted only to its key.  */
size_t pan_job_copy_count (pan_job_t job);

/* Return the protocol of copy COPY.  */
pan_protocol_t pan_job_copy_protocol (pan_job_t job, size_t copy);

/* Return true if copy COPY is the copy of a hidden recipient.  */
int pan_job_copy_hidden (pan_job_t job, size_t copy);

/* Return the number of recipients of copy COPY.  */
size_t pan_job_copy_recipient_count (pan_job_t job, size_t copy);

/* Return the recipient index (for pan_job_recipient_addr etc.) of the
 * IDX-th recipient of copy COPY.  */
size_t pan_job_copy_recipient (pan_job_t job, size_t copy, size_t idx);

/* Return the hex SHA-256 of the registry that pan_job_resolve found to
 * be the newest one the audit log recorded, or NULL (not resolved, or
 * the log recorded none): for pan_audit_event.registry_checked.  */
const char *pan_job_registry_checked (pan_job_t job);

/* Return the hex SHA-256 of copy COPY as handed to the MTA and store its
 * size at *R_SIZE, or NULL before pan_job_encrypt succeeded.  */
const char *pan_job_copy_digest (pan_job_t job, size_t copy,
                                 long long *r_size);

/* Read the passphrase of the signing key (one line) from FD into secure
 * memory, waiting at most gpg-timeout seconds (GPG_ERR_ETIMEDOUT); it is
 * given to gpg through GPGME's loopback pinentry.  */
gpg_error_t pan_job_passphrase_fd (pan_job_t job, int fd, char **r_reason);

/* Encrypt the message: stream the body from IN (after the headers)
 * through GPGME to each copy's keys (signed with the configured
 * signing-key, if any) and write each complete outgoing PGP/MIME
 * message, with protected headers unless configured off, to a 0600
 * spool file in the home.  */
gpg_error_t pan_job_encrypt (pan_job_t job, gpgrt_stream_t in,
                             char **r_reason);

/* True if pan_job_encrypt failed because gpg refused a recipient's key
 * (revoked, expired or gone since it was pinned): its error and reason
 * are then those pan_job_resolve gives for such a key.  */
int pan_job_refused (pan_job_t job);


/* The envelope of a message: what the MTA is told besides the
 * recipients (see pan_job_set_envelope).  */
struct pan_envelope
{
  const char *sender;     /* -f/-r: envelope sender; NULL: the configured
                              "envelope-sender", else the login user */
  const char *full_name;  /* -F: not passed on (recorded only) */
  const char *dsn_notify; /* -N: NEVER or SUCCESS,FAILURE,DELAY */
  const char *dsn_ret;    /* -R: FULL or HDRS */
  const char *dsn_envid;  /* -V */
  const char *body_type;  /* -B: 7BIT or 8BITMIME */
  void *reserved[4];
};

/* Set the envelope of JOB (copied).  */
gpg_error_t pan_job_set_envelope (pan_job_t job,
                                  const struct pan_envelope *env,
                                  char **r_reason);

/* Return the envelope sender JOB hands to the MTA with -f: the one set
 * with pan_job_set_envelope, else the home's "envelope-sender", else the
 * -f or -r of MTA_ARGV (the MTA command to be run; NULL: the home's
 * "sendmail" setting), else the login user.  The first call fixes it
 * for the life of JOB.  */
const char *pan_job_envelope_sender (pan_job_t job,
                                     const char *const *mta_argv);

/* Return the DSN options of JOB's envelope as the audit record's "dsn"
 * ("-N never -R hdrs"), or NULL if none was given.  */
const char *pan_job_dsn (pan_job_t job);

/* Take recipients from the To, Cc and Bcc headers (EXTRACT true, the
 * default, as sendmail -t) or only from pan_job_add_recipient (false, as
 * sendmail without -t; To and Cc then only tell which recipients are
 * visible).  Call before pan_job_read_headers.  */
void pan_job_set_extract (pan_job_t job, int extract);

/* What a sendmail(1) command line asks for (sendmail-args.c).  */
typedef enum
{
  PAN_SENDMAIL_SEND = 0,   /* -bm (the default): send stdin.  */
  PAN_SENDMAIL_FLUSH,      /* -q, --flush: deliver queued copies.  */
  PAN_SENDMAIL_QUEUE_LIST, /* -bp, --queue-list.  */
  PAN_SENDMAIL_QUEUE_DROP, /* --queue-drop ID.  */
  PAN_SENDMAIL_HELP,       /* --help.  */
  PAN_SENDMAIL_VERSION     /* --version.  */
} pan_sendmail_mode_t;

/* A parsed command line; the strings point into the parsed ARGV.  */
struct pan_sendmail_args
{
  pan_sendmail_mode_t mode;
  int extract;             /* -t, or no recipient arguments.  */
  int verbose;             /* -v, --verbose.  */
  int dry_run;             /* --dry-run.  */
  const char *home;        /* --home DIR.  */
  const char *sendmail;    /* --sendmail COMMAND.  */
  int passphrase_fd;       /* --passphrase-fd N; -1: none.  */
  const char *queue_id;    /* --queue-drop ID.  */
  struct pan_envelope env; /* -f/-r, -F, -N, -R, -V, -B.  */
  const char **recipients; /* NULL-terminated.  */
  size_t nrecipients;
  void *reserved[4]; /* Room for later fields; 0.  */
};

/* Parse ARGV (ARGC words, ARGV[0] the program) as sendmail(1)'s command
 * line, Postfix's being the reference, plus pansend's long options, into
 * *R_ARGS (release with pan_sendmail_args_release).  An unknown option,
 * a missing or bad argument, a mode pansend does not offer or an option
 * after the first recipient gives GPG_ERR_INV_ARG with *R_REASON.  */
gpg_error_t pan_sendmail_args_parse (int argc, char **argv,
                                     struct pan_sendmail_args *r_args,
                                     char **r_reason);

/* Release what pan_sendmail_args_parse allocated in ARGS.  */
void pan_sendmail_args_release (struct pan_sendmail_args *args);

/* One attachment of a composed message.  */
struct pan_attachment
{
  const char *path;      /* The file; NULL if STREAM is given.  */
  gpgrt_stream_t stream; /* Read instead of PATH (not closed).  */
  const char *type;      /* "type/subtype"; NULL: from the name.  */
  const char *name;      /* The file name shown; NULL: PATH's.  */
  void *reserved[4];     /* Room for later fields; 0.  */
};

/* Hand copy COPY to the MTA: ARGV (program and its leading arguments,
 * less its own -f, -r and -t) followed by "-i -f SENDER" (see
 * pan_job_envelope_sender), the DSN options and body type of the
 * envelope, "--" and the copy's recipients, run with posix_spawn in its
 * own process group and fed the copy through a pipe.  0 only if the MTA
 * exited 0 within mta-timeout and read the whole copy; else the copy is
 * moved to the queue with its envelope and GPG_ERR_EPIPE (or
 * GPG_ERR_TIMEOUT) is returned with the reason and copy id in
 * *R_REASON.  */
gpg_error_t pan_job_deliver (pan_job_t job, size_t copy,
                             const char *const *argv, char **r_reason);

/* Delivery that survives faults (issue 9).  */

/* The copy id of copy COPY once it is encrypted ("cYYYYMMDDTHHMMSS-
 * NONCE-N"), its spool and queue name, else NULL.  */
const char *pan_job_copy_id (pan_job_t job, size_t copy);

/* Write the envelope of the encrypted copy COPY next to its spool file
 * (before its "send"/"pending" record): from then on a crashed pansend's
 * copy is queued by the next one (pan_queue_recover), not dropped.  */
gpg_error_t pan_job_stage (pan_job_t job, size_t copy, char **r_reason);

/* Queue the copies that crashed pansends left in the spool of CTX (a
 * "queue" record each, reason "recovered") and remove what they left
 * unfinished; store how many were queued at *R_COUNT.  Every tool calls
 * it first.  */
gpg_error_t pan_queue_recover (pan_ctx_t ctx, unsigned int *r_count,
                               char **r_reason);

/* pan_queue_flush: retry every copy, whatever its next attempt time.  */
#define PAN_QUEUE_FORCE 1

/* What one flush did.  */
struct pan_queue_counts
{
  unsigned int delivered; /* Taken whole by the MTA.  */
  unsigned int failed;    /* Kept, retried later.  */
  unsigned int waiting;   /* Not yet due.  */
  unsigned int dropped;   /* Older than queue-lifetime.  */
  unsigned int busy;      /* Locked by another process.  */
  void *reserved[4];      /* Room for later fields; 0.  */
};

/* Hand every queued copy of CTX that is due (all with PAN_QUEUE_FORCE)
 * to the MTA ARGV, each under its own lock: "delivered" and removed, or
 * kept with exponential back-off and a "queue" record; past
 * queue-lifetime "drop" and removed.  */
gpg_error_t pan_queue_flush (pan_ctx_t ctx, const char *const *argv,
                             unsigned int flags,
                             struct pan_queue_counts *counts,
                             char **r_reason);

/* Remove the queued copy ID of CTX with a "drop" record.  */
gpg_error_t pan_queue_drop (pan_ctx_t ctx, const char *id, char **r_reason);

/* One queued copy, as pan_queue_list shows it.  */
struct pan_queue_entry
{
  const char *copy;
  const char *message_id;
  const char *sender;
  const char *const *rcpts;
  size_t nrcpts;
  long long size;
  long long created;
  long long attempts;
  long long next_attempt;
};

typedef gpg_error_t (*pan_queue_cb_t) (void *opaque,
                                       const struct pan_queue_entry *e);

/* Call CB for each queued copy of CTX (its envelope readable).  */
gpg_error_t pan_queue_list (pan_ctx_t ctx, pan_queue_cb_t cb, void *opaque,
                            char **r_reason);

/* What pan_compose_open makes a message of.  */
struct pan_compose
{
  const char *subject;   /* UTF-8; RFC 2047 encoded if needed.  */
  const char *from;      /* One mailbox; NULL: LOGIN@HOSTNAME.  */
  const char *const *to; /* NULL-terminated RFC 5322 address lists */
  const char *const *cc; /* (UTF-8 display names allowed).  */
  const char *const *bcc;
  const struct pan_attachment *attachments;
  size_t nattachments;
  void *reserved[4]; /* Room for later fields; 0.  */
};

/* Open a stream that yields, as it is read, a MIME message made of the
 * text body read from BODY and SPEC (for mailx-style sending): a
 * text/plain message, or multipart/mixed with each attachment base64
 * encoded (content type given or guessed from the name), with From and
 * Date as sendmail would set them (Date from NOW).  Every address is
 * parsed with pan_addrlist_parse and written with its display name
 * quoted or RFC 2047 encoded, never the address (GPG_ERR_INV_USER_ID
 * if one does not parse; FROM may also be "NAME <ADDR>" with any NAME).
 * An attachment that cannot be opened is an error here (a system
 * error), before anything is read.  */
gpg_error_t pan_compose_open (const struct pan_compose *spec,
                              gpgrt_stream_t body, time_t now,
                              gpgrt_stream_t *r_stream, char **r_reason);

/* Split COMMAND into words at white space (single and double quotes
 * group, no other shell syntax) into a NULL-terminated *R_ARGV; release
 * with pan_argv_release.  */
gpg_error_t pan_argv_split (const char *command, char ***r_argv);

/* Release an argument vector made by pan_argv_split.  */
void pan_argv_release (char **argv);


/* BEGIN smime */
/*
 * S/MIME recipients (smime.c, smime-trust.c): X.509 certificates in the
 * home's GnuPG home, validated by gpgsm up to a root CA the operator
 * trusted there.
 */

/* One CA trusted for S/MIME in a home.  */
struct pan_smime_ca
{
  char *fpr;     /* SHA-1, 40 upper-case hex digits.  */
  char *sha256;  /* 64 hex digits; NULL if missing.  */
  char *subject; /* RFC 2253 DN; NULL if missing.  */
  time_t not_before;
  time_t not_after; /* 0: not known.  */
  int missing;      /* In trustlist.txt, not in the keybox. */
};

/* Store at *R_CAS the *R_COUNT CAs that CTX's home trusts for S/MIME
 * (release with pan_smime_cas_release).  */
gpg_error_t pan_smime_list_cas (pan_ctx_t ctx, struct pan_smime_ca **r_cas,
                                size_t *r_count, char **r_reason);

/* Release COUNT CAs returned by pan_smime_list_cas.  */
void pan_smime_cas_release (struct pan_smime_ca *cas, size_t count);

/* Set *R_IN_USE to 0 if CTX's home uses no S/MIME: its trustlist.txt
 * trusts no CA and its registry holds no S/MIME record (of any state);
 * else, and on an error, to 1.  */
gpg_error_t pan_smime_in_use (pan_ctx_t ctx, int *r_in_use);

/* END smime */

/* BEGIN crl */
/*
 * Offline revocation for S/MIME (crl.c): CRLs given by the operator,
 * loaded into the dirmngr of the home's GnuPG home.
 */

/* One CRL in the home's dirmngr cache.  */
struct pan_crl
{
  char *issuer;       /* RFC 2253 DN of the CA that signed it.  */
  char *trust_fpr;    /* SHA-1 of the root CA its issuer chains to, as
                           dirmngr checked it; NULL if not named.  */
  char *source;       /* Where dirmngr read it from; NULL if not named.  */
  char *problem;      /* Why dirmngr will not use it; NULL if none.  */
  time_t this_update; /* When it was issued.  */
  time_t next_update; /* When it expires; 0 if it does not say.  */
  size_t revoked;     /* How many certificates it lists.  */
};

/* Load the CRL DATA/LEN (DER or PEM) into the dirmngr of CTX's home,
 * under the home's key lock, and record "load-crl" at NOW by
 * OPERATOR_NAME (NULL: the login user).  Its issuer must be a CA of
 * the home or one of the certificates CHAIN/CHAINLEN (PEM, DER or
 * PKCS#7; NULL: none), chaining to a trusted root, and its signature
 * must verify (GPG_ERR_MISSING_CERT, _BAD_SIGNATURE,
 * ... with a reason).  The CRL as dirmngr now holds it is stored at
 * *R_CRL (release with pan_crls_release (crl, 1)), also when it was
 * loaded but its record could not be written (then an error of
 * pan_audit_append is returned).  No dirmngr started here outlives the
 * call.  */
gpg_error_t pan_crl_load (pan_ctx_t ctx, const void *data, size_t len,
                          const void *chain, size_t chainlen,
                          const char *operator_name, time_t now,
                          struct pan_crl **r_crl, char **r_reason);

/* Store at *R_CRLS the *R_COUNT CRLs that the dirmngr of CTX's home
 * holds (release with pan_crls_release).  */
gpg_error_t pan_crl_list (pan_ctx_t ctx, struct pan_crl **r_crls,
                          size_t *r_count, char **r_reason);

/* Release COUNT CRLs of pan_crl_list or pan_crl_load.  */
void pan_crls_release (struct pan_crl *crls, size_t count);

/* Check that revocation for the trusted CA CA_FPR can be established
 * at NOW in CTX's home: 0 if smime-revocation-check is off or a
 * current CRL of the CA is loaded; else GPG_ERR_NO_CRL_KNOWN (none) or
 * GPG_ERR_CRL_TOO_OLD (expired) with a reason that names the CA and
 * says how to load its CRL or change the mode.  */
gpg_error_t pan_crl_check_ca (pan_ctx_t ctx, const char *ca_fpr, time_t now,
                              char **r_reason);

/* END crl */

/* BEGIN pan */
/*
 * Payment card numbers (pan.c): streaming detection, masking and keyed
 * hashes.  See pan.c for the table of card brands and lengths.
 */

/* Shortest and longest PAN detected, in digits.  */
#define PAN_MIN_DIGITS 13
#define PAN_MAX_DIGITS 19

/* Size of the buffer pan_mask writes (a masked 19-digit PAN + NUL).  */
#define PAN_MASK_SIZE (PAN_MAX_DIGITS + 1)

typedef struct pan_scanner *pan_scanner_t;

/* One PAN found in a stream; the strings are valid only during the
 * callback that receives it.  No field holds the PAN itself.  */
struct pan_hit
{
  unsigned long long offset; /* Of the first digit, from stream start. */
  size_t length;             /* In bytes, separators included.  */
  size_t ndigits;            /* 13 to 19.  */
  const char *brand;         /* "Visa", "Mastercard", ...  */
  const char *masked;  /* First 6 and last 4 digits: 411111******1111 */
  const char *hash;    /* Hex HMAC-SHA256 of the digits; NULL if the
                                 scanner has no key.  */
  const char *context; /* Up to 16 bytes of its line either side:
                                 the PAN masked, every other digit '#',
                                 what is not printable ASCII or UTF-8
                                 '?'.  */
};

/* Receive HIT; a non-zero return stops the scan and is returned by the
 * function that fed the scanner.  */
typedef gpg_error_t (*pan_hit_cb_t) (void *opaque,
                                     const struct pan_hit *hit);

/* Create a scanner; KEY/KEYLEN (copied into secure memory) keys the
 * HMAC of each hit, KEY NULL: hits carry no hash.  */
gpg_error_t pan_scanner_new (const void *key, size_t keylen,
                             pan_scanner_t *r_scanner);

/* Scan the next LEN bytes of the stream, calling CB for each PAN
 * decided on: a PAN is decided once the 16 bytes after it are known,
 * so it may be reported by a later call.  Chunks may split a PAN
 * anywhere; the hits do not depend on the chunk sizes.  */
gpg_error_t pan_scanner_feed (pan_scanner_t scanner, const void *buf,
                              size_t len, pan_hit_cb_t cb, void *opaque);

/* End the stream: report the PANs not reported yet, then reset
 * SCANNER for a new stream (offsets start at 0 again).  */
gpg_error_t pan_scanner_finish (pan_scanner_t scanner, pan_hit_cb_t cb,
                                void *opaque);

/* Wipe and release SCANNER.  */
void pan_scanner_release (pan_scanner_t scanner);

/* Create a scanner keyed with the home's PAN key (HOME/pan.key), so that
 * its hits carry the keyed hashes that the audit log stores.  */
gpg_error_t pan_ctx_pan_scanner (pan_ctx_t ctx, pan_scanner_t *r_scanner,
                                 char **r_reason);

/* Return true if DIGITS (ASCII digits only, at least 2) pass Luhn.  */
int pan_luhn_valid (const char *digits);

/* Return the brand whose issuer range and lengths fit DIGITS (Luhn not
 * checked), or NULL.  */
const char *pan_card_brand (const char *digits);

/* Store at *R_COPY a copy of TEXT (release with pan_free) with every
 * card number in it masked (first 6 / last 4), for error messages; a
 * word of 40 or 64 hex digits (a fingerprint, a digest) is kept.  */
gpg_error_t pan_mask_text (const char *text, char **r_copy);

/* Write DIGITS (13 to 19 ASCII digits, else GPG_ERR_INV_VALUE) masked
 * as first 6, '*'s and last 4 to BUF (PAN_MASK_SIZE bytes).  */
gpg_error_t pan_mask (const char *digits, char *buf);


/*
 * Scanning MIME messages for PANs (mime.c; pani_header_decode_2047 is in
 * rfc2047.c).
 */
typedef struct pan_mime *pan_mime_t;

/* Multipart and message/rfc822 nesting deeper than this, and header
 * fields longer than this, are scanned as raw text.  */
#define PAN_MIME_MAX_DEPTH 32
#define PAN_MIME_MAX_FIELD (64 * 1024)

/* Where a hit was found.  */
struct pan_mime_part
{
  unsigned int index;       /* Entities in order, 0: the outermost.  */
  unsigned int depth;       /* 0: the outermost entity.  */
  const char *content_type; /* Lower case "type/subtype"; "" in a
                                 header block (not known yet).  */
  const char *header;       /* Field name for a hit in a header value
                                 (offset into its decoded value), else
                                 NULL (offset into the decoded body).  */
  int undecoded;            /* The hit is in the undecoded text of a
                                 base64 part (mislabelled part).  */
  const char *encoding;     /* The part's Content-Transfer-Encoding,
                                 lower case ("7bit" if none); NULL in a
                                 header block.  */
};

/* Receive HIT found in PART; a non-zero return stops the scan.  */
typedef gpg_error_t (*pan_mime_cb_t) (void *opaque,
                                      const struct pan_mime_part *part,
                                      const struct pan_hit *hit);

/* Create a walker that scans a message fed in chunks with SCANNER
 * (owned by the walker until released) and reports hits to CB.  With
 * CONTENT_TYPE NULL the input is a whole message starting with its
 * header block; else it is the body of an entity with CONTENT_TYPE and
 * ENCODING (Content-Transfer-Encoding, NULL: 7bit).  */
gpg_error_t pan_mime_scan_new (pan_scanner_t scanner,
                               const char *content_type,
                               const char *encoding, pan_mime_cb_t cb,
                               void *opaque, pan_mime_t *r_mime);

/* Scan the next LEN bytes of the message.  */
gpg_error_t pan_mime_scan_feed (pan_mime_t mime, const void *buf,
                                size_t len);

/* End the message and report what its last bytes held.  */
gpg_error_t pan_mime_scan_finish (pan_mime_t mime);

/* Wipe and release MIME (not its scanner).  */
void pan_mime_scan_release (pan_mime_t mime);

/* END pan */


/* BEGIN scan */
/*
 * Finding PANs in files (scan.c): data discovery for panaudit scan.
 * Files are read in chunks and never held whole; mailboxes are split
 * into messages and walked with pan_mime_scan_*.  Paths and header
 * names handed to the callbacks have any PAN in them masked.
 */

/* How a file is scanned.  */
typedef enum
{
  PAN_SCAN_PLAIN = 0,  /* Text as written, hits by line.  */
  PAN_SCAN_MBOX = 1,   /* First line "From ": messages split at
                                   every line that starts "From ".  */
  PAN_SCAN_MESSAGE = 2 /* One message (Maildir, .eml).  */
} pan_scan_format_t;

/* One PAN found in a file.  The strings are valid only during the
 * callback that receives it; none holds the PAN itself.  */
struct pan_scan_hit
{
  const char *path; /* PANs in it masked.  */
  pan_scan_format_t format;
  unsigned long long line;    /* Plain: the line of the first digit;
                                   else the line where the message
                                   starts (1-based).  */
  unsigned long long message; /* 1-based; 0 in a plain file.  */
  int envelope;               /* In the mbox "From " line.  */
  unsigned int part;          /* MIME entity index (0: outermost).  */
  const char *content_type;   /* Lower case, "" in a header block;
                                   NULL in a plain file.  */
  const char *header;         /* Field name (PANs in it masked) for a
                                   hit in a header, else NULL.  */
  int undecoded;              /* In the raw text of a base64 part.  */
  const char *brand;
  const char *masked;
  const char *hash;     /* NULL if the scanner has no key.  */
  const char *encoding; /* The part's transfer encoding, lower
                                   case ("7bit" if none); NULL in a plain
                                   file, a header, an mbox From line.  */
  const char *context;  /* Masked, see struct pan_hit.  */
  const char *allowed;  /* The comment of the allow-list entry
                                   that holds HASH, or NULL.  */
};

/* What happened to a file or directory.  */
typedef enum
{
  PAN_SCAN_SCANNED = 0, /* Read to its end.  */
  PAN_SCAN_SKIPPED = 1, /* Not read: REASON says why.  */
  PAN_SCAN_FAILED = 2,  /* Could not be read: ERR, REASON.  */
  PAN_SCAN_PROGRESS = 3 /* BYTES of it read so far.  */
} pan_scan_event_t;

/* An event of one path, valid during the callback that receives it.  */
struct pan_scan_file
{
  const char *path; /* PANs in it masked.  */
  pan_scan_event_t event;
  pan_scan_format_t format;
  unsigned int depth; /* 0: a path given to pan_scan_path.  */
  unsigned long long bytes;
  gpg_error_t err;
  const char *reason; /* One line naming the path, or NULL.  */
};

/* Receive a hit or an event; a non-zero return stops the scan and is
 * returned by the function that called it.  */
typedef gpg_error_t (*pan_scan_hit_cb_t) (void *opaque,
                                          const struct pan_scan_hit *hit);
typedef gpg_error_t (*pan_scan_file_cb_t) (void *opaque,
                                           const struct pan_scan_file *file);

/* Directories nested deeper than this below a path are not entered
 * (PAN_SCAN_FAILED).  */
#define PAN_SCAN_MAX_DEPTH 128

/* Bytes read at a time; the binary test looks at the first 8 KiB.  */
#define PAN_SCAN_CHUNK (64 * 1024)
#define PAN_SCAN_BINARY_TEST 8192

/* A list of keyed hashes of numbers found harmless (scan-allow.c).  */
typedef struct pan_scan_allow *pan_scan_allow_t;

/* How pan_scan_path walks.  */
struct pan_scan_options
{
  const char *const *exclude; /* NULL-terminated fnmatch(3) globs, or
                                   NULL: a path is skipped if a glob
                                   matches the whole path or its last
                                   component.  */
  int skip_binary;            /* Skip files with a NUL byte in their
                                   first PAN_SCAN_BINARY_TEST bytes.  */
  pan_scan_hit_cb_t hit_cb;
  pan_scan_file_cb_t file_cb; /* May be NULL.  */
  void *opaque;
  pan_scan_allow_t allow; /* Hits whose hash it lists are marked
                                   (pan_scan_hit.allowed), or NULL.  */
  unsigned int jobs;      /* Files scanned at once: 0 or 1, one by
                                   one in the calling thread; more, that
                                   many threads, with the same callbacks
                                   in the same order, one at a time, from
                                   any of the threads.  */
  void *reserved[4];      /* Room for later fields; 0.  */
};

/* Scan PATH for PANs with SCANNER (NULL: a scanner without key; it must
 * not be in the middle of a stream and is left reset): a directory
 * recursively, in name order, without following symbolic links below
 * PATH (PATH itself may be one) and skipping devices, FIFOs and
 * sockets; a regular file as mbox (first line "From "), as a message
 * (.eml, or in cur/, new/ or tmp/ of a Maildir), else as plain text.
 * A path that cannot be read is reported to FILE_CB as
 * PAN_SCAN_FAILED and the walk goes on; the return value is an error
 * only for a callback's stop or a lack of memory.  */
gpg_error_t pan_scan_path (pan_scanner_t scanner, const char *path,
                           const struct pan_scan_options *options);

typedef struct pan_scan_stream *pan_scan_stream_t;

/* Create in *R_STREAM a scan of one file's contents in FORMAT, fed in
 * chunks of any size, reporting hits under PATH (shown masked) to the
 * callbacks of OPTIONS.  SCANNER (NULL: one without key) is used until
 * the stream is released and must not be fed elsewhere meanwhile.  */
gpg_error_t pan_scan_stream_new (pan_scanner_t scanner, const char *path,
                                 pan_scan_format_t format,
                                 const struct pan_scan_options *options,
                                 pan_scan_stream_t *r_stream);

/* Scan the next LEN bytes of the file.  */
gpg_error_t pan_scan_stream_feed (pan_scan_stream_t stream, const void *buf,
                                  size_t len);

/* End the file and report what its last bytes held.  */
gpg_error_t pan_scan_stream_finish (pan_scan_stream_t stream);

/* Wipe and release STREAM (and its scanner if it made one).  */
void pan_scan_stream_release (pan_scan_stream_t stream);

/* The version of the JSON object pan_scan_hit_json writes (its "v").  */
#define PAN_SCAN_JSON_VERSION 1

/* Store at *R_JSON a malloc'ed JSON object (one line, no line end) for
 * HIT: "v", "path", "line", "masked", "brand", "hash", "context",
 * "message", "part", "content_type", "encoding", "header", "envelope",
 * "undecoded", "allowed", "comment".  Strings are valid UTF-8: bytes
 * that are not (a file name may hold any) become U+FFFD, and the path's
 * bytes then also go, as hex, to "path_hex".  */
gpg_error_t pan_scan_hit_json (const struct pan_scan_hit *hit,
                               char **r_json);

/* Read the allow list in the file PATH ("-": stdin) with
 * pani_scan_allow_parse.  */
gpg_error_t pan_scan_allow_load (const char *path, pan_scan_allow_t *r_allow,
                                 char **r_reason);

/* Release ALLOW (NULL is accepted).  */
void pan_scan_allow_release (pan_scan_allow_t allow);
/* END scan */

/* BEGIN audit (audit-*.c) */
/*
 * Tamper-evident audit log (audit-*.c): HOME/audit.log, JSON Lines, one
 * record a line, chained by SHA-256 and authenticated by HMAC-SHA256
 * under a forward-secure key in HOME/audit.key; see panaudit(1).
 */

/* The longest record line, in bytes, that is written or read.  */
#define PAN_AUDIT_MAX_LINE 65536

/* One recipient or key named in an audit record.  */
struct pan_audit_key
{
  const char *address;
  pan_protocol_t protocol;
  const char *fingerprint;
  void *reserved[4]; /* Room for later fields; 0.  */
};

/* One PAN seen in a message: only masked and as a keyed hash.  */
struct pan_audit_pan
{
  const char *brand;
  const char *masked; /* At most 6 + 4 digits, e.g.
                                   "411111******1111".  */
  const char *hash;   /* Hex HMAC-SHA256 under the home's key.  */
  void *reserved[4];  /* Room for later fields; 0.  */
};

/* What happened.  NULL strings and empty arrays are left out of the
 * record; SIZE is written with CIPHERTEXT_SHA256 and EXIT_CODE with
 * OUTCOME.  */
struct pan_audit_event
{
  const char *event;         /* send, delivered, queue, drop, refuse,
                                   init, enroll, ... */
  const char *tool;          /* pansend, pankey, panaudit */
  const char *operator_name; /* NULL: the login user */
  const char *message_id;
  const char *envelope_from;
  const char *header_from;
  const struct pan_audit_key *keys; /* "recipients" */
  size_t nkeys;
  const struct pan_audit_pan *pans;
  size_t npans;
  const char *ciphertext_sha256; /* Hex.  */
  long long size;                /* Ciphertext bytes.  */
  const char *outcome;           /* pending, delivered, queued, dropped,
                                   refused, ok, failed (sent: of old
                                   logs, delivered) */
  int exit_code;
  const char *reason;
  const char *dsn;             /* DSN options given (pansend -N -R -V).  */
  const char *copy;            /* The copy id of a copy of a message
                                   ([A-Za-z0-9._-], at most 64).  */
  const char *registry_sha256; /* Hex; the registry as a key change
                                   left it (or a carried
                                   registry_checked).  */
  /* Hex; appending only: a registry the writer checked against the
   * newest recorded digest (pansend), written as registry_sha256 if it
   * still is the newest when the record is appended.  Read back:
   * NULL.  */
  const char *registry_checked;
  void *reserved[3]; /* Room for later fields; 0.  */
};

/* One record as read back (pan_audit_next).  EV.EXIT_CODE is -1 when
 * the record has no outcome; TORN_LENGTH is -1 except in "recovery"
 * records, which name a torn line left by a killed writer.  */
struct pan_audit_record
{
  unsigned long long seq;
  time_t time;
  const char *host;
  struct pan_audit_event ev;
  long long torn_length;
  const char *torn_sha256;
  const char *prev; /* Hex SHA-256 of the previous line.  */
  const char *mac;  /* Hex HMAC-SHA256 of this line.  */
  const char *line; /* The record as stored (not   */
  size_t line_len;  /* NUL-terminated), without LF.  */
};

/* pan_audit_create_key: keep an audit key that the home already has.  */
#define PAN_AUDIT_KEEP_KEY 1

/* Create the audit key of CTX's home and append EV at NOW as its first
 * record, under one hold of the audit lock.  The home must have neither
 * audit.key nor a non-empty audit.log (GPG_ERR_EEXIST, nothing
 * recorded) unless FLAGS has PAN_AUDIT_KEEP_KEY: then an existing key
 * is kept, EV is appended and *R_KEY_HEX is NULL.  A new key is stored
 * at *R_KEY_HEX (64 hex digits in libgcrypt secure memory, release with
 * pan_audit_key_release) only once EV is recorded: show it once to the
 * operator, who keeps it offline for panaudit verify --key.  If EV
 * cannot be recorded, the new key is removed again and the error is one
 * that pan_audit_append gives.  */
gpg_error_t pan_audit_create_key (pan_ctx_t ctx,
                                  const struct pan_audit_event *ev,
                                  time_t now, unsigned int flags,
                                  char **r_key_hex, char **r_reason);

/* Wipe and release a key returned by pan_audit_create_key.  */
void pan_audit_key_release (char *key_hex);

/* Append one record for EV at time NOW to CTX's audit log under the
 * audit lock (lock-timeout), fsync it, then evolve the key.  A torn last
 * line is first closed and named in a "recovery" record.  Errors that
 * mean the record could not be stored (tools exit 73, EX_CANTCREAT):
 * GPG_ERR_ENOSPC, GPG_ERR_EDQUOT, GPG_ERR_EROFS, GPG_ERR_EACCES,
 * GPG_ERR_EPERM, GPG_ERR_ENOENT; all others (tools exit 74, EX_IOERR)
 * include GPG_ERR_TIMEOUT (lock), GPG_ERR_NO_SECKEY (no audit.key),
 * GPG_ERR_INV_STATE (audit.key does not fit the log), GPG_ERR_INV_VALUE
 * (EV not acceptable, e.g. an unmasked PAN) and GPG_ERR_CONFIGURATION
 * (bad audit-syslog-facility).  Nothing is written on error.  */
gpg_error_t pan_audit_append (pan_ctx_t ctx,
                              const struct pan_audit_event *ev, time_t now,
                              char **r_reason);

/* Close the open segment of CTX's audit log (HOME/audit.log) at NOW,
 * under the audit lock, so that writers wait instead of failing: append
 * a "segment-close" record, make the file read-only as
 * HOME/audit-FIRST-LAST-TIME1-TIME2.log, and start a new audit.log
 * whose "segment-open" record continues the hash chain.  Store the
 * closed file's path at *R_SEGMENT (free it).  GPG_ERR_NO_DATA if the
 * open segment holds no record.  */
gpg_error_t pan_audit_rotate (pan_ctx_t ctx, const char *operator_name,
                              time_t now, char **r_segment, char **r_reason);

/* Compress every closed segment of CTX's audit log that is not yet
 * compressed to HOME/audit-...log.gz (gzip, which every reader and
 * zcat read) and remove the uncompressed file; their number at
 * *R_COUNT.  A segment another process is compressing is left to it.  */
gpg_error_t pan_audit_compress (pan_ctx_t ctx, size_t *r_count,
                                char **r_reason);

/* Delete the oldest closed segments of CTX's audit log whose last
 * record is older than audit-retention days before NOW (never the open
 * one): first record "prune" naming the checkpoint "panmail-anchor 1
 * seq=N sha256=HEX" (the last record deleted, which the next segment's
 * chain needs), then store it as HOME/audit.checkpoint, then delete the
 * files; their number at *R_COUNT.  GPG_ERR_FORBIDDEN if no closed
 * segment is old enough.  */
gpg_error_t pan_audit_prune (pan_ctx_t ctx, time_t now, size_t *r_count,
                             char **r_reason);

/* What pan_audit_verify found first.  */
typedef enum
{
  PAN_AUDIT_INTACT = 0,
  PAN_AUDIT_MODIFIED = 1,  /* Hash, MAC or syntax of a record.  */
  PAN_AUDIT_INSERTED = 2,  /* A record too many.  */
  PAN_AUDIT_DELETED = 3,   /* A gap in the sequence.  */
  PAN_AUDIT_REORDERED = 4, /* Records out of order.  */
  PAN_AUDIT_TRUNCATED = 5, /* Records missing at the end.  */
  PAN_AUDIT_TORN = 6       /* Unrecovered torn last line.  */
} pan_audit_damage_t;

/* The result of a verification.  */
struct pan_audit_verdict
{
  pan_audit_damage_t damage;
  unsigned long long record;   /* First bad record (seq), 0 if intact.  */
  unsigned long long line;     /* Its line in the file, 0 if none.  */
  unsigned long long nrecords; /* Records that verified.  */
  int key_checked;             /* MACs were checked with the key.  */
  char head[65];               /* Hex SHA-256 of the last good line.  */
  char *message;               /* One line for a person, or NULL.  */
  char *warnings;              /* Lines for a person, or NULL.  */
  void *reserved[4];           /* Room for later fields; 0.  */
};

/* Verify CTX's audit log: syntax, sequence, hash chain, audit.key and,
 * if KEY_FILE is not NULL, every MAC with the initial key read from
 * KEY_FILE ("-": stdin); if ANCHOR is not NULL, also the anchor line
 * made by pan_audit_anchor.  Returns 0 if the check ran (the verdict
 * says whether the log is intact); an error for a bad key or anchor
 * (GPG_ERR_INV_VALUE) or unreadable files.  */
gpg_error_t pan_audit_verify (pan_ctx_t ctx, const char *key_file,
                              const char *anchor,
                              struct pan_audit_verdict *r_verdict,
                              char **r_reason);

/* Verify the segments of a log copied into DIR (its closed segments
 * and audit.log, if any) as pan_audit_verify does, but without a home,
 * lock or audit.key (which must stay on the host): with the initial key
 * in KEY_FILE every MAC, with ANCHOR that no record before it is
 * missing.  */
gpg_error_t pan_audit_verify_dir (const char *dir, const char *key_file,
                                  const char *anchor,
                                  struct pan_audit_verdict *r_verdict,
                                  char **r_reason);

/* Release the strings of VERDICT (the structure itself is the
 * caller's).  */
void pan_audit_verdict_release (struct pan_audit_verdict *verdict);

/* Verify the hash chain of CTX's log (as pan_audit_verify without key)
 * and store at *R_LINE "panmail-anchor 1 seq=N sha256=HEX" for its
 * last record; a damaged log gives GPG_ERR_BAD_SIGNATURE.  */
gpg_error_t pan_audit_anchor (pan_ctx_t ctx, char **r_line, char **r_reason);

/* Make the anchor of CTX's log (as pan_audit_anchor) and sign it with
 * the secret key FPR (a primary fingerprint) of the operator's GnuPG
 * home SIGNER_HOME (NULL: $GNUPGHOME, else ~/.gnupg; never the panmail
 * home's): an OpenPGP clearsigned message at *R_SIGNED (free it).  */
gpg_error_t pan_audit_anchor_sign (pan_ctx_t ctx, const char *fpr,
                                   const char *signer_home, char **r_signed,
                                   char **r_reason);

/* Check the signed anchor DATA/LEN: exactly one good signature, by a
 * key neither revoked nor expired that is an operator key CTX's home
 * pins (pankey operator-key) or, if KEY_FILE is not NULL, the one key
 * in KEY_FILE ("-": stdin; CTX may then be NULL).  Store the anchor
 * line at *R_LINE and the signer's primary fingerprint at *R_SIGNER
 * (free both).  GPG_ERR_NO_DATA if DATA is not a signed message,
 * GPG_ERR_BAD_SIGNATURE, _NO_PUBKEY, _NOT_TRUSTED (not pinned),
 * _KEY_EXPIRED or _CERT_REVOKED if its signature does not do, and
 * GPG_ERR_INV_VALUE if what is signed is not an anchor line.  */
gpg_error_t pan_audit_anchor_check (pan_ctx_t ctx, const char *key_file,
                                    const void *data, size_t len,
                                    char **r_line, char **r_signer,
                                    char **r_reason);

/* Which records pan_audit_next returns; zero/NULL fields match all.  */
struct pan_audit_filter
{
  time_t since;          /* time >= SINCE */
  time_t until;          /* time <= UNTIL */
  const char *recipient; /* any recipient (see pan_addr_same) */
  const char *event;
  const char *message_id; /* with or without <> */
  const char *outcome;
  void *reserved[4]; /* Room for later fields; 0.  */
};

/* True if EVENT is an event panmail writes (send, delivered, queue,
 * drop, refuse, recovery, init, init-key, enroll, rotate, refresh,
 * revoke, unenroll, retire, trust-ca, import, export, registry-accept,
 * note, segment-close, segment-open, prune).  */
int pan_audit_is_event (const char *event);

/* True if OUTCOME is an outcome panmail writes (pending, delivered,
 * queued, dropped, refused, ok, failed, and sent of old logs).  */
int pan_audit_is_outcome (const char *outcome);

/* Parse S, "YYYY-MM-DD" or RFC 3339 ("2026-11-24T23:18:43Z",
 * "...+01:00"), into *R_TIME; a bare date means its first second, or
 * with END_OF_DAY its last.  */
gpg_error_t pan_audit_parse_time (const char *s, int end_of_day,
                                  time_t *r_time);

typedef struct pan_audit_reader *pan_audit_reader_t;

/* Open CTX's audit log for reading the records FILTER (may be NULL)
 * selects.  A missing log reads as empty.  */
gpg_error_t pan_audit_open (pan_ctx_t ctx,
                            const struct pan_audit_filter *filter,
                            pan_audit_reader_t *r_reader, char **r_reason);

/* Store at *R_REC the next matching record, valid until the next call;
 * GPG_ERR_EOF at the end.  Lines that are not valid records are
 * skipped and counted (pan_audit_skipped).  */
gpg_error_t pan_audit_next (pan_audit_reader_t reader,
                            const struct pan_audit_record **r_rec);

/* Return the number of lines pan_audit_next skipped so far.  */
unsigned long long pan_audit_skipped (pan_audit_reader_t reader);

/* Close READER.  */
void pan_audit_close (pan_audit_reader_t reader);

/* Write to OUT a summary for an assessor of the records FILTER selects:
 * messages sent, queued and refused (by reason), recipients and keys
 * used, enrollment changes, and the verdict of pan_audit_verify (with
 * KEY_FILE if not NULL), which is also stored at *R_VERDICT.  */
gpg_error_t pan_audit_report (pan_ctx_t ctx,
                              const struct pan_audit_filter *filter,
                              const char *key_file, gpgrt_stream_t out,
                              struct pan_audit_verdict *r_verdict,
                              char **r_reason);

/* One line of the audit report as data (pan_audit_report_rows); valid
 * during the callback.  Unused fields are NULL, 0 or COUNT -1.  */
struct pan_audit_report_row
{
  const char *type; /* period, records, messages, copies, refused, key,
                       change, event, verification or warning */
  const char *name; /* What is counted (messages: with_copies, refused;
                       copies: total, delivered, delivered_after_queue,
                       delivered_legacy, queued, dropped, pending), the
                       reason, the event, intact or tampered.  */
  long long count;
  time_t from, to; /* The period, the records' first and last time, the
                      time of a change.  */
  const char *protocol, *fingerprint, *address; /* Of a key; of a change
                                                   its keys', space-
                                                   separated.  */
  const char *operator_name;
  const char *outcome;
  const char *detail;
  void *reserved[4];
};

/* Called with each row of a report, in the order of the text.  */
typedef void (*pan_audit_row_cb_t) (void *opaque,
                                    const struct pan_audit_report_row *row);

/* The report of pan_audit_report as data: call CB with OPAQUE for each
 * line of the text report (the line of delivered copies gives three
 * rows: delivered, delivered_after_queue, delivered_legacy).  */
gpg_error_t pan_audit_report_rows (pan_ctx_t ctx,
                                   const struct pan_audit_filter *filter,
                                   const char *key_file,
                                   pan_audit_row_cb_t cb, void *opaque,
                                   struct pan_audit_verdict *r_verdict,
                                   char **r_reason);
/* END audit */

/* BEGIN review */
/*
 * The state of an enrollment's key and the findings of pankey check
 * (review.c).  Every tool that shows a key's state asks pan_review_key.
 */

/* The state of an enrollment's key.  */
typedef enum
{
  PAN_KEY_OK = 0,       /* Usable, not expiring soon.  */
  PAN_KEY_EXPIRING = 1, /* Usable; expires within the warn days.  */
  PAN_KEY_WEAK = 2,     /* Usable, but the algorithm policy says
                                   critical.  */
  PAN_KEY_UNUSABLE = 3, /* Cannot encrypt (no usable subkey, or a
                                   certificate that does not validate).  */
  PAN_KEY_EXPIRED = 4,
  PAN_KEY_REVOKED = 5,  /* Revoked by its holder, or (as the state
                                   of an enrollment) by an operator.  */
  PAN_KEY_MISSING = 6,  /* Not in the home's keyring.  */
  PAN_KEY_UNKNOWN = 7,  /* Could not be checked.  */
  PAN_KEY_RETIRED = 8,  /* The enrollment ended: rotated or
                                   unenrolled.  */
  PAN_KEY_UNCHECKED = 9 /* The key was not looked up.  */
} pan_key_state_t;

/* Store at HEX (65 bytes) the SHA-256 of the registry file of CTX,
 * read through a checked descriptor.  */
gpg_error_t pan_registry_digest (pan_ctx_t ctx, char *hex, char **r_reason);

/* Check that the registry of CTX is the one the newest audit record
 * with a "registry_sha256" recorded (a log without one, from an older
 * version, passes); else GPG_ERR_BAD_DATA with *R_REASON naming the
 * record and the fix (tools: pansend 77, pankey check critical).  */
gpg_error_t pan_registry_check_recorded (pan_ctx_t ctx, char **r_reason);

/* Read the registry of CTX once, check it as pan_registry_check_recorded
 * does and parse those same bytes into *R_REG (the address-case rules of
 * CTX applied): no edit between the check and the parse.  */
gpg_error_t pan_registry_load_recorded (pan_ctx_t ctx, pan_registry_t *r_reg,
                                        char **r_reason);

/* Return the word for STATE: "ok", "expiring", "weak", "unusable",
 * "expired", "revoked", "missing", "unknown", "retired" or
 * "unchecked".  */
const char *pan_review_state_name (pan_key_state_t state);

/* What pan_review_key found; release with pan_review_key_release.  */
struct pan_key_status
{
  pan_key_state_t state;    /* Of the enrollment: PAN_KEY_RETIRED or
                                   PAN_KEY_REVOKED once it ended, else
                                   KEY.  */
  pan_key_state_t key;      /* Of the key itself.  */
  int expiring;             /* The key can encrypt and expires
                                   within the warn days (also when KEY
                                   is PAN_KEY_WEAK).  */
  long days;                /* Whole days to the key's expiry:
                                   started days ahead, full days ago;
                                   0 if it never expires.  */
  time_t rotation_due;      /* An active enrollment is due for
                                   rotation then (cryptoperiod-days
                                   after it began); else 0.  */
  gpg_error_t err;          /* Why the key could not be looked up.  */
  char *why;                /* The same for a person, or NULL.  */
  struct pan_key_info info; /* What the keyring knows of the key.  */
  /* Of an enrollment that ended (borrowed from the record; NULL or 0
   * if not known).  */
  time_t changed_at;
  const char *changed_by;
  const char *reason;
  const char *note;
  void *reserved[4]; /* Room for later fields; 0.  */
};

/* Flags of pan_review_key.  */
#define PAN_REVIEW_ENDED \
  1 /* Look up the keys of enrollments that
                                   ended too.  */

/* Store at *R_STATUS the state of enrollment REC and its key at NOW.  A
 * key expires soon if within WARN_DAYS days (< 0: expire-warn-days).
 * The key of an active enrollment is looked up in CTX's keyring, the
 * key of one that ended only with PAN_REVIEW_ENDED in FLAGS (else KEY
 * is PAN_KEY_UNCHECKED).  A key that cannot be looked up is a state
 * (R_STATUS->ERR), not an error of this function.  Release *R_STATUS
 * with pan_review_key_release.  */
gpg_error_t pan_review_key (pan_ctx_t ctx, const struct pan_recipient *rec,
                            time_t now, long warn_days, unsigned int flags,
                            struct pan_key_status *r_status);

/* Release what STATUS holds (the structure itself is the caller's).  */
void pan_review_key_release (struct pan_key_status *status);

/* One finding of pan_review_enrollment or pan_review_ca; valid during
 * the callback.  */
struct pan_key_finding
{
  pan_severity_t severity;
  const char *check;               /* missing, revoked, expired, unusable,
                                 expiring, policy, rotation-due, error */
  const struct pan_recipient *rec; /* The enrollment, or NULL.  */
  time_t when;                     /* Expiry or rotation due; 0 if none.  */
  long days;                       /* Whole days from NOW to WHEN.  */
  const char *text;                /* Says what, after "key FPR": e.g.
                                 "expires in 10 days (2026-12-04)".  */
  const struct pan_smime_ca *ca;   /* The trusted CA, or NULL.  */
};

/* Receive FINDING; a non-zero return stops the review.  */
typedef gpg_error_t (*pan_key_finding_cb_t) (
  void *opaque, const struct pan_key_finding *finding);

/* Review the enrollment REC at NOW and call CB for each finding: key
 * missing, revoked, expired, unusable (critical), breaking the
 * algorithm policy (its verdict), expiring within WARN_DAYS days (< 0:
 * expire-warn-days) or enrolled longer than cryptoperiod-days
 * (warning).  The worst severity found is stored at *R_WORST.  */
gpg_error_t pan_review_enrollment (pan_ctx_t ctx,
                                   const struct pan_recipient *rec,
                                   time_t now, long warn_days,
                                   pan_key_finding_cb_t cb, void *opaque,
                                   pan_severity_t *r_worst);

/* Review the trusted S/MIME CA CA at NOW and call CB for each finding:
 * missing from the keybox, expired (critical) or expiring within
 * WARN_DAYS days (warning).  The worst severity found is stored at
 * *R_WORST.  */
gpg_error_t pan_review_ca (const struct pan_smime_ca *ca, time_t now,
                           long warn_days, pan_key_finding_cb_t cb,
                           void *opaque, pan_severity_t *r_worst);
/* END review */

/* BEGIN lifecycle */
/*
 * Key lifecycle (lifecycle.c): enroll, rotate, refresh, revoke,
 * unenroll, trust a CA.  Each transaction checks the registry and the
 * key, changes the keyring, writes its audit record and only then the
 * registry, so that it is in the audit log before it reports success.
 * A refused key and a change that failed after its record are recorded
 * too.
 */

/* Where a transaction stopped (struct pan_lifecycle_result).  */
typedef enum
{
  PAN_LIFECYCLE_DONE = 0,     /* It did not: success.  */
  PAN_LIFECYCLE_REQUEST = 1,  /* A bad address, fingerprint or reason. */
  PAN_LIFECYCLE_REGISTRY = 2, /* The registry could not be read.  */
  PAN_LIFECYCLE_STATE = 3,    /* The registry forbids it: enrolled
                                   already (GPG_ERR_EEXIST), not
                                   enrolled (GPG_ERR_NOT_FOUND), a key
                                   revoked before (GPG_ERR_CERT_REVOKED),
                                   the same key (GPG_ERR_EEXIST).  */
  PAN_LIFECYCLE_INPUT = 4,    /* READ_KEY failed.  */
  PAN_LIFECYCLE_KEY = 5,      /* The key or certificate was refused;
                                   recorded as refused.  */
  PAN_LIFECYCLE_AUDIT = 6,    /* Its record could not be written;
                                   nothing was changed.  */
  PAN_LIFECYCLE_APPLY = 7,    /* The change failed after its record;
                                   recorded as failed.  */
  PAN_LIFECYCLE_SYSTEM = 8    /* Out of memory.  */
} pan_lifecycle_stage_t;

/* Return the exit code (sysexits.h) of a transaction that stopped at
 * STAGE with ERR (KEYRING: its change is of the keyring, as refresh's):
 * pankey exits with it and the record of the stop carries it (at
 * PAN_LIFECYCLE_AUDIT, where there is no record, EX_IOERR: tools tell
 * 73 from 74 as for every audit error).  */
int pan_lifecycle_exit_code (pan_lifecycle_stage_t stage, gpg_error_t err,
                             int keyring);

/* Hand the key material to a transaction, after its checks of the
 * registry: store at *R_DATA and *R_LEN at most MAXLEN (max-key-size)
 * bytes that stay valid until the transaction returns.  */
typedef gpg_error_t (*pan_key_reader_t) (void *opaque, long maxlen,
                                         const void **r_data, size_t *r_len);

/* What a transaction is asked to do.  Zero it before filling it in:
 * fields added later mean "as before" when 0.  */
struct pan_lifecycle_req
{
  const char *address;     /* The enrollment; any form
                                   pan_addr_normalize accepts.  */
  pan_protocol_t protocol; /* Enroll: of the new key (0: OpenPGP). */
  const char *fingerprint; /* Enroll, rotate, trust-ca: the new key
                                   as checked out of band; revoke: the
                                   key (NULL: the active one).  */
  const void *data;        /* Enroll, rotate, refresh, trust-ca:
                                   the key material, or NULL to ask
                                   READ_KEY for it.  */
  size_t len;
  pan_key_reader_t read_key;
  void *read_key_opaque;
  const char *operator_name; /* Who; NULL: the login user.  */
  const char *tool;          /* For the record; NULL: "pankey".  */
  const char *reason;        /* Revoke: compromised, superseded, left
                                   or other.  */
  const char *note;          /* Revoke, unenroll: one line, or NULL. */
  time_t now;                /* When; 0: the current time.  */
  const char *context;       /* Put before the reason of its records,
                                   e.g. the bundle that asked for the
                                   change; NULL: nothing.  */
  void *reserved[7];         /* Room for later fields; 0.  */
};

/* What a transaction did or where it stopped; release with
 * pan_lifecycle_result_release.  */
struct pan_lifecycle_result
{
  pan_lifecycle_stage_t stage;
  char *address;           /* Normal form.  */
  pan_protocol_t protocol; /* Of the key changed.  */
  char *fingerprint;       /* The key pinned (for S/MIME the SHA-1
                                   the registry pins, also when given
                                   the SHA-256), refreshed, revoked or
                                   unenrolled; trust-ca: the CA's SHA-1. */
  char *old_fingerprint;   /* Rotate: the key retired.  */
  pan_status_t old_status; /* Revoke: of the record before.  */
  int unchanged;           /* Revoke: revoked already; nothing done
                                   and nothing recorded.  */
  char *what;              /* Refresh: the change, as recorded;
                                   registry-accept: the SHA-256 (hex)
                                   of the registry recorded.  */
  struct pan_key_info key; /* Enroll, rotate (OpenPGP): the new key
                                   after the change (KEY.PRESENT 0 if
                                   it could not be described).  */
  gpg_error_t unusable;    /* Refresh: why the key cannot encrypt
                                   after the update (pan_keys_check), */
  char *unusable_reason;   /* or 0 and NULL.  */
  gpg_error_t record_err;  /* The record of a refusal or failure */
  char *record_reason;     /* could not be written either: why.  */
  void *reserved[8];
};

/* Enroll REQ->ADDRESS (which must have no active enrollment) with the
 * key REQ->FINGERPRINT (never revoked in the registry) of protocol
 * REQ->PROTOCOL from the key material: import it (see
 * pani_keys_import_openpgp and pani_smime_enroll), record "enroll", add
 * the record to the registry.  *R_RES is filled also on error and must
 * be released.  */
gpg_error_t pan_lifecycle_enroll (pan_ctx_t ctx,
                                  const struct pan_lifecycle_req *req,
                                  struct pan_lifecycle_result *r_res,
                                  char **r_reason);

/* The list of a bulk enrollment: one "ADDRESS FINGERPRINT" pair a line
 * (see enroll-list.c).  */
typedef struct pan_enroll_list *pan_enroll_list_t;

/* Parse the bulk enrollment list BUF/LEN into *R_LIST; anything but
 * pairs, comments and blank lines, or an address given twice, gives
 * GPG_ERR_INV_DATA with "line N: what is wrong" in *R_REASON.  */
gpg_error_t pan_enroll_list_parse (const void *buf, size_t len,
                                   pan_enroll_list_t *r_list,
                                   char **r_reason);

/* Return the number of pairs of LIST.  */
size_t pan_enroll_list_count (pan_enroll_list_t list);

/* Return the address (normal form) of pair IDX of LIST, or NULL.  */
const char *pan_enroll_list_address (pan_enroll_list_t list, size_t idx);

/* Return the fingerprint (upper case) of pair IDX of LIST, or NULL.  */
const char *pan_enroll_list_fingerprint (pan_enroll_list_t list, size_t idx);

/* Release LIST (NULL is accepted).  */
void pan_enroll_list_release (pan_enroll_list_t list);

/* Told the outcome of each pair IDX of pan_lifecycle_enroll_batch: ERR,
 * the result RES and the REASON (NULL on success) of its enroll.  */
typedef void (*pan_enroll_batch_cb_t) (
  void *opaque, size_t idx, gpg_error_t err,
  const struct pan_lifecycle_result *res, const char *reason);

/* Enroll every OpenPGP pair of LIST from one key file, REQ->DATA/LEN
 * (or REQ->READ_KEY), that holds all their keys: the file is read into
 * a scratch keyring once, and each pair is enrolled as
 * pan_lifecycle_enroll does with only its own key (checked, imported,
 * recorded and pinned one by one), in the order of LIST, and told to
 * CB.  A pair that fails does not stop the others; the error of the
 * first one that failed is returned.  REQ's address and fingerprint
 * are not used.  */
gpg_error_t pan_lifecycle_enroll_batch (pan_ctx_t ctx,
                                        const struct pan_lifecycle_req *req,
                                        pan_enroll_list_t list,
                                        pan_enroll_batch_cb_t cb,
                                        void *opaque, char **r_reason);

/* Replace the active key of REQ->ADDRESS by the key REQ->FINGERPRINT
 * (another key, never revoked) of the same protocol: import it as
 * enroll does, record "rotate" naming both keys, then retire the old
 * record and add the new one in one update of the registry.  */
gpg_error_t pan_lifecycle_rotate (pan_ctx_t ctx,
                                  const struct pan_lifecycle_req *req,
                                  struct pan_lifecycle_result *r_res,
                                  char **r_reason);

/* Import an update of the active OpenPGP key of REQ->ADDRESS (see
 * pani_keys_refresh_openpgp): checked in a scratch keyring first (a
 * refusal is recorded), recorded as "refresh" with the change of
 * expiry in R_RES->WHAT, then imported.  */
gpg_error_t pan_lifecycle_refresh (pan_ctx_t ctx,
                                   const struct pan_lifecycle_req *req,
                                   struct pan_lifecycle_result *r_res,
                                   char **r_reason);

/* Revoke the key REQ->FINGERPRINT of REQ->ADDRESS (NULL: its active
 * key) for REQ->REASON with REQ->NOTE: record "revoke", then mark the
 * record revoked; a revoked key is never pinned again.  A key revoked
 * already changes nothing (R_RES->UNCHANGED).  */
gpg_error_t pan_lifecycle_revoke (pan_ctx_t ctx,
                                  const struct pan_lifecycle_req *req,
                                  struct pan_lifecycle_result *r_res,
                                  char **r_reason);

/* Record the registry of CTX as it is now ("registry-accept", with its
 * digest and REQ->NOTE, required: why, e.g. the backup it was restored
 * from), so that pansend uses it again; only the home's operator may
 * (GPG_ERR_EPERM).  R_RES->WHAT is the digest recorded.  */
gpg_error_t pan_lifecycle_registry_accept (
  pan_ctx_t ctx, const struct pan_lifecycle_req *req,
  struct pan_lifecycle_result *r_res, char **r_reason);

/* End the active enrollment of REQ->ADDRESS: record "unenroll", then
 * mark the record retired ("unenrolled", REQ->NOTE).  */
gpg_error_t pan_lifecycle_unenroll (pan_ctx_t ctx,
                                    const struct pan_lifecycle_req *req,
                                    struct pan_lifecycle_result *r_res,
                                    char **r_reason);

/* Trust the root CA REQ->FINGERPRINT from the key material for S/MIME
 * (see pani_smime_trust_ca) and record "trust-ca"; a refusal is
 * recorded too.  */
gpg_error_t pan_lifecycle_trust_ca (pan_ctx_t ctx,
                                    const struct pan_lifecycle_req *req,
                                    struct pan_lifecycle_result *r_res,
                                    char **r_reason);

/* Release what RES holds (the structure itself is the caller's).  */
void pan_lifecycle_result_release (struct pan_lifecycle_result *res);
/* END lifecycle */

/* BEGIN bundle */
/*
 * Signed registry bundles (bundle*.c): one operator's enrollments
 * shipped to many hosts.  pankey export writes the active and revoked
 * enrollments of a home and the keys they pin, signed with the
 * operator's OpenPGP key; pankey import on another home verifies it
 * against the operator keys that home pinned and applies each change as
 * the audited transaction of pan_lifecycle_*.  See pankey(8), EXPORT
 * AND IMPORT.
 */

/* What a bundle operation is asked to do.  Zero it before filling it
 * in.  */
struct pan_bundle_req
{
  const char *fingerprint; /* Operator key add: the key, checked out
                                   of band; export: the signing key (a
                                   primary fingerprint).  */
  const char *signer_home; /* Export: the operator's GnuPG home; NULL:
                                   $GNUPGHOME, else ~/.gnupg.  */
  const void *data;        /* Operator key add: the key file; import:
                                   the signed bundle.  */
  size_t len;
  const char *operator_name; /* Who; NULL: the login user.  */
  time_t now;                /* When; 0: the current time.  */
  void *reserved[8];         /* Room for later fields; 0.  */
};

/* What an export or import did; release with pan_bundle_result_release.
 * Counts are of the changes an import made.  */
struct pan_bundle_result
{
  unsigned long long serial; /* Of the bundle.  */
  char home[33];             /* Id of the home it came from.  */
  char signer[65];           /* Primary fingerprint of its signer.  */
  char sha256[65];           /* Of its signed text.  */
  char *data;                /* Export: the signed bundle, */
  size_t len;                /* and its length.  */
  int already;               /* Import: this bundle was applied before;
                                   nothing was done or recorded.  */
  unsigned int enrolled, rotated, revoked, unenrolled, unchanged;
  int exit_code;    /* On error: the exit code (sysexits.h) of
                                   the refusal or of the transaction
                                   that stopped the import.  */
  int audit_failed; /* On error: its record could not be
                                   written (tools exit 73 or 74).  */
  void *reserved[8];
};

/* Pin the OpenPGP key REQ->FINGERPRINT from the key file REQ->DATA as
 * an operator key of CTX's home, whose bundles pan_bundle_import
 * accepts: checked in a scratch keyring as an enrollment is (the file
 * must hold that primary key, public only, able to sign: neither
 * revoked nor expired), imported alone, recorded ("operator-key"), then
 * pinned in HOME/bundles.  A refusal is recorded too.  */
gpg_error_t pan_bundle_operator_add (pan_ctx_t ctx,
                                     const struct pan_bundle_req *req,
                                     char **r_reason);

/* Unpin the operator key REQ->FINGERPRINT of CTX's home
 * (GPG_ERR_NOT_FOUND if it is not one) and record it
 * ("operator-key"): bundles signed by it are refused from then on (a
 * compromised or retired operator key).  The key stays in the keyring,
 * unused.  */
gpg_error_t pan_bundle_operator_remove (pan_ctx_t ctx,
                                        const struct pan_bundle_req *req,
                                        char **r_reason);

/* Write the bundle of CTX's home signed with the secret key
 * REQ->FINGERPRINT of the operator's GnuPG home REQ->SIGNER_HOME into
 * R_RES->DATA, with a serial above every earlier export of the home,
 * and record "export".  The registry must be the one last recorded.  */
gpg_error_t pan_bundle_export (pan_ctx_t ctx,
                               const struct pan_bundle_req *req,
                               struct pan_bundle_result *r_res,
                               char **r_reason);

/* Verify the signed bundle REQ->DATA against the operator keys of
 * CTX's home, refuse one whose serial is not above the last applied
 * (rollback; the same bundle again is R_RES->ALREADY, not an error),
 * then make each change as pan_lifecycle_revoke, _unenroll, _enroll
 * and _rotate do, revocations first, each recorded with the bundle in
 * its reason, and record "import".  Refusals are recorded as "import"
 * "refused"; a change that fails stops the import (recorded as
 * "failed"): the changes before it stay, and the bundle may be imported
 * again.  *R_RES is filled also on error and must be released.  */
gpg_error_t pan_bundle_import (pan_ctx_t ctx,
                               const struct pan_bundle_req *req,
                               struct pan_bundle_result *r_res,
                               char **r_reason);

/* Return the exit code (sysexits.h) of a refused bundle or operator key
 * with ERR: 65 for one that is not a well-formed signed bundle, 77 for
 * a bad, unpinned, expired or revoked signature, a rollback or a
 * refused key, 67 for an operator key that is not pinned, 70
 * otherwise.  */
int pan_bundle_exit_code (gpg_error_t err);

/* Release what RES holds (the structure itself is the caller's).  */
void pan_bundle_result_release (struct pan_bundle_result *res);
/* END bundle */

#ifdef __cplusplus
}
#endif
#endif /* PANMAIL_H */
