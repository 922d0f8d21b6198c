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
 *  - it passes Luhn and an issuer range with a length the brand issues
 *    (the table is in pan-brand.c);
 *  - it is not a row of a table of codes, nor a number in a URL's path
 *    (below).
 *
 * Within a chain the leftmost candidate wins, and of those starting at
 * the same group the longest; hits never overlap.
 *
 * Tables of codes.  Perl's Unicode::Collate tables are rows of hex
 * codes of 4 and 5 characters ("543E 5426 5446 5443 5433 5448 5442
 * 541B", "5846 5847 5848 21375").  Wherever three or four codes in a
 * row are all digits, they make a window of 13 to 19 digits that
 * passes Luhn and a brand range about one time in twenty: 180 false
 * alarms in one Debian install.  A number written in groups stands
 * among words, short numbers and punctuation, not in a row of more
 * groups like its own.  So a candidate of two or more groups is a row
 * of a table, not a PAN, if a code is joined to it by one separator of
 * its chain's kind, right before its first group or right after its
 * last.  A code is a word of PANI_CODE_MIN to PANI_CODE_MAX (4 to 6)
 * letters and digits, at least one of them a digit: the size of a
 * group of a card number ("5443", "543E", "21375"; not "Card", not
 * "12", not "2024-01-15" whose last word is "15").  One exception
 * keeps card numbers written back to back ("4111 1111 1111 1111 5555
 * 5555 5555 4444"): when the candidate has no code before it, the
 * candidates that follow it one right after the other are taken in
 * turn (each the longest valid one at its group, as always); if one of
 * them, at most LIST_MAX in all, has neither a code nor a further
 * candidate after it, they are all PANs, else the whole row is a
 * table.  What the rule gives up: a grouped PAN with a 4- to
 * 6-character code joined to it by its own separator, such as "4111
 * 1111 1111 1111 1225" (an expiry written as a fifth group) or "2024
 * 4111 1111 1111 1111".  Ungrouped PANs, and
 * grouped ones with other words, short numbers or other separators
 * around them ("Card 4111 1111 1111 1111 123", "qty 50 4111 1111 1111
 * 1111", "4111-1111-1111-1111 1225"), are found as before.
 *
 * URLs.  A number in the path of a URL is an identifier: Node's
 * changelog links https://chromestatus.com/feature/5068609911521280,
 * which passes Luhn and Maestro's range.  A candidate right after a '/'
 * in a word (no white space, quote or angle bracket) that holds "://"
 * within URL_LOOKBACK bytes is not reported.  A PAN in a URL's query
 * ("?pan=4111111111111111") or in a request line without a scheme
 * ("GET /cards/4111111111111111") is.
 *
 * Speed: text is skipped many bytes at a time to the next digit
 * (pan-simd.c), and a chain with fewer than 13 digits in all (dates,
 * times, phone numbers, amounts: most digits in text) is passed over
 * without collecting its groups, since it cannot hold a candidate.
 *
 * The rules look around a candidate, so the scanner decides on a byte
 * only once the LOOKAHEAD bytes after it are known (or the stream has
 * ended), and keeps the RING_SIZE bytes fed before the current chunk.
 * Hits, and the context reported with each, are the same whatever the
 * chunk sizes; a hit is reported up to LOOKAHEAD bytes after its end
 * has been fed, at the latest by pan_scanner_finish.
 *
 * The PAN being assembled and the bytes kept live in the scanner, in
 * libgcrypt's secure memory, and are wiped when the stream ends.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "pan-int.h"
#include "pan-brand-int.h"
#include "pan-simd-int.h"
#include "pan-text-int.h"

/* Bytes known after the byte decided on: a separator, a code of up to
 * 6 characters and the byte after it; the context after a hit.  */
#define LOOKAHEAD 16

/* Bytes kept from before the current chunk (a power of two): enough for
 * a list of LIST_MAX PANs, the context before it and a URL.  */
#define RING_SIZE 512

/* Fed bytes held until LOOKAHEAD more are known; small chunks are
 * collected here up to this size.  */
#define PEND_SIZE (4 * LOOKAHEAD)

/* Bytes of context either side of a hit.  */
#define CONTEXT 16

/* How far back "://" is looked for in front of a number.  */
#define URL_LOOKBACK 256

/* The longest code (pan-text.c).  */
#define CODE_MAX PANI_CODE_MAX

/* Most PANs in a list (see above).  */
#define LIST_MAX 4

/* The most groups and digits in the window: a list of LIST_MAX PANs of
 * up to 8 groups, the candidates after it.  The window slides along
 * buffers of that size, and moves back to their start when it reaches
 * their end (every few dozen groups of a long chain) or empties.  */
#define MAX_GROUPS (8 * LIST_MAX + PAN_MAX_DIGITS + 1)
#define DIGITS_SIZE ((LIST_MAX + 3) * PAN_MAX_DIGITS + 1)

/* A hit is at most 19 digits and 7 separators.  */
#define CONTEXT_SIZE (2 * CONTEXT + PAN_MAX_DIGITS + 8 + 1)

/* Size of a hex SHA-256 with its NUL.  */
#define HASH_HEX_SIZE 65

enum scan_state
{
  ST_IDLE, /* Not in a digit run.  */
  ST_RUN,  /* In a digit run.  */
  ST_SEP   /* Right after a run and one space or dash.  */
};

/* What a list of PANs turned out to be.  */
enum verdict
{
  V_WAIT,  /* Not known before more groups are seen.  */
  V_TABLE, /* A row of a table of codes.  */
  V_LIST   /* PANs written back to back.  */
};

/* Flags of a group.  */
#define GLUED_LEFT 1
#define GLUED_RIGHT 2

struct group
{
  unsigned long long off; /* Offset of its first digit.  */
  unsigned char len;      /* Digits.  */
  unsigned char glued;    /* GLUED_LEFT, GLUED_RIGHT.  */
};

struct pan_scanner
{
  gcry_md_hd_t hmac; /* NULL: no hashing.  */

  /* Set during a feed.  */
  pan_hit_cb_t cb;
  void *opaque;
  gpg_error_t err;

  /* The bytes in view: DATA/DATA_LEN holds the stream from DATA_OFF
   * (EOF: nothing follows), RING the RING_SIZE bytes before RING_END
   * (the end of what was fed before this call).  */
  const unsigned char *data;
  unsigned long long data_off;
  size_t data_len;
  int eof;
  unsigned long long ring_end;
  unsigned char ring[RING_SIZE];

  /* Fed and not decided on yet: the NPEND bytes from POS.  */
  unsigned long long pos;
  size_t npend;
  unsigned char pend[PEND_SIZE];
  unsigned char join[2 * LOOKAHEAD];

  unsigned long long hit_end; /* End offset of the last hit.  */
  enum scan_state state;

  /* The current digit run; with ST_SEP also SEP, the byte after it.  */
  unsigned long long run_off;
  size_t run_len; /* Saturates at PAN_MAX_DIGITS + 1.  */
  int run_glued_left;
  int sep;
  char run_digits[PAN_MAX_DIGITS + 1];

  /* The chain window: groups not yet decided and their digits.  */
  int kind;             /* Separator of the chain, 0: none yet.  */
  int chain_ended;      /* Deciding on the rest of a chain.  */
  struct group *groups; /* The window's first group in GROUP_BUF, */
  size_t ngroups;
  char *digits; /* and its first digit in DIGIT_BUF.  */
  size_t ndigits;
  struct group group_buf[MAX_GROUPS];
  char digit_buf[DIGITS_SIZE];

  /* A hit being reported.  */
  char pan[PAN_MAX_DIGITS + 1];
  char masked[PAN_MASK_SIZE];
  char hash[HASH_HEX_SIZE];
  char context[CONTEXT_SIZE];
};


/*
 * The bytes around the one decided on.
 */

/* Return the byte at stream offset X, or -1 if it is not in view
 * (before the stream, after its end).  */
static int
byte_at (pan_scanner_t s, unsigned long long x)
{
  if (x >= s->data_off && x - s->data_off < s->data_len)
    return s->data[x - s->data_off];
  if (x < s->ring_end && s->ring_end - x <= RING_SIZE)
    return s->ring[x & (RING_SIZE - 1)];
  return -1;
}

/* Return the byte before stream offset X, or -1.  */
static int
byte_before (pan_scanner_t s, unsigned long long x)
{
  return x ? byte_at (s, x - 1) : -1;
}

/* Return true if the byte at offset X is SEP and the bytes after it,
 * going forward (FORWARD) or back, a code.  */
static int
code_at (pan_scanner_t s, unsigned long long x, int forward, int sep)
{
  unsigned char word[CODE_MAX + 2];
  size_t n = 0;
  int c;

  if (byte_at (s, x) != sep)
    return 0;
  if (x >= s->data_off + CODE_MAX + 2
      && x + CODE_MAX + 2 < s->data_off + s->data_len)
    return forward
      ? pani_code_bytes (s->data + (x - s->data_off) + 1, NULL, 1)
      : pani_code_bytes (s->data + (x - s->data_off) - 1, NULL, -1);
  for (x = forward ? x + 1 : x - 1;
       n < sizeof word && pani_is_alnum (c = byte_at (s, x));
       x = forward ? x + 1 : x - 1)
    word[n++] = (unsigned char)c;
  return pani_code_bytes (word, word + n, 1);
}

/* Return true if the bytes before offset X are SEP and a code.  */
static int
code_before (pan_scanner_t s, unsigned long long x, int sep)
{
  return x && code_at (s, x - 1, 0, sep);
}

/* Return true if the bytes from offset X are SEP and a code.  */
static int
code_after (pan_scanner_t s, unsigned long long x, int sep)
{
  return code_at (s, x, 1, sep);
}

/* Return true if offset X follows a '/' in a word that holds "://"
 * (see the top of this file).  */
static int
in_url_path (pan_scanner_t s, unsigned long long x)
{
  unsigned long long y, stop = x > URL_LOOKBACK ? x - URL_LOOKBACK : 0;
  int c;

  if (byte_before (s, x) != '/')
    return 0;
  for (y = x - 1; y > stop && pani_is_url_byte (c = byte_before (s, y)); y--)
    if (c == ':' && byte_at (s, y) == '/' && byte_at (s, y + 1) == '/')
      return 1;
  return 0;
}

/* Write to S->CONTEXT the hit START..END of N digits with up to CONTEXT
 * bytes of its line either side: its digits masked, every other digit
 * as '#'.  */
static void
make_context (pan_scanner_t s, unsigned long long start,
              unsigned long long end, size_t n)
{
  unsigned char raw[CONTEXT_SIZE];
  unsigned long long b = start, e = end, x;
  size_t len = 0, k = 0;
  int c;

  while (start - b < CONTEXT && pani_is_line_byte (byte_before (s, b)))
    b--;
  while (e - end < CONTEXT && pani_is_line_byte (byte_at (s, e)))
    e++;
  for (x = b; x < e && len < sizeof raw - 1; x++)
    {
      c = byte_at (s, x);
      if (pani_is_digit (c) && (x < start || x >= end))
        c = '#';
      else if (pani_is_digit (c) && !pani_mask_keeps (k++, n))
        c = '*';
      raw[len++] = (unsigned char)c;
    }
  pani_clean_context (raw, len, s->context);
  pani_wipe (raw, sizeof raw);
}


/*
 * Reporting a hit.
 */

static void
hash_digits (pan_scanner_t s, size_t n)
{
  gcry_md_reset (s->hmac);
  gcry_md_write (s->hmac, s->pan, n);
  pani_bin2hex (gcry_md_read (s->hmac, GCRY_MD_SHA256), 32, s->hash);
  gcry_md_reset (s->hmac);
}

/* Report the N digits of the window from digit D, the groups
 * FIRST..LAST, as a PAN of BRAND.  */
static void
report (pan_scanner_t s, size_t first, size_t last, size_t d, size_t n,
        const char *brand)
{
  struct pan_hit hit;
  const struct group *g = s->groups;
  unsigned long long start = g[first].off, end = g[last].off + g[last].len;
  size_t i;

  memcpy (s->pan, s->digits + d, n);
  s->pan[n] = 0;
  for (i = 0; i < n; i++)
    s->masked[i] = pani_mask_keeps (i, n) ? s->pan[i] : '*';
  s->masked[n] = 0;
  if (s->hmac)
    hash_digits (s, n);
  make_context (s, start, end, n);
  hit.offset = start;
  hit.length = end - start;
  hit.ndigits = n;
  hit.brand = brand;
  hit.masked = s->masked;
  hit.hash = s->hmac ? s->hash : NULL;
  hit.context = s->context;
  s->hit_end = end;
  if (s->cb && !s->err)
    s->err = s->cb (s->opaque, &hit);
  pani_wipe (s->pan, sizeof s->pan);
  pani_wipe (s->masked, sizeof s->masked);
  pani_wipe (s->context, sizeof s->context);
}


/*
 * The chain window.
 */

/* Put the empty window at the start of its buffers.  */
static void
window_home (pan_scanner_t s)
{
  s->groups = s->group_buf;
  s->digits = s->digit_buf;
}

/* Remove the first N groups of the window: it slides on.  */
static void
drop_groups (pan_scanner_t s, size_t n)
{
  size_t i, nd = 0;

  for (i = 0; i < n; i++)
    nd += s->groups[i].len;
  pani_wipe (s->digits, nd);
  s->groups += n;
  s->ngroups -= n;
  s->digits += nd;
  s->ndigits -= nd;
  if (!s->ngroups)
    window_home (s);
}

/* Move the window back to the start of its buffers if a group of LEN
 * digits would not fit after it; wipe the digits' old place.  */
static void
window_make_room (pan_scanner_t s, size_t len)
{
  const struct group *group_end = s->group_buf + MAX_GROUPS;
  const char *digit_end = s->digit_buf + DIGITS_SIZE;
  char *old_digits = s->digits;

  if (s->groups + s->ngroups < group_end
      && s->digits + s->ndigits + len <= digit_end)
    return;
  memmove (s->group_buf, s->groups, s->ngroups * sizeof *s->groups);
  memmove (s->digit_buf, s->digits, s->ndigits);
  window_home (s);
  if (old_digits > s->digits)
    pani_wipe (s->digits + s->ndigits, (size_t)(old_digits - s->digits));
}

/* Return true if a grouped candidate may go on with group G.  */
static int
group_shape_ok (const struct group *first, const struct group *g)
{
  return first->len >= 4 && first->len <= 6 && g->len >= 2 && g->len <= 9;
}

/* Return true if the N digits at D are a PAN of some brand; its brand
 * goes to *R_BRAND.  */
static int
valid_pan (const char *d, size_t n, const char **r_brand)
{
  *r_brand = NULL;
  return pani_luhn_ok (d, n) && (*r_brand = pani_brand_of (d, n));
}

/* Return the offset after the last digit of group I.  */
static unsigned long long
group_end (pan_scanner_t s, size_t i)
{
  return s->groups[i].off + s->groups[i].len;
}

/* Find the longest valid candidate that starts at group I of the
 * window, whose digits start at D: return the index after its last
 * group (0: none), its length at *R_N and its brand at *R_BRAND.  */
static size_t
longest_at (pan_scanner_t s, size_t i, size_t d, size_t *r_n,
            const char **r_brand)
{
  const struct group *g = s->groups;
  size_t j, n = 0, end = 0;
  const char *brand;

  if (g[i].glued & GLUED_LEFT)
    return 0;
  for (j = i; j < s->ngroups; j++)
    {
      n += g[j].len;
      if (n > PAN_MAX_DIGITS || (j > i && !group_shape_ok (g + i, g + j)))
        break;
      if (n < PAN_MIN_DIGITS || (g[j].glued & GLUED_RIGHT)
          || !valid_pan (s->digits + d, n, &brand))
        continue;
      end = j + 1;
      *r_n = n;
      *r_brand = brand;
    }
  return end;
}

/* Return true if every candidate that starts at the group whose digits
 * start at D is known.  */
static int
known_from (pan_scanner_t s, size_t d)
{
  return s->chain_ended || s->ndigits - d > PAN_MAX_DIGITS;
}

/* A PAN found in a list.  */
struct listed
{
  size_t first, end; /* Its groups.  */
  size_t d, n;       /* Its digits.  */
  const char *brand;
};

/* Follow the candidates that start the window, L[0] given, one right
 * after the other while a code follows (see the top of this file).  */
static enum verdict
follow_list (pan_scanner_t s, struct listed *l, size_t *r_count)
{
  size_t end, d;

  for (*r_count = 1;; (*r_count)++)
    {
      end = l[*r_count - 1].end;
      d = l[*r_count - 1].d + l[*r_count - 1].n;
      if (!code_after (s, group_end (s, end - 1), s->kind))
        return V_LIST;
      if (*r_count == LIST_MAX || s->ngroups >= MAX_GROUPS - 1
          || s->ndigits + 2 * PAN_MAX_DIGITS >= DIGITS_SIZE
          || (end == s->ngroups && s->chain_ended))
        return V_TABLE;
      if (end == s->ngroups || !known_from (s, d))
        return V_WAIT;
      l[*r_count].first = end;
      l[*r_count].d = d;
      l[*r_count].end = longest_at (s, end, d, &l[*r_count].n,
                                    &l[*r_count].brand);
      if (!l[*r_count].end)
        return V_TABLE;
    }
}

/* The longest candidate at the start of the window, of N digits and
 * ending before group END, is followed by a code: report the list of
 * PANs it starts, drop the first group of a table, or return false to
 * wait for more groups.  */
static int
decide_list (pan_scanner_t s, size_t end, size_t n, const char *brand)
{
  struct listed l[LIST_MAX];
  size_t i, count;
  enum verdict v;

  l[0].first = 0;
  l[0].end = end;
  l[0].d = 0;
  l[0].n = n;
  l[0].brand = brand;
  v = follow_list (s, l, &count);
  if (v == V_WAIT)
    return 0;
  if (v == V_TABLE)
    count = 0;
  for (i = 0; i < count; i++)
    report (s, l[i].first, l[i].end - 1, l[i].d, l[i].n, l[i].brand);
  drop_groups (s, count ? l[count - 1].end : 1);
  return 1;
}

/* Decide the candidates that start at the first group of the window:
 * report the longest valid one and drop its groups, or drop the first
 * group.  Return false if that must wait for more groups.  */
static int
decide_first (pan_scanner_t s)
{
  size_t end = 0, n = 0, len = s->groups[0].len;
  const char *brand = NULL;

  /* A group of 4 to 6 digits starts only grouped candidates, and a code
   * before it makes them all rows of a table.  */
  if (s->kind && len >= 4 && len <= 6
      && code_before (s, s->groups[0].off, s->kind))
    len = 0;
  if ((len >= 4 && len <= 6) || len >= PAN_MIN_DIGITS)
    if (!in_url_path (s, s->groups[0].off))
      end = longest_at (s, 0, 0, &n, &brand);
  if (end > 1 && code_after (s, group_end (s, end - 1), s->kind))
    return decide_list (s, end, n, brand);
  if (end)
    report (s, 0, end - 1, 0, n, brand);
  drop_groups (s, end ? end : 1);
  return 1;
}

/* Decide every start whose candidates are all known.  */
static void
advance_window (pan_scanner_t s)
{
  while (s->ngroups && s->ndigits > PAN_MAX_DIGITS && decide_first (s))
    ;
}

static void
flush_chain (pan_scanner_t s)
{
  s->chain_ended = 1;
  if (s->ndigits < PAN_MIN_DIGITS)
    drop_groups (s, s->ngroups);
  while (s->ngroups)
    decide_first (s);
  s->chain_ended = 0;
  s->kind = 0;
}

/* Append the current run to the window as a group.  */
static void
add_group (pan_scanner_t s, int glued_right)
{
  struct group *g;

  window_make_room (s, s->run_len);
  g = s->groups + s->ngroups++;

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
  pani_wipe (s->run_digits,
             s->run_len < PAN_MAX_DIGITS ? s->run_len : PAN_MAX_DIGITS);
  s->run_len = 0;
}

/* The current run ends at a byte that is not a link to another group;
 * GLUED_RIGHT if that byte is a letter.  */
static void
end_chain (pan_scanner_t s, int glued_right)
{
  if (!s->ngroups && s->run_len < PAN_MIN_DIGITS)
    s->kind = 0; /* A short number on its own.  */
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
  return s->data_off + (unsigned long long)(p - s->data);
}

static void
start_run (pan_scanner_t s, const unsigned char *p, int glued_left)
{
  s->state = ST_RUN;
  s->run_off = pos_of (s, p);
  s->run_len = 0;
  s->run_glued_left = glued_left;
}

/* Return the end of the digits at P (before END): short runs, the
 * most common (groups of 4, dates), byte by byte, which also spares
 * such a run a vector search for its end.  */
static const unsigned char *
run_end (const unsigned char *p, const unsigned char *end)
{
  const unsigned char *q = p;

  while (q < end && q - p < 8 && pani_is_digit (*q))
    q++;
  return q - p == 8 ? pani_find_nondigit (q, end) : q;
}

/* The digit run at P starts a chain.  If the chain ends before END with
 * fewer digits than a PAN, return where it ends: nothing in it can be
 * a candidate, so it need not be collected.  Else return NULL.  */
static const unsigned char *
short_chain_end (pan_scanner_t s, const unsigned char *p,
                 const unsigned char *end)
{
  const unsigned char *lim = s->data + s->data_len, *q;
  size_t n = 0;

  for (;;)
    {
      q = run_end (p, end);
      n += q - p;
      p = q;
      if (n >= PAN_MIN_DIGITS || p == end)
        return NULL;
      if ((*p != ' ' && *p != '-') || p + 1 == lim || !pani_is_digit (p[1]))
        return p;
      p++;
    }
}

/* ST_IDLE: skip to the next digit that may start a PAN.  */
static const unsigned char *
skip_text (pan_scanner_t s, const unsigned char *p, const unsigned char *end)
{
  const unsigned char *q;

  for (;;)
    {
      p = pani_find_digit (p, end);
      if (p == end)
        return p;
      if (!(q = short_chain_end (s, p, end)))
        break;
      p = pani_skip_short_chains (q, end);
    }
  start_run (s, p, pani_is_alnum (byte_before (s, pos_of (s, p))));
  return p;
}

/* ST_RUN: take digits, then look at the byte that ends the run.  */
static const unsigned char *
eat_digits (pan_scanner_t s, const unsigned char *p,
            const unsigned char *end)
{
  const unsigned char *q = run_end (p, end);
  size_t n = q - p, room;

  room = s->run_len < PAN_MAX_DIGITS ? PAN_MAX_DIGITS - s->run_len : 0;
  if (room)
    memcpy (s->run_digits + s->run_len, p, n < room ? n : room);
  s->run_len = s->run_len + n > PAN_MAX_DIGITS ? PAN_MAX_DIGITS + 1
                                               : s->run_len + n;
  if (q == end)
    return q;
  if (*q == ' ' || *q == '-')
    {
      s->sep = *q;
      s->state = ST_SEP;
    }
  else
    end_chain (s, pani_is_alnum (*q));
  return q + 1;
}

/* ST_SEP: a digit makes the separator a link; anything else ends the
 * chain (it is left for ST_IDLE).  */
static const unsigned char *
after_sep (pan_scanner_t s, const unsigned char *p)
{
  if (pani_is_digit (*p))
    {
      link_run (s);
      start_run (s, p, 0);
    }
  else
    end_chain (s, 0);
  return p;
}

/* Decide on the stream bytes from S->POS to UPTO, which DATA/LEN holds
 * from stream offset OFF with the LOOKAHEAD bytes after them (fewer
 * only at the end of the stream).  */
static void
run_bytes (pan_scanner_t s, const unsigned char *data,
           unsigned long long off, size_t len, unsigned long long upto)
{
  const unsigned char *p, *end;

  s->data = data;
  s->data_off = off;
  s->data_len = len;
  p = data + (s->pos - off);
  end = data + (upto - off);
  while (p < end && !s->err)
    {
      if (s->state == ST_IDLE)
        p = skip_text (s, p, end);
      else if (s->state == ST_RUN)
        p = eat_digits (s, p, end);
      else
        p = after_sep (s, p);
    }
  s->pos = upto;
}


/*
 * Feeding.
 */

/* Keep the last RING_SIZE bytes of the chunk BUF/LEN just fed.  */
static void
remember (pan_scanner_t s, const unsigned char *buf, size_t len)
{
  size_t i = len > RING_SIZE ? len - RING_SIZE : 0, at, n;

  for (; i < len; i += n)
    {
      at = (size_t)((s->ring_end + i) & (RING_SIZE - 1));
      n = RING_SIZE - at < len - i ? RING_SIZE - at : len - i;
      memcpy (s->ring + at, buf + i, n);
    }
  s->ring_end += len;
}

/* A chunk that fits in PEND with the bytes held there.  */
static void
feed_small (pan_scanner_t s, const unsigned char *buf, size_t len)
{
  size_t n;

  memcpy (s->pend + s->npend, buf, len);
  s->npend += len;
  if (s->npend <= LOOKAHEAD)
    return;
  n = s->npend - LOOKAHEAD;
  run_bytes (s, s->pend, s->pos, s->npend, s->pos + n);
  memmove (s->pend, s->pend + n, LOOKAHEAD);
  s->npend = LOOKAHEAD;
}

/* A chunk of more than LOOKAHEAD bytes: the bytes held go first, with
 * the start of the chunk after them; the chunk is then read where it
 * is, and its last LOOKAHEAD bytes are held.  */
static void
feed_large (pan_scanner_t s, const unsigned char *buf, size_t len)
{
  unsigned long long start = s->pos + s->npend;

  memcpy (s->join, s->pend, s->npend);
  memcpy (s->join + s->npend, buf, LOOKAHEAD);
  run_bytes (s, s->join, s->pos, s->npend + LOOKAHEAD, start);
  run_bytes (s, buf, start, len, start + len - LOOKAHEAD);
  memcpy (s->pend, buf + len - LOOKAHEAD, LOOKAHEAD);
  s->npend = LOOKAHEAD;
}

gpg_error_t
pan_scanner_feed (pan_scanner_t s, const void *buf, size_t len,
                  pan_hit_cb_t cb, void *opaque)
{
  if (!s || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!len)
    return 0;
  s->cb = cb;
  s->opaque = opaque;
  s->err = 0;
  if (s->npend + len <= PEND_SIZE)
    feed_small (s, buf, len);
  else
    feed_large (s, buf, len);
  remember (s, buf, len);
  s->data = NULL;
  s->data_len = 0;
  return s->err;
}

static void
reset (pan_scanner_t s)
{
  clear_run (s);
  pani_wipe (s->digit_buf, sizeof s->digit_buf);
  window_home (s);
  pani_wipe (s->ring, sizeof s->ring);
  pani_wipe (s->pend, sizeof s->pend);
  pani_wipe (s->join, sizeof s->join);
  s->ngroups = s->ndigits = 0;
  s->kind = 0;
  s->chain_ended = 0;
  s->state = ST_IDLE;
  s->pos = s->ring_end = s->hit_end = 0;
  s->npend = 0;
  s->data = NULL;
  s->data_off = s->data_len = 0;
  s->eof = 0;
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
  s->eof = 1;
  run_bytes (s, s->pend, s->pos, s->npend, s->pos + s->npend);
  if (s->err)
    ;
  else if (s->state != ST_IDLE)
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
  pani_simd_setup ();
  s = gcry_calloc_secure (1, sizeof *s);
  if (!s)
    return gpg_error_from_syserror ();
  window_home (s);
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
  window_home (s);
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
  pani_wipe (s, sizeof *s);
  gcry_free (s);
}
