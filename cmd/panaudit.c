/* panaudit - read and verify the tamper-evident audit log
 *
 * Commands: log, verify, anchor, report, init-key, note.  See
 * panaudit(1).
 * Exit status: 0 ok (log intact), 1 the log is damaged, 2 usage or I/O
 * error.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GPGRT_ENABLE_ARGPARSE_MACROS 1
#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"

#define EXIT_DAMAGED 1
#define EXIT_ERROR 2

enum opt_values
  {
    oHome = 500,
    oSince,
    oUntil,
    oRecipient,
    oEvent,
    oMessageId,
    oJson,
    oCsv,
    oKey,
    oAnchor
  };

static gpgrt_opt_t opts[] =
  {
    ARGPARSE_group (300, "@Commands:\n "
                    "  log [filters] [--json|--csv]  show records\n"
                    "  verify [--key FILE|-] [--anchor LINE]\n"
                    "                                check the log\n"
                    "  anchor                        print the head of the"
                    " log\n"
                    "  report [--since T] [--until T] [--key FILE|-]\n"
                    "                                summary for an"
                    " assessor\n"
                    "  init-key                      create the audit key"
                    " (once)\n"
                    "  note TEXT                     record an operator note"
                    " (e.g. a log review)\n"
                    "\nOptions:\n "),
    ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
    ARGPARSE_s_s (oSince, "since", "|TIME|records at or after TIME"
                  " (YYYY-MM-DD or RFC 3339)"),
    ARGPARSE_s_s (oUntil, "until", "|TIME|records at or before TIME"),
    ARGPARSE_s_s (oRecipient, "recipient", "|ADDR|records naming ADDR"),
    ARGPARSE_s_s (oEvent, "event", "|EVENT|records of EVENT (send, refuse,"
                  " queue, enroll, ...)"),
    ARGPARSE_s_s (oMessageId, "message-id", "|ID|records of the message"
                  " ID"),
    ARGPARSE_s_n (oJson, "json", "log: the records as stored (JSON lines)"),
    ARGPARSE_s_n (oCsv, "csv", "log: CSV with a header line"),
    ARGPARSE_s_s (oKey, "key", "|FILE|check every MAC with the initial key"
                  " in FILE (- = stdin)"),
    ARGPARSE_s_s (oAnchor, "anchor", "|LINE|check against an anchor line"),
    ARGPARSE_end ()
  };

struct options
{
  const char *home;
  const char *since, *until;
  struct pan_audit_filter filter;
  int json, csv;
  const char *key_file;
  const char *anchor;
  char *args[2];
  int nargs;
};

static void
usage_error (const char *what)
{
  cmd_info ("%s (see 'panaudit --help')", what);
  exit (EXIT_ERROR);
}

static void
parse_options (int *argc, char ***argv, struct options *o)
{
  gpgrt_argparse_t pargs;

  memset (&pargs, 0, sizeof pargs);
  pargs.argc = argc;
  pargs.argv = argv;
  pargs.flags = ARGPARSE_FLAG_MIXED | ARGPARSE_FLAG_ALL;

  while (gpgrt_argparse (NULL, &pargs, opts))
    switch (pargs.r_opt)
      {
      case ARGPARSE_IS_ARG:
        if (o->nargs == 2)
          usage_error ("too many arguments");
        o->args[o->nargs++] = pargs.r.ret_str;
        break;
      case oHome: o->home = pargs.r.ret_str; break;
      case oSince: o->since = pargs.r.ret_str; break;
      case oUntil: o->until = pargs.r.ret_str; break;
      case oRecipient: o->filter.recipient = pargs.r.ret_str; break;
      case oEvent: o->filter.event = pargs.r.ret_str; break;
      case oMessageId: o->filter.message_id = pargs.r.ret_str; break;
      case oJson: o->json = 1; break;
      case oCsv: o->csv = 1; break;
      case oKey: o->key_file = pargs.r.ret_str; break;
      case oAnchor: o->anchor = pargs.r.ret_str; break;
      default: pargs.err = ARGPARSE_PRINT_ERROR; break;
      }
  if (pargs.err)
    exit (EXIT_ERROR);
  gpgrt_argparse (NULL, &pargs, NULL);
}

/* Parse --since and --until into the filter.  */
static void
parse_times (struct options *o)
{
  if (o->since && pan_audit_parse_time (o->since, 0, &o->filter.since))
    usage_error ("--since: not YYYY-MM-DD or an RFC 3339 time");
  if (o->until && pan_audit_parse_time (o->until, 1, &o->filter.until))
    usage_error ("--until: not YYYY-MM-DD or an RFC 3339 time");
}

static int
open_home (struct options *o, pan_ctx_t *r_ctx)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_ctx_open (o->home, r_ctx, &reason)))
    {
      cmd_error (err, "opening the home", reason);
      return EXIT_ERROR;
    }
  return 0;
}


/* panaudit log */

static void
put_recipients (estream_t out, const struct pan_audit_event *ev,
                int fingerprints)
{
  for (size_t i = 0; i < ev->nkeys; i++)
    {
      if (i)
        es_putc (' ', out);
      cmd_put_safe (out, fingerprints ? (ev->keys[i].fingerprint
                                         ? ev->keys[i].fingerprint : "-")
                    : ev->keys[i].address);
    }
}

static void
print_table_row (const struct pan_audit_record *rec)
{
  char when[32], code[16] = "-";
  const struct pan_audit_event *ev = &rec->ev;

  if (ev->exit_code >= 0)
    snprintf (code, sizeof code, "%d", ev->exit_code);
  es_fprintf (es_stdout, "%6llu  %-20s  %-9s %-8s %4s  ", rec->seq,
              pan_time_format (rec->time, when, sizeof when), ev->event,
              ev->outcome ? ev->outcome : "-", code);
  cmd_put_safe (es_stdout, ev->message_id ? ev->message_id : "-");
  es_putc (' ', es_stdout);
  put_recipients (es_stdout, ev, 0);
  if (ev->reason)
    {
      es_fputs ("  (", es_stdout);
      cmd_put_safe (es_stdout, ev->reason);
      es_putc (')', es_stdout);
    }
  es_putc ('\n', es_stdout);
}

/* Print TEXT as one CSV field: quoted if needed, control characters
 * replaced, and a leading = + - @ defused so that a spreadsheet does
 * not run it as a formula.  */
static void
put_csv (const char *text)
{
  int quote = strpbrk (text, ",\"") != NULL || strchr ("=+-@", *text);

  if (!*text)
    return;
  if (quote)
    es_putc ('"', es_stdout);
  if (strchr ("=+-@", *text))
    es_putc ('\'', es_stdout);
  for (; *text; text++)
    if (*text == '"')
      es_fputs ("\"\"", es_stdout);
    else
      es_putc ((unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text,
               es_stdout);
  if (quote)
    es_putc ('"', es_stdout);
}

static void
put_csv_opt (const char *text)
{
  es_putc (',', es_stdout);
  put_csv (text ? text : "");
}

static void
print_csv_row (const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  char when[32];

  es_fprintf (es_stdout, "%llu,%s", rec->seq,
              pan_time_format (rec->time, when, sizeof when));
  put_csv_opt (ev->event);
  put_csv_opt (ev->tool);
  put_csv_opt (ev->operator_name);
  put_csv_opt (rec->host);
  put_csv_opt (ev->message_id);
  put_csv_opt (ev->envelope_from);
  put_csv_opt (ev->header_from);
  es_fputs (",\"", es_stdout);
  put_recipients (es_stdout, ev, 0);
  es_fputs ("\",\"", es_stdout);
  put_recipients (es_stdout, ev, 1);
  es_fprintf (es_stdout, "\",%zu", ev->npans);
  put_csv_opt (ev->ciphertext_sha256);
  if (ev->ciphertext_sha256)
    es_fprintf (es_stdout, ",%lld", ev->size);
  else
    es_putc (',', es_stdout);
  put_csv_opt (ev->outcome);
  if (ev->exit_code >= 0)
    es_fprintf (es_stdout, ",%d", ev->exit_code);
  else
    es_putc (',', es_stdout);
  put_csv_opt (ev->reason);
  es_putc ('\n', es_stdout);
}

static void
print_header (const struct options *o)
{
  if (o->csv)
    es_fputs ("seq,time,event,tool,operator,host,message_id,envelope_from,"
              "header_from,recipients,fingerprints,pan_count,"
              "ciphertext_sha256,size,outcome,exit_code,reason\n",
              es_stdout);
  else if (!o->json)
    es_fprintf (es_stdout, "%6s  %-20s  %-9s %-8s %4s  %s\n", "SEQ", "TIME",
                "EVENT", "OUTCOME", "EXIT", "MESSAGE-ID RECIPIENTS (REASON)");
}

static void
print_record (const struct options *o, const struct pan_audit_record *rec)
{
  if (o->json)
    {
      es_write (es_stdout, rec->line, rec->line_len, NULL);
      es_putc ('\n', es_stdout);
    }
  else if (o->csv)
    print_csv_row (rec);
  else
    print_table_row (rec);
}

static int
cmd_log (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_audit_reader_t rd = NULL;
  const struct pan_audit_record *rec;
  char *reason = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("log takes no arguments");
  if (o->json && o->csv)
    usage_error ("--json and --csv exclude each other");
  parse_times (o);
  if ((rc = open_home (o, &ctx)))
    return rc;
  if ((err = pan_audit_open (ctx, &o->filter, &rd, &reason)))
    {
      cmd_error (err, "reading the audit log", reason);
      rc = EXIT_ERROR;
      goto leave;
    }
  print_header (o);
  while (!(err = pan_audit_next (rd, &rec)))
    print_record (o, rec);
  if (pan_audit_skipped (rd))
    cmd_info ("warning: %llu lines of the log are not records (torn by an"
              " interrupted writer, or damaged): see 'panaudit verify'",
              pan_audit_skipped (rd));
  if (es_fflush (es_stdout) || gpg_err_code (err) != GPG_ERR_EOF)
    rc = EXIT_ERROR;

 leave:
  pan_audit_close (rd);
  pan_ctx_release (ctx);
  return rc;
}


/* panaudit verify, anchor, report */

static void
print_warnings (const char *warnings)
{
  const char *nl;

  while (warnings && *warnings)
    {
      nl = strchr (warnings, '\n');
      es_fprintf (es_stderr, "%s: warning: %.*s\n", cmd_name (),
                  (int)(nl ? nl - warnings : (long)strlen (warnings)),
                  warnings);
      warnings = nl ? nl + 1 : NULL;
    }
}

/* Tell the verdict V; return the exit status.  */
static int
print_verdict (const struct pan_audit_verdict *v)
{
  print_warnings (v->warnings);
  if (v->damage)
    {
      cmd_info ("TAMPERED: %s", v->message ? v->message : "damaged");
      return EXIT_DAMAGED;
    }
  es_fprintf (es_stdout, "%s: intact: %llu records; hash chain and audit.key"
              " %s; head sha256 %s\n", cmd_name (), v->nrecords,
              v->key_checked ? "and every MAC checked with the key"
              : "checked (MACs not checked: give --key)", v->head);
  return 0;
}

static int
cmd_verify (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  struct pan_audit_verdict v;
  char *reason = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("verify takes no arguments");
  if ((rc = open_home (o, &ctx)))
    return rc;
  err = pan_audit_verify (ctx, o->key_file, o->anchor, &v, &reason);
  if (err)
    {
      cmd_error (err, "verify", reason);
      rc = EXIT_ERROR;
    }
  else
    rc = print_verdict (&v);
  pan_audit_verdict_release (&v);
  pan_ctx_release (ctx);
  return rc;
}

static int
cmd_anchor (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *line = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("anchor takes no arguments");
  if ((rc = open_home (o, &ctx)))
    return rc;
  if ((err = pan_audit_anchor (ctx, &line, &reason)))
    {
      cmd_error (err, "anchor", reason);
      rc = gpg_err_code (err) == GPG_ERR_BAD_SIGNATURE ? EXIT_DAMAGED
        : EXIT_ERROR;
    }
  else
    es_fprintf (es_stdout, "%s\n", line);
  pan_free (line);
  pan_ctx_release (ctx);
  return rc;
}

static int
cmd_report (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  struct pan_audit_verdict v;
  char *reason = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("report takes no arguments");
  parse_times (o);
  if ((rc = open_home (o, &ctx)))
    return rc;
  err = pan_audit_report (ctx, &o->filter, o->key_file, es_stdout, &v,
                          &reason);
  if (err)
    {
      cmd_error (err, "report", reason);
      rc = EXIT_ERROR;
    }
  else
    rc = v.damage ? EXIT_DAMAGED : 0;
  pan_audit_verdict_release (&v);
  pan_ctx_release (ctx);
  return rc;
}


/* panaudit init-key */

static int
record_init_key (pan_ctx_t ctx)
{
  gpg_error_t err;
  char *reason = NULL;
  struct pan_audit_event ev = { .event = "init-key", .tool = "panaudit",
                                .outcome = "ok", .exit_code = 0 };

  if ((err = pan_audit_append (ctx, &ev, time (NULL), &reason)))
    {
      cmd_error (err, "writing the first audit record", reason);
      return EXIT_ERROR;
    }
  return 0;
}

static int
cmd_init_key (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *key = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("init-key takes no arguments");
  if ((rc = open_home (o, &ctx)))
    return rc;
  if ((err = pan_audit_init_key (ctx, &key, &reason)))
    {
      cmd_error (err, "init-key", reason);
      rc = EXIT_ERROR;
      goto leave;
    }
  es_fprintf (es_stdout, "audit key: %s\n", key);
  es_fflush (es_stdout);
  pan_audit_key_release (key);
  cmd_info ("keep this initial audit key offline (it is shown only once);"
            " 'panaudit verify --key FILE' needs it");
  rc = record_init_key (ctx);

 leave:
  pan_ctx_release (ctx);
  return rc;
}

/* panaudit note */

static int
cmd_note (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL;
  struct pan_audit_event ev = { .event = "note", .tool = "panaudit",
                                .outcome = "ok", .exit_code = 0 };
  int rc;

  if (o->nargs != 2 || !*o->args[1])
    usage_error ("usage: panaudit note TEXT");
  if ((rc = open_home (o, &ctx)))
    return rc;
  ev.reason = o->args[1];
  if ((err = pan_audit_append (ctx, &ev, time (NULL), &reason)))
    {
      cmd_error (err, "note", reason);
      rc = EXIT_ERROR;
    }
  pan_ctx_release (ctx);
  return rc;
}

int
main (int argc, char **argv)
{
  struct options o;
  static const struct { const char *name; int (*fnc) (struct options *); }
  commands[] = {
    { "log", cmd_log }, { "verify", cmd_verify }, { "anchor", cmd_anchor },
    { "report", cmd_report }, { "init-key", cmd_init_key },
    { "note", cmd_note }
  };

  memset (&o, 0, sizeof o);
  cmd_setup ("panaudit", "Usage: panaudit [OPTIONS] COMMAND",
             "Read and verify the tamper-evident panmail audit log.\n");
  parse_options (&argc, &argv, &o);
  if (!o.nargs)
    usage_error ("no command given");
  cmd_init_library ();
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp (o.args[0], commands[i].name))
      return commands[i].fnc (&o);
  cmd_info ("unknown command '%s' (see 'panaudit --help')", o.args[0]);
  return EXIT_ERROR;
}
