/* fuzz-enroll-list.c - libFuzzer target for the list of a bulk
 * enrollment (pan_enroll_list_parse)
 *
 * Whatever the parser accepts holds at least one pair, each address in
 * normal form (normalising it again changes nothing), each fingerprint
 * 40 or 64 upper-case hex digits, no address twice; written back as
 * "ADDRESS FINGERPRINT" lines it parses to the same pairs.  Every
 * refusal carries a reason.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_pair (pan_enroll_list_t list, size_t i)
{
  const char *addr = pan_enroll_list_address (list, i);
  const char *fpr = pan_enroll_list_fingerprint (list, i);
  char *norm = NULL;
  size_t n = fpr ? strlen (fpr) : 0;

  if (!addr || !fpr || (n != 40 && n != 64)
      || strspn (fpr, "0123456789ABCDEF") != n)
    abort ();
  if (pan_addr_normalize (addr, &norm, NULL) || strcmp (norm, addr))
    abort ();
  pan_free (norm);
  for (size_t j = 0; j < i; j++)
    if (!strcmp (pan_enroll_list_address (list, j), addr))
      abort ();
}

/* Write ADDR as a list line must: an address whose normal form starts
 * with '#' (an unquoted "#x"@y, say) has its local part quoted, since
 * a line that starts with '#' is a comment.  */
static void
put_address (FILE *mem, const char *addr)
{
  const char *at = strrchr (addr, '@');

  if (addr[0] == '#' && at)
    fprintf (mem, "\"%.*s\"%s", (int)(at - addr), addr, at);
  else
    fputs (addr, mem);
}

/* Write LIST as lines and parse that again: the same pairs.  */
static void
round_trip (pan_enroll_list_t list)
{
  size_t n = pan_enroll_list_count (list), len = 0;
  char *text = NULL;
  FILE *mem = open_memstream (&text, &len);
  pan_enroll_list_t again = NULL;

  if (!mem)
    abort ();
  for (size_t i = 0; i < n; i++)
    {
      put_address (mem, pan_enroll_list_address (list, i));
      fprintf (mem, " %s\n", pan_enroll_list_fingerprint (list, i));
    }
  if (fclose (mem) || pan_enroll_list_parse (text, len, &again, NULL)
      || pan_enroll_list_count (again) != n)
    abort ();
  for (size_t i = 0; i < n; i++)
    if (strcmp (pan_enroll_list_address (list, i),
                pan_enroll_list_address (again, i))
        || strcmp (pan_enroll_list_fingerprint (list, i),
                   pan_enroll_list_fingerprint (again, i)))
      abort ();
  pan_enroll_list_release (again);
  free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  pan_enroll_list_t list = NULL;
  char *reason = NULL;

  if (pan_enroll_list_parse (data, size, &list, &reason))
    {
      if (!reason || list)
        abort ();
      free (reason);
      return 0;
    }
  if (!pan_enroll_list_count (list))
    abort ();
  for (size_t i = 0; i < pan_enroll_list_count (list); i++)
    check_pair (list, i);
  round_trip (list);
  pan_enroll_list_release (list);
  return 0;
}
