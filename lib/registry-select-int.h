/* registry-select-int.h - the stanzas of a registry a send needs
 * (layer 1, registry-select.c)  */
#ifndef PAN_REGISTRY_SELECT_INT_H
#define PAN_REGISTRY_SELECT_INT_H

#include "panmail.h"

/* A selection of stanzas, fed the registry text in pieces as it is
 * read (the text need not be in memory whole).  */
typedef struct pani_registry_selector *pani_registry_selector_t;

/* Start selecting the stanzas whose "recipient" is one of the N
 * addresses ADDRS (normal form; compared as pani_addr_same with
 * EXACT_LOCAL; ADDRS must outlive the selector), for the strict
 * parser: only for a text pankey wrote (its digest is the one
 * recorded).  */
gpg_error_t pani_registry_selector_new (const char *const *addrs, size_t n,
                                        int exact_local,
                                        pani_registry_selector_t *r_sel);

/* Feed the next LEN bytes of the text to SEL.  */
gpg_error_t pani_registry_selector_feed (pani_registry_selector_t sel,
                                         const char *data, size_t len);

/* End the text: store at *R_BUF (malloc'ed, NUL-terminated) and
 * *R_LEN the stanzas selected, and release SEL (also on error).  */
gpg_error_t pani_registry_selector_finish (pani_registry_selector_t sel,
                                           char **r_buf, size_t *r_len);

/* Release SEL without a result (NULL: nothing).  */
void pani_registry_selector_release (pani_registry_selector_t sel);

/* The selection of the whole text BUF/LEN at once (see above).  */
gpg_error_t pani_registry_select (const char *buf, size_t len,
                                  const char *const *addrs, size_t n,
                                  int exact_local, char **r_buf,
                                  size_t *r_len);

#endif /* PAN_REGISTRY_SELECT_INT_H */
