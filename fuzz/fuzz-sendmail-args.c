/* fuzz-sendmail-args.c - libFuzzer target for the sendmail(1) command
 * line parser
 *
 * The input is split at NUL bytes into the words of a command line after
 * "pansend".  A parse either fails with a reason and nothing allocated,
 * or yields recipients that are words of the command line, none of them
 * empty, and an envelope whose strings are words or their tails.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_WORDS 64

/* True if S points into one of the ARGC words of ARGV.  */
static int
is_inside (const char *s, int argc, char **argv)
{
  for (int i = 0; s && i < argc; i++)
    if (s >= argv[i] && s <= argv[i] + strlen (argv[i]))
      return 1;
  return !s;
}

static void
check (int argc, char **argv)
{
  struct pan_sendmail_args args;
  char *reason = NULL;

  if (pan_sendmail_args_parse (argc, argv, &args, &reason))
    {
      if (!reason || args.recipients || args.nrecipients)
        abort ();
      pan_free (reason);
      return;
    }
  if (reason || !args.recipients || args.recipients[args.nrecipients]
      || (args.mode == PAN_SENDMAIL_SEND && !args.nrecipients
          && !args.extract))
    abort ();
  for (size_t i = 0; i < args.nrecipients; i++)
    if (!*args.recipients[i] || !is_inside (args.recipients[i], argc, argv))
      abort ();
  const char *const strs[] = { args.env.sender,     args.env.full_name,
                               args.env.dsn_notify, args.env.dsn_ret,
                               args.env.dsn_envid,  args.env.body_type,
                               args.home,           args.sendmail,
                               args.queue_id };
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
    if (!is_inside (strs[i], argc, argv))
      abort ();
  pan_sendmail_args_release (&args);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *copy = malloc (size + 1);
  char *argv[MAX_WORDS + 2];
  int argc = 0;
  size_t start = 0;

  if (!copy)
    return 0;
  if (size)
    memcpy (copy, data, size);
  copy[size] = 0;
  argv[argc++] = (char *)"pansend";
  for (size_t i = 0; i <= size && argc <= MAX_WORDS; i++)
    if (!copy[i])
      {
        if (i > start || i < size)
          argv[argc++] = copy + start;
        start = i + 1;
      }
  argv[argc] = NULL;
  check (argc, argv);
  free (copy);
  return 0;
}
