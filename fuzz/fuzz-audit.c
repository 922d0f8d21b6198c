/* fuzz-audit.c - libFuzzer target for the audit log verifier
 *
 * Input: one mode byte, the log text, and optionally a NUL followed by
 * an auxiliary text.  Mode bit 1 checks MACs with FUZZ_KEY (the initial
 * key of the seed corpus), bit 2 takes the auxiliary text as audit.key,
 * bit 4 takes it as an anchor line, bit 8 as the text of the initial
 * key (as panaudit verify --key reads it).  The verdict must be
 * consistent: intact means no message and no bad record; damage names
 * a record.  Bit 16 also parses the auxiliary text as a --since/--until
 * time: a date read as its first and as its last second must be 86399
 * seconds apart, and a date-time must read the same either way.
 * Every line of the log that pani_audit_parse accepts must be exactly
 * what the formatter writes of the record it yields (the one-pass
 * parser accepts the canonical form and nothing else).
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gcrypt.h>

#include "panmail.h"
#include "fuzz-audit-verdict.h"
#include "audit-int.h"

#define FUZZ_KEY \
  "7f1c0e5b9a2d4c6e8f0a1b3c5d7e9f00112233445566778899aabbccddeeff01"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_time (const char *s)
{
  time_t first = 0, last = 0;
  gpg_error_t err0 = pan_audit_parse_time (s, 0, &first);
  gpg_error_t err1 = pan_audit_parse_time (s, 1, &last);

  if (!err0 != !err1)
    abort ();
  if (!err0 && last - first != (strlen (s) == 10 ? 86399 : 0))
    abort ();
}

/* Abort unless every line of LOG/LEN that parses is what the formatter
 * makes of it.  */
static void
check_round_trip (const char *log, size_t len)
{
  struct pani_audit_parsed p;
  struct pani_buf b = { NULL, 0, 0, 0 };
  const char *line = log, *nl, *end = log + len;

  memset (&p, 0, sizeof p);
  for (; line < end; line = nl + 1)
    {
      if (!(nl = memchr (line, '\n', (size_t)(end - line))))
        nl = end;
      if (pani_audit_parse (line, (size_t)(nl - line), &p, NULL))
        continue;
      b.len = 0;
      pani_audit_format_prefix (&b, &p.rec);
      pani_buf_puts (&b, AUDIT_MAC_PREFIX);
      pani_buf_puts (&b, p.rec.mac);
      pani_buf_puts (&b, "\"}");
      if (pani_buf_error (&b) || b.len != (size_t)(nl - line)
          || memcmp (b.data, line, b.len))
        abort ();
    }
  pani_buf_free (&b);
  pani_audit_parsed_clear (&p);
}

static void
init_once (void)
{
  static int done;

  if (done)
    return;
  done = 1;
  gcry_check_version (NULL);
  gcry_control (GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct pan_audit_verdict v;
  const uint8_t *nul;
  size_t loglen;
  char *aux = NULL, *reason = NULL;
  const char *key = NULL;
  int mode;
  gpg_error_t err;

  init_once ();
  if (!size)
    return 0;
  mode = data[0];
  data++, size--;
  nul = memchr (data, 0, size);
  loglen = nul ? (size_t)(nul - data) : size;
  if (nul && !(aux = strndup ((const char *)nul + 1, size - loglen - 1)))
    return 0;
  if ((mode & 8) && aux)
    key = aux;
  else if (mode & 1)
    key = FUZZ_KEY;
  err = pani_audit_verify_buffer (data, loglen,
                                  (mode & 2) && aux ? aux : NULL,
                                  (mode & 2) && aux ? strlen (aux) : 0, key,
                                  (mode & 4) && aux ? aux : NULL, &v,
                                  &reason);
  check_verdict (err, &v, reason);
  check_round_trip ((const char *)data, loglen);
  if ((mode & 16) && aux)
    check_time (aux);
  pan_audit_verdict_release (&v);
  pan_free (reason);
  free (aux);
  return 0;
}
