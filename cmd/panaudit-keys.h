/* panaudit-keys.h - the key inventory of panaudit  */
#ifndef PAN_PANAUDIT_KEYS_H
#define PAN_PANAUDIT_KEYS_H

#include "panmail.h"

/* Print the inventory of the keys of CTX's home: every enrolled key
 * (any status) and the home's own keys, as a table, JSON lines (JSON)
 * or CSV with a header line (CSV; in JSON a key that never expires has
 * "expires": null).  Returns an exit code: 0, or 2 if the
 * registry or the audit log cannot be read.  */
int panaudit_keys (pan_ctx_t ctx, int json, int csv);

#endif /* PAN_PANAUDIT_KEYS_H */
