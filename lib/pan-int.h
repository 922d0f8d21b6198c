/* pan-int.h - internal interface of the PAN detector (not installed)
 *
 * The detector is pan.c (the state machine and its rules) on
 * pan-brand.c (brands, Luhn, masks: pan-brand-int.h), pan-simd.c
 * (finding digits many bytes at a time: pan-simd-int.h) and pan-text.c
 * (codes, URL bytes, the shown context: pan-text-int.h).  */
#ifndef PAN_PAN_INT_H
#define PAN_PAN_INT_H

#include <stddef.h>
#include "panmail.h"

/* Create in *R_SCANNER a fresh scanner with the HMAC key of ORIG.  */
gpg_error_t pani_scanner_clone (pan_scanner_t orig,
                                pan_scanner_t *r_scanner);

#endif /* PAN_PAN_INT_H */
