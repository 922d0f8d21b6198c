/* enroll-list-int.h - finding an address given twice (enroll-list.c)  */
#ifndef PAN_ENROLL_LIST_INT_H
#define PAN_ENROLL_LIST_INT_H

#include <stddef.h>

/* Return the index of the first of the N addresses ADDRS that
 * pani_addr_same (with EXACT_LOCAL) calls the same as one before it,
 * and store the index
 * of the first such earlier one at *R_FIRST; -1 if no address is given
 * twice, -2 if out of memory.  Sorts: n log n (the registry's check of
 * one active record per address, and a bulk enrollment's list).  */
long pani_addr_first_repeat (const char *const *addrs, size_t n,
                             int exact_local, size_t *r_first);

#endif /* PAN_ENROLL_LIST_INT_H */
