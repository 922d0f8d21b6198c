/* fuzz-registry.c - libFuzzer target for the registry parser
 *
 * Whatever pani_registry_parse accepts must survive a round trip:
 * pani_registry_write gives text that parses to the same records and
 * writes back to the same text.  Every refusal carries a reason.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "registry-int.h"
#include "registry-verdict-int.h"
#include "registry-select-int.h"
#include "addrlist-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Return REG in its file format, malloc'ed, its length at *R_LEN.  */
static char *
write_registry (pan_registry_t reg, size_t *r_len)
{
  estream_t mem = es_fopenmem (0, "w+b");
  void *buf = NULL;
  char *text;

  if (!mem || pani_registry_write (reg, mem)
      || es_fclose_snatch (mem, &buf, r_len))
    abort ();
  if (!(text = malloc (*r_len + 1)))
    abort ();
  memcpy (text, buf, *r_len);
  text[*r_len] = 0;
  es_free (buf);
  return text;
}

/* True if the optional strings A and B are equal.  */
static int
same_opt (const char *a, const char *b)
{
  return a && b ? !strcmp (a, b) : a == b;
}

static int
same_record (const struct pan_recipient *a, const struct pan_recipient *b)
{
  return !strcmp (a->address, b->address) && a->protocol == b->protocol
    && !strcmp (a->fingerprint, b->fingerprint)
    && a->enrolled_at == b->enrolled_at
    && !strcmp (a->enrolled_by, b->enrolled_by) && a->status == b->status
    && a->changed_at == b->changed_at
    && same_opt (a->changed_by, b->changed_by)
    && same_opt (a->reason, b->reason) && same_opt (a->note, b->note)
    && same_opt (a->subkeys, b->subkeys)
    && same_opt (a->subkey_expiry, b->subkey_expiry)
    && same_opt (a->key_state, b->key_state)
    && same_opt (a->key_policy, b->key_policy);
}

/* Check that each recorded verdict of REG parses and is written back as
 * it was.  */
static void
check_verdicts (pan_registry_t reg)
{
  struct pani_key_verdict v;
  char *again = NULL;

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const char *state = pan_registry_get (reg, i)->key_state;

      if (!state)
        continue;
      if (pani_registry_verdict_parse (state, &v)
          || pani_registry_verdict_format (&v, &again)
          || strcmp (again, state))
        abort ();
      free (again);
      again = NULL;
    }
}

/* Check that the active records of REG are found by lookup.  */
static void
check_lookup (pan_registry_t reg)
{
  const struct pan_recipient *rec;
  size_t i;

  for (i = 0; i < pan_registry_count (reg); i++)
    {
      rec = pan_registry_get (reg, i);
      if (rec->status == PAN_STATUS_ACTIVE
          && (pani_registry_lookup (reg, rec->address) != rec
              || pani_registry_lookup_any (reg, rec->address) != rec))
        abort ();
      if (rec->status != PAN_STATUS_ACTIVE
          && (rec->changed_by || rec->changed_at || rec->note) && rec->reason
          && !pan_registry_reason_valid (rec->status, rec->reason))
        abort ();
    }
}

static void
check_round_trip (pan_registry_t reg)
{
  pan_registry_t reg2 = NULL;
  char *text, *text2, *reason = NULL;
  size_t len, len2, i;

  text = write_registry (reg, &len);
  if (pani_registry_parse ("rewritten", text, len, &reg2, &reason))
    abort ();
  if (pan_registry_count (reg2) != pan_registry_count (reg))
    abort ();
  for (i = 0; i < pan_registry_count (reg); i++)
    if (!same_record (pan_registry_get (reg, i), pan_registry_get (reg2, i)))
      abort ();
  text2 = write_registry (reg2, &len2);
  if (len2 != len || memcmp (text, text2, len))
    abort ();
  pan_registry_release (reg2);
  free (text);
  free (text2);
}

/* Abort unless feeding TEXT/LEN to a selector for ADDR in pieces of
 * STEP bytes (the last one shorter) selects what PART/PLEN, the
 * selection of the whole text at once, holds.  */
static void
check_pieces (const char *text, size_t len, const char *addr, int exact,
              size_t step, const char *part, size_t plen)
{
  pani_registry_selector_t sel = NULL;
  char *got = NULL;
  size_t glen;

  if (pani_registry_selector_new (&addr, 1, exact, &sel))
    abort ();
  for (size_t off = 0; off < len; off += step)
    if (pani_registry_selector_feed (sel, text + off,
                                     len - off < step ? len - off : step))
      abort ();
  if (pani_registry_selector_finish (sel, &got, &glen) || glen != plen
      || memcmp (got, part, plen))
    abort ();
  free (got);
}

/* Check that the stanzas pani_registry_select takes from the text of
 * REG as pankey writes it are those of the address of each record.  */
static void
check_select (pan_registry_t reg)
{
  size_t len, plen, want;
  char *text = write_registry (reg, &len), *part = NULL;
  pan_registry_t sub = NULL;

  for (size_t i = 0; i < pan_registry_count (reg) && i < 8; i++)
    {
      const char *addr = pan_registry_get (reg, i)->address;

      want = 0;
      for (size_t j = 0; j < pan_registry_count (reg); j++)
        want += pani_addr_same (pan_registry_get (reg, j)->address, addr, 0);
      if (pani_registry_select (text, len, &addr, 1, 0, &part, &plen)
          || pani_registry_parse ("part", part, plen, &sub, NULL)
          || pan_registry_count (sub) != want)
        abort ();
      check_pieces (text, len, addr, 0, 1 + i * 7, part, plen);
      pan_registry_release (sub);
      sub = NULL;
      free (part);
      part = NULL;
    }
  free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  pan_registry_t reg = NULL;
  char *reason = NULL;
  gpg_error_t err;

  /* Any text: the selection does not fail but for memory.  */
  {
    const char *any = "a@example.test";
    char *part = NULL;
    size_t plen;

    if (pani_registry_select ((const char *)data, size, &any, 1, 1, &part,
                              &plen))
      abort ();
    /* As read in pieces (job.c reads 32 KB at a time): the same.  */
    check_pieces ((const char *)data, size, any, 1,
                  1 + (size ? data[size - 1] % 16 : 0), part, plen);
    free (part);
  }
  err = pani_registry_parse ("fuzz", data, size, &reg, &reason);
  if (err && (reg || !reason || strncmp (reason, "fuzz:", 5)))
    abort ();
  if (!err)
    {
      if (reason)
        abort ();
      check_lookup (reg);
      check_verdicts (reg);
      check_round_trip (reg);
      check_select (reg);
    }
  pan_registry_release (reg);
  pan_free (reason);
  return 0;
}
