/* bench-pan.c - measure the PAN scanner on one core
 *
 * Usage: bench-pan [--mime] [--repeat=N] FILE
 * Reads FILE into memory, then scans it N times (default 3) in 64 KiB
 * chunks (with the MIME walker if --mime) and prints the hits, a digest
 * of where they are and what they mask to, and the best throughput in
 * MB/s.  The first pass also brings the file's pages in.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gcrypt.h>

#include "panmail.h"

#define CHUNK (64 * 1024)

/* The hits seen: their number and a digest of their offsets, lengths
 * and masks, so that two builds can be shown to find the same PANs.  */
struct tally
{
  unsigned long hits;
  gcry_md_hd_t md;
};

static gpg_error_t
count_hit (void *opaque, const struct pan_hit *hit)
{
  struct tally *t = opaque;
  char line[128];
  int n;

  t->hits++;
  n = snprintf (line, sizeof line, "%llu %zu %s\n", hit->offset, hit->length,
                hit->masked);
  gcry_md_write (t->md, line, n);
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
scan_plain (pan_scanner_t s, const char *buf, size_t len, struct tally *t)
{
  gpg_error_t err = 0;
  size_t off, n;

  for (off = 0; off < len && !err; off += n)
    {
      n = len - off > CHUNK ? CHUNK : len - off;
      err = pan_scanner_feed (s, buf + off, n, count_hit, t);
    }
  return err ? err : pan_scanner_finish (s, count_hit, t);
}

static gpg_error_t
scan_mime (pan_scanner_t s, const char *buf, size_t len, struct tally *t)
{
  pan_mime_t m = NULL;
  gpg_error_t err;
  size_t off, n;

  err = pan_mime_scan_new (s, NULL, NULL, count_mime_hit, t, &m);
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
now (clockid_t clock)
{
  struct timespec ts;

  clock_gettime (clock, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Scan BUF/LEN REPEAT times; print the best time and the hits.  */
static gpg_error_t
bench (pan_scanner_t s, int mime, const char *buf, size_t len, int repeat)
{
  gpg_error_t err = 0;
  double t0, t1, c0, c1, best = 0, bestcpu = 0;
  struct tally t;
  char digest[65];
  int i;

  for (i = 0; i < repeat && !err; i++)
    {
      t.hits = 0;
      if ((err = gcry_md_open (&t.md, GCRY_MD_SHA256, 0)))
        break;
      t0 = now (CLOCK_MONOTONIC);
      c0 = now (CLOCK_PROCESS_CPUTIME_ID);
      err = mime ? scan_mime (s, buf, len, &t) : scan_plain (s, buf, len, &t);
      c1 = now (CLOCK_PROCESS_CPUTIME_ID);
      t1 = now (CLOCK_MONOTONIC);
      if (!i || t1 - t0 < best)
        best = t1 - t0, bestcpu = c1 - c0;
      for (int k = 0; k < 32; k++)
        sprintf (digest + 2 * k, "%02x", gcry_md_read (t.md, 0)[k]);
      gcry_md_close (t.md);
    }
  if (!err)
    printf ("%s: %lu hits (digest %.16s) in %.1f MB, best of %d: %.3f s,"
            " %.0f MB/s (CPU %.3f s)\n", mime ? "panmail mime"
            : "panmail scanner", t.hits, digest, len / 1e6, repeat, best,
            len / 1e6 / best, bestcpu);
  return err;
}

int
main (int argc, char **argv)
{
  static const char key[] = "bench key";
  pan_scanner_t s = NULL;
  char *buf = NULL;
  size_t len = 0;
  int mime = 0, repeat = 3;
  gpg_error_t err;

  for (; argc > 2 && !strncmp (argv[1], "--", 2); argc--, argv++)
    if (!strcmp (argv[1], "--mime"))
      mime = 1;
    else if (!strncmp (argv[1], "--repeat=", 9) && atoi (argv[1] + 9) > 0)
      repeat = atoi (argv[1] + 9);
    else
      break;
  if (argc != 2)
    {
      fputs ("usage: bench-pan [--mime] [--repeat=N] FILE\n", stderr);
      return 2;
    }
  gcry_check_version (NULL);
  gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  err = read_file (argv[1], &buf, &len);
  if (!err)
    err = pan_scanner_new (key, sizeof key - 1, &s);
  if (!err)
    err = bench (s, mime, buf, len, repeat);
  if (err)
    {
      fprintf (stderr, "bench-pan: %s: %s\n", argv[1], gpg_strerror (err));
      return 2;
    }
  pan_scanner_release (s);
  free (buf);
  return 0;
}
