/* t-util.c - unit tests of the small public helpers (time stamps)  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "panmail.h"
#include "t-support.h"

static void
round_trip (time_t t, const char *text)
{
  char buf[32];
  time_t back = 0;

  T_STREQ (pan_time_format (t, buf, sizeof buf), text);
  T_ERR (pan_time_parse (text, &back), 0);
  T_CHECK (back == t);
}

static void
test_time_good (void)
{
  time_t t;

  round_trip (0, "1970-01-01T00:00:00Z");
  round_trip (1795562323, "2026-11-24T23:18:43Z");
  round_trip (951782400, "2000-02-29T00:00:00Z");
  round_trip (1709251199, "2024-02-29T23:59:59Z");
  round_trip (1735689599, "2024-12-31T23:59:59Z");
  round_trip (-1, "1969-12-31T23:59:59Z");
  round_trip ((time_t)253402300799, "9999-12-31T23:59:59Z");
  for (t = 0; t < (time_t)4000000000; t += 86399 * 37 + 13)
    {
      char buf[32];
      time_t back = 0;

      pan_time_format (t, buf, sizeof buf);
      if (pan_time_parse (buf, &back) || back != t)
        {
          T_CHECK (!"time round trip");
          fprintf (stderr, "    %s\n", buf);
          break;
        }
    }
}

static void
test_time_bad (void)
{
  static const char *const bad[] =
    {
      "", "Z", "2026-11-24", "2026-11-24T23:18:43",
      "2026-11-24T23:18:43z", "2026-11-24t23:18:43Z",
      "2026-11-24 23:18:43Z", "2026-11-24T23:18:43+00:00",
      "2026-11-24T23:18:43.5Z", "2026-11-24T23:18:43ZZ",
      " 2026-11-24T23:18:43Z", "2026-11-24T23:18:43Z ",
      "2026-11-24T23:18: 3Z", "2026-11-24T23:18:+3Z",
      "2026-1-24T23:18:43Z", "26-11-24T23:18:43Z", "+026-11-24T23:18:43Z",
      "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z",
      "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
      "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
      "2026-11-24T24:00:00Z", "2026-11-24T23:60:00Z",
      "2026-11-24T23:59:60Z", "2026-11-24T-1:00:00Z",
      "20261124T231843Z", "1795562323"
    };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      time_t t = 0;
      gpg_error_t err = pan_time_parse (bad[i], &t);

      T_ERR (err, GPG_ERR_INV_TIME);
      if (!err)
        fprintf (stderr, "    accepted \"%s\"\n", bad[i]);
    }
}

static void
test_time_format_small (void)
{
  char buf[32];

  T_STREQ (pan_time_format (0, buf, 20), "");
  T_STREQ (pan_time_format (0, buf, 21), "1970-01-01T00:00:00Z");
}

int
main (void)
{
  test_time_good ();
  test_time_bad ();
  test_time_format_small ();
  pan_free (NULL);
  return t_done ("t-util");
}
