/* review.c - the state of an enrollment's key and its review
 *
 * One classification of a key's state (pan_review_key) serves pankey
 * list and show, panaudit keys and the findings of pankey check
 * (pan_review_enrollment), so that no two tools disagree on it.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "review-int.h"
#include "home-int.h"
#include "audit-int.h"
#include "registry-int.h"
#include "policy-int.h"
#include "keys-int.h"

const char *
pan_review_state_name (pan_key_state_t state)
{
  switch (state)
    {
    case PAN_KEY_OK: return "ok";
    case PAN_KEY_EXPIRING: return "expiring";
    case PAN_KEY_WEAK: return "weak";
    case PAN_KEY_UNUSABLE: return "unusable";
    case PAN_KEY_EXPIRED: return "expired";
    case PAN_KEY_REVOKED: return "revoked";
    case PAN_KEY_MISSING: return "missing";
    case PAN_KEY_RETIRED: return "retired";
    case PAN_KEY_UNCHECKED: return "unchecked";
    default: return "unknown";
    }
}

/* Return the state of the key INFO describes, looked up with ERR.  */
static pan_key_state_t
key_state (const struct pan_key_info *info, gpg_error_t err, time_t now,
           int expiring)
{
  if (gpg_err_code (err) == GPG_ERR_NO_PUBKEY)
    return PAN_KEY_MISSING;
  if (err)
    return PAN_KEY_UNKNOWN;
  if (info->revoked)
    return PAN_KEY_REVOKED;
  if (info->expired || (info->expires && info->expires <= now))
    return PAN_KEY_EXPIRED;
  if (!info->usable)
    return PAN_KEY_UNUSABLE;
  if (info->policy == PAN_SEVERITY_CRITICAL)
    return PAN_KEY_WEAK;
  return expiring ? PAN_KEY_EXPIRING : PAN_KEY_OK;
}

void
pani_review_classify (struct pan_key_status *st, pan_status_t status,
                      int looked_up, time_t now, long warn_days)
{
  const struct pan_key_info *info = &st->info;

  st->days = info->expires ? pan_days_until (now, info->expires) : 0;
  st->expiring = looked_up && !st->err && !info->revoked && !info->expired
    && info->usable && info->expires > now
    && info->expires - now <= warn_days * 86400;
  st->key = looked_up ? key_state (info, st->err, now, st->expiring)
                      : PAN_KEY_UNCHECKED;
  if (status == PAN_STATUS_REVOKED)
    st->state = PAN_KEY_REVOKED;
  else if (status == PAN_STATUS_RETIRED)
    st->state = PAN_KEY_RETIRED;
  else
    st->state = st->key;
}

gpg_error_t
pan_review_key (pan_ctx_t ctx, const struct pan_recipient *rec, time_t now,
                long warn_days, unsigned int flags,
                struct pan_key_status *r_status)
{
  struct pan_key_status *st = r_status;
  int look = rec->status == PAN_STATUS_ACTIVE || (flags & PAN_REVIEW_ENDED);

  memset (st, 0, sizeof *st);
  pani_test_hang ("review-key"); /* As a stuck gpg would.  */
  if (warn_days < 0)
    warn_days = pan_policy_warn_days (pan_ctx_config (ctx));
  if (rec->status == PAN_STATUS_ACTIVE)
    st->rotation_due = rec->enrolled_at
      + 86400 * (time_t)pani_policy_cryptoperiod_days (pan_ctx_config (ctx));
  else
    {
      st->changed_at = rec->changed_at;
      st->changed_by = rec->changed_by;
      st->reason = rec->reason;
      st->note = rec->note;
    }
  if (look)
    st->err = pani_keys_review_info (ctx, rec, now, &st->info, &st->why);
  pani_review_classify (st, rec->status, look, now, warn_days);
  return 0;
}

void
pan_review_key_release (struct pan_key_status *status)
{
  if (!status)
    return;
  pani_keys_info_release (&status->info);
  free (status->why);
  status->why = NULL;
}


/*
 * The findings of pankey check.
 */

/* What one review needs.  */
struct review
{
  const struct pan_recipient *rec;
  const struct pan_smime_ca *ca;
  time_t now;
  pan_key_finding_cb_t cb;
  void *opaque;
  pan_severity_t worst;
};

/* Report one finding made of FMT.  */
static gpg_error_t report (struct review *rv, pan_severity_t sev,
                           const char *check, time_t when, const char *fmt,
                           ...) PAN_PRINTF (5, 6);

static gpg_error_t
report (struct review *rv, pan_severity_t sev, const char *check,
        time_t when, const char *fmt, ...)
{
  struct pan_key_finding f;
  va_list ap;
  char *text = NULL;
  gpg_error_t err;

  va_start (ap, fmt);
  if (vasprintf (&text, fmt, ap) < 0)
    text = NULL;
  va_end (ap);
  if (!text)
    return gpg_error_from_syserror ();
  memset (&f, 0, sizeof f);
  f.severity = sev;
  f.check = check;
  f.rec = rv->rec;
  f.ca = rv->ca;
  f.when = when;
  f.days = when ? pan_days_until (rv->now, when) : 0;
  f.text = text;
  if (sev > rv->worst)
    rv->worst = sev;
  err = rv->cb (rv->opaque, &f);
  free (text);
  return err;
}

/* Report what ST says of the key: revoked, expired, unusable,
 * expiring.  */
static gpg_error_t
review_state (struct review *rv, const struct pan_key_status *st)
{
  const struct pan_key_info *info = &st->info;
  char day[32];

  strcpy (day, "never");
  if (info->expires)
    {
      pan_time_format (info->expires, day, sizeof day);
      day[10] = 0;
    }
  if (st->key == PAN_KEY_REVOKED)
    return report (rv, PAN_SEVERITY_CRITICAL, "revoked", 0,
                   "is revoked by its holder; pankey revoke or rotate it");
  if (st->key == PAN_KEY_EXPIRED)
    return report (rv, PAN_SEVERITY_CRITICAL, "expired", info->expires,
                   "expired %ld day%s ago (%s); pankey refresh or rotate"
                   " it",
                   -st->days, st->days == -1 ? "" : "s", day);
  if (st->key == PAN_KEY_UNUSABLE)
    return report (rv, PAN_SEVERITY_CRITICAL, "unusable", 0,
                   "has no usable encryption subkey; pankey refresh or"
                   " rotate it");
  if (st->expiring)
    return report (rv, PAN_SEVERITY_WARNING, "expiring", info->expires,
                   "expires in %ld day%s (%s)", st->days,
                   st->days == 1 ? "" : "s", day);
  return 0;
}

/* Report that the active enrollment of ST is due for rotation.  */
static gpg_error_t
review_rotation (struct review *rv, const struct pan_key_status *st,
                 long period_days)
{
  char day[32];

  if (!st->rotation_due || st->rotation_due > rv->now)
    return 0;
  pan_time_format (st->rotation_due, day, sizeof day);
  day[10] = 0;
  return report (rv, PAN_SEVERITY_WARNING, "rotation-due", st->rotation_due,
                 "is due for rotation since %s"
                 " (cryptoperiod %ld days); pankey rotate it",
                 day, period_days);
}

static gpg_error_t
review_policy (struct review *rv, const struct pan_key_info *info)
{
  if (info->policy == PAN_SEVERITY_OK)
    return 0;
  return report (rv, info->policy, "policy", 0,
                 "breaks the algorithm"
                 " policy: %s",
                 info->policy_reason ? info->policy_reason
                                     : "see panmail.conf");
}

/* Report what is wrong with the key of ST, the state of RV's key.  */
static gpg_error_t
review_key (struct review *rv, const struct pan_key_status *st)
{
  gpg_error_t err;

  if (st->key == PAN_KEY_MISSING)
    return report (rv, PAN_SEVERITY_CRITICAL, "missing", 0,
                   "is missing"
                   " from the keyring; pankey rotate it");
  if (st->key == PAN_KEY_UNKNOWN)
    return report (rv, PAN_SEVERITY_UNKNOWN, "error", 0,
                   "cannot be"
                   " checked: %s",
                   st->why ? st->why : gpg_strerror (st->err));
  if ((err = review_state (rv, st)))
    return err;
  return review_policy (rv, &st->info);
}

/* Report each key of REC's key in the keyring that REC does not pin
 * (pansend never uses it, but it came without pankey), and a record
 * that pins none.  */
static gpg_error_t
review_pins (pan_ctx_t ctx, struct review *rv,
             const struct pan_recipient *rec)
{
  gpg_error_t err;
  char *list = NULL, *why = NULL;
  const char *p;
  size_t n;

  err = pani_keys_review_unpinned (ctx, rec, &list, &why);
  if (gpg_err_code (err) == GPG_ERR_CONFIGURATION)
    err = report (rv, PAN_SEVERITY_CRITICAL, "no-pins", 0,
                  "has no encryption subkey pinned in the registry (a"
                  " record from before subkeys were pinned): pansend"
                  " refuses it until 'pankey refresh %s --file KEYFILE'"
                  " pins them",
                  rec->address);
  else if (err) /* Reported by review_key (missing, error).  */
    err = 0;
  for (p = list; !err && p && *p; p += n + (p[n] == ' '))
    {
      n = strcspn (p, " ");
      err = report (rv, PAN_SEVERITY_CRITICAL, "unpinned", 0,
                    "has subkey %.*s in the keyring that the registry"
                    " does not pin for %s: pansend never uses it.  If the"
                    " recipient added it, 'pankey refresh' the key; else"
                    " the keyring was changed behind pankey's back:"
                    " restore it",
                    (int)n, p, rec->address);
    }
  free (list);
  free (why);
  return err;
}

gpg_error_t
pan_review_enrollment (pan_ctx_t ctx, const struct pan_recipient *rec,
                       time_t now, long warn_days, pan_key_finding_cb_t cb,
                       void *opaque, pan_severity_t *r_worst)
{
  gpg_error_t err;
  struct review rv = { rec, NULL, now, cb, opaque, PAN_SEVERITY_OK };
  struct pan_key_status st;

  *r_worst = PAN_SEVERITY_OK;
  if (!(err = pan_review_key (ctx, rec, now, warn_days, PAN_REVIEW_ENDED,
                              &st)))
    err = review_key (&rv, &st);
  if (!err && rec->status == PAN_STATUS_ACTIVE)
    err = review_pins (ctx, &rv, rec);
  if (!err)
    err = review_rotation (&rv, &st,
                           pani_policy_cryptoperiod_days (
                             pan_ctx_config (ctx)));
  pan_review_key_release (&st);
  *r_worst = rv.worst;
  return err;
}

gpg_error_t
pan_review_ca (const struct pan_smime_ca *ca, time_t now, long warn_days,
               pan_key_finding_cb_t cb, void *opaque,
               pan_severity_t *r_worst)
{
  gpg_error_t err = 0;
  struct review rv = { NULL, ca, now, cb, opaque, PAN_SEVERITY_OK };
  char when[32];

  pan_time_format (ca->not_after, when, sizeof when);
  if (ca->missing)
    err = report (&rv, PAN_SEVERITY_CRITICAL, "missing", 0,
                  "is in trustlist.txt but not in the keybox");
  else if (ca->not_after && ca->not_after <= now)
    err = report (&rv, PAN_SEVERITY_CRITICAL, "expired", ca->not_after,
                  "expired on %s", when);
  else if (ca->not_after && ca->not_after - now <= warn_days * 86400L)
    err = report (&rv, PAN_SEVERITY_WARNING, "expiring", ca->not_after,
                  "expires in %ld days (%s)",
                  pan_days_until (now, ca->not_after), when);
  *r_worst = rv.worst;
  return err;
}


/*
 * The registry and its last recorded digest.
 */

gpg_error_t
pan_registry_digest (pan_ctx_t ctx, char *hex, char **r_reason)
{
  gpg_error_t err;
  int fd = -1;

  *hex = 0;
  /* Streamed: a registry of ten thousand keys is megabytes.  */
  if ((err = pani_home_open (ctx, PAN_REGISTRY_FILE, O_RDONLY, 0,
                             PANI_HOME_OPERATOR, &fd, r_reason)))
    return err;
  if ((err = pani_sha256_fd (fd, hex)))
    pani_reason (r_reason, err, "%s/%s: %s", pan_ctx_home (ctx),
                 PAN_REGISTRY_FILE, gpg_strerror (err));
  close (fd);
  return err;
}

gpg_error_t
pani_review_newest_registry (pan_ctx_t ctx,
                             struct pani_audit_registry_mark *mark,
                             char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_files f;

  memset (mark, 0, sizeof *mark);
  if ((err = pani_audit_files_init (ctx, &f)))
    return err;
  err = pani_audit_newest_registry (&f, pan_ctx_home (ctx), mark, r_reason);
  pani_audit_files_release (&f);
  return err;
}

gpg_error_t
pani_review_registry_changed (pan_ctx_t ctx,
                              const struct pani_audit_registry_mark *dr,
                              const char *now, char **r_reason)
{
  char when[32];

  pan_time_format (dr->time, when, sizeof when);
  return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_DATA),
                      "%s/%s differs from the registry that audit record"
                      " %llu (%s, %s) recorded (SHA-256 %.16s..., now"
                      " %.16s...): it was changed behind pankey's back."
                      " Restore it from a backup, or if it is right,"
                      " record it with 'pankey registry-accept --note WHY'",
                      pan_ctx_home (ctx), PAN_REGISTRY_FILE, dr->seq,
                      dr->event, when, dr->sha256, now);
}

gpg_error_t
pan_registry_check_recorded (pan_ctx_t ctx, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_registry_mark dr;
  char now[65];

  if ((err = pani_review_newest_registry (ctx, &dr, r_reason))
      || (err = pan_registry_digest (ctx, now, r_reason)))
    return err;
  if (!dr.seq || !strcmp (dr.sha256, now))
    return 0;
  return pani_review_registry_changed (ctx, &dr, now, r_reason);
}

void
pani_review_record_registry (pan_ctx_t ctx, const char *new_sha256,
                             const char *checked, char now[65],
                             struct pan_audit_event *ev)
{
  ev->registry_sha256 = new_sha256;
  if (new_sha256 || pan_registry_digest (ctx, now, NULL))
    return;
  if (*checked && !strcmp (now, checked))
    ev->registry_sha256 = now;
  else
    ev->registry_checked = now;
}

gpg_error_t
pani_review_load_recorded (pan_ctx_t ctx, pan_registry_t *r_reg,
                           char now[65], char **r_reason)
{
  struct pani_audit_registry_mark dr;
  char *buf = NULL;
  size_t len = 0;
  gpg_error_t err;

  *r_reg = NULL;
  *now = 0;
  if ((err = pani_review_newest_registry (ctx, &dr, r_reason))
      || (err = pani_home_read (ctx, PAN_REGISTRY_FILE, PANI_HOME_OPERATOR,
                                PANI_REGISTRY_MAX, &buf, &len, r_reason)))
    return err;
  pani_sha256_hex (buf, len, now);
  if (dr.seq && strcmp (dr.sha256, now))
    err = pani_review_registry_changed (ctx, &dr, now, r_reason);
  else
    err = pani_ctx_registry_parse (ctx, buf, len, r_reg, r_reason);
  if (err)
    *now = 0;
  free (buf);
  return err;
}

gpg_error_t
pan_registry_load_recorded (pan_ctx_t ctx, pan_registry_t *r_reg,
                            char **r_reason)
{
  char now[65];

  return pani_review_load_recorded (ctx, r_reg, now, r_reason);
}
