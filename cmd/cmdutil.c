/* cmdutil.c - what the panmail tools share: messages and exit codes  */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define GPGRT_ENABLE_ARGPARSE_MACROS 1
#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"

static const char *prog_name = "panmail";
static const char *prog_usage;
static const char *prog_description;

/* gpgrt's argparse prints the --version text before the help of
 * --help.  Its standard output goes through usage_out, which holds the
 * text back: the help drops it (it asks for strusage 42 first, after
 * the version text), else (--version) it is written at exit.  */
static char held[1024];
static size_t nheld;
static int in_help;

static void
write_held (void)
{
  if (nheld)
    es_write (es_stdout, held, nheld, NULL);
  nheld = 0;
  es_fflush (es_stdout);
}

static int
usage_out (int mode, const char *s)
{
  estream_t out = mode == 2 ? es_stderr : es_stdout;
  size_t len;

  if (!s)
    {
      if (mode == 2 || in_help)
        es_fflush (out);
      return 0;
    }
  len = strlen (s);
  if (mode == 2 || in_help)
    return es_fputs (s, out);
  if (nheld + len > sizeof held)
    write_held ();
  if (len > sizeof held)
    return es_fputs (s, out);
  memcpy (held + nheld, s, len);
  nheld += len;
  return 0;
}

/* The help begins: drop the version text, say how to call the tool.  */
static void
begin_help (void)
{
  in_help = 1;
  nheld = 0;
  es_fprintf (es_stdout, "%s\n\n", prog_usage ? prog_usage : prog_name);
}

#define COPYRIGHT "Copyright (C) 2026 The panmail authors"

void
cmd_print_version (void)
{
  es_printf ("%s %s\n%s\n"
             "License GNU GPL-3.0-or-later"
             " <https://gnu.org/licenses/gpl.html>\n"
             "This is free software: you are free to change and redistribute"
             " it.\nThere is NO WARRANTY, to the extent permitted by law.\n",
             prog_name, PACKAGE_VERSION, COPYRIGHT);
}

static const char *
my_strusage (int level)
{
  switch (level)
    {
    case 9: return "GPL-3.0-or-later";
    case 11: return prog_name;
    case 13: return PACKAGE_VERSION;
    case 14: return COPYRIGHT;
    case 19: return "Please report bugs to <" PACKAGE_BUGREPORT ">.\n";
    case 1:
    case 40: return prog_usage;
    case 41: return prog_description;
    case 42: begin_help (); return NULL;
    default: return NULL;
    }
}

void
cmd_setup (const char *name, const char *usage, const char *description)
{
  prog_name = name;
  prog_usage = usage;
  prog_description = description;
  gpgrt_set_strusage (my_strusage);
  gpgrt_set_usage_outfnc (usage_out);
  atexit (write_held);
}

const char *
cmd_name (void)
{
  return prog_name;
}

/* Write TEXT to OUT with every card number in it masked (every digit
 * hidden if that fails), control characters as '?' if SAFE.  */
static void
put_masked (estream_t out, const char *text, int safe)
{
  char *masked = NULL;
  const char *p;

  if (pan_mask_text (text, &masked))
    masked = NULL;
  for (p = masked ? masked : text; *p; p++)
    if (safe && ((unsigned char)*p < 0x20 || *p == 0x7f))
      es_putc ('?', out);
    else
      es_putc (!masked && *p >= '0' && *p <= '9' ? '#' : *p, out);
  pan_free (masked);
}

void
cmd_put_safe (estream_t out, const char *text)
{
  put_masked (out, text, 1);
}

void
cmd_error (gpg_error_t err, const char *what, char *reason)
{
  es_fprintf (es_stderr, "%s: ", prog_name);
  if (reason)
    cmd_put_safe (es_stderr, reason);
  else
    {
      if (what)
        {
          cmd_put_safe (es_stderr, what);
          es_fputs (": ", es_stderr);
        }
      es_fputs (gpg_strerror (err), es_stderr);
    }
  es_putc ('\n', es_stderr);
  es_fflush (es_stderr);
  free (reason);
}

void
cmd_info (const char *fmt, ...)
{
  va_list ap;
  char *text = NULL;

  va_start (ap, fmt);
  es_fprintf (es_stderr, "%s: ", prog_name);
  if (gpgrt_vasprintf (&text, fmt, ap) >= 0 && text)
    put_masked (es_stderr, text, 0);
  else
    es_fputs ("(out of memory)", es_stderr);
  es_putc ('\n', es_stderr);
  va_end (ap);
  gpgrt_free (text);
}

/* atexit: no thread of the library's is left running at exit.  */
static void
settle_engines (void)
{
  (void)pan_engine_settle ();
}

void
cmd_init_library (void)
{
  gpg_error_t err = pan_init ();

  if (err)
    {
      cmd_error (err,
                 "initialising libgcrypt/GPGME (need libgcrypt >= 1.10,"
                 " GPGME >= 1.18 and gpg)",
                 NULL);
      exit (EX_SOFTWARE);
    }
  /* After pan_init, so that it runs before the exit handlers of the
   * libraries pan_init started.  */
  atexit (settle_engines);
}

void
cmd_put_json_string (estream_t out, const char *text)
{
  es_putc ('"', out);
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        es_fprintf (out, "\\%c", *p);
      else if (*p < 0x20 || *p == 0x7f)
        es_fprintf (out, "\\u%04x", *p);
      else
        es_putc (*p, out);
    }
  es_putc ('"', out);
}

void
cmd_put_json_member (estream_t out, const char *sep, const char *name,
                     const char *value)
{
  es_fprintf (out, "%s\"%s\":", sep, name);
  if (value)
    cmd_put_json_string (out, value);
  else
    es_fputs ("null", out);
}

void
cmd_put_json_time (estream_t out, const char *sep, const char *name,
                   time_t t)
{
  char when[32];

  cmd_put_json_member (out, sep, name,
                       t ? pan_time_format (t, when, sizeof when) : NULL);
}

int
cmd_exit_for_audit (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_ENOSPC:
    case GPG_ERR_EDQUOT:
    case GPG_ERR_EROFS:
    case GPG_ERR_EACCES:
    case GPG_ERR_EPERM:
    case GPG_ERR_ENOENT: return EX_CANTCREAT;
    default: return EX_IOERR;
    }
}

int
cmd_audit (pan_ctx_t ctx, const struct pan_audit_event *ev)
{
  gpg_error_t err;
  char *reason = NULL;

  if (!(err = pan_audit_append (ctx, ev, time (NULL), &reason)))
    return 0;
  cmd_error (err, "writing the audit record", reason);
  return cmd_exit_for_audit (err);
}

int
cmd_open_home (const char *home, pan_ctx_t *r_ctx, int fail_code)
{
  gpg_error_t err;
  char *reason = NULL;

  if ((err = pan_ctx_open (home, r_ctx, &reason)))
    {
      cmd_error (err, "opening the home", reason);
      return fail_code;
    }
  return 0;
}

int
cmd_openpgp_only_unless_smime (pan_ctx_t ctx)
{
  int in_use = 1;

  /* On an error both engines stay: the command reads the home itself
   * and says what is wrong.  */
  return !pan_smime_in_use (ctx, &in_use) && !in_use
    && !pan_ctx_openpgp_only (ctx);
}

int
cmd_load_registry (pan_ctx_t ctx, pan_registry_t *r_reg, int fail_code)
{
  gpg_error_t err;
  char *reason = NULL;

  err = pan_ctx_registry_load (ctx, r_reg, &reason);
  if (err)
    {
      cmd_error (err, "reading the registry", reason);
      return fail_code;
    }
  return 0;
}

int
cmd_recover (pan_ctx_t ctx)
{
  gpg_error_t err;
  char *reason = NULL;
  unsigned int n = 0;

  if ((err = pan_queue_recover (ctx, &n, &reason)))
    {
      cmd_error (err, "recovering a crashed pansend's copies", reason);
      return cmd_exit_for_audit (err);
    }
  if (n)
    cmd_info ("%u copies of a crashed pansend were queued; 'pansend -q'"
              " delivers them",
              n);
  return 0;
}

int
cmd_is_operator (pan_ctx_t ctx)
{
  struct stat st;

  return !stat (pan_ctx_home (ctx), &st) && st.st_uid == geteuid ();
}
