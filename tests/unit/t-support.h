/* t-support.h - a tiny assertion helper for the unit tests  */
#ifndef T_SUPPORT_H
#define T_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;
static int t_checks;

#define T_CHECK(cond) t_check (!!(cond), #cond, __FILE__, __LINE__)
#define T_STREQ(a, b) t_streq ((a), (b), #a, __FILE__, __LINE__)
#define T_ERR(err, code) t_err ((err), (code), #err, __FILE__, __LINE__)

static void
t_check (int ok, const char *expr, const char *file, int line)
{
  t_checks++;
  if (!ok)
    {
      t_failures++;
      fprintf (stderr, "%s:%d: check failed: %s\n", file, line, expr);
    }
}

static void
t_streq (const char *got, const char *want, const char *expr,
         const char *file, int line)
{
  int ok = got && want ? !strcmp (got, want) : got == want;

  t_check (ok, expr, file, line);
  if (!ok)
    fprintf (stderr, "    got  \"%s\"\n    want \"%s\"\n",
             got ? got : "(null)", want ? want : "(null)");
}

static void
t_err (gpg_error_t err, int code, const char *expr, const char *file,
       int line)
{
  int ok = (int)gpg_err_code (err) == code;

  t_check (ok, expr, file, line);
  if (!ok)
    fprintf (stderr, "    got error %d (%s), want %d\n", gpg_err_code (err),
             gpg_strerror (err), code);
}

/* Exit status for automake: 0 pass, 1 fail.  */
static int
t_done (const char *name)
{
  printf ("%s: %d checks, %d failed\n", name, t_checks, t_failures);
  return t_failures ? 1 : 0;
}

#endif /* T_SUPPORT_H */
