/* registry-select.c - the stanzas of a registry that a send needs
 *
 * A send looks up a few addresses among ten thousand records: parsing
 * every record cost it a fifth of a second.  A registry whose digest is
 * the one the audit log recorded for it is exactly as pankey wrote it,
 * so a send takes from its text only the stanzas of its recipients and
 * parses those with the strict parser (registry.c).  The text is cut at
 * its blank lines, as pani_registry_write separates stanzas; a stanza
 * is taken if its first line is "recipient ADDR" with ADDR one of the
 * wanted addresses (as pani_addr_same compares them).  A stanza this
 * does not recognise is left out: the address is then not enrolled,
 * and the send refused.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "addrlist-int.h"
#include "registry-select-int.h"

#define RECIPIENT "recipient "

/* True if the stanza S of LEN bytes is about one of ADDRS (N).  */
static int
wanted (const char *s, size_t len, const char *const *addrs, size_t n,
        int exact_local)
{
  const size_t klen = sizeof RECIPIENT - 1;
  const char *nl;
  char *addr;
  int found = 0;

  if (len <= klen || memcmp (s, RECIPIENT, klen))
    return 0;
  nl = memchr (s, '\n', len);
  if (!(addr = pani_strndup (s + klen,
                             (nl ? (size_t)(nl - s) : len) - klen)))
    return -1;
  for (size_t i = 0; !found && i < n; i++)
    found = pani_addr_same (addr, addrs[i], exact_local);
  free (addr);
  return found;
}

gpg_error_t
pani_registry_select (const char *buf, size_t len, const char *const *addrs,
                      size_t n, int exact_local, char **r_buf, size_t *r_len)
{
  struct pani_buf out = { NULL, 0, 0, 0 };
  const char *p = buf, *end = buf + len, *stop;
  size_t slen;
  int w;

  *r_buf = NULL;
  *r_len = 0;
  pani_buf_puts (&out, "");
  for (; p < end; p = stop + 2)
    {
      if (!(stop = memmem (p, (size_t)(end - p), "\n\n", 2)))
        stop = end;
      slen = (size_t)(stop - p) + (stop < end);
      if ((w = wanted (p, slen, addrs, n, exact_local)) < 0)
        {
          pani_buf_free (&out);
          return gpg_error_from_syserror ();
        }
      if (w)
        {
          pani_buf_putc (&out, '\n');
          pani_buf_put (&out, p, slen);
        }
    }
  *r_len = out.len;
  if (!(*r_buf = pani_buf_take (&out)))
    return gpg_error (GPG_ERR_ENOMEM);
  return 0;
}
