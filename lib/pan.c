/* pan.c - streaming detection of payment card numbers
 *
 * The scanner is a state machine over bytes: no regex, no allocation
 * after pan_scanner_new.  Text is cut into digit runs ("groups").  Runs
 * joined by exactly one space or exactly one dash form a chain; a chain
 * uses one kind of separator (a group between a dash and a space ends
 * one chain and starts the next).  A candidate is a sequence of
 * consecutive groups of one chain with 13 to 19 digits in all:
 *
 *  - its first byte is not preceded, and its last not followed, by an
 *    ASCII letter or digit ("ID4111111111111111" and 20-digit runs do
 *    not match; punctuation, white space and 8-bit bytes around do);
 *  - grouped, its first group has 4 to 6 digits and every further
 *    group 2 to 9 (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3, 4-4-5, 6-9, ...),
 *    so that a short number in front ("qty 50 4111 1111 ...") cannot
 *    take part;
 *  - it passes Luhn and an issuer range of the table below with a
 *    length the brand issues.
 *
 * Within a chain the leftmost candidate wins, and of those starting at
 * the same group the longest; hits never overlap.
 *
 * Brands (first matching line wins; "6" is Maestro's catch-all for the
 * rest of the 6 series):
 *
 *   brand              issuer ranges (IIN prefixes)          lengths
 *   American Express   34, 37                                15
 *   Mastercard         51-55, 2221-2720                      16
 *   Mir                2200-2204                             16-19
 *   Visa               4                                     13, 16, 19
 *   JCB                3528-3589                             16-19
 *   Diners Club        300-305, 3095, 36, 38-39              14-19
 *   Discover           6011, 644-649, 65, 622126-622925      16-19
 *   UnionPay           62 (other than Discover's)            16-19
 *   RuPay              60, 508, 81, 82                       16
 *   Maestro            50, 56-58, 6 (rest)                   13-19
 *
 * The PAN being assembled lives in the scanner, in libgcrypt's secure
 * memory, and is wiped as soon as it has been reported or rejected.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "pan-int.h"

/* The most groups a chain window holds: 19 one-digit groups and the
 * group being added.  */
#define MAX_GROUPS (PAN_MAX_DIGITS + 1)

/* Size of a hex SHA-256 with its NUL.  */
#define HASH_HEX_SIZE 65

enum scan_state
  {
    ST_IDLE,    /* Not in a digit run.  */
    ST_RUN,     /* In a digit run.  */
    ST_SEP      /* Right after a run and one space or dash.  */
  };

/* Flags of a group.  */
#define GLUED_LEFT  1
#define GLUED_RIGHT 2

struct group
{
  unsigned long long off;     /* Offset of its first digit.  */
  unsigned char len;          /* Digits.  */
  unsigned char glued;        /* GLUED_LEFT, GLUED_RIGHT.  */
};

struct pan_scanner
{
  gcry_md_hd_t hmac;          /* NULL: no hashing.  */

  /* Set during a feed.  */
  pan_hit_cb_t cb;
  void *opaque;
  gpg_error_t err;
  const unsigned char *start; /* Of the chunk being fed.  */
  unsigned long long base;    /* Stream offset of START.  */

  unsigned long long offset;  /* Stream offset of the next chunk.  */
  unsigned long long hit_end; /* End offset of the last hit.  */
  enum scan_state state;
  int prev_alnum;             /* The last byte fed was a letter/digit.  */

  /* The current digit run; with ST_SEP also SEP, the byte after it.  */
  unsigned long long run_off;
  size_t run_len;             /* Saturates at PAN_MAX_DIGITS + 1.  */
  int run_glued_left;
  int sep;
  char run_digits[PAN_MAX_DIGITS + 1];

  /* The chain window: groups not yet decided and their digits.  */
  int kind;                   /* Separator of the chain, 0: none yet.  */
  struct group groups[MAX_GROUPS];
  size_t ngroups;
  size_t ndigits;
  char digits[2 * PAN_MAX_DIGITS + 2];

  /* A hit being reported.  */
  char pan[PAN_MAX_DIGITS + 1];
  char masked[PAN_MASK_SIZE];
  char hash[HASH_HEX_SIZE];
};


/*
 * Brands, Luhn, masking.
 */

#define LEN(n) (1u << (n))
#define LEN_14_19 (LEN (14) | LEN (15) | LEN (16) | LEN (17) | LEN (18) \
                   | LEN (19))
#define LEN_16_19 (LEN (16) | LEN (17) | LEN (18) | LEN (19))
#define LEN_13_19 (LEN (13) | LEN_14_19)

/* PANs whose first PREFIXLEN digits are in LO..HI and whose length is
 * in LENGTHS belong to NAME.  */
struct brand_range
{
  const char *name;
  unsigned long lo;
  unsigned long hi;
  unsigned int prefixlen;
  unsigned int lengths;
};

static const struct brand_range brand_table[] =
  {
    { "American Express", 34, 34, 2, LEN (15) },
    { "American Express", 37, 37, 2, LEN (15) },
    { "Mastercard", 51, 55, 2, LEN (16) },
    { "Mastercard", 2221, 2720, 4, LEN (16) },
    { "Mir", 2200, 2204, 4, LEN_16_19 },
    { "Visa", 4, 4, 1, LEN (13) | LEN (16) | LEN (19) },
    { "JCB", 3528, 3589, 4, LEN_16_19 },
    { "Diners Club", 300, 305, 3, LEN_14_19 },
    { "Diners Club", 3095, 3095, 4, LEN_14_19 },
    { "Diners Club", 36, 36, 2, LEN_14_19 },
    { "Diners Club", 38, 39, 2, LEN_14_19 },
    { "Discover", 6011, 6011, 4, LEN_16_19 },
    { "Discover", 644, 649, 3, LEN_16_19 },
    { "Discover", 65, 65, 2, LEN_16_19 },
    { "Discover", 622126, 622925, 6, LEN_16_19 },
    { "UnionPay", 62, 62, 2, LEN_16_19 },
    { "RuPay", 60, 60, 2, LEN (16) },
    { "RuPay", 508, 508, 3, LEN (16) },
    { "RuPay", 81, 82, 2, LEN (16) },
    { "Maestro", 50, 50, 2, LEN_13_19 },
    { "Maestro", 56, 58, 2, LEN_13_19 },
    { "Maestro", 6, 6, 1, LEN_13_19 }
  };

static int
is_digit (int c)
{
  return (unsigned int)(c - '0') < 10;
}

/* Return true if one of the 8 bytes at P is an ASCII digit (a byte
 * range test done on all 8 at once, as in "Bit Twiddling Hacks").  */
static int
has_digit8 (const unsigned char *p)
{
  const uint64_t ones = 0x0101010101010101ULL;
  uint64_t x, low;

  memcpy (&x, p, 8);
  low = x & ones * 127;
  return ((ones * (127 + '9' + 1) - low) & ~x
          & (low + ones * (127 - ('0' - 1))) & ones * 128) != 0;
}

static int
is_alnum (int c)
{
  return is_digit (c) || (unsigned int)((c | 0x20) - 'a') < 26;
}

static void
wipe (void *p, size_t len)
{
  volatile unsigned char *v = p;

  while (len--)
    *v++ = 0;
}

/* Return the number of leading digits of S if S is only digits.  */
static size_t
digits_len (const char *s)
{
  size_t n;

  for (n = 0; s[n]; n++)
    if (!is_digit ((unsigned char)s[n]))
      return 0;
  return n;
}

static int
luhn_ok (const char *d, size_t n)
{
  unsigned int sum = 0, dbl = 0;

  while (n--)
    {
      unsigned int v = d[n] - '0';

      if (dbl)
        v = v * 2 > 9 ? v * 2 - 9 : v * 2;
      sum += v;
      dbl = !dbl;
    }
  return sum % 10 == 0;
}

int
pan_luhn_valid (const char *digits)
{
  size_t n = digits ? digits_len (digits) : 0;

  return n >= 2 && luhn_ok (digits, n);
}

static unsigned long
prefix_value (const char *d, unsigned int n)
{
  unsigned long v = 0;
  unsigned int i;

  for (i = 0; i < n; i++)
    v = v * 10 + (d[i] - '0');
  return v;
}

static const char *
brand_of (const char *d, size_t n)
{
  size_t i;

  if (n < PAN_MIN_DIGITS || n > PAN_MAX_DIGITS)
    return NULL;
  for (i = 0; i < sizeof brand_table / sizeof *brand_table; i++)
    {
      const struct brand_range *b = brand_table + i;
      unsigned long v = prefix_value (d, b->prefixlen);

      if (v >= b->lo && v <= b->hi && (b->lengths & LEN (n)))
        return b->name;
    }
  return NULL;
}

const char *
pan_card_brand (const char *digits)
{
  return digits ? brand_of (digits, digits_len (digits)) : NULL;
}

/* Write the N digits D masked into BUF (N + 1 bytes).  */
static void
mask_digits (const char *d, size_t n, char *buf)
{
  size_t i;

  for (i = 0; i < n; i++)
    buf[i] = (i < 6 || i >= n - 4) ? d[i] : '*';
  buf[n] = 0;
}

gpg_error_t
pan_mask (const char *digits, char *buf)
{
  size_t n = digits ? digits_len (digits) : 0;

  if (buf)
    *buf = 0;
  if (!buf || n < PAN_MIN_DIGITS || n > PAN_MAX_DIGITS)
    return gpg_error (GPG_ERR_INV_VALUE);
  mask_digits (digits, n, buf);
  return 0;
}


/*
 * Reporting a hit.
 */

static void
hash_digits (pan_scanner_t s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *mac;
  size_t i;

  gcry_md_reset (s->hmac);
  gcry_md_write (s->hmac, s->pan, n);
  mac = gcry_md_read (s->hmac, GCRY_MD_SHA256);
  for (i = 0; i < 32; i++)
    {
      s->hash[2 * i] = hex[mac[i] >> 4];
      s->hash[2 * i + 1] = hex[mac[i] & 15];
    }
  s->hash[64] = 0;
  gcry_md_reset (s->hmac);
}

/* Report the first N digits of the window, the groups 0..LAST.  */
static void
report (pan_scanner_t s, size_t last, size_t n, const char *brand)
{
  struct pan_hit hit;
  const struct group *g = s->groups + last;

  memcpy (s->pan, s->digits, n);
  s->pan[n] = 0;
  mask_digits (s->pan, n, s->masked);
  if (s->hmac)
    hash_digits (s, n);
  hit.offset = s->groups[0].off;
  hit.length = g->off + g->len - hit.offset;
  hit.ndigits = n;
  hit.brand = brand;
  hit.masked = s->masked;
  hit.hash = s->hmac ? s->hash : NULL;
  s->hit_end = g->off + g->len;
  if (s->cb && !s->err)
    s->err = s->cb (s->opaque, &hit);
  wipe (s->pan, sizeof s->pan);
  wipe (s->masked, sizeof s->masked);
}


/*
 * The chain window.
 */

/* Remove the first N groups of the window.  */
static void
drop_groups (pan_scanner_t s, size_t n)
{
  size_t i, nd = 0;

  for (i = 0; i < n; i++)
    nd += s->groups[i].len;
  memmove (s->groups, s->groups + n, (s->ngroups - n) * sizeof *s->groups);
  s->ngroups -= n;
  memmove (s->digits, s->digits + nd, s->ndigits - nd);
  wipe (s->digits + s->ndigits - nd, nd);
  s->ndigits -= nd;
}

/* Return true if a grouped candidate may go on with group G.  */
static int
group_shape_ok (const struct group *first, const struct group *g)
{
  return first->len >= 4 && first->len <= 6 && g->len >= 2 && g->len <= 9;
}

/* Decide the candidates starting at the first group of the window:
 * report the longest valid one and drop its groups, or drop the first
 * group.  */
static void
decide_first (pan_scanner_t s)
{
  const struct group *g = s->groups;
  size_t j, n = 0, best = 0, bestn = 0;
  const char *brand, *bestbrand = NULL;

  for (j = 0; j < s->ngroups && !(g[0].glued & GLUED_LEFT); j++)
    {
      n += g[j].len;
      if (n > PAN_MAX_DIGITS || (j && !group_shape_ok (g, g + j)))
        break;
      if (n < PAN_MIN_DIGITS || (g[j].glued & GLUED_RIGHT))
        continue;
      brand = brand_of (s->digits, n);
      if (brand && luhn_ok (s->digits, n))
        best = j, bestn = n, bestbrand = brand;
    }
  if (bestbrand)
    report (s, best, bestn, bestbrand);
  drop_groups (s, bestbrand ? best + 1 : 1);
}

/* Decide every start whose candidates are all known.  */
static void
advance_window (pan_scanner_t s)
{
  while (s->ngroups && s->ndigits > PAN_MAX_DIGITS)
    decide_first (s);
}

static void
flush_chain (pan_scanner_t s)
{
  if (s->ndigits < PAN_MIN_DIGITS)
    drop_groups (s, s->ngroups);
  while (s->ngroups)
    decide_first (s);
  s->kind = 0;
}

/* Append the current run to the window as a group.  */
static void
add_group (pan_scanner_t s, int glued_right)
{
  struct group *g = s->groups + s->ngroups++;

  g->off = s->run_off;
  g->len = (unsigned char)s->run_len;
  g->glued = (s->run_glued_left ? GLUED_LEFT : 0)
             | (glued_right ? GLUED_RIGHT : 0);
  memcpy (s->digits + s->ndigits, s->run_digits, s->run_len);
  s->ndigits += s->run_len;
  advance_window (s);
}

static void
clear_run (pan_scanner_t s)
{
  wipe (s->run_digits, s->run_len < PAN_MAX_DIGITS
                       ? s->run_len : PAN_MAX_DIGITS);
  s->run_len = 0;
}

/* The current run ends at a byte that is not a link to another group;
 * GLUED_RIGHT if that byte is a letter.  */
static void
end_chain (pan_scanner_t s, int glued_right)
{
  if (!s->ngroups && s->run_len < PAN_MIN_DIGITS)
    s->kind = 0;   /* Most runs: a short number on its own.  */
  else if (s->run_len <= PAN_MAX_DIGITS)
    add_group (s, glued_right);
  flush_chain (s);
  clear_run (s);
  s->state = ST_IDLE;
}

/* The current run is linked by separator S->SEP to a following run.  */
static void
link_run (pan_scanner_t s)
{
  int consumed;

  if (s->run_len > PAN_MAX_DIGITS)
    flush_chain (s);
  else if (!s->kind || s->kind == s->sep)
    add_group (s, 0);
  else
    {
      /* The run ends the chain of the other kind and starts this one
       * unless a hit of the old chain took it.  */
      add_group (s, 0);
      flush_chain (s);
      consumed = s->hit_end > s->run_off;
      if (!consumed)
        add_group (s, 0);
    }
  s->kind = s->sep;
  clear_run (s);
}


/*
 * The byte loop.
 */

static unsigned long long
pos_of (pan_scanner_t s, const unsigned char *p)
{
  return s->base + (unsigned long long)(p - s->start);
}

static void
start_run (pan_scanner_t s, const unsigned char *p, int glued_left)
{
  s->state = ST_RUN;
  s->run_off = pos_of (s, p);
  s->run_len = 0;
  s->run_glued_left = glued_left;
}

/* ST_IDLE: skip to the next digit.  */
static const unsigned char *
skip_text (pan_scanner_t s, const unsigned char *p, const unsigned char *end)
{
  int glued;

  while (end - p >= 8 && !has_digit8 (p))
    p += 8;
  while (p < end && !is_digit (*p))
    p++;
  if (p == end)
    return p;
  glued = p > s->start ? is_alnum (p[-1]) : s->prev_alnum;
  start_run (s, p, glued);
  return p;
}

/* ST_RUN: take digits, then look at the byte that ends the run.  */
static const unsigned char *
eat_digits (pan_scanner_t s, const unsigned char *p, const unsigned char *end)
{
  const unsigned char *q = p;
  size_t n, room;

  while (q < end && is_digit (*q))
    q++;
  n = q - p;
  room = s->run_len < PAN_MAX_DIGITS ? PAN_MAX_DIGITS - s->run_len : 0;
  if (room)
    memcpy (s->run_digits + s->run_len, p, n < room ? n : room);
  s->run_len = s->run_len + n > PAN_MAX_DIGITS ? PAN_MAX_DIGITS + 1
                                               : s->run_len + n;
  p = q;
  if (p == end)
    return p;
  if (*p == ' ' || *p == '-')
    {
      s->sep = *p;
      s->state = ST_SEP;
    }
  else
    end_chain (s, is_alnum (*p));
  return p + 1;
}

/* ST_SEP: a digit makes the separator a link; anything else ends the
 * chain (it is left for ST_IDLE).  */
static const unsigned char *
after_sep (pan_scanner_t s, const unsigned char *p)
{
  if (is_digit (*p))
    {
      link_run (s);
      start_run (s, p, 0);
    }
  else
    end_chain (s, 0);
  return p;
}

gpg_error_t
pan_scanner_feed (pan_scanner_t s, const void *buf, size_t len,
                  pan_hit_cb_t cb, void *opaque)
{
  const unsigned char *p = buf, *end = p + len;

  if (!s || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!len)
    return 0;
  s->cb = cb;
  s->opaque = opaque;
  s->err = 0;
  s->start = p;
  s->base = s->offset;
  while (p < end && !s->err)
    {
      if (s->state == ST_IDLE)
        p = skip_text (s, p, end);
      else if (s->state == ST_RUN)
        p = eat_digits (s, p, end);
      else
        p = after_sep (s, p);
    }
  s->prev_alnum = is_alnum (end[-1]);
  s->offset += len;
  s->start = NULL;
  return s->err;
}

static void
reset (pan_scanner_t s)
{
  clear_run (s);
  wipe (s->digits, sizeof s->digits);
  s->ngroups = s->ndigits = 0;
  s->kind = 0;
  s->state = ST_IDLE;
  s->offset = s->hit_end = 0;
  s->prev_alnum = 0;
}

gpg_error_t
pan_scanner_finish (pan_scanner_t s, pan_hit_cb_t cb, void *opaque)
{
  gpg_error_t err;

  if (!s)
    return gpg_error (GPG_ERR_INV_VALUE);
  s->cb = cb;
  s->opaque = opaque;
  s->err = 0;
  if (s->state != ST_IDLE)
    end_chain (s, 0);
  else
    flush_chain (s);
  err = s->err;
  reset (s);
  return err;
}


/*
 * Life cycle.
 */

static gpg_error_t
open_hmac (const void *key, size_t keylen, gcry_md_hd_t *r_hmac)
{
  gpg_error_t err;

  err = gcry_md_open (r_hmac, GCRY_MD_SHA256,
                      GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE);
  if (err)
    return err;
  err = gcry_md_setkey (*r_hmac, key, keylen);
  if (err)
    {
      gcry_md_close (*r_hmac);
      *r_hmac = NULL;
    }
  return err;
}

gpg_error_t
pan_scanner_new (const void *key, size_t keylen, pan_scanner_t *r_scanner)
{
  gpg_error_t err = 0;
  pan_scanner_t s;

  if (!r_scanner)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_scanner = NULL;
  if (key && !keylen)
    return gpg_error (GPG_ERR_INV_VALUE);
  s = gcry_calloc_secure (1, sizeof *s);
  if (!s)
    return gpg_error_from_syserror ();
  if (key && (err = open_hmac (key, keylen, &s->hmac)))
    goto leave;
  *r_scanner = s;
  s = NULL;

 leave:
  pan_scanner_release (s);
  return err;
}

gpg_error_t
pani_scanner_clone (pan_scanner_t orig, pan_scanner_t *r_scanner)
{
  gpg_error_t err = 0;
  pan_scanner_t s;

  *r_scanner = NULL;
  s = gcry_calloc_secure (1, sizeof *s);
  if (!s)
    return gpg_error_from_syserror ();
  if (orig->hmac && (err = gcry_md_copy (&s->hmac, orig->hmac)))
    goto leave;
  *r_scanner = s;
  s = NULL;

 leave:
  pan_scanner_release (s);
  return err;
}

void
pan_scanner_release (pan_scanner_t s)
{
  if (!s)
    return;
  if (s->hmac)
    gcry_md_close (s->hmac);
  wipe (s, sizeof *s);
  gcry_free (s);
}
