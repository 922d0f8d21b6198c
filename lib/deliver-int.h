/* deliver-int.h - the MTA hand-over and the envelope of a copy
 * (deliver.c, layer 8), for the queue (queue.c)  */
#ifndef PAN_DELIVER_INT_H
#define PAN_DELIVER_INT_H

#include <stddef.h>
#include <gpg-error.h>

#include "panmail.h"

/* Seconds from a failed hand-over to the first retry; each further
 * failure doubles the wait, up to a day (see pansend(1), the queue).  */
#define PANI_QUEUE_FIRST_RETRY 300
#define PANI_QUEUE_MAX_RETRY 86400

/* The envelope of a copy: what a later flush needs to hand the queued
 * ciphertext to the MTA (its file: "name: value" lines).  */
struct pani_envelope
{
  char *copy;
  char *message_id;
  char *sender;
  char *sha256;
  long long size;
  long long created;
  long long attempts;
  long long next_attempt;
  char **rcpts; /* NULL-terminated.  */
  size_t nrcpts;
  char *dsn_notify; /* The DSN options and body type given */
  char *dsn_ret;    /* (pan_envelope), or NULL.  */
  char *dsn_envid;
  char *body_type;
};

/* Write ENV to PATH, 0600, atomically.  */
gpg_error_t pani_envelope_write (const char *path,
                                 const struct pani_envelope *env,
                                 char **r_reason);

/* Run the MTA ARGV (the configured one, or given) with "-i -f SENDER",
 * the DSN options of ENV, "--" and the recipients of ENV on the
 * ciphertext FD (ENV->size bytes) within mta-timeout of CTX: 0 only if
 * it exited 0 and read it all.  */
gpg_error_t pani_mta_hand_over (pan_ctx_t ctx, int fd,
                                const struct pani_envelope *env,
                                const char *const *argv, char **r_reason);

#endif /* PAN_DELIVER_INT_H */
