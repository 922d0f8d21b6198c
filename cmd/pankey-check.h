/* pankey-check.h - "pankey check", the monitoring plugin of pankey  */
#ifndef PAN_PANKEY_CHECK_H
#define PAN_PANKEY_CHECK_H

/* The exit code of a check that could not run (also a usage error).  */
#define PANKEY_CHECK_UNKNOWN 3

/* The command line of pankey check, as given (NULL: not given).  */
struct pankey_check_args
{
  const char *home;
  int json;
  const char *warn; /* -w DAYS (--days DAYS is the same).  */
  const char *days;
  const char *crit;    /* -c DAYS.  */
  const char *timeout; /* -t SECONDS.  */
};

/* Say on stdout, as the status line of a monitoring plugin, that the
 * command line is wrong (WHAT), and return PANKEY_CHECK_UNKNOWN.  */
int pankey_check_usage (int json, const char *what);

/* Review every active key, every address left without a usable key and
 * every trusted CA of the home A->HOME (see pan_ctx_open): WARNING for
 * a key that expires within A->WARN days (default expire-warn-days),
 * CRITICAL within A->CRIT days (default 0: expired), the review's other
 * findings as they are.  Print the status line with perfdata first,
 * then a line per finding (or JSON lines with A->JSON), and return the
 * worst severity as the exit code: 3 if the check could not run, was
 * called wrongly or took longer than A->TIMEOUT seconds (default 60).  */
int pankey_check (const struct pankey_check_args *a);

#endif /* PAN_PANKEY_CHECK_H */
