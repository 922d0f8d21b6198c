/* timeutil.c - RFC 3339 UTC time stamps  */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "panmail.h"
#include "timeutil-int.h"

char *
pan_time_format (time_t t, char *buf, size_t bufsize)
{
  struct tm tm;

  if (!gmtime_r (&t, &tm)
      || !strftime (buf, bufsize, "%Y-%m-%dT%H:%M:%SZ", &tm))
    {
      if (bufsize)
        *buf = 0;
    }
  return buf;
}

long
pan_days_until (time_t now, time_t when)
{
  if (when >= now)
    return (long)((when - now + 86399) / 86400);
  return -(long)((now - when) / 86400);
}

gpg_error_t
pani_time_parse (const char *s, time_t *r_time)
{
  struct tm tm;
  int n = 0;
  char check[32];

  memset (&tm, 0, sizeof tm);
  if (sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
        != 6
      || s[n] || n != 20)
    return gpg_error (GPG_ERR_INV_TIME);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *r_time = timegm (&tm);
  /* Reject field values that timegm normalised (Feb 30 and the like). */
  pan_time_format (*r_time, check, sizeof check);
  if (strcmp (check, s))
    return gpg_error (GPG_ERR_INV_TIME);
  return 0;
}
