/* panaudit-scan.h - panaudit scan: card numbers in files  */
#ifndef PAN_PANAUDIT_SCAN_H
#define PAN_PANAUDIT_SCAN_H

/* What "panaudit scan" was asked to do.  */
struct panaudit_scan_args
{
  const char *home;            /* --home, or NULL.  */
  int json;                    /* --json: JSON lines.  */
  const char *const *excludes; /* NULL-terminated --exclude globs.  */
  int skip_binary;             /* --skip-binary.  */
  int no_progress;             /* --no-progress.  */
  const char *allow;           /* --allow FILE, or NULL.  */
  const char *jobs;            /* --jobs N, or NULL: every core.  */
  const char *const *paths;    /* The PATH arguments.  */
  int npaths;
};

/* Scan the paths of A for card numbers, print each hit and a summary.
 * Returns the exit code: 0 no PAN, 1 PANs found, 2 usage or I/O
 * error.  */
int panaudit_scan (const struct panaudit_scan_args *a);

#endif /* PAN_PANAUDIT_SCAN_H */
