/* t-config.c - unit tests of panmail.conf handling  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "panmail.h"
#include "t-support.h"
#include "config-int.h"

static pan_config_t
parse (const char *text)
{
  pan_config_t config = NULL;
  char *reason = NULL;
  gpg_error_t err;

  err = pani_config_parse ("c", text, strlen (text), &config, &reason);
  T_ERR (err, 0);
  if (err)
    fprintf (stderr, "    reason: %s\n", reason ? reason : "(none)");
  pan_free (reason);
  return config;
}

/* Check that TEXT (LEN bytes) is refused with a reason that is
 * "c:LINE: " followed by WANT (if not NULL).  */
static void
bad_len (const char *text, size_t len, int line, const char *want,
         int srcline)
{
  pan_config_t config = NULL;
  char *reason = NULL, prefix[32];
  gpg_error_t err;
  int ok;

  err = pani_config_parse ("c", text, len, &config, &reason);
  snprintf (prefix, sizeof prefix, "c:%d: ", line);
  ok = gpg_err_code (err) == GPG_ERR_CONFIGURATION && !config && reason
    && !strncmp (reason, prefix, strlen (prefix))
    && (!want || !strcmp (reason + strlen (prefix), want));
  t_check (ok, "config refused with reason", __FILE__, srcline);
  if (!ok)
    fprintf (stderr, "    got %d: %s\n", gpg_err_code (err),
             reason ? reason : "(no reason)");
  pani_config_release (config);
  pan_free (reason);
}

#define BAD(text, line, want) \
  bad_len ((text), strlen (text), (line), (want), __LINE__)

static void
check_defaults (pan_config_t config)
{
  T_STREQ (pan_config_get (config, "sendmail"), "/usr/sbin/sendmail");
  T_STREQ (pan_config_get (config, "lock-timeout"), "10");
  T_STREQ (pan_config_get (config, "max-key-size"), "1048576");
  T_CHECK (pan_config_get_int (config, "lock-timeout") == 10);
  T_CHECK (pan_config_get_int (config, "max-key-size") == 1048576);
}

static void
test_defaults (void)
{
  pan_config_t config = parse ("");

  check_defaults (config);
  T_CHECK (pan_config_get (config, "nosuch") == NULL);
  T_CHECK (pan_config_get (config, "Sendmail") == NULL);
  T_CHECK (pan_config_get (config, NULL) == NULL);
  T_CHECK (pan_config_get_int (config, "nosuch") == 0);
  T_CHECK (pan_config_get_int (config, "sendmail") == 0);
  pani_config_release (config);
  check_defaults (NULL);
  pani_config_release (NULL);
  config = parse ("# nothing but comments\n\n   \n\t# indented\n#x y");
  check_defaults (config);
  pani_config_release (config);
}

static void
test_values (void)
{
  pan_config_t config;

  config = parse ("sendmail /usr/lib/sendmail -oem -f 'pan mail'\n"
                  "lock-timeout\t \t3600   \n"
                  "  max-key-size 1024");
  T_STREQ (pan_config_get (config, "sendmail"),
           "/usr/lib/sendmail -oem -f 'pan mail'");
  T_CHECK (pan_config_get_int (config, "lock-timeout") == 3600);
  T_STREQ (pan_config_get (config, "lock-timeout"), "3600");
  T_CHECK (pan_config_get_int (config, "max-key-size") == 1024);
  pani_config_release (config);

  config = parse ("lock-timeout 1\nmax-key-size 67108864\n");
  T_CHECK (pan_config_get_int (config, "lock-timeout") == 1);
  T_CHECK (pan_config_get_int (config, "max-key-size") == 67108864);
  T_STREQ (pan_config_get (config, "sendmail"), "/usr/sbin/sendmail");
  pani_config_release (config);

  /* Integers are kept in canonical form.  */
  config = parse ("lock-timeout 007\n");
  T_STREQ (pan_config_get (config, "lock-timeout"), "7");
  T_CHECK (pan_config_get_int (config, "lock-timeout") == 7);
  pani_config_release (config);

  /* A tab inside a value is kept.  */
  config = parse ("sendmail a\tb  \n");
  T_STREQ (pan_config_get (config, "sendmail"), "a\tb");
  pani_config_release (config);
}

static void
test_errors (void)
{
  static char longline[5000];

  BAD ("nosuch 1\n", 1, "unknown setting 'nosuch'");
  BAD ("# x\n\nSendmail /bin/true\n", 3, "unknown setting 'Sendmail'");
  BAD ("lock-timeout=5\n", 1, "unknown setting 'lock-timeout=5'");
  BAD ("sendmail /a\nlock-timeout 5\nsendmail /b\n", 3,
       "'sendmail' is already set at line 1");
  BAD ("sendmail\n", 1, "setting 'sendmail' needs a value");
  BAD ("sendmail  \t \n", 1, "setting 'sendmail' needs a value");
  BAD ("lock-timeout\n", 1, NULL);
  BAD ("lock-timeout 0\n", 1,
       "'lock-timeout' must be an integer from 1 to 3600");
  BAD ("lock-timeout 3601\n", 1, NULL);
  BAD ("lock-timeout -1\n", 1, NULL);
  BAD ("lock-timeout +5\n", 1, NULL);
  BAD ("lock-timeout 5s\n", 1, NULL);
  BAD ("lock-timeout 5 6\n", 1, NULL);
  BAD ("lock-timeout 0x10\n", 1, NULL);
  BAD ("lock-timeout ten\n", 1, NULL);
  BAD ("lock-timeout 99999999999999999999999999\n", 1, NULL);
  BAD ("max-key-size 1023\n", 1,
       "'max-key-size' must be an integer from 1024 to 67108864");
  BAD ("max-key-size 67108865\n", 1, NULL);
  BAD ("sendmail /usr/sbin/sendmail\r\n", 1,
       "the line contains a carriage return (convert the file to LF line"
       " endings)");
  BAD ("# comment\r\n", 1, NULL);
  BAD ("sendmail /bin/\033]0;x\n", 1,
       "the line contains a control"
       " character");
  BAD ("\n\nsendmail x\x7f\n", 3, NULL);
  bad_len ("sendmail a\0b\n", 13, 1, "the line contains a NUL byte",
           __LINE__);

  memset (longline, ' ', 4097);
  BAD (longline, 1, "the line is longer than 4096 bytes");
  memcpy (longline, "sendmail ", 9);
  memset (longline + 9, 'x', 4096 - 9);
  longline[4096] = 0;
  {
    pan_config_t config = parse (longline);
    T_CHECK (config && strlen (pan_config_get (config, "sendmail")) == 4087);
    pani_config_release (config);
  }

  /* Without R_REASON.  */
  {
    pan_config_t config = NULL;

    T_ERR (pani_config_parse ("c", "x y", 3, &config, NULL),
           GPG_ERR_CONFIGURATION);
    T_CHECK (config == NULL);
  }
}

static char *
default_text (void)
{
  estream_t mem = es_fopenmem (0, "w+b");
  void *data = NULL;
  size_t len = 0;
  char *s;

  T_ERR (pani_config_write_default (mem), 0);
  es_fputc (0, mem);
  es_fclose_snatch (mem, &data, &len);
  s = strdup (data);
  es_free (data);
  return s;
}

/* Remove "# " before every line that sets something.  */
static void
uncomment (char *text)
{
  static const char *const names[] = { "sendmail ", "lock-timeout ",
                                       "max-key-size " };
  size_t i;
  char *p;

  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      char pat[64];

      snprintf (pat, sizeof pat, "\n# %s", names[i]);
      p = strstr (text, pat);
      T_CHECK (p != NULL);
      if (p)
        memmove (p + 1, p + 3, strlen (p + 3) + 1);
    }
}

static void
test_write_default (void)
{
  char *text = default_text ();
  pan_config_t config;

  T_CHECK (!strncmp (text, "# panmail.conf", 14));
  T_CHECK (strstr (text, "\n# sendmail /usr/sbin/sendmail\n") != NULL);
  T_CHECK (strstr (text, "\n# lock-timeout 10\n") != NULL);
  T_CHECK (strstr (text, "\n# max-key-size 1048576\n") != NULL);
  T_CHECK (strstr (text, "-i -f SENDER") != NULL);
  T_CHECK (text[strlen (text) - 1] == '\n');
  config = parse (text);
  check_defaults (config);
  pani_config_release (config);

  uncomment (text);
  T_CHECK (strstr (text, "\nsendmail /usr/sbin/sendmail\n") != NULL);
  T_CHECK (strstr (text, "\nlock-timeout 10\n") != NULL);
  T_CHECK (strstr (text, "\nmax-key-size 1048576\n") != NULL);
  config = parse (text);
  check_defaults (config);
  pani_config_release (config);
  free (text);
}

static void
test_load (void)
{
  char dir[] = "/tmp/t-config.XXXXXX", path[64];
  pan_config_t config = NULL;
  char *reason = NULL;
  FILE *fp;

  if (!mkdtemp (dir))
    {
      perror ("mkdtemp");
      exit (1);
    }
  snprintf (path, sizeof path, "%s/panmail.conf", dir);
  T_ERR (pani_config_load (path, &config, &reason), 0);
  check_defaults (config);
  T_CHECK (reason == NULL);
  pani_config_release (config);

  fp = fopen (path, "w");
  fputs ("# test\nlock-timeout 30\n\nbogus 1\n", fp);
  fclose (fp);
  T_ERR (pani_config_load (path, &config, &reason), GPG_ERR_CONFIGURATION);
  T_CHECK (config == NULL);
  T_CHECK (
    reason && !strncmp (reason, path, strlen (path))
    && !strcmp (reason + strlen (path), ":4: unknown setting 'bogus'"));
  pan_free (reason);
  reason = NULL;

  fp = fopen (path, "w");
  fputs ("lock-timeout 30", fp);
  fclose (fp);
  T_ERR (pani_config_load (path, &config, &reason), 0);
  T_CHECK (pan_config_get_int (config, "lock-timeout") == 30);
  pani_config_release (config);
  config = NULL;

  /* A directory is not a configuration file.  */
  T_CHECK (pani_config_load (dir, &config, &reason) != 0);
  T_CHECK (config == NULL && reason != NULL);
  pan_free (reason);

  unlink (path);
  T_CHECK (!rmdir (dir));
}

int
main (void)
{
  test_defaults ();
  test_values ();
  test_errors ();
  test_write_default ();
  test_load ();
  return t_done ("t-config");
}
