/* gpgme-floor.c - the least a program that encrypts through GPGME does
 *
 * Usage: gpgme-floor FPR...
 * Encrypts standard input to the keys FPR (exact fingerprints, one gpg
 * run, ASCII armour, always trust) through GPGME and writes the result
 * to standard output.  No configuration, key check, spool, audit log or
 * MTA: scripts/bench-send.sh pipes it into the same MTA as the gpg pipe,
 * to show how near to that pipe any GPGME program can come.  Like an
 * OpenPGP-only pansend it tells GPGME not to ask gpgconf; GPGME still
 * runs "gpg --version" before its first operation.  The GnuPG home is
 * GNUPGHOME's.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>

/* The recipients FPR... as gpgme_op_encrypt_ext wants them: "--" and
 * one fingerprint per line, taken as given.  */
static char *
recipient_lines (int n, char **fprs)
{
  size_t len = 4;
  char *text;

  for (int i = 0; i < n; i++)
    len += strlen (fprs[i]) + 1;
  if (!(text = malloc (len)))
    return NULL;
  strcpy (text, "--\n");
  for (int i = 0; i < n; i++)
    strcat (strcat (text, fprs[i]), "\n");
  return text;
}

static gpg_error_t
encrypt_stdin (const char *recipients)
{
  gpgme_ctx_t ctx = NULL;
  gpgme_data_t in = NULL, out = NULL;
  gpg_error_t err;

  if (!(err = gpgme_new (&ctx)) && !(err = gpgme_data_new_from_fd (&in, 0))
      && !(err = gpgme_data_new_from_fd (&out, 1)))
    {
      gpgme_set_armor (ctx, 1);
      err = gpgme_op_encrypt_ext (ctx, NULL, recipients,
                                  GPGME_ENCRYPT_ALWAYS_TRUST, in, out);
    }
  gpgme_data_release (in);
  gpgme_data_release (out);
  gpgme_release (ctx);
  return err;
}

int
main (int argc, char **argv)
{
  char *recipients;
  gpg_error_t err;

  if (argc < 2)
    {
      fputs ("usage: gpgme-floor FPR...\n", stderr);
      return 2;
    }
  gpgme_check_version (NULL);
  gpgme_set_global_flag ("disable-gpgconf", "1");
  if (!(recipients = recipient_lines (argc - 1, argv + 1)))
    err = gpg_error_from_syserror ();
  else
    err = encrypt_stdin (recipients);
  free (recipients);
  if (err)
    {
      fprintf (stderr, "gpgme-floor: %s\n", gpgme_strerror (err));
      return 1;
    }
  return 0;
}
