/* fuzz-addrlist-gmime.c - differential libFuzzer target for the address
 * list parser, with GMime 3 as the oracle
 *
 * Input: the NUL-terminated value of an address header, as for
 * fuzz-addrlist.  For every value pan_addrlist_parse accepts, GMime's
 * parser (strict RFC compliance, no address without a domain) must find
 * the same mailboxes in the same order: as many, and each GMime address
 * in panmail's normal form equal to panmail's.  The reverse does not
 * hold: GMime is liberal and makes something of nearly any input.
 *
 * A domain with IDNA labels is compared in both forms GMime gives (xn--
 * labels decoded, and the ASCII form): panmail keeps a domain as
 * written, as RFC 5322 and RFC 6532 have it, which must be one of them;
 * unless an xn-- label is no canonical A-label ("xn--Example"), which
 * GMime decodes and encodes anew as another label: then only the local
 * parts are compared.
 *
 * The one exception: a value that is not UTF-8.  GMime converts it
 * from a fallback charset first (and drops or changes the 8-bit bytes
 * of an address), while panmail keeps the bytes of atoms and quoted
 * strings as they are (RFC 6532; which charset they are in is not the
 * parser's business).  Such values are not compared; HACKING says so.
 *
 * GMime is linked into this target only, never into the library.  */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "panmail.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static GMimeParserOptions *options;

/* Append the mailboxes of LIST (groups flattened) to OUT.  */
static void
flatten (InternetAddressList *list, GPtrArray *out)
{
  int i, n = internet_address_list_length (list);

  for (i = 0; i < n; i++)
    {
      InternetAddress *ia = internet_address_list_get_address (list, i);

      if (INTERNET_ADDRESS_IS_GROUP (ia))
        flatten (internet_address_group_get_members (
                   INTERNET_ADDRESS_GROUP (ia)),
                 out);
      else if (INTERNET_ADDRESS_IS_MAILBOX (ia))
        g_ptr_array_add (out, INTERNET_ADDRESS_MAILBOX (ia));
    }
}

/* True if G in panmail's normal form is A.  */
static int
same_form (const char *a, const char *g)
{
  char *norm = NULL;
  int same;

  if (!g || pan_addr_normalize (g, &norm, NULL))
    return 0;
  same = !strcmp (a, norm);
  pan_free (norm);
  return same;
}

/* True if panmail's address A and GMime's mailbox MB name the same
 * mailbox: MB's address, as GMime shows it (xn-- labels decoded) or in
 * its ASCII form, is A in panmail's normal form.  */
static int
same_addr (const char *a, InternetAddressMailbox *mb)
{
  const char *g = internet_address_mailbox_get_idn_addr (mb);
  const char *at = strrchr (a, '@'), *gat = g ? strrchr (g, '@') : NULL;

  if (same_form (a, internet_address_mailbox_get_addr (mb))
      || same_form (a, g))
    return 1;
  /* An xn-- label that is no canonical A-label: GMime decodes it and
   * encodes it anew, as another label.  The local parts must agree.  */
  if (at && gat && strstr (at, "xn--"))
    {
      char *mixed = g_strdup_printf ("%.*s%s", (int)(gat - g), g, at);
      int same = same_form (a, mixed);

      g_free (mixed);
      return same;
    }
  return 0;
}

static void
compare (const char *value, pan_addrlist_t list)
{
  InternetAddressList *glist;
  GPtrArray *gaddrs = g_ptr_array_new ();
  size_t i, n = pan_addrlist_count (list);

  glist = internet_address_list_parse (options, value);
  if (glist)
    flatten (glist, gaddrs);
  if (gaddrs->len != n)
    abort ();
  for (i = 0; i < n; i++)
    if (!same_addr (pan_addrlist_addr (list, i),
                    g_ptr_array_index (gaddrs, i)))
      abort ();
  g_ptr_array_free (gaddrs, TRUE);
  if (glist)
    g_object_unref (glist);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *value = malloc (size + 1);
  pan_addrlist_t list = NULL;

  if (!options)
    {
      g_mime_init ();
      options = g_mime_parser_options_new ();
      g_mime_parser_options_set_address_compliance_mode (
        options, GMIME_RFC_COMPLIANCE_STRICT);
      g_mime_parser_options_set_allow_addresses_without_domain (options,
                                                                FALSE);
    }
  if (!value || pan_addrlist_new (&list))
    goto leave;
  if (size)
    memcpy (value, data, size);
  value[size] = 0;
  if (!pan_addrlist_parse (list, value, NULL) && pan_addrlist_count (list)
      && g_utf8_validate (value, -1, NULL))
    compare (value, list);

leave:
  pan_addrlist_release (list);
  free (value);
  return 0;
}
