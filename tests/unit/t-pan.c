/* t-pan.c - tests for the PAN scanner, Luhn, brands and masking
 *
 * Runs tests/pan-corpus/positives.txt (text with known PANs) and
 * negatives.txt (look-alikes, tables of codes, URLs) through the
 * scanner fed whole and in every chunk size from 1 to 17, with each way
 * of finding digits this build has (pan-simd.c), and prints precision
 * and recall; both must be 100%.  Random text rich in digits and
 * separators must give the same hits with every way and chunk size.
 * It links the library's sources to reach pani_simd_force.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "pan-simd-int.h"
#include "t-support.h"

#define KEY "t-pan test key"
#define MAX_CHUNK 17
#define MAX_EXPECT 8
#define MAX_HITS 64

/* A hit as collected by the callback, with the scanned text at hand.  */
struct got
{
  unsigned long long offset;
  size_t length;
  char brand[32];
  char masked[PAN_MASK_SIZE];
  char hash[65];
  char context[64];
};

struct collect
{
  struct got hits[MAX_HITS];
  size_t n;
  int stop_after; /* > 0: fail the callback after that many hits.  */
};

/* One corpus line.  */
struct tcase
{
  const char *text;
  size_t len;
  size_t nexpect;
  char digits[MAX_EXPECT][PAN_MAX_DIGITS + 1];
  char brands[MAX_EXPECT][32];
};

static unsigned long tp, fp, fn;


/*
 * Helpers.
 */

static gpg_error_t
collect_cb (void *opaque, const struct pan_hit *hit)
{
  struct collect *c = opaque;
  struct got *g;

  if (c->n == MAX_HITS)
    return gpg_error (GPG_ERR_TOO_LARGE);
  g = c->hits + c->n++;
  g->offset = hit->offset;
  g->length = hit->length;
  snprintf (g->brand, sizeof g->brand, "%s", hit->brand);
  snprintf (g->masked, sizeof g->masked, "%s", hit->masked);
  snprintf (g->hash, sizeof g->hash, "%s", hit->hash ? hit->hash : "");
  snprintf (g->context, sizeof g->context, "%s", hit->context);
  if (c->stop_after && (int)c->n >= c->stop_after)
    return gpg_error (GPG_ERR_CANCELED);
  return 0;
}

/* Scan TEXT/LEN with S in chunks of CHUNK bytes (0: whole) into C.  */
static gpg_error_t
scan (pan_scanner_t s, const char *text, size_t len, size_t chunk,
      struct collect *c)
{
  gpg_error_t err = 0;
  size_t off, n;

  c->n = 0;
  for (off = 0; off < len && !err; off += n)
    {
      n = chunk && len - off > chunk ? chunk : len - off;
      err = pan_scanner_feed (s, text + off, n, collect_cb, c);
    }
  if (!err)
    err = pan_scanner_finish (s, collect_cb, c);
  return err;
}

static void
hmac_hex (const char *digits, char *hex)
{
  gcry_md_hd_t md;
  const unsigned char *mac;
  int i;

  if (gcry_md_open (&md, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC))
    abort ();
  gcry_md_setkey (md, KEY, strlen (KEY));
  gcry_md_write (md, digits, strlen (digits));
  mac = gcry_md_read (md, GCRY_MD_SHA256);
  for (i = 0; i < 32; i++)
    sprintf (hex + 2 * i, "%02x", mac[i]);
  gcry_md_close (md);
}

/* Store the digits of TEXT at G (separators dropped) in BUF.  */
static int
hit_digits (const struct tcase *tc, const struct got *g, char *buf)
{
  size_t i, n = 0;

  if (g->offset + g->length > tc->len)
    return 0;
  for (i = 0; i < g->length; i++)
    {
      char c = tc->text[g->offset + i];

      if (c >= '0' && c <= '9' && n < PAN_MAX_DIGITS)
        buf[n++] = c;
      else if (c != ' ' && c != '-')
        return 0;
    }
  buf[n] = 0;
  return tc->text[g->offset] != ' ' && tc->text[g->offset] != '-';
}

/* Return true if hit G is expected hit J of TC, right in every field.  */
static int
hit_matches (const struct tcase *tc, const struct got *g, size_t j)
{
  char digits[PAN_MAX_DIGITS + 2], masked[PAN_MASK_SIZE], hash[65];

  if (!hit_digits (tc, g, digits) || strcmp (digits, tc->digits[j]))
    return 0;
  pan_mask (digits, masked);
  hmac_hex (digits, hash);
  return !strcmp (g->brand, tc->brands[j]) && !strcmp (g->masked, masked)
    && !strcmp (g->hash, hash);
}

/* Score the hits C of case TC.  */
static void
score (const struct tcase *tc, const struct collect *c, size_t chunk)
{
  int found[MAX_EXPECT] = { 0 };
  size_t i, j;

  for (i = 0; i < c->n; i++)
    {
      for (j = 0; j < tc->nexpect; j++)
        if (!found[j] && hit_matches (tc, c->hits + i, j))
          break;
      if (j < tc->nexpect)
        {
          found[j] = 1;
          tp++;
          continue;
        }
      fp++;
      fprintf (stderr, "false positive %s (%s) at %llu, chunk %zu: %s\n",
               c->hits[i].masked, c->hits[i].brand, c->hits[i].offset, chunk,
               tc->text);
    }
  for (j = 0; j < tc->nexpect; j++)
    if (!found[j])
      {
        fn++;
        fprintf (stderr, "missed %s, chunk %zu: %s\n", tc->brands[j], chunk,
                 tc->text);
      }
}


/*
 * The corpus.
 */

/* Parse "D1,D2=B1,B2" into TC.  */
static int
parse_expect (char *spec, struct tcase *tc)
{
  char *brands = strchr (spec, '='), *tok, *save;

  if (!brands)
    return 0;
  *brands++ = 0;
  for (tok = strtok_r (spec, ",", &save); tok && tc->nexpect < MAX_EXPECT;
       tok = strtok_r (NULL, ",", &save))
    snprintf (tc->digits[tc->nexpect++], PAN_MAX_DIGITS + 1, "%s", tok);
  tc->nexpect = 0;
  for (tok = strtok_r (brands, ",", &save); tok && tc->nexpect < MAX_EXPECT;
       tok = strtok_r (NULL, ",", &save))
    snprintf (tc->brands[tc->nexpect++], 32, "%s", tok);
  return 1;
}

/* Read corpus file NAME; POSITIVE lines start with "EXPECT<TAB>".  Each
 * case is run with FN.  Returns the number of cases.  */
static size_t
run_corpus (const char *name, int positive,
            void (*run) (pan_scanner_t, const struct tcase *),
            pan_scanner_t s)
{
  const char *dir = getenv ("top_srcdir");
  char path[1024], line[4096];
  struct tcase tc;
  size_t ncases = 0;
  FILE *fp_in;

  snprintf (path, sizeof path, "%s/tests/pan-corpus/%s", dir ? dir : ".",
            name);
  fp_in = fopen (path, "r");
  T_CHECK (fp_in != NULL);
  if (!fp_in)
    return 0;
  while (fgets (line, sizeof line, fp_in))
    {
      char *text = line, *tab;

      line[strcspn (line, "\n")] = 0;
      if (*line == '#' || !*line)
        continue;
      memset (&tc, 0, sizeof tc);
      if (positive)
        {
          tab = strchr (line, '\t');
          T_CHECK (tab != NULL);
          if (!tab)
            continue;
          *tab = 0;
          T_CHECK (parse_expect (line, &tc));
          text = tab + 1;
        }
      tc.text = text;
      tc.len = strlen (text);
      run (s, &tc);
      ncases++;
    }
  fclose (fp_in);
  return ncases;
}

/* Run TC whole and in every chunk size up to MAX_CHUNK.  */
static void
run_case (pan_scanner_t s, const struct tcase *tc)
{
  struct collect c;
  size_t chunk;

  for (chunk = 0; chunk <= MAX_CHUNK; chunk++)
    {
      memset (&c, 0, sizeof c);
      T_ERR (scan (s, tc->text, tc->len, chunk, &c), 0);
      score (tc, &c, chunk);
    }
}


/*
 * Whole corpus as one stream.
 */

static char *stream;
static size_t stream_len, stream_size;

static void
append_case (pan_scanner_t s, const struct tcase *tc)
{
  if (stream_len + tc->len + 1 > stream_size)
    {
      stream_size = 2 * (stream_len + tc->len + 1);
      stream = realloc (stream, stream_size);
      if (!stream)
        abort ();
    }
  memcpy (stream + stream_len, tc->text, tc->len);
  stream_len += tc->len;
  stream[stream_len++] = '\n';
}

static gpg_error_t
count_cb (void *opaque, const struct pan_hit *hit)
{
  unsigned long long *sum = opaque;

  sum[0]++;
  sum[1] = sum[1] * 31 + hit->offset * 7 + hit->length;
  return 0;
}

/* Feed the concatenated corpus in many chunk sizes: every way must give
 * the same hits at the same offsets.  */
static void
test_stream (pan_scanner_t s, unsigned long nexpect)
{
  static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 13, 64, 4096, 65536 };
  unsigned long long ref[2] = { 0, 0 }, sum[2];
  size_t i, off, n;

  for (i = 0; i < sizeof chunks / sizeof *chunks; i++)
    {
      sum[0] = sum[1] = 0;
      for (off = 0; off < stream_len; off += n)
        {
          n = chunks[i] && stream_len - off > chunks[i] ? chunks[i]
                                                        : stream_len - off;
          T_ERR (pan_scanner_feed (s, stream + off, n, count_cb, sum), 0);
        }
      T_ERR (pan_scanner_finish (s, count_cb, sum), 0);
      if (!i)
        memcpy (ref, sum, sizeof ref);
      T_CHECK (sum[0] == ref[0] && sum[1] == ref[1]);
    }
  T_CHECK (ref[0] == nexpect);
  free (stream);
}

static void
count_expect (pan_scanner_t s, const struct tcase *tc)
{
  (void)s;
  tp += tc->nexpect;
}


/*
 * The helpers of the public API.
 */

static void
test_luhn_brand_mask (void)
{
  char buf[PAN_MASK_SIZE];

  T_CHECK (pan_luhn_valid ("4111111111111111"));
  T_CHECK (!pan_luhn_valid ("4111111111111112"));
  T_CHECK (pan_luhn_valid ("00"));
  T_CHECK (!pan_luhn_valid ("0"));
  T_CHECK (!pan_luhn_valid ("4111 1111 1111 1111"));
  T_CHECK (!pan_luhn_valid (""));
  T_CHECK (!pan_luhn_valid (NULL));
  T_STREQ (pan_card_brand ("4111111111111111"), "Visa");
  T_STREQ (pan_card_brand ("4222222222222"), "Visa");
  T_STREQ (pan_card_brand ("411111111111111"), NULL);
  T_STREQ (pan_card_brand ("2221000000000009"), "Mastercard");
  T_STREQ (pan_card_brand ("2720990000000007"), "Mastercard");
  T_STREQ (pan_card_brand ("2721000000000004"), NULL);
  T_STREQ (pan_card_brand ("2200000000000004"), "Mir");
  T_STREQ (pan_card_brand ("378282246310005"), "American Express");
  T_STREQ (pan_card_brand ("3782822463100050"), NULL);
  T_STREQ (pan_card_brand ("6221260000000000"), "Discover");
  T_STREQ (pan_card_brand ("6221250000000000"), "UnionPay");
  T_STREQ (pan_card_brand ("6759649826438453"), "Maestro");
  T_STREQ (pan_card_brand ("6073849700004947"), "RuPay");
  T_STREQ (pan_card_brand ("3530111333300000"), "JCB");
  T_STREQ (pan_card_brand ("36227206271667"), "Diners Club");
  T_STREQ (pan_card_brand ("1234567890123456"), NULL);
  T_STREQ (pan_card_brand ("41111111111111x1"), NULL);
  T_STREQ (pan_card_brand (NULL), NULL);
  T_ERR (pan_mask ("4111111111111111", buf), 0);
  T_STREQ (buf, "411111******1111");
  T_ERR (pan_mask ("4222222222222", buf), 0);
  T_STREQ (buf, "422222***2222");
  T_ERR (pan_mask ("4111111111111111111", buf), 0);
  T_STREQ (buf, "411111*********1111");
  T_ERR (pan_mask ("422222222222", buf), GPG_ERR_INV_VALUE);
  T_STREQ (buf, "");
  T_ERR (pan_mask ("41111111111111111111", buf), GPG_ERR_INV_VALUE);
  T_ERR (pan_mask ("4111-1111-1111-1111", buf), GPG_ERR_INV_VALUE);
  T_ERR (pan_mask (NULL, buf), GPG_ERR_INV_VALUE);
}

static void
test_api_edges (void)
{
  const char text[] = "a 4111111111111111 b 5555555555554444 c";
  pan_scanner_t s = NULL;
  struct collect c;

  T_ERR (pan_scanner_new (NULL, 0, &s), 0);
  memset (&c, 0, sizeof c);
  T_ERR (scan (s, text, strlen (text), 0, &c), 0);
  T_CHECK (c.n == 2 && !*c.hits[0].hash && c.hits[0].offset == 2
           && c.hits[0].length == 16 && c.hits[1].offset == 21);
  /* A failing callback stops the scan and its error comes back.  */
  memset (&c, 0, sizeof c);
  c.stop_after = 1;
  T_ERR (scan (s, text, strlen (text), 0, &c), GPG_ERR_CANCELED);
  T_CHECK (c.n == 1);
  T_ERR (pan_scanner_finish (s, NULL, NULL), 0);
  /* No callback: hits are dropped, nothing breaks.  */
  T_ERR (pan_scanner_feed (s, text, strlen (text), NULL, NULL), 0);
  T_ERR (pan_scanner_feed (s, NULL, 0, NULL, NULL), 0);
  T_ERR (pan_scanner_feed (s, NULL, 1, NULL, NULL), GPG_ERR_INV_VALUE);
  T_ERR (pan_scanner_finish (s, NULL, NULL), 0);
  pan_scanner_release (s);
  pan_scanner_release (NULL);
  T_ERR (pan_scanner_new ("k", 0, &s), GPG_ERR_INV_VALUE);
  T_CHECK (s == NULL);
  T_ERR (pan_scanner_new (NULL, 0, NULL), GPG_ERR_INV_VALUE);
}

/* A PAN at the very end of a long stream.  */
static void
test_offsets (void)
{
  static char zeros[1 << 16];
  pan_scanner_t s = NULL;
  struct collect c;
  int i;

  memset (zeros, 'x', sizeof zeros);
  zeros[sizeof zeros - 1] = ' ';
  T_ERR (pan_scanner_new (KEY, strlen (KEY), &s), 0);
  memset (&c, 0, sizeof c);
  for (i = 0; i < 17; i++)
    T_ERR (pan_scanner_feed (s, zeros, sizeof zeros, collect_cb, &c), 0);
  T_ERR (pan_scanner_feed (s, "4111 1111 1111 1111", 19, collect_cb, &c), 0);
  T_CHECK (c.n == 0);
  T_ERR (pan_scanner_finish (s, collect_cb, &c), 0);
  T_CHECK (c.n == 1 && c.hits[0].offset == 17ULL * sizeof zeros
           && c.hits[0].length == 19);
  pan_scanner_release (s);
}

/* Write to TEXT a chain of 600 codes with a PAN of one group after
 * the first FIRST of them; return its length, and the PAN's offset at
 * *R_AT.  */
static size_t
long_chain (char *text, unsigned int first, size_t *r_at)
{
  size_t len = 0;

  for (unsigned int i = 0; i < 600; i++)
    {
      if (i == first)
        {
          *r_at = len;
          len += (size_t)sprintf (text + len, "4111111111111111 ");
        }
      len += (size_t)sprintf (text + len, "%04u ", (i * 7919u) % 10000u);
    }
  return len;
}

/* A PAN of one group amid a long chain of codes, at 60 places and in
 * every chunk size: the window moves back to the start of its buffers
 * every few dozen groups, at some of those places with the PAN in it,
 * and the PAN is found where it is.  */
static void
test_long_chain (void)
{
  static char text[600 * 5 + 32];
  static const size_t chunks[] = { 0, 1, 7, 64, 200 };
  pan_scanner_t s = NULL;
  struct collect c;
  size_t len, at = 0;

  T_ERR (pan_scanner_new (NULL, 0, &s), 0);
  for (unsigned int first = 240; first < 300; first++)
    {
      len = long_chain (text, first, &at);
      for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++)
        {
          memset (&c, 0, sizeof c);
          T_ERR (scan (s, text, len, chunks[k], &c), 0);
          T_CHECK (c.n == 1 && c.hits[0].offset == at
                   && c.hits[0].length == 16);
        }
    }
  pan_scanner_release (s);
}

/* Hits of TEXT as a string: offset, length, masked, hash, context.  */
static void
hits_text (pan_scanner_t s, const char *text, size_t len, size_t chunk,
           char *out, size_t size)
{
  static struct collect c;
  size_t i, n = 0;

  memset (&c, 0, sizeof c);
  T_ERR (scan (s, text, len, chunk, &c), 0);
  *out = 0;
  for (i = 0; i < c.n && n < size; i++)
    n += snprintf (out + n, size - n, "%llu %zu %s %s [%s]\n",
                   c.hits[i].offset, c.hits[i].length, c.hits[i].masked,
                   c.hits[i].hash, c.hits[i].context);
}

/* Random text of digits, separators, letters, slashes, colons and line
 * ends, with a valid PAN planted now and then: every chunk size must
 * give the hits the text gives whole with the best variant, and each
 * variant count its line ends right.  */
static void
test_random (pan_scanner_t s, int variant)
{
  static const char alphabet[] = "0123456789012345678901234567890123456789"
                                 "    ----abE/:\n.";
  static const char *const planted[] = { "4111 1111 1111 1111",
                                         "5555555555554444", "://",
                                         "3782-822463-10005", "20BBF " };
  static char text[4096], want[8192], got[8192];
  static const size_t chunks[] = { 0, 1, 7, 64, 65, 200 };
  unsigned int seed = 17, round, k;
  size_t len, i, n;

  for (round = 0; round < 300; round++)
    {
      len = 100 + rand_r (&seed) % (sizeof text - 200);
      for (i = 0; i < len; i++)
        text[i] = alphabet[rand_r (&seed) % (sizeof alphabet - 1)];
      for (k = 0; k < 8; k++)
        {
          const char *p = planted[rand_r (&seed) % 5];

          n = strlen (p);
          i = rand_r (&seed) % (len - n);
          memcpy (text + i, p, n);
        }
      pani_simd_force (PANI_SIMD_BEST);
      hits_text (s, text, len, 0, want, sizeof want);
      pani_simd_force (variant);
      for (i = n = 0; i < len; i++)
        n += text[i] == '\n';
      T_CHECK (pani_count_byte (text, len, '\n') == n);
      for (k = 0; k < sizeof chunks / sizeof *chunks; k++)
        {
          hits_text (s, text, len, chunks[k], got, sizeof got);
          T_CHECK (!strcmp (want, got));
        }
    }
}

/* The context around a hit: masked, other digits hidden, cut at the
 * line's end and after 16 bytes.  */
static void
test_context (void)
{
  static const struct
  {
    const char *text, *context;
  } cases[] = {
    {"card=4111 1111 1111 1111; cvv 123\nnext 42",
     "card=4111 11** **** 1111; cvv ###"                                                               },
    { "a long line of text before 4111111111111111 and after it as well",
     " of text before 411111******1111 and after it as"                                                },
    { "\t4111111111111111\x01\xc3\xa9\xc3",                               " 411111******1111?\xc3\xa9?"},
    { "4111111111111111",                                                 "411111******1111"           }
  };
  pan_scanner_t s = NULL;
  struct collect c;
  size_t i, chunk;

  T_ERR (pan_scanner_new (NULL, 0, &s), 0);
  for (i = 0; i < sizeof cases / sizeof *cases; i++)
    for (chunk = 0; chunk < 20; chunk += 3)
      {
        memset (&c, 0, sizeof c);
        T_ERR (scan (s, cases[i].text, strlen (cases[i].text), chunk, &c),
               0);
        T_CHECK (c.n == 1);
        T_STREQ (c.hits[0].context, cases[i].context);
      }
  pan_scanner_release (s);
}


int
main (void)
{
  static const int variants[] = { PANI_SIMD_BEST, PANI_SIMD_SSE2,
                                  PANI_SIMD_WORDS };
  static const char *const variant_names[] = { "best", "sse2", "words" };
  pan_scanner_t s = NULL;
  size_t i, npos, nneg;
  unsigned long positives;
  double precision, recall;

  if (!gcry_check_version (NULL))
    return 1;
  gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);

  test_luhn_brand_mask ();
  test_api_edges ();
  test_offsets ();
  test_long_chain ();
  test_context ();

  T_ERR (pan_scanner_new (KEY, strlen (KEY), &s), 0);
  for (i = 0; i < sizeof variants / sizeof *variants; i++)
    {
      if (!pani_simd_force (variants[i]))
        continue;
      tp = fp = fn = 0;
      npos = run_corpus ("positives.txt", 1, run_case, s);
      nneg = run_corpus ("negatives.txt", 0, run_case, s);
      precision = tp + fp ? 100.0 * tp / (tp + fp) : 0;
      recall = tp + fn ? 100.0 * tp / (tp + fn) : 0;
      printf ("t-pan: %s: %zu positive and %zu negative cases, %d feedings"
              " each: tp %lu fp %lu fn %lu, precision %.2f%%, recall"
              " %.2f%%\n",
              variant_names[i], npos, nneg, MAX_CHUNK + 1, tp, fp, fn,
              precision, recall);
      T_CHECK (npos > 100 && nneg > 100);
      T_CHECK (fp == 0 && fn == 0 && tp > 0);
      test_random (s, variants[i]);
    }
  pani_simd_force (PANI_SIMD_BEST);

  tp = 0;
  run_corpus ("positives.txt", 1, count_expect, s);
  positives = tp;
  run_corpus ("positives.txt", 1, append_case, s);
  run_corpus ("negatives.txt", 0, append_case, s);
  test_stream (s, positives);
  pan_scanner_release (s);
  return t_done ("t-pan");
}
