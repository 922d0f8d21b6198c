/* scan-allow-int.h - allow lists of keyed hashes (not installed)  */
#ifndef PAN_SCAN_ALLOW_INT_H
#define PAN_SCAN_ALLOW_INT_H

#include "panmail.h"

/* Parse the allow list BUF/LEN into *R_ALLOW.  One entry a line: the
 * keyed hash of a number (64 hex digits, as pan_scan_hit.hash), white
 * space and a comment saying why it is harmless (of a hash listed more
 * than once, the first comment counts); blank lines and lines starting
 * with '#' are skipped.  A line that is not an entry, a missing comment
 * or a card number anywhere in the list is refused with
 * GPG_ERR_INV_VALUE and a reason naming the line.  */
gpg_error_t pani_scan_allow_parse (const void *buf, size_t len,
                                   pan_scan_allow_t *r_allow,
                                   char **r_reason);

/* Return the comment of ALLOW's entry for the hex hash HASH, or NULL.  */
const char *pani_scan_allow_find (pan_scan_allow_t allow, const char *hash);

/* Return the number of entries of ALLOW.  */
size_t pani_scan_allow_count (pan_scan_allow_t allow);

#endif /* PAN_SCAN_ALLOW_INT_H */
