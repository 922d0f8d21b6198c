/* t-registry.c - unit tests of the recipient registry  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "t-support.h"
#include "registry-int.h"
#include "registry-verdict-int.h"
#include "addrlist-int.h"
#include "config-int.h"
#include "engine-int.h"

#define FPR1 "0123456789ABCDEF0123456789ABCDEF01234567"
#define FPR2 "89ABCDEF0123456789ABCDEF0123456789ABCDEF"
#define FPR64 \
  "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

#define HEADER                                                 \
  "# panmail recipient registry: one stanza per enrollment.\n" \
  "# Managed by pankey(8); do not edit while pankey or pansend run.\n"

#define STANZA(addr, proto, fpr, by, status) \
  "recipient " addr "\n"                     \
  "protocol " proto "\n"                     \
  "fingerprint " fpr "\n"                    \
  "enrolled-at 2026-11-24T23:18:43Z\n"       \
  "enrolled-by " by "\n"                     \
  "status " status "\n"

/* The time in the stanzas above.  */
#define T0 ((time_t)1795562323)

static const char good_text[] = HEADER "\n" STANZA (
  "alice@example.test", "openpgp", FPR1, "Jane Operator",
  "retired") "\n" STANZA ("alice@example.test", "openpgp", FPR2,
                          "Jane Operator",
                          "active") "\n" STANZA ("bob@example.test", "smime",
                                                 FPR64, "J\xc3\xbcrgen",
                                                 "revoked");

static pan_registry_t
parse (const char *text, char **r_reason)
{
  pan_registry_t reg = NULL;
  gpg_error_t err;

  *r_reason = NULL;
  err = pani_registry_parse ("reg", text, strlen (text), &reg, r_reason);
  T_ERR (err, 0);
  if (err)
    fprintf (stderr, "    reason: %s\n", *r_reason ? *r_reason : "(none)");
  return reg;
}

/* Check that TEXT (of LEN bytes) is refused with CODE and a reason
 * starting with "reg:LINE: ".  */
static void
bad_len (const char *text, size_t len, int code, int line, int srcline)
{
  pan_registry_t reg = NULL;
  char *reason = NULL, prefix[32];
  gpg_error_t err;
  int ok;

  err = pani_registry_parse ("reg", text, len, &reg, &reason);
  snprintf (prefix, sizeof prefix, "reg:%d: ", line);
  ok = (int)gpg_err_code (err) == code && !reg && reason
    && !strncmp (reason, prefix, strlen (prefix));
  t_check (ok, "registry refused with reason at line", __FILE__, srcline);
  if (!ok)
    fprintf (stderr, "    want error %d at line %d; got %d: %s\n", code,
             line, gpg_err_code (err), reason ? reason : "(no reason)");
  pan_registry_release (reg);
  pan_free (reason);
}

#define BAD(text, code, line) \
  bad_len ((text), strlen (text), (code), (line), __LINE__)

static char *
write_to_string (pan_registry_t reg)
{
  estream_t mem = es_fopenmem (0, "w+b");
  void *data = NULL;
  size_t len = 0;
  char *s;

  T_ERR (pani_registry_write (reg, mem), 0);
  es_fputc (0, mem);
  es_fclose_snatch (mem, &data, &len);
  s = strdup (data);
  es_free (data);
  return s;
}

static void
test_names (void)
{
  pan_protocol_t proto;

  T_STREQ (pan_protocol_name (PAN_PROTOCOL_OPENPGP), "openpgp");
  T_STREQ (pan_protocol_name (PAN_PROTOCOL_SMIME), "smime");
  T_STREQ (pan_protocol_name (PAN_PROTOCOL_NONE), "none");
  T_ERR (pan_protocol_parse ("openpgp", &proto), 0);
  T_CHECK (proto == PAN_PROTOCOL_OPENPGP);
  T_ERR (pan_protocol_parse ("smime", &proto), 0);
  T_CHECK (proto == PAN_PROTOCOL_SMIME);
  T_CHECK (pan_protocol_parse ("OpenPGP", &proto));
  T_CHECK (proto == PAN_PROTOCOL_NONE);
  T_CHECK (pan_protocol_parse ("", &proto));
  T_CHECK (pan_protocol_parse (NULL, &proto));
  T_STREQ (pan_status_name (PAN_STATUS_ACTIVE), "active");
  T_STREQ (pan_status_name (PAN_STATUS_RETIRED), "retired");
  T_STREQ (pan_status_name (PAN_STATUS_REVOKED), "revoked");
  T_STREQ (pan_status_name (0), "unknown");
}

static void
test_parse_good (void)
{
  pan_registry_t reg;
  const struct pan_recipient *r;
  char *reason;

  reg = parse (good_text, &reason);
  T_CHECK (pan_registry_count (reg) == 3);
  r = pan_registry_get (reg, 1);
  T_CHECK (r != NULL);
  if (r)
    {
      T_STREQ (r->address, "alice@example.test");
      T_CHECK (r->protocol == PAN_PROTOCOL_OPENPGP);
      T_STREQ (r->fingerprint, FPR2);
      T_CHECK (r->enrolled_at == T0);
      T_STREQ (r->enrolled_by, "Jane Operator");
      T_CHECK (r->status == PAN_STATUS_ACTIVE);
    }
  r = pan_registry_get (reg, 2);
  T_CHECK (r && r->protocol == PAN_PROTOCOL_SMIME
           && r->status == PAN_STATUS_REVOKED);
  T_CHECK (pan_registry_get (reg, 3) == NULL);
  T_CHECK (pan_registry_get (NULL, 0) == NULL);
  T_CHECK (pan_registry_count (NULL) == 0);
  pan_registry_release (reg);
  pan_registry_release (NULL);
  pan_free (reason);
}

static void
test_parse_layout (void)
{
  pan_registry_t reg;
  char *reason;

  /* Empty input, comments only, no final newline, no blank lines,
   * comments inside a stanza.  */
  reg = parse ("", &reason);
  T_CHECK (reg && pan_registry_count (reg) == 0);
  pan_registry_release (reg);
  reg = parse ("# only a comment", &reason);
  T_CHECK (reg && pan_registry_count (reg) == 0);
  pan_registry_release (reg);
  reg = parse ("\n\n#\n\n"
               "recipient a@example.test\n# comment\nprotocol openpgp\n"
               "\nfingerprint " FPR1 "\nenrolled-at 2026-11-24T23:18:43Z\n"
               "enrolled-by x\nstatus active\n" STANZA ("b@example.test",
                                                        "openpgp", FPR1,
                                                        "y z",
                                                        "active") "\n\n",
               &reason);
  T_CHECK (pan_registry_count (reg) == 2);
  pan_registry_release (reg);
  reg = parse (STANZA ("a@example.test", "openpgp", FPR1, "x",
                       "retired") "recipient b@example.test\nprotocol "
                                  "smime\nfingerprint " FPR1 "\nenrolled-at "
                                  "2026-11-24T23:18:43Z\nenrolled-by x\n"
                                  "status active",
               &reason);
  T_CHECK (pan_registry_count (reg) == 2);
  pan_registry_release (reg);
  /* The keys of a stanza in any order.  */
  reg = parse ("recipient a@example.test\nstatus active\nenrolled-by x\n"
               "enrolled-at 2026-11-24T23:18:43Z\nfingerprint " FPR1 "\n"
               "protocol openpgp\n",
               &reason);
  T_CHECK (pan_registry_count (reg) == 1);
  pan_registry_release (reg);
}

static void
test_round_trip (void)
{
  pan_registry_t reg, reg2;
  char *reason, *text, *text2;

  reg = parse (good_text, &reason);
  text = write_to_string (reg);
  T_STREQ (text, good_text);
  reg2 = parse (text, &reason);
  T_CHECK (pan_registry_count (reg2) == 3);
  text2 = write_to_string (reg2);
  T_STREQ (text2, text);
  pan_registry_release (reg);
  pan_registry_release (reg2);
  free (text);
  free (text2);
  /* An empty registry is the header alone.  */
  reg = parse ("", &reason);
  text = write_to_string (reg);
  T_STREQ (text, HEADER);
  pan_registry_release (reg);
  free (text);
}

static void
test_errors_structure (void)
{
  BAD ("protocol openpgp\n", GPG_ERR_INV_DATA, 1);
  BAD ("# c\n\nstatus active\n", GPG_ERR_INV_DATA, 3);
  BAD ("recipient a@example.test\nkey 1\n", GPG_ERR_UNKNOWN_NAME, 2);
  BAD ("recipient a@example.test\nProtocol openpgp\n", GPG_ERR_UNKNOWN_NAME,
       2);
  BAD ("x\n", GPG_ERR_UNKNOWN_NAME, 1);
  BAD ("recipient a@example.test\nprotocol openpgp\nprotocol smime\n",
       GPG_ERR_DUP_VALUE, 3);
  BAD (STANZA ("a@example.test", "openpgp", FPR1, "x",
               "active") "status active\n",
       GPG_ERR_DUP_VALUE, 7);
  /* Missing fields: reported at the recipient line of the stanza.  */
  BAD ("\nrecipient a@example.test\nprotocol openpgp\n",
       GPG_ERR_MISSING_VALUE, 2);
  BAD ("# x\nrecipient a@example.test\nprotocol openpgp\n\n" STANZA (
         "b@example.test", "openpgp", FPR1, "x", "active"),
       GPG_ERR_MISSING_VALUE, 2);
  BAD (STANZA ("b@example.test", "openpgp", FPR1, "x",
               "active") "\nrecipient a@example.test\nprotocol openpgp\n"
                         "fingerprint " FPR1
                         "\nenrolled-at 2026-11-24T23:18:43Z\n"
                         "enrolled-by x\n",
       GPG_ERR_MISSING_VALUE, 8);
  BAD ("recipient a@example.test\n", GPG_ERR_MISSING_VALUE, 1);
  /* Two active records for one address: at the second.  */
  BAD (STANZA ("a@example.test", "openpgp", FPR1, "x",
               "active") "\n" STANZA ("b@example.test", "openpgp", FPR1, "x",
                                      "active") "\n" STANZA ("a@example."
                                                             "test",
                                                             "openpgp", FPR2,
                                                             "x", "active"),
       GPG_ERR_INV_DATA, 15);
}

static void
test_errors_syntax (void)
{
  static char longline[5000];
  size_t n;

  BAD ("recipient  a@example.test\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient a@example.test \n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient\ta@example.test\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient \n", GPG_ERR_INV_DATA, 1);
  BAD (" recipient a@example.test\n", GPG_ERR_INV_DATA, 1);
  BAD (" \n", GPG_ERR_INV_DATA, 1);
  BAD (" # comment\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient a@example.test\r\n", GPG_ERR_INV_DATA, 1);
  BAD ("# comment\r\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient a@example.test\nenrolled-by a\033[2Jb\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nenrolled-by a\x7f\n", GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nenrolled-by J\xfcrgen\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nenrolled-by \xc0\xaf\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nenrolled-by \xed\xa0\x80\n",
       GPG_ERR_INV_DATA, 2);
  bad_len ("recipient a@example.test\nprotocol open\0pgp\n", 40,
           GPG_ERR_INV_DATA, 2, __LINE__);
  bad_len ("\0", 1, GPG_ERR_INV_DATA, 1, __LINE__);

  /* A line of 4096 bytes is fine, 4097 is not.  */
  n = (size_t)snprintf (longline, sizeof longline,
                        "recipient a@example.test\nenrolled-by ");
  memset (longline + n, 'x', 4096 - 12);
  strcpy (longline + n + 4096 - 12,
          "\nprotocol openpgp\nfingerprint " FPR1 "\n"
          "enrolled-at 2026-11-24T23:18:43Z\nstatus active\n");
  {
    char *reason;
    pan_registry_t reg = parse (longline, &reason);
    T_CHECK (pan_registry_count (reg) == 1);
    pan_registry_release (reg);
  }
  memset (longline + n, 'x', 4096 - 11);
  strcpy (longline + n + 4096 - 11, "\n");
  BAD (longline, GPG_ERR_INV_DATA, 2);
  memset (longline, '#', 4097);
  longline[4097] = 0;
  BAD (longline, GPG_ERR_INV_DATA, 1);
}

static void
test_errors_values (void)
{
  BAD ("recipient Alice@EXAMPLE.test\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient alice\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient alice@example.test, bob@example.test\n", GPG_ERR_INV_DATA,
       1);
  BAD ("recipient <alice@example.test>\n", GPG_ERR_INV_DATA, 1);
  BAD ("recipient a@example.test\nprotocol pgp\n", GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nprotocol OPENPGP\n", GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nprotocol none\n", GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nfingerprint "
       "0123456789abcdef0123456789abcdef01234567\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nfingerprint "
       "0123456789ABCDEF0123456789ABCDEF0123456\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nfingerprint " FPR1 "0\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nfingerprint 0123 4567\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nfingerprint "
       "0123456789ABCDEF0123456789ABCDEF0123456G\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nfingerprint 01234567\n", GPG_ERR_INV_DATA,
       2);
  BAD ("recipient a@example.test\nenrolled-at 2026-02-30T00:00:00Z\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nenrolled-at 2026-11-24T23:18:43\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nenrolled-at 2026-11-24 23:18:43Z\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nenrolled-at 1795562323\n",
       GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nstatus Active\n", GPG_ERR_INV_DATA, 2);
  BAD ("recipient a@example.test\nstatus disabled\n", GPG_ERR_INV_DATA, 2);
}

static void
test_reasons (void)
{
  pan_registry_t reg = NULL;
  char *reason = NULL;
  const char *text = "recipient a@example.test\nstatus active\n\n"
                     "recipient b@example.test\n";

  T_ERR (pani_registry_parse ("/x/registry", text, strlen (text), &reg,
                              &reason),
         GPG_ERR_MISSING_VALUE);
  T_STREQ (reason,
           "/x/registry:1: the stanza for a@example.test lacks"
           " 'protocol'");
  pan_free (reason);
  reason = NULL;
  text = "recipient a@example.test\nfoo bar\n";
  T_ERR (pani_registry_parse ("r", text, strlen (text), &reg, &reason),
         GPG_ERR_UNKNOWN_NAME);
  T_STREQ (reason, "r:2: unknown key 'foo'");
  pan_free (reason);
  reason = NULL;
  text = "recipient a@EXAMPLE.test\n";
  T_ERR (pani_registry_parse ("r", text, strlen (text), &reg, &reason),
         GPG_ERR_INV_DATA);
  T_STREQ (reason,
           "r:1: recipient address 'a@EXAMPLE.test' is not in"
           " normal form; write 'a@example.test'");
  pan_free (reason);
  /* Without R_REASON.  */
  T_ERR (pani_registry_parse ("r", text, strlen (text), &reg, NULL),
         GPG_ERR_INV_DATA);
  T_CHECK (reg == NULL);
}

/* pani_addr_same: domains ignore case always, local parts unless
 * EXACT_LOCAL; pan_addr_same takes the rule from a configuration.  */
static void
test_addr_same (void)
{
  pan_config_t exact = NULL;
  static const char conf[] = "address-case exact\n";

  T_CHECK (pani_addr_same ("bob@example.net", "Bob@Example.NET", 0));
  T_CHECK (!pani_addr_same ("bob@example.net", "Bob@example.net", 1));
  T_CHECK (pani_addr_same ("Bob@example.net", "Bob@EXAMPLE.net", 1));
  T_CHECK (!pani_addr_same ("bob@example.net", "bobby@example.net", 0));
  T_CHECK (!pani_addr_same ("bob@example.net", "bob@example.org", 0));
  T_CHECK (!pani_addr_same ("bo@b@example.net", "bo@b@example.net.x", 0));
  T_CHECK (pani_addr_same ("\"A b\"@x.test", "\"a B\"@X.test", 0));
  T_CHECK (!pani_addr_same ("bob", "BOB", 0)
           && pani_addr_same ("b", "b", 0));
  T_CHECK (pan_addr_same (NULL, "bob@x.test", "BOB@x.test"));
  T_CHECK (!pan_addr_same (NULL, NULL, "BOB@x.test"));
  T_ERR (pani_config_parse ("c", conf, strlen (conf), &exact, NULL), 0);
  T_CHECK (!pan_addr_same (exact, "bob@x.test", "BOB@x.test"));
  T_CHECK (pan_addr_same (exact, "bob@x.test", "bob@X.test"));
  pani_config_release (exact);
}

/* Two active enrollments that differ only by case (made under
 * address-case exact) parse; each spelling finds its own, a third
 * finds neither (ambiguous); under insensitive a new one is refused.  */
static void
test_address_case (void)
{
  pan_registry_t reg;
  char *reason = NULL;
  pan_config_t exact = NULL;
  static const char conf[] = "address-case exact\n";
  static const char text[] = HEADER
    "\n" STANZA ("Bob@example.test", "openpgp", FPR1, "Jane Operator",
                 "active") "\n" STANZA ("bob@example.test", "openpgp", FPR2,
                                        "Jane", "active");

  reg = parse (text, &reason);
  T_CHECK (pani_registry_lookup (reg, "Bob@example.test")
           == pan_registry_get (reg, 0));
  T_CHECK (pani_registry_lookup (reg, "bob@example.test")
           == pan_registry_get (reg, 1));
  T_CHECK (pani_registry_lookup (reg, "BOB@example.test") == NULL);
  T_ERR (pani_registry_check_new (reg, "BOB@example.test", &reason),
         GPG_ERR_INV_VALUE);
  T_CHECK (reason && strstr (reason, "only by case"));
  pan_free (reason);
  reason = NULL;
  T_ERR (pani_registry_check_new (reg, "bob@example.test", NULL),
         GPG_ERR_EEXIST);
  T_ERR (pani_registry_check_new (reg, "rob@example.test", NULL), 0);
  T_ERR (pani_config_parse ("c", conf, strlen (conf), &exact, NULL), 0);
  pani_registry_match (reg, exact);
  T_CHECK (pani_registry_lookup (reg, "BOB@example.test") == NULL);
  T_CHECK (pani_registry_lookup (reg, "bob@EXAMPLE.test")
           == pan_registry_get (reg, 1));
  T_ERR (pani_registry_check_new (reg, "BOB@example.test", NULL), 0);
  pani_registry_match (reg, NULL);
  T_CHECK (pani_registry_lookup (reg, "BOB@example.test") == NULL);
  pani_config_release (exact);
  pan_registry_release (reg);
}

/* pani_uid_address: the user ID's own spelling of GnuPG's address.  */
static void
test_uid_address (void)
{
  struct _gpgme_user_id uid;
  char *addr = NULL;

  memset (&uid, 0, sizeof uid);
  uid.uid = (char *)"Bob Test (work) <Bob@Example.NET>";
  uid.address = (char *)"bob@example.net";
  T_ERR (pani_uid_address (&uid, &addr), 0);
  T_STREQ (addr, "Bob@example.net");
  free (addr);
  /* Not one mailbox, or another one: GnuPG's address.  */
  uid.uid = (char *)"Bob <Bob@Example.NET>, Eve <eve@example.net>";
  T_ERR (pani_uid_address (&uid, &addr), 0);
  T_STREQ (addr, "bob@example.net");
  free (addr);
  uid.uid = (char *)"CN=Bob,EMAIL=Bob@Example.NET";
  T_ERR (pani_uid_address (&uid, &addr), 0);
  T_STREQ (addr, "bob@example.net");
  free (addr);
  uid.uid = (char *)"Mallory <Mallory@example.net>";
  T_ERR (pani_uid_address (&uid, &addr), 0);
  T_STREQ (addr, "bob@example.net");
  free (addr);
  uid.address = NULL;
  T_ERR (pani_uid_address (&uid, &addr), GPG_ERR_NO_USER_ID);
  T_CHECK (addr == NULL);
}

/* pan_fpr_normalize: spaces (gpg, sq) or colons (OpenSSL), any case.  */
static void
test_fpr_normalize (void)
{
  char *fpr = NULL, *reason = NULL;

  T_ERR (pan_fpr_normalize ("0123 4567 89ab CDEF 0123  4567 89AB cdef 0123"
                            " 4567",
                            &fpr, NULL),
         0);
  T_STREQ (fpr, FPR1);
  pan_free (fpr);
  T_ERR (pan_fpr_normalize ("01:23:45:67:89:ab:CD:EF:01:23:45:67:89:AB:cd:ef"
                            ":01:23:45:67",
                            &fpr, NULL),
         0);
  T_STREQ (fpr, FPR1);
  pan_free (fpr);
  T_ERR (pan_fpr_normalize (FPR64, &fpr, NULL), 0);
  pan_free (fpr);
  T_ERR (pan_fpr_normalize ("0123-4567", &fpr, &reason), GPG_ERR_INV_NAME);
  T_CHECK (fpr == NULL && reason && strstr (reason, "spaces and colons"));
  pan_free (reason);
  T_ERR (pan_fpr_normalize ("89:AB:CD:EF:01:23:45:67", &fpr, NULL),
         GPG_ERR_AMBIGUOUS_NAME);
}

static void
test_lookup (void)
{
  pan_registry_t reg;
  const struct pan_recipient *r;
  char *reason;

  reg = parse (good_text, &reason);
  r = pani_registry_lookup (reg, "alice@example.test");
  T_CHECK (r && !strcmp (r->fingerprint, FPR2));
  r = pani_registry_lookup (reg, "alice@EXAMPLE.Test");
  T_CHECK (r && !strcmp (r->fingerprint, FPR2));
  r = pani_registry_lookup (reg, "ALICE@example.test");
  T_CHECK (r && !strcmp (r->fingerprint, FPR2));
  T_CHECK (pani_registry_lookup (reg, "bob@example.test") == NULL);
  T_CHECK (pani_registry_lookup (reg, "carol@example.test") == NULL);
  T_CHECK (pani_registry_lookup (reg, "not an address") == NULL);
  T_CHECK (pani_registry_lookup (reg, "") == NULL);
  T_CHECK (pani_registry_lookup (NULL, "alice@example.test") == NULL);
  pan_registry_release (reg);
}

/* Return a malloc'ed copy of the file PATH, or NULL.  */
static char *
slurp (const char *path)
{
  FILE *fp = fopen (path, "rb");
  char *buf;
  size_t n;

  if (!fp)
    return NULL;
  buf = calloc (1, 1 << 20);
  n = fread (buf, 1, (1 << 20) - 1, fp);
  buf[n] = 0;
  fclose (fp);
  return buf;
}

static int
count_files (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  int n = 0;

  if (!d)
    return -1;
  while ((e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      n++;
  closedir (d);
  return n;
}

static void
make_rec (struct pan_recipient *rec, const char *addr, const char *fpr)
{
  memset (rec, 0, sizeof *rec);
  rec->address = (char *)addr;
  rec->protocol = PAN_PROTOCOL_OPENPGP;
  rec->fingerprint = (char *)fpr;
  rec->enrolled_at = T0;
  rec->enrolled_by = (char *)"Jane Operator";
  rec->status = PAN_STATUS_ACTIVE;
}

static void
test_add_bad_records (const char *path)
{
  struct pan_recipient rec;
  char *reason = NULL;

  make_rec (&rec, "Alice@EXAMPLE.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, &reason), GPG_ERR_INV_DATA);
  T_CHECK (reason && strstr (reason, "normal form"));
  pan_free (reason);
  reason = NULL;
  make_rec (&rec, "alice@example.test", "0123");
  T_ERR (pani_registry_add (path, &rec, 5, NULL, &reason), GPG_ERR_INV_DATA);
  T_CHECK (reason && !strncmp (reason, path, strlen (path)));
  pan_free (reason);
  reason = NULL;
  make_rec (&rec, "alice@example.test", FPR1);
  rec.enrolled_by = (char *)"x\nstatus active";
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), GPG_ERR_INV_DATA);
  rec.enrolled_by = (char *)" x";
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), GPG_ERR_INV_DATA);
  rec.enrolled_by = NULL;
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL),
         GPG_ERR_MISSING_VALUE);
  make_rec (&rec, "alice@example.test", FPR1);
  rec.protocol = PAN_PROTOCOL_NONE;
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), GPG_ERR_INV_DATA);
  make_rec (&rec, "alice@example.test", FPR1);
  rec.status = 7;
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), GPG_ERR_INV_DATA);
  make_rec (&rec, "alice@example.test", FPR1);
  rec.enrolled_at = (time_t)-1000000000000;
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), GPG_ERR_INV_DATA);
  make_rec (&rec, NULL, FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL),
         GPG_ERR_MISSING_VALUE);
  T_ERR (pani_registry_add (path, NULL, 5, NULL, NULL), GPG_ERR_INV_VALUE);
  T_CHECK (access (path, F_OK) && errno == ENOENT);
}

static void
test_add (const char *dir)
{
  char *path = malloc (strlen (dir) + 20), *text, *reason = NULL;
  struct pan_recipient rec;
  pan_registry_t reg = NULL;
  struct stat st;

  sprintf (path, "%s/registry", dir);
  T_ERR (pan_registry_load (path, &reg, &reason), GPG_ERR_ENOENT);
  T_CHECK (reg == NULL && reason != NULL);
  pan_free (reason);
  reason = NULL;
  test_add_bad_records (path);

  make_rec (&rec, "alice@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, &reason), 0);
  text = slurp (path);
  T_STREQ (text,
           HEADER "\n" STANZA ("alice@example.test", "openpgp", FPR1,
                               "Jane Operator", "active"));
  free (text);
  T_CHECK (!stat (path, &st) && (st.st_mode & 07777) == 0600);
  T_CHECK (count_files (dir) == 2);

  /* Already enrolled, in another spelling: refused, file unchanged.  */
  make_rec (&rec, "alice@example.test", FPR2);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, &reason), GPG_ERR_EEXIST);
  T_STREQ (reason,
           "alice@example.test is already enrolled (fingerprint " FPR1
           "); use pankey rotate");
  pan_free (reason);
  reason = NULL;

  /* A second address, an S/MIME one and a retired record.  */
  make_rec (&rec, "bob@example.test", FPR64);
  rec.protocol = PAN_PROTOCOL_SMIME;
  rec.enrolled_by = (char *)"J\xc3\xbcrgen";
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  make_rec (&rec, "carol@example.test", FPR2);
  rec.status = PAN_STATUS_RETIRED;
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  make_rec (&rec, "carol@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  T_CHECK (!stat (path, &st) && (st.st_mode & 07777) == 0600);
  T_CHECK (count_files (dir) == 2);

  T_ERR (pan_registry_load (path, &reg, &reason), 0);
  T_CHECK (pan_registry_count (reg) == 4);
  T_CHECK (pani_registry_lookup (reg, "carol@example.test")
           == pan_registry_get (reg, 3));
  T_CHECK (pani_registry_lookup (reg, "bob@EXAMPLE.TEST")
           && pani_registry_lookup (reg, "bob@EXAMPLE.TEST")->protocol
             == PAN_PROTOCOL_SMIME);
  pan_registry_release (reg);

  /* A registry with an error is not replaced.  */
  {
    FILE *fp = fopen (path, "a");
    fputs ("\nbogus line\n", fp);
    fclose (fp);
  }
  make_rec (&rec, "dave@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, &reason),
         GPG_ERR_UNKNOWN_NAME);
  T_CHECK (reason && strstr (reason, "registry:32: unknown key 'bogus'"));
  pan_free (reason);
  unlink (path);
  free (path);
}

/* Hold the lock file of PATH in a child until told to go.  */
static void
test_add_timeout (const char *dir)
{
  char *path = malloc (strlen (dir) + 20),
       *lock = malloc (strlen (dir) + 30);
  char *reason = NULL, c = 0;
  struct pan_recipient rec;
  int go[2], ready[2], status;
  pid_t pid;

  sprintf (path, "%s/registry", dir);
  sprintf (lock, "%s.lock", path);
  if (pipe (go) || pipe (ready))
    abort ();
  pid = fork ();
  if (!pid)
    {
      struct flock fl;
      int fd = open (lock, O_RDWR | O_CREAT, 0600);

      memset (&fl, 0, sizeof fl);
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;
      if (fd < 0 || fcntl (fd, F_SETLK, &fl))
        _exit (1);
      if (write (ready[1], "x", 1) != 1 || read (go[0], &c, 1) != 1)
        _exit (1);
      _exit (0);
    }
  T_CHECK (read (ready[0], &c, 1) == 1);
  make_rec (&rec, "erin@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 1, NULL, &reason), GPG_ERR_TIMEOUT);
  T_CHECK (reason && strstr (reason, "lock"));
  pan_free (reason);
  T_CHECK (write (go[1], "x", 1) == 1);
  T_CHECK (waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && !WEXITSTATUS (status));
  T_ERR (pani_registry_add (path, &rec, 1, NULL, NULL), 0);
  close (go[0]);
  close (go[1]);
  close (ready[0]);
  close (ready[1]);
  unlink (path);
  unlink (lock);
  free (path);
  free (lock);
}

#define N_PROCS 8
#define N_EACH 6

static void
test_add_concurrent (const char *dir)
{
  char *path = malloc (strlen (dir) + 20), addr[64];
  pid_t pids[N_PROCS];
  pan_registry_t reg = NULL;
  int i, j, status, ok = 1;

  sprintf (path, "%s/registry", dir);
  for (i = 0; i < N_PROCS; i++)
    {
      pids[i] = fork ();
      if (pids[i])
        continue;
      for (j = 0; j < N_EACH; j++)
        {
          struct pan_recipient rec;

          snprintf (addr, sizeof addr, "user%d-%d@example.test", i, j);
          make_rec (&rec, addr, FPR1);
          if (pani_registry_add (path, &rec, 60, NULL, NULL))
            _exit (1);
        }
      _exit (0);
    }
  for (i = 0; i < N_PROCS; i++)
    if (waitpid (pids[i], &status, 0) != pids[i] || !WIFEXITED (status)
        || WEXITSTATUS (status))
      ok = 0;
  T_CHECK (ok);
  T_ERR (pan_registry_load (path, &reg, NULL), 0);
  T_CHECK (pan_registry_count (reg) == N_PROCS * N_EACH);
  for (i = 0; i < N_PROCS; i++)
    for (j = 0; j < N_EACH; j++)
      {
        snprintf (addr, sizeof addr, "user%d-%d@example.test", i, j);
        T_CHECK (pani_registry_lookup (reg, addr) != NULL);
      }
  pan_registry_release (reg);
  T_CHECK (count_files (dir) == 2);
  unlink (path);
  free (path);
}


#define CHANGE(at, by, reason, note) \
  "changed-at " at "\n"              \
  "changed-by " by "\n"              \
  "reason " reason "\n"              \
  "note " note "\n"

static void
test_changes_parse (void)
{
  static const char text[] = HEADER
    "\n" STANZA ("alice@example.test", "openpgp", FPR1, "Jane", "retired")
      CHANGE ("2027-01-05T10:00:00Z", "Jane", "rotated",
              "new laptop") "\n" STANZA ("alice@example.test", "openpgp",
                                         FPR2, "Jane", "revoked")
        CHANGE ("2027-02-05T10:00:00Z", "Joe", "compromised",
                "stolen") "\n" STANZA ("bob@example.test", "openpgp", FPR2,
                                       "Jane",
                                       "retired") "reason unenrolled\n";
  pan_registry_t reg;
  const struct pan_recipient *r;
  char *reason;

  reg = parse (text, &reason);
  T_CHECK (pan_registry_count (reg) == 3);
  r = pan_registry_get (reg, 1);
  T_CHECK (r && r->status == PAN_STATUS_REVOKED && r->changed_at > T0);
  T_STREQ (r ? r->changed_by : NULL, "Joe");
  T_STREQ (r ? r->reason : NULL, "compromised");
  T_STREQ (r ? r->note : NULL, "stolen");
  r = pan_registry_get (reg, 2);
  T_CHECK (r && !r->changed_at && !r->changed_by && !r->note);
  T_CHECK (pani_registry_lookup (reg, "alice@example.test") == NULL);
  r = pani_registry_lookup_any (reg, "alice@example.test");
  T_CHECK (r && !strcmp (r->fingerprint, FPR2));
  T_CHECK (pani_registry_lookup_any (reg, "carol@example.test") == NULL);
  T_CHECK (pani_registry_lookup_any (NULL, "alice@example.test") == NULL);
  pan_registry_release (reg);

  /* The optional keys only where they fit.  */
  bad_len (HEADER "\n" STANZA ("a@example.test", "openpgp", FPR1, "J",
                               "active") "note hello\n",
           strlen (HEADER "\n" STANZA ("a@example.test", "openpgp", FPR1,
                                       "J", "active") "note hello\n"),
           GPG_ERR_INV_DATA, 4, __LINE__);
  bad_len (HEADER "\n" STANZA ("a@example.test", "openpgp", FPR1, "J",
                               "retired") "reason compromised\n",
           strlen (HEADER
                   "\n" STANZA ("a@example.test", "openpgp", FPR1, "J",
                                "retired") "reason compromised\n"),
           GPG_ERR_INV_DATA, 4, __LINE__);
  bad_len (HEADER
           "\n" STANZA ("a@example.test", "openpgp", FPR1, "J",
                        "revoked") "changed-at 1970-01-01T00:00:00Z\n",
           strlen (
             HEADER
             "\n" STANZA ("a@example.test", "openpgp", FPR1, "J",
                          "revoked") "changed-at 1970-01-01T00:00:00Z\n"),
           GPG_ERR_INV_DATA, 10, __LINE__);
}

static void
test_reasons_valid (void)
{
  T_CHECK (pan_registry_reason_valid (PAN_STATUS_RETIRED, "rotated"));
  T_CHECK (pan_registry_reason_valid (PAN_STATUS_RETIRED, "unenrolled"));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_RETIRED, "left"));
  T_CHECK (pan_registry_reason_valid (PAN_STATUS_REVOKED, "compromised"));
  T_CHECK (pan_registry_reason_valid (PAN_STATUS_REVOKED, "left"));
  T_CHECK (pan_registry_reason_valid (PAN_STATUS_REVOKED, "other"));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_REVOKED, "compromise"));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_REVOKED, "d left"));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_REVOKED, "superseded "));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_REVOKED, ""));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_REVOKED, NULL));
  T_CHECK (!pan_registry_reason_valid (PAN_STATUS_ACTIVE, "rotated"));
}

static const struct pan_recipient *
load_get (const char *path, pan_registry_t *r_reg, size_t idx)
{
  char *reason = NULL;

  T_ERR (pan_registry_load (path, r_reg, &reason), 0);
  pan_free (reason);
  return pan_registry_get (*r_reg, idx);
}

static void
test_rotate (const char *path)
{
  struct pan_recipient rec;
  pan_registry_t reg = NULL;
  const struct pan_recipient *r;
  char *reason = NULL;

  unlink (path);
  make_rec (&rec, "alice@example.test", FPR2);
  T_ERR (pani_registry_rotate (path, &rec, NULL, 5, NULL, NULL),
         GPG_ERR_NOT_FOUND);
  make_rec (&rec, "alice@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  T_ERR (pani_registry_rotate (path, &rec, NULL, 5, NULL, NULL),
         GPG_ERR_EEXIST);
  make_rec (&rec, "alice@example.test", FPR2);
  T_ERR (pani_registry_rotate (path, &rec, FPR2, 5, NULL, &reason),
         GPG_ERR_CONFLICT);
  T_CHECK (reason && strstr (reason, FPR1));
  pan_free (reason);
  rec.enrolled_at = T0 + 100;
  rec.enrolled_by = (char *)"Joe";
  T_ERR (pani_registry_rotate (path, &rec, FPR1, 5, NULL, NULL), 0);
  r = load_get (path, &reg, 0);
  T_CHECK (pan_registry_count (reg) == 2);
  T_CHECK (r && r->status == PAN_STATUS_RETIRED
           && r->changed_at == T0 + 100);
  T_STREQ (r ? r->reason : NULL, "rotated");
  T_STREQ (r ? r->changed_by : NULL, "Joe");
  r = pani_registry_lookup (reg, "alice@example.test");
  T_CHECK (r && !strcmp (r->fingerprint, FPR2)
           && r->enrolled_at == T0 + 100);
  pan_registry_release (reg);
}

static void
test_set_status (const char *path)
{
  struct pan_registry_change chg = { "alice@EXAMPLE.test",
                                     NULL,
                                     PAN_STATUS_REVOKED,
                                     "compromised",
                                     "stolen laptop",
                                     "Joe",
                                     T0 + 200 };
  struct pan_recipient rec;
  pan_registry_t reg = NULL;
  const struct pan_recipient *r;

  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL), 0);
  r = load_get (path, &reg, 1);
  T_CHECK (r && r->status == PAN_STATUS_REVOKED
           && r->changed_at == T0 + 200);
  T_STREQ (r ? r->note : NULL, "stolen laptop");
  T_CHECK (pani_registry_lookup (reg, "alice@example.test") == NULL);
  pan_registry_release (reg);
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_NOT_FOUND);
  chg.fingerprint = FPR2;
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_EALREADY);
  /* A revoked key is not enrolled again, for any address.  */
  make_rec (&rec, "bob@example.test", FPR2);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL),
         GPG_ERR_CERT_REVOKED);
  /* The retired old key can still be revoked by fingerprint.  */
  chg.fingerprint = FPR1;
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL), 0);
  /* Unenroll: only an active record, with a fitting reason.  */
  make_rec (&rec, "bob@example.test", FPR64);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  chg.address = "bob@example.test";
  chg.fingerprint = NULL;
  chg.status = PAN_STATUS_RETIRED;
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_INV_DATA);
  chg.reason = "unenrolled";
  chg.note = "bad\nnote";
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_INV_DATA);
  chg.note = NULL;
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL), 0);
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_NOT_FOUND);
  chg.status = PAN_STATUS_ACTIVE;
  T_ERR (pani_registry_set_status (path, &chg, 5, NULL, NULL),
         GPG_ERR_INV_VALUE);
  r = load_get (path, &reg, 2);
  T_CHECK (pan_registry_count (reg) == 3);
  T_CHECK (r && r->status == PAN_STATUS_RETIRED && !r->note);
  T_STREQ (r ? r->reason : NULL, "unenrolled");
  pan_registry_release (reg);
  unlink (path);
}

/* A record with "subkeys": parsed, written back in its place, checked
 * strictly; a record without is read (pansend refuses it later).  */
static void
test_subkeys_parse (void)
{
  static const char text[] = HEADER
    "\nrecipient a@example.test\nprotocol openpgp\n"
    "fingerprint " FPR1 "\nsubkeys " FPR2 " " FPR64 "\n"
    "enrolled-at 2026-11-24T23:18:43Z\nenrolled-by x\n"
    "status active\n";
  pan_registry_t reg;
  const struct pan_recipient *r;
  char *reason, *out;

  reg = parse (text, &reason);
  r = pan_registry_get (reg, 0);
  T_STREQ (r ? r->subkeys : NULL, FPR2 " " FPR64);
  T_CHECK (r && pani_registry_pinned (r->subkeys, FPR2)
           && pani_registry_pinned (r->subkeys, FPR64)
           && !pani_registry_pinned (r->subkeys, FPR1)
           && !pani_registry_pinned (r->subkeys, "0123456789ABCDEF")
           && !pani_registry_pinned (NULL, FPR1));
  out = write_to_string (reg);
  T_STREQ (out, text);
  free (out);
  pan_registry_release (reg);
  /* The times of the subkeys, written back after them.  */
  reg = parse (HEADER "\nrecipient a@example.test\nprotocol openpgp\n"
                      "fingerprint " FPR1 "\nsubkeys " FPR2 " " FPR64 "\n"
                      "subkey-expiry 2027-01-05T10:00:00Z never\n"
                      "enrolled-at 2026-11-24T23:18:43Z\nenrolled-by x\n"
                      "status active\n",
               &reason);
  r = pan_registry_get (reg, 0);
  T_STREQ (r ? r->subkey_expiry : NULL, "2027-01-05T10:00:00Z never");
  pan_registry_release (reg);
  /* An old record: no subkeys.  */
  reg = parse (STANZA ("a@example.test", "openpgp", FPR1, "x", "active"),
               &reason);
  r = pan_registry_get (reg, 0);
  T_CHECK (r && !r->subkeys);
  pan_registry_release (reg);
}

#define SUBKEYS_STANZA(proto, list)                   \
  "recipient a@example.test\nprotocol " proto "\n"    \
  "fingerprint " FPR1 "\nsubkeys " list "\n"          \
  "enrolled-at 2026-11-24T23:18:43Z\nenrolled-by x\n" \
  "status active\n"

static void
test_subkeys_errors (void)
{
  BAD (SUBKEYS_STANZA ("openpgp", FPR2 " " FPR2), GPG_ERR_INV_DATA, 4);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2 "  " FPR1), GPG_ERR_INV_DATA, 4);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2 " "), GPG_ERR_INV_DATA, 4);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2 ",abc"), GPG_ERR_INV_DATA, 4);
  BAD (SUBKEYS_STANZA ("openpgp",
                       "0123456789abcdef0123456789abcdef01234567"),
       GPG_ERR_INV_DATA, 4);
  BAD (SUBKEYS_STANZA ("openpgp", "0123456789ABCDEF"), GPG_ERR_INV_DATA, 4);
  /* A certificate is its own key: no subkeys in an S/MIME record.  */
  BAD (SUBKEYS_STANZA ("smime", FPR2), GPG_ERR_INV_DATA, 1);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2) "subkeys " FPR1 "\n",
       GPG_ERR_DUP_VALUE, 8);
  /* subkey-expiry: one word per subkey, "never" or a UTC time.  */
  BAD (SUBKEYS_STANZA ("openpgp", FPR2 " " FPR1) "subkey-expiry never\n",
       GPG_ERR_INV_DATA, 1);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2) "subkey-expiry never never\n",
       GPG_ERR_INV_DATA, 1);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2) "subkey-expiry tomorrow\n",
       GPG_ERR_INV_DATA, 8);
  BAD (SUBKEYS_STANZA ("openpgp", FPR2) "subkey-expiry 2027-01-05\n",
       GPG_ERR_INV_DATA, 8);
  BAD (SUBKEYS_STANZA ("openpgp",
                       FPR2 " " FPR1) "subkey-expiry never  never\n",
       GPG_ERR_INV_DATA, 8);
  BAD (STANZA ("a@example.test", "openpgp", FPR1, "x",
               "active") "subkey-expiry never\n",
       GPG_ERR_INV_DATA, 1);
}

/* pani_registry_set_subkeys: only the active record of the key the
 * caller saw, only valid lists.  */
static void
test_set_subkeys (const char *path)
{
  struct pan_recipient rec;
  pan_registry_t reg = NULL;
  const struct pan_recipient *r;
  char *reason = NULL;

  unlink (path);
  make_rec (&rec, "alice@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  T_ERR (pani_registry_set_subkeys (path, "alice@example.test", FPR2, FPR2,
                                    NULL, 5, NULL, &reason),
         GPG_ERR_CONFLICT);
  T_CHECK (reason && strstr (reason, FPR2));
  pan_free (reason);
  T_ERR (pani_registry_set_subkeys (path, "alice@example.test", FPR1,
                                    FPR2 " " FPR2, NULL, 5, NULL, NULL),
         GPG_ERR_INV_DATA);
  T_ERR (pani_registry_set_subkeys (path, "alice@example.test", FPR1,
                                    FPR2 " " FPR64, "never", 5, NULL, NULL),
         GPG_ERR_INV_DATA);
  T_ERR (pani_registry_set_subkeys (path, "alice@example.test", FPR1,
                                    FPR2 " " FPR64, NULL, 5, NULL, NULL),
         0);
  r = load_get (path, &reg, 0);
  T_STREQ (r ? r->subkeys : NULL, FPR2 " " FPR64);
  T_CHECK (r && !r->subkey_expiry);
  pan_registry_release (reg);
  T_ERR (pani_registry_set_subkeys (path, "alice@example.test", FPR1,
                                    FPR64 " " FPR2,
                                    "never 2027-01-05T10:00:00Z", 5, NULL,
                                    NULL),
         0);
  r = load_get (path, &reg, 0);
  T_STREQ (r ? r->subkeys : NULL, FPR64 " " FPR2);
  T_STREQ (r ? r->subkey_expiry : NULL, "never 2027-01-05T10:00:00Z");
  pan_registry_release (reg);
  unlink (path);
}

#define VERDICT \
  "0123456789abcdef 2026-11-24T23:18:43Z never never u ok ed25519 255"

/* A record's "key-state": parsed, written back as it was, refused
 * unless exactly so; only for OpenPGP; "key-policy" only with it.  */
static void
test_verdicts (void)
{
  static const char *const bad[] = {
    VERDICT,
    VERDICT " cv25519 ",
    "0123456789ABCDEF 2026-11-24T23:18:43Z never never u ok ed25519 255 -",
    "0123456789abcdef never never never u ok ed25519 255 -",
    "0123456789abcdef - - never u ok ed25519 255 -",
    "0123456789abcdef - never ux ok ed25519 255 -",
    "0123456789abcdef - never never ux ok ed25519 255 -",
    "0123456789abcdef - never never u OK ed25519 255 -",
    "0123456789abcdef - never never u ok ed25519 0255 -",
    "0123456789abcdef - never never u ok ed25519 65536 -",
    "0123456789abcdef - never never u ok ed25519 255 - 0123",
    "0123456789abcdef - never never u ok ed25519 255 - " FPR1 "  " FPR2,
    "0123456789abcdef - never never u unknown ed25519 255 -",
  };
  struct pani_key_verdict v;
  pan_registry_t reg;
  char *out = NULL, *reason = NULL;

  T_ERR (pani_registry_verdict_parse (VERDICT " cv25519", &v), 0);
  T_CHECK (v.usable && !v.revoked && !v.expired && !v.expires
           && !v.primary_expires);
  T_CHECK (v.created == T0 && v.bits == 255 && v.policy == PAN_SEVERITY_OK);
  T_STREQ (v.enc_algorithm, "cv25519");
  T_STREQ (v.unpinned, "");
  T_ERR (pani_registry_verdict_parse ("0123456789abcdef - "
                                      "2026-11-24T23:18:43Z never"
                                      " rx critical rsa1024 1024 - " FPR1
                                      " " FPR64,
                                      &v),
         0);
  T_CHECK (v.revoked && v.expired && !v.usable && !v.expires);
  T_CHECK (v.primary_expires == T0);
  T_CHECK (v.policy == PAN_SEVERITY_CRITICAL && !*v.enc_algorithm);
  T_STREQ (v.unpinned, FPR1 " " FPR64);
  T_CHECK (pani_registry_pinned (v.unpinned, FPR64));
  T_ERR (pani_registry_verdict_format (&v, &out), 0);
  T_STREQ (out,
           "0123456789abcdef - 2026-11-24T23:18:43Z never rx critical"
           " rsa1024 1024 - " FPR1 " " FPR64);
  free (out);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    T_ERR (pani_registry_verdict_parse (bad[i], &v), GPG_ERR_INV_DATA);
  reg = parse (STANZA ("a@example.test", "openpgp", FPR1, "x",
                       "active") "key-state " VERDICT " cv25519\n"
                                 "key-policy a reason\n",
               &reason);
  T_STREQ (reg ? pan_registry_get (reg, 0)->key_policy : NULL, "a reason");
  out = reg ? write_to_string (reg) : NULL;
  T_CHECK (out && strstr (out, "\nkey-state " VERDICT " cv25519\n"));
  free (out);
  pan_registry_release (reg);
  BAD (STANZA ("a@example.test", "openpgp", FPR1, "x",
               "active") "key-state " VERDICT "\n",
       GPG_ERR_INV_DATA, 7);
  BAD (STANZA ("a@example.test", "smime", FPR1, "x",
               "active") "key-state " VERDICT " -\n",
       GPG_ERR_INV_DATA, 1);
  BAD (STANZA ("a@example.test", "openpgp", FPR1, "x",
               "active") "key-policy a reason\n",
       GPG_ERR_INV_DATA, 1);
}

/* pani_registry_set_pins: the verdict goes with the pins, and goes
 * when the caller gives none.  */
static void
test_set_pins (const char *path)
{
  struct pan_recipient rec, want;
  pan_registry_t reg = NULL;
  const struct pan_recipient *r;

  unlink (path);
  make_rec (&rec, "alice@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  memset (&want, 0, sizeof want);
  want.address = (char *)"alice@example.test";
  want.fingerprint = (char *)FPR1;
  want.subkeys = (char *)FPR2;
  want.key_state = (char *)VERDICT " -";
  want.key_policy = (char *)"why";
  T_ERR (pani_registry_set_pins (path, &want, 5, NULL, NULL), 0);
  r = load_get (path, &reg, 0);
  T_STREQ (r ? r->key_state : NULL, VERDICT " -");
  T_STREQ (r ? r->key_policy : NULL, "why");
  pan_registry_release (reg);
  want.key_state = (char *)VERDICT;
  T_ERR (pani_registry_set_pins (path, &want, 5, NULL, NULL),
         GPG_ERR_INV_DATA);
  want.key_state = want.key_policy = NULL;
  T_ERR (pani_registry_set_pins (path, &want, 5, NULL, NULL), 0);
  r = load_get (path, &reg, 0);
  T_CHECK (r && !r->key_state && !r->key_policy);
  pan_registry_release (reg);
  unlink (path);
}

/* An update whose hook names the registry the caller checked is
 * refused, and writes nothing, once the file is not that one any more
 * (an edit made behind the caller's back is not taken into it).  */
static void
test_expect (const char *dir)
{
  char *path = malloc (strlen (dir) + 20), *before, *after, hex[65];
  unsigned char digest[32];
  struct pani_registry_hook hook = { NULL, NULL, NULL, NULL };
  struct pan_recipient rec;
  char *reason = NULL;

  sprintf (path, "%s/expect", dir);
  make_rec (&rec, "first@example.test", FPR1);
  T_ERR (pani_registry_add (path, &rec, 5, NULL, NULL), 0);
  if (!(before = slurp (path)))
    {
      T_CHECK (!"no registry");
      free (path);
      return;
    }
  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, before, strlen (before));
  pani_bin2hex (digest, sizeof digest, hex);
  hook.expect_sha256 =
    "0000000000000000000000000000000000000000000000000000000000000000";
  make_rec (&rec, "expect@example.test",
            "FEDCBA9876543210FEDCBA9876543210FEDCBA98");
  T_ERR (pani_registry_add (path, &rec, 5, &hook, &reason),
         GPG_ERR_BAD_DATA);
  T_CHECK (reason && strstr (reason, "was changed while this command ran"));
  after = slurp (path);
  T_STREQ (after ? after : "", before);
  free (after);
  pan_free (reason);
  hook.expect_sha256 = hex;
  T_ERR (pani_registry_add (path, &rec, 5, &hook, NULL), 0);
  after = slurp (path);
  T_CHECK (after && strstr (after, "expect@example.test") != NULL);
  free (after);
  free (before);
  T_CHECK (!unlink (path));
  strcat (path, ".lock");
  unlink (path);
  free (path);
}

int
main (void)
{
  char dir[] = "/tmp/t-registry.XXXXXX";
  char *lock;

  test_names ();
  test_parse_good ();
  test_parse_layout ();
  test_round_trip ();
  test_errors_structure ();
  test_errors_syntax ();
  test_errors_values ();
  test_reasons ();
  test_lookup ();
  test_addr_same ();
  test_fpr_normalize ();
  test_uid_address ();
  test_address_case ();
  test_changes_parse ();
  test_reasons_valid ();
  test_subkeys_parse ();
  test_subkeys_errors ();
  test_verdicts ();
  if (!mkdtemp (dir))
    {
      perror ("mkdtemp");
      return 1;
    }
  test_add (dir);
  test_add_timeout (dir);
  test_add_concurrent (dir);
  test_expect (dir);
  lock = malloc (strlen (dir) + 20);
  sprintf (lock, "%s/registry", dir);
  test_rotate (lock);
  test_set_status (lock);
  test_set_subkeys (lock);
  test_set_pins (lock);
  free (lock);
  lock = malloc (strlen (dir) + 20);
  sprintf (lock, "%s/registry.lock", dir);
  unlink (lock);
  free (lock);
  T_CHECK (!rmdir (dir));
  return t_done ("t-registry");
}
