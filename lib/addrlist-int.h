/* addrlist-int.h - comparing addresses (addrlist.c)  */
#ifndef PAN_ADDRLIST_INT_H
#define PAN_ADDRLIST_INT_H

/* Return true if the addresses A and B, both in the normal form of
 * pan_addr_normalize, name the same mailbox.  Every look-up of an
 * enrolled address compares with this, so that how addresses match is
 * decided here alone.  */
int pani_addr_same (const char *a, const char *b);

#endif /* PAN_ADDRLIST_INT_H */
