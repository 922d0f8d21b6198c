/* timeutil-int.h - RFC 3339 time stamps (not installed)  */
#ifndef PAN_TIMEUTIL_INT_H
#define PAN_TIMEUTIL_INT_H

#include "panmail.h"

/* Parse an RFC 3339 UTC time as written by pan_time_format.  */
gpg_error_t pani_time_parse (const char *s, time_t *r_time);

#endif /* PAN_TIMEUTIL_INT_H */
