/* sendmail-args.c - the sendmail(1) command line
 *
 * pansend takes the command line of sendmail(1), Postfix's being the
 * reference: getopt-style letters that may be bundled ("-ti"), whose
 * argument is the rest of the word or the next word ("-fX", "-f X"),
 * options up to the first recipient or "--".  Each letter Postfix
 * documents is honoured, passed on in the envelope, or accepted and
 * ignored as Postfix ignores it; a mode pansend does not offer (-bs,
 * -bd, -I, ...) and a letter Postfix does not know are usage errors.
 * pansend's own options are all long ones (--home, --dry-run, ...).  */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"

/* Letters that take an argument (getopt's "X:"), and those that do not. */
#define WITH_ARG "ABCFLNORVXbfhoqr"
#define NO_ARG "GIUimntv"

/* A usage error with a reason made from the format and arguments.  */
#define usage_error(r_reason, ...) \
  pani_reason ((r_reason), gpg_error (GPG_ERR_INV_ARG), __VA_ARGS__)

/* True if S, ignoring ASCII case, is one of the lower-case WORDS
 * (NULL-terminated).  */
static int
is_one_of (const char *s, const char *const *words)
{
  for (; *words; words++)
    if (pani_mem_caseeq (s, strlen (s), *words))
      return 1;
  return 0;
}

static const char *const body_types[] = { "7bit", "8bitmime", NULL };
static const char *const dsn_rets[] = { "full", "hdrs", NULL };

/* -N: "never", or a comma-separated list of success, failure, delay
 * (white space around the words allowed, as Postfix's default "delay,
 * failure").  */
static int
is_dsn_notify (const char *s)
{
  int words = 0, never = 0;

  while (*s)
    {
      const char *end;
      size_t n;

      while (*s == ' ' || *s == '\t')
        s++;
      end = s + strcspn (s, ", \t");
      n = end - s;
      if (pani_mem_caseeq (s, n, "never"))
        never = 1;
      else if (!pani_mem_caseeq (s, n, "success")
               && !pani_mem_caseeq (s, n, "failure")
               && !pani_mem_caseeq (s, n, "delay"))
        return 0;
      words++;
      for (s = end; *s == ' ' || *s == '\t'; s++)
        ;
      if (*s == ',' && !*++s)
        return 0;
    }
  return words && (!never || words == 1);
}

/* -V: an RFC 3461 ENVID, printable ASCII without '+' and '=' (which
 * would need xtext), at most 100 characters.  */
static int
is_envid (const char *s)
{
  size_t n = strlen (s);

  if (!n || n > 100)
    return 0;
  for (; *s; s++)
    if (*s <= ' ' || *s > '~' || *s == '+' || *s == '=')
      return 0;
  return 1;
}

/* -f/-r: "<>" (the null sender), a bare addr-spec, or a bare local part
 * such as a login name, which the MTA qualifies.  */
static gpg_error_t
check_sender (const char *s, char **r_reason)
{
  char *norm = NULL;
  gpg_error_t err;

  if (!strcmp (s, "<>"))
    return 0;
  if (!strchr (s, '@'))
    {
      for (const char *p = s; *p; p++)
        if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._+-",
                     *p))
          goto bad;
      if (*s && *s != '-' && *s != '.')
        return 0;
      goto bad;
    }
  err = pan_addr_normalize (s, &norm, NULL);
  free (norm);
  if (!err)
    return 0;
bad:
  return usage_error (r_reason,
                      "the envelope sender \"%s\" is not a bare"
                      " address (local@domain, a login name or <>);"
                      " give -f with the address only, the name goes in"
                      " the From header",
                      s);
}

/* Store the argument VAL of the option letter C in ARGS.  */
static gpg_error_t
take_value (struct pan_sendmail_args *args, int c, const char *val,
            char **r_reason)
{
  switch (c)
    {
    case 'B':
      if (!is_one_of (val, body_types))
        return usage_error (r_reason,
                            "-B %s: the body type is 7BIT or"
                            " 8BITMIME",
                            val);
      args->env.body_type = val;
      return 0;
    case 'F': args->env.full_name = val; return 0;
    case 'N':
      if (!is_dsn_notify (val))
        return usage_error (r_reason,
                            "-N %s: give never, or a list of"
                            " success, failure and delay",
                            val);
      args->env.dsn_notify = val;
      return 0;
    case 'R':
      if (!is_one_of (val, dsn_rets))
        return usage_error (r_reason, "-R %s: give full or hdrs", val);
      args->env.dsn_ret = val;
      return 0;
    case 'V':
      if (!is_envid (val))
        return usage_error (r_reason,
                            "-V %s: the envelope ID is 1 to 100"
                            " printable characters without '+' and '='",
                            val);
      args->env.dsn_envid = val;
      return 0;
    case 'f':
    case 'r': args->env.sender = val; return check_sender (val, r_reason);
    default:
      /* -A, -C, -L, -O, -X, -h and every -oX: ignored, as Postfix does
       * (-oi is what pansend always does).  */
      return 0;
    }
}

/* -bX: the mode.  */
static gpg_error_t
take_mode (struct pan_sendmail_args *args, const char *val, char **r_reason)
{
  if (!strcmp (val, "m"))
    args->mode = PAN_SENDMAIL_SEND;
  else if (!strcmp (val, "p"))
    args->mode = PAN_SENDMAIL_QUEUE_LIST;
  else if (strcmp (val, "h") && strcmp (val, "H"))
    return usage_error (r_reason,
                        "-b%s: pansend does not offer this mode"
                        " of sendmail; it sends a message (-bm) and lists"
                        " its queue (-bp)",
                        val);
  return 0;
}

/* -qX (a bare -q is the flush).  */
static gpg_error_t
take_queue (struct pan_sendmail_args *args, const char *val, char **r_reason)
{
  if (*val >= '0' && *val <= '9')
    return 0; /* -qINTERVAL: ignored, as Postfix does. */
  (void)args;
  return usage_error (r_reason,
                      "-q%s: pansend flushes its whole queue"
                      " (-q or --flush) or drops one copy (--queue-drop"
                      " ID)",
                      val);
}

/* Postfix reads "-V xy" and "-Vxy" (two characters) as the old spelling
 * of -XV (VERP), which pansend does not offer.  */
static int
is_verp (int argc, char **argv, int i)
{
  const char *a = argv[i];

  return (!strcmp (a, "-V") && i + 1 < argc && strlen (argv[i + 1]) == 2)
    || (!strncmp (a, "-V", 2) && strlen (a) == 4) || !strcmp (a, "-XV")
    || (!strncmp (a, "-XV", 3) && strlen (a) == 5);
}

/* A flag letter C (no argument).  */
static gpg_error_t
take_flag (struct pan_sendmail_args *args, int c, char **r_reason)
{
  switch (c)
    {
    case 't': args->extract = 1; break;
    case 'v': args->verbose = 1; break;
    case 'I':
      return usage_error (r_reason,
                          "-I: pansend keeps no alias database"
                          " (newaliases is the MTA's)");
    default: break; /* -i (always), -n, -m, -G, -U: ignored.  */
    }
  return 0;
}

/* The short options of ARGV[*I], bundled as getopt allows; an option
 * with an argument takes the rest of the word or the next word.  */
static gpg_error_t
take_short (struct pan_sendmail_args *args, int argc, char **argv, int *i,
            char **r_reason)
{
  const char *a = argv[*i];
  char letter[3] = { '-', 0, 0 };
  gpg_error_t err = 0;

  for (size_t j = 1; !err && a[j]; j++)
    {
      const char *val = a + j + 1;

      letter[1] = a[j];
      if (strchr (NO_ARG, a[j]))
        {
          err = take_flag (args, a[j], r_reason);
          continue;
        }
      if (!strchr (WITH_ARG, a[j]))
        return usage_error (r_reason,
                            "unknown option \"%s\"; pansend"
                            " takes sendmail(1)'s options and its own long"
                            " ones (see pansend --help and pansend(1))",
                            letter);
      if (!*val && *i + 1 >= argc)
        return usage_error (r_reason, "option \"%s\" needs an argument",
                            letter);
      if (!*val)
        val = argv[++*i];
      if (a[j] == 'b')
        return take_mode (args, val, r_reason);
      if (a[j] == 'q')
        return take_queue (args, val, r_reason);
      return take_value (args, a[j], val, r_reason);
    }
  return err;
}

/* pansend's long options: NAME, whether it takes a value, and its id.  */
enum long_id
{
  L_HOME,
  L_SENDMAIL,
  L_PASSPHRASE_FD,
  L_QUEUE_DROP,
  L_DRY_RUN,
  L_VERBOSE,
  L_FLUSH,
  L_QUEUE_LIST,
  L_HELP,
  L_VERSION
};

static const struct
{
  const char *name;
  int has_arg;
} long_opts[] = {
  [L_HOME] = {"home",           1},
  [L_SENDMAIL] = { "sendmail",      1},
  [L_PASSPHRASE_FD] = { "passphrase-fd", 1},
  [L_QUEUE_DROP] = { "queue-drop",    1},
  [L_DRY_RUN] = { "dry-run",       0},
  [L_VERBOSE] = { "verbose",       0},
  [L_FLUSH] = { "flush",         0},
  [L_QUEUE_LIST] = { "queue-list",    0},
  [L_HELP] = { "help",          0},
  [L_VERSION] = { "version",       0}
};

static gpg_error_t
take_fd (struct pan_sendmail_args *args, const char *val, char **r_reason)
{
  char *end;
  long n = strtol (val, &end, 10);

  if (*val < '0' || *val > '9' || *end || n > INT_MAX)
    return usage_error (r_reason,
                        "--passphrase-fd %s: give a file"
                        " descriptor number",
                        val);
  args->passphrase_fd = (int)n;
  return 0;
}

/* The long option ID that takes the value VAL.  */
static gpg_error_t
take_long_value (struct pan_sendmail_args *args, enum long_id id,
                 const char *val, char **r_reason)
{
  switch (id)
    {
    case L_HOME: args->home = val; break;
    case L_SENDMAIL: args->sendmail = val; break;
    case L_PASSPHRASE_FD: return take_fd (args, val, r_reason);
    case L_QUEUE_DROP:
      if (!*val)
        return usage_error (r_reason,
                            "--queue-drop: name the copy (see"
                            " pansend --queue-list)");
      args->queue_id = val;
      args->mode = PAN_SENDMAIL_QUEUE_DROP;
      break;
    default: break;
    }
  return 0;
}

/* The long option ID that takes no value.  */
static void
take_long_flag (struct pan_sendmail_args *args, enum long_id id)
{
  switch (id)
    {
    case L_DRY_RUN: args->dry_run = 1; break;
    case L_VERBOSE: args->verbose = 1; break;
    case L_FLUSH: args->mode = PAN_SENDMAIL_FLUSH; break;
    case L_QUEUE_LIST: args->mode = PAN_SENDMAIL_QUEUE_LIST; break;
    case L_HELP: args->mode = PAN_SENDMAIL_HELP; break;
    case L_VERSION: args->mode = PAN_SENDMAIL_VERSION; break;
    default: break;
    }
}

/* The long option ARGV[*I] ("--name", "--name=value", "--name value"). */
static gpg_error_t
take_long (struct pan_sendmail_args *args, int argc, char **argv, int *i,
           char **r_reason)
{
  const char *name = argv[*i] + 2;
  const char *eq = strchr (name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen (name);

  for (size_t k = 0; k < sizeof long_opts / sizeof *long_opts; k++)
    {
      if (strlen (long_opts[k].name) != len
          || strncmp (long_opts[k].name, name, len))
        continue;
      if (!long_opts[k].has_arg && eq)
        return usage_error (r_reason, "option \"--%s\" takes no value",
                            long_opts[k].name);
      if (long_opts[k].has_arg && !eq && *i + 1 >= argc)
        return usage_error (r_reason, "option \"--%s\" needs a value",
                            long_opts[k].name);
      if (!long_opts[k].has_arg)
        {
          take_long_flag (args, (enum long_id)k);
          return 0;
        }
      return take_long_value (args, (enum long_id)k,
                              eq ? eq + 1 : argv[++*i], r_reason);
    }
  return usage_error (r_reason,
                      "unknown option \"%s\"; pansend takes"
                      " sendmail(1)'s options and its own long ones (see"
                      " pansend --help and pansend(1))",
                      argv[*i]);
}

/* The options of ARGV up to the first recipient; store the index of the
 * first recipient at *R_FIRST and whether "--" came before it at
 * *R_DASHES.  */
static gpg_error_t
take_options (struct pan_sendmail_args *args, int argc, char **argv,
              int *r_first, int *r_dashes, char **r_reason)
{
  gpg_error_t err = 0;
  int i;

  *r_dashes = 0;
  for (i = 1; !err && i < argc; i++)
    {
      const char *a = argv[i];

      if (!strcmp (a, "--"))
        {
          *r_dashes = 1;
          i++;
          break;
        }
      if (a[0] != '-' || !a[1])
        break;
      if (a[1] == '-')
        err = take_long (args, argc, argv, &i, r_reason);
      else if (!strcmp (a, "-q"))
        args->mode = PAN_SENDMAIL_FLUSH;
      else if (is_verp (argc, argv, i))
        err = usage_error (r_reason,
                           "%s: pansend does not offer VERP"
                           " (-XV, and -V with two characters, which Postfix"
                           " reads as VERP); an envelope ID (-V) needs at"
                           " least three characters",
                           a);
      else
        err = take_short (args, argc, argv, &i, r_reason);
    }
  *r_first = i;
  return err;
}

/* The recipients ARGV[FIRST...]: after "--" (DASHES) anything, else no
 * word that looks like an option.  */
static gpg_error_t
take_recipients (struct pan_sendmail_args *args, int argc, char **argv,
                 int first, int dashes, char **r_reason)
{
  size_t n = argc > first ? (size_t)(argc - first) : 0;

  if (!(args->recipients = calloc (n + 1, sizeof *args->recipients)))
    return gpg_error_from_syserror ();
  for (int i = first; i < argc; i++)
    {
      if (argv[i][0] == '-' && !dashes)
        return usage_error (r_reason,
                            "\"%s\" after the first recipient:"
                            " options come before the recipients, as with"
                            " sendmail (an address that starts with '-'"
                            " goes after \"--\")",
                            argv[i]);
      if (!*argv[i])
        return usage_error (r_reason, "an empty recipient");
      args->recipients[args->nrecipients++] = argv[i];
    }
  return 0;
}

gpg_error_t
pan_sendmail_args_parse (int argc, char **argv,
                         struct pan_sendmail_args *r_args, char **r_reason)
{
  gpg_error_t err;
  int first, dashes;

  memset (r_args, 0, sizeof *r_args);
  r_args->passphrase_fd = -1;
  if ((err = take_options (r_args, argc, argv, &first, &dashes, r_reason))
      || (err = take_recipients (r_args, argc, argv, first, dashes,
                                 r_reason)))
    goto leave;
  if (r_args->mode == PAN_SENDMAIL_SEND && !r_args->nrecipients)
    r_args->extract = 1; /* "| pansend" is "| sendmail -t".  */
  else if (r_args->mode != PAN_SENDMAIL_SEND && r_args->nrecipients)
    err = usage_error (r_reason,
                       "\"%s\": no recipients in this mode (-bp, -q,"
                       " --queue-drop)",
                       r_args->recipients[0]);
leave:
  if (err)
    pan_sendmail_args_release (r_args);
  return err;
}

void
pan_sendmail_args_release (struct pan_sendmail_args *args)
{
  if (!args)
    return;
  free (args->recipients);
  args->recipients = NULL;
  args->nrecipients = 0;
}
