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

/* True if the stanza S of LEN bytes is about one of ADDRS (N), whose
 * lengths are LENS; -1 if memory ran out.  */
static int
wanted (const char *s, size_t len, const char *const *addrs,
        const size_t *lens, size_t n, int exact_local)
{
  const size_t klen = sizeof RECIPIENT - 1;
  const char *nl;
  size_t alen;
  char *addr = NULL;
  int found = 0;

  if (len <= klen || memcmp (s, RECIPIENT, klen))
    return 0;
  nl = memchr (s, '\n', len);
  alen = (nl ? (size_t)(nl - s) : len) - klen;
  /* Two addresses pani_addr_same takes for the same have the same
   * length: only those are compared (one in ten thousand, not all).  */
  for (size_t i = 0; !found && i < n; i++)
    if (lens[i] == alen)
      {
        if (!addr && !(addr = pani_strndup (s + klen, alen)))
          return -1;
        found = pani_addr_same (addr, addrs[i], exact_local);
      }
  free (addr);
  return found;
}

/* The end of the stanza at P (its blank line), or NULL if END comes
 * first.  memchr, not memmem: a registry of ten thousand records is
 * megabytes.  */
static const char *
stanza_end (const char *p, const char *end)
{
  while ((p = memchr (p, '\n', (size_t)(end - p))) && p + 1 < end)
    {
      if (p[1] == '\n')
        return p;
      p++;
    }
  return NULL;
}

struct pani_registry_selector
{
  const char *const *addrs;
  size_t *lens; /* Of ADDRS.  */
  size_t n;
  int exact_local;
  struct pani_buf out;  /* The stanzas taken.  */
  struct pani_buf rest; /* The stanza not yet ended: no blank line in
                           it, but perhaps the first half of one.  */
  int oom;
};

gpg_error_t
pani_registry_selector_new (const char *const *addrs, size_t n,
                            int exact_local, pani_registry_selector_t *r_sel)
{
  pani_registry_selector_t sel = calloc (1, sizeof *sel);

  *r_sel = NULL;
  if (!sel || !(sel->lens = calloc (n + 1, sizeof *sel->lens)))
    {
      free (sel);
      return gpg_error_from_syserror ();
    }
  sel->addrs = addrs;
  sel->n = n;
  sel->exact_local = exact_local;
  for (size_t i = 0; i < n; i++)
    sel->lens[i] = strlen (addrs[i]);
  pani_buf_puts (&sel->out, "");
  *r_sel = sel;
  return 0;
}

/* Take the stanza P/LEN if it is wanted.  */
static void
take (pani_registry_selector_t sel, const char *p, size_t len)
{
  int w = wanted (p, len, sel->addrs, sel->lens, sel->n, sel->exact_local);

  if (w < 0)
    sel->oom = 1;
  else if (w)
    {
      pani_buf_putc (&sel->out, '\n');
      pani_buf_put (&sel->out, p, len);
    }
}

/* End the stanza in SEL's REST with the first blank line of DATA/LEN
 * (or one that REST's last byte starts): take it, and return where the
 * text after it starts in DATA; NULL if DATA holds no such end (it is
 * then kept in REST).  */
static const char *
end_rest (pani_registry_selector_t sel, const char *data, size_t len)
{
  const char *stop;

  if (sel->rest.data[sel->rest.len - 1] == '\n' && data[0] == '\n')
    {
      take (sel, sel->rest.data, sel->rest.len);
      sel->rest.len = 0;
      return data + 1;
    }
  if (!(stop = stanza_end (data, data + len)))
    {
      pani_buf_put (&sel->rest, data, len);
      return NULL;
    }
  pani_buf_put (&sel->rest, data, (size_t)(stop - data) + 1);
  if (!pani_buf_error (&sel->rest))
    take (sel, sel->rest.data, sel->rest.len);
  sel->rest.len = 0;
  return stop + 2;
}

gpg_error_t
pani_registry_selector_feed (pani_registry_selector_t sel, const char *data,
                             size_t len)
{
  const char *p = data, *end = data + len, *stop;

  /* The stanzas are taken where they are in DATA: only the part of
   * one that a piece cuts is copied, to REST.  */
  if (len && sel->rest.len && !(p = end_rest (sel, data, len)))
    p = end;
  while (p < end && (stop = stanza_end (p, end)))
    {
      take (sel, p, (size_t)(stop - p) + 1);
      p = stop + 2;
    }
  if (p < end)
    pani_buf_put (&sel->rest, p, (size_t)(end - p));
  if (pani_buf_error (&sel->rest))
    return gpg_error (GPG_ERR_ENOMEM);
  return sel->oom ? gpg_error (GPG_ERR_ENOMEM) : 0;
}

gpg_error_t
pani_registry_selector_finish (pani_registry_selector_t sel, char **r_buf,
                               size_t *r_len)
{
  gpg_error_t err = 0;

  *r_buf = NULL;
  *r_len = 0;
  if (sel->rest.len)
    take (sel, sel->rest.data, sel->rest.len);
  if (sel->oom || pani_buf_error (&sel->out))
    err = gpg_error (GPG_ERR_ENOMEM);
  else
    {
      *r_len = sel->out.len;
      if (!(*r_buf = pani_buf_take (&sel->out)))
        err = gpg_error (GPG_ERR_ENOMEM);
    }
  pani_registry_selector_release (sel);
  return err;
}

void
pani_registry_selector_release (pani_registry_selector_t sel)
{
  if (!sel)
    return;
  pani_buf_free (&sel->out);
  pani_buf_free (&sel->rest);
  free (sel->lens);
  free (sel);
}

gpg_error_t
pani_registry_select (const char *buf, size_t len, const char *const *addrs,
                      size_t n, int exact_local, char **r_buf, size_t *r_len)
{
  pani_registry_selector_t sel = NULL;
  gpg_error_t err;

  *r_buf = NULL;
  *r_len = 0;
  if ((err = pani_registry_selector_new (addrs, n, exact_local, &sel)))
    return err;
  if ((err = pani_registry_selector_feed (sel, buf, len)))
    {
      pani_registry_selector_release (sel);
      return err;
    }
  return pani_registry_selector_finish (sel, r_buf, r_len);
}
