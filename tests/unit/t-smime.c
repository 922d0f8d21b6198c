/* t-smime.c - unit tests of smime.c and smime-trust.c, and a driver for
 * smime-lib.sh
 *
 *   t-smime                      unit tests (no GnuPG needed)
 *   t-smime HOME COMMAND ARGS    one call of smime.c on the home HOME:
 *     init                       pan_home_init (a new home)
 *     configure MODE             pani_smime_configure
 *     trust-ca FPR FILE          pani_smime_trust_ca; prints the SHA-1
 *     enroll ADDR FPR FILE       pani_smime_enroll; prints the SHA-1
 *     check FPR                  the check of pani_smime_ops; prints
 *                                notAfter
 *     list-cas                   pan_smime_list_cas
 *     encrypt FPR...             the encryption of pani_smime_ops:
 *                                stdin as the entity, the S/MIME part
 *                                of the message to stdout
 *   $T_SMIME_NOW (seconds since the epoch) replaces the clock.
 *   Exit status: 0 ok, 1 the call failed (reason on stderr), 2 usage.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "smime-trust-int.h"
#include "proto-int.h"
#include "t-support.h"
#include "smime-int.h"

static time_t
test_now (void)
{
  const char *s = getenv ("T_SMIME_NOW");

  return s && *s ? (time_t)strtoll (s, NULL, 10) : time (NULL);
}

static void
t_trustlist_ok (void)
{
  static const char text[] =
    "# comment\n"
    "\n"
    "  E95315204482548327A7707241CF084E9A840583 S\n"
    "e9:53:15:20:44:82:54:83:27:a7:70:72:41:cf:08:4e:9a:84:05:84 S relax\n"
    "!1111111111111111111111111111111111111111 S\n"
    "2222222222222222222222222222222222222222 P\n"
    "3333333333333333333333333333333333333333 *\r\n"
    "4444444444444444444444444444444444444444\tS cm";
  char **fprs = NULL, *reason = NULL;
  size_t n = 0;

  T_ERR (pani_smime_trustlist_parse (text, strlen (text), &fprs, &n,
                                     &reason),
         0);
  T_CHECK (n == 4);
  if (n == 4)
    {
      T_STREQ (fprs[0], "E95315204482548327A7707241CF084E9A840583");
      T_STREQ (fprs[1], "E95315204482548327A7707241CF084E9A840584");
      T_STREQ (fprs[2], "3333333333333333333333333333333333333333");
      T_STREQ (fprs[3], "4444444444444444444444444444444444444444");
    }
  T_CHECK (!reason);
  pan_argv_release (fprs);
}

static void
t_trustlist_bad (const char *text, int code, const char *want_prefix)
{
  char **fprs = NULL, *reason = NULL;
  size_t n = 0;

  T_ERR (pani_smime_trustlist_parse (text, strlen (text), &fprs, &n,
                                     &reason),
         code);
  T_CHECK (!fprs && !n);
  T_CHECK (reason && !strncmp (reason, want_prefix, strlen (want_prefix)));
  free (reason);
}

static void
t_trustlist (void)
{
  char **fprs = NULL;
  size_t n = 1;

  t_trustlist_ok ();
  T_ERR (pani_smime_trustlist_parse ("", 0, &fprs, &n, NULL), 0);
  T_CHECK (fprs && !fprs[0] && !n);
  pan_argv_release (fprs);
  t_trustlist_bad ("# x\ninclude-default\n", GPG_ERR_FORBIDDEN,
                   "trustlist.txt:2:");
  t_trustlist_bad ("E95315204482548327A7707241CF084E9A84058 S\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:1:");
  t_trustlist_bad ("E95315204482548327A7707241CF084E9A8405833 S\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:1:");
  t_trustlist_bad ("E95315204482548327A7707241CF084E9A840583\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:1:");
  t_trustlist_bad ("E95315204482548327A7707241CF084E9A840583 X\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:1:");
  t_trustlist_bad ("E9::5315204482548327A7707241CF084E9A840583 S\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:1:");
  t_trustlist_bad ("\n\nG95315204482548327A7707241CF084E9A840583 S\n",
                   GPG_ERR_INV_DATA, "trustlist.txt:3:");
}

/* Encrypt to the NFPRS certificates FPRS of the home of CTX (NULL if
 * NFPRS is 0) the entity read from IN_FD, the S/MIME part written to
 * OUT_FD.  */
static gpg_error_t
encrypt_fd (pan_ctx_t ctx, const char *const *fprs, size_t nfprs, int in_fd,
            int out_fd, time_t now, char **r_reason)
{
  gpg_error_t err, read_err = 0;
  gpgme_data_t plain = NULL;
  struct pani_encrypt_req req;

  if ((err = gpgme_data_new_from_fd (&plain, in_fd)))
    return err;
  memset (&req, 0, sizeof req);
  req.ctx = ctx;
  req.fprs = fprs;
  req.addrs = fprs;
  req.nrcpts = nfprs;
  req.plain = plain;
  req.plain_err = &read_err;
  req.out_fd = out_fd;
  req.now = now;
  err = pani_smime_ops.encrypt (&req, r_reason);
  gpgme_data_release (plain);
  return err;
}

/* Without recipients nothing is encrypted (GPGME would otherwise
 * encrypt symmetrically), after the envelope head.  */
static void
t_envelope (void)
{
  int fds[2];
  char head[1024], *reason = NULL;
  ssize_t n;

  T_CHECK (!pipe (fds));
  T_ERR (encrypt_fd (NULL, NULL, 0, 0, fds[1], 0, &reason),
         GPG_ERR_NO_USER_ID);
  T_CHECK (reason && strstr (reason, "no S/MIME recipients"));
  free (reason);
  close (fds[1]);
  n = read (fds[0], head, sizeof head - 1);
  close (fds[0]);
  head[n > 0 ? n : 0] = 0;
  T_CHECK (strstr (head,
                   "Content-Type: application/pkcs7-mime;"
                   " smime-type=enveloped-data;\n\tname=\"smime.p7m\"\n"));
  T_CHECK (strstr (head, "\nContent-Transfer-Encoding: base64\n"));
  T_CHECK (strstr (head, "filename=\"smime.p7m\""));
  T_CHECK (!strncmp (head, "MIME-Version: 1.0\n", 18));
  T_CHECK (strlen (head) > 2 && !strcmp (head + strlen (head) - 2, "\n\n"));
}


/*
 * The driver.
 */

static int
report (gpg_error_t err, char *reason)
{
  if (err)
    fprintf (stderr, "t-smime: %s (%s)\n", reason ? reason : "-",
             gpg_strerror (err));
  pan_free (reason);
  return err ? 1 : 0;
}

static int
run_trust (pan_ctx_t ctx, char **argv)
{
  gpg_error_t err;
  char *buf = NULL, *fpr = NULL, *reason = NULL;
  size_t len;

  err = pani_read_file (argv[1], 1 << 20, &buf, &len, &reason);
  if (!err)
    err = pani_smime_trust_ca (ctx, argv[0], buf, len, test_now (), &fpr,
                               &reason);
  if (!err)
    printf ("%s\n", fpr);
  free (fpr);
  free (buf);
  return report (err, reason);
}

static int
run_enroll (pan_ctx_t ctx, char **argv)
{
  gpg_error_t err;
  char *buf = NULL, *fpr = NULL, *reason = NULL;
  size_t len;

  err = pani_read_file (argv[2], 1 << 20, &buf, &len, &reason);
  if (!err)
    err = pani_smime_enroll (ctx, argv[0], argv[1], buf, len, test_now (),
                             &fpr, &reason);
  if (!err)
    printf ("%s\n", fpr);
  free (fpr);
  free (buf);
  return report (err, reason);
}

static int
run_check (pan_ctx_t ctx, char **argv)
{
  gpg_error_t err;
  char *reason = NULL, when[32];
  time_t expires;

  err = pani_smime_ops.check (ctx, argv[0], test_now (), &expires, &reason);
  if (!err)
    printf ("%s\n", pan_time_format (expires, when, sizeof when));
  return report (err, reason);
}

static int
run_list (pan_ctx_t ctx)
{
  gpg_error_t err;
  struct pan_smime_ca *cas = NULL;
  size_t n = 0;
  char *reason = NULL, when[32];

  err = pan_smime_list_cas (ctx, &cas, &n, &reason);
  for (size_t i = 0; !err && i < n; i++)
    printf ("%s %s %s %s\n", cas[i].fpr, cas[i].sha256 ? cas[i].sha256 : "-",
            cas[i].missing
              ? "missing"
              : pan_time_format (cas[i].not_after, when, sizeof when),
            cas[i].subject ? cas[i].subject : "-");
  pan_smime_cas_release (cas, n);
  return report (err, reason);
}

static int
run_encrypt (pan_ctx_t ctx, char **argv, int argc)
{
  char *reason = NULL;
  gpg_error_t err;

  /* The call first: the order in which arguments are evaluated is
   * unspecified, and REASON is set by it.  */
  fflush (stdout);
  err = encrypt_fd (ctx, (const char *const *)argv, argc, 0, 1, test_now (),
                    &reason);
  return report (err, reason);
}

static int
run_configure (pan_ctx_t ctx, const char *mode)
{
  char *reason = NULL;
  gpg_error_t err = pani_smime_configure (ctx, mode, &reason);

  return report (err, reason);
}

static int
dispatch (pan_ctx_t ctx, const char *cmd, char **argv, int argc)
{
  if (!strcmp (cmd, "configure") && argc == 1)
    return run_configure (ctx, argv[0]);
  if (!strcmp (cmd, "trust-ca") && argc == 2)
    return run_trust (ctx, argv);
  if (!strcmp (cmd, "enroll") && argc == 3)
    return run_enroll (ctx, argv);
  if (!strcmp (cmd, "check") && argc == 1)
    return run_check (ctx, argv);
  if (!strcmp (cmd, "list-cas") && !argc)
    return run_list (ctx);
  if (!strcmp (cmd, "encrypt") && argc >= 1)
    return run_encrypt (ctx, argv, argc);
  fprintf (stderr, "t-smime: bad command or arguments: %s\n", cmd);
  return 2;
}

static int
driver (const char *home, const char *cmd, char **argv, int argc)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL;
  int rc;

  if (!strcmp (cmd, "init") && !argc)
    err = pan_home_init (home, 0, &reason);
  else
    err = pan_ctx_open (home, &ctx, &reason);
  if (err || !ctx)
    return report (err, reason);
  rc = dispatch (ctx, cmd, argv, argc);
  pan_ctx_release (ctx);
  return rc;
}

/* Write LEN bytes of filler with NEEDLE (if not NULL) at offset AT as
 * the registry of CTX's home, and return what pan_smime_in_use says.  */
static int
in_use_with (pan_ctx_t ctx, size_t len, const char *needle, size_t at)
{
  char *path = pan_ctx_path (ctx, "registry"), *text = malloc (len);
  FILE *fp = path ? fopen (path, "w") : NULL;
  int in_use = -1;

  if (!text || !fp)
    T_CHECK (!"cannot write the registry");
  else
    {
      for (size_t i = 0; i < len; i++)
        text[i] = i % 64 == 63 ? '\n' : "protocol smim openpgp "[i % 22];
      if (needle)
        memcpy (text + at, needle, strlen (needle));
      T_CHECK (fwrite (text, 1, len, fp) == len);
      T_CHECK (fclose (fp) == 0);
      fp = NULL;
      T_ERR (pan_smime_in_use (ctx, &in_use), 0);
    }
  if (fp)
    fclose (fp);
  free (text);
  pan_free (path);
  return in_use;
}

/* pan_smime_in_use reads the registry in pieces of 32 KB: "protocol
 * smime" is found wherever it is, also across two pieces.  */
static void
t_in_use (void)
{
  char home[] = "/tmp/t-smime.XXXXXX", sub[64], *reason = NULL;
  pan_ctx_t ctx = NULL;
  static const size_t at[] = { 0,          100,       32768 - 14,
                               32768 - 13, 32768 - 7, 32768 - 1,
                               32768,      65536 - 3, 99986 };

  if (!mkdtemp (home))
    {
      T_CHECK (!"mkdtemp");
      return;
    }
  snprintf (sub, sizeof sub, "%s/h", home);
  T_ERR (pan_home_init (sub, 0, &reason), 0);
  T_ERR (pan_ctx_open (sub, &ctx, &reason), 0);
  if (!ctx)
    return;
  T_CHECK (in_use_with (ctx, 100000, NULL, 0) == 0);
  for (size_t i = 0; i < sizeof at / sizeof *at; i++)
    T_CHECK (in_use_with (ctx, 100000, "protocol smime", at[i]) == 1);
  /* Cut off at the end of the file.  */
  T_CHECK (in_use_with (ctx, 100000, "protocol smim", 100000 - 13) == 0);
  T_CHECK (in_use_with (ctx, 10, NULL, 0) == 0);
  pan_ctx_release (ctx);
  pan_free (reason);
  snprintf (sub, sizeof sub, "rm -rf '%s'", home);
  T_CHECK (system (sub) == 0);
}

int
main (int argc, char **argv)
{
  gpg_error_t err;

  if ((err = pan_init ()))
    {
      fprintf (stderr, "t-smime: pan_init: %s\n", gpg_strerror (err));
      return 1;
    }
  if (argc >= 3)
    return driver (argv[1], argv[2], argv + 3, argc - 3);
  if (argc != 1)
    return 2;
  t_trustlist ();
  t_envelope ();
  t_in_use ();
  return t_done ("t-smime");
}
