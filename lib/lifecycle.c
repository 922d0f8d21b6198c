/* lifecycle.c - enroll, rotate, refresh, revoke, unenroll, trust a CA
 *
 * Each transaction checks what the registry says, changes the keyring,
 * writes its audit record and only then changes the registry.  A key
 * that is refused, a request the registry refuses (enrolled already, a
 * key revoked before, not enrolled) and a change that fails after its
 * record are recorded as well, each with the exit code pankey gives
 * (pan_lifecycle_exit_code); only a malformed request (a usage error)
 * is not.  pankey(8) is a thin front end to these functions.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "registry-int.h"
#include "audit-int.h"
#include "home-int.h"
#include "smime-trust-int.h"
#include "smime-int.h"
#include "keys-int.h"
#include "engine-int.h"
#include "review-int.h"

/* One transaction under way.  */
struct txn
{
  pan_ctx_t ctx;
  const struct pan_lifecycle_req *req;
  struct pan_lifecycle_result *res;
  const char *event; /* Of its audit records.  */
  char *operator_name;
  time_t now;
  pan_registry_t reg; /* As read before the change.  */
  char *fpr;          /* REQ->FINGERPRINT, normalised.  */
  const void *data;   /* The key material.  */
  size_t len;
  char *subkeys;          /* The OpenPGP encryption keys to pin,  */
  char *subkey_expiry;    /* and when each can no longer encrypt.  */
  char *key_state;        /* The verdict on the key to record, and  */
  char *key_policy;       /* the policy's reason (keys-verdict.c).  */
  int stamp_ok;           /* The keyring was as its stamp says.  */
  const char *new_sha256; /* Of the registry about to be saved.  */
  char read_sha256[65];   /* Of the registry as checked and read, or
                             as this T saved it ("": not read).  */
  char saving_sha256[65]; /* Of the registry being saved.  */
  int exit_code;          /* Of the next record.  */
  int recorded;           /* Its stop is recorded.  */
};

/* True if T's change is of the keyring (else of the registry).  */
static int
is_keyring_change (const struct txn *t)
{
  return !strcmp (t->event, "refresh");
}

/* What begin needs of a request.  */
#define NEED_ADDRESS 1
#define NEED_FPR 2
#define NEED_REGISTRY 4

/* Note that T stopped at STAGE and return ERR.  */
static gpg_error_t
stop (struct txn *t, pan_lifecycle_stage_t stage, gpg_error_t err)
{
  t->res->stage = stage;
  return err;
}

static gpg_error_t
read_registry (struct txn *t, char **r_reason)
{
  gpg_error_t err;

  /* The bytes checked are the bytes used.  */
  err = pani_review_load_recorded (t->ctx, &t->reg, t->read_sha256,
                                   r_reason);
  return err ? stop (t, PAN_LIFECYCLE_REGISTRY, err) : 0;
}

/* Name T's address as the registry has it (bob@example.net for
 * Bob@example.net, under address-case insensitive): the registry, the
 * audit log and the messages keep the address as enrolled.  An active
 * enrollment is not renamed by enroll: check_not_enrolled refuses.  */
static gpg_error_t
enrolled_spelling (struct txn *t)
{
  struct pan_lifecycle_result *res = t->res;
  const struct pan_recipient *rec;
  char *copy;

  rec = pani_registry_lookup_any (t->reg, res->address);
  if (!rec || !strcmp (rec->address, res->address)
      || (rec->status == PAN_STATUS_ACTIVE && !strcmp (t->event, "enroll")))
    return 0;
  if (!(copy = pani_strdup (rec->address)))
    return gpg_error_from_syserror ();
  free (res->address);
  res->address = copy;
  return 0;
}

/* Start the transaction T of EVENT for REQ: check and normalise what
 * NEED says it needs, read the registry if it needs it.  */
static gpg_error_t
begin (struct txn *t, pan_ctx_t ctx, const struct pan_lifecycle_req *req,
       struct pan_lifecycle_result *res, const char *event,
       unsigned int need, char **r_reason)
{
  gpg_error_t err;

  memset (t, 0, sizeof *t);
  memset (res, 0, sizeof *res);
  t->ctx = ctx;
  t->req = req;
  t->res = res;
  t->event = event;
  t->now = req->now ? req->now : time (NULL);
  res->protocol = req->protocol ? req->protocol : PAN_PROTOCOL_OPENPGP;
  t->operator_name = pani_strdup (req->operator_name ? req->operator_name
                                                     : pani_login_user ());
  if (!t->operator_name)
    return gpg_error_from_syserror ();
  if ((need & NEED_ADDRESS)
      && (err = pan_addr_normalize (req->address ? req->address : "",
                                    &res->address, r_reason)))
    return stop (t, PAN_LIFECYCLE_REQUEST, err);
  if (req->fingerprint
      && (err = pan_fpr_normalize (req->fingerprint, &t->fpr, r_reason)))
    return stop (t, PAN_LIFECYCLE_REQUEST, err);
  if ((need & NEED_FPR) && !t->fpr)
    return stop (t, PAN_LIFECYCLE_REQUEST,
                 pani_reason (r_reason, gpg_error (GPG_ERR_MISSING_VALUE),
                              "no fingerprint given"));
  if (!ctx) /* A request checked without a home: it goes no further.  */
    {
      err = gpg_error (GPG_ERR_INV_ARG);
      pani_reason (r_reason, err, "no panmail home given");
      return stop (t, PAN_LIFECYCLE_REQUEST, err);
    }
  if ((need & NEED_REGISTRY) && (err = read_registry (t, r_reason)))
    return err;
  return (need & NEED_ADDRESS) && t->reg ? enrolled_spelling (t) : 0;
}

/* End T with ERR and REASON: hand REASON over on error, release what
 * T holds.  */
static gpg_error_t
finish (struct txn *t, gpg_error_t err, char *reason, char **r_reason)
{
  if (err && t->res->stage == PAN_LIFECYCLE_DONE)
    t->res->stage = PAN_LIFECYCLE_SYSTEM;
  if (err && r_reason)
    {
      *r_reason = reason;
      reason = NULL;
    }
  free (reason);
  free (t->operator_name);
  free (t->fpr);
  free (t->subkeys);
  free (t->subkey_expiry);
  free (t->key_state);
  free (t->key_policy);
  pan_registry_release (t->reg);
  return err;
}

/* Get the key material of T: from the request or its reader.  */
static gpg_error_t
read_key (struct txn *t, char **r_reason)
{
  const struct pan_lifecycle_req *req = t->req;
  long maxlen = pan_config_get_int (pan_ctx_config (t->ctx), "max-key-size");
  gpg_error_t err = 0;

  t->data = req->data;
  t->len = req->len;
  if (!req->data && !req->read_key)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                       "no key material given");
  else if (!req->data)
    err = req->read_key (req->read_key_opaque, maxlen, &t->data, &t->len);
  else if (req->len > (size_t)maxlen)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                       "the key material is larger than max-key-size (%ld"
                       " bytes)",
                       maxlen);
  return err ? stop (t, PAN_LIFECYCLE_INPUT, err) : 0;
}


/*
 * Audit records.
 */

/* Append the record of T's event about KEYS/NKEYS with OUTCOME and
 * REASON (may be NULL).  */
static gpg_error_t
record (struct txn *t, const struct pan_audit_key *keys, size_t nkeys,
        const char *outcome, const char *reason, char **r_reason)
{
  struct pan_audit_event ev;
  char now[65], *why = NULL;
  gpg_error_t err;

  memset (&ev, 0, sizeof ev);
  pani_review_record_registry (t->ctx, t->new_sha256, t->read_sha256, now,
                               &ev);
  ev.exit_code = t->exit_code;
  ev.event = t->event;
  ev.tool = t->req->tool ? t->req->tool : "pankey";
  ev.operator_name = t->operator_name;
  ev.keys = keys;
  ev.nkeys = nkeys;
  ev.outcome = outcome;
  ev.reason = reason;
  /* The change a bundle asked for names the bundle.  */
  if (t->req->context
      && !(ev.reason = why = pani_strdupf ("%s%s%s", t->req->context,
                                           reason ? ": " : "",
                                           reason ? reason : "")))
    return gpg_error_from_syserror ();
  err = pan_audit_append (t->ctx, &ev, time (NULL), r_reason);
  free (why);
  return err;
}

/* Record that T goes ahead with WHY; its change comes next.  */
static gpg_error_t
record_ok (struct txn *t, const struct pan_audit_key *keys, size_t nkeys,
           const char *why, char **r_reason)
{
  gpg_error_t err = record (t, keys, nkeys, "ok", why, r_reason);

  return err ? stop (t, PAN_LIFECYCLE_AUDIT, err) : 0;
}

/* Record that T stopped at STAGE (the key refused, or the change
 * failed) with ERR for WHY, and return ERR.  A record that cannot be
 * written either is noted in T's result.  */
static gpg_error_t
record_stop (struct txn *t, pan_lifecycle_stage_t stage, gpg_error_t err,
             const struct pan_audit_key *keys, size_t nkeys, const char *why)
{
  struct pan_lifecycle_result *res = t->res;

  t->exit_code = pan_lifecycle_exit_code (stage, err, is_keyring_change (t));
  res->record_err = record (t, keys, nkeys,
                            stage == PAN_LIFECYCLE_KEY ? "refused"
                                                       : "failed",
                            why, &res->record_reason);
  t->recorded = 1;
  return stop (t, stage, err);
}

/* Record the refusal of T by the registry (ERR for WHY: enrolled
 * already, a key revoked before, not enrolled), naming the key: with
 * the refused key and the failures after the record, every refusal but
 * a malformed request (a usage error, exit 64) is in the log.  */
static void
record_refusal (struct txn *t, gpg_error_t err, const char *why)
{
  struct pan_lifecycle_result *res = t->res;
  struct pan_audit_key key = { .address = res->address,
                               .protocol = res->protocol,
                               .fingerprint = t->fpr };
  pan_lifecycle_stage_t stage = res->stage;

  if (t->recorded || stage != PAN_LIFECYCLE_STATE || !t->ctx)
    return;
  /* No key given: name the address's newest key, if it had one.  */
  for (size_t i = 0;
       !t->fpr && res->address && t->reg && i < pan_registry_count (t->reg);
       i++)
    if (pan_addr_same (pan_ctx_config (t->ctx),
                       pan_registry_get (t->reg, i)->address, res->address))
      {
        key.protocol = pan_registry_get (t->reg, i)->protocol;
        key.fingerprint = pan_registry_get (t->reg, i)->fingerprint;
      }
  t->exit_code = pan_lifecycle_exit_code (stage, err, 0);
  res->record_err = record (t, &key, res->address && key.fingerprint,
                            "refused", why ? why : gpg_strerror (err),
                            &res->record_reason);
  t->recorded = 1;
}


/*
 * Checks of the registry.
 */

/* Refuse T's new key if the registry has it revoked: a key revoked
 * once is never pinned again.  */
static gpg_error_t
check_never_revoked (struct txn *t, char **r_reason)
{
  /* XXX registry.c applies the same rule under its lock; this check
   * runs before the key is imported, so that a refusal leaves the
   * keyring and the audit log as they were.  */
  for (size_t i = 0; i < pan_registry_count (t->reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (t->reg, i);

      if (rec->status == PAN_STATUS_REVOKED
          && !strcmp (rec->fingerprint, t->fpr))
        return stop (t, PAN_LIFECYCLE_STATE,
                     pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                                  "key %s was revoked for %s (%s); it cannot"
                                  " be enrolled again: ask for a new key",
                                  t->fpr, rec->address,
                                  rec->reason ? rec->reason
                                              : "no reason given"));
    }
  return 0;
}

/* Refuse if T's address has an active enrollment or its key was
 * revoked.  */
static gpg_error_t
check_not_enrolled (struct txn *t, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_registry_check_new (t->reg, t->res->address, r_reason)))
    return stop (t, PAN_LIFECYCLE_STATE, err);
  return check_never_revoked (t, r_reason);
}

/* Describe REC, the record T changes, in T's result.  */
static gpg_error_t
take_record (struct txn *t, const struct pan_recipient *rec)
{
  struct pan_lifecycle_result *res = t->res;

  if (!rec) /* Callers found it; said for analysers.  */
    return gpg_error (GPG_ERR_NOT_FOUND);
  res->protocol = rec->protocol;
  res->old_status = rec->status;
  if (!(res->fingerprint = pani_strdup (rec->fingerprint)))
    return gpg_error_from_syserror ();
  return 0;
}

/* Store at *R_REC the active record of T's address.  */
static gpg_error_t
find_active (struct txn *t, const struct pan_recipient **r_rec,
             char **r_reason)
{
  const char *addr = t->res->address;

  if (!(*r_rec = pani_registry_lookup (t->reg, addr)))
    return stop (t, PAN_LIFECYCLE_STATE,
                 pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                              "%s has no active enrollment (see 'pankey"
                              " show %s')",
                              addr, addr));
  return 0;
}

/* Store at *R_REC the record revoke changes: the address's record
 * with T's fingerprint (the active one, else the newest), else with
 * no fingerprint given the active one.  */
static gpg_error_t
find_revoked (struct txn *t, const struct pan_recipient **r_rec,
              char **r_reason)
{
  const char *addr = t->res->address;
  const struct pan_recipient *rec = pani_registry_lookup (t->reg, addr);
  const struct pan_recipient *last = NULL;

  if (t->fpr && rec && strcmp (rec->fingerprint, t->fpr))
    rec = NULL;
  for (size_t i = 0; t->fpr && !rec && i < pan_registry_count (t->reg); i++)
    {
      const struct pan_recipient *r = pan_registry_get (t->reg, i);

      if (pan_addr_same (pan_ctx_config (t->ctx), r->address, addr)
          && !strcmp (r->fingerprint, t->fpr))
        last = r;
    }
  if (!(*r_rec = rec ? rec : last))
    return stop (t, PAN_LIFECYCLE_STATE,
                 pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                              "%s has no %s%s (see 'pankey show %s')", addr,
                              t->fpr ? "enrollment with key "
                                     : "active enrollment",
                              t->fpr ? t->fpr : "", addr));
  return 0;
}


/*
 * Changes of the keyring and the registry.
 */

/* Import T's new key for its address from the key material; for
 * S/MIME the registry pins the SHA-1 fingerprint, also when the
 * operator gave the SHA-256 one.  A refusal is recorded.  */
static gpg_error_t
import_key (struct txn *t, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  struct pan_audit_key key = { .address = res->address,
                               .protocol = res->protocol,
                               .fingerprint = t->fpr };
  char *sha1 = NULL, *unpinned = NULL;
  time_t pexp = 0;
  gpg_error_t err;

  if ((err = read_key (t, r_reason)))
    return err;
  if (res->protocol == PAN_PROTOCOL_SMIME)
    err = pani_smime_enroll (t->ctx, res->address, t->fpr, t->data, t->len,
                             t->now, &sha1, r_reason);
  else
    err = pani_keys_import_openpgp (t->ctx, res->address, t->fpr, t->data,
                                    t->len, t->now, &t->subkeys,
                                    &t->subkey_expiry, &res->key, &pexp,
                                    &unpinned, r_reason);
  if (err)
    {
      free (unpinned);
      return record_stop (t, PAN_LIFECYCLE_KEY, err, &key, 1,
                          *r_reason ? *r_reason : gpg_strerror (err));
    }
  /* The verdict goes into the record; without it the reports ask gpg. */
  if (res->protocol == PAN_PROTOCOL_OPENPGP)
    err = pani_keys_verdict_make (t->ctx, &res->key, pexp, unpinned,
                                  &t->key_state, &t->key_policy);
  free (unpinned);
  if (err)
    return err;
  if (!(res->fingerprint = sha1 ? sha1 : pani_strdup (t->fpr)))
    return gpg_error_from_syserror ();
  return 0;
}

/* What T records just before its registry change is saved.  */
struct pre_save
{
  struct txn *t;
  const struct pan_audit_key *keys;
  size_t nkeys;
  const char *why;
};

/* Record P's change with the digest of the registry DATA/LEN about to
 * replace the old one: a change without a record would be one nobody
 * can trace, and the record names the registry it produced.  */
static gpg_error_t
record_before_save (void *opaque, const void *data, size_t len,
                    char **r_reason)
{
  struct pre_save *p = opaque;
  char hex[65];
  gpg_error_t err;

  pani_sha256_hex (data, len, hex);
  p->t->new_sha256 = hex;
  err = record_ok (p->t, p->keys, p->nkeys, p->why, r_reason);
  p->t->new_sha256 = NULL;
  if (!err)
    memcpy (p->t->saving_sha256, hex, sizeof hex);
  return err;
}

/* ERR of T's registry change: once it is saved, T answers for the
 * registry it saved (see record).  */
static gpg_error_t
saved (struct txn *t, gpg_error_t err)
{
  if (!err && *t->saving_sha256)
    memcpy (t->read_sha256, t->saving_sha256, sizeof t->read_sha256);
  *t->saving_sha256 = 0;
  return err;
}

/* The hook that records T's change P before it is saved, on the
 * registry T checked.  */
static struct pani_registry_hook
save_hook (struct txn *t, struct pre_save *p)
{
  struct pani_registry_hook hook = { record_before_save, p,
                                     pan_ctx_config (t->ctx),
                                     *t->read_sha256 ? t->read_sha256
                                                     : NULL };

  return hook;
}

/* Pin T's new key in the registry, retiring OLD_FPR if not NULL, with
 * the record HOOK writes.  */
static gpg_error_t
registry_pin (struct txn *t, const char *old_fpr,
              const struct pani_registry_hook *hook, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  pan_config_t config = pan_ctx_config (t->ctx);
  int timeout = pan_config_get_int (config, "lock-timeout");
  char *path = pan_ctx_path (t->ctx, "registry");
  struct pan_recipient rec;
  gpg_error_t err;

  if (!path)
    return gpg_error_from_syserror ();
  memset (&rec, 0, sizeof rec);
  rec.address = res->address;
  rec.protocol = res->protocol;
  rec.fingerprint = res->fingerprint;
  rec.subkeys = t->subkeys;
  rec.subkey_expiry = t->subkey_expiry;
  rec.key_state = t->key_state;
  rec.key_policy = t->key_policy;
  rec.enrolled_at = t->now;
  rec.enrolled_by = t->operator_name;
  rec.status = PAN_STATUS_ACTIVE;
  if (old_fpr)
    err = pani_registry_rotate (path, &rec, old_fpr, timeout, hook,
                                r_reason);
  else
    err = pani_registry_add (path, &rec, timeout, hook, r_reason);
  free (path);
  return err;
}

/* Record the pinning of T's new key (and the retirement of the old one
 * of a rotation), then pin it.  */
static gpg_error_t
commit_pin (struct txn *t, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  const char *old = res->old_fingerprint;
  struct pan_audit_key keys[2] = {
    {.address = res->address,
     .protocol = res->protocol,
     .fingerprint = old             },
    { .address = res->address,
     .protocol = res->protocol,
     .fingerprint = res->fingerprint}
  };
  const struct pan_audit_key *k = old ? keys : keys + 1;
  size_t n = old ? 2 : 1;
  char *why = NULL;
  struct pre_save pre = { t, k, n, NULL };
  struct pani_registry_hook hook = save_hook (t, &pre);
  gpg_error_t err;

  if (old
      && !(why = pani_strdupf ("rotated: key %s retired, key %s active", old,
                               res->fingerprint)))
    return gpg_error_from_syserror ();
  pre.why = why;

  /* The record comes first: a key imported but not pinned is never
   * used, a pin without a record would be a change nobody can trace.  */
  if ((err = saved (t, registry_pin (t, old, &hook, r_reason)))
      && t->res->stage != PAN_LIFECYCLE_AUDIT)
    err = record_stop (t, PAN_LIFECYCLE_APPLY, err, k, n,
                       "the registry could not be updated");
  free (why);
  return err;
}

/* Record the change of T's record to STATUS for REASON, then make
 * it.  */
static gpg_error_t
commit_status (struct txn *t, pan_status_t status, const char *reason,
               char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  const char *note = t->req->note;
  struct pan_audit_key key = { .address = res->address,
                               .protocol = res->protocol,
                               .fingerprint = res->fingerprint };
  struct pan_registry_change chg = { res->address, res->fingerprint,
                                     status,       reason,
                                     note,         t->operator_name,
                                     t->now };
  char *why = pani_strdupf ("%s%s%s", reason, note ? ": " : "",
                            note ? note : "");
  char *path = pan_ctx_path (t->ctx, "registry");
  struct pre_save pre = { t, &key, 1, why };
  struct pani_registry_hook hook = save_hook (t, &pre);
  gpg_error_t err;

  if (!why || !path)
    err = gpg_error_from_syserror ();
  else if ((err = saved (t,
                         pani_registry_set_status (
                           path, &chg,
                           pan_config_get_int (pan_ctx_config (t->ctx),
                                               "lock-timeout"),
                           &hook, r_reason)))
           && t->res->stage != PAN_LIFECYCLE_AUDIT)
    err = record_stop (t, PAN_LIFECYCLE_APPLY, err, &key, 1,
                       "the registry could not be updated");
  free (path);
  free (why);
  return err;
}


/*
 * The transactions.
 */

/* Run the transaction of EVENT for REQ: begin it with NEED, then let
 * BODY do the rest.  */
static gpg_error_t
transact (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
          struct pan_lifecycle_result *r_res, char **r_reason,
          const char *event, unsigned int need,
          gpg_error_t (*body) (struct txn *t, char **r_reason))
{
  struct txn t;
  char *reason = NULL;
  gpg_error_t err;
  int lockfd = -1;
  pani_engine_guard_t watch = NULL;

  if (r_reason)
    *r_reason = NULL;
  /* The whole transaction under the home's key lock: concurrent verbs
   * run one after the other, each with its true outcome.  */
  if (ctx && (err = pani_home_lock_keys (ctx, &lockfd, &reason)))
    {
      memset (r_res, 0, sizeof *r_res);
      r_res->stage = PAN_LIFECYCLE_SYSTEM;
      if (r_reason)
        *r_reason = reason;
      else
        free (reason);
      return err;
    }
  /* gpg and gpgsm within gpg-timeout (no wait without a bound).  */
  if (!(err = begin (&t, ctx, req, r_res, event, need, &reason))
      && !(err = pani_engine_watch_begin (ctx, &watch)))
    {
      /* Only a change that found the keyring as pankey left it may say
       * the same of the keyring it leaves.  */
      if (pani_keys_stamp_valid (ctx, &t.stamp_ok))
        t.stamp_ok = 0;
      err = pani_engine_watch_end (watch, body (&t, &reason), &reason);
      if (!err && t.stamp_ok)
        (void)pani_keys_stamp_write (ctx, NULL);
    }
  if (err && t.operator_name)
    record_refusal (&t, err, reason);
  err = finish (&t, err, reason, r_reason);
  pani_unlock (lockfd);
  return err;
}

/* Import T's new key, record it and pin it.  */
static gpg_error_t
pin_new_key (struct txn *t, char **r_reason)
{
  gpg_error_t err;

  if (!(err = import_key (t, r_reason)))
    err = commit_pin (t, r_reason);
  return err;
}

static gpg_error_t
txn_enroll (struct txn *t, char **r_reason)
{
  gpg_error_t err;

  if ((err = check_not_enrolled (t, r_reason)))
    return err;
  return pin_new_key (t, r_reason);
}

gpg_error_t
pan_lifecycle_enroll (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                      struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "enroll",
                   NEED_ADDRESS | NEED_FPR | NEED_REGISTRY, txn_enroll);
}

/* Check that T may replace the key of OLD by its new key.  */
static gpg_error_t
check_rotation (struct txn *t, const struct pan_recipient *old,
                char **r_reason)
{
  gpg_error_t err;

  if (!strcmp (old->fingerprint, t->fpr))
    return stop (t, PAN_LIFECYCLE_STATE,
                 pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                              "%s is already pinned to %s; use 'pankey"
                              " refresh' to import an update of that key",
                              old->address, t->fpr));
  if ((err = check_never_revoked (t, r_reason)))
    return err;
  t->res->protocol = old->protocol;
  if (!(t->res->old_fingerprint = pani_strdup (old->fingerprint)))
    return gpg_error_from_syserror ();
  return 0;
}

static gpg_error_t
txn_rotate (struct txn *t, char **r_reason)
{
  const struct pan_recipient *old;
  gpg_error_t err;

  if ((err = find_active (t, &old, r_reason))
      || (err = check_rotation (t, old, r_reason)))
    return err;
  return pin_new_key (t, r_reason);
}

gpg_error_t
pan_lifecycle_rotate (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                      struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "rotate",
                   NEED_ADDRESS | NEED_FPR | NEED_REGISTRY, txn_rotate);
}

/* Check the update of T's key in a scratch keyring (a refusal is
 * recorded) and say in T's result how it changes the key.  */
static gpg_error_t
refresh_check (struct txn *t, const struct pan_audit_key *key,
               char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  struct pan_key_info before, after;
  char b1[64], b2[64], *unpinned = NULL;
  time_t pexp = 0;
  gpg_error_t err;

  pani_keys_info (t->ctx, res->protocol, res->fingerprint, t->now, &before,
                  NULL);
  err = pani_keys_refresh_openpgp (t->ctx, res->fingerprint, t->data, t->len,
                                   t->now, 1, &after, &t->subkeys,
                                   &t->subkey_expiry, &pexp, &unpinned,
                                   r_reason);
  if (!err && t->subkeys)
    err = pani_keys_verdict_make (t->ctx, &after, pexp, unpinned,
                                  &t->key_state, &t->key_policy);
  free (unpinned);
  if (err)
    err = record_stop (t, PAN_LIFECYCLE_KEY, err, key, 1,
                       *r_reason ? *r_reason : gpg_strerror (err));
  else if (!(res->what =
               pani_strdupf ("key was: %s; now: %s; subkeys pinned: %s",
                             pani_keys_expiry_words (&before, b1, sizeof b1),
                             pani_keys_expiry_words (&after, b2, sizeof b2),
                             t->subkeys ? t->subkeys
                                        : "unchanged (none can encrypt)")))
    err = gpg_error_from_syserror ();
  pani_keys_info_release (&before);
  pani_keys_info_release (&after);
  return err;
}

/* Record the refresh of T about KEY, the key of REC, and pin the
 * subkeys its check accepted with its verdict (if none is left, the
 * pins stay as they were, and a verdict recorded before goes: the
 * reports then ask gpg).  */
static gpg_error_t
commit_refresh (struct txn *t, const struct pan_recipient *rec,
                const struct pan_audit_key *key, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  struct pre_save pre = { t, key, 1, res->what };
  struct pani_registry_hook hook = save_hook (t, &pre);
  struct pan_recipient want;
  char *path;
  gpg_error_t err;

  memset (&want, 0, sizeof want);
  want.address = res->address;
  want.fingerprint = res->fingerprint;
  want.subkeys = t->subkeys ? t->subkeys : rec->subkeys;
  want.subkey_expiry = t->subkeys ? t->subkey_expiry : rec->subkey_expiry;
  want.key_state = t->key_state;
  want.key_policy = t->key_policy;
  if (!want.subkeys || (!t->subkeys && !rec->key_state))
    return record_ok (t, key, 1, res->what, r_reason);
  if (!(path = pan_ctx_path (t->ctx, "registry")))
    return gpg_error_from_syserror ();
  err = saved (t,
               pani_registry_set_pins (path, &want,
                                       pan_config_get_int (pan_ctx_config (
                                                             t->ctx),
                                                           "lock-timeout"),
                                       &hook, r_reason));
  if (err && t->res->stage != PAN_LIFECYCLE_AUDIT)
    err = record_stop (t, PAN_LIFECYCLE_APPLY, err, key, 1,
                       "the registry could not be updated");
  free (path);
  return err;
}

/* Check, record and import the update of the active key of T, and pin
 * the encryption subkeys whose bindings the check accepted.  */
static gpg_error_t
txn_refresh (struct txn *t, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  const struct pan_recipient *rec;
  struct pan_recipient pinned;
  struct pan_audit_key key;
  gpg_error_t err;

  if ((err = find_active (t, &rec, r_reason)) || (err = take_record (t, rec))
      || (err = read_key (t, r_reason)))
    return err;
  key.address = res->address;
  key.protocol = res->protocol;
  key.fingerprint = res->fingerprint;
  if ((err = refresh_check (t, &key, r_reason))
      || (err = commit_refresh (t, rec, &key, r_reason)))
    return err;
  err = pani_keys_refresh_openpgp (t->ctx, res->fingerprint, t->data, t->len,
                                   t->now, 0, NULL, NULL, NULL, NULL, NULL,
                                   r_reason);
  if (err)
    return record_stop (t, PAN_LIFECYCLE_APPLY, err, &key, 1,
                        *r_reason ? *r_reason : gpg_strerror (err));
  pinned = *rec;
  if (t->subkeys)
    {
      pinned.subkeys = t->subkeys;
      pinned.subkey_expiry = t->subkey_expiry;
    }
  res->unusable = pani_keys_check_pinned (t->ctx, &pinned, t->now, NULL,
                                          &res->unusable_reason);
  return 0;
}

gpg_error_t
pan_lifecycle_refresh (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                       struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "refresh",
                   NEED_ADDRESS | NEED_REGISTRY, txn_refresh);
}

static gpg_error_t
txn_revoke (struct txn *t, char **r_reason)
{
  const char *reason = t->req->reason;
  const struct pan_recipient *rec;
  gpg_error_t err;

  if (!reason || !pan_registry_reason_valid (PAN_STATUS_REVOKED, reason))
    return stop (t, PAN_LIFECYCLE_REQUEST,
                 pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                              "a revocation's reason is compromised,"
                              " superseded, left or other"));
  if ((err = find_revoked (t, &rec, r_reason))
      || (err = take_record (t, rec)))
    return err;
  if (rec->status == PAN_STATUS_REVOKED)
    {
      t->res->unchanged = 1;
      return 0;
    }
  return commit_status (t, PAN_STATUS_REVOKED, reason, r_reason);
}

gpg_error_t
pan_lifecycle_revoke (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                      struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "revoke",
                   NEED_ADDRESS | NEED_REGISTRY, txn_revoke);
}

static gpg_error_t
txn_unenroll (struct txn *t, char **r_reason)
{
  const struct pan_recipient *rec;
  gpg_error_t err;

  if ((err = find_active (t, &rec, r_reason))
      || (err = take_record (t, rec)))
    return err;
  return commit_status (t, PAN_STATUS_RETIRED, "unenrolled", r_reason);
}

gpg_error_t
pan_lifecycle_unenroll (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                        struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "unenroll",
                   NEED_ADDRESS | NEED_REGISTRY, txn_unenroll);
}

/* Trust the CA of T and record it, or its refusal.  */
static gpg_error_t
txn_trust_ca (struct txn *t, char **r_reason)
{
  struct pan_lifecycle_result *res = t->res;
  char *why = NULL;
  gpg_error_t err;

  res->protocol = PAN_PROTOCOL_SMIME;
  if ((err = read_key (t, r_reason)))
    return err;
  err = pani_smime_trust_ca (t->ctx, t->fpr, t->data, t->len, t->now,
                             &res->fingerprint, r_reason);
  if (err)
    return record_stop (t, PAN_LIFECYCLE_KEY, err, NULL, 0, *r_reason);
  if (!(why = pani_strdupf ("CA certificate pinned as %s%s, SHA-1 %s",
                            t->fpr && strlen (t->fpr) == 64 ? "sha256:" : "",
                            t->fpr ? t->fpr : "-",
                            res->fingerprint ? res->fingerprint : "-")))
    return gpg_error_from_syserror ();
  err = record_ok (t, NULL, 0, why, r_reason);
  free (why);
  return err;
}

gpg_error_t
pan_lifecycle_trust_ca (pan_ctx_t ctx, const struct pan_lifecycle_req *req,
                        struct pan_lifecycle_result *r_res, char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "trust-ca", NEED_FPR,
                   txn_trust_ca);
}

/* Record the registry as it is now, for the reason REQ->NOTE (a
 * restore from a backup); only the home's operator may.  */
static gpg_error_t
txn_registry_accept (struct txn *t, char **r_reason)
{
  const char *note = t->req->note;
  char now[65];
  gpg_error_t err;

  if (!note || !*note)
    return stop (t, PAN_LIFECYCLE_REQUEST,
                 pani_reason (r_reason, gpg_error (GPG_ERR_MISSING_VALUE),
                              "say why the registry is right as it is"
                              " (--note, e.g. the backup it came from)"));
  if (geteuid () != t->ctx->operator_uid)
    return stop (t, PAN_LIFECYCLE_REQUEST,
                 pani_reason (r_reason, gpg_error (GPG_ERR_EPERM),
                              "only the operator of %s (uid %lu) may"
                              " accept its registry",
                              pan_ctx_home (t->ctx),
                              (unsigned long)t->ctx->operator_uid));
  /* The one record that makes the registry as it is the recorded one.  */
  if ((err = pan_registry_digest (t->ctx, now, r_reason)))
    return stop (t, PAN_LIFECYCLE_REQUEST, err);
  /* Copied first: nothing may fail after the record.  */
  if (!(t->res->what = pani_strdup (now)))
    return stop (t, PAN_LIFECYCLE_SYSTEM, gpg_error_from_syserror ());
  t->new_sha256 = now;
  err = record_ok (t, NULL, 0, note, r_reason);
  t->new_sha256 = NULL;
  return err;
}

gpg_error_t
pan_lifecycle_registry_accept (pan_ctx_t ctx,
                               const struct pan_lifecycle_req *req,
                               struct pan_lifecycle_result *r_res,
                               char **r_reason)
{
  return transact (ctx, req, r_res, r_reason, "registry-accept", 0,
                   txn_registry_accept);
}

void
pan_lifecycle_result_release (struct pan_lifecycle_result *res)
{
  if (!res)
    return;
  free (res->address);
  free (res->fingerprint);
  free (res->old_fingerprint);
  free (res->what);
  pani_keys_info_release (&res->key);
  free (res->unusable_reason);
  free (res->record_reason);
  res->address = res->fingerprint = res->old_fingerprint = NULL;
  res->what = res->unusable_reason = res->record_reason = NULL;
}
