/* fuzz-scan-allow.c - libFuzzer target for the allow-list parser
 *
 * The input is an allow list.  A list that is accepted must find every
 * hash it holds (each entry line's first 64 characters, in either case)
 * with a comment that is not empty, and must hold no card number; a
 * list that is refused must say why.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "scan-allow-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
is_hex (int c)
{
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Every line of DATA/SIZE that starts, after white space, with 64 hex
 * digits is an entry of the accepted list A.  */
static void
check_entries (pan_scan_allow_t a, const uint8_t *data, size_t size)
{
  const uint8_t *p = data, *end = data + size, *eol;
  char hash[65];
  size_t i, n = 0;
  const char *comment;

  for (; p < end; p = eol + 1)
    {
      if (!(eol = memchr (p, '\n', end - p)))
        eol = end;
      while (p < eol && (*p == ' ' || *p == '\t'))
        p++;
      for (i = 0; i < 64 && p + i < eol && is_hex (p[i]); i++)
        hash[i] = (char)(p[i] | 0x20);
      if (i < 64 || *p == '#')
        continue;
      hash[64] = 0;
      comment = pani_scan_allow_find (a, hash);
      if (!comment || !*comment)
        abort ();
      n++;
    }
  if (pani_scan_allow_count (a) > n)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int initialized;
  pan_scan_allow_t a = NULL;
  char *reason = NULL;
  gpg_error_t err;

  if (!initialized)
    {
      gcry_check_version (NULL);
      gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
      gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
      initialized = 1;
    }
  err = pani_scan_allow_parse (data, size, &a, &reason);
  if (err && (!reason || a))
    abort ();
  if (!err)
    check_entries (a, data, size);
  if (pani_scan_allow_find (a, "not a hash"))
    abort ();
  pan_scan_allow_release (a);
  pan_free (reason);
  return 0;
}
