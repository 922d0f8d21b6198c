/* pan-text-int.h - the words and bytes the PAN detector's rules look
 * at (not installed)  */
#ifndef PAN_PAN_TEXT_INT_H
#define PAN_PAN_TEXT_INT_H

#include <stddef.h>

/* A code is a word of PANI_CODE_MIN to PANI_CODE_MAX letters and
 * digits, at least one of them a digit (see pan.c).  */
#define PANI_CODE_MIN 4
#define PANI_CODE_MAX 6

/* Return true if the word of letters and digits at P (stepping by STEP,
 * while P is not LIM) is a code.  */
int pani_code_bytes (const unsigned char *p, const unsigned char *lim,
                     int step);

/* Return true if the byte C may be part of a URL written in text.  */
int pani_is_url_byte (int c);

/* Return true if C (a byte, or -1 for none) continues a line.  */
int pani_is_line_byte (int c);

/* Copy the RAW/LEN context of a hit to OUT (LEN + 1 bytes) with what is
 * not printable ASCII or valid UTF-8 replaced by '?' (a tab by a
 * space).  */
void pani_clean_context (const unsigned char *raw, size_t len, char *out);

#endif /* PAN_PAN_TEXT_INT_H */
