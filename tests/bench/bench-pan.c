/* bench-pan.c - measure the PAN scanner on one core
 *
 * Usage: bench-pan [--mime] FILE
 * Reads FILE into memory, then scans it in 64 KiB chunks (with the MIME
 * walker if --mime) and prints the hits and the throughput in MB/s.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gcrypt.h>

#include "panmail.h"

#define CHUNK (64 * 1024)

static gpg_error_t
count_hit (void *opaque, const struct pan_hit *hit)
{
  (void)hit;
  ++*(unsigned long *)opaque;
  return 0;
}

static gpg_error_t
count_mime_hit (void *opaque, const struct pan_mime_part *part,
                const struct pan_hit *hit)
{
  (void)part;
  return count_hit (opaque, hit);
}

static gpg_error_t
scan_plain (pan_scanner_t s, const char *buf, size_t len,
            unsigned long *r_hits)
{
  gpg_error_t err = 0;
  size_t off, n;

  for (off = 0; off < len && !err; off += n)
    {
      n = len - off > CHUNK ? CHUNK : len - off;
      err = pan_scanner_feed (s, buf + off, n, count_hit, r_hits);
    }
  return err ? err : pan_scanner_finish (s, count_hit, r_hits);
}

static gpg_error_t
scan_mime (pan_scanner_t s, const char *buf, size_t len,
           unsigned long *r_hits)
{
  pan_mime_t m = NULL;
  gpg_error_t err;
  size_t off, n;

  err = pan_mime_scan_new (s, NULL, NULL, count_mime_hit, r_hits, &m);
  for (off = 0; off < len && !err; off += n)
    {
      n = len - off > CHUNK ? CHUNK : len - off;
      err = pan_mime_scan_feed (m, buf + off, n);
    }
  if (!err)
    err = pan_mime_scan_finish (m);
  pan_mime_scan_release (m);
  return err;
}

/* Read the file PATH into malloc'ed *R_BUF.  */
static gpg_error_t
read_file (const char *path, char **r_buf, size_t *r_len)
{
  FILE *fp = fopen (path, "rb");
  gpg_error_t err = 0;
  size_t size = 1 << 20, n;
  char *buf = NULL, *tmp;

  *r_len = 0;
  if (!fp)
    return gpg_error_from_syserror ();
  for (;;)
    {
      if (!(tmp = realloc (buf, size)))
        {
          err = gpg_error_from_syserror ();
          break;
        }
      buf = tmp;
      n = fread (buf + *r_len, 1, size - *r_len, fp);
      *r_len += n;
      if (*r_len < size)
        break;
      size *= 2;
    }
  if (!err && ferror (fp))
    err = gpg_error (GPG_ERR_EIO);
  fclose (fp);
  if (err)
    free (buf);
  else
    *r_buf = buf;
  return err;
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  static const char key[] = "bench key";
  int mime = argc > 2 && !strcmp (argv[1], "--mime");
  pan_scanner_t s = NULL;
  char *buf = NULL;
  size_t len = 0;
  unsigned long hits = 0;
  gpg_error_t err;
  double t0, t1;

  if (argc != 2 + mime)
    {
      fputs ("usage: bench-pan [--mime] FILE\n", stderr);
      return 2;
    }
  gcry_check_version (NULL);
  gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  err = read_file (argv[1 + mime], &buf, &len);
  if (!err)
    err = pan_scanner_new (key, sizeof key - 1, &s);
  t0 = now ();
  if (!err)
    err = mime ? scan_mime (s, buf, len, &hits) : scan_plain (s, buf, len,
                                                              &hits);
  t1 = now ();
  if (err)
    {
      fprintf (stderr, "bench-pan: %s: %s\n", argv[1 + mime],
               gpg_strerror (err));
      return 2;
    }
  printf ("%s: %lu hits in %.1f MB, %.3f s, %.0f MB/s\n",
          mime ? "panmail mime" : "panmail scanner", hits, len / 1e6,
          t1 - t0, len / 1e6 / (t1 - t0));
  pan_scanner_release (s);
  free (buf);
  return 0;
}
