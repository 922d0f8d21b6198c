/* pankey-check.h - "pankey check", the monitoring plugin of pankey  */
#ifndef PAN_PANKEY_CHECK_H
#define PAN_PANKEY_CHECK_H

/* The exit code of a check that could not run.  */
#define PANKEY_CHECK_UNKNOWN 3

/* Parse --days S (0 to 3650) into *R_DAYS, -1 for S NULL; return -1
 * if S is not such a number, else 0.  */
int pankey_parse_days (const char *s, long *r_days);

/* Review every active key and trusted CA of the home HOME (see
 * pan_ctx_open), warning of expiry within DAYS days (< 0:
 * expire-warn-days): print a line per finding and a summary with
 * perfdata, or JSON lines (JSON), and return the worst severity as the
 * exit code (3 if the check could not run).  */
int pankey_check (const char *home, int json, long days);

#endif /* PAN_PANKEY_CHECK_H */
