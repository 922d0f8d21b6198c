/* seal.c - a sealed spool for a message body read more than once
 *
 * A message with several copies (one per protocol, one per Bcc
 * recipient) is encrypted several times, but its body arrives once on
 * stdin and must not be held in memory (it may be large) nor written to
 * disk in clear.  So it is written once to an unlinked file under a
 * one-time key in secure memory (encrypt-then-MAC), and read back for
 * each copy after the MAC has been checked.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gcrypt.h>

#include "util.h"
#include "seal-int.h"

#define SEAL_KEYLEN 32
#define SEAL_MACLEN 32
#define SEAL_CHUNK 16384

struct pani_seal
{
  int fd;
  unsigned char *keys; /* Secure: cipher key, then MAC key.  */
  gcry_cipher_hd_t cipher;
  gcry_mac_hd_t mac;
  unsigned char tag[SEAL_MACLEN];
  int sealed;         /* Writing ended, TAG is final.  */
  unsigned char *buf; /* Secure: one chunk for en/decryption.  */
};

static gpg_error_t
open_unlinked (const char *dir, int *r_fd)
{
  char *path;
  int fd;

  *r_fd = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (*r_fd >= 0)
    return 0;
  if (!(path = pani_strdupf ("%s/seal.XXXXXX", dir)))
    return gpg_error_from_syserror ();
  fd = mkstemp (path);
  if (fd >= 0)
    unlink (path);
  free (path);
  if (fd < 0)
    return gpg_error_from_syserror ();
  *r_fd = fd;
  return 0;
}

/* Start CTR at zero and the MAC anew: each key is used for one file.  */
static gpg_error_t
restart (pani_seal_t seal)
{
  gpg_error_t err;

  if ((err = gcry_cipher_setctr (seal->cipher, NULL, 0)))
    return err;
  return gcry_mac_reset (seal->mac);
}

static gpg_error_t
make_keys (pani_seal_t seal)
{
  gpg_error_t err;

  seal->keys = gcry_random_bytes_secure (2 * SEAL_KEYLEN,
                                         GCRY_STRONG_RANDOM);
  seal->buf = gcry_malloc_secure (SEAL_CHUNK);
  if (!seal->keys || !seal->buf)
    return gpg_error_from_syserror ();
  if ((err = gcry_cipher_open (&seal->cipher, GCRY_CIPHER_AES256,
                               GCRY_CIPHER_MODE_CTR, GCRY_CIPHER_SECURE))
      || (err = gcry_cipher_setkey (seal->cipher, seal->keys, SEAL_KEYLEN))
      || (err = gcry_mac_open (&seal->mac, GCRY_MAC_HMAC_SHA256,
                               GCRY_MAC_FLAG_SECURE, NULL))
      || (err = gcry_mac_setkey (seal->mac, seal->keys + SEAL_KEYLEN,
                                 SEAL_KEYLEN)))
    return err;
  return restart (seal);
}

gpg_error_t
pani_seal_create (const char *dir, pani_seal_t *r_seal)
{
  gpg_error_t err;
  pani_seal_t seal;

  *r_seal = NULL;
  if (!(seal = calloc (1, sizeof *seal)))
    return gpg_error_from_syserror ();
  seal->fd = -1;
  if ((err = open_unlinked (dir, &seal->fd)) || (err = make_keys (seal)))
    {
      pani_seal_release (seal);
      return err;
    }
  *r_seal = seal;
  return 0;
}

gpg_error_t
pani_seal_write (pani_seal_t seal, const void *buf, size_t len)
{
  gpg_error_t err;
  const unsigned char *p = buf;

  if (seal->sealed)
    return gpg_error (GPG_ERR_INV_STATE);
  while (len)
    {
      size_t n = len < SEAL_CHUNK ? len : SEAL_CHUNK;

      if ((err = gcry_cipher_encrypt (seal->cipher, seal->buf, n, p, n))
          || (err = gcry_mac_write (seal->mac, seal->buf, n))
          || (err = pani_write_all (seal->fd, seal->buf, n)))
        return err;
      p += n;
      len -= n;
    }
  return 0;
}

static gpg_error_t
read_some (int fd, unsigned char *buf, size_t size, size_t *r_n)
{
  ssize_t n;

  do
    n = read (fd, buf, size);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return gpg_error_from_syserror ();
  *r_n = n;
  return 0;
}

/* Recompute the MAC over the whole file and compare it with TAG.  */
static gpg_error_t
check_file (pani_seal_t seal)
{
  gpg_error_t err;
  size_t n = 0;

  if (lseek (seal->fd, 0, SEEK_SET))
    return gpg_error_from_syserror ();
  if ((err = gcry_mac_reset (seal->mac)))
    return err;
  while (!(err = read_some (seal->fd, seal->buf, SEAL_CHUNK, &n)) && n)
    if ((err = gcry_mac_write (seal->mac, seal->buf, n)))
      return err;
  if (err)
    return err;
  if (gcry_mac_verify (seal->mac, seal->tag, SEAL_MACLEN))
    return gpg_error (GPG_ERR_BAD_SIGNATURE);
  if (lseek (seal->fd, 0, SEEK_SET))
    return gpg_error_from_syserror ();
  return gcry_cipher_setctr (seal->cipher, NULL, 0);
}

gpg_error_t
pani_seal_rewind (pani_seal_t seal)
{
  gpg_error_t err;
  size_t len = SEAL_MACLEN;

  if (!seal->sealed)
    {
      if ((err = gcry_mac_read (seal->mac, seal->tag, &len)))
        return err;
      seal->sealed = 1;
    }
  return check_file (seal);
}

gpg_error_t
pani_seal_read (pani_seal_t seal, void *buf, size_t size, size_t *r_nread)
{
  gpg_error_t err;

  *r_nread = 0;
  if (!seal->sealed)
    return gpg_error (GPG_ERR_INV_STATE);
  if (size > SEAL_CHUNK)
    size = SEAL_CHUNK;
  if ((err = read_some (seal->fd, seal->buf, size, r_nread)))
    return err;
  return gcry_cipher_decrypt (seal->cipher, buf, *r_nread, seal->buf,
                              *r_nread);
}

void
pani_seal_release (pani_seal_t seal)
{
  if (!seal)
    return;
  if (seal->fd >= 0)
    close (seal->fd);
  gcry_cipher_close (seal->cipher);
  gcry_mac_close (seal->mac);
  if (seal->keys)
    {
      pani_wipe (seal->keys, 2 * SEAL_KEYLEN);
      gcry_free (seal->keys);
    }
  if (seal->buf)
    {
      pani_wipe (seal->buf, SEAL_CHUNK);
      gcry_free (seal->buf);
    }
  free (seal);
}
