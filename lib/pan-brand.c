/* pan-brand.c - card brands, Luhn and masks of the PAN detector
 *
 * A PAN is reported only if it passes Luhn and an issuer range of the
 * table below with a length the brand issues (first matching line
 * wins; "6" is Maestro's catch-all for the rest of the 6 series):
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
 */
#include <config.h>

#include <string.h>

#include "panmail.h"
#include "util.h"
#include "pan-brand-int.h"

#define LEN(n) (1u << (n))
#define LEN_14_19 \
  (LEN (14) | LEN (15) | LEN (16) | LEN (17) | LEN (18) | LEN (19))
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

static const struct brand_range brand_table[] = {
  {"American Express",  34,     34,     2, LEN (15)                      },
  { "American Express", 37,     37,     2, LEN (15)                      },
  { "Mastercard",       51,     55,     2, LEN (16)                      },
  { "Mastercard",       2221,   2720,   4, LEN (16)                      },
  { "Mir",              2200,   2204,   4, LEN_16_19                     },
  { "Visa",             4,      4,      1, LEN (13) | LEN (16) | LEN (19)},
  { "JCB",              3528,   3589,   4, LEN_16_19                     },
  { "Diners Club",      300,    305,    3, LEN_14_19                     },
  { "Diners Club",      3095,   3095,   4, LEN_14_19                     },
  { "Diners Club",      36,     36,     2, LEN_14_19                     },
  { "Diners Club",      38,     39,     2, LEN_14_19                     },
  { "Discover",         6011,   6011,   4, LEN_16_19                     },
  { "Discover",         644,    649,    3, LEN_16_19                     },
  { "Discover",         65,     65,     2, LEN_16_19                     },
  { "Discover",         622126, 622925, 6, LEN_16_19                     },
  { "UnionPay",         62,     62,     2, LEN_16_19                     },
  { "RuPay",            60,     60,     2, LEN (16)                      },
  { "RuPay",            508,    508,    3, LEN (16)                      },
  { "RuPay",            81,     82,     2, LEN (16)                      },
  { "Maestro",          50,     50,     2, LEN_13_19                     },
  { "Maestro",          56,     58,     2, LEN_13_19                     },
  { "Maestro",          6,      6,      1, LEN_13_19                     }
};

/* Return the number of digits of S if S is only digits, else 0.  */
static size_t
digits_len (const char *s)
{
  size_t n;

  for (n = 0; s[n]; n++)
    if (!pani_is_digit ((unsigned char)s[n]))
      return 0;
  return n;
}

int
pani_luhn_ok (const char *d, size_t n)
{
  static const unsigned char doubled[10] = { 0, 2, 4, 6, 8, 1, 3, 5, 7, 9 };
  unsigned int sum = 0;

  for (; n >= 2; n -= 2)
    sum += (unsigned int)(d[n - 1] - '0') + doubled[d[n - 2] - '0'];
  if (n)
    sum += (unsigned int)(d[0] - '0');
  return sum % 10 == 0;
}

int
pan_luhn_valid (const char *digits)
{
  size_t n = digits ? digits_len (digits) : 0;

  return n >= 2 && pani_luhn_ok (digits, n);
}

const char *
pani_brand_of (const char *d, size_t n)
{
  unsigned long prefix[7];
  size_t i;

  if (n < PAN_MIN_DIGITS || n > PAN_MAX_DIGITS)
    return NULL;
  for (prefix[0] = 0, i = 1; i <= 6; i++)
    prefix[i] = prefix[i - 1] * 10 + (unsigned long)(d[i - 1] - '0');
  for (i = 0; i < sizeof brand_table / sizeof *brand_table; i++)
    {
      const struct brand_range *b = brand_table + i;

      if ((b->lengths & LEN (n)) && prefix[b->prefixlen] >= b->lo
          && prefix[b->prefixlen] <= b->hi)
        return b->name;
    }
  return NULL;
}

const char *
pan_card_brand (const char *digits)
{
  return digits ? pani_brand_of (digits, digits_len (digits)) : NULL;
}

int
pani_mask_keeps (size_t k, size_t n)
{
  return k < 6 || k + 4 >= n;
}

gpg_error_t
pan_mask (const char *digits, char *buf)
{
  size_t i, n = digits ? digits_len (digits) : 0;

  if (buf)
    *buf = 0;
  if (!buf || n < PAN_MIN_DIGITS || n > PAN_MAX_DIGITS)
    return gpg_error (GPG_ERR_INV_VALUE);
  for (i = 0; i < n; i++)
    buf[i] = pani_mask_keeps (i, n) ? digits[i] : '*';
  buf[n] = 0;
  return 0;
}
