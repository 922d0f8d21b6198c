/* pan-text.c - the words and bytes the PAN detector's rules look at:
 * codes next to a chain, the bytes of a URL, the line around a hit and
 * how its context is shown (the rules are at the top of pan.c)  */
#include <config.h>

#include <string.h>

#include "util.h"
#include "pan-text-int.h"

int
pani_code_bytes (const unsigned char *p, const unsigned char *lim, int step)
{
  size_t n = 0;
  int digit = 0;

  for (; p != lim && n <= PANI_CODE_MAX && pani_is_alnum (*p);
       p += step, n++)
    digit |= pani_is_digit (*p);
  return n >= PANI_CODE_MIN && n <= PANI_CODE_MAX && digit;
}

int
pani_is_url_byte (int c)
{
  return c > ' ' && c != 0x7f && c != '"' && c != '<' && c != '>';
}

int
pani_is_line_byte (int c)
{
  return c >= 0 && c != '\n' && c != '\r';
}

void
pani_clean_context (const unsigned char *raw, size_t len, char *out)
{
  size_t i, u;

  for (i = 0; i < len; i += u)
    {
      u = raw[i] < 0x80 ? 1 : pani_utf8_len (raw + i, raw + len);
      if (!u || raw[i] < ' ' || raw[i] == 0x7f)
        {
          out[i] = raw[i] == '\t' ? ' ' : '?';
          u = 1;
        }
      else
        memcpy (out + i, raw + i, u);
    }
  out[len] = 0;
}
