/* fuzz-headers.c - libFuzzer target for the header block parser
 *
 * Parses the input as a header block and every To, Cc, Bcc and From
 * field as an address list, checking what the parser promises.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "headers-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
is_address_field (const char *name)
{
  static const char *const names[] = { "to", "cc", "bcc", "from" };
  size_t i, j;

  for (i = 0; i < sizeof names / sizeof *names; i++)
    {
      for (j = 0; name[j] && names[i][j]; j++)
        if ((name[j] | 0x20) != names[i][j])
          break;
      if (!name[j] && !names[i][j])
        return 1;
    }
  return 0;
}

static void
check_addresses (const char *value)
{
  pan_addrlist_t list = NULL;
  char *reason = NULL;
  char *norm = NULL;
  size_t i;

  if (pan_addrlist_new (&list))
    return;
  if (pan_addrlist_parse (list, value, &reason))
    {
      if (!reason || pan_addrlist_count (list))
        abort ();
    }
  for (i = 0; i < pan_addrlist_count (list); i++)
    {
      /* A list entry is in normal form already.  */
      if (pan_addr_normalize (pan_addrlist_addr (list, i), &norm, NULL)
          || strcmp (norm, pan_addrlist_addr (list, i)))
        abort ();
      pan_free (norm);
      norm = NULL;
    }
  pan_free (reason);
  pan_addrlist_release (list);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  pan_headers_t headers = NULL;
  char *reason = NULL;
  size_t consumed = 0;
  size_t i;

  if (pani_headers_parse (data, size, &headers, &consumed, &reason))
    {
      if (!reason || headers)
        abort ();
      pan_free (reason);
      return 0;
    }
  if (consumed > size || !pan_headers_count (headers))
    abort ();
  for (i = 0; i < pan_headers_count (headers); i++)
    {
      const char *raw = pan_headers_raw (headers, i);

      if (!raw || !*raw || raw[strlen (raw) - 1] != '\n'
          || strchr (pan_headers_value (headers, i), '\n')
          || strchr (raw, '\r'))
        abort ();
      if (is_address_field (pan_headers_name (headers, i)))
        check_addresses (pan_headers_value (headers, i));
    }
  pan_headers_release (headers);
  return 0;
}
