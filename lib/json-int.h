/* json-int.h - a small strict JSON reader (internal to libpanmail)  */
#ifndef PAN_JSON_INT_H
#define PAN_JSON_INT_H

#include <stddef.h>
#include <gpg-error.h>

/* How deep arrays and objects may nest.  */
#define PANI_JSON_MAX_DEPTH 8

enum pani_json_type
{
  PANI_JSON_NULL,
  PANI_JSON_FALSE,
  PANI_JSON_TRUE,
  PANI_JSON_NUMBER,
  PANI_JSON_STRING,
  PANI_JSON_ARRAY,
  PANI_JSON_OBJECT
};

/* One parsed value.  A string is decoded to UTF-8 (it never holds a NUL);
 * a number keeps its text.  Arrays and objects hold N items; an object
 * also names each item in KEYS.  */
struct pani_json
{
  enum pani_json_type type;
  char *text; /* STRING, NUMBER.  */
  size_t n;   /* ARRAY, OBJECT.  */
  struct pani_json **items;
  char **keys; /* OBJECT.  */
};

/* Parse exactly one JSON value (RFC 8259, UTF-8, no leading or trailing
 * garbage except white space) from BUF/LEN into *R_VALUE.  Invalid input
 * gives GPG_ERR_INV_DATA and the offending offset at *R_ERRPOS.  */
gpg_error_t pani_json_parse (const char *buf, size_t len,
                             struct pani_json **r_value, size_t *r_errpos);

/* Release VALUE.  */
void pani_json_release (struct pani_json *value);

/* Return the item KEY of the object OBJ, or NULL.  */
const struct pani_json *pani_json_get (const struct pani_json *obj,
                                       const char *key);

/* Store the non-negative JSON integer VALUE (at most MAX) at *R_NUM;
 * return false if VALUE is anything else.  */
int pani_json_uint (const struct pani_json *value, unsigned long long max,
                    unsigned long long *r_num);

#endif /* PAN_JSON_INT_H */
