/* engine.c - GPGME on a home's GnuPG home: contexts, pinned keys,
 * scratch homes, fingerprints (the GnuPG programs and the home's
 * daemons: engine-agent.c)
 *
 * Every GPGME context of the library is made by pani_gpgme_new, so the
 * engine set-up lives in one place.  Keys are always looked up by their
 * full fingerprint and the primary fingerprint of what GPGME returns is
 * compared again (pani_get_pinned_key), so a key that merely carries a
 * matching user ID, or a subkey fingerprint, is never taken.  */
#include <config.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "addrlist-int.h"
#include "util.h"
#include "home-int.h"
#include "engine-int.h"

extern char **environ;

gpg_error_t
pan_fpr_normalize (const char *input, char **r_fpr, char **r_reason)
{
  char *fpr;
  size_t n = 0;

  *r_fpr = NULL;
  if (!strncmp (input, "0x", 2) || !strncmp (input, "0X", 2))
    input += 2;
  if (!(fpr = malloc (strlen (input) + 1)))
    return gpg_error_from_syserror ();
  for (; *input; input++)
    {
      if (*input == ' ' || *input == '\t' || *input == ':')
        continue;
      if (pani_hexval (*input) < 0)
        {
          free (fpr);
          return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                              "the fingerprint may hold only hex digits,"
                              " spaces and colons");
        }
      fpr[n++] = (*input >= 'a') ? *input - 32 : *input;
    }
  fpr[n] = 0;
  if (n == 40 || n == 64)
    {
      *r_fpr = fpr;
      return 0;
    }
  free (fpr);
  if (n == 8 || n == 16)
    return pani_reason (r_reason, gpg_error (GPG_ERR_AMBIGUOUS_NAME),
                        "a %zu-digit key ID is not a fingerprint and can"
                        " be forged; give the full 40 or 64 digit"
                        " fingerprint read out of band",
                        n);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                      "a fingerprint has 40 or 64 hex digits, not %zu", n);
}


gpg_error_t
pani_uid_address (gpgme_user_id_t uid, char **r_addr)
{
  gpg_error_t err;
  pan_addrlist_t list = NULL;
  char *norm = NULL;

  *r_addr = NULL;
  if (!uid->address || !*uid->address)
    return gpg_error (GPG_ERR_NO_USER_ID);
  if ((err = pan_addr_normalize (uid->address, &norm, NULL)))
    return err;
  /* The user ID as written, if it is one mailbox and GnuPG's address
   * of it but for case.  */
  if (uid->uid && !pan_addrlist_new (&list)
      && !pan_addrlist_parse (list, uid->uid, NULL)
      && pan_addrlist_count (list) == 1
      && pani_addr_same (pan_addrlist_addr (list, 0), norm, 0)
      && !(*r_addr = pani_strdup (pan_addrlist_addr (list, 0))))
    err = gpg_error_from_syserror ();
  pan_addrlist_release (list);
  if (!*r_addr && !err)
    {
      *r_addr = norm;
      norm = NULL;
    }
  free (norm);
  return err;
}


/*
 * Contexts and keys.
 */

/* GPGME runs "gpg --version" (or gpgsm's) each time a context is
 * pointed at a home of its own, but not when a context inherits the
 * process-wide engine info.  So the first home used for a protocol
 * becomes that process-wide default, once; a context for any other home
 * (a scratch keyring) is pointed at it on its own.  The library is not
 * used from several threads at once, which this relies on.  */
static char *default_home_openpgp, *default_home_cms;

static char **
default_home_of (gpgme_protocol_t protocol)
{
  if (protocol == GPGME_PROTOCOL_OpenPGP)
    return &default_home_openpgp;
  if (protocol == GPGME_PROTOCOL_CMS)
    return &default_home_cms;
  return NULL;
}

/* Is GNUPG_HOME the home gpg and gpgsm find on their own, from the
 * environment (pan_ctx_openpgp_only)?  */
static int
is_environment_home (const char *gnupg_home)
{
  const char *env = getenv ("GNUPGHOME");

  return env && !strcmp (env, gnupg_home);
}

/* Make GNUPG_HOME the default home of PROTOCOL if it has none yet.  */
static gpg_error_t
adopt_default_home (gpgme_protocol_t protocol, const char *gnupg_home)
{
  gpg_error_t err;
  char **default_home = default_home_of (protocol);

  if (!gnupg_home || !default_home || *default_home)
    return 0;
  if (!(*default_home = strdup (gnupg_home)))
    return gpg_error_from_syserror ();
  /* GPGME's default is no --homedir: the engine reads GNUPGHOME.  */
  if (is_environment_home (gnupg_home))
    return 0;
  if ((err = gpgme_set_engine_info (protocol, NULL, gnupg_home)))
    {
      free (*default_home);
      *default_home = NULL;
    }
  return err;
}

gpg_error_t
pani_engine_prefer_home (const char *gnupg_home)
{
  return adopt_default_home (GPGME_PROTOCOL_OpenPGP, gnupg_home);
}

static gpg_error_t
point_engine_at_home (gpgme_ctx_t gctx, gpgme_protocol_t protocol,
                      const char *gnupg_home)
{
  char **default_home = default_home_of (protocol);

  if (gnupg_home && default_home && *default_home
      && !strcmp (*default_home, gnupg_home))
    return 0;
  return gpgme_ctx_set_engine_info (gctx, protocol, NULL, gnupg_home);
}

const char *
pani_engine_strerror (gpg_error_t err)
{
  if (gpg_err_code (err) == GPG_ERR_ENGINE_TOO_OLD)
    return "a GnuPG program older than 2.2 was found (GPGME looks for"
           " gpgconf, or gpg, in PATH)";
  return gpg_strerror (err);
}

gpg_error_t
pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                gpgme_ctx_t *r_gctx)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;

  *r_gctx = NULL;
  if ((err = pan_engine_settle ())
      || (err = gpgme_engine_check_version (protocol))
      || (err = adopt_default_home (protocol, gnupg_home)))
    return err;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, protocol))
      || (err = point_engine_at_home (gctx, protocol, gnupg_home))
      || (err = gpgme_set_keylist_mode (gctx, GPGME_KEYLIST_MODE_LOCAL)))
    {
      gpgme_release (gctx);
      return err;
    }
  gpgme_set_offline (gctx, 1);
  pani_engine_use_home (gnupg_home);
  *r_gctx = gctx;
  return 0;
}

void
pani_data_streaming (gpgme_data_t dh, int sensitive)
{
  /* Both flags are GPGME 1.17's; an older GPGME keeps its 4 KiB.  */
  gpgme_data_set_flag (dh, "io-buffer-size", "65536");
  if (sensitive)
    gpgme_data_set_flag (dh, "sensitive", "1");
}

/* gpgme_get_key, on GCTX itself: gpgme_get_key makes a context of its
 * own for every call, and GPGME runs "gpg --version" for each.  The
 * one key matching PATTERN (SECRET: with a secret key); an error if
 * none or more than one match.  */
gpg_error_t
pani_get_one_key (gpgme_ctx_t gctx, const char *pattern, int secret,
                  gpgme_key_t *r_key)
{
  gpg_error_t err;
  gpgme_key_t key = NULL, another = NULL;

  *r_key = NULL;
  if ((err = gpgme_op_keylist_start (gctx, pattern, secret)))
    return err;
  err = gpgme_op_keylist_next (gctx, &key);
  if (gpg_err_code (err) == GPG_ERR_EOF)
    err = gpg_error (secret ? GPG_ERR_NO_SECKEY : GPG_ERR_NO_PUBKEY);
  else if (!err && !gpgme_op_keylist_next (gctx, &another))
    err = gpg_error (GPG_ERR_AMBIGUOUS_NAME);
  /* Read the listing to its end: GPGME 1.18 may crash when a context
   * whose listing was cut short is used again.  */
  while (another)
    {
      gpgme_key_unref (another);
      another = NULL;
      if (gpgme_op_keylist_next (gctx, &another))
        break;
    }
  gpgme_op_keylist_end (gctx);
  if (err)
    gpgme_key_unref (key);
  else
    *r_key = key;
  return err;
}

/* Return the pinned key FPR: its primary fingerprint must equal FPR.  */
gpg_error_t
pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr, gpgme_key_t *r_key)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_key = NULL;
  if ((err = pani_get_one_key (gctx, fpr, 0, &key)))
    return err;
  if (!key->subkeys || !key->subkeys->fpr
      || pani_ascii_casecmp (key->subkeys->fpr, fpr))
    {
      gpgme_key_unref (key);
      return gpg_error (GPG_ERR_NO_PUBKEY);
    }
  *r_key = key;
  return 0;
}

void
pani_release_keys (gpgme_key_t *keys)
{
  for (size_t i = 0; keys && keys[i]; i++)
    gpgme_key_unref (keys[i]);
  free (keys);
}


/*
 * Scratch homes.
 */

gpg_error_t
pani_engine_scratch_new (pan_ctx_t ctx, const char *name, char **r_dir,
                         char **r_reason)
{
  /* The pid in the name lets pan_queue_recover remove it once its
   * process is gone.  Without a home: in $TMPDIR.  */
  const char *tmp = getenv ("TMPDIR");
  char *dir = ctx ? pani_strdupf ("%s/spool/%s.%ld.XXXXXX", ctx->home, name,
                                  (long)getpid ())
                  : pani_strdupf ("%s/panmail-%s.XXXXXX",
                                  tmp && *tmp == '/' ? tmp : "/tmp", name);
  gpg_error_t err;

  *r_dir = NULL;
  if (!dir)
    return gpg_error (GPG_ERR_ENOMEM);
  if (!mkdtemp (dir))
    {
      err = pani_reason_sys (r_reason, dir);
      free (dir);
      return err;
    }
  *r_dir = dir;
  return 0;
}

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

void
pani_engine_scratch_remove (const char *dir)
{
  /* A scratch home that could not be made is no error.  */
  if (!dir)
    return;
  /* A daemon that still runs there would make its sockets again.  */
  pani_engine_forget_home (dir);
  pani_engine_stop_daemons (dir);
  nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

gpg_error_t
pan_ctx_openpgp_only (pan_ctx_t ctx)
{
  const char *env = getenv ("GNUPGHOME");
  gpg_error_t err;

  /* A second call changes nothing, and must not: the warm-up may be
   * reading the environment.  */
  if (pani_engine_warming () && env && !strcmp (env, ctx->gnupg_home))
    return 0;
  if ((err = pan_engine_settle ()))
    return err;
  /* The GPGME manual asks for global flags "as early as possible".
   * GPGME reads gpgconf's answers once, when a context or the engine
   * list first needs them (not in gpgme_check_version), and ignores
   * this flag from then on: before the first use is early enough.  */
  gpgme_set_global_flag ("disable-gpgconf", "1");
  /* Contexts on this home then need no gpgme_set_engine_info, which
   * runs "gpg --version" again (pani_gpgme_new).  */
  if (setenv ("GNUPGHOME", ctx->gnupg_home, 1))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pan_engine_warm_up (pan_ctx_t ctx)
{
  return pani_engine_warm_start (
    pan_config_get_int (ctx->config, "gpg-timeout"));
}
