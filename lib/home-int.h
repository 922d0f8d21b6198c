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

/* What a file or directory in the home is for; it decides who may own
 * and write it (see pani_home_open).  */
typedef enum
  {
    PANI_HOME_OPERATOR = 0,     /* Decides who can read mail: written only
                                   by the operator (config, registry,
                                   keyrings, trust lists, pan.key).  */
    PANI_HOME_SHARED = 1,       /* Written by senders too: the audit log,
                                   its key and lock.  */
    PANI_HOME_SPOOL = 2         /* Files a sender makes for itself in
                                   spool/ and queue/.  */
  } pani_home_kind_t;

/* Open NAME, a path relative to the home of CTX (components separated
 * by '/', no "." or ".."), with FLAGS (O_CLOEXEC and O_NOFOLLOW are
 * always added; MODE when O_CREAT makes it), walking each directory
 * with O_NOFOLLOW, and check the opened descriptor with fstat, not the
 * path: a regular file (a directory if FLAGS has O_DIRECTORY) whose
 * owner and mode KIND allows.  A symbolic link, another type or a
 * wrong owner or mode gives GPG_ERR_CONFIGURATION with *R_REASON naming
 * the path and the fix (tools exit 78); a missing file keeps its errno
 * (GPG_ERR_ENOENT).  The descriptor is stored at *R_FD.  */
gpg_error_t pani_home_open (pan_ctx_t ctx, const char *name, int flags,
                            int mode, pani_home_kind_t kind, int *r_fd,
                            char **r_reason);

/* Check the open descriptor FD of the home's file PATH (for messages)
 * against KIND as pani_home_open does.  */
gpg_error_t pani_home_check_fd (pan_ctx_t ctx, int fd, const char *path,
                                pani_home_kind_t kind, int want_dir,
                                char **r_reason);

#endif /* PAN_HOME_INT_H */
