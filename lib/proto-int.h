/* proto-int.h - the table of operations of one protocol (layer 4)
 *
 * openpgp.c and smime.c each export one table; keys.c alone chooses the
 * table of a protocol (pani_keys_ops), and every other module reaches a
 * protocol only through it.  */
#ifndef PAN_PROTO_INT_H
#define PAN_PROTO_INT_H

#include <time.h>
#include <gpgme.h>

#include "panmail.h"

/* One copy of a message to encrypt.  */
struct pani_encrypt_req
{
  pan_ctx_t ctx;
  const char *const *fprs;      /* The recipients' pinned fingerprints, */
  const char *const *addrs;     /* their addresses (for reasons),       */
  const char *const *pins;      /* their pinned subkeys (OpenPGP: the
                                   only keys used; see pan_recipient),  */
  const char *const *chosen;    /* the one of them to use, or NULL: the
                                   newest the keyring shows usable,     */
  size_t nrcpts;                /* and how many there are.              */
  long *refused;                /* Set to the first recipient whose key
                                   gpg refused, else left alone.        */
  gpgme_data_t plain;           /* The inner entity, CRLF; read once.   */
  const gpg_error_t *plain_err; /* Non-zero once PLAIN could not be read:
                                   that error, not the engine's, is the
                                   reason of a failure.  */
  const char *passphrase;       /* Of the signing key, or NULL.  */
  int out_fd;                   /* The spool file, appended to.  */
  time_t now;
};

/* What an inspection (the inspect operation) found of one key or
 * certificate: KEY (valid during the call) and INFO as the scratch home
 * saw it, SHA256 the SHA-256 fingerprint of a certificate (else NULL),
 * and VERDICT (0 if enroll would accept it, given a user ID or
 * certificate address for the address and, for S/MIME, a chain to a
 * trusted CA) with WHY not.  */
typedef gpg_error_t (*pani_inspect_cb_t) (void *opaque, gpgme_key_t key,
                                          const struct pan_key_info *info,
                                          const char *sha256,
                                          gpg_error_t verdict,
                                          const char *why);

struct pani_proto_ops
{
  pan_protocol_t protocol;

  /* Check that the pinned key FPR in the GnuPG home of CTX can be
   * encrypted to at NOW (see pan_keys_check); store the time after
   * which it can no longer encrypt at *R_EXPIRES (may be NULL).  */
  gpg_error_t (*check) (pan_ctx_t ctx, const char *fpr, time_t now,
                        time_t *r_expires, char **r_reason);

  /* Fill INFO (zeroed, protocol and fingerprint set) with what the
   * GnuPG home of CTX knows of the pinned key FPR at NOW (see
   * pani_keys_info).  */
  gpg_error_t (*describe) (pan_ctx_t ctx, const char *fpr, time_t now,
                           struct pan_key_info *info, char **r_reason);

  /* Check the key of DATA/LEN whose fingerprint is FPR for ADDR in a
   * scratch home at NOW and import only it (and what it needs) into
   * the home of CTX; store the fingerprint the registry pins at *R_FPR
   * (may be NULL).  OpenPGP takes FPR as pan_fpr_normalize gives it;
   * S/MIME as pani_smime_enroll does.  */
  gpg_error_t (*enroll) (pan_ctx_t ctx, const char *addr, const char *fpr,
                         const void *data, size_t len, time_t now,
                         char **r_fpr, char **r_reason);

  /* Merge the update DATA/LEN of the pinned key FPR (see
   * pani_keys_refresh_openpgp); INFO is NULL or zeroed with protocol and
   * fingerprint set.  NULL: the protocol has no refresh.  */
  gpg_error_t (*refresh) (pan_ctx_t ctx, const char *fpr, const void *data,
                          size_t len, time_t now, int check_only,
                          struct pan_key_info *info, char **r_reason);

  /* Append the protocol's part of the outgoing message of REQ (its
   * MIME head and the ciphertext of REQ->PLAIN, signed first if a
   * signing key is configured) to REQ->OUT_FD.  Every recipient must be
   * usable at REQ->NOW; no recipients gives GPG_ERR_NO_USER_ID.  */
  gpg_error_t (*encrypt) (const struct pani_encrypt_req *req,
                          char **r_reason);

  /* Like check, but only the subkeys PINS names (a record's "subkeys")
   * count.  NULL: the protocol pins no subkeys (an S/MIME certificate
   * is its own key).  */
  gpg_error_t (*check_pinned) (pan_ctx_t ctx, const char *fpr,
                               const char *pins, time_t now,
                               time_t *r_expires, char **r_reason);

  /* Store at *R_LIST the keys of the pinned key FPR in the GnuPG home
   * of CTX that PINS does not name and that could pass for encryption
   * keys (see pani_openpgp_unpinned_list; NULL if none).  NULL: as for
   * check_pinned.  */
  gpg_error_t (*unpinned) (pan_ctx_t ctx, const char *fpr, const char *pins,
                           char **r_list, char **r_reason);

  /* Load DATA/LEN into a scratch home as enroll does (CTX NULL: no
   * home, the default policy) and call CB for each key or certificate
   * it holds, checked at NOW as enroll would check it.  Secret key
   * material is refused (GPG_ERR_FORBIDDEN).  */
  gpg_error_t (*inspect) (pan_ctx_t ctx, const void *data, size_t len,
                          time_t now, pani_inspect_cb_t cb, void *opaque,
                          char **r_reason);
};

/* The tables (openpgp.c, smime.c): in the library only keys.c refers
 * to them.  */
extern const struct pani_proto_ops pani_openpgp_ops;
extern const struct pani_proto_ops pani_smime_ops;

#endif /* PAN_PROTO_INT_H */
