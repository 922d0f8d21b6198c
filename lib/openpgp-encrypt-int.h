/* openpgp-encrypt-int.h - encrypting a copy to OpenPGP keys (layer 4,
 * openpgp-encrypt.c)  */
#ifndef PAN_OPENPGP_ENCRYPT_INT_H
#define PAN_OPENPGP_ENCRYPT_INT_H

#include "proto-int.h"

/* The encrypt operation of the OpenPGP table: the newest pinned
 * subkey of each recipient, named exactly.  */
gpg_error_t pani_openpgp_encrypt (const struct pani_encrypt_req *req,
                                  char **r_reason);

#endif /* PAN_OPENPGP_ENCRYPT_INT_H */
