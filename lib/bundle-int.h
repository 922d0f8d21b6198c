/* bundle-int.h - signed registry bundles (bundle.c: the text formats;
 * bundle-keys.c: operator keys, signing and verifying; bundle-apply.c:
 * export and import)  */
#ifndef PAN_BUNDLE_INT_H
#define PAN_BUNDLE_INT_H

#include <time.h>

#include "panmail.h"
#include "util.h"

/* The version of the bundle format that is written and read.  */
#define PANI_BUNDLE_VERSION 1

/* The largest bundle, signed or not, that is read.  */
#define PANI_BUNDLE_MAX (16 * 1024 * 1024)

/* The state file of a home's bundles and its lock.  */
#define PANI_BUNDLE_STATE_FILE "bundles"
#define PANI_BUNDLE_LOCK_FILE "bundles.lock"

/* The most operator keys a home pins.  */
#define PANI_BUNDLE_MAX_OPERATORS 16

/* One enrollment a bundle carries: active, or revoked (then with its
 * reason).  */
struct pani_bundle_rec
{
  char *address; /* Normal form.  */
  pan_protocol_t protocol;
  char *fingerprint; /* Upper-case hex.  */
  pan_status_t status;
  char *reason; /* Revoked: compromised, superseded, left, other.  */
};

/* One key (OpenPGP) or certificate (S/MIME, DER) a bundle carries.  */
struct pani_bundle_key
{
  char *fingerprint;
  pan_protocol_t protocol;
  char sha256[65]; /* Of DATA, lower-case hex.  */
  unsigned char *data;
  size_t len;
};

/* A bundle as parsed or about to be written.  */
struct pani_bundle
{
  char home[33];             /* The id of the home it came from.  */
  unsigned long long serial; /* Grows with each export.  */
  time_t created_at;
  char *created_by;
  char signer[65]; /* The operator key that signs it.  */
  struct pani_bundle_rec *recs;
  size_t nrecs;
  struct pani_bundle_key *keys;
  size_t nkeys;
};

/* Parse the bundle text BUF/LEN (as signed, without its signature) into
 * *R_BUNDLE (release with pani_bundle_release).  The parser is strict:
 * anything pani_bundle_write would not have written is refused
 * (GPG_ERR_INV_DATA and others) with "line N: what is wrong".  */
gpg_error_t pani_bundle_parse (const void *buf, size_t len,
                               struct pani_bundle **r_bundle,
                               char **r_reason);

/* Append the text of B to OUT.  */
void pani_bundle_write (const struct pani_bundle *b, struct pani_buf *out);

/* Release B and everything it holds (NULL is accepted).  */
void pani_bundle_release (struct pani_bundle *b);

/* Return the key of B with the fingerprint FPR, or NULL.  */
const struct pani_bundle_key *pani_bundle_key (const struct pani_bundle *b,
                                               const char *fpr);


/* The state of a home's bundles (HOME/bundles).  */
struct pani_bundle_state
{
  char home[33]; /* This home's id (random, made once).  */
  char *operators[PANI_BUNDLE_MAX_OPERATORS]; /* Pinned operator keys.  */
  size_t noperators;
  unsigned long long exported; /* Serial of the last export, or 0.  */
  unsigned long long applied;  /* Serial of the last import, or 0, */
  char applied_sha256[65];     /* and the SHA-256 of its text.  */
};

/* Parse the state file text BUF/LEN into *ST (zeroed first; release
 * with pani_bundle_state_clear, also after an error).  */
gpg_error_t pani_bundle_state_parse (const void *buf, size_t len,
                                     struct pani_bundle_state *st,
                                     char **r_reason);

/* Append the text of ST to OUT.  */
void pani_bundle_state_write (const struct pani_bundle_state *st,
                              struct pani_buf *out);

/* Release what ST holds and zero it.  */
void pani_bundle_state_clear (struct pani_bundle_state *st);

/* Return the active record of B for the address ADDR, or NULL.  */
const struct pani_bundle_rec *
pani_bundle_active (const struct pani_bundle *b, const char *addr);

/* True if FPR is one of the operator keys of ST.  */
int pani_bundle_state_pins (const struct pani_bundle_state *st,
                            const char *fpr);


/* Run FN (OPAQUE, R_REASON) under HOME/bundles.lock of CTX, which every
 * change of HOME/bundles holds (waiting at most lock-timeout), and under
 * a watch of the GnuPG engines it starts (gpg-timeout).  */
gpg_error_t pani_bundle_run (pan_ctx_t ctx,
                             gpg_error_t (*fn) (void *opaque,
                                                char **r_reason),
                             void *opaque, char **r_reason);

/* Read HOME/bundles of CTX into *ST (release with
 * pani_bundle_state_clear); a home without one gets a new random id. */
gpg_error_t pani_bundle_state_load (pan_ctx_t ctx,
                                    struct pani_bundle_state *st,
                                    char **r_reason);

/* Replace HOME/bundles of CTX by ST.  */
gpg_error_t pani_bundle_state_save (pan_ctx_t ctx,
                                    const struct pani_bundle_state *st,
                                    char **r_reason);

/* An audit record about bundles.  */
struct pani_bundle_event
{
  const char *event;         /* operator-key, export, import */
  const char *operator_name; /* NULL: the login user */
  const char *fingerprint;   /* An operator key, or NULL.  */
  const char *outcome;       /* ok, refused, failed */
  int exit_code;
  const char *reason;
};

/* Append the record E to the audit log of CTX, with the digest of its
 * registry.  */
gpg_error_t pani_bundle_record (pan_ctx_t ctx,
                                const struct pani_bundle_event *e,
                                char **r_reason);

/* Export the pinned key FPR of PROTOCOL from the keyring of CTX into
 * *R_DATA and *R_LEN (gpgme_free it): an OpenPGP key in its minimal form,
 * an S/MIME certificate in DER.  */
gpg_error_t pani_bundle_export_key (pan_ctx_t ctx, pan_protocol_t protocol,
                                    const char *fpr, char **r_data,
                                    size_t *r_len, char **r_reason);

/* Sign TEXT/LEN (clearsigned, armored) with the secret key FPR (a
 * primary fingerprint) of the operator's GnuPG home DIR (NULL:
 * $GNUPGHOME, else ~/.gnupg; never the GnuPG home of CTX) into malloc'ed
 * *R_OUT and *R_LEN.  */
gpg_error_t pani_bundle_sign (pan_ctx_t ctx, const char *dir,
                              const char *fpr, const char *text, size_t len,
                              char **r_out, size_t *r_len, char **r_reason);

/* Verify the signed WHAT ("bundle", "anchor": the word the reasons
 * use) DATA/LEN at NOW in the keyring of CTX: one
 * good signature by a key, neither revoked nor expired, whose primary
 * fingerprint ST pins as an operator key.  Store the signed text at
 * *R_TEXT and *R_LEN and the signer's primary fingerprint at *R_SIGNER
 * (both malloc'ed).  GPG_ERR_NO_DATA if DATA is not one signed
 * message; else GPG_ERR_BAD_SIGNATURE, _NO_PUBKEY, _NOT_TRUSTED (not
 * pinned), _KEY_EXPIRED or _CERT_REVOKED.  */
gpg_error_t pani_bundle_verify (pan_ctx_t ctx,
                                const struct pani_bundle_state *st,
                                const char *what, const void *data,
                                size_t len, time_t now, char **r_text,
                                size_t *r_len, char **r_signer,
                                char **r_reason);

#endif /* PAN_BUNDLE_INT_H */
