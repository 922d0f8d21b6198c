/* review-int.h - the key-state classification, shared with the tests  */
#ifndef PAN_REVIEW_INT_H
#define PAN_REVIEW_INT_H

#include "panmail.h"
#include "audit-int.h"

/* Classify the key that ST->INFO describes (looked up with error
 * ST->ERR, or not at all unless LOOKED_UP) of an enrollment with
 * STATUS at NOW; it expires soon within WARN_DAYS days.  Sets
 * ST->STATE, ST->KEY, ST->EXPIRING and ST->DAYS.  */
void pani_review_classify (struct pan_key_status *st, pan_status_t status,
                           int looked_up, time_t now, long warn_days);

/* Find in the audit log of CTX the newest record with a registry
 * digest (see pani_audit_newest_registry); MARK->SEQ stays 0 if there
 * is none.  */
gpg_error_t pani_review_newest_registry (
  pan_ctx_t ctx, struct pani_audit_registry_mark *mark, char **r_reason);

/* The registry of CTX, whose SHA-256 is NOW (hex), is not the one that
 * the audit record MARK recorded: GPG_ERR_BAD_DATA, and why (changed
 * behind pankey's back; see pan_registry_check_recorded).  */
gpg_error_t
pani_review_registry_changed (pan_ctx_t ctx,
                              const struct pani_audit_registry_mark *mark,
                              const char *now, char **r_reason);

/* Read the registry of CTX once: refuse it as
 * pan_registry_check_recorded does, else parse those same bytes into
 * *R_REG (address-case rules of CTX applied) and store their SHA-256
 * (hex) at NOW.  */
gpg_error_t pani_review_load_recorded (pan_ctx_t ctx, pan_registry_t *r_reg,
                                       char now[65], char **r_reason);

/* Set the registry digest of EV, a record of a key change of CTX:
 * NEW_SHA256 (the registry about to be saved) if not NULL; else the
 * registry as it is (its hex SHA-256 in NOW), as registry_sha256 if it
 * is CHECKED (the one the change checked, or saved), else only as
 * registry_checked: a failure must not make a registry edited behind
 * pankey's back the recorded one.  */
void pani_review_record_registry (pan_ctx_t ctx, const char *new_sha256,
                                  const char *checked, char now[65],
                                  struct pan_audit_event *ev);

#endif /* PAN_REVIEW_INT_H */
