/* fuzz-pan.c - libFuzzer target for the PAN scanner
 *
 * The first 4 bytes choose chunk sizes; the rest is scanned whole and
 * in those chunks.  Both ways must give the same hits, and each hit
 * must be what the scanner promises: 13 to 19 digits, grouped by one
 * kind of single separator, not glued to letters or digits, Luhn-valid,
 * of the brand pan_card_brand names, masked first 6 / last 4, with a
 * context that shows no other digit and no control character.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_HITS 4096

struct hit
{
  unsigned long long offset;
  size_t length;
  const char *brand;
  char masked[PAN_MASK_SIZE];
  char hash[65];
  char context[64];
};

struct hits
{
  struct hit h[MAX_HITS];
  size_t n;
};

static struct hits whole, chunked;

static gpg_error_t
collect (void *opaque, const struct pan_hit *hit)
{
  struct hits *hs = opaque;
  struct hit *h;

  if (hs->n == MAX_HITS)
    return 0;
  h = hs->h + hs->n++;
  h->offset = hit->offset;
  h->length = hit->length;
  h->brand = hit->brand;
  memcpy (h->masked, hit->masked, strlen (hit->masked) + 1);
  memcpy (h->hash, hit->hash, 65);
  if (!hit->context || strlen (hit->context) >= sizeof h->context)
    abort ();
  memcpy (h->context, hit->context, strlen (hit->context) + 1);
  return 0;
}

static int
is_alnum (int c)
{
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The context of a hit shows no control character and at most the 10
 * digits of the mask.  */
static void
check_context (const char *context)
{
  size_t digits = 0;

  for (; *context; context++)
    {
      if ((unsigned char)*context < ' ' || *context == 0x7f)
        abort ();
      digits += *context >= '0' && *context <= '9';
    }
  if (digits > 10)
    abort ();
}

/* Check hit H against the input DATA/SIZE.  */
static void
check_hit (const uint8_t *data, size_t size, const struct hit *h)
{
  char digits[PAN_MAX_DIGITS + 1], masked[PAN_MASK_SIZE];
  size_t i, n = 0;
  int sep = 0;

  if (h->offset + h->length > size || h->length < PAN_MIN_DIGITS)
    abort ();
  if ((h->offset && is_alnum (data[h->offset - 1]))
      || (h->offset + h->length < size
          && is_alnum (data[h->offset + h->length])))
    abort ();
  for (i = 0; i < h->length; i++)
    {
      int c = data[h->offset + i];

      if (c >= '0' && c <= '9')
        {
          if (n == PAN_MAX_DIGITS)
            abort ();
          digits[n++] = (char)c;
        }
      else if ((c != ' ' && c != '-') || (sep && c != sep) || !i
               || i + 1 == h->length
               || !(data[h->offset + i - 1] >= '0'
                    && data[h->offset + i - 1] <= '9'))
        abort ();
      else
        sep = c;
    }
  digits[n] = 0;
  if (n < PAN_MIN_DIGITS || !pan_luhn_valid (digits)
      || !pan_card_brand (digits)
      || strcmp (pan_card_brand (digits), h->brand)
      || pan_mask (digits, masked) || strcmp (masked, h->masked)
      || strlen (h->hash) != 64)
    abort ();
  check_context (h->context);
}

static void
scan (pan_scanner_t s, const uint8_t *data, size_t size,
      const uint8_t *sizes, struct hits *hs)
{
  size_t off = 0, n, k = 0;

  hs->n = 0;
  while (off < size)
    {
      n = sizes ? (size_t)sizes[k++ % 4] + 1 : size;
      if (n > size - off)
        n = size - off;
      if (pan_scanner_feed (s, data + off, n, collect, hs))
        abort ();
      off += n;
    }
  if (pan_scanner_finish (s, collect, hs))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static pan_scanner_t s;
  uint8_t sizes[4] = { 0, 0, 0, 0 };
  size_t i;

  if (!s)
    {
      gcry_check_version (NULL);
      gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
      gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
      if (pan_scanner_new ("fuzz", 4, &s))
        abort ();
    }
  for (i = 0; i < 4 && i < size; i++)
    sizes[i] = data[i] % 32;
  data += i;
  size -= i;
  scan (s, data, size, NULL, &whole);
  scan (s, data, size, sizes, &chunked);
  if (whole.n != chunked.n)
    abort ();
  for (i = 0; i < whole.n; i++)
    {
      const struct hit *a = whole.h + i, *b = chunked.h + i;

      if (a->offset != b->offset || a->length != b->length
          || a->brand != b->brand || strcmp (a->masked, b->masked)
          || strcmp (a->hash, b->hash) || strcmp (a->context, b->context))
        abort ();
      if (i && a->offset < whole.h[i - 1].offset + whole.h[i - 1].length)
        abort ();
      check_hit (data, size, a);
    }
  return 0;
}
