/* home.c - library set-up and the panmail home directory
 *
 * A home holds everything of one panmail installation:
 *   panmail.conf   configuration (0600)
 *   registry       enrolled recipients (0600)
 *   gnupg/         dedicated GnuPG home with the pinned keys (0700)
 *   spool/         ciphertext being prepared (0700)
 *   queue/         ciphertext the MTA did not take (0700)
 *   pan.key        the key of the PANs' keyed hashes (0600)
 *   audit.log, audit.key, audit.lock   see audit.c
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "home-int.h"
#include "config-int.h"
#include "registry-int.h"

#define NEED_GCRYPT "1.10.0"
#define NEED_GPGME "1.18.0"
#define NEED_GNUPG "2.2.0"

/* Core dumps could hold message plaintext: switch them off for good.  */
static gpg_error_t
disable_core_dumps (void)
{
  struct rlimit limit = { 0, 0 };

  if (setrlimit (RLIMIT_CORE, &limit))
    return gpg_error_from_syserror ();
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pan_init (void)
{
  gpg_error_t err;

  if ((err = disable_core_dumps ()))
    return err;
  if (!gcry_check_version (NEED_GCRYPT))
    return gpg_error (GPG_ERR_NOT_SUPPORTED);
  /* Secure memory holds keys, passphrases and the sealed spool's
   * buffers; let it grow past the first pool if needed.  */
  gcry_control (GCRYCTL_AUTO_EXPAND_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INIT_SECMEM, 131072, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  /* The GnuPG programs are looked for when a context is first made
   * (pani_gpgme_new): GPGME runs five programs to find them, which a
   * tool that needs no GnuPG (panaudit's log readers) is spared.  An
   * older gpg (a GnuPG 1.4 found first in PATH) fails them all.  */
  gpgme_set_global_flag ("require-gnupg", NEED_GNUPG);
  if (!gpgme_check_version (NEED_GPGME))
    return gpg_error (GPG_ERR_NOT_SUPPORTED);
  return 0;
}

const char *
pan_version (void)
{
  return PACKAGE_VERSION;
}

const char *
pan_home_resolve (const char *home)
{
  const char *env = getenv ("PANMAIL_HOME");

  if (home && *home)
    return home;
  if (env && *env)
    return env;
  return PAN_DEFAULT_HOME;
}

/* Return 1 if DIR has no entries, 0 if it has, -1 on error.  */
static int
dir_is_empty (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *de;
  int empty = 1;

  if (!d)
    return -1;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      {
        empty = 0;
        break;
      }
  closedir (d);
  return empty;
}

static gpg_error_t
make_dir (const char *dir, char **r_reason)
{
  if (mkdir (dir, 0700) && errno != EEXIST)
    return pani_reason_sys (r_reason, dir);
  if (chmod (dir, 0700))
    return pani_reason_sys (r_reason, dir);
  return 0;
}

static gpg_error_t
make_subdir (const char *home, const char *name, char **r_reason)
{
  char *dir = pani_strdupf ("%s/%s", home, name);
  gpg_error_t err;

  if (!dir)
    return gpg_error_from_syserror ();
  err = make_dir (dir, r_reason);
  free (dir);
  return err;
}

/* Write FILE in HOME with the text produced by WRITER unless it exists:
 * --force must never clobber a registry or a configuration.  */
static gpg_error_t
make_file (const char *home, const char *name,
           gpg_error_t (*writer) (estream_t), char **r_reason)
{
  gpg_error_t err = 0;
  char *path = pani_strdupf ("%s/%s", home, name);
  estream_t mem = NULL;
  void *buf = NULL;
  size_t len;
  struct stat st;

  if (!path)
    return gpg_error_from_syserror ();
  if (!stat (path, &st))
    goto leave;
  if (!(mem = es_fopenmem (0, "w+")))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = writer (mem)) || es_fclose_snatch (mem, &buf, &len))
    {
      err = err ? err : gpg_error_from_syserror ();
      goto leave;
    }
  mem = NULL;
  err = pani_write_file_atomic (path, buf, len, 0600, r_reason);

leave:
  es_fclose (mem);
  free (buf);
  free (path);
  return err;
}

static gpg_error_t
write_empty_registry (estream_t out)
{
  gpg_error_t err;
  pan_registry_t reg = NULL;

  err = pani_registry_parse ("registry", "", 0, &reg, NULL);
  if (!err)
    err = pani_registry_write (reg, out);
  pan_registry_release (reg);
  return err;
}

static gpg_error_t
write_gpg_conf (estream_t out)
{
  /* The registry is the trust model: gpg must neither fetch keys nor
   * consult a web of trust.  Signatures are checked every time, never
   * taken from the cache a keyring can carry (a forged "valid" mark on
   * a grafted subkey's binding).  */
  es_fputs ("# gpg.conf of a panmail home: keys are pinned in ../registry.\n"
            "trust-model always\n"
            "no-auto-key-retrieve\n"
            "auto-key-locate local\n"
            "no-sig-cache\n",
            out);
  return es_ferror (out) ? gpg_error_from_syserror () : 0;
}

/* The PAN hashing key: 32 random bytes, written as hex.  It only ever
 * passes through secure memory.  */
static gpg_error_t
write_pan_key (estream_t out)
{
  unsigned char *key = gcry_random_bytes_secure (PAN_KEY_LEN,
                                                 GCRY_STRONG_RANDOM);
  char hex[2 * PAN_KEY_LEN + 1];

  if (!key)
    return gpg_error_from_syserror ();
  pani_bin2hex (key, PAN_KEY_LEN, hex);
  es_fputs (hex, out);
  es_putc ('\n', out);
  explicit_bzero (hex, sizeof hex);
  gcry_free (key);
  return es_ferror (out) ? gpg_error_from_syserror () : 0;
}

static gpg_error_t
check_home_reusable (const char *home, int force, char **r_reason)
{
  struct stat st;
  int empty;

  if (stat (home, &st))
    return errno == ENOENT ? 0 : pani_reason_sys (r_reason, home);
  if (!S_ISDIR (st.st_mode))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s exists and is not a directory", home);
  empty = dir_is_empty (home);
  if (empty < 0)
    return pani_reason_sys (r_reason, home);
  if (!empty && !force)
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s is not empty; choose a new directory or use"
                        " --force to add a panmail home to it (existing"
                        " panmail files are kept)",
                        home);
  return 0;
}

gpg_error_t
pan_home_init (const char *home, int force, char **r_reason)
{
  gpg_error_t err;
  static const char *const subdirs[] = { "gnupg", "spool", "queue" };

  home = pan_home_resolve (home);
  if ((err = check_home_reusable (home, force, r_reason)))
    return err;
  if ((err = make_dir (home, r_reason)))
    return err;
  for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++)
    if ((err = make_subdir (home, subdirs[i], r_reason)))
      return err;
  if ((err = make_file (home, "gnupg/gpg.conf", write_gpg_conf, r_reason))
      || (err = make_file (home, PAN_CONFIG_FILE, pani_config_write_default,
                           r_reason))
      || (err = make_file (home, PAN_REGISTRY_FILE, write_empty_registry,
                           r_reason))
      || (err = make_file (home, PAN_KEY_FILE, write_pan_key, r_reason)))
    return err;
  return 0;
}

/* Open the home HOME itself (not through a symbolic link) at *R_FD.  */
static gpg_error_t
open_home_fd (const char *home, int *r_fd, char **r_reason)
{
  gpg_error_t err;

  *r_fd = open (home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*r_fd >= 0)
    return 0;
  err = gpg_error_from_syserror ();
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    return pani_reason (r_reason, err,
                        "%s does not exist; create it with"
                        " 'pankey --home %s init'",
                        home, home);
  if (gpg_err_code (err) == GPG_ERR_ELOOP
      || gpg_err_code (err) == GPG_ERR_ENOTDIR)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                        "%s is a symbolic link or not a directory; name"
                        " the real directory",
                        home);
  return pani_reason_sys (r_reason, home);
}

/* Learn the roles of CTX's home and check it and every file in it.  */
static gpg_error_t
check_home_safe (pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err;
  int fd;

  if ((err = open_home_fd (ctx->home, &fd, r_reason)))
    return err;
  err = pani_home_roles (ctx, fd, r_reason);
  close (fd);
  if (!err)
    err = pani_home_check_parents (ctx, r_reason);
  if (!err)
    err = pani_home_check_files (ctx, r_reason);
  /* The operator of a shared home makes files its senders read.  */
  if (!err && ctx->shared && geteuid () == ctx->operator_uid)
    umask (027);
  return err;
}

/* Load the configuration of CTX through a checked descriptor.  */
static gpg_error_t
load_config (pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err;
  char *path = pan_ctx_path (ctx, PAN_CONFIG_FILE), *buf = NULL;
  size_t len = 0;

  if (!path)
    return gpg_error_from_syserror ();
  err = pani_home_read (ctx, PAN_CONFIG_FILE, PANI_HOME_OPERATOR, 1 << 20,
                        &buf, &len, r_reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      if (r_reason)
        {
          free (*r_reason);
          *r_reason = NULL;
        }
      err = 0;
    }
  if (!err)
    err = pani_config_parse (path, buf ? buf : "", len, &ctx->config,
                             r_reason);
  free (buf);
  free (path);
  return err;
}

gpg_error_t
pan_ctx_open (const char *home, pan_ctx_t *r_ctx, char **r_reason)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;

  *r_ctx = NULL;
  home = pan_home_resolve (home);
  if (!(ctx = calloc (1, sizeof *ctx)) || !(ctx->home = pani_strdup (home))
      || !(ctx->gnupg_home = pani_strdupf ("%s/gnupg", home)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = check_home_safe (ctx, r_reason))
      || (err = load_config (ctx, r_reason)))
    goto leave;
  *r_ctx = ctx;
  ctx = NULL;

leave:
  pan_ctx_release (ctx);
  return err;
}

void
pan_ctx_release (pan_ctx_t ctx)
{
  if (!ctx)
    return;
  pani_config_release (ctx->config);
  free (ctx->gnupg_home);
  free (ctx->home);
  free (ctx);
}

gpg_error_t
pani_ctx_registry_parse (pan_ctx_t ctx, const char *buf, size_t len,
                         pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  char *path = pan_ctx_path (ctx, PAN_REGISTRY_FILE);

  *r_reg = NULL;
  if (!path)
    return gpg_error_from_syserror ();
  if (!(err = pani_registry_parse (path, buf, len, r_reg, r_reason)))
    pani_registry_match (*r_reg, pan_ctx_config (ctx));
  free (path);
  return err;
}

gpg_error_t
pan_ctx_registry_load (pan_ctx_t ctx, pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL;
  size_t len = 0;

  *r_reg = NULL;
  err = pani_home_read (ctx, PAN_REGISTRY_FILE, PANI_HOME_OPERATOR,
                        PANI_REGISTRY_MAX, &buf, &len, r_reason);
  if (!err)
    err = pani_ctx_registry_parse (ctx, buf, len, r_reg, r_reason);
  free (buf);
  return err;
}

const char *
pan_ctx_home (pan_ctx_t ctx)
{
  return ctx->home;
}

pan_config_t
pan_ctx_config (pan_ctx_t ctx)
{
  return ctx->config;
}

char *
pan_ctx_path (pan_ctx_t ctx, const char *name)
{
  return pani_strdupf ("%s/%s", ctx->home, name);
}


/* Decode the 2*PAN_KEY_LEN hex digits of HEX into KEY.  */
static gpg_error_t
decode_pan_key (const char *hex, size_t len, unsigned char *key)
{
  while (len && (hex[len - 1] == '\n' || hex[len - 1] == '\r'))
    len--;
  if (len != 2 * PAN_KEY_LEN)
    return gpg_error (GPG_ERR_INV_DATA);
  for (size_t i = 0; i < PAN_KEY_LEN; i++)
    {
      int hi = pani_hexval (hex[2 * i]), lo = pani_hexval (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return gpg_error (GPG_ERR_INV_DATA);
      key[i] = hi << 4 | lo;
    }
  return 0;
}

/* Read the PAN key file of CTX into secure memory KEY.  */
static gpg_error_t
read_pan_key (pan_ctx_t ctx, unsigned char *key, char **r_reason)
{
  gpg_error_t err;
  char *path = pan_ctx_path (ctx, PAN_KEY_FILE);
  char *hex = gcry_malloc_secure (4 * PAN_KEY_LEN);
  int fd = -1;
  ssize_t n = 0;

  if (!path || !hex)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = pani_home_open (ctx, PAN_KEY_FILE, O_RDONLY, 0,
                             PANI_HOME_SECRET, &fd, r_reason)))
    {
      if (gpg_err_code (err) == GPG_ERR_ENOENT && r_reason)
        {
          free (*r_reason);
          *r_reason = NULL;
          pani_reason (r_reason, err,
                       "%s is missing; create it with"
                       " 'pankey --home %s init --force'",
                       path, ctx->home);
        }
      goto leave;
    }
  if ((n = read (fd, hex, 4 * PAN_KEY_LEN - 1)) < 0)
    {
      err = pani_reason_sys (r_reason, path);
      goto leave;
    }
  if ((err = decode_pan_key (hex, n, key)))
    pani_reason (r_reason, err, "%s does not hold a %d-byte key in hex",
                 path, PAN_KEY_LEN);
leave:
  if (fd >= 0)
    close (fd);
  if (hex)
    {
      pani_wipe (hex, 4 * PAN_KEY_LEN);
      gcry_free (hex);
    }
  free (path);
  return err;
}

gpg_error_t
pan_ctx_pan_scanner (pan_ctx_t ctx, pan_scanner_t *r_scanner,
                     char **r_reason)
{
  gpg_error_t err;
  unsigned char *key = gcry_malloc_secure (PAN_KEY_LEN);

  *r_scanner = NULL;
  if (!key)
    return gpg_error_from_syserror ();
  if (!(err = read_pan_key (ctx, key, r_reason)))
    err = pan_scanner_new (key, PAN_KEY_LEN, r_scanner);
  explicit_bzero (key, PAN_KEY_LEN);
  gcry_free (key);
  return err;
}

/* Take HOME/keys.lock of CTX, waiting at most ten times lock-timeout:
 * a key transaction (gpg imports included) takes seconds, and several
 * may queue for it.  */
gpg_error_t
pani_home_lock_keys (pan_ctx_t ctx, int *r_fd, char **r_reason)
{
  long t = pan_config_get_int (pan_ctx_config (ctx), "lock-timeout");
  char *path = pan_ctx_path (ctx, "keys.lock");
  gpg_error_t err;

  if (!path)
    return gpg_error_from_syserror ();
  err = pani_lock (path, (int)(t > 0 ? t : 10) * 10, r_fd, r_reason);
  free (path);
  return err;
}
