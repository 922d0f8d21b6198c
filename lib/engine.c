/* engine.c - GPGME on a home's GnuPG home: contexts, pinned keys,
 * scratch homes, the GnuPG programs, fingerprints
 *
 * Every GPGME context of the library is made by pani_gpgme_new, so the
 * engine set-up lives in one place.  Keys are always looked up by their
 * full fingerprint and the primary fingerprint of what GPGME returns is
 * compared again (pani_get_pinned_key), so a key that merely carries a
 * matching user ID, or a subkey fingerprint, is never taken.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
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
      if (*input == ' ' || *input == '\t')
        continue;
      if (pani_hexval (*input) < 0)
        {
          free (fpr);
          return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                              "the fingerprint may hold only hex digits"
                              " and spaces");
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
                        " fingerprint read out of band", n);
  return pani_reason (r_reason, gpg_error (GPG_ERR_INV_NAME),
                      "a fingerprint has 40 or 64 hex digits, not %zu", n);
}


/*
 * Contexts and keys.
 */

gpg_error_t
pani_gpgme_new (const char *gnupg_home, gpgme_protocol_t protocol,
                gpgme_ctx_t *r_gctx)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;

  *r_gctx = NULL;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, protocol))
      || (err = gpgme_ctx_set_engine_info (gctx, protocol, NULL, gnupg_home))
      || (err = gpgme_set_keylist_mode (gctx, GPGME_KEYLIST_MODE_LOCAL)))
    {
      gpgme_release (gctx);
      return err;
    }
  gpgme_set_offline (gctx, 1);
  *r_gctx = gctx;
  return 0;
}

/* Return the pinned key FPR: its primary fingerprint must equal FPR.  */
gpg_error_t
pani_get_pinned_key (gpgme_ctx_t gctx, const char *fpr, gpgme_key_t *r_key)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;

  *r_key = NULL;
  err = gpgme_get_key (gctx, fpr, &key, 0);
  if (gpg_err_code (err) == GPG_ERR_EOF || (!err && !key))
    return gpg_error (GPG_ERR_NO_PUBKEY);
  if (err)
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
 * The GnuPG programs.
 */

const char *
pani_engine_program (gpgme_protocol_t protocol)
{
  gpgme_engine_info_t info = NULL;

  if (gpgme_get_engine_info (&info))
    return NULL;
  for (; info; info = info->next)
    if (info->protocol == protocol)
      return info->file_name;
  return NULL;
}

gpg_error_t
pani_engine_spawn (const char *prog, const char *argv[], gpgme_data_t *r_out)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_data_t out = NULL, errout = NULL;

  *r_out = NULL;
  if ((err = gpgme_new (&gctx))
      || (err = gpgme_set_protocol (gctx, GPGME_PROTOCOL_SPAWN))
      || (err = gpgme_data_new (&out)) || (err = gpgme_data_new (&errout))
      || (err = gpgme_op_spawn (gctx, prog, argv, NULL, out, errout, 0)))
    {
      gpgme_data_release (out);
      out = NULL;
    }
  gpgme_data_release (errout);
  gpgme_release (gctx);
  *r_out = out;
  return err;
}

/* Return the gpgconf program GPGME uses.  */
static const char *
gpgconf_program (void)
{
  const char *prog = pani_engine_program (GPGME_PROTOCOL_GPGCONF);

  return prog ? prog : "gpgconf";
}

gpg_error_t
pani_engine_gpgconf (const char *homedir, const char *arg1, const char *arg2)
{
  const char *prog = gpgconf_program ();
  char *argv[] = { (char *)prog, (char *)"--homedir", (char *)homedir,
                   (char *)arg1, (char *)arg2, NULL };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, status;

  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  rc = posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  if (!rc)
    rc = posix_spawn_file_actions_adddup2 (&fa, 1, 2);
  if (!rc)
    rc = posix_spawn (&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc)
    return gpg_error_from_errno (rc);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return gpg_error_from_syserror ();
  return WIFEXITED (status) && !WEXITSTATUS (status)
    ? 0 : gpg_error (GPG_ERR_GENERAL);
}


/*
 * Scratch homes.
 */

gpg_error_t
pani_engine_scratch_new (pan_ctx_t ctx, const char *name, char **r_dir,
                         char **r_reason)
{
  char *dir = pani_strdupf ("%s/spool/%s.XXXXXX", ctx->home, name);
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
  nftw (dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
