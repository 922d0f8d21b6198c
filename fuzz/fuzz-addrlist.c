/* fuzz-addrlist.c - libFuzzer target for the address list parser
 *
 * Parses the NUL-terminated input as an address list and as a bare
 * address, checking that normal forms are stable and match as
 * pani_addr_same says.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "addrlist-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The one rule of matching (pani_addr_same): a normal form matches
 * itself exactly, its spelling in capitals ignoring case, and an exact
 * match is also one ignoring case.  */
static void
check_same (const char *norm)
{
  char *up = strdup (norm);
  size_t i;

  if (!up)
    return;
  for (i = 0; up[i]; i++)
    if (up[i] >= 'a' && up[i] <= 'z')
      up[i] = (char)(up[i] - 'a' + 'A');
  if (!pani_addr_same (norm, norm, 1) || !pani_addr_same (norm, up, 0)
      || !pani_addr_same (up, norm, 0)
      || (pani_addr_same (norm, up, 1) && !pani_addr_same (norm, up, 0)))
    abort ();
  free (up);
}

/* Normalise ADDR and check that its normal form is its own normal
 * form; if MUST_EQUAL, ADDR must be in normal form already.  */
static void
check_normalize (const char *addr, int must_equal)
{
  char *norm = NULL, *again = NULL, *reason = NULL;

  if (pan_addr_normalize (addr, &norm, &reason))
    {
      if (!reason || norm || must_equal)
        abort ();
      pan_free (reason);
      return;
    }
  if (must_equal && strcmp (norm, addr))
    abort ();
  if (reason || pan_addr_normalize (norm, &again, NULL)
      || strcmp (norm, again))
    abort ();
  check_same (norm);
  pan_free (norm);
  pan_free (again);
}

static void
check_list (const char *value)
{
  pan_addrlist_t list = NULL;
  char *reason = NULL;
  size_t i;

  if (pan_addrlist_new (&list))
    return;
  if (pan_addrlist_parse (list, value, &reason))
    {
      if (!reason || pan_addrlist_count (list))
        abort ();
      pan_free (reason);
    }
  for (i = 0; i < pan_addrlist_count (list); i++)
    {
      const char *display = pan_addrlist_display (list, i);

      if (strlen (pan_addrlist_addr (list, i)) > 998
          || (display && !*display))
        abort ();
      check_normalize (pan_addrlist_addr (list, i), 1);
    }
  pan_addrlist_release (list);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *value = malloc (size + 1);

  if (!value)
    return 0;
  if (size)
    memcpy (value, data, size);
  value[size] = 0;
  check_list (value);
  check_normalize (value, 0);
  free (value);
  return 0;
}
