/* crl-list-int.h - dirmngr's listing of its CRL cache (crl-list.c)  */
#ifndef PAN_CRL_LIST_INT_H
#define PAN_CRL_LIST_INT_H

#include "panmail.h"

/* Parse dirmngr's listing of its CRL cache (the data of LISTCRLS)
 * BUF/LEN into the *R_COUNT CRLs at *R_CRLS (release with
 * pan_crls_release).  Text before the first block is ignored; a block
 * without an issuer or a valid "This Update", a bad time, a NUL byte or
 * more than 4096 blocks give GPG_ERR_INV_DATA (or _TOO_LARGE) with a
 * reason, and no list.  */
gpg_error_t pani_crl_parse_list (const void *buf, size_t len,
                                 struct pan_crl **r_crls, size_t *r_count,
                                 char **r_reason);

#endif /* PAN_CRL_LIST_INT_H */
