/* t-sendmail-args.c - tests for the sendmail(1) command line parser
 *
 * Each case is a command line as scripts write it for Postfix's
 * sendmail(1), and what pansend must make of it.  */
#include <config.h>

#include <stdarg.h>
#include <string.h>
#include <gpg-error.h>

#include "panmail.h"
#include "t-support.h"

static struct pan_sendmail_args args;
static char *reason;

/* Parse the words (NULL-terminated) after "pansend"; return the error. */
static gpg_error_t
parse (const char *first, ...)
{
  static char *argv[32];
  va_list ap;
  int argc = 0;
  const char *w;

  pan_sendmail_args_release (&args);
  pan_free (reason);
  reason = NULL;
  argv[argc++] = (char *)"pansend";
  va_start (ap, first);
  for (w = first; w && argc < 31; w = va_arg (ap, const char *))
    argv[argc++] = (char *)w;
  va_end (ap);
  argv[argc] = NULL;
  return pan_sendmail_args_parse (argc, argv, &args, &reason);
}

/* The usage error of the words, with a reason that holds NEEDLE.  */
static void
refused (const char *needle, gpg_error_t err)
{
  T_ERR (err, GPG_ERR_INV_ARG);
  T_CHECK (reason && strstr (reason, needle));
  if (!reason || !strstr (reason, needle))
    fprintf (stderr, "    reason: %s\n", reason ? reason : "(none)");
}

static void
test_cron_lines (void)
{
  T_ERR (parse ("-oi", "-t", "-f", "bounce@x.example", "-F", "Reports",
                NULL),
         0);
  T_CHECK (args.extract && args.mode == PAN_SENDMAIL_SEND);
  T_STREQ (args.env.sender, "bounce@x.example");
  T_STREQ (args.env.full_name, "Reports");
  T_CHECK (args.nrecipients == 0);

  T_ERR (parse ("-fbounce@x.example", "a@y.example", NULL), 0);
  T_STREQ (args.env.sender, "bounce@x.example");
  T_CHECK (!args.extract && args.nrecipients == 1);
  T_STREQ (args.recipients[0], "a@y.example");
  T_CHECK (args.recipients[1] == NULL);

  T_ERR (parse ("-t", "-f", "x", NULL), 0);
  T_STREQ (args.env.sender, "x");

  T_ERR (parse ("-r", "ops@x.example", "a@y.example", NULL), 0);
  T_STREQ (args.env.sender, "ops@x.example");
  T_CHECK (!args.extract);

  T_ERR (parse ("-oem", "-odi", "-N", "never", "-B", "8BITMIME", "-V",
                "env-42", "-R", "hdrs", "-t", NULL),
         0);
  T_STREQ (args.env.dsn_notify, "never");
  T_STREQ (args.env.body_type, "8BITMIME");
  T_STREQ (args.env.dsn_envid, "env-42");
  T_STREQ (args.env.dsn_ret, "hdrs");

  T_ERR (parse ("-R", "full", "-B", "7bit", "-RHDRS", "-t", NULL), 0);
  T_STREQ (args.env.dsn_ret, "HDRS");
  T_STREQ (args.env.body_type, "7bit");
  T_ERR (parse ("-R", "full", "-t", NULL), 0);
  T_STREQ (args.env.dsn_ret, "full");

  T_ERR (parse ("-N", "delay, failure", "-Nsuccess", "-t", NULL), 0);
  T_STREQ (args.env.dsn_notify, "success");
}

static void
test_letters (void)
{
  /* -n is ignored, as by Postfix: not a dry run.  */
  T_ERR (parse ("-n", "-t", NULL), 0);
  T_CHECK (!args.dry_run && args.extract);
  T_ERR (parse ("--dry-run", "-v", NULL), 0);
  T_CHECK (args.dry_run && args.verbose);
  /* -bm is the send mode, not a Bcc to "m".  */
  T_ERR (parse ("-bm", "a@y.example", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_SEND && args.nrecipients == 1);
  T_ERR (parse ("-bp", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_QUEUE_LIST);
  T_ERR (parse ("-q", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_FLUSH);
  T_ERR (parse ("--queue-drop", "c1-2", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_QUEUE_DROP);
  T_STREQ (args.queue_id, "c1-2");
  T_ERR (parse ("-q30m", "-t", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_SEND);
  /* Bundled letters; the argument of the last is the rest or the next. */
  T_ERR (parse ("-tif", "b@x.example", NULL), 0);
  T_CHECK (args.extract);
  T_STREQ (args.env.sender, "b@x.example");
  T_ERR (parse ("-itfb@x.example", NULL), 0);
  T_STREQ (args.env.sender, "b@x.example");
  /* Ignored letters with their arguments.  */
  T_ERR (parse ("-Am", "-C", "/etc/postfix", "-h", "5", "-L", "cron", "-O",
                "a=b", "-X", "/tmp/log", "-o", "i", "-o7", "-G", "-U", "-m",
                "-bh", "a@y.example", NULL),
         0);
  T_CHECK (args.nrecipients == 1);
  T_ERR (parse ("--home=/h", "--sendmail", "/bin/true -x", "--passphrase-fd",
                "7", "--", "-odd@y.example", NULL),
         0);
  T_STREQ (args.home, "/h");
  T_STREQ (args.sendmail, "/bin/true -x");
  T_CHECK (args.passphrase_fd == 7);
  T_STREQ (args.recipients[0], "-odd@y.example");
  T_ERR (parse ("-f", "<>", "-t", NULL), 0);
  T_STREQ (args.env.sender, "<>");
  T_ERR (parse ("--help", NULL), 0);
  T_CHECK (args.mode == PAN_SENDMAIL_HELP);
}

static void
test_refusals (void)
{
  refused ("unknown option \"-Z\"", parse ("-Z", NULL));
  refused ("unknown option \"--subject\"", parse ("--subject", "x", NULL));
  refused ("\"-f\" needs an argument", parse ("-t", "-f", NULL));
  refused ("options come before the recipients",
           parse ("a@y.example", "-f", "b@x.example", NULL));
  refused ("-bs", parse ("-bs", NULL));
  refused ("alias", parse ("-I", NULL));
  refused ("VERP", parse ("-XV", "-t", NULL));
  refused ("VERP", parse ("-V", "+=", "-t", NULL));
  refused ("8BITMIME", parse ("-B", "binarymime", NULL));
  refused ("never", parse ("-N", "never,success", NULL));
  refused ("never", parse ("-N", "failure,", NULL));
  refused ("full or hdrs", parse ("-R", "some", NULL));
  refused ("envelope ID", parse ("-V", "a=b+c", NULL));
  refused ("not a bare address", parse ("-f", "Ops <ops@x>", NULL));
  refused ("not a bare address", parse ("-f", "-t", NULL));
  refused ("takes no value", parse ("--dry-run=yes", NULL));
  refused ("needs a value", parse ("--home", NULL));
  refused ("file descriptor", parse ("--passphrase-fd", "x", NULL));
  refused ("no recipients in this mode", parse ("-q", "a@y.example", NULL));
  refused ("-qI", parse ("-qIABC", NULL));
  T_CHECK (args.recipients == NULL);
}

int
main (void)
{
  test_cron_lines ();
  test_letters ();
  test_refusals ();
  pan_sendmail_args_release (&args);
  pan_free (reason);
  return t_done ("t-sendmail-args");
}
