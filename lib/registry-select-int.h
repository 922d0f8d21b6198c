/* registry-select-int.h - the stanzas of a registry a send needs
 * (layer 1, registry-select.c)  */
#ifndef PAN_REGISTRY_SELECT_INT_H
#define PAN_REGISTRY_SELECT_INT_H

#include "panmail.h"

/* Store at *R_BUF (malloc'ed, NUL-terminated) and *R_LEN the stanzas of
 * the registry text BUF/LEN whose "recipient" is one of the N
 * addresses ADDRS (normal form; compared as pani_addr_same with
 * EXACT_LOCAL), for the strict parser: only for a text pankey wrote
 * (its digest is the one recorded).  */
gpg_error_t pani_registry_select (const char *buf, size_t len,
                                  const char *const *addrs, size_t n,
                                  int exact_local, char **r_buf,
                                  size_t *r_len);

#endif /* PAN_REGISTRY_SELECT_INT_H */
