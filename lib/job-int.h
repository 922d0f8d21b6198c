/* job-int.h - the send job, shared by job.c, send.c and deliver.c  */
#ifndef PAN_JOB_INT_H
#define PAN_JOB_INT_H

#include <time.h>
#include "panmail.h"

struct rcpt
{
  char *addr;
  char *fpr;
  char *subkeys; /* The encryption keys its record pins.  */
  char *subkey;  /* The one to encrypt to, chosen from the times
                    the record keeps; NULL: the keyring chooses.  */
  pan_protocol_t protocol;
  int visible; /* Named in To or Cc.  */
  int wanted;  /* A recipient, not only named in To or
                                   Cc without -t (see pan_job_set_extract). */
};

/* One outgoing message: encrypted to RCPTS only.  Visible recipients
 * share one copy per protocol; each hidden recipient (Bcc, command
 * line) gets a copy of its own, so that no ciphertext names it to the
 * others.  */
struct copy
{
  pan_protocol_t protocol;
  size_t *rcpts; /* Indices into the job's recipients (a
                                   slice of the job's copy_rcpts).  */
  size_t nrcpts;
  int hidden;
  char id[48];      /* The copy id: spool and queue name,
                                   "copy" in its audit records.  */
  char *spool_path; /* HOME/spool/ID.eml, locked (flock) by
                                   its process while it lives.  */
  int spool_fd;
  char *env_path;  /* HOME/spool/ID.env once staged.  */
  char digest[65]; /* Hex SHA-256 of the spool file.  */
  long long size;
};

struct pan_job
{
  pan_ctx_t ctx;
  pan_headers_t headers;
  struct rcpt *rcpts;
  size_t nrcpts;
  size_t rcpts_size;
  struct copy *copies;
  size_t ncopies;
  size_t *copy_rcpts; /* The recipients of all copies.  */
  time_t now;         /* Time of pan_job_resolve.  */
  char *message_id;   /* Given, or made if the message had none. */
  int made_message_id;
  pan_scanner_t scanner;      /* Keyed with the home's PAN key.  */
  struct pan_audit_pan *pans; /* Distinct PANs seen, masked and hashed. */
  size_t npans;
  char *passphrase;        /* Secure memory; for the signing key.  */
  char *warnings;          /* Keys that expire soon, for a person.  */
  int no_extract;          /* Recipients only from the command line. */
  struct pan_envelope env; /* Strings owned (pan_job_set_envelope).  */
  char *sender;            /* The resolved envelope sender.  */
  char *dsn;               /* The DSN options for the audit record.  */
  char nonce[9];           /* Of the copy ids of this job.  */
  int refused;             /* gpg refused a recipient's key.  */
  /* pan_job_registry_checked ("": none).  */
  char registry_checked[65];
};

/* Remember the PAN of HIT once, for the audit record.  */
gpg_error_t pani_job_note_pan (pan_job_t job, const struct pan_hit *hit);

/* Create JOB's PAN scanner if it has none.  */
gpg_error_t pani_job_scanner (pan_job_t job, char **r_reason);

/* True for header fields that do not travel in the outer header:
 * Content-* (encrypted), MIME-Version (replaced) and Bcc (removed).  */
int pani_is_outer_dropped (const char *name);

/* True for Content-* fields.  */
int pani_is_content_field (const char *name);

/* If ARGV[I] (of an MTA command line) is an option that pansend sets
 * itself (-f, -r, -t), return the number of words it takes (1 or 2) and
 * store its sender, if any, at *R_SENDER; else return 0.  */
size_t pani_mta_own_option (const char *const *argv, size_t i,
                            const char **r_sender);

/* gpg refused the key of recipient IDX of JOB with ERR, and *R_REASON
 * (may be NULL) says so: mark JOB refused and turn ERR and *R_REASON
 * into what pan_job_resolve says of a key that cannot be used (the
 * keyring asked why), and return that error.  */
gpg_error_t pani_job_refusal (pan_job_t job, size_t idx, gpg_error_t err,
                              char **r_reason);

/* Release the envelope of JOB.  */
void pani_job_release_envelope (pan_job_t job);

/* Release the spool files and recipient lists of JOB's copies.  */
void pani_job_release_copies (pan_job_t job);

#endif /* PAN_JOB_INT_H */
