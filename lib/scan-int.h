/* scan-int.h - internal interface of the file scanner (not installed)
 *
 * scan.c scans one file (streams, formats, hits and their JSON form),
 * scan-walk.c walks paths, scan-pool.c scans the files of a walk with
 * several threads and hands their events on in the walk's order,
 * scan-allow.c reads allow lists.  */
#ifndef PAN_SCAN_INT_H
#define PAN_SCAN_INT_H

#include <sys/types.h>
#include "panmail.h"

/* Store at *R_COPY a malloc'ed copy of TEXT with every PAN masked.  */
gpg_error_t pani_scan_masked_copy (const char *text, char **r_copy);

/* Directories being walked, to refuse loops (bind mounts).  */
struct scan_ancestor
{
  dev_t dev;
  ino_t ino;
};

struct scan_pool;

/* One walk, or one thread of a pool.  */
struct scan_walk
{
  const struct pan_scan_options *o; /* Where events go.  */
  pan_scanner_t scanner;
  char *buf;   /* PAN_SCAN_CHUNK bytes.  */
  size_t used; /* Of BUF, since it was last wiped.  */
  struct scan_ancestor anc[PAN_SCAN_MAX_DEPTH + 1];
  size_t nanc;
  struct scan_pool *pool; /* Scans the files, or NULL.  */
  gpg_error_t err;        /* Fatal: stops the walk.  */
};

/* Where a path is: the directory to open it from, its name there and
 * its path as given.  */
struct scan_where
{
  int dirfd;
  const char *name;
  const char *path;
  unsigned int depth;
  int in_maildir;
};

/* Scan the regular file open at FD, found at AT, with the scanner and
 * buffer of W, telling W's callbacks (scan-walk.c).  */
typedef void (*scan_fd_fn) (struct scan_walk *w, const struct scan_where *at,
                            int fd);


/* scan-pool.c */

/* Start JOBS threads that scan files with SCAN_FD for the walk of O,
 * with clones of SCANNER (NULL: no key).  *R_WALKER receives the options
 * the walk must report its own events to, so that they go out in
 * order.  */
gpg_error_t pani_scan_pool_new (pan_scanner_t scanner,
                                const struct pan_scan_options *o,
                                unsigned int jobs, scan_fd_fn scan_fd,
                                struct scan_pool **r_pool,
                                const struct pan_scan_options **r_walker);

/* Hand the regular file open at FD, found at AT, to POOL (which closes
 * FD); wait while POOL has many files in hand.  Returns the error that
 * stops the walk, if any.  */
gpg_error_t pani_scan_pool_submit (struct scan_pool *pool,
                                   const struct scan_where *at, int fd);

/* Wait for every file of POOL, hand on their events, stop the threads;
 * return the first error that stopped the scan.  */
gpg_error_t pani_scan_pool_finish (struct scan_pool *pool);

/* Release POOL (after pani_scan_pool_finish).  */
void pani_scan_pool_release (struct scan_pool *pool);

/* Return the format pan_scan_path gives a file named PATH, in a Maildir
 * if IN_MAILDIR, whose first bytes are HEAD/LEN.  */
pan_scan_format_t pani_scan_format_detect (const char *path, int in_maildir,
                                           const void *head, size_t len);

#endif /* PAN_SCAN_INT_H */
