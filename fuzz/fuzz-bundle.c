/* fuzz-bundle.c - libFuzzer target for the bundle and bundle-state
 * parsers (lib/bundle.c)
 *
 * The input goes to both parsers.  What pani_bundle_parse accepts is
 * written back by pani_bundle_write as the same text (the parser
 * accepts only what the writer writes; a last line may lack its LF);
 * every key it accepts has the SHA-256 the bundle says and every active
 * recipient its key.  What pani_bundle_state_parse accepts survives a
 * round trip through pani_bundle_state_write.  Every refusal carries a
 * reason.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "bundle-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Check what the parser found in B.  */
static void
check_bundle (const struct pani_bundle *b)
{
  char hex[65];

  for (size_t i = 0; i < b->nkeys; i++)
    {
      pani_sha256_hex (b->keys[i].data, b->keys[i].len, hex);
      if (strcmp (hex, b->keys[i].sha256))
        abort ();
    }
  for (size_t i = 0; i < b->nrecs; i++)
    if (b->recs[i].status == PAN_STATUS_ACTIVE
        && !pani_bundle_key (b, b->recs[i].fingerprint))
      abort ();
}

static void
fuzz_bundle (const uint8_t *data, size_t size)
{
  struct pani_bundle *b = NULL;
  struct pani_buf out = { 0 };
  char *reason = NULL;
  gpg_error_t err;

  err = pani_bundle_parse (data, size, &b, &reason);
  if (err && (b || !reason))
    abort ();
  if (!err)
    {
      if (reason)
        abort ();
      check_bundle (b);
      pani_bundle_write (b, &out);
      if (pani_buf_error (&out)
          || !(out.len == size
               || (out.len == size + 1 && out.data[size] == '\n'))
          || memcmp (out.data, data, size < out.len ? size : out.len))
        abort ();
    }
  pani_buf_free (&out);
  pani_bundle_release (b);
  free (reason);
}

static void
fuzz_state (const uint8_t *data, size_t size)
{
  struct pani_bundle_state st, st2;
  struct pani_buf out = { 0 }, out2 = { 0 };
  char *reason = NULL;
  gpg_error_t err;

  err = pani_bundle_state_parse (data, size, &st, &reason);
  if (err && !reason)
    abort ();
  if (!err)
    {
      pani_bundle_state_write (&st, &out);
      if (pani_buf_error (&out)
          || pani_bundle_state_parse (out.data, out.len, &st2, NULL))
        abort ();
      pani_bundle_state_write (&st2, &out2);
      if (pani_buf_error (&out2) || out2.len != out.len
          || memcmp (out.data, out2.data, out.len)
          || st2.noperators != st.noperators || st2.applied != st.applied
          || st2.exported != st.exported || strcmp (st2.home, st.home))
        abort ();
      pani_bundle_state_clear (&st2);
    }
  pani_buf_free (&out);
  pani_buf_free (&out2);
  pani_bundle_state_clear (&st);
  free (reason);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int gcrypt_ready;

  if (!gcrypt_ready)
    gcrypt_ready = !!gcry_check_version (NULL);
  fuzz_bundle (data, size);
  fuzz_state (data, size);
  return 0;
}
