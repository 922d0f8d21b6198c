/* fuzz-crl-list.c - libFuzzer target for the parser of dirmngr's
 * listing of its CRL cache (LISTCRLS)
 *
 * A refusal carries a reason and no list; an accepted listing gives
 * CRLs that each name an issuer without control characters, a "This
 * Update", and a trust fingerprint that is 40 upper-case hex digits or
 * none.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "crl-list-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_text (const char *s)
{
  for (; s && *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      abort ();
}

static void
check_crl (const struct pan_crl *c)
{
  if (!c->issuer || !*c->issuer || !c->this_update)
    abort ();
  if (c->trust_fpr
      && (strlen (c->trust_fpr) != 40
          || strspn (c->trust_fpr, "0123456789ABCDEF") != 40))
    abort ();
  check_text (c->issuer);
  check_text (c->problem);
  check_text (c->source);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct pan_crl *crls = NULL;
  size_t count = 0;
  char *reason = NULL;
  gpg_error_t err;

  err = pani_crl_parse_list (data, size, &crls, &count, &reason);
  if (err && (crls || count || !reason))
    abort ();
  if (!err && reason)
    abort ();
  for (size_t i = 0; !err && i < count; i++)
    check_crl (&crls[i]);
  pan_crls_release (crls, count);
  pan_free (reason);
  return 0;
}
