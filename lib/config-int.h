/* config-int.h - loading and parsing panmail.conf (not installed)  */
#ifndef PAN_CONFIG_INT_H
#define PAN_CONFIG_INT_H

#include "panmail.h"

/* Parse configuration text held in memory; FILENAME is used in reasons. */
gpg_error_t pani_config_parse (const char *filename, const void *buf,
                               size_t len, pan_config_t *r_config,
                               char **r_reason);

/* Read the configuration file PATH.  A missing file gives the defaults.
 * Each line is "NAME VALUE", '#' starts a comment; an unknown NAME or a
 * bad VALUE gives GPG_ERR_CONFIGURATION with "PATH:LINE: ..." in
 * *R_REASON.  */
gpg_error_t pani_config_load (const char *path, pan_config_t *r_config,
                              char **r_reason);

/* Write the commented default configuration (every setting with its
 * default and meaning) to OUT.  */
gpg_error_t pani_config_write_default (gpgrt_stream_t out);

/* Release CONFIG.  */
void pani_config_release (pan_config_t config);

#endif /* PAN_CONFIG_INT_H */
