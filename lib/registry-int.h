/* registry-int.h - the registry object (registry.c, registry-edit.c)  */
#ifndef PAN_REGISTRY_INT_H
#define PAN_REGISTRY_INT_H

#include "panmail.h"

struct pan_registry
{
  struct pan_recipient *recs;
  unsigned int *lines;          /* Line of each "recipient" line, or 0.  */
  size_t count;
  size_t size;
};

/* Create an empty registry at *R_REG.  */
gpg_error_t pani_registry_new (pan_registry_t *r_reg);

/* Move REC (read at LINE, 0 if added) to the end of REG; REC is then
 * empty.  */
gpg_error_t pani_registry_append (pan_registry_t reg,
                                  struct pan_recipient *rec,
                                  unsigned int line);

/* Free what REC holds and zero it.  */
void pani_registry_clear_rec (struct pan_recipient *rec);

/* Return the index of the active record of the normalised address ADDR
 * in REG, or -1.  */
long pani_registry_find_active (pan_registry_t reg, const char *addr);

/* Check REC as the parser checks a record of the registry file PATH and
 * store a copy in *VALID (release it with pani_registry_clear_rec).  */
gpg_error_t pani_registry_validate (const char *path,
                                    const struct pan_recipient *rec,
                                    struct pan_recipient *valid,
                                    char **r_reason);

#endif /* PAN_REGISTRY_INT_H */
