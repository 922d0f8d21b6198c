/* panaudit-scan.c - panaudit scan: card numbers in files
 *
 * Walks the paths with pan_scan_path (all cores unless --jobs says
 * otherwise), prints each hit (masked, with its path and line) or a
 * JSON line per hit, a progress line on a terminal and a summary on
 * stderr.  Hits whose keyed hash is in the --allow list are counted as
 * allowed: listed in JSON, counted in the summary, and they do not make
 * the exit status 1.  See panaudit(1).  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "panaudit-scan.h"

#define EXIT_PANS_FOUND 1 /* PANs in the files.  */
#define EXIT_ERROR 2

/* Progress line updates at most this often, in milliseconds.  */
#define PROGRESS_MS 100

/* Most threads --jobs asks for.  */
#define MAX_JOBS 64

struct scan_tally
{
  const struct panaudit_scan_args *a;
  unsigned long long pans;      /* Hits not allowed.  */
  unsigned long long allowed;   /* Hits in the allow list.  */
  unsigned long long files_hit; /* Files with hits not allowed.  */
  unsigned long long file_pans; /* Such hits in the current file.  */
  unsigned long long scanned, skipped, failed;
  unsigned long long bytes; /* Of the files done.  */
  int progress;             /* Show it.  */
  int shown;                /* It is on the screen.  */
  long long last_ms;
};

static long long
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
clear_progress (struct scan_tally *t)
{
  if (!t->shown)
    return;
  es_fputs ("\r\033[K", es_stderr);
  es_fflush (es_stderr);
  t->shown = 0;
}

static void
show_progress (struct scan_tally *t, unsigned long long current)
{
  long long ms = now_ms ();

  if (!t->progress || ms - t->last_ms < PROGRESS_MS)
    return;
  t->last_ms = ms;
  es_fprintf (es_stderr,
              "\r\033[Kscanning: %llu files, %.1f MB,"
              " %llu PANs",
              t->scanned, (double)(t->bytes + current) / 1e6, t->pans);
  es_fflush (es_stderr);
  t->shown = 1;
}

/* Where in a message the hit H is, for people.  */
static void
put_hit_place (const struct pan_scan_hit *h)
{
  if (h->format == PAN_SCAN_PLAIN)
    return;
  es_fputs (" (", es_stdout);
  if (h->format == PAN_SCAN_MBOX)
    es_fprintf (es_stdout, "message %llu, ", h->message);
  if (h->envelope)
    es_fputs ("mbox From line", es_stdout);
  else if (h->header)
    {
      es_fprintf (es_stdout, "part %u header ", h->part);
      cmd_put_safe (es_stdout, h->header);
    }
  else
    {
      es_fprintf (es_stdout, "part %u ", h->part);
      cmd_put_safe (es_stdout, h->content_type);
      if (h->encoding)
        {
          es_putc (' ', es_stdout);
          cmd_put_safe (es_stdout, h->encoding);
        }
      if (h->undecoded)
        es_fputs (", undecoded", es_stdout);
    }
  es_putc (')', es_stdout);
}

static gpg_error_t
put_hit_json (const struct pan_scan_hit *h)
{
  gpg_error_t err;
  char *json = NULL;

  if ((err = pan_scan_hit_json (h, &json)))
    return err;
  es_fputs (json, es_stdout);
  es_putc ('\n', es_stdout);
  pan_free (json);
  return 0;
}

static gpg_error_t
scan_hit_cb (void *opaque, const struct pan_scan_hit *h)
{
  struct scan_tally *t = opaque;

  clear_progress (t);
  if (h->allowed)
    t->allowed++;
  else
    {
      t->pans++;
      t->file_pans++;
    }
  if (t->a->json)
    return put_hit_json (h);
  if (h->allowed)
    return 0;
  cmd_put_safe (es_stdout, h->path);
  es_fprintf (es_stdout, ":%llu: %s %s", h->line, h->masked, h->brand);
  put_hit_place (h);
  es_putc ('\n', es_stdout);
  return 0;
}

/* A file is done: count it among the files with PANs if it had any.  */
static void
file_done (struct scan_tally *t)
{
  if (t->file_pans)
    t->files_hit++;
  t->file_pans = 0;
}

static gpg_error_t
scan_file_cb (void *opaque, const struct pan_scan_file *f)
{
  struct scan_tally *t = opaque;

  switch (f->event)
    {
    case PAN_SCAN_PROGRESS: show_progress (t, f->bytes); break;
    case PAN_SCAN_SCANNED:
      t->scanned++;
      t->bytes += f->bytes;
      file_done (t);
      show_progress (t, 0);
      break;
    case PAN_SCAN_SKIPPED:
      t->skipped++;
      if (!f->depth && f->reason)
        {
          clear_progress (t);
          cmd_info ("skipped %s", f->reason);
        }
      break;
    case PAN_SCAN_FAILED:
      t->failed++;
      file_done (t);
      clear_progress (t);
      cmd_info ("%s", f->reason ? f->reason : gpg_strerror (f->err));
      break;
    }
  return 0;
}

/* Store at *R_SCANNER the keyed scanner of the home if it can be used,
 * else NULL (hits then have no hash); an explicit --home must work, and
 * so must the home when an allow list needs its key.  */
static int
scan_scanner (const struct panaudit_scan_args *a, pan_scanner_t *r_scanner)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  char *reason = NULL;

  *r_scanner = NULL;
  err = pan_ctx_open (a->home, &ctx, &reason);
  if (!err)
    err = pan_ctx_pan_scanner (ctx, r_scanner, &reason);
  pan_ctx_release (ctx);
  if (err && (a->home || a->allow))
    {
      cmd_error (err, "opening the home", reason);
      if (a->allow)
        cmd_info ("--allow needs the home's PAN key (--home or"
                  " PANMAIL_HOME): the list holds keyed hashes");
      return EXIT_ERROR;
    }
  free (reason);
  return 0;
}

/* Read the --allow list into *R_ALLOW (NULL without one).  */
static int
scan_allow (const struct panaudit_scan_args *a, pan_scan_allow_t *r_allow)
{
  gpg_error_t err;
  char *reason = NULL;

  *r_allow = NULL;
  if (!a->allow)
    return 0;
  if ((err = pan_scan_allow_load (a->allow, r_allow, &reason)))
    {
      cmd_error (err, "--allow", reason);
      return EXIT_ERROR;
    }
  return 0;
}

/* Return the threads to scan with: --jobs, else every core.  */
static int
scan_jobs (const struct panaudit_scan_args *a, unsigned int *r_jobs)
{
  long n;
  char *end;

  if (!a->jobs)
    {
      n = sysconf (_SC_NPROCESSORS_ONLN);
      *r_jobs = n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (unsigned int)n;
      return 0;
    }
  n = strtol (a->jobs, &end, 10);
  if (end == a->jobs || *end || n < 1 || n > MAX_JOBS)
    {
      cmd_info ("--jobs: not a number from 1 to %d (see 'panaudit --help')",
                MAX_JOBS);
      return EXIT_ERROR;
    }
  *r_jobs = (unsigned int)n;
  return 0;
}

static void
print_summary (const struct scan_tally *t)
{
  es_fflush (es_stdout);
  es_fprintf (es_stderr, "%s: %llu PAN%s in %llu file%s", cmd_name (),
              t->pans, t->pans == 1 ? "" : "s", t->files_hit,
              t->files_hit == 1 ? "" : "s");
  if (t->a->allow)
    es_fprintf (es_stderr, ", %llu allowed", t->allowed);
  es_fprintf (es_stderr, "; %llu file%s scanned, %llu skipped", t->scanned,
              t->scanned == 1 ? "" : "s", t->skipped);
  if (t->failed)
    es_fprintf (es_stderr, ", %llu unreadable", t->failed);
  es_putc ('\n', es_stderr);
}

/* Scan every path of A with SO.  */
static gpg_error_t
scan_paths (const struct panaudit_scan_args *a, pan_scanner_t scanner,
            struct pan_scan_options *so)
{
  gpg_error_t err = 0;

  for (int i = 0; i < a->npaths && !err; i++)
    err = pan_scan_path (scanner, a->paths[i], so);
  return err;
}

int
panaudit_scan (const struct panaudit_scan_args *a)
{
  gpg_error_t err;
  pan_scanner_t scanner = NULL;
  pan_scan_allow_t allow = NULL;
  struct scan_tally t;
  struct pan_scan_options so;
  int rc;

  if (a->npaths < 1)
    {
      cmd_info ("usage: panaudit scan [--json] [--exclude GLOB]..."
                " [--skip-binary] [--no-progress] [--allow FILE]"
                " [--jobs N] PATH... (see 'panaudit --help')");
      return EXIT_ERROR;
    }
  memset (&so, 0, sizeof so);
  if ((rc = scan_jobs (a, &so.jobs)) || (rc = scan_allow (a, &allow))
      || (rc = scan_scanner (a, &scanner)))
    {
      pan_scan_allow_release (allow);
      return rc;
    }
  memset (&t, 0, sizeof t);
  t.a = a;
  t.progress = !a->no_progress && isatty (2);
  so.exclude = a->excludes;
  so.skip_binary = a->skip_binary;
  so.hit_cb = scan_hit_cb;
  so.file_cb = scan_file_cb;
  so.opaque = &t;
  so.allow = allow;
  err = scan_paths (a, scanner, &so);
  clear_progress (&t);
  pan_scanner_release (scanner);
  pan_scan_allow_release (allow);
  if (err)
    cmd_error (err, "scan", NULL);
  print_summary (&t);
  if (err || t.failed || es_ferror (es_stdout))
    return EXIT_ERROR;
  return t.pans ? EXIT_PANS_FOUND : 0;
}
