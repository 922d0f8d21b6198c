/* addrlist-int.h - comparing addresses (addrlist.c)  */
#ifndef PAN_ADDRLIST_INT_H
#define PAN_ADDRLIST_INT_H

#include "panmail.h"

/* Return true if the addresses A and B, both in the normal form of
 * pan_addr_normalize, name the same mailbox: the domains equal ignoring
 * ASCII case, the local parts too, or byte for byte if EXACT_LOCAL.
 * Every comparison and look-up of an address compares with this (or
 * pan_addr_same), so that how addresses match is decided here alone.  */
int pani_addr_same (const char *a, const char *b, int exact_local);

/* Return true if CONFIG (NULL: the defaults) says "address-case exact":
 * local parts then match byte for byte.  */
int pani_addr_case_exact (pan_config_t config);

#endif /* PAN_ADDRLIST_INT_H */
