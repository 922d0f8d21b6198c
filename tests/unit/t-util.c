/* t-util.c - unit tests of the small helpers: time stamps, and the
 * internal ones of util.h (the growable buffer, UTF-8, ASCII case, hex,
 * wiping).  Linked with -Wl,--wrap=free, so that the test sees every
 * block the library frees and can check that it was wiped first.  */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "panmail.h"
#include "util.h"
#include "t-support.h"
#include "timeutil-int.h"

void __real_free (void *p);
void __wrap_free (void *p);

/* The block that the next free should find wiped, and what it found.  */
static struct
{
  const void *p;
  size_t len;
  int freed; /* The watched block was freed.  */
  int wiped; /* ... and held only zeros then.  */
} watch;

void
__wrap_free (void *p)
{
  if (p && p == watch.p)
    {
      const unsigned char *c = p;
      size_t i;

      for (i = 0; i < watch.len && !c[i]; i++)
        ;
      watch.freed = 1;
      watch.wiped = i == watch.len;
      watch.p = NULL;
    }
  __real_free (p);
}

/* Watch the LEN bytes at P: the next free of P records whether they were
 * all zero.  */
static void
watch_block (const void *p, size_t len)
{
  watch.p = p;
  watch.len = len;
  watch.freed = watch.wiped = 0;
}

static void
round_trip (time_t t, const char *text)
{
  char buf[32];
  time_t back = 0;

  T_STREQ (pan_time_format (t, buf, sizeof buf), text);
  T_ERR (pani_time_parse (text, &back), 0);
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
      if (pani_time_parse (buf, &back) || back != t)
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
  static const char *const bad[] = { "",
                                     "Z",
                                     "2026-11-24",
                                     "2026-11-24T23:18:43",
                                     "2026-11-24T23:18:43z",
                                     "2026-11-24t23:18:43Z",
                                     "2026-11-24 23:18:43Z",
                                     "2026-11-24T23:18:43+00:00",
                                     "2026-11-24T23:18:43.5Z",
                                     "2026-11-24T23:18:43ZZ",
                                     " 2026-11-24T23:18:43Z",
                                     "2026-11-24T23:18:43Z ",
                                     "2026-11-24T23:18: 3Z",
                                     "2026-11-24T23:18:+3Z",
                                     "2026-1-24T23:18:43Z",
                                     "26-11-24T23:18:43Z",
                                     "+026-11-24T23:18:43Z",
                                     "2026-02-30T00:00:00Z",
                                     "2026-02-29T00:00:00Z",
                                     "2100-02-29T00:00:00Z",
                                     "2026-04-31T00:00:00Z",
                                     "2026-13-01T00:00:00Z",
                                     "2026-00-01T00:00:00Z",
                                     "2026-01-00T00:00:00Z",
                                     "2026-01-32T00:00:00Z",
                                     "2026-11-24T24:00:00Z",
                                     "2026-11-24T23:60:00Z",
                                     "2026-11-24T23:59:60Z",
                                     "2026-11-24T-1:00:00Z",
                                     "20261124T231843Z",
                                     "1795562323" };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      time_t t = 0;
      gpg_error_t err = pani_time_parse (bad[i], &t);

      T_ERR (err, GPG_ERR_INV_TIME);
      if (!err)
        fprintf (stderr, "    accepted \"%s\"\n", bad[i]);
    }
}

/* The parser pani_time_parse replaced (sscanf, timegm, and a round
 * trip through pan_time_format): what it accepted is the contract.  */
static int
reference_time_parse (const char *s, time_t *r_time)
{
  struct tm tm;
  int n = 0;
  char check[32];

  memset (&tm, 0, sizeof tm);
  if (sscanf (s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n)
        != 6
      || s[n] || n != 20)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *r_time = timegm (&tm);
  pan_time_format (*r_time, check, sizeof check);
  return strcmp (check, s) ? -1 : 0;
}

/* pani_time_parse accepts the strings the reference accepts (but for
 * negative years), with the same value, among every one-character change of stamps at the edges
 * (years 1000 and 9999, leap days, month ends, the epoch).  */
static void
test_time_parse_reference (void)
{
  static const char *const base[] = {
    "1000-01-01T00:00:00Z", "0999-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2000-02-29T12:30:45Z",
    "1900-02-28T00:00:00Z", "2024-02-29T23:59:59Z", "2026-04-30T10:20:30Z",
    "2100-03-01T00:00:00Z"
  };
  static const char repl[] = "0123456789-:TZ +.a";
  size_t bad = 0, cases = 0;

  for (size_t b = 0; b < sizeof base / sizeof *base; b++)
    for (size_t i = 0; i <= 20; i++)
      for (size_t r = 0; r <= sizeof repl - 1; r++)
        {
          char s[32];
          time_t t1 = 0, t2 = 0;
          int ok1, ok2;

          strcpy (s, base[b]);
          if (r == sizeof repl - 1)
            memmove (s + i, s + i + (i < 20), strlen (s + i)); /* Cut.  */
          else if (i == 20)
            s[20] = repl[r], s[21] = 0; /* One more.  */
          else
            s[i] = repl[r];
          ok1 = !pani_time_parse (s, &t1);
          /* The reference took years -999 to -100 ("-999-..."), which
           * nothing writes; they are refused now.  */
          ok2 = !reference_time_parse (s, &t2) && s[0] != '-';
          cases++;
          if (ok1 != ok2 || (ok1 && t1 != t2))
            {
              if (!bad++)
                fprintf (stderr, "    \"%s\": %d/%lld, reference %d/%lld\n",
                         s, ok1, (long long)t1, ok2, (long long)t2);
            }
        }
  T_CHECK (bad == 0);
  T_CHECK (cases > 3000);
}

static void
test_time_format_small (void)
{
  char buf[32];

  T_STREQ (pan_time_format (0, buf, 20), "");
  T_STREQ (pan_time_format (0, buf, 21), "1970-01-01T00:00:00Z");
}

/* The one day count: days begun ahead, full days ago.  */
static void
test_days_until (void)
{
  time_t now = 1800000000;

  T_CHECK (pan_days_until (now, now) == 0);
  T_CHECK (pan_days_until (now, now + 1) == 1);
  T_CHECK (pan_days_until (now, now + 86400) == 1);
  T_CHECK (pan_days_until (now, now + 86401) == 2);
  T_CHECK (pan_days_until (now, now + 9 * 86400 + 3600) == 10);
  T_CHECK (pan_days_until (now, now - 1) == 0);
  T_CHECK (pan_days_until (now, now - 86400) == -1);
  T_CHECK (pan_days_until (now, now - 2 * 86400 + 1) == -1);
}

static void
test_wipe (void)
{
  char stack[16];
  char *heap;

  memset (stack, 'x', sizeof stack);
  pani_wipe (stack, 8);
  T_CHECK (!stack[0] && !stack[7] && stack[8] == 'x');
  pani_wipe (NULL, 8);
  pani_wipe_free (NULL, 8);
  pani_wipe_free_str (NULL);

  heap = malloc (32);
  T_CHECK (heap != NULL);
  if (!heap)
    return;
  memset (heap, 'p', 32);
  watch_block (heap, 32);
  pani_wipe_free (heap, 32);
  T_CHECK (watch.freed && watch.wiped);

  heap = pani_strdup ("4111111111111111");
  T_CHECK (heap != NULL);
  if (!heap)
    return;
  watch_block (heap, strlen (heap));
  pani_wipe_free_str (heap);
  T_CHECK (watch.freed && watch.wiped);
}

static void
test_buf_put (void)
{
  struct pani_buf b = { 0 };
  char *s;

  pani_buf_puts (&b, "ab");
  pani_buf_putc (&b, 'c');
  pani_buf_put (&b, "d\0e", 3);
  pani_buf_put (&b, NULL, 0);
  pani_buf_printf (&b, "-%d-%s", 42, "x");
  T_CHECK (b.len == 11);
  T_CHECK (!memcmp (b.data, "abcd\0e-42-x", 12));
  T_ERR (pani_buf_error (&b), 0);
  s = pani_buf_take (&b);
  T_CHECK (s && !memcmp (s, "abcd\0e-42-x", 12));
  T_CHECK (!b.data && !b.len && !b.size && !b.failed);
  free (s);

  s = pani_buf_take (&b);
  T_STREQ (s, "");
  free (s);
}

/* Growing wipes the block it leaves behind; clear wipes and keeps the
 * memory; free wipes.  */
static void
test_buf_grow (void)
{
  struct pani_buf b = { 0 };
  char *old;
  size_t i, n, size;

  pani_buf_puts (&b, "secret");
  old = b.data;
  size = b.size;
  T_CHECK (old && size > 6);
  watch_block (old, size);
  n = 6 + size;
  for (i = 6; i < n; i++)
    pani_buf_putc (&b, 'a' + (int)(i % 26));
  T_CHECK (watch.freed && watch.wiped);
  T_CHECK (b.data != old && b.len == n && b.size > n);
  T_CHECK (!memcmp (b.data, "secretghi", 9) && b.data[n] == 0);
  T_CHECK (b.data[n - 1] == 'a' + (int)((n - 1) % 26));

  old = b.data;
  size = b.size;
  pani_buf_clear (&b);
  T_CHECK (b.data == old && b.len == 0 && b.size == size);
  for (i = 0; i < n && !old[i]; i++)
    ;
  T_CHECK (i == n);
  pani_buf_puts (&b, "again");
  T_STREQ (b.data, "again");

  watch_block (b.data, b.size);
  pani_buf_free (&b);
  T_CHECK (watch.freed && watch.wiped);
  T_CHECK (!b.data && !b.len && !b.size);
}

/* A failed append is sticky: nothing more is added, the error is
 * reported once at the end and take hands over nothing.  */
static void
test_buf_failed (void)
{
  struct pani_buf b = { 0 };

  pani_buf_puts (&b, "kept");
  pani_buf_put (&b, "x", SIZE_MAX / 2);
  T_ERR (pani_buf_error (&b), GPG_ERR_ENOMEM);
  pani_buf_puts (&b, "more");
  T_CHECK (b.len == 4);
  T_ERR (pani_buf_error (&b), GPG_ERR_ENOMEM);
  watch_block (b.data, b.size);
  T_CHECK (pani_buf_take (&b) == NULL);
  T_CHECK (watch.freed && watch.wiped);
  T_CHECK (!b.data && !b.len && !b.failed);

  pani_buf_puts (&b, "x");
  pani_buf_clear (&b);
  T_ERR (pani_buf_error (&b), 0);
  pani_buf_free (&b);
  pani_buf_free (&b);
}

/* Encode CP and check the bytes against WANT (N bytes).  */
static void
utf8_is (unsigned long cp, const char *want, size_t n)
{
  unsigned char out[4];
  size_t got = pani_utf8_encode (cp, out);

  T_CHECK (got == n && !memcmp (out, want, n));
  if (got != n || memcmp (out, want, n))
    fprintf (stderr, "    U+%04lX\n", cp);
}

static void
test_utf8_encode (void)
{
  struct pani_buf b = { 0 };
  char *s;

  utf8_is (0, "\0", 1);
  utf8_is (0x41, "A", 1);
  utf8_is (0x7f, "\x7f", 1);
  utf8_is (0x80, "\xc2\x80", 2);
  utf8_is (0xe9, "\xc3\xa9", 2);
  utf8_is (0x7ff, "\xdf\xbf", 2);
  utf8_is (0x800, "\xe0\xa0\x80", 3);
  utf8_is (0x20ac, "\xe2\x82\xac", 3);
  utf8_is (0xfffd, "\xef\xbf\xbd", 3);
  utf8_is (0xffff, "\xef\xbf\xbf", 3);
  utf8_is (0x10000, "\xf0\x90\x80\x80", 4);
  utf8_is (0x1f642, "\xf0\x9f\x99\x82", 4);
  utf8_is (0x10ffff, "\xf4\x8f\xbf\xbf", 4);

  pani_buf_put_utf8 (&b, 0x4b);
  pani_buf_put_utf8 (&b, 0xf6);
  pani_buf_put_utf8 (&b, 0x65e5);
  pani_buf_put_utf8 (&b, 0x1f642);
  s = pani_buf_take (&b);
  T_STREQ (s, "K\xc3\xb6\xe6\x97\xa5\xf0\x9f\x99\x82");
  free (s);
}

/* Return pani_utf8_len of the N bytes of S.  */
static size_t
utf8_len (const char *s, size_t n)
{
  return pani_utf8_len ((const unsigned char *)s,
                        (const unsigned char *)s + n);
}

static void
test_utf8_len (void)
{
  static const char *const bad[] = { "\x80",
                                     "\xbf",
                                     "\xc0\x80",
                                     "\xc1\xbf",
                                     "\xc2\x41",
                                     "\xc2\xc2",
                                     "\xe0\x80\x80",
                                     "\xe0\x9f\xbf",
                                     "\xed\xa0\x80",
                                     "\xed\xbf\xbf",
                                     "\xe2\x82\x41",
                                     "\xf0\x80\x80\x80",
                                     "\xf0\x8f\xbf\xbf",
                                     "\xf4\x90\x80\x80",
                                     "\xf5\x80\x80\x80",
                                     "\xf8\x88\x80\x80",
                                     "\xfe",
                                     "\xff" };
  unsigned char u[4];
  unsigned long cp, wrong = 0;
  size_t i, n;

  T_CHECK (utf8_len ("A", 1) == 1);
  T_CHECK (utf8_len ("\0", 1) == 1);
  T_CHECK (utf8_len ("\xc3\xa9x", 3) == 2);
  T_CHECK (utf8_len ("\xed\x9f\xbf", 3) == 3);
  T_CHECK (utf8_len ("\xee\x80\x80", 3) == 3);
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (utf8_len (bad[i], strlen (bad[i])))
      {
        T_CHECK (!"invalid UTF-8 accepted");
        fprintf (stderr, "    bad[%zu]\n", i);
      }
  /* A sequence cut short by END.  */
  T_CHECK (utf8_len ("\xc3\xa9", 1) == 0);
  T_CHECK (utf8_len ("\xe2\x82\xac", 2) == 0);
  T_CHECK (utf8_len ("\xf0\x9f\x99\x82", 3) == 0);

  /* Every scalar value round-trips; no surrogate is valid.  */
  for (cp = 0; cp <= 0x10ffff; cp++)
    {
      n = pani_utf8_encode (cp, u);
      if (pani_utf8_len (u, u + n)
          != ((cp >= 0xd800 && cp <= 0xdfff) ? 0 : n))
        wrong++;
    }
  T_CHECK (wrong == 0);
}

static void
test_mem_caseeq (void)
{
  T_CHECK (pani_mem_caseeq ("Content-Type", 12, "content-type"));
  T_CHECK (pani_mem_caseeq ("BCC: x", 3, "bcc"));
  T_CHECK (pani_mem_caseeq ("", 0, ""));
  T_CHECK (!pani_mem_caseeq ("Bcc", 2, "bcc"));
  T_CHECK (!pani_mem_caseeq ("Bcc", 3, "bc"));
  T_CHECK (!pani_mem_caseeq ("Bcd", 3, "bcc"));
  /* LIT is lower case: an upper-case LIT never matches.  */
  T_CHECK (!pani_mem_caseeq ("BCC", 3, "BCC"));
  /* Only ASCII is folded.  */
  T_CHECK (!pani_mem_caseeq ("\xc4", 1, "\xe4"));
  T_CHECK (pani_mem_caseeq ("\xc4", 1, "\xc4"));
  T_CHECK (!pani_mem_caseeq ("b\0c", 3, "b"));
}

static void
test_hex_upper (void)
{
  static const unsigned char fpr[] = { 0x00, 0x9f, 0xa0, 0xff, 0x12, 0xab };
  unsigned char all[256];
  char hex[2 * 256 + 1], want[3];
  size_t i;

  pani_bin2hex_upper (fpr, sizeof fpr, hex);
  T_STREQ (hex, "009FA0FF12AB");
  pani_bin2hex (fpr, sizeof fpr, hex);
  T_STREQ (hex, "009fa0ff12ab");
  hex[0] = 'x';
  pani_bin2hex_upper (fpr, 0, hex);
  T_STREQ (hex, "");

  for (i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  pani_bin2hex_upper (all, sizeof all, hex);
  T_CHECK (strlen (hex) == 512);
  for (i = 0; i < 256; i++)
    {
      snprintf (want, sizeof want, "%02X", (unsigned)i);
      if (memcmp (hex + 2 * i, want, 2))
        {
          T_CHECK (!"pani_bin2hex_upper");
          fprintf (stderr, "    byte %zu\n", i);
          break;
        }
    }
}

int
main (void)
{
  test_time_good ();
  test_time_bad ();
  test_time_parse_reference ();
  test_time_format_small ();
  test_days_until ();
  pan_free (NULL);
  test_wipe ();
  test_buf_put ();
  test_buf_grow ();
  test_buf_failed ();
  test_utf8_encode ();
  test_utf8_len ();
  test_mem_caseeq ();
  test_hex_upper ();
  return t_done ("t-util");
}
