/* fuzz-colons.c - libFuzzer target for the "gpg --with-colons
 * --check-sigs" parser of the algorithm policy
 *
 * The key looked for is the first "fpr" record of the input (else a
 * fixed fingerprint).  On success the hash algorithm is a byte and the
 * binding is named; every refusal carries a reason and no result.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "policy-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FPR_TAG "fpr:::::::::"
#define DEFAULT_FPR "77D93EA874892351177646BC7E6C049659DAF1AF"

/* Copy the first fingerprint of DATA/SIZE into BUF (65 bytes).  */
static void
first_fpr (const uint8_t *data, size_t size, char *buf)
{
  size_t taglen = strlen (FPR_TAG), i, n;

  strcpy (buf, DEFAULT_FPR);
  for (i = 0; i + taglen <= size; i++)
    if (!memcmp (data + i, FPR_TAG, taglen))
      {
        for (n = 0; n < 64 && i + taglen + n < size
             && data[i + taglen + n] != ':' && data[i + taglen + n] != '\n';
             n++)
          buf[n] = data[i + taglen + n] ? (char)data[i + taglen + n] : '0';
        buf[n] = 0;
        return;
      }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char fpr[65], *where = NULL, *reason = NULL;
  int algo = -1;
  gpg_error_t err;

  first_fpr (data, size, fpr);
  err = pani_policy_parse_colons (data, size, fpr, &algo, &where, &reason);
  if (err)
    {
      if (algo || where)
        abort ();
      if ((gpg_err_code (err) == GPG_ERR_INV_DATA
           || gpg_err_code (err) == GPG_ERR_NO_DATA)
          && !reason)
        abort ();
    }
  else if (algo < 0 || algo > 255 || !where || reason)
    abort ();
  pani_policy_check_digest (algo, NULL);
  pan_free (where);
  pan_free (reason);
  return 0;
}
