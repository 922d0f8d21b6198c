/* home-roles.c - who owns and who may write what in a home
 *
 * A home has an operator (its owner), who decides who can read mail
 * (config, registry, keyrings, trust lists, pan.key), and senders.  In
 * a single-user home (0700) both are one uid.  In a two-role home
 * (0750, made with 'pankey init --sender-group GROUP') the senders are
 * the members of the home's group: they read what sending needs and
 * write only the audit files (0660), spool/ and queue/ (2770).  Every
 * file is opened with O_NOFOLLOW and checked on its descriptor
 * (pani_home_open); pan_ctx_open checks them all before a tool starts.
 */
#include <config.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "home-roles-int.h"

/* The files of a home and what they are for; missing ones are fine
 * (a home made by an older version, a protocol never used).  */
static const struct
{
  const char *name;
  pani_home_kind_t kind;
  int dir;
} home_files[] = {
  {"panmail.conf",          PANI_HOME_OPERATOR, 0},
  { "registry",             PANI_HOME_OPERATOR, 0},
  { "pan.key",              PANI_HOME_SECRET,   0},
  { "gnupg",                PANI_HOME_OPERATOR, 1},
  { "gnupg/gpg.conf",       PANI_HOME_OPERATOR, 0},
  { "gnupg/gpgsm.conf",     PANI_HOME_OPERATOR, 0},
  { "gnupg/common.conf",    PANI_HOME_OPERATOR, 0},
  { "gnupg/gpg-agent.conf", PANI_HOME_OPERATOR, 0},
  { "gnupg/dirmngr.conf",   PANI_HOME_OPERATOR, 0},
  { "gnupg/pubring.kbx",    PANI_HOME_OPERATOR, 0},
  { "gnupg/pubring.gpg",    PANI_HOME_OPERATOR, 0},
  { "gnupg/trustdb.gpg",    PANI_HOME_OPERATOR, 0},
  { "gnupg/trustlist.txt",  PANI_HOME_OPERATOR, 0},
  { "audit.log",            PANI_HOME_SHARED,   0},
  { "audit.key",            PANI_HOME_SHARED,   0},
  { "audit.lock",           PANI_HOME_SHARED,   0},
  { "spool",                PANI_HOME_SPOOL,    1},
  { "queue",                PANI_HOME_SPOOL,    1}
};

#define N_HOME_FILES (sizeof home_files / sizeof *home_files)

/* Return 1 if the process is a member of the group GID.  */
static int
in_group (gid_t gid)
{
  gid_t groups[256];
  int n;

  if (getegid () == gid)
    return 1;
  n = getgroups (sizeof groups / sizeof *groups, groups);
  for (int i = 0; i < n; i++)
    if (groups[i] == gid)
      return 1;
  return 0;
}

/* Refuse the home of CTX: WHAT is wrong, FIX says what to do.  */
static gpg_error_t
refuse_home (pan_ctx_t ctx, char **r_reason, const char *what,
             const char *fix)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                      "%s %s; %s", ctx->home, what, fix);
}

gpg_error_t
pani_home_roles (pan_ctx_t ctx, int dirfd, char **r_reason)
{
  struct stat st;
  char what[160];

  if (fstat (dirfd, &st))
    return pani_reason_sys (r_reason, ctx->home);
  if (!S_ISDIR (st.st_mode))
    return refuse_home (ctx, r_reason, "is not a directory",
                        "name the home directory");
  ctx->operator_uid = st.st_uid;
  ctx->sender_gid = st.st_gid;
  ctx->shared = 0;
  snprintf (what, sizeof what, "is owned by uid %lu, not by us (uid %lu)",
            (unsigned long)st.st_uid, (unsigned long)geteuid ());
  if (!(st.st_mode & 077))
    return st.st_uid == geteuid ()
      ? 0
      : refuse_home (ctx, r_reason, what,
                     "run the tool as its owner, or"
                     " share it with senders (see DEPLOYMENT in pankey(8))");
  snprintf (what, sizeof what, "is accessible by others (mode %03o)",
            (unsigned)(st.st_mode & 0777));
  if ((st.st_mode & 0777) != 0750)
    return refuse_home (ctx, r_reason, what,
                        "run 'chmod 700' on it (a"
                        " single-user home) or 'chmod 2750' (a home shared"
                        " with the senders' group, see pankey(8))");
  ctx->shared = 1;
  snprintf (what, sizeof what,
            "is shared with group %lu; uid %lu is"
            " neither its operator (uid %lu) nor a sender",
            (unsigned long)st.st_gid, (unsigned long)geteuid (),
            (unsigned long)st.st_uid);
  if (geteuid () != st.st_uid && geteuid () != 0 && !in_group (st.st_gid))
    return refuse_home (ctx, r_reason, what, "add the user to that group");
  return 0;
}

gpg_error_t
pani_home_check_parents (pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err = 0;
  char *dir = realpath (ctx->home, NULL), *slash;
  struct stat st;

  if (!dir)
    return pani_reason_sys (r_reason, ctx->home);
  while (!err && (slash = strrchr (dir, '/')))
    {
      slash[slash == dir] = 0;
      if (stat (dir, &st))
        err = pani_reason_sys (r_reason, dir);
      else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
        err = pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                           "%s, a directory above the home %s, is writable"
                           " by others without the sticky bit; run 'chmod"
                           " o-w %s' or move the home",
                           dir, ctx->home, dir);
      if (slash == dir)
        break;
    }
  free (dir);
  return err;
}

gpg_error_t
pani_home_check_files (pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err = 0;
  int fd = -1;

  for (size_t i = 0; !err && i < N_HOME_FILES; i++)
    {
      err = pani_home_open (ctx, home_files[i].name,
                            O_RDONLY
                              | (home_files[i].dir ? O_DIRECTORY
                                                   : O_NONBLOCK),
                            0, home_files[i].kind, &fd, r_reason);
      if (gpg_err_code (err) == GPG_ERR_ENOENT && r_reason)
        {
          free (*r_reason);
          *r_reason = NULL;
        }
      if (gpg_err_code (err) == GPG_ERR_ENOENT)
        err = 0;
      if (fd >= 0)
        close (fd);
      fd = -1;
    }
  return err;
}

gpg_error_t
pani_home_read (pan_ctx_t ctx, const char *name, pani_home_kind_t kind,
                size_t maxlen, char **r_buf, size_t *r_len, char **r_reason)
{
  gpg_error_t err;
  struct pani_buf buf = { NULL, 0, 0, 0 };
  char chunk[4096];
  ssize_t n = 1;
  int fd;

  *r_buf = NULL;
  *r_len = 0;
  if ((err = pani_home_open (ctx, name, O_RDONLY, 0, kind, &fd, r_reason)))
    return err;
  while (!err && n && (n = read (fd, chunk, sizeof chunk)))
    if (n < 0 && errno != EINTR)
      err = pani_reason_sys (r_reason, name);
    else if (n > 0 && buf.len + n > maxlen)
      err = pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                         "%s/%s: larger than %zu bytes", ctx->home, name,
                         maxlen);
    else if (n > 0)
      pani_buf_put (&buf, chunk, n);
  close (fd);
  pani_wipe (chunk, sizeof chunk);
  if (!err)
    err = pani_buf_error (&buf);
  *r_len = buf.len;
  if (err || !(*r_buf = pani_buf_take (&buf)))
    {
      pani_buf_free (&buf);
      *r_len = 0;
      return err ? err : gpg_error (GPG_ERR_ENOMEM);
    }
  return 0;
}


/*
 * Opening files in the home without following links.
 */

/* Return a reason for the file PATH that fails the check WHAT.  */
static gpg_error_t
unsafe (char **r_reason, const char *path, const char *what, const char *fix)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                      "%s %s; %s", path, what, fix);
}

/* What can be wrong with the owner or mode of a file in the home.  */
enum complaint
{
  OWNER_MODE_OK,
  BAD_OWNER,
  OTHER_WRITES,
  GROUP_WRITES,
  OTHER_READS,
  GROUP_READS
};

/* Return the reason for the file PATH of CTX's home with complaint C
 * (not OWNER_MODE_OK).  */
static gpg_error_t
complain (pan_ctx_t ctx, const char *path, enum complaint c, char **r_reason)
{
  gpg_error_t err = gpg_error (GPG_ERR_CONFIGURATION);
  unsigned long op = (unsigned long)ctx->operator_uid;

  switch (c)
    {
    case BAD_OWNER:
      return pani_reason (r_reason, err,
                          "%s is not owned by the home's"
                          " operator (uid %lu); give it back (chown) or"
                          " restore it from a backup",
                          path, op);
    case OTHER_WRITES:
      return pani_reason (r_reason, err,
                          "%s is writable by others; run"
                          " 'chmod o-w %s'",
                          path, path);
    case GROUP_WRITES:
      return pani_reason (r_reason, err,
                          "%s is writable by its group; run"
                          " 'chmod g-w %s' (only the audit files, spool/"
                          " and queue/ may be writable, by the senders'"
                          " group)",
                          path, path);
    case OTHER_READS:
      return pani_reason (r_reason, err,
                          "%s is readable by others; run"
                          " 'chmod o-rwx %s'",
                          path, path);
    default:
      return pani_reason (r_reason, err,
                          "%s is open to a group that is not"
                          " the senders'; run 'chmod g-rwx %s'",
                          path, path);
    }
}

/* Return what is wrong with the owner or mode ST of a file of KIND in
 * the home of CTX.  */
static enum complaint
check_owner_mode (pan_ctx_t ctx, const struct stat *st,
                  pani_home_kind_t kind)
{
  int sender_group = ctx->shared && st->st_gid == ctx->sender_gid;
  int group_writes = kind == PANI_HOME_SHARED || kind == PANI_HOME_SPOOL;

  if (st->st_uid != ctx->operator_uid
      && !(kind == PANI_HOME_SPOOL && S_ISREG (st->st_mode)
           && st->st_uid == geteuid ()))
    return BAD_OWNER;
  if (st->st_mode & S_IWOTH)
    return OTHER_WRITES;
  if ((st->st_mode & S_IWGRP) && !(group_writes && sender_group))
    return GROUP_WRITES;
  if (kind != PANI_HOME_OPERATOR && !S_ISDIR (st->st_mode)
      && (st->st_mode & S_IRWXO))
    return OTHER_READS;
  if (kind != PANI_HOME_OPERATOR && (st->st_mode & S_IRWXG) && !sender_group)
    return GROUP_READS;
  return OWNER_MODE_OK;
}

gpg_error_t
pani_home_check_fd (pan_ctx_t ctx, int fd, const char *path,
                    pani_home_kind_t kind, int want_dir, char **r_reason)
{
  struct stat st;
  enum complaint c;

  if (fstat (fd, &st))
    return pani_reason_sys (r_reason, path);
  if (want_dir ? !S_ISDIR (st.st_mode) : !S_ISREG (st.st_mode))
    return unsafe (r_reason, path,
                   want_dir ? "is not a directory" : "is not a regular file",
                   "restore it from a backup"
                   " or run 'pankey init --force'");
  if ((c = check_owner_mode (ctx, &st, kind)) != OWNER_MODE_OK)
    return complain (ctx, path, c, r_reason);
  return 0;
}

/* Open the directory or file COMP below the directory DIRFD.  */
static int
open_component (int dirfd, const char *comp, int flags, int mode)
{
  return openat (dirfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

/* Open the home directory of CTX itself, checked.  */
static gpg_error_t
open_home_dir (pan_ctx_t ctx, int *r_fd, char **r_reason)
{
  gpg_error_t err;
  int fd = open (ctx->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  *r_fd = -1;
  if (fd < 0)
    return pani_reason_sys (r_reason, ctx->home);
  if ((err = pani_home_check_fd (ctx, fd, ctx->home, PANI_HOME_OPERATOR, 1,
                                 r_reason)))
    {
      close (fd);
      return err;
    }
  *r_fd = fd;
  return 0;
}

/* Walk from the directory *DIRFD (which is replaced and closed) into
 * the directory COMP of the home path PATH.  */
static gpg_error_t
enter_dir (pan_ctx_t ctx, int *dirfd, const char *comp, const char *path,
           pani_home_kind_t kind, char **r_reason)
{
  gpg_error_t err;
  int fd = open_component (*dirfd, comp, O_RDONLY | O_DIRECTORY, 0);

  if (fd < 0)
    {
      err = gpg_error_from_syserror ();
      if (gpg_err_code (err) == GPG_ERR_ELOOP
          || gpg_err_code (err) == GPG_ERR_ENOTDIR)
        return unsafe (r_reason, path,
                       "is a symbolic link or not a"
                       " directory",
                       "replace it by a real directory");
      return pani_reason_sys (r_reason, path);
    }
  if ((err = pani_home_check_fd (ctx, fd, path, kind, 1, r_reason)))
    {
      close (fd);
      return err;
    }
  close (*dirfd);
  *dirfd = fd;
  return 0;
}

/* Open the last component LEAF below DIRFD and check it.  */
static gpg_error_t
open_leaf (pan_ctx_t ctx, int dirfd, const char *leaf, const char *path,
           int flags, int mode, pani_home_kind_t kind, int *r_fd,
           char **r_reason)
{
  gpg_error_t err;
  int fd = open_component (dirfd, leaf, flags, mode);

  if (fd < 0)
    {
      err = gpg_error_from_syserror ();
      if (gpg_err_code (err) == GPG_ERR_ELOOP)
        return unsafe (r_reason, path, "is a symbolic link",
                       "replace it by the real file");
      return pani_reason (r_reason, err, "%s: %s", path, gpg_strerror (err));
    }
  if ((err = pani_home_check_fd (ctx, fd, path, kind,
                                 !!(flags & O_DIRECTORY), r_reason)))
    {
      close (fd);
      return err;
    }
  *r_fd = fd;
  return 0;
}

gpg_error_t
pani_home_open (pan_ctx_t ctx, const char *name, int flags, int mode,
                pani_home_kind_t kind, int *r_fd, char **r_reason)
{
  gpg_error_t err;
  char *path = pani_strdupf ("%s/%s", ctx->home, name);
  char *rel = pani_strdup (name), *comp, *slash;
  int dirfd = -1;

  *r_fd = -1;
  if (!path || !rel)
    {
      err = gpg_error (GPG_ERR_ENOMEM);
      goto leave;
    }
  if ((err = open_home_dir (ctx, &dirfd, r_reason)))
    goto leave;
  for (comp = rel; !err && (slash = strchr (comp, '/')); comp = slash + 1)
    {
      *slash = 0;
      if (!strcmp (comp, ".") || !strcmp (comp, ".."))
        break;
      path[strlen (ctx->home) + 1 + (slash - rel)] = 0;
      err = enter_dir (ctx, &dirfd, comp, path, kind, r_reason);
      path[strlen (ctx->home) + 1 + (slash - rel)] = '/';
    }
  if (!err && (!*comp || !strcmp (comp, ".") || !strcmp (comp, "..")))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                       "%s: not a plain path inside the home", path);
  if (!err)
    err = open_leaf (ctx, dirfd, comp, path, flags, mode, kind, r_fd,
                     r_reason);
leave:
  if (dirfd >= 0)
    close (dirfd);
  free (rel);
  free (path);
  return err;
}


/*
 * Sharing a home with the senders' group.
 */

/* Give the file NAME below DIRFD (the home itself if NAME is ".") the
 * group GID and MODE, without following a link; a missing file is
 * made (empty, 0600 first) if CREATE.  */
static gpg_error_t
share_one (int dirfd, const char *home, const char *name, gid_t gid,
           int mode, int create, char **r_reason)
{
  gpg_error_t err = 0;
  int fd = openat (dirfd, name,
                   O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
                     | (create ? O_CREAT : 0),
                   0600);

  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0 || fchown (fd, (uid_t)-1, gid) || fchmod (fd, mode))
    err = pani_reason (r_reason, gpg_error_from_syserror (), "%s/%s: %s",
                       home, name,
                       gpg_strerror (gpg_error_from_syserror ()));
  if (fd >= 0)
    close (fd);
  return err;
}

/* Share the regular files of the GnuPG home (keyrings, trust lists,
 * configuration) below DIRFD with the group GID for reading.  */
static gpg_error_t
share_gnupg (int dirfd, const char *home, gid_t gid, char **r_reason)
{
  gpg_error_t err;
  int fd = openat (dirfd, "gnupg",
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *dir = fd < 0 ? NULL : fdopendir (fd);
  struct dirent *de;

  if (!dir)
    {
      err = gpg_error_from_syserror ();
      if (fd >= 0)
        close (fd);
      return pani_reason (r_reason, err, "%s/gnupg: %s", home,
                          gpg_strerror (err));
    }
  err = share_one (dirfd, home, "gnupg", gid, 02750, 0, r_reason);
  while (!err && (de = readdir (dir)))
    if (de->d_type == DT_REG && !strstr (de->d_name, ".lock"))
      err = share_one (fd, home, de->d_name, gid, 0640, 0, r_reason);
  closedir (dir);
  return err;
}

/* What a two-role home shares with its senders, and how.  */
static const struct
{
  const char *name;
  int mode;
  int create;
} shared_files[] = {
  {".",             02750, 0},
  { "panmail.conf", 0640,  0},
  { "registry",     0640,  0},
  { "pan.key",      0640,  0},
  { "spool",        02770, 0},
  { "queue",        02770, 0},
  { "audit.log",    0660,  1},
  { "audit.key",    0660,  0},
  { "audit.lock",   0660,  1}
};

gpg_error_t
pan_home_share (const char *home, const char *group, char **r_reason)
{
  gpg_error_t err;
  struct group *gr;
  gid_t gid;
  int fd;

  if (!group || !*group || !(gr = getgrnam (group)))
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                        "no group '%s'; create it first (groupadd %s) and"
                        " add the senders to it",
                        group ? group : "", group ? group : "GROUP");
  gid = gr->gr_gid;
  if (geteuid () != 0 && !in_group (gid))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EPERM),
                        "the operator (uid %lu) is not a member of group"
                        " '%s' and cannot give the home to it; add it"
                        " (usermod -aG %s USER, then log in again) or run"
                        " init as root",
                        (unsigned long)geteuid (), group, group);
  if ((fd = open (home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC))
      < 0)
    return pani_reason_sys (r_reason, home);
  err = share_gnupg (fd, home, gid, r_reason);
  for (size_t i = 0; !err && i < sizeof shared_files / sizeof *shared_files;
       i++)
    err = share_one (fd, home, shared_files[i].name, gid,
                     shared_files[i].mode, shared_files[i].create, r_reason);
  close (fd);
  return err;
}
