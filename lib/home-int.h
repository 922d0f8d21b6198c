/* home-int.h - the context structure, shared inside libpanmail  */
#ifndef PAN_HOME_INT_H
#define PAN_HOME_INT_H

#include "home-roles-int.h"

#define PAN_CONFIG_FILE "panmail.conf"
#define PAN_REGISTRY_FILE "registry"
#define PAN_KEY_FILE "pan.key"
#define PAN_KEY_LEN 32

/* Take HOME/keys.lock of CTX, which every change of the home's keys
 * holds, waiting at most ten times lock-timeout; release it with
 * pani_unlock.  */
gpg_error_t pani_home_lock_keys (pan_ctx_t ctx, int *r_fd, char **r_reason);

/* Parse the registry text BUF/LEN of CTX into *R_REG, the address-case
 * rules of CTX applied (pan_ctx_registry_load, once it has the bytes).  */
gpg_error_t pani_ctx_registry_parse (pan_ctx_t ctx, const char *buf,
                                     size_t len, pan_registry_t *r_reg,
                                     char **r_reason);

#endif /* PAN_HOME_INT_H */
