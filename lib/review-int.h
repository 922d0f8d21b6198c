/* review-int.h - the key-state classification, shared with the tests  */
#ifndef PAN_REVIEW_INT_H
#define PAN_REVIEW_INT_H

#include "panmail.h"

/* Classify the key that ST->INFO describes (looked up with error
 * ST->ERR, or not at all unless LOOKED_UP) of an enrollment with
 * STATUS at NOW; it expires soon within WARN_DAYS days.  Sets
 * ST->STATE, ST->KEY, ST->EXPIRING and ST->DAYS.  */
void pani_review_classify (struct pan_key_status *st, pan_status_t status,
                           int looked_up, time_t now, long warn_days);

/* Store in HEX (65 bytes) the registry digest of the newest audit
 * record of CTX that has one, "" if there is none.  */
gpg_error_t pani_review_newest_sha256 (pan_ctx_t ctx, char *hex,
                                       char **r_reason);

#endif /* PAN_REVIEW_INT_H */
