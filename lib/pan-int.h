/* pan-int.h - internal interface of the PAN detector (not installed)
 *
 * The detector is pan.c (the state machine and its rules), pan-brand.c
 * (brands, Luhn, masks) and pan-simd.c (finding digits many bytes at a
 * time).  */
#ifndef PAN_PAN_INT_H
#define PAN_PAN_INT_H

#include <stddef.h>
#include "panmail.h"

static inline int
pani_is_digit (int c)
{
  return (unsigned int)(c - '0') < 10;
}

static inline int
pani_is_alnum (int c)
{
  return pani_is_digit (c) || (unsigned int)((c | 0x20) - 'a') < 26;
}

/* Create in *R_SCANNER a fresh scanner with the HMAC key of ORIG.  */
gpg_error_t pani_scanner_clone (pan_scanner_t orig, pan_scanner_t *r_scanner);


/* pan-brand.c */

/* Return true if the N digits at D pass Luhn.  */
int pani_luhn_ok (const char *d, size_t n);

/* Return the brand of the N digits at D (see pan-brand.c), or NULL.  */
const char *pani_brand_of (const char *d, size_t n);

/* Return true if the mask of a PAN of N digits shows its digit K
 * (0-based): the first 6 and the last 4.  */
int pani_mask_keeps (size_t k, size_t n);


/* pan-simd.c */

/* Choose the fastest way this CPU finds digits (once per process; every
 * pan_scanner_new calls it).  */
void pani_simd_setup (void);

/* For tests: use VARIANT from now on, in every thread; false if this
 * build or CPU does not have it.  */
#define PANI_SIMD_BEST 0
#define PANI_SIMD_WORDS 1       /* 8 bytes at a time, any CPU.  */
#define PANI_SIMD_SSE2 2        /* 16 and 64 bytes (x86).  */
int pani_simd_force (int variant);

/* Return the first digit in P..END, or END.  */
const unsigned char *pani_find_digit (const unsigned char *p,
                                      const unsigned char *end);

/* Return the first byte in P..END that is not a digit, or END.  */
const unsigned char *pani_find_nondigit (const unsigned char *p,
                                         const unsigned char *end);

/* From P, which is not inside a chain of digit runs (runs joined by one
 * space or dash followed by a digit), pass over the chains of fewer
 * than PAN_MIN_DIGITS digits that end before END - 1: return the first
 * digit of a chain that is longer or may not end there, or a point not
 * inside a chain from which the caller goes on (at worst P).  */
const unsigned char *pani_skip_short_chains (const unsigned char *p,
                                             const unsigned char *end);

/* Return the number of bytes C in P/LEN.  */
size_t pani_count_byte (const void *p, size_t len, int c);

#endif /* PAN_PAN_INT_H */
