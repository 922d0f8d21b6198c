/* keys-int.h - choosing a protocol's operations (layer 5)  */
#ifndef PAN_KEYS_INT_H
#define PAN_KEYS_INT_H

#include "proto-int.h"

/* Return the table of operations of PROTOCOL, or NULL if panmail
 * cannot encrypt to it.  */
const struct pani_proto_ops *pani_keys_ops (pan_protocol_t protocol);

#endif /* PAN_KEYS_INT_H */
