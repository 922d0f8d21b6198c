/* registry-int.h - the registry object (registry.c, registry-edit.c)  */
#ifndef PAN_REGISTRY_INT_H
#define PAN_REGISTRY_INT_H

#include "panmail.h"

/* The largest registry file that is read: by pan_registry_load, by a
 * send and for its digest.  */
#define PANI_REGISTRY_MAX (16 << 20)

struct pan_registry
{
  struct pan_recipient *recs;
  unsigned int *lines; /* Line of each "recipient" line, or 0.  */
  size_t count;
  size_t size;
  int exact_local; /* Look-ups: address-case exact (pani_addr_same).  */
};

/* Create an empty registry at *R_REG.  */
gpg_error_t pani_registry_new (pan_registry_t *r_reg);

/* Move REC (read at LINE, 0 if added) to the end of REG; REC is then
 * empty.  */
gpg_error_t pani_registry_append (pan_registry_t reg,
                                  struct pan_recipient *rec,
                                  unsigned int line);

/* Free what REC holds and zero it.  */
void pani_registry_clear_rec (struct pan_recipient *rec);

/* Return the index of the active record of the normalised address ADDR
 * in REG (pani_addr_same; one written as ADDR is preferred, and several
 * that only match are none), or -1.  */
long pani_registry_find_active (pan_registry_t reg, const char *addr);

/* Refuse to enroll the normalised ADDR if REG has an active record for
 * it: written as ADDR (GPG_ERR_EEXIST), or differing only by the case
 * that look-ups ignore (GPG_ERR_INV_VALUE), each with the fix.  */
gpg_error_t pani_registry_check_new (pan_registry_t reg, const char *addr,
                                     char **r_reason);

/* Make the look-ups of REG match addresses as CONFIG's address-case
 * says (a registry loaded without a home uses the default).  */
void pani_registry_match (pan_registry_t reg, pan_config_t config);

/* Check REC as the parser checks a record of the registry file PATH and
 * store a copy in *VALID (release it with pani_registry_clear_rec).  */
gpg_error_t pani_registry_validate (const char *path,
                                    const struct pan_recipient *rec,
                                    struct pan_recipient *valid,
                                    char **r_reason);

/* Shown the new registry file DATA/LEN under the registry lock before
 * it replaces the old one; an error leaves the old one in place.  */
struct pani_registry_hook
{
  gpg_error_t (*before_save) (void *opaque, const void *data, size_t len,
                              char **r_reason);
  void *opaque;
  pan_config_t config; /* Its address-case rules the edit's look-ups.  */
  /* Hex SHA-256 that the file must have when it is loaded under the
   * lock (NULL: any): the registry the caller checked, so that an edit
   * made since is not taken into the change (GPG_ERR_BAD_DATA).  */
  const char *expect_sha256;
};

/* pan_registry_add, pan_registry_rotate and pan_registry_set_status
 * with a HOOK (may be NULL).  */
gpg_error_t pani_registry_add (const char *path,
                               const struct pan_recipient *rec, int timeout,
                               const struct pani_registry_hook *hook,
                               char **r_reason);
gpg_error_t pani_registry_rotate (const char *path,
                                  const struct pan_recipient *rec,
                                  const char *old_fpr, int timeout,
                                  const struct pani_registry_hook *hook,
                                  char **r_reason);
gpg_error_t pani_registry_set_status (const char *path,
                                      const struct pan_registry_change *chg,
                                      int timeout,
                                      const struct pani_registry_hook *hook,
                                      char **r_reason);

/* Parse registry text held in memory; FILENAME is used in reasons.  */
gpg_error_t pani_registry_parse (const char *filename, const void *buf,
                                 size_t len, pan_registry_t *r_reg,
                                 char **r_reason);

/* Write REG in its file format to OUT.  */
gpg_error_t pani_registry_write (pan_registry_t reg, gpgrt_stream_t out);

/* Return the active record for the address ADDR (any form accepted by
 * pan_addr_normalize), or NULL.  */
const struct pan_recipient *pani_registry_lookup (pan_registry_t reg,
                                                  const char *addr);

/* Return the newest record for ADDR whatever its status: the active
 * one if there is one, else the last in the file; NULL if ADDR was never
 * enrolled.  pansend uses it to tell "revoked" from "not enrolled".  */
const struct pan_recipient *pani_registry_lookup_any (pan_registry_t reg,
                                                      const char *addr);

/* Under the registry lock of PATH, set the subkeys of the active record
 * of the normalised address ADDR, which must pin FPR, to SUBKEYS and
 * their times to EXPIRY (lists as pan_recipient's; EXPIRY may be NULL),
 * showing the new file to HOOK (may be NULL) before it is saved.  */
gpg_error_t pani_registry_set_subkeys (const char *path, const char *addr,
                                       const char *fpr, const char *subkeys,
                                       const char *expiry, int timeout,
                                       const struct pani_registry_hook *hook,
                                       char **r_reason);

/* Under the registry lock of PATH, set the subkeys, their times and
 * the recorded verdict ("key-state", "key-policy") of the active record
 * of WANT->ADDRESS (normalised), which must pin WANT->FINGERPRINT, to
 * those of WANT (each may be NULL but the subkeys), showing the new
 * file to HOOK (may be NULL) before it is saved.  */
gpg_error_t pani_registry_set_pins (const char *path,
                                    const struct pan_recipient *want,
                                    int timeout,
                                    const struct pani_registry_hook *hook,
                                    char **r_reason);

#endif /* PAN_REGISTRY_INT_H */
