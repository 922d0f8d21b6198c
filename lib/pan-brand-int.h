/* pan-brand-int.h - card brands, Luhn and masks (not installed)  */
#ifndef PAN_PAN_BRAND_INT_H
#define PAN_PAN_BRAND_INT_H

#include <stddef.h>

/* Return true if the N digits at D pass Luhn.  */
int pani_luhn_ok (const char *d, size_t n);

/* Return the brand of the N digits at D (see pan-brand.c), or NULL.  */
const char *pani_brand_of (const char *d, size_t n);

/* Return true if the mask of a PAN of N digits shows its digit K
 * (0-based): the first 6 and the last 4.  */
int pani_mask_keeps (size_t k, size_t n);

#endif /* PAN_PAN_BRAND_INT_H */
