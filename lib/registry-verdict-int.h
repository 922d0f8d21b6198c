/* registry-verdict-int.h - the verdict on a key that a record keeps
 * (layer 1, registry-verdict.c)  */
#ifndef PAN_REGISTRY_VERDICT_INT_H
#define PAN_REGISTRY_VERDICT_INT_H

#include "panmail.h"

/* The verdict on an OpenPGP key that its record keeps (a record's
 * "key-state", registry-verdict.c).  */
struct pani_key_verdict
{
  char tag[17];           /* Of the policy settings it was judged under. */
  time_t created;         /* 0: not known.  */
  time_t primary_expires; /* 0: never.  */
  time_t expires;         /* Can no longer encrypt after; 0: never.  */
  int revoked;            /* As it was when judged.  */
  int expired;
  int usable;
  pan_severity_t policy; /* OK, WARNING or CRITICAL.  */
  char algorithm[32];
  unsigned int bits;
  char enc_algorithm[32]; /* "" if none.  */
  const char *unpinned;   /* The keys not pinned, one space between
                             ("" or NULL: none); parsed: into the value. */
};

/* Parse VALUE, a record's "key-state", into V; GPG_ERR_INV_DATA unless
 * it is exactly as pani_registry_verdict_format writes it.  */
gpg_error_t pani_registry_verdict_parse (const char *value,
                                         struct pani_key_verdict *v);

/* Store at *R_VALUE (malloc'ed) the "key-state" value of V.  */
gpg_error_t pani_registry_verdict_format (const struct pani_key_verdict *v,
                                          char **r_value);

/* True if the fingerprint FPR (upper case) is one of the list SUBKEYS
 * (the "subkeys" of a record; NULL: none).  */
int pani_registry_pinned (const char *subkeys, const char *fpr);

#endif /* PAN_REGISTRY_VERDICT_INT_H */
