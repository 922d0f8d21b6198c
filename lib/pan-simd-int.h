/* pan-simd-int.h - finding digits many bytes at a time (not installed)  */
#ifndef PAN_PAN_SIMD_INT_H
#define PAN_PAN_SIMD_INT_H

#include <stddef.h>

/* Choose the fastest way this CPU finds digits (once per process; every
 * pan_scanner_new calls it).  */
void pani_simd_setup (void);

/* For tests: use VARIANT from now on, in every thread; false if this
 * build or CPU does not have it.  */
#define PANI_SIMD_BEST 0
#define PANI_SIMD_WORDS 1 /* 8 bytes at a time, any CPU.  */
#define PANI_SIMD_SSE2 2  /* 16 and 64 bytes (x86).  */
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

#endif /* PAN_PAN_SIMD_INT_H */
