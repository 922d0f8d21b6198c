/* fuzz-agent-conf.c - libFuzzer target for the reading of gpg-agent.conf
 * that decides whether the daemons of a GnuPG home are left running
 * (pani_agent_conf_keeps)
 *
 * The answer is 0 or 1; it is 1 only if the text names one of the
 * three cache options, and it does not change when a comment line is
 * added in front.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Does DATA (SIZE bytes) hold WORD anywhere?  */
static int
holds (const uint8_t *data, size_t size, const char *word)
{
  size_t n = strlen (word);

  for (size_t i = 0; i + n <= size; i++)
    if (!memcmp (data + i, word, n))
      return 1;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char comment[] = "# a comment\n";
  int keep = pani_agent_conf_keeps ((const char *)data, size);
  char *text;

  if (keep != 0 && keep != 1)
    abort ();
  if (keep && !holds (data, size, "allow-preset-passphrase")
      && !holds (data, size, "default-cache-ttl")
      && !holds (data, size, "max-cache-ttl"))
    abort ();
  if (!(text = malloc (sizeof comment - 1 + size)))
    return 0;
  memcpy (text, comment, sizeof comment - 1);
  if (size)
    memcpy (text + sizeof comment - 1, data, size);
  if (pani_agent_conf_keeps (text, sizeof comment - 1 + size) != keep)
    abort ();
  free (text);
  return 0;
}
