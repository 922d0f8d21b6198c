/* pan-int.h - internal interface of the PAN scanner (not installed)  */
#ifndef PAN_PAN_INT_H
#define PAN_PAN_INT_H

#include "panmail.h"

/* Create in *R_SCANNER a fresh scanner with the HMAC key of ORIG.  */
gpg_error_t pani_scanner_clone (pan_scanner_t orig, pan_scanner_t *r_scanner);

#endif /* PAN_PAN_INT_H */
