/* pan-simd.c - finding digits many bytes at a time for the PAN detector
 *
 * The detector spends its time looking for the next digit in text, for
 * the end of a run of digits, and passing over chains of digits too
 * short to hold a PAN (dates, times, phone numbers).  These are done
 * here on many bytes at a time: with AVX2 where the CPU has it (checked
 * once, at run time), else with SSE2 (every x86-64 CPU), else 8 bytes
 * at a time with plain 64-bit arithmetic ("Bit Twiddling Hacks": a
 * byte range test on all the bytes of a word at once).  All variants
 * give the same answers; tests/unit/t-pan runs the corpus with each.
 *
 * The file scanner counts line ends here too (pani_count_byte).
 *
 * Short chains are passed over 64 bytes at a time: a block's digits
 * and separators (space, dash) become two 64-bit masks; a separator
 * with a digit on both sides is a link, digits and links are chain
 * bytes, and each run of chain bytes is a chain whose digits are
 * counted with one popcount.  */
#include <config.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "pan-simd-int.h"

#if defined(__GNUC__) && defined(__SSE2__) \
  && (defined(__x86_64__) || defined(__i386__))
#define USE_SSE2 1
#include <immintrin.h>
#endif

#if USE_SSE2 && (defined(__clang__) || __GNUC__ >= 5)
#define USE_AVX2 1
#endif

/* The block loop is written once and inlined into each variant, with
 * the variant's own classifier.  */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__ ((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* How one variant does the two jobs.  */
struct variant
{
  const unsigned char *(*find) (const unsigned char *p,
                                const unsigned char *end, int digit);
  const unsigned char *(*skip) (const unsigned char *p,
                                const unsigned char *end);
  size_t (*count) (const unsigned char *p, const unsigned char *end, int c);
};


/*
 * Any CPU.
 */

/* The byte-at-a-time tail of every variant.  */
static const unsigned char *
find_class_bytes (const unsigned char *p, const unsigned char *end,
                  int digit)
{
  while (p < end && pani_is_digit (*p) != digit)
    p++;
  return p;
}

/* Return the high bit of each of the 8 bytes of X that is a digit.  */
static uint64_t
digits8 (uint64_t x)
{
  const uint64_t ones = 0x0101010101010101ULL;
  uint64_t low = x & ones * 127;

  return (ones * (127 + '9' + 1) - low) & ~x
    & (low + ones * (127 - ('0' - 1))) & ones * 128;
}

static const unsigned char *
find_class_words (const unsigned char *p, const unsigned char *end,
                  int digit)
{
  const uint64_t high = 0x8080808080808080ULL;
  uint64_t x;

  for (; end - p >= 8; p += 8)
    {
      memcpy (&x, p, 8);
      if (digit ? digits8 (x) != 0 : digits8 (x) != high)
        break;
    }
  return find_class_bytes (p, end, digit);
}

/* Return the number of bytes C in P..END.  */
static size_t
count_bytes (const unsigned char *p, const unsigned char *end, int c)
{
  size_t n = 0;

  while (p < end && (p = memchr (p, c, end - p)))
    {
      n++;
      p++;
    }
  return n;
}

/* Passing over short chains a block at a time needs 64-bit masks of
 * the bytes' classes; without them the detector does it a chain at a
 * time.  */
static const unsigned char *
skip_none (const unsigned char *p, const unsigned char *end)
{
  (void)end;
  return p;
}

/* Return the mask of the bits below bit N (N < 64).  */
static ALWAYS_INLINE uint64_t
below (unsigned int n)
{
  return ((uint64_t)1 << n) - 1;
}

/* The chain bytes of the block with digit mask D and separator mask S,
 * given whether the bytes before and after it are digits.  */
static ALWAYS_INLINE uint64_t
chain_bytes (uint64_t d, uint64_t s, int digit_before, int digit_after)
{
  uint64_t link = s & ((d << 1) | (uint64_t)digit_before)
    & ((d >> 1) | ((uint64_t)digit_after << 63));

  return d | link;
}

/* The chains of one block with digit mask D and chain bytes C, from
 * P: return the first digit of a chain of PAN_MIN_DIGITS or more, or
 * NULL.  A chain open at the block's end goes to *R_OPEN and *R_NDIG;
 * one open before it is in them on entry.  */
static ALWAYS_INLINE const unsigned char *
block_chains (const unsigned char *p, uint64_t d, uint64_t c,
              const unsigned char **r_open, unsigned int *r_ndig,
              int (*popcount) (uint64_t))
{
  unsigned int st, len;
  uint64_t run, rest;

  if (*r_open)
    {
      len = ~c ? (unsigned int)__builtin_ctzll (~c) : 64;
      *r_ndig += popcount (len == 64 ? d : d & below (len));
      if (*r_ndig >= PAN_MIN_DIGITS)
        return *r_open;
      if (len == 64)
        return NULL;
      *r_open = NULL;
      c &= ~below (len);
    }
  while (c)
    {
      st = (unsigned int)__builtin_ctzll (c);
      rest = c >> st;
      len = ~rest ? (unsigned int)__builtin_ctzll (~rest) : 64 - st;
      if (st + len == 64)
        {
          *r_open = p + st;
          *r_ndig = popcount (d >> st);
          return NULL;
        }
      run = below (len) << st;
      if (popcount (d & run) >= PAN_MIN_DIGITS)
        return p + st;
      c &= ~run;
    }
  return NULL;
}

/* Pass over the chains of fewer than PAN_MIN_DIGITS digits from P (not
 * inside a chain), 64 bytes at a time while 65 are left before END
 * (the byte after a block tells whether its last separator is a link).
 * Return the first digit of a longer chain, of a chain still open
 * where the blocks end, or the end of the blocks.  */
static ALWAYS_INLINE const unsigned char *
skip_blocks (const unsigned char *p, const unsigned char *end,
             void (*classify) (const unsigned char *, uint64_t *,
                               uint64_t *),
             int (*popcount) (uint64_t))
{
  const unsigned char *open = NULL, *hit;
  unsigned int ndig = 0;
  uint64_t d, s;
  int digit_before = 0;

  for (; end - p >= 65; p += 64)
    {
      classify (p, &d, &s);
      hit = block_chains (p, d,
                          chain_bytes (d, s, digit_before,
                                       pani_is_digit (p[64])),
                          &open, &ndig, popcount);
      if (hit)
        return hit;
      digit_before = (int)(d >> 63);
    }
  return open ? open : p;
}


/*
 * SSE2 and AVX2.
 */

#if USE_SSE2
/* Return the mask of the digits among the 16 bytes at P.  */
static ALWAYS_INLINE unsigned int
digits16 (__m128i x)
{
  const __m128i zero = _mm_set1_epi8 ('0'), nine = _mm_set1_epi8 (9);

  x = _mm_sub_epi8 (x, zero);
  return (unsigned int)_mm_movemask_epi8 (
    _mm_cmpeq_epi8 (_mm_min_epu8 (x, nine), x));
}

static const unsigned char *
find_class_sse2 (const unsigned char *p, const unsigned char *end, int digit)
{
  unsigned int m, flip = digit ? 0 : 0xffff;

  for (; end - p >= 16; p += 16)
    if ((m = digits16 (_mm_loadu_si128 ((const __m128i *)p)) ^ flip))
      return p + __builtin_ctz (m);
  return find_class_bytes (p, end, digit);
}

static ALWAYS_INLINE void
classify_sse2 (const unsigned char *p, uint64_t *r_d, uint64_t *r_s)
{
  const __m128i space = _mm_set1_epi8 (' '), dash = _mm_set1_epi8 ('-');
  uint64_t d = 0, s = 0;
  __m128i x;
  int k;

  for (k = 0; k < 64; k += 16)
    {
      x = _mm_loadu_si128 ((const __m128i *)(p + k));
      d |= (uint64_t)digits16 (x) << k;
      s |= (uint64_t)(unsigned int)_mm_movemask_epi8 (
             _mm_or_si128 (_mm_cmpeq_epi8 (x, space),
                           _mm_cmpeq_epi8 (x, dash)))
        << k;
    }
  *r_d = d;
  *r_s = s;
}

static ALWAYS_INLINE int
popcount_generic (uint64_t x)
{
  return __builtin_popcountll (x);
}

static size_t
count_sse2 (const unsigned char *p, const unsigned char *end, int c)
{
  const __m128i want = _mm_set1_epi8 ((char)c);
  size_t n = 0;

  for (; end - p >= 16; p += 16)
    n += popcount_generic ((unsigned int)_mm_movemask_epi8 (
      _mm_cmpeq_epi8 (_mm_loadu_si128 ((const __m128i *)p), want)));
  return n + count_bytes (p, end, c);
}

static const unsigned char *
skip_sse2 (const unsigned char *p, const unsigned char *end)
{
  return skip_blocks (p, end, classify_sse2, popcount_generic);
}
#endif /* USE_SSE2 */

#if USE_AVX2
__attribute__ ((target ("avx2"))) static ALWAYS_INLINE uint32_t
digits32 (__m256i x)
{
  const __m256i zero = _mm256_set1_epi8 ('0'), nine = _mm256_set1_epi8 (9);

  x = _mm256_sub_epi8 (x, zero);
  return (uint32_t)_mm256_movemask_epi8 (
    _mm256_cmpeq_epi8 (_mm256_min_epu8 (x, nine), x));
}

__attribute__ ((target ("avx2"))) static const unsigned char *
find_class_avx2 (const unsigned char *p, const unsigned char *end, int digit)
{
  uint32_t m, flip = digit ? 0 : 0xffffffffu;

  for (; end - p >= 32; p += 32)
    if ((m = digits32 (_mm256_loadu_si256 ((const __m256i *)p)) ^ flip))
      return p + __builtin_ctz (m);
  return find_class_sse2 (p, end, digit);
}

__attribute__ ((target ("avx2"))) static ALWAYS_INLINE void
classify_avx2 (const unsigned char *p, uint64_t *r_d, uint64_t *r_s)
{
  const __m256i space = _mm256_set1_epi8 (' '),
                dash = _mm256_set1_epi8 ('-');
  __m256i lo = _mm256_loadu_si256 ((const __m256i *)p);
  __m256i hi = _mm256_loadu_si256 ((const __m256i *)(p + 32));
  uint64_t slo, shi;

  *r_d = digits32 (lo) | (uint64_t)digits32 (hi) << 32;
  slo = (uint32_t)_mm256_movemask_epi8 (
    _mm256_or_si256 (_mm256_cmpeq_epi8 (lo, space),
                     _mm256_cmpeq_epi8 (lo, dash)));
  shi = (uint32_t)_mm256_movemask_epi8 (
    _mm256_or_si256 (_mm256_cmpeq_epi8 (hi, space),
                     _mm256_cmpeq_epi8 (hi, dash)));
  *r_s = slo | shi << 32;
}

__attribute__ ((target ("popcnt"))) static ALWAYS_INLINE int
popcount_insn (uint64_t x)
{
  return __builtin_popcountll (x);
}

__attribute__ ((target ("avx2,popcnt"))) static const unsigned char *
skip_avx2 (const unsigned char *p, const unsigned char *end)
{
  return skip_blocks (p, end, classify_avx2, popcount_insn);
}

__attribute__ ((target ("avx2,popcnt"))) static size_t
count_avx2 (const unsigned char *p, const unsigned char *end, int c)
{
  const __m256i want = _mm256_set1_epi8 ((char)c);
  size_t n = 0;

  for (; end - p >= 32; p += 32)
    n += popcount_insn ((uint32_t)_mm256_movemask_epi8 (
      _mm256_cmpeq_epi8 (_mm256_loadu_si256 ((const __m256i *)p), want)));
  return n + count_sse2 (p, end, c);
}
#endif /* USE_AVX2 */


/*
 * Choosing a variant.
 */

static const struct variant words = { find_class_words, skip_none,
                                      count_bytes };
#if USE_SSE2
static const struct variant sse2 = { find_class_sse2, skip_sse2,
                                     count_sse2 };
#endif
#if USE_AVX2
static const struct variant avx2 = { find_class_avx2, skip_avx2,
                                     count_avx2 };
#endif

/* Return the best variant this CPU runs.  */
static const struct variant *
best_variant (void)
{
#if USE_AVX2
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("popcnt"))
    return &avx2;
#endif
#if USE_SSE2
  return &sse2;
#else
  return &words;
#endif
}

static const struct variant *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void
choose_best (void)
{
  chosen = best_variant ();
}

void
pani_simd_setup (void)
{
  pthread_once (&chosen_once, choose_best);
}

int
pani_simd_force (int variant)
{
  pani_simd_setup ();
  if (variant == PANI_SIMD_WORDS)
    chosen = &words;
#if USE_SSE2
  else if (variant == PANI_SIMD_SSE2)
    chosen = &sse2;
#endif
  else if (variant == PANI_SIMD_BEST)
    chosen = best_variant ();
  else
    return 0;
  return 1;
}

const unsigned char *
pani_find_digit (const unsigned char *p, const unsigned char *end)
{
  return chosen->find (p, end, 1);
}

const unsigned char *
pani_find_nondigit (const unsigned char *p, const unsigned char *end)
{
  return chosen->find (p, end, 0);
}

const unsigned char *
pani_skip_short_chains (const unsigned char *p, const unsigned char *end)
{
  return chosen->skip (p, end);
}

size_t
pani_count_byte (const void *p, size_t len, int c)
{
  pani_simd_setup ();
  return chosen->count (p, (const unsigned char *)p + len, c);
}
