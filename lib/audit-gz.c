/* audit-gz.c - closed segments compressed with gzip (zlib)
 *
 * panaudit rotate --compress replaces a closed segment
 * audit-FIRST-LAST-TIME1-TIME2.log by audit-...log.gz, a gzip file
 * (RFC 1952) that zcat reads.  Readers inflate it as they read, a
 * chunk at a time, so memory use does not grow with the segment.  The
 * records inside carry the hash chain and the MACs as before; the
 * gzip CRC-32 and length of every member are checked too, and a
 * member that is cut short, damaged or followed by anything but
 * another member is refused (GPG_ERR_INV_DATA).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"

/* Compressed bytes read or written at once.  */
#define GZ_CHUNK (64 * 1024)
/* windowBits for a gzip wrapper (not zlib, not raw deflate).  */
#define GZ_WBITS (15 + 16)

struct pani_audit_gz
{
  z_stream z;
  int fd;
  int member_done; /* The member inflated last ended.  */
  int eof;         /* No more input.  */
  unsigned char in[GZ_CHUNK];
};

gpg_error_t
pani_audit_gz_open (int fd, struct pani_audit_gz **r_gz)
{
  struct pani_audit_gz *gz = calloc (1, sizeof *gz);

  *r_gz = NULL;
  if (!gz)
    return gpg_error_from_syserror ();
  gz->fd = fd;
  if (inflateInit2 (&gz->z, GZ_WBITS) != Z_OK)
    {
      free (gz);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  *r_gz = gz;
  return 0;
}

void
pani_audit_gz_close (struct pani_audit_gz *gz)
{
  if (!gz)
    return;
  inflateEnd (&gz->z);
  free (gz);
}

/* Read more compressed input into GZ; false at the end of the file.  */
static gpg_error_t
gz_input (struct pani_audit_gz *gz)
{
  ssize_t n;

  do
    n = read (gz->fd, gz->in, sizeof gz->in);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return gpg_error_from_syserror ();
  gz->eof = !n;
  gz->z.next_in = gz->in;
  gz->z.avail_in = (uInt)n;
  return 0;
}

gpg_error_t
pani_audit_gz_read (struct pani_audit_gz *gz, char *buf, size_t size,
                    size_t *r_n)
{
  gpg_error_t err;
  int rc;

  *r_n = 0;
  gz->z.next_out = (unsigned char *)buf;
  gz->z.avail_out = (uInt)size;
  while (gz->z.avail_out == size)
    {
      if (!gz->z.avail_in && !gz->eof && (err = gz_input (gz)))
        return err;
      if (!gz->z.avail_in && gz->eof)
        {
          if (gz->member_done)
            break;
          return gpg_error (GPG_ERR_INV_DATA); /* Cut short.  */
        }
      /* More input after a member: the next member (zcat reads a
       * concatenation of gzip files as one).  */
      if (gz->member_done && inflateReset (&gz->z) != Z_OK)
        return gpg_error (GPG_ERR_INV_DATA);
      gz->member_done = 0;
      rc = inflate (&gz->z, Z_NO_FLUSH);
      if (rc == Z_STREAM_END)
        gz->member_done = 1;
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return gpg_error (rc == Z_MEM_ERROR ? GPG_ERR_ENOMEM
                                            : GPG_ERR_INV_DATA);
    }
  *r_n = size - gz->z.avail_out;
  return 0;
}

/* Deflate what Z holds into OUT, written to DST, until it takes no more
 * output (FLUSH Z_FINISH: until the end of the member).  */
static gpg_error_t
gz_drain (z_stream *z, int flush, unsigned char *out, int dst)
{
  gpg_error_t err;
  int rc;

  do
    {
      z->next_out = out;
      z->avail_out = GZ_CHUNK;
      rc = deflate (z, flush);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return gpg_error (GPG_ERR_INTERNAL);
      if ((err = pani_write_all (dst, out, GZ_CHUNK - z->avail_out)))
        return err;
    }
  while (!z->avail_out || (flush == Z_FINISH && rc != Z_STREAM_END));
  return 0;
}

gpg_error_t
pani_audit_gz_compress (int src, int dst)
{
  gpg_error_t err = 0;
  z_stream z;
  unsigned char *in = malloc (GZ_CHUNK), *out = malloc (GZ_CHUNK);
  ssize_t n = 1;

  memset (&z, 0, sizeof z);
  if (!in || !out
      || deflateInit2 (&z, 6, Z_DEFLATED, GZ_WBITS, 8, Z_DEFAULT_STRATEGY)
        != Z_OK)
    {
      free (in);
      free (out);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  while (!err && n > 0)
    {
      do
        n = read (src, in, GZ_CHUNK);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        err = gpg_error_from_syserror ();
      else
        {
          z.next_in = in;
          z.avail_in = (uInt)n;
          err = gz_drain (&z, n ? Z_NO_FLUSH : Z_FINISH, out, dst);
        }
    }
  deflateEnd (&z);
  free (in);
  free (out);
  return err;
}
