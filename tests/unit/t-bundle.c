/* t-bundle.c - unit tests of the bundle and bundle-state parsers
 * (lib/bundle.c) and the exit codes of refused bundles.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "bundle-int.h"
#include "t-support.h"

#define FPR_A "0123456789ABCDEF0123456789ABCDEF01234567"
#define FPR_B "89ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define FPR_OP "FEDCBA9876543210FEDCBA9876543210FEDCBA98"

/* A key of 100 bytes: two "data" lines.  */
static unsigned char key_bytes[100];

/* Write the bundle of the tests: alice active with FPR_A, bob revoked
 * with FPR_B; return its text (free it).  */
static char *
sample_text (void)
{
  struct pani_bundle b;
  struct pani_bundle_rec recs[2];
  struct pani_bundle_key key;
  struct pani_buf out = { 0 };

  memset (&b, 0, sizeof b);
  memset (recs, 0, sizeof recs);
  memset (&key, 0, sizeof key);
  for (size_t i = 0; i < sizeof key_bytes; i++)
    key_bytes[i] = (unsigned char)(i * 7 + 1);
  strcpy (b.home, "0123456789abcdef0123456789abcdef");
  b.serial = 1764480000;
  b.created_at = 1764480000;
  b.created_by = (char *)"Jane Operator";
  strcpy (b.signer, FPR_OP);
  recs[0].address = (char *)"alice@example.test";
  recs[0].protocol = PAN_PROTOCOL_OPENPGP;
  recs[0].fingerprint = (char *)FPR_A;
  recs[0].status = PAN_STATUS_ACTIVE;
  recs[1].address = (char *)"bob@example.test";
  recs[1].protocol = PAN_PROTOCOL_OPENPGP;
  recs[1].fingerprint = (char *)FPR_B;
  recs[1].status = PAN_STATUS_REVOKED;
  recs[1].reason = (char *)"compromised";
  key.fingerprint = (char *)FPR_A;
  key.protocol = PAN_PROTOCOL_OPENPGP;
  key.data = key_bytes;
  key.len = sizeof key_bytes;
  pani_sha256_hex (key_bytes, sizeof key_bytes, key.sha256);
  b.recs = recs;
  b.nrecs = 2;
  b.keys = &key;
  b.nkeys = 1;
  pani_bundle_write (&b, &out);
  T_CHECK (!pani_buf_error (&out));
  return pani_buf_take (&out);
}

static void
test_round_trip (const char *text)
{
  struct pani_bundle *b = NULL;
  struct pani_buf out = { 0 };
  char *reason = NULL;

  T_ERR (pani_bundle_parse (text, strlen (text), &b, &reason), 0);
  T_STREQ (reason, NULL);
  if (!b)
    return;
  T_CHECK (b->serial == 1764480000ULL && b->created_at == 1764480000);
  T_STREQ (b->home, "0123456789abcdef0123456789abcdef");
  T_STREQ (b->created_by, "Jane Operator");
  T_STREQ (b->signer, FPR_OP);
  T_CHECK (b->nrecs == 2 && b->nkeys == 1);
  T_CHECK (b->recs[1].status == PAN_STATUS_REVOKED);
  T_STREQ (b->recs[1].reason, "compromised");
  T_CHECK (pani_bundle_key (b, FPR_A) && !pani_bundle_key (b, FPR_B));
  T_CHECK (b->keys[0].len == sizeof key_bytes
           && !memcmp (b->keys[0].data, key_bytes, sizeof key_bytes));
  pani_bundle_write (b, &out);
  T_STREQ (out.data, text);
  pani_buf_free (&out);
  pani_bundle_release (b);
  /* The last LF may be missing (gpg hands back the signed text so).  */
  T_ERR (pani_bundle_parse (text, strlen (text) - 1, &b, NULL), 0);
  pani_bundle_release (b);
}

/* Replace the first FROM in TEXT by TO and parse the result: it must
 * be refused with CODE and a reason that holds WANT.  */
static void
refused (const char *text, const char *from, const char *to, int code,
         const char *want)
{
  const char *at = strstr (text, from);
  struct pani_bundle *b = NULL;
  char *copy, *reason = NULL;
  size_t n;

  T_CHECK (at != NULL);
  if (!at)
    return;
  n = at - text;
  copy = pani_strdupf ("%.*s%s%s", (int)n, text, to, at + strlen (from));
  T_ERR (pani_bundle_parse (copy, strlen (copy), &b, &reason), code);
  T_CHECK (b == NULL);
  T_CHECK (reason && strstr (reason, want));
  if (!(reason && strstr (reason, want)))
    fprintf (stderr, "    for \"%s\": reason \"%s\"\n", to,
             reason ? reason : "(none)");
  free (reason);
  free (copy);
}

static void
test_refusals (const char *text)
{
  int inv = GPG_ERR_INV_DATA;

  refused (text, "panmail-bundle 1", "panmail-bundle 2", inv,
           "line 1: format version 2");
  refused (text, "serial 1764480000\n", "", inv, "\"serial\" expected");
  refused (text, "serial 1764480000", "serial 01764480000", inv, "serial");
  refused (text, "home 0123456789abcdef", "home 0123456789ABCDEF", inv,
           "lower-case");
  refused (text, "recipient alice@example", "recipient alice@EXAMPLE", inv,
           "normal form");
  refused (text, "status active", "status retired", inv, "active or");
  refused (text, "reason compromised\n", "", inv, "\"reason\" is missing");
  refused (text, "reason compromised", "reason lost", inv, "compromised,");
  refused (text, "\n\nkey ", "\n\n\nkey ", inv, "two blank lines");
  refused (text, "created-by Jane", "created-by Jane\r", inv,
           "control character");
  refused (text, "status active\n", "status  active\n", inv,
           "one space between");
  refused (text, "data ", "data !", inv, "base64");
  refused (text, "sha256 ", "sha256 0", inv, "64 lower-case");
  refused (text, "protocol openpgp\nsha256 ", "protocol smime\nsha256 ",
           GPG_ERR_MISSING_VALUE, "no openpgp key");
  refused (text, "fingerprint " FPR_A, "fingerprint " FPR_OP,
           GPG_ERR_MISSING_VALUE, "no openpgp key " FPR_OP);
  refused (text, "status revoked\nreason compromised", "status active",
           GPG_ERR_MISSING_VALUE, "no openpgp key " FPR_B);
  refused (text, "\nkey " FPR_A, "\nnote x\n\nkey " FPR_A, inv,
           "a stanza starts with");
}

/* A changed byte of the key's data no longer has its SHA-256; a key
 * that no active recipient pins and a second active record of an
 * address are refused.  */
static void
test_keys (const char *text)
{
  const char *data = strstr (text, "data ");
  char *copy = pani_strdup (text), *reason = NULL;
  struct pani_bundle *b = NULL;

  if (!data || !copy)
    {
      T_CHECK (0);
      free (copy);
      return;
    }
  copy[data - text + 5] = copy[data - text + 5] == 'A' ? 'B' : 'A';
  T_ERR (pani_bundle_parse (copy, strlen (copy), &b, &reason),
         GPG_ERR_INV_DATA);
  T_CHECK (reason && strstr (reason, "SHA-256"));
  free (reason);
  free (copy);
  refused (text, "status active", "status revoked\nreason other",
           GPG_ERR_INV_DATA, "pinned by no active recipient");
  copy = pani_strdupf ("%.*s\nrecipient alice@example.test\nprotocol"
                       " openpgp\nfingerprint %s\nstatus active\n%s",
                       (int)(strstr (text, "\nrecipient bob") - text), text,
                       FPR_A, strstr (text, "\nrecipient bob"));
  reason = NULL;
  T_ERR (pani_bundle_parse (copy, strlen (copy), &b, &reason),
         GPG_ERR_DUP_VALUE);
  T_CHECK (reason && strstr (reason, "active twice"));
  free (reason);
  free (copy);
}

static void
test_state (void)
{
  static const char text[] =
    "# a comment\nhome-id 0123456789abcdef0123456789abcdef\n"
    "operator-key " FPR_OP "\noperator-key " FPR_A "\nexported 7\n"
    "applied 9 0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef\n";
  static const char late[] = "home-id 0123456789abcdef0123456789abcdef\n"
                             "exported 7\noperator-key " FPR_OP "\n";
  struct pani_bundle_state st;
  struct pani_buf out = { 0 };
  char *reason = NULL;

  T_ERR (pani_bundle_state_parse (text, strlen (text), &st, &reason), 0);
  T_CHECK (st.noperators == 2 && st.exported == 7 && st.applied == 9);
  T_CHECK (pani_bundle_state_pins (&st, FPR_A)
           && !pani_bundle_state_pins (&st, FPR_B));
  pani_bundle_state_write (&st, &out);
  T_CHECK (
    out.data
    && !strcmp (strchr (out.data, '\n') + 1, strchr (text, '\n') + 1));
  pani_buf_free (&out);
  pani_bundle_state_clear (&st);
  T_ERR (pani_bundle_state_parse ("home-id 00\n", 11, &st, &reason),
         GPG_ERR_INV_DATA);
  free (reason);
  reason = NULL;
  pani_bundle_state_clear (&st);
  T_ERR (pani_bundle_state_parse (late, strlen (late), &st, &reason),
         GPG_ERR_INV_DATA);
  T_CHECK (reason && strstr (reason, "line 3"));
  free (reason);
  pani_bundle_state_clear (&st);
}

static void
test_exit_codes (void)
{
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_NO_DATA)) == EX_DATAERR);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_INV_DATA))
           == EX_DATAERR);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_BAD_SIGNATURE))
           == EX_NOPERM);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_NOT_TRUSTED))
           == EX_NOPERM);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_CONFLICT)) == EX_NOPERM);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_KEY_EXPIRED))
           == EX_NOPERM);
  T_CHECK (pan_bundle_exit_code (gpg_error (GPG_ERR_CERT_REVOKED))
           == EX_NOPERM);
}

int
main (void)
{
  char *text;

  gcry_check_version (NULL);
  gcry_control (GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  text = sample_text ();
  if (text)
    {
      test_round_trip (text);
      test_refusals (text);
      test_keys (text);
    }
  test_state ();
  test_exit_codes ();
  free (text);
  return t_done ("t-bundle");
}
