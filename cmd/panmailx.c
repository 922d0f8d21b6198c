/* panmailx - mailx's command line for pansend
 *
 * "report.sh | panmailx -s Subject -a out.csv partner@example.com":
 * builds a MIME message from the text on stdin, the subject, the
 * attachments and the addresses (pan_compose_open) and sends it through
 * pansend's send path, encrypted to every recipient's pinned key, or
 * sends nothing.  An attachment may be standard input ("-a -"), then
 * the message has no text.  Exit codes are pansend's, see panmailx(1). */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pansend.h"

static const char usage[] =
  "Usage: panmailx [-s SUBJECT] [-a FILE[;TYPE[;NAME]]]... [-c ADDR]...\n"
  "                [-b ADDR]... [-r FROM] [OPTION...] [--] ADDR... < TEXT";

static const char help_text[] =
  "Send the text on stdin, with attachments, encrypted to every\n"
  "recipient's pinned key, or send nothing at all.\n"
  "  -s SUBJECT            the Subject\n"
  "  -a FILE[;TYPE[;NAME]] attach FILE (\"-\": standard input, then the\n"
  "                        message has no text) as TYPE named NAME\n"
  "  -c ADDR, -b ADDR      Cc and Bcc recipients (address lists)\n"
  "  -r FROM               the From and the envelope sender\n"
  "  --home DIR, --sendmail CMD, --dry-run, -v/--verbose, --help,\n"
  "  --version             as pansend's\n"
  "See panmailx(1).\n";

/* What the command line asks for.  */
struct mailx
{
  struct pan_compose spec;
  struct pan_attachment *atts;
  const char **lists[3]; /* To, Cc, Bcc: NULL-terminated.  */
  size_t nlists[3];
  int stdin_used; /* An attachment is standard input.  */
};

static void
out_of_core (void)
{
  cmd_error (gpg_error_from_syserror (), "out of memory", NULL);
  exit (EX_OSERR);
}

static void usage_error (const char *fmt, ...) GPGRT_ATTR_PRINTF (1, 2);

/* Say "panmailx: " and what FMT says, with a hint, and exit 64.  */
static void
usage_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  es_fputs ("panmailx: ", es_stderr);
  es_vfprintf (es_stderr, fmt, ap);
  va_end (ap);
  es_fputs ("; see panmailx --help\n", es_stderr);
  exit (EX_USAGE);
}

static void
add_to_list (struct mailx *m, int which, const char *value)
{
  const char **tmp = realloc (m->lists[which],
                              (m->nlists[which] + 2) * sizeof *tmp);

  if (!tmp)
    out_of_core ();
  tmp[m->nlists[which]++] = value;
  tmp[m->nlists[which]] = NULL;
  m->lists[which] = tmp;
}

/* True if PATH names our standard input ("-", or the same file).  */
static int
is_stdin (const char *path)
{
  struct stat a, b;

  if (!strcmp (path, "-"))
    return 1;
  return !stat (path, &a) && !fstat (0, &b) && a.st_dev == b.st_dev
    && a.st_ino == b.st_ino;
}

/* True if TYPE is "type/subtype" of MIME token characters.  */
static int
is_mime_type (const char *type)
{
  size_t n = strspn (type,
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                     "WXYZ0123456789!#$&-^_.+");

  return n && type[n] == '/' && type[n + 1]
    && !type[n + 1
             + strspn (type + n + 1,
                       "abcdefghijklmnopqrstuvwxyzABC"
                       "DEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&-^_.+")];
}

/* -a FILE[;TYPE[;NAME]]: FILE up to the first ';', TYPE up to the next
 * (empty: from the name), NAME the rest.  SPEC is modified.  */
static void
add_attachment (struct mailx *m, char *spec)
{
  struct pan_attachment *a;
  char *type = strchr (spec, ';'), *name = NULL;

  if (type)
    *type++ = 0;
  if (type && (name = strchr (type, ';')))
    *name++ = 0;
  if (!*spec)
    usage_error ("-a: no file named");
  if (type && *type && !is_mime_type (type))
    usage_error ("-a: \"%s\" is not a content type (type/subtype)", type);
  if (name && (!*name || strchr (name, '/')))
    usage_error ("-a: \"%s\" is not a file name", name ? name : "");
  a = realloc (m->atts, (m->spec.nattachments + 1) * sizeof *a);
  if (!a)
    out_of_core ();
  m->atts = a;
  a = &m->atts[m->spec.nattachments++];
  memset (a, 0, sizeof *a);
  a->type = type && *type ? type : NULL;
  a->name = name;
  if (is_stdin (spec))
    {
      if (m->stdin_used++)
        usage_error ("-a %s: standard input is attached already", spec);
      a->stream = es_stdin;
      if (!a->name && strcmp (spec, "-"))
        a->name = strrchr (spec, '/') ? strrchr (spec, '/') + 1 : spec;
    }
  else
    a->path = spec;
}

/* Take the value of the option ARGV[*I] (rest of the word after the
 * letter, or the next word).  */
static char *
value_of (int argc, char **argv, int *i)
{
  if (argv[*i][2])
    return argv[*i] + 2;
  if (*i + 1 >= argc)
    usage_error ("option \"%s\" needs a value", argv[*i]);
  return argv[++*i];
}

/* A long option of pansend's that panmailx takes as well.  */
static void
take_long (struct options *o, int argc, char **argv, int *i)
{
  const char *a = argv[*i];

  if (!strcmp (a, "--home") || !strcmp (a, "--sendmail"))
    {
      if (*i + 1 >= argc)
        usage_error ("option \"%s\" needs a value", a);
      *(a[2] == 'h' ? &o->args.home : &o->args.sendmail) = argv[++*i];
    }
  else if (!strcmp (a, "--dry-run"))
    o->args.dry_run = 1;
  else if (!strcmp (a, "--verbose"))
    o->args.verbose = 1;
  else if (!strcmp (a, "--help"))
    {
      es_printf ("%s\n%s", usage, help_text);
      exit (0);
    }
  else if (!strcmp (a, "--version"))
    {
      cmd_print_version ();
      exit (0);
    }
  else
    usage_error ("unknown option \"%s\"", a);
}

static void
take_option (struct mailx *m, struct options *o, int argc, char **argv,
             int *i)
{
  switch (argv[*i][1])
    {
    case '-': take_long (o, argc, argv, i); break;
    case 's': m->spec.subject = value_of (argc, argv, i); break;
    case 'a': add_attachment (m, value_of (argc, argv, i)); break;
    case 'c': add_to_list (m, 1, value_of (argc, argv, i)); break;
    case 'b': add_to_list (m, 2, value_of (argc, argv, i)); break;
    case 'r': m->spec.from = value_of (argc, argv, i); break;
    case 'v':
      if (argv[*i][2])
        usage_error ("unknown option \"%s\"", argv[*i]);
      o->args.verbose = 1;
      break;
    default: usage_error ("unknown option \"%s\"", argv[*i]);
    }
}

static void
parse_options (int argc, char **argv, struct mailx *m, struct options *o)
{
  int i, dashes = 0;

  for (i = 1; i < argc; i++)
    if (dashes || argv[i][0] != '-' || !argv[i][1])
      add_to_list (m, 0, argv[i]);
    else if (!strcmp (argv[i], "--"))
      dashes = 1;
    else
      take_option (m, o, argc, argv, &i);
  if (!m->nlists[0] && !m->nlists[1] && !m->nlists[2])
    usage_error ("no recipients: give addresses, -c or -b");
}

/* The envelope sender of -r FROM: its address.  */
static const char *
sender_of (const char *from, char **r_copy)
{
  pan_addrlist_t list = NULL;
  const char *lt;

  *r_copy = NULL;
  if (!pan_addrlist_new (&list) && !pan_addrlist_parse (list, from, NULL)
      && pan_addrlist_count (list) == 1)
    *r_copy = strdup (pan_addrlist_addr (list, 0));
  else if ((lt = strrchr (from, '<')) && strchr (lt, '>'))
    *r_copy = strndup (lt + 1, strchr (lt, '>') - lt - 1);
  pan_addrlist_release (list);
  return *r_copy;
}

int
main (int argc, char **argv)
{
  struct mailx m;
  struct options o;
  gpg_error_t err;
  gpgrt_stream_t body = NULL;
  char *reason = NULL, *sender = NULL;
  int rc;

  memset (&m, 0, sizeof m);
  memset (&o, 0, sizeof o);
  o.args.passphrase_fd = -1;
  o.args.extract = 1;
  cmd_setup ("panmailx", usage, help_text);
  parse_options (argc, argv, &m, &o);
  cmd_init_library ();
  m.spec.to = m.lists[0];
  m.spec.cc = m.lists[1];
  m.spec.bcc = m.lists[2];
  m.spec.attachments = m.atts;
  if (m.spec.from)
    o.args.env.sender = sender_of (m.spec.from, &sender);
  /* With standard input attached, the message has no text.  */
  body = m.stdin_used ? es_fopenmem_init (0, "r", "", 0) : es_stdin;
  if (!body)
    out_of_core ();
  err = pan_compose_open (&m.spec, body, time (NULL), &o.in, &reason);
  if (err)
    {
      rc = gpg_err_code (err) == GPG_ERR_INV_USER_ID ? EX_USAGE : EX_NOINPUT;
      cmd_error (err, "composing the message", reason);
    }
  else
    rc = pansend_send (&o);
  es_fclose (o.in);
  if (body != es_stdin)
    es_fclose (body);
  free (sender);
  free (m.atts);
  for (int k = 0; k < 3; k++)
    free (m.lists[k]);
  return rc;
}
