/* t-review.c - unit tests of the key-state classification, the review
 * of trusted CAs and the requests the lifecycle transactions refuse
 * before they touch a home.  Links the library's sources to reach
 * pani_review_classify.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "review-int.h"
#include "keys-int.h"
#include "t-support.h"

#define NOW ((time_t)1800000000)
#define DAY 86400

/* A key that can encrypt, expiring at EXPIRES (0: never).  */
static struct pan_key_status
good_key (time_t expires)
{
  struct pan_key_status st;

  memset (&st, 0, sizeof st);
  st.info.present = 1;
  st.info.usable = 1;
  st.info.expires = expires;
  return st;
}

/* Classify ST of an active enrollment with 30 warn days; check the
 * key state, the expiring flag and the days.  */
static void
classify (struct pan_key_status st, pan_key_state_t want, int expiring,
          long days, int line)
{
  int ok;

  pani_review_classify (&st, PAN_STATUS_ACTIVE, 1, NOW, 30);
  ok = st.key == want && st.state == want && st.expiring == expiring
    && st.days == days;
  t_check (ok, "key state", __FILE__, line);
  if (!ok)
    fprintf (stderr,
             "    got %s (expiring %d, %ld days), want %s (%d, %ld)\n",
             pan_review_state_name (st.key), st.expiring, st.days,
             pan_review_state_name (want), expiring, days);
}

static void
test_key_states (void)
{
  struct pan_key_status st;

  classify (good_key (0), PAN_KEY_OK, 0, 0, __LINE__);
  classify (good_key (NOW + 400 * DAY), PAN_KEY_OK, 0, 400, __LINE__);
  classify (good_key (NOW + 30 * DAY), PAN_KEY_EXPIRING, 1, 30, __LINE__);
  classify (good_key (NOW + 30 * DAY + 1), PAN_KEY_OK, 0, 31, __LINE__);
  classify (good_key (NOW + 1), PAN_KEY_EXPIRING, 1, 1, __LINE__);
  classify (good_key (NOW), PAN_KEY_EXPIRED, 0, 0, __LINE__);
  classify (good_key (NOW - DAY - 1), PAN_KEY_EXPIRED, 0, -1, __LINE__);
  st = good_key (NOW + 10 * DAY);
  st.info.policy = PAN_SEVERITY_CRITICAL;
  classify (st, PAN_KEY_WEAK, 1, 10, __LINE__);
  st.info.policy = PAN_SEVERITY_WARNING;
  classify (st, PAN_KEY_EXPIRING, 1, 10, __LINE__);
  st.info.usable = 0;
  classify (st, PAN_KEY_UNUSABLE, 0, 10, __LINE__);
  st.info.expired = 1;
  classify (st, PAN_KEY_EXPIRED, 0, 10, __LINE__);
  st.info.revoked = 1;
  classify (st, PAN_KEY_REVOKED, 0, 10, __LINE__);
  st = good_key (0);
  st.info.present = 0;
  st.err = gpg_error (GPG_ERR_NO_PUBKEY);
  classify (st, PAN_KEY_MISSING, 0, 0, __LINE__);
  st.err = gpg_error (GPG_ERR_EIO);
  classify (st, PAN_KEY_UNKNOWN, 0, 0, __LINE__);
}

/* The state of an enrollment that ended is that of the record; the key
 * keeps its own.  */
static void
test_ended (void)
{
  struct pan_key_status st = good_key (NOW + 5 * DAY);

  pani_review_classify (&st, PAN_STATUS_REVOKED, 1, NOW, 30);
  T_CHECK (st.state == PAN_KEY_REVOKED && st.key == PAN_KEY_EXPIRING);
  pani_review_classify (&st, PAN_STATUS_RETIRED, 1, NOW, 30);
  T_CHECK (st.state == PAN_KEY_RETIRED && st.key == PAN_KEY_EXPIRING);
  st = good_key (0);
  st.info.present = 0;
  pani_review_classify (&st, PAN_STATUS_RETIRED, 0, NOW, 30);
  T_CHECK (st.state == PAN_KEY_RETIRED && st.key == PAN_KEY_UNCHECKED);
  T_CHECK (!st.expiring);
}

static void
test_names (void)
{
  T_STREQ (pan_review_state_name (PAN_KEY_OK), "ok");
  T_STREQ (pan_review_state_name (PAN_KEY_EXPIRING), "expiring");
  T_STREQ (pan_review_state_name (PAN_KEY_WEAK), "weak");
  T_STREQ (pan_review_state_name (PAN_KEY_UNUSABLE), "unusable");
  T_STREQ (pan_review_state_name (PAN_KEY_EXPIRED), "expired");
  T_STREQ (pan_review_state_name (PAN_KEY_REVOKED), "revoked");
  T_STREQ (pan_review_state_name (PAN_KEY_MISSING), "missing");
  T_STREQ (pan_review_state_name (PAN_KEY_UNKNOWN), "unknown");
  T_STREQ (pan_review_state_name (PAN_KEY_RETIRED), "retired");
  T_STREQ (pan_review_state_name (PAN_KEY_UNCHECKED), "unchecked");
}

/* What the findings of one review were.  */
struct seen
{
  int n;
  char check[32];
  char text[128];
  const struct pan_smime_ca *ca;
  gpg_error_t stop;
};

static gpg_error_t
on_finding (void *opaque, const struct pan_key_finding *f)
{
  struct seen *s = opaque;

  s->n++;
  snprintf (s->check, sizeof s->check, "%s", f->check);
  snprintf (s->text, sizeof s->text, "%s", f->text);
  s->ca = f->ca;
  return s->stop;
}

/* Review CA with 30 warn days; check the one finding (CHECK NULL:
 * none) and the worst severity.  */
static void
ca (const struct pan_smime_ca *c, const char *check, const char *text,
    pan_severity_t worst, int line)
{
  struct seen s;
  pan_severity_t got = 99;
  gpg_error_t err;
  int ok;

  memset (&s, 0, sizeof s);
  err = pan_review_ca (c, NOW, 30, on_finding, &s, &got);
  ok = !err && got == worst
    && (check ? s.n == 1 && !strcmp (s.check, check) && s.ca == c
            && strstr (s.text, text)
              : s.n == 0);
  t_check (ok, "CA review", __FILE__, line);
  if (!ok)
    fprintf (stderr, "    got %d findings (%s: %s), worst %d\n", s.n,
             s.check, s.text, got);
}

static void
test_cas (void)
{
  struct pan_smime_ca c;
  struct seen s;
  pan_severity_t worst;

  memset (&c, 0, sizeof c);
  c.fpr = "2991EECDCE441659F1EE9BF48D306F25F1ED1949";
  c.not_after = NOW + 400 * DAY;
  ca (&c, NULL, NULL, PAN_SEVERITY_OK, __LINE__);
  c.not_after = 0;
  ca (&c, NULL, NULL, PAN_SEVERITY_OK, __LINE__);
  /* Days begun, as for keys (pan_days_until): 5 days and 10 s is 6.  */
  c.not_after = NOW + 5 * DAY + 10;
  ca (&c, "expiring", "expires in 6 days (", PAN_SEVERITY_WARNING, __LINE__);
  c.not_after = NOW;
  ca (&c, "expired", "expired on ", PAN_SEVERITY_CRITICAL, __LINE__);
  c.missing = 1;
  ca (&c, "missing", "not in the keybox", PAN_SEVERITY_CRITICAL, __LINE__);
  /* The callback's error stops the review and is returned.  */
  memset (&s, 0, sizeof s);
  s.stop = gpg_error (GPG_ERR_CANCELED);
  T_ERR (pan_review_ca (&c, NOW, 30, on_finding, &s, &worst),
         GPG_ERR_CANCELED);
}

/* Requests refused before the home is used: the result says where,
 * and can be released.  */
static void
test_requests (void)
{
  struct pan_lifecycle_req req;
  struct pan_lifecycle_result res;
  char *reason = NULL;

  memset (&req, 0, sizeof req);
  req.address = "not an address";
  req.fingerprint = "4ED7BBF6EBB9D5D22E791CF96CE535A5C34E7447";
  T_CHECK (pan_lifecycle_enroll (NULL, &req, &res, &reason) != 0);
  T_CHECK (res.stage == PAN_LIFECYCLE_REQUEST && reason);
  pan_lifecycle_result_release (&res);
  pan_free (reason);

  req.address = "alice@example.test";
  req.fingerprint = "7E6C049659DAF1AF";
  T_ERR (pan_lifecycle_rotate (NULL, &req, &res, &reason),
         GPG_ERR_AMBIGUOUS_NAME);
  T_CHECK (res.stage == PAN_LIFECYCLE_REQUEST);
  T_STREQ (res.address, "alice@example.test");
  pan_lifecycle_result_release (&res);
  pan_free (reason);

  req.fingerprint = NULL;
  T_ERR (pan_lifecycle_trust_ca (NULL, &req, &res, NULL),
         GPG_ERR_MISSING_VALUE);
  T_CHECK (res.stage == PAN_LIFECYCLE_REQUEST && !res.fingerprint);
  pan_lifecycle_result_release (&res);

  /* A well-formed request without a home stops there (it used to reach
   * the home through a NULL context).  */
  req.note = "restored from the backup of 1 November";
  T_ERR (pan_lifecycle_registry_accept (NULL, &req, &res, &reason),
         GPG_ERR_INV_ARG);
  T_CHECK (res.stage == PAN_LIFECYCLE_REQUEST && reason);
  pan_lifecycle_result_release (&res);
  pan_free (reason);
  req.fingerprint = "4ED7BBF6EBB9D5D22E791CF96CE535A5C34E7447";
  T_ERR (pan_lifecycle_enroll (NULL, &req, &res, NULL), GPG_ERR_INV_ARG);
  T_CHECK (res.stage == PAN_LIFECYCLE_REQUEST);
  pan_lifecycle_result_release (&res);
  pan_lifecycle_result_release (NULL);
  pan_review_key_release (NULL);
}

#define SUB1 "1111111111111111111111111111111111111111"
#define SUB2 "2222222222222222222222222222222222222222"

/* Choose the subkey of REC (subkeys SUB2 SUB1, newest first, with the
 * times ENDS) at NOW: want WANT (NULL: GPG_ERR_NO_DATA) and EXPIRES.  */
static void
choose (const char *ends, time_t now, const char *want, time_t expires,
        int line)
{
  struct pan_recipient rec;
  char *sub = NULL;
  time_t got = 1;
  gpg_error_t err;

  memset (&rec, 0, sizeof rec);
  rec.protocol = PAN_PROTOCOL_OPENPGP;
  rec.subkeys = (char *)SUB2 " " SUB1;
  rec.subkey_expiry = (char *)ends;
  err = pani_keys_recorded_subkey (&rec, now, &sub, &got);
  t_check (want ? !err && sub && !strcmp (sub, want) && got == expires
                : gpg_err_code (err) == GPG_ERR_NO_DATA && !sub && !got,
           "recorded subkey", __FILE__, line);
  free (sub);
}

/* pansend's choice of a subkey from the times the registry keeps.  */
static void
test_recorded_subkey (void)
{
  choose ("never never", NOW, SUB2, 0, __LINE__);
  choose ("2027-01-15T08:00:00Z never", NOW, SUB1, 0, __LINE__);
  /* NOW is 2027-01-15T08:00:00Z: a time that has come is over.  */
  choose ("2027-01-15T08:00:01Z 2027-01-20T00:00:00Z", NOW, SUB2,
          NOW + 5 * DAY - 8 * 3600, __LINE__);
  choose ("2027-01-15T08:00:00Z 2027-01-15T07:00:00Z", NOW, NULL, 0,
          __LINE__);
  choose (NULL, NOW, NULL, 0, __LINE__);
}

int
main (void)
{
  test_recorded_subkey ();
  test_key_states ();
  test_ended ();
  test_names ();
  test_cas ();
  test_requests ();
  return t_done ("t-review");
}
