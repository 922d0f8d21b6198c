/* home-roles-int.h - the context structure and the checked opening of
 * the files of a home (home-roles.c), shared inside libpanmail  */
#ifndef PAN_HOME_ROLES_INT_H
#define PAN_HOME_ROLES_INT_H

#include <sys/types.h>

#include "panmail.h"


struct pan_ctx
{
  char *home;
  char *gnupg_home;
  pan_config_t config;
  uid_t operator_uid; /* Owner of the home.  */
  gid_t sender_gid;   /* Its group if SHARED.  */
  int shared;         /* A two-role home (made with
                                   'pankey init --sender-group').  */
};

/* What a file or directory in the home is for; it decides who may own
 * and write it (see pani_home_open).  */
typedef enum
{
  PANI_HOME_OPERATOR = 0, /* Decides who can read mail: written only
                                   by the operator (config, registry,
                                   keyrings, trust lists, pan.key).  */
  PANI_HOME_SHARED = 1,   /* Written by senders too: the audit log,
                                   its key and lock.  */
  PANI_HOME_SPOOL = 2,    /* Files a sender makes for itself in
                                   spool/ and queue/.  */
  PANI_HOME_SECRET = 3    /* Like OPERATOR, and never readable by
                                   others (pan.key).  */
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

/* Learn the roles of the home of CTX from its directory, opened as
 * DIRFD: a home of mode 0700 owned by the effective uid is a
 * single-user home; one of mode 0750 (setgid allowed) is a two-role
 * home whose owner is the operator and whose group the senders, and
 * the effective uid must be one of them.  Anything else is refused
 * (GPG_ERR_CONFIGURATION) with the path and the fix.  */
gpg_error_t pani_home_roles (pan_ctx_t ctx, int dirfd, char **r_reason);

/* Refuse (GPG_ERR_CONFIGURATION) if a directory above the home of CTX
 * is writable by others without the sticky bit.  */
gpg_error_t pani_home_check_parents (pan_ctx_t ctx, char **r_reason);

/* Open and check every file and directory of the home of CTX that
 * its roles rely on (missing ones are fine).  */
gpg_error_t pani_home_check_files (pan_ctx_t ctx, char **r_reason);

/* Read the whole file NAME of the home of CTX, opened with
 * pani_home_open as KIND, into malloc'ed *R_BUF (NUL-terminated, at
 * most MAXLEN bytes) and its length at *R_LEN.  */
gpg_error_t pani_home_read (pan_ctx_t ctx, const char *name,
                            pani_home_kind_t kind, size_t maxlen,
                            char **r_buf, size_t *r_len, char **r_reason);

#endif /* PAN_HOME_ROLES_INT_H */
