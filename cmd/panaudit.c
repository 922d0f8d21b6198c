/* panaudit - read and verify the tamper-evident audit log, find PANs
 *
 * Commands: log, verify, anchor, report, init-key, note, find-pan,
 * scan.  See panaudit(1).
 * Exit status: 0 ok (log intact, PAN found in the log, no PAN in the
 * files), 1 the log is damaged, no record has the PAN, or PANs were
 * found in the files, 2 usage or I/O error.  */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define GPGRT_ENABLE_ARGPARSE_MACROS 1
#include <gpg-error.h>
#include <gcrypt.h>

#include "panmail.h"
#include "cmdutil.h"
#include "panaudit-keys.h"
#include "panaudit-scan.h"

#define EXIT_DAMAGED 1
#define EXIT_NOT_FOUND 1 /* find-pan: no record names the PANs.  */
#define EXIT_ERROR 2
#define EXIT_BAD_WORD 64 /* An unknown --event or --outcome.  */
#define EXIT_USAGE 64    /* An option the command does not take.  */

enum opt_values
{
  oHome = 500,
  oSince,
  oUntil,
  oRecipient,
  oEvent,
  oOutcome,
  oMessageId,
  oJson,
  oCsv,
  oKey,
  oAnchor,
  oDir,
  oExclude,
  oSkipBinary,
  oNoProgress,
  oAllow,
  oJobs,
  oCompress,
  oSign,
  oSignerHome,
  oOperatorKey,
  oRequireSigned
};

static gpgrt_opt_t opts[] = {
  ARGPARSE_group (300,
                  "@Commands:\n "
                  "  log [filters] [--json|--csv]  show records\n"
                  "  keys [--json|--csv]           key inventory\n"
                  "  verify [--key FILE|-] [--anchor LINE|FILE] [--dir "
                  "DIR]\n"
                  "         [--operator-key FILE] [--require-signed]\n"
                  "                                check the log\n"
                  "  anchor [--sign FPR [--signer-home DIR]]\n"
                  "                                print the head of the"
                  " log\n"
                  "  report [--since T] [--until T] [--key FILE|-]\n"
                  "         [--json|--csv]         summary for an"
                  " assessor\n"
                  "  init-key                      create the audit key"
                  " (once)\n"
                  "  note TEXT                     record an operator note"
                  " (e.g. a log review)\n"
                  "  rotate [--compress]           close the open segment"
                  " of the log\n"
                  "  prune                         delete closed segments"
                  " older than\n"
                  "                                audit-retention\n"
                  "  find-pan [--json] < PANS      records of the card"
                  " numbers\n"
                  "                                read from stdin, one a"
                  " line\n"
                  "  scan [--json] [--exclude GLOB]... [--skip-binary]\n"
                  "       [--no-progress] [--allow FILE] [--jobs N]"
                  " PATH...\n"
                  "                                find card numbers in"
                  " files\n"
                  "\nOptions:\n "),
  ARGPARSE_s_s (oHome, "home", "|DIR|use the panmail home DIR"),
  ARGPARSE_s_s (oSince, "since",
                "|TIME|records at or after TIME"
                " (YYYY-MM-DD or RFC 3339)"),
  ARGPARSE_s_s (oUntil, "until", "|TIME|records at or before TIME"),
  ARGPARSE_s_s (oRecipient, "recipient", "|ADDR|records naming ADDR"),
  ARGPARSE_s_s (oEvent, "event",
                "|EVENT|records of EVENT (send, refuse,"
                " queue, enroll, ...)"),
  ARGPARSE_s_s (oOutcome, "outcome",
                "|OUTCOME|records with OUTCOME"
                " (delivered, queued, refused, ...)"),
  ARGPARSE_s_s (oMessageId, "message-id",
                "|ID|records of the message"
                " ID"),
  ARGPARSE_s_n (oJson, "json",
                "log: the records as stored; report, find-pan,"
                " scan: JSON lines"),
  ARGPARSE_s_n (oCsv, "csv", "log, keys, report: CSV with a header line"),
  ARGPARSE_s_s (oKey, "key",
                "|FILE|check every MAC with the initial key"
                " in FILE (- = stdin)"),
  ARGPARSE_s_s (oAnchor, "anchor", "|LINE|check against an anchor line"),
  ARGPARSE_s_s (oDir, "dir",
                "|DIR|verify: the segments copied into DIR"
                " (no home needed)"),
  ARGPARSE_s_s (oExclude, "exclude",
                "|GLOB|scan: skip paths or names"
                " matching GLOB"),
  ARGPARSE_s_n (oSkipBinary, "skip-binary",
                "scan: skip files with a NUL"
                " byte in their first 8 KiB"),
  ARGPARSE_s_n (oNoProgress, "no-progress",
                "scan: no progress line on"
                " a terminal"),
  ARGPARSE_s_s (oAllow, "allow",
                "|FILE|scan: keyed hashes of numbers"
                " found harmless"),
  ARGPARSE_s_s (oJobs, "jobs",
                "|N|scan: files scanned at once (default:"
                " one per core)"),
  ARGPARSE_s_n (oCompress, "compress",
                "rotate: compress the closed segments"
                " (gzip)"),
  ARGPARSE_s_s (oSign, "sign",
                "|FPR|anchor: sign it with the operator"
                " key FPR"),
  ARGPARSE_s_s (oSignerHome, "signer-home",
                "|DIR|anchor --sign: the GnuPG home with"
                " the secret key"),
  ARGPARSE_s_s (oOperatorKey, "operator-key",
                "|FILE|verify: check a signed anchor against"
                " the key in FILE"),
  ARGPARSE_s_n (oRequireSigned, "require-signed",
                "verify: refuse an anchor that is not signed"
                " by an operator key"),
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
  const char *dir;
  const char **excludes; /* NULL-terminated.  */
  size_t nexcludes;
  int skip_binary, no_progress;
  const char *allow, *jobs;
  int compress;
  const char *sign, *signer_home, *operator_key;
  int require_signed;
  const char **args;
  int nargs;
  unsigned int given; /* OPT_BIT of each option given.  */
};

/* The bit of the option OPT (an opt_values) in struct options' GIVEN;
 * the options each command takes.  */
#define OPT_BIT(opt) (1u << ((opt)-oHome))
#define TAKES_FILTER                                          \
  (OPT_BIT (oSince) | OPT_BIT (oUntil) | OPT_BIT (oRecipient) \
   | OPT_BIT (oEvent) | OPT_BIT (oOutcome) | OPT_BIT (oMessageId))
#define TAKES_SCAN                                              \
  (OPT_BIT (oJson) | OPT_BIT (oExclude) | OPT_BIT (oSkipBinary) \
   | OPT_BIT (oNoProgress) | OPT_BIT (oAllow) | OPT_BIT (oJobs))

static void
usage_error (const char *what)
{
  cmd_info ("%s (see 'panaudit --help')", what);
  exit (EXIT_ERROR);
}

/* Append S to the NULL-terminated list *R_LIST of *R_N strings.  */
static void
push_string (const char ***r_list, size_t *r_n, const char *s)
{
  const char **tmp = realloc (*r_list, (*r_n + 2) * sizeof *tmp);

  if (!tmp)
    {
      cmd_info ("out of core");
      exit (EXIT_ERROR);
    }
  tmp[(*r_n)++] = s;
  tmp[*r_n] = NULL;
  *r_list = tmp;
}

/* Take the option or argument that PARGS holds into O.  */
static void
parse_one (struct options *o, gpgrt_argparse_t *pargs, size_t *nargs)
{
  switch (pargs->r_opt)
    {
    case ARGPARSE_IS_ARG:
      push_string (&o->args, nargs, pargs->r.ret_str);
      o->nargs = *nargs;
      break;
    case oHome: o->home = pargs->r.ret_str; break;
    case oSince: o->since = pargs->r.ret_str; break;
    case oUntil: o->until = pargs->r.ret_str; break;
    case oRecipient: o->filter.recipient = pargs->r.ret_str; break;
    case oEvent: o->filter.event = pargs->r.ret_str; break;
    case oOutcome: o->filter.outcome = pargs->r.ret_str; break;
    case oMessageId: o->filter.message_id = pargs->r.ret_str; break;
    case oJson: o->json = 1; break;
    case oCsv: o->csv = 1; break;
    case oKey: o->key_file = pargs->r.ret_str; break;
    case oAnchor: o->anchor = pargs->r.ret_str; break;
    case oDir: o->dir = pargs->r.ret_str; break;
    case oExclude:
      push_string (&o->excludes, &o->nexcludes, pargs->r.ret_str);
      break;
    case oSkipBinary: o->skip_binary = 1; break;
    case oNoProgress: o->no_progress = 1; break;
    case oAllow: o->allow = pargs->r.ret_str; break;
    case oJobs: o->jobs = pargs->r.ret_str; break;
    case oCompress: o->compress = 1; break;
    case oSign: o->sign = pargs->r.ret_str; break;
    case oSignerHome: o->signer_home = pargs->r.ret_str; break;
    case oOperatorKey: o->operator_key = pargs->r.ret_str; break;
    case oRequireSigned: o->require_signed = 1; break;
    default: pargs->err = ARGPARSE_PRINT_ERROR; break;
    }
}

static void
parse_options (int *argc, char ***argv, struct options *o)
{
  gpgrt_argparse_t pargs;
  size_t nargs = 0;

  memset (&pargs, 0, sizeof pargs);
  pargs.argc = argc;
  pargs.argv = argv;
  pargs.flags = ARGPARSE_FLAG_MIXED | ARGPARSE_FLAG_ALL;

  while (gpgrt_argparse (NULL, &pargs, opts))
    {
      if (pargs.r_opt >= oHome && pargs.r_opt <= oRequireSigned)
        o->given |= OPT_BIT (pargs.r_opt);
      parse_one (o, &pargs, &nargs);
    }
  if (pargs.err)
    exit (EXIT_ERROR);
  gpgrt_argparse (NULL, &pargs, NULL);
}

/* Refuse an --event or --outcome that no record can have: a typo
 * would otherwise give an empty answer that looks like "none".  */
static void
check_words (const struct options *o)
{
  if (o->filter.event && !pan_audit_is_event (o->filter.event))
    {
      cmd_info ("--event %s: no such event (send, delivered, queue, drop,"
                " refuse, enroll, rotate, revoke, ...: see panaudit(1))",
                o->filter.event);
      exit (EXIT_BAD_WORD);
    }
  if (o->filter.outcome && !pan_audit_is_outcome (o->filter.outcome))
    {
      cmd_info ("--outcome %s: no such outcome (pending, delivered, queued,"
                " dropped, refused, ok, failed, sent)",
                o->filter.outcome);
      exit (EXIT_BAD_WORD);
    }
}

/* Parse --since and --until into the filter, and check its words.  */
static void
parse_times (struct options *o)
{
  check_words (o);
  if (o->since && pan_audit_parse_time (o->since, 0, &o->filter.since))
    usage_error ("--since: not YYYY-MM-DD or an RFC 3339 time");
  if (o->until && pan_audit_parse_time (o->until, 1, &o->filter.until))
    usage_error ("--until: not YYYY-MM-DD or an RFC 3339 time");
}

static int
open_home (struct options *o, pan_ctx_t *r_ctx)
{
  return cmd_open_home (o->home, r_ctx, EXIT_ERROR);
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
      cmd_put_safe (out,
                    fingerprints
                      ? (ev->keys[i].fingerprint ? ev->keys[i].fingerprint
                                                 : "-")
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
                "EVENT", "OUTCOME", "EXIT",
                "MESSAGE-ID RECIPIENTS (REASON)");
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
print_verdict (const struct pan_audit_verdict *v, int with_state)
{
  print_warnings (v->warnings);
  if (v->damage)
    {
      cmd_info ("TAMPERED: %s", v->message ? v->message : "damaged");
      return EXIT_DAMAGED;
    }
  es_fprintf (es_stdout,
              "%s: intact: %llu records; hash chain%s"
              " %s; head sha256 %s\n",
              cmd_name (), v->nrecords, with_state ? " and audit.key" : "",
              v->key_checked ? "and every MAC checked with the key"
                             : "checked (MACs not checked: give --key)",
              v->head);
  return 0;
}

/* Read the anchor file PATH (at most 64 KiB) into *R_TEXT.  */
static int
read_anchor_file (const char *path, char **r_text)
{
  FILE *fp = fopen (path, "r");
  char *buf = malloc (65537);
  size_t n = 0;

  *r_text = NULL;
  if (fp && buf)
    n = fread (buf, 1, 65536, fp);
  if (!fp || !buf || ferror (fp) || n == 65536)
    {
      cmd_info ("--anchor %s: not an anchor line, and not a readable"
                " anchor file: %s",
                path,
                fp && buf ? "too long or unreadable" : strerror (errno));
      free (buf);
      if (fp)
        fclose (fp);
      return EXIT_ERROR;
    }
  fclose (fp);
  buf[n] = 0;
  *r_text = buf;
  return 0;
}

/* Store at *R_LINE (free it) the anchor line that --anchor gives: the
 * line itself, or a file holding it or the anchor signed by an operator
 * key, whose signature is checked against the operator keys CTX pins
 * (NULL: against --operator-key).  --require-signed refuses an anchor
 * that is not signed.  */
static int
resolve_anchor (struct options *o, pan_ctx_t ctx, char **r_line)
{
  static const char armor[] = "-----BEGIN PGP SIGNED MESSAGE-----";
  gpg_error_t err;
  char *text = NULL, *signer = NULL, *reason = NULL;
  int rc = 0;

  *r_line = NULL;
  if (!o->anchor)
    {
      if (o->require_signed)
        usage_error ("verify: --require-signed needs --anchor");
      return 0;
    }
  if (!strncmp (o->anchor, "panmail-anchor ", 15))
    text = strdup (o->anchor);
  else if ((rc = read_anchor_file (o->anchor, &text)))
    return rc;
  if (!text)
    return EXIT_ERROR;
  if (strncmp (text, armor, sizeof armor - 1))
    {
      if (o->require_signed)
        {
          cmd_info ("the anchor is not signed by an operator key:"
                    " refused (--require-signed)");
          rc = EXIT_ERROR;
        }
      else
        {
          *r_line = text;
          text = NULL;
        }
    }
  else if ((err = pan_audit_anchor_check (ctx, o->operator_key, text,
                                          strlen (text), r_line, &signer,
                                          &reason)))
    {
      cmd_error (err, "the anchor's signature does not check", reason);
      reason = NULL; /* cmd_error released it.  */
      rc = EXIT_ERROR;
    }
  else
    cmd_info ("the anchor is signed by operator key %s", signer);
  free (text);
  pan_free (signer);
  pan_free (reason);
  return rc;
}

/* panaudit verify --dir: segments copied elsewhere, no home.  */
static int
verify_dir (struct options *o)
{
  gpg_error_t err;
  struct pan_audit_verdict v;
  char *reason = NULL, *anchor = NULL;
  int rc;

  if (o->home)
    usage_error ("verify: --dir and --home exclude each other");
  if ((rc = resolve_anchor (o, NULL, &anchor)))
    return rc;
  err = pan_audit_verify_dir (o->dir, o->key_file, anchor, &v, &reason);
  free (anchor);
  if (err)
    {
      cmd_error (err, "verify", reason);
      return EXIT_ERROR;
    }
  rc = print_verdict (&v, 0);
  if (!v.damage && !o->anchor)
    cmd_info ("note: without audit.key (it stays on the host), records"
              " removed from the end are found only with --anchor");
  pan_audit_verdict_release (&v);
  return rc;
}

static int
cmd_verify (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  struct pan_audit_verdict v;
  char *reason = NULL, *anchor = NULL;
  int rc;

  if (o->nargs != 1)
    usage_error ("verify takes no arguments");
  if (o->dir)
    return verify_dir (o);
  if ((rc = open_home (o, &ctx)))
    return rc;
  /* The operator's verify first queues what a crashed pansend left; a
   * sender's changes nothing (see panaudit(1)).  A failure there is
   * said, and the log verified all the same.  */
  if (cmd_is_operator (ctx))
    cmd_recover (ctx);
  if ((rc = resolve_anchor (o, o->operator_key ? NULL : ctx, &anchor)))
    {
      pan_ctx_release (ctx);
      return rc;
    }
  err = pan_audit_verify (ctx, o->key_file, anchor, &v, &reason);
  free (anchor);
  if (err)
    {
      cmd_error (err, "verify", reason);
      rc = EXIT_ERROR;
    }
  else
    rc = print_verdict (&v, 1);
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
  if (o->signer_home && !o->sign)
    usage_error ("anchor: --signer-home goes with --sign");
  if ((rc = open_home (o, &ctx)))
    return rc;
  if (o->sign)
    err = pan_audit_anchor_sign (ctx, o->sign, o->signer_home, &line,
                                 &reason);
  else
    err = pan_audit_anchor (ctx, &line, &reason);
  if (err)
    {
      cmd_error (err, "anchor", reason);
      rc = gpg_err_code (err) == GPG_ERR_BAD_SIGNATURE ? EXIT_DAMAGED
                                                       : EXIT_ERROR;
    }
  else
    es_fprintf (es_stdout, o->sign ? "%s" : "%s\n", line);
  pan_free (line);
  pan_ctx_release (ctx);
  return rc;
}

/* panaudit report --json: one object per line of the report.  */
static void
report_json_row (void *opaque, const struct pan_audit_report_row *row)
{
  (void)opaque;
  es_fputs ("{\"v\":1", es_stdout);
  cmd_put_json_member (es_stdout, ",", "type", row->type);
  cmd_put_json_member (es_stdout, ",", "name", row->name);
  if (row->count >= 0)
    es_fprintf (es_stdout, ",\"count\":%lld", row->count);
  else
    es_fputs (",\"count\":null", es_stdout);
  cmd_put_json_time (es_stdout, ",", "from", row->from);
  cmd_put_json_time (es_stdout, ",", "to", row->to);
  cmd_put_json_member (es_stdout, ",", "protocol", row->protocol);
  cmd_put_json_member (es_stdout, ",", "fingerprint", row->fingerprint);
  cmd_put_json_member (es_stdout, ",", "address", row->address);
  cmd_put_json_member (es_stdout, ",", "operator", row->operator_name);
  cmd_put_json_member (es_stdout, ",", "outcome", row->outcome);
  cmd_put_json_member (es_stdout, ",", "detail", row->detail);
  es_fputs ("}\n", es_stdout);
}

/* panaudit report --csv: one row per line of the report, the columns
 * of the JSON objects.  */
static void
report_csv_row (void *opaque, const struct pan_audit_report_row *row)
{
  char from[32], to[32];

  (void)opaque;
  put_csv (row->type);
  put_csv_opt (row->name);
  if (row->count >= 0)
    es_fprintf (es_stdout, ",%lld", row->count);
  else
    es_putc (',', es_stdout);
  put_csv_opt (row->from ? pan_time_format (row->from, from, sizeof from)
                         : NULL);
  put_csv_opt (row->to ? pan_time_format (row->to, to, sizeof to) : NULL);
  put_csv_opt (row->protocol);
  put_csv_opt (row->fingerprint);
  put_csv_opt (row->address);
  put_csv_opt (row->operator_name);
  put_csv_opt (row->outcome);
  put_csv_opt (row->detail);
  es_putc ('\n', es_stdout);
}

/* The report of O's filter as text, JSON or CSV into *R_V.  */
static gpg_error_t
write_report (pan_ctx_t ctx, struct options *o, struct pan_audit_verdict *v,
              char **r_reason)
{
  if (!o->json && !o->csv)
    return pan_audit_report (ctx, &o->filter, o->key_file, es_stdout, v,
                             r_reason);
  if (o->csv)
    es_fputs ("type,name,count,from,to,protocol,fingerprint,address,"
              "operator,outcome,detail\n",
              es_stdout);
  return pan_audit_report_rows (ctx, &o->filter, o->key_file,
                                o->json ? report_json_row : report_csv_row,
                                NULL, v, r_reason);
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
  if (o->json && o->csv)
    usage_error ("--json and --csv exclude each other");
  parse_times (o);
  if ((rc = open_home (o, &ctx)))
    return rc;
  err = write_report (ctx, o, &v, &reason);
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
cmd_init_key (struct options *o)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *key = NULL;
  struct pan_audit_event ev = {
    .event = "init-key", .tool = "panaudit", .outcome = "ok", .exit_code = 0
  };
  int rc;

  if (o->nargs != 1)
    usage_error ("init-key takes no arguments");
  if ((rc = open_home (o, &ctx)))
    return rc;
  err = pan_audit_create_key (ctx, &ev, time (NULL), 0, &key, &reason);
  if (err)
    {
      cmd_error (err, "init-key", reason);
      rc = EXIT_ERROR;
    }
  else
    {
      es_fprintf (es_stdout, "audit key: %s\n", key);
      es_fflush (es_stdout);
      cmd_info ("keep this initial audit key offline (it is shown only"
                " once); 'panaudit verify --key FILE' needs it");
    }
  pan_audit_key_release (key);
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
  struct pan_audit_event ev = {
    .event = "note", .tool = "panaudit", .outcome = "ok", .exit_code = 0
  };
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

/* panaudit rotate, panaudit prune */

/* Run the verb NAME, which takes no arguments, on the home: RUN stores
 * what to say at *R_SAID.  */
static int
home_verb (struct options *o, const char *name,
           gpg_error_t (*run) (pan_ctx_t ctx, char **r_said,
                               char **r_reason))
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL, *said = NULL;
  int rc;

  if (o->nargs != 1)
    {
      cmd_info ("usage: panaudit %s (see 'panaudit --help')", name);
      exit (EXIT_ERROR);
    }
  if ((rc = open_home (o, &ctx)))
    return rc;
  if ((err = run (ctx, &said, &reason)))
    {
      cmd_error (err, name, reason);
      rc = EXIT_ERROR;
    }
  else if (said)
    es_printf ("%s\n", said);
  gpgrt_free (said);
  pan_ctx_release (ctx);
  return rc;
}

static gpg_error_t
run_rotate (pan_ctx_t ctx, char **r_said, char **r_reason)
{
  char *segment = NULL;
  gpg_error_t err = pan_audit_rotate (ctx, NULL, time (NULL), &segment,
                                      r_reason);

  if (!err)
    *r_said = gpgrt_bsprintf ("closed segment: %s", segment);
  pan_free (segment);
  return err;
}

/* rotate --compress: rotate, then compress every closed segment not yet
 * compressed (also those a stopped run left).  */
static gpg_error_t
run_rotate_compress (pan_ctx_t ctx, char **r_said, char **r_reason)
{
  gpg_error_t err = run_rotate (ctx, r_said, r_reason);
  size_t n = 0;
  char *said;

  if (err || (err = pan_audit_compress (ctx, &n, r_reason)))
    return err;
  said = gpgrt_bsprintf ("%s\ncompressed %zu closed segments (gzip)",
                         *r_said ? *r_said : "", n);
  gpgrt_free (*r_said);
  *r_said = said;
  return 0;
}

static gpg_error_t
run_prune (pan_ctx_t ctx, char **r_said, char **r_reason)
{
  size_t n = 0;
  gpg_error_t err = pan_audit_prune (ctx, time (NULL), &n, r_reason);

  if (!err)
    *r_said = gpgrt_bsprintf ("pruned %zu closed segments", n);
  return err;
}

static int
cmd_rotate (struct options *o)
{
  return home_verb (o, "rotate",
                    o->compress ? run_rotate_compress : run_rotate);
}

static int
cmd_prune (struct options *o)
{
  return home_verb (o, "prune", run_prune);
}

/* panaudit find-pan */

/* The longest line of stdin taken as a card number: 19 digits with a
 * separator between each two, and some white space.  */
#define PAN_LINE_MAX 64

/* Bytes read from stdin at a time.  */
#define READ_CHUNK 256

/* A card number asked for: only its keyed hash and masked form.  */
struct wanted_pan
{
  char hash[65];
  char masked[PAN_MASK_SIZE];
  const char *brand;
};

struct wanted
{
  struct wanted_pan *pans;
  size_t n;
  unsigned long lineno;
  int bad; /* Lines that were not card numbers.  */
};

/* The one hit of a line: its place and what it gives.  */
struct line_hit
{
  int count;
  unsigned long long offset;
  size_t length;
  struct wanted_pan pan;
};

static struct termios saved_tty;
static int tty_changed;

static void
restore_tty (void)
{
  if (tty_changed)
    tcsetattr (0, TCSAFLUSH, &saved_tty);
  tty_changed = 0;
}

static void
restore_tty_and_die (int sig)
{
  restore_tty ();
  signal (sig, SIG_DFL);
  raise (sig);
}

/* On a terminal, ask for the numbers and do not echo them.  */
static void
quiet_tty (void)
{
  struct termios t;

  if (!isatty (0) || tcgetattr (0, &saved_tty))
    return;
  t = saved_tty;
  t.c_lflag &= ~(ECHO | ECHONL);
  signal (SIGINT, restore_tty_and_die);
  signal (SIGTERM, restore_tty_and_die);
  signal (SIGHUP, restore_tty_and_die);
  if (!tcsetattr (0, TCSAFLUSH, &t))
    tty_changed = 1;
  cmd_info ("card numbers, one a line (not shown); end with Ctrl-D");
}

static gpg_error_t
line_hit_cb (void *opaque, const struct pan_hit *hit)
{
  struct line_hit *lh = opaque;

  if (lh->count++)
    return 0;
  lh->offset = hit->offset;
  lh->length = hit->length;
  lh->pan.brand = hit->brand;
  snprintf (lh->pan.masked, sizeof lh->pan.masked, "%s", hit->masked);
  if (hit->hash)
    snprintf (lh->pan.hash, sizeof lh->pan.hash, "%s", hit->hash);
  return 0;
}

static int
is_blank (int c)
{
  return c == ' ' || c == '\t' || c == '\r';
}

static gpg_error_t
add_wanted (struct wanted *w, const struct wanted_pan *pan)
{
  struct wanted_pan *tmp = realloc (w->pans, (w->n + 1) * sizeof *tmp);

  if (!tmp)
    return gpg_error_from_syserror ();
  w->pans = tmp;
  w->pans[w->n++] = *pan;
  return 0;
}

/* Take LINE/LEN (white space around allowed) if it is exactly one card
 * number; never print it.  */
static gpg_error_t
take_line (pan_scanner_t scanner, struct wanted *w, const char *line,
           size_t len)
{
  gpg_error_t err;
  struct line_hit lh;

  if (len > PAN_LINE_MAX)
    {
      cmd_info ("line %lu: not a card number (longer than %d bytes)",
                w->lineno, PAN_LINE_MAX);
      w->bad++;
      return 0;
    }
  while (len && is_blank (line[len - 1]))
    len--;
  while (len && is_blank (*line))
    line++, len--;
  if (!len)
    return 0;
  memset (&lh, 0, sizeof lh);
  if ((err = pan_scanner_feed (scanner, line, len, line_hit_cb, &lh))
      || (err = pan_scanner_finish (scanner, line_hit_cb, &lh)))
    return err;
  if (lh.count == 1 && !lh.offset && lh.length == len && lh.pan.hash[0])
    return add_wanted (w, &lh.pan);
  cmd_info ("line %lu: not a card number", w->lineno);
  w->bad++;
  return 0;
}

/* Split BUF/N read from stdin into lines kept in the secure buffer
 * LINE (*R_LEN used, PAN_LINE_MAX + 1 bytes).  */
static gpg_error_t
take_bytes (pan_scanner_t scanner, struct wanted *w, const char *buf,
            size_t n, char *line, size_t *r_len)
{
  gpg_error_t err = 0;
  size_t i;

  for (i = 0; i < n && !err; i++)
    {
      if (buf[i] != '\n')
        {
          if (*r_len <= PAN_LINE_MAX)
            line[(*r_len)++] = buf[i];
          continue;
        }
      w->lineno++;
      err = take_line (scanner, w, line, *r_len);
      explicit_bzero (line, PAN_LINE_MAX + 1);
      *r_len = 0;
    }
  return err;
}

/* Read the card numbers on stdin into W; they pass only through
 * libgcrypt's secure memory and the scanner.  */
static gpg_error_t
read_wanted (pan_scanner_t scanner, struct wanted *w)
{
  gpg_error_t err = 0;
  char *buf = gcry_malloc_secure (READ_CHUNK + PAN_LINE_MAX + 1);
  char *line;
  size_t len = 0;
  ssize_t n;

  if (!buf)
    return gpg_error_from_syserror ();
  line = buf + READ_CHUNK;
  quiet_tty ();
  while (
    !err
    && ((n = read (0, buf, READ_CHUNK)) > 0 || (n < 0 && errno == EINTR)))
    if (n > 0)
      err = take_bytes (scanner, w, buf, n, line, &len);
  if (!err && n < 0)
    err = gpg_error_from_syserror ();
  if (!err && len)
    err = take_bytes (scanner, w, "\n", 1, line, &len);
  restore_tty ();
  explicit_bzero (buf, READ_CHUNK + PAN_LINE_MAX + 1);
  gcry_free (buf);
  return err;
}

/* Return the wanted card number with HASH, or NULL.  */
static const struct wanted_pan *
find_wanted (const struct wanted *w, const char *hash)
{
  for (size_t i = 0; hash && i < w->n; i++)
    if (!strcmp (w->pans[i].hash, hash))
      return w->pans + i;
  return NULL;
}

static void
put_found_json (const struct pan_audit_record *rec, const struct wanted *w)
{
  const struct pan_audit_event *ev = &rec->ev;
  const struct pan_audit_key *k;
  const char *sep = "";
  char when[32];

  es_fprintf (es_stdout,
              "{\"seq\":%llu,\"time\":\"%s\",\"event\":", rec->seq,
              pan_time_format (rec->time, when, sizeof when));
  cmd_put_json_string (es_stdout, ev->event);
  es_fputs (",\"outcome\":", es_stdout);
  cmd_put_json_string (es_stdout, ev->outcome ? ev->outcome : "");
  es_fputs (",\"message_id\":", es_stdout);
  cmd_put_json_string (es_stdout, ev->message_id ? ev->message_id : "");
  es_fputs (",\"recipients\":[", es_stdout);
  for (size_t i = 0; i < ev->nkeys; i++, sep = ",")
    {
      k = ev->keys + i;
      es_fprintf (es_stdout, "%s{\"address\":", sep);
      cmd_put_json_string (es_stdout, k->address ? k->address : "");
      es_fprintf (es_stdout, ",\"protocol\":\"%s\",\"fingerprint\":",
                  pan_protocol_name (k->protocol));
      cmd_put_json_string (es_stdout, k->fingerprint ? k->fingerprint : "");
      es_putc ('}', es_stdout);
    }
  es_fputs ("],\"pans\":[", es_stdout);
  sep = "";
  for (size_t i = 0; i < ev->npans; i++)
    if (find_wanted (w, ev->pans[i].hash))
      {
        es_fprintf (es_stdout, "%s{\"brand\":", sep);
        cmd_put_json_string (es_stdout, ev->pans[i].brand);
        es_fprintf (es_stdout, ",\"masked\":\"%s\",\"hash\":\"%s\"}",
                    ev->pans[i].masked, ev->pans[i].hash);
        sep = ",";
      }
  es_fputs ("]}\n", es_stdout);
}

static void
put_found_text (const struct pan_audit_record *rec, const struct wanted *w)
{
  const struct pan_audit_event *ev = &rec->ev;
  char when[32];

  es_fprintf (es_stdout, "%s  seq %llu  %s %s  ",
              pan_time_format (rec->time, when, sizeof when), rec->seq,
              ev->event, ev->outcome ? ev->outcome : "-");
  cmd_put_safe (es_stdout, ev->message_id ? ev->message_id : "-");
  for (size_t i = 0; i < ev->npans; i++)
    if (find_wanted (w, ev->pans[i].hash))
      {
        es_fprintf (es_stdout, "  %s ", ev->pans[i].masked);
        cmd_put_safe (es_stdout, ev->pans[i].brand);
      }
  es_putc ('\n', es_stdout);
  for (size_t i = 0; i < ev->nkeys; i++)
    {
      es_fputs ("    to ", es_stdout);
      cmd_put_safe (es_stdout,
                    ev->keys[i].address ? ev->keys[i].address : "-");
      es_fprintf (es_stdout, "  %s ",
                  pan_protocol_name (ev->keys[i].protocol));
      cmd_put_safe (es_stdout,
                    ev->keys[i].fingerprint ? ev->keys[i].fingerprint : "-");
      es_putc ('\n', es_stdout);
    }
}

static int
record_matches (const struct pan_audit_record *rec, const struct wanted *w)
{
  for (size_t i = 0; i < rec->ev.npans; i++)
    if (find_wanted (w, rec->ev.pans[i].hash))
      return 1;
  return 0;
}

/* Print the records of CTX's log that name a card number of W; store
 * their number at *R_FOUND.  */
static int
search_log (struct options *o, pan_ctx_t ctx, const struct wanted *w,
            unsigned long long *r_found)
{
  gpg_error_t err;
  pan_audit_reader_t rd = NULL;
  const struct pan_audit_record *rec;
  char *reason = NULL;

  *r_found = 0;
  if ((err = pan_audit_open (ctx, NULL, &rd, &reason)))
    {
      cmd_error (err, "reading the audit log", reason);
      return EXIT_ERROR;
    }
  while (!(err = pan_audit_next (rd, &rec)))
    if (record_matches (rec, w))
      {
        ++*r_found;
        if (o->json)
          put_found_json (rec, w);
        else
          put_found_text (rec, w);
      }
  if (pan_audit_skipped (rd))
    cmd_info ("warning: %llu lines of the log are not records: see"
              " 'panaudit verify'",
              pan_audit_skipped (rd));
  pan_audit_close (rd);
  if (gpg_err_code (err) != GPG_ERR_EOF)
    {
      cmd_error (err, "reading the audit log", NULL);
      return EXIT_ERROR;
    }
  return es_fflush (es_stdout) ? EXIT_ERROR : 0;
}

/* Read the card numbers on stdin into W with the home's keyed scanner.  */
static int
get_wanted (pan_ctx_t ctx, struct wanted *w)
{
  gpg_error_t err;
  pan_scanner_t scanner = NULL;
  char *reason = NULL;

  if ((err = pan_ctx_pan_scanner (ctx, &scanner, &reason)))
    {
      cmd_error (err, "loading the PAN key", reason);
      return EXIT_ERROR;
    }
  err = read_wanted (scanner, w);
  pan_scanner_release (scanner);
  if (err)
    {
      cmd_error (err, "reading card numbers from stdin", NULL);
      return EXIT_ERROR;
    }
  if (!w->n && !w->bad)
    {
      cmd_info ("no card number on stdin (give them one a line, e.g."
                " 'panaudit find-pan < file')");
      return EXIT_ERROR;
    }
  return 0;
}

static int
cmd_find_pan (struct options *o)
{
  pan_ctx_t ctx = NULL;
  struct wanted w;
  unsigned long long found = 0;
  int rc;

  memset (&w, 0, sizeof w);
  if (o->nargs != 1)
    usage_error ("find-pan takes no arguments: card numbers are read from"
                 " stdin, one a line, never from the command line (where"
                 " ps(1) and shell history would show them)");
  if ((rc = open_home (o, &ctx)))
    return rc;
  if (!(rc = get_wanted (ctx, &w)) && w.n)
    rc = search_log (o, ctx, &w, &found);
  if (!rc && w.n)
    cmd_info ("%llu record%s for %zu card number%s", found,
              found == 1 ? "" : "s", w.n, w.n == 1 ? "" : "s");
  if (!rc && !w.bad)
    rc = found ? 0 : EXIT_NOT_FOUND;
  else if (!rc)
    rc = EXIT_ERROR;
  free (w.pans);
  pan_ctx_release (ctx);
  return rc;
}


/* panaudit scan */

static int
cmd_scan (struct options *o)
{
  struct panaudit_scan_args a;

  memset (&a, 0, sizeof a);
  a.home = o->home;
  a.json = o->json;
  a.excludes = o->excludes;
  a.skip_binary = o->skip_binary;
  a.no_progress = o->no_progress;
  a.allow = o->allow;
  a.jobs = o->jobs;
  a.paths = o->args + 1;
  a.npaths = o->nargs - 1;
  return panaudit_scan (&a);
}

/* panaudit keys: the inventory of keys and certificates.  */
static int
cmd_keys (struct options *o)
{
  pan_ctx_t ctx = NULL;
  int rc;

  if ((rc = open_home (o, &ctx)))
    return rc;
  cmd_openpgp_only_unless_smime (ctx);
  rc = panaudit_keys (ctx, o->json, o->csv);
  pan_ctx_release (ctx);
  return rc;
}

/* A command of panaudit and the options it takes (OPT_BIT).  */
struct command
{
  const char *name;
  int (*fnc) (struct options *);
  unsigned int takes;
};

/* Exit 64 if O has an option that the command C does not take.  */
static void
check_options (const struct command *c, const struct options *o)
{
  unsigned int extra = o->given & ~(c->takes | OPT_BIT (oHome));

  if (!extra)
    return;
  for (const gpgrt_opt_t *opt = opts; opt->short_opt; opt++)
    if (opt->short_opt >= oHome && (extra & OPT_BIT (opt->short_opt))
        && opt->long_opt)
      {
        cmd_info ("%s does not take --%s (see 'panaudit --help')", c->name,
                  opt->long_opt);
        break;
      }
  exit (EXIT_USAGE);
}

int
main (int argc, char **argv)
{
  struct options o;
  int rc;
  static const struct command commands[] = {
    {"log",       cmd_log,      TAKES_FILTER | OPT_BIT (oJson) | OPT_BIT (oCsv)},
    { "verify",   cmd_verify,
     OPT_BIT (oKey) | OPT_BIT (oAnchor) | OPT_BIT (oDir)
        | OPT_BIT (oOperatorKey) | OPT_BIT (oRequireSigned)                    },
    { "anchor",   cmd_anchor,   OPT_BIT (oSign) | OPT_BIT (oSignerHome)        },
    { "report",   cmd_report,
     TAKES_FILTER | OPT_BIT (oKey) | OPT_BIT (oJson) | OPT_BIT (oCsv)          },
    { "init-key", cmd_init_key, 0                                              },
    { "note",     cmd_note,     0                                              },
    { "find-pan", cmd_find_pan, OPT_BIT (oJson)                                },
    { "scan",     cmd_scan,     TAKES_SCAN                                     },
    { "keys",     cmd_keys,     OPT_BIT (oJson) | OPT_BIT (oCsv)               },
    { "rotate",   cmd_rotate,   OPT_BIT (oCompress)                            },
    { "prune",    cmd_prune,    0                                              }
  };

  memset (&o, 0, sizeof o);
  cmd_setup ("panaudit", "Usage: panaudit [OPTIONS] COMMAND",
             "Read and verify the tamper-evident panmail audit log;"
             " find card numbers\nin it and in files.\n");
  parse_options (&argc, &argv, &o);
  if (!o.nargs)
    usage_error ("no command given");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp (o.args[0], commands[i].name))
      {
        check_options (&commands[i], &o);
        cmd_init_library ();
        rc = commands[i].fnc (&o);
        free (o.args);
        free (o.excludes);
        return rc;
      }
  cmd_info ("unknown command '%s' (see 'panaudit --help')", o.args[0]);
  free (o.args);
  free (o.excludes);
  return EXIT_ERROR;
}
