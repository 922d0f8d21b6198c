/* fuzz-fpr.c - libFuzzer target for pan_fpr_normalize, the reader of
 * every fingerprint an operator types or a bundle carries
 *
 * An accepted fingerprint is 40 or 64 upper-case hex digits, and
 * normalising it again gives it unchanged; a refusal always says why.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_fpr (const char *fpr)
{
  size_t n = strlen (fpr);
  char *again = NULL, *reason = NULL;

  if (n != 40 && n != 64)
    abort ();
  if (strspn (fpr, "0123456789ABCDEF") != n)
    abort ();
  if (pan_fpr_normalize (fpr, &again, &reason) || strcmp (again, fpr))
    abort ();
  pan_free (again);
  pan_free (reason);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  char *fpr = NULL, *reason = NULL;

  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = 0;
  if (!pan_fpr_normalize (text, &fpr, &reason))
    check_fpr (fpr);
  else if (!reason)
    abort ();
  pan_free (fpr);
  pan_free (reason);
  free (text);
  return 0;
}
