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

/* The N decimal digits at S, or -1 if one is not a digit.  */
static long
digits (const char *s, int n)
{
  long v = 0;

  for (int i = 0; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return -1;
      v = v * 10 + (s[i] - '0');
    }
  return v;
}

/* Days from 1970-01-01 to Y-M-D of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil).  */
static long long
days_from_civil (long y, long m, long d)
{
  long era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (long long)era * 146097 + doe - 719468;
}

static int
days_in_month (long y, long m)
{
  static const int days[] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
  };
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return days[m - 1] + (m == 2 && leap);
}

/* Without sscanf, timegm and a round trip through strftime: a registry
 * of ten thousand records holds fifty thousand time stamps.  Accepts
 * exactly what pan_time_format writes for years 1000 to 9999.  */
gpg_error_t
pani_time_parse (const char *s, time_t *r_time)
{
  long y, mo, d, h, mi, sec;

  if (strlen (s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T'
      || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
    return gpg_error (GPG_ERR_INV_TIME);
  y = digits (s, 4);
  mo = digits (s + 5, 2);
  d = digits (s + 8, 2);
  h = digits (s + 11, 2);
  mi = digits (s + 14, 2);
  sec = digits (s + 17, 2);
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > days_in_month (y, mo)
      || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
    return gpg_error (GPG_ERR_INV_TIME);
  *r_time = (time_t)(days_from_civil (y, mo, d) * 86400 + h * 3600 + mi * 60
                     + sec);
  return 0;
}
