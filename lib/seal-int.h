/* seal-int.h - a sealed spool for a message body read more than once  */
#ifndef PAN_SEAL_INT_H
#define PAN_SEAL_INT_H

#include <stddef.h>
#include <gpg-error.h>

typedef struct pani_seal *pani_seal_t;

/* Create a sealed spool in the directory DIR: an unlinked file that
 * holds what is written encrypted with AES-256-CTR under a random key
 * that exists only in secure memory, authenticated with HMAC-SHA256.
 * Nothing of it is readable after the process ends.  */
gpg_error_t pani_seal_create (const char *dir, pani_seal_t *r_seal);

/* Append LEN bytes of BUF.  */
gpg_error_t pani_seal_write (pani_seal_t seal, const void *buf, size_t len);

/* End writing and start reading from the beginning; the whole file is
 * first checked against its MAC (GPG_ERR_BAD_SIGNATURE if altered).
 * May be called again to read it once more.  */
gpg_error_t pani_seal_rewind (pani_seal_t seal);

/* Read up to SIZE bytes into BUF; *R_NREAD is 0 at the end.  */
gpg_error_t pani_seal_read (pani_seal_t seal, void *buf, size_t size,
                            size_t *r_nread);

/* Wipe the keys and release SEAL (the file goes with it).  */
void pani_seal_release (pani_seal_t seal);

#endif /* PAN_SEAL_INT_H */
