/* home-int.h - the context structure, shared inside libpanmail  */
#ifndef PAN_HOME_INT_H
#define PAN_HOME_INT_H

#include "panmail.h"

#define PAN_CONFIG_FILE   "panmail.conf"
#define PAN_REGISTRY_FILE "registry"
#define PAN_KEY_FILE      "pan.key"
#define PAN_KEY_LEN       32

struct pan_ctx
{
  char *home;
  char *gnupg_home;
  pan_config_t config;
};

#endif /* PAN_HOME_INT_H */
