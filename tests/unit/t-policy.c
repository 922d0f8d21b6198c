/* t-policy.c - unit tests of the algorithm policy and the colons parser */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "t-support.h"
#include "policy-int.h"

#define FPR "77D93EA874892351177646BC7E6C049659DAF1AF"
#define PUB                                                             \
  "pub:-:255:22:7E6C049659DAF1AF:1795565090:1827101090::u:::scESC:::::" \
  "ed25519:::0:\nfpr:::::::::" FPR ":\n"
#define UID(v, name) "uid:" v "::::1795565090::0C54::" name "::::::::::0:\n"
#define SUB(v)                                                         \
  "sub:" v ":255:18:97756050211649AC:1795565094:1827101094:::::e:::::" \
  "cv25519::\nfpr:::::::::6717B4DF123BF9FF175418E097756050211649AC:\n"
#define SIG(v, keyid, t, cls, hash) \
  "sig:" v "::22:" keyid ":" t "::::x:" cls "::" FPR ":::" hash ":\n"
#define SELF "7E6C049659DAF1AF"

/* Check the verdict of the algorithm policy with the defaults.  */
static void
algo (const char *name, unsigned int bits, const char *curve,
      pan_severity_t want, const char *needle, int line)
{
  char *reason = NULL;
  pan_severity_t got = pani_policy_check_algo (NULL, name, bits, curve,
                                               &reason);
  int ok = got == want
    && (want == PAN_SEVERITY_OK ? !reason
                                : reason && strstr (reason, needle) != NULL);

  t_check (ok, "algorithm policy", __FILE__, line);
  if (!ok)
    fprintf (stderr, "    %s/%u/%s: got %d (%s), want %d\n", name, bits,
             curve ? curve : "-", got, reason ? reason : "-", want);
  pan_free (reason);
}

static void
test_algorithms (void)
{
  algo ("rsa", 1024, NULL, PAN_SEVERITY_CRITICAL, "min-rsa-bits 2048",
        __LINE__);
  algo ("rsa", 2047, NULL, PAN_SEVERITY_CRITICAL, "min-rsa-bits", __LINE__);
  algo ("rsa", 2048, NULL, PAN_SEVERITY_WARNING, "warn-rsa-bits 3072",
        __LINE__);
  algo ("rsa", 3072, NULL, PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("RSA", 4096, NULL, PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("dsa", 3072, NULL, PAN_SEVERITY_CRITICAL, "DSA", __LINE__);
  algo ("elg", 4096, NULL, PAN_SEVERITY_CRITICAL, "ElGamal", __LINE__);
  algo ("eddsa", 255, "ed25519", PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("ecdh", 255, "cv25519", PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("ecdsa", 256, "nistp256", PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("ecdh", 384, "brainpoolP384r1", PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("ecdh", 384, "BRAINPOOLP384R1", PAN_SEVERITY_OK, NULL, __LINE__);
  algo ("ecdsa", 256, "secp256k1", PAN_SEVERITY_CRITICAL, "allowed-curves",
        __LINE__);
  algo ("ecdsa", 256, "nistp25", PAN_SEVERITY_CRITICAL, "allowed-curves",
        __LINE__);
  algo ("ecdh", 256, NULL, PAN_SEVERITY_CRITICAL, "curve", __LINE__);
  algo ("kyber", 768, NULL, PAN_SEVERITY_CRITICAL, "not allowed", __LINE__);
  algo (NULL, 0, NULL, PAN_SEVERITY_CRITICAL, "not allowed", __LINE__);
  T_CHECK (pani_policy_check_algo (NULL, "dsa", 2048, NULL, NULL)
           == PAN_SEVERITY_CRITICAL);
}

static void
test_digests (void)
{
  char *reason = NULL;

  T_CHECK (pani_policy_check_digest (8, &reason) == PAN_SEVERITY_OK);
  T_CHECK (!reason);
  T_CHECK (pani_policy_check_digest (10, NULL) == PAN_SEVERITY_OK);
  T_CHECK (pani_policy_check_digest (11, NULL) == PAN_SEVERITY_OK);
  T_CHECK (pani_policy_check_digest (2, &reason) == PAN_SEVERITY_CRITICAL);
  T_CHECK (reason && strstr (reason, "SHA-1"));
  pan_free (reason);
  T_CHECK (pani_policy_check_digest (1, NULL) == PAN_SEVERITY_CRITICAL);
  T_CHECK (pani_policy_check_digest (3, NULL) == PAN_SEVERITY_CRITICAL);
  T_CHECK (pani_policy_check_digest (0, NULL) == PAN_SEVERITY_CRITICAL);
  T_CHECK (pani_policy_check_digest (99, NULL) == PAN_SEVERITY_CRITICAL);
}

/* Parse TEXT for FPR; check the result.  */
static void
colons (const char *text, int want_code, int want_algo,
        const char *want_where, int line)
{
  char *where = NULL, *reason = NULL;
  int got = -1;
  gpg_error_t err;
  int ok;

  err = pani_policy_parse_colons (text, strlen (text), FPR, &got, &where,
                                  &reason);
  ok = (int)gpg_err_code (err) == want_code
    && (err ? !where && got == 0 && reason
            : got == want_algo && where && !strcmp (where, want_where));
  t_check (ok, "colons parser", __FILE__, line);
  if (!ok)
    fprintf (stderr, "    got err %d algo %d where %s reason %s\n",
             gpg_err_code (err), got, where ? where : "-",
             reason ? reason : "-");
  pan_free (where);
  pan_free (reason);
}

static void
test_colons (void)
{
  colons (PUB UID ("-", "A") SIG ("!", SELF, "100", "13x", "8") SUB ("-")
            SIG ("!", SELF, "100", "18x", "10"),
          0, 8, "user ID #1", __LINE__);
  colons (PUB UID ("-", "A") SIG ("!", SELF, "100", "13x", "8") SUB ("-")
            SIG ("!", SELF, "100", "18x", "2"),
          0, 2, "subkey 97756050211649AC", __LINE__);
  /* The newest self-signature counts.  */
  colons (PUB UID ("-", "A") SIG ("!", SELF, "100", "13x", "2")
            SIG ("!", SELF, "200", "13x", "8"),
          0, 8, "user ID #1", __LINE__);
  colons (PUB UID ("-", "A") SIG ("!", SELF, "200", "13x", "2")
            SIG ("!", SELF, "100", "13x", "8"),
          0, 2, "user ID #1", __LINE__);
  /* Bad signatures, others' signatures and revoked parts do not.  */
  colons (PUB UID ("-", "A") SIG ("!", SELF, "100", "13x", "8")
            SIG ("-", SELF, "200", "13x", "2")
              SIG ("!", "0123456789ABCDEF", "300", "10x", "2"),
          0, 8, "user ID #1", __LINE__);
  colons (PUB UID ("r", "Old") SIG ("!", SELF, "100", "13x", "2")
            UID ("-", "New") SIG ("!", SELF, "100", "13x", "9"),
          0, 9, "user ID #2", __LINE__);
  colons (PUB UID ("-", "A") SIG ("!", SELF, "100", "13x", "8") SUB ("e")
            SIG ("!", SELF, "100", "18x", "2"),
          0, 8, "user ID #1", __LINE__);
  colons (PUB SIG ("!", SELF, "100", "1Fx", "3") UID ("-", "A")
            SIG ("!", SELF, "100", "13x", "8"),
          0, 3, "the primary key", __LINE__);
  /* Another key's listing, no self-signature, nothing: no data.  */
  colons ("pub:-:255:22:0123456789ABCDEF:1:2::u\n"
          "fpr:::::::::0123456789ABCDEF0123456789ABCDEF01234567:\n" UID ("-",
                                                                         "A")
            SIG ("!", "0123456789ABCDEF", "1", "13x", "8"),
          GPG_ERR_NO_DATA, 0, NULL, __LINE__);
  colons (PUB UID ("-", "A"), GPG_ERR_NO_DATA, 0, NULL, __LINE__);
  colons ("", GPG_ERR_NO_DATA, 0, NULL, __LINE__);
  colons ("garbage\n\n:::\n", GPG_ERR_NO_DATA, 0, NULL, __LINE__);
  /* Malformed.  */
  colons ("pub:-:255:22:XYZ:\n", GPG_ERR_INV_DATA, 0, NULL, __LINE__);
  colons (PUB UID ("-", "A") SIG ("!", SELF, "soon", "13x", "8"),
          GPG_ERR_INV_DATA, 0, NULL, __LINE__);
  colons (PUB UID ("-", "A") SIG ("!", SELF, "1", "13x", "256"),
          GPG_ERR_INV_DATA, 0, NULL, __LINE__);
  colons ("sec:-:255:22:" SELF ":1:2::u\n", GPG_ERR_INV_DATA, 0, NULL,
          __LINE__);
  /* CRLF line ends are accepted.  */
  colons ("pub:-:255:22:" SELF ":1:2::u\r\nfpr:::::::::" FPR ":\r\n"
          "uid:-::::1::X::A:\r\nsig:!::22:" SELF ":5::::x:13x:::::10:\r\n",
          0, 10, "user ID #1", __LINE__);
}

static void
test_settings (void)
{
  int a = 7;

  T_ERR (pani_policy_parse_colons ("", 0, FPR, &a, NULL, NULL),
         GPG_ERR_NO_DATA);
  T_CHECK (a == 0);
  T_CHECK (pan_policy_warn_days (NULL) == 30);
  T_CHECK (pani_policy_cryptoperiod_days (NULL) == 365);
  T_STREQ (pan_severity_name (PAN_SEVERITY_OK), "OK");
  T_STREQ (pan_severity_name (PAN_SEVERITY_WARNING), "WARNING");
  T_STREQ (pan_severity_name (PAN_SEVERITY_CRITICAL), "CRITICAL");
  T_STREQ (pan_severity_name (PAN_SEVERITY_UNKNOWN), "UNKNOWN");
}

int
main (void)
{
  test_algorithms ();
  test_digests ();
  test_colons ();
  test_settings ();
  return t_done ("t-policy");
}
