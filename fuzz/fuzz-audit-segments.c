/* fuzz-audit-segments.c - libFuzzer target for reading a log directory:
 * closed segments, the checkpoint of pruning and audit.log
 *
 * Input: one mode byte, then files separated by NUL bytes, each its name
 * (letters, digits, '.', '-' and '_', at most 80 of them), a newline and
 * its content.  Mode bit 1 gives panaudit verify --dir the initial key
 * FUZZ_KEY (that of the audit seed corpus), bit 2 takes the first file's
 * content as an anchor line, not as a file.  The files are written to a
 * scratch directory, which pan_audit_verify_dir reads as panaudit verify
 * --dir does: the segment names order the chain, the checkpoint drops
 * what pruning removed.  The verdict must be consistent, as for
 * fuzz-audit.  */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "fuzz-audit-verdict.h"

#define FUZZ_KEY \
  "7f1c0e5b9a2d4c6e8f0a1b3c5d7e9f00112233445566778899aabbccddeeff01"
#define MAX_NAME 80

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char dir[64], keyfile[80];

static void empty_dir (void);

static void
remove_scratch (void)
{
  empty_dir ();
  rmdir (dir);
  unlink (keyfile);
}

/* Make the scratch directory and the key file, once.  */
static int
init_once (void)
{
  FILE *fp;

  if (*dir)
    return 0;
  gcry_check_version (NULL);
  gcry_control (GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  /* In memory where there is a tmpfs: every input writes its files.  */
  strcpy (dir, "/dev/shm/fuzz-audit-segments.XXXXXX");
  if (!mkdtemp (dir))
    {
      strcpy (dir, "/tmp/fuzz-audit-segments.XXXXXX");
      if (!mkdtemp (dir))
        abort ();
    }
  snprintf (keyfile, sizeof keyfile, "%s.key", dir);
  if (!(fp = fopen (keyfile, "w")) || fputs (FUZZ_KEY "\n", fp) < 0
      || fclose (fp))
    abort ();
  atexit (remove_scratch);
  return 0;
}

/* Remove every file of the scratch directory.  */
static void
empty_dir (void)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char path[512];

  if (!d)
    abort ();
  while ((e = readdir (d)))
    if (e->d_name[0] != '.')
      {
        snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
        unlink (path);
      }
  closedir (d);
}

/* Write the file of PART (LEN bytes: "NAME\nCONTENT") to the scratch
 * directory, if its name is acceptable.  */
static void
write_part (const char *part, size_t len)
{
  const char *nl = memchr (part, '\n', len);
  size_t namelen = nl ? (size_t)(nl - part) : 0;
  char path[512];
  int fd;

  if (!namelen || namelen > MAX_NAME || part[0] == '.'
      || strspn (part,
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789.-_")
        < namelen)
    return;
  snprintf (path, sizeof path, "%s/%.*s", dir, (int)namelen, part);
  if ((fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
    abort ();
  len -= namelen + 1;
  if (write (fd, nl + 1, len) != (ssize_t)len || close (fd))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct pan_audit_verdict v;
  char *copy, *p, *end, *nul, *anchor = NULL, *reason = NULL;
  int mode;
  gpg_error_t err;

  if (!size || init_once () || !(copy = malloc (size)))
    return 0;
  mode = data[0];
  memcpy (copy, data + 1, size - 1);
  end = copy + size - 1;
  for (p = copy; p < end; p = nul + 1)
    {
      if (!(nul = memchr (p, 0, end - p)))
        nul = end;
      if ((mode & 2) && !anchor)
        anchor = strndup (p, nul - p);
      else
        write_part (p, nul - p);
    }
  err = pan_audit_verify_dir (dir, (mode & 1) ? keyfile : NULL, anchor, &v,
                              &reason);
  check_verdict (err, &v, reason);
  pan_audit_verdict_release (&v);
  pan_free (reason);
  free (anchor);
  free (copy);
  empty_dir ();
  return 0;
}
