/* home-int.h - the context structure, shared inside libpanmail  */
#ifndef PAN_HOME_INT_H
#define PAN_HOME_INT_H

#include "home-roles-int.h"

#define PAN_CONFIG_FILE "panmail.conf"
#define PAN_REGISTRY_FILE "registry"
#define PAN_KEY_FILE "pan.key"
#define PAN_KEY_LEN 32

#endif /* PAN_HOME_INT_H */
