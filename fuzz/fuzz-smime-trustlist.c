/* fuzz-smime-trustlist.c - libFuzzer target for the trustlist.txt parser
 *
 * A refusal carries a "trustlist.txt:LINE:" reason and no list; an
 * accepted file gives 40-digit upper-case hex fingerprints only.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "smime-trust-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_fprs (char **fprs, size_t count)
{
  for (size_t i = 0; i < count; i++)
    {
      if (!fprs[i] || strlen (fprs[i]) != 40
          || strspn (fprs[i], "0123456789ABCDEF") != 40)
        abort ();
    }
  if (fprs[count])
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char **fprs = NULL, *reason = NULL;
  size_t count = 0;
  gpg_error_t err;

  err = pani_smime_trustlist_parse (data, size, &fprs, &count, &reason);
  if (err
      && (fprs || count || !reason
          || strncmp (reason, "trustlist.txt:", 14)))
    abort ();
  if (!err)
    {
      if (reason || !fprs)
        abort ();
      check_fprs (fprs, count);
    }
  pan_argv_release (fprs);
  pan_free (reason);
  return 0;
}
