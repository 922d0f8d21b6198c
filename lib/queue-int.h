/* queue-int.h - reading the envelope of a queued copy (queue.c)  */
#ifndef PAN_QUEUE_INT_H
#define PAN_QUEUE_INT_H

#include <stddef.h>
#include <gpg-error.h>

#include "deliver-int.h"

/* The most recipients an envelope names.  */
#define PANI_ENVELOPE_MAX_RCPTS 1000

/* Parse the envelope file TEXT (LEN bytes, a NUL after them; modified
 * in place: the strings of ENV point into it) into ENV.
 * GPG_ERR_INV_DATA with a reason if it is not one: a line without
 * "name: ", an unknown, missing or repeated field, a bad number, copy
 * id or digest, no recipient.  */
gpg_error_t pani_envelope_parse (char *text, size_t len,
                                 struct pani_envelope *env, char **r_reason);

/* Release what pani_envelope_parse allocated (not the text).  */
void pani_envelope_clear (struct pani_envelope *env);

#endif /* PAN_QUEUE_INT_H */
