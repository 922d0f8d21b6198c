/* bundle-apply.c - pankey export and pankey import
 *
 * An export writes the active and revoked enrollments of a home and the
 * keys the active ones pin (bundle.c), signs the text with the
 * operator's key (bundle-keys.c) and records it.  An import verifies
 * the signature against the home's operator keys, refuses a bundle not
 * newer than the last one applied, then makes each difference between
 * the bundle and the home's registry as the library's own transaction
 * (lifecycle.c): every change is checked, pinned and recorded on its
 * own, its record naming the bundle.  Revocations go first, so that a
 * key refused later cannot hold back the revocation of another.
 *
 * The serial of a bundle is the time of its export, or one more than
 * the home's previous export if that is later: it grows with every
 * export of a home, whatever the clock does.  The same bundle imported
 * again changes nothing and is not an error (a configuration management
 * run ships it every time); an older one, or another with the same
 * serial, is refused as a rollback.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "registry-int.h"
#include "engine-int.h"
#include "bundle-int.h"

void
pan_bundle_result_release (struct pan_bundle_result *res)
{
  if (!res)
    return;
  free (res->data);
  res->data = NULL;
  res->len = 0;
}


/*
 * Export.
 */

/* Add REC of the registry to B, with its key if it is active.  */
static gpg_error_t
add_record (pan_ctx_t ctx, struct pani_bundle *b,
            const struct pan_recipient *rec, char **r_reason)
{
  struct pani_bundle_rec *r;
  struct pani_bundle_key *k;
  char *data = NULL;
  size_t len = 0;
  gpg_error_t err;

  if (!(r = realloc (b->recs, (b->nrecs + 1) * sizeof *r)))
    return gpg_error_from_syserror ();
  b->recs = r;
  r += b->nrecs++;
  memset (r, 0, sizeof *r);
  r->protocol = rec->protocol;
  r->status = rec->status;
  if (!(r->address = pani_strdup (rec->address))
      || !(r->fingerprint = pani_strdup (rec->fingerprint))
      || (rec->status == PAN_STATUS_REVOKED
          && !(
            r->reason = pani_strdup (rec->reason ? rec->reason : "other"))))
    return gpg_error_from_syserror ();
  if (rec->status != PAN_STATUS_ACTIVE
      || pani_bundle_key (b, r->fingerprint))
    return 0;
  if (!(k = realloc (b->keys, (b->nkeys + 1) * sizeof *k)))
    return gpg_error_from_syserror ();
  b->keys = k;
  k += b->nkeys++;
  memset (k, 0, sizeof *k);
  k->protocol = rec->protocol;
  if (!(k->fingerprint = pani_strdup (rec->fingerprint)))
    return gpg_error_from_syserror ();
  if ((err = pani_bundle_export_key (ctx, rec->protocol, rec->fingerprint,
                                     &data, &len, r_reason)))
    return err;
  k->data = malloc (len);
  if (k->data)
    memcpy (k->data, data, len);
  k->len = len;
  gpgme_free (data);
  if (!k->data)
    return gpg_error_from_syserror ();
  pani_sha256_hex (k->data, k->len, k->sha256);
  return 0;
}

/* Fill B from the registry of CTX: its active and revoked records.  */
static gpg_error_t
collect (pan_ctx_t ctx, struct pani_bundle *b, char **r_reason)
{
  pan_registry_t reg = NULL;
  gpg_error_t err;

  /* The bytes checked against the recorded digest are the bytes
   * exported.  */
  if ((err = pan_registry_load_recorded (ctx, &reg, r_reason)))
    return err;
  for (size_t i = 0; !err && i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (rec->status != PAN_STATUS_RETIRED)
        err = add_record (ctx, b, rec, r_reason);
    }
  pan_registry_release (reg);
  return err;
}

/* Write, sign and record the bundle B of CTX into RES.  */
static gpg_error_t
sign_and_record (pan_ctx_t ctx, const struct pan_bundle_req *req,
                 struct pani_bundle *b, struct pan_bundle_result *res,
                 char **r_reason)
{
  struct pani_buf text = { 0 };
  struct pani_bundle_event e = { .event = "export",
                                 .operator_name = req->operator_name };
  char *why = NULL;
  gpg_error_t err;

  pani_bundle_write (b, &text);
  if ((err = pani_buf_error (&text)))
    goto leave;
  pani_sha256_hex (text.data, text.len, res->sha256);
  if ((err = pani_bundle_sign (ctx, req->signer_home, b->signer, text.data,
                               text.len, &res->data, &res->len, r_reason)))
    goto leave;
  if (!(why = pani_strdupf ("bundle %llu of home %s signed by %s: %zu"
                            " enrollments, %zu keys, SHA-256 %s",
                            b->serial, b->home, b->signer, b->nrecs,
                            b->nkeys, res->sha256)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  e.outcome = "ok";
  e.reason = why;
  if ((err = pani_bundle_record (ctx, &e, r_reason)))
    res->audit_failed = 1;
leave:
  free (why);
  pani_buf_free (&text);
  return err;
}

/* Fill the header of B for REQ at NOW from ST and the signing key.  */
static gpg_error_t
header (struct pani_bundle *b, const struct pan_bundle_req *req,
        const struct pani_bundle_state *st, time_t now, char **r_reason)
{
  const char *name, *p;
  char *fpr = NULL;
  gpg_error_t err;

  if ((err = pan_fpr_normalize (req->fingerprint ? req->fingerprint : "",
                                &fpr, r_reason)))
    return err;
  strcpy (b->home, st->home);
  strcpy (b->signer, fpr);
  free (fpr);
  b->serial = (unsigned long long)now > st->exported
    ? (unsigned long long)now
    : st->exported + 1;
  b->created_at = now;
  name = req->operator_name ? req->operator_name : pani_login_user ();
  for (p = name; *p && !pani_is_ctrl ((unsigned char)*p); p++)
    ;
  if (*p || !*name || *name == ' ' || p[-1] == ' ')
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "the operator's name must be one line of text,"
                        " without spaces at either end");
  if (!(b->created_by = pani_strdup (name)))
    return gpg_error_from_syserror ();
  return 0;
}

/* An export under way.  */
struct export
{
  pan_ctx_t ctx;
  const struct pan_bundle_req *req;
  struct pan_bundle_result *res;
};

/* Export the bundle of X->CTX for X->REQ into X->RES, under the bundle
 * lock (pani_bundle_run).  */
static gpg_error_t
export_locked (void *opaque, char **r_reason)
{
  struct export *x = opaque;
  pan_ctx_t ctx = x->ctx;
  const struct pan_bundle_req *req = x->req;
  struct pan_bundle_result *res = x->res;
  struct pani_bundle *b = calloc (1, sizeof *b);
  struct pani_bundle_state st;
  gpg_error_t err;

  if (!b)
    return gpg_error_from_syserror ();
  if ((err = pani_bundle_state_load (ctx, &st, r_reason)))
    {
      free (b);
      return err;
    }
  if (!(err = header (b, req, &st, req->now ? req->now : time (NULL),
                      r_reason))
      && !(err = collect (ctx, b, r_reason))
      && !(err = sign_and_record (ctx, req, b, res, r_reason)))
    {
      res->serial = st.exported = b->serial;
      strcpy (res->home, b->home);
      strcpy (res->signer, b->signer);
      err = pani_bundle_state_save (ctx, &st, r_reason);
    }
  pani_bundle_release (b);
  pani_bundle_state_clear (&st);
  return err;
}

gpg_error_t
pan_bundle_export (pan_ctx_t ctx, const struct pan_bundle_req *req,
                   struct pan_bundle_result *r_res, char **r_reason)
{
  struct export x = { ctx, req, r_res };
  gpg_error_t err;

  memset (r_res, 0, sizeof *r_res);
  *r_reason = NULL;
  if ((err = pani_bundle_run (ctx, export_locked, &x, r_reason)))
    {
      r_res->exit_code = pan_bundle_exit_code (err);
      pan_bundle_result_release (r_res);
    }
  return err;
}

/*
 * Import.
 */

/* An import under way.  */
struct import
{
  pan_ctx_t ctx;
  const struct pan_bundle_req *req;
  struct pan_bundle_result *res;
  struct pani_bundle_state st;
  struct pani_bundle *b;
  char *context; /* Of the records of its changes.  */
  time_t now;
  int applying; /* A failure now is of a change, recorded by it.  */
};

typedef gpg_error_t (*txn_fn) (pan_ctx_t ctx,
                               const struct pan_lifecycle_req *req,
                               struct pan_lifecycle_result *r_res,
                               char **r_reason);

/* Run the transaction FN of LR for IM; count a change in *COUNT.  */
static gpg_error_t
step (struct import *im, txn_fn fn, struct pan_lifecycle_req *lr,
      unsigned int *count, char **r_reason)
{
  struct pan_lifecycle_result lres;
  gpg_error_t err;

  lr->operator_name = im->req->operator_name;
  lr->context = im->context;
  lr->now = im->now;
  err = fn (im->ctx, lr, &lres, r_reason);
  if (err)
    {
      im->res->exit_code = pan_lifecycle_exit_code (lres.stage, err, 0);
      im->res->audit_failed = lres.stage == PAN_LIFECYCLE_AUDIT;
    }
  else if (!lres.unchanged)
    ++*count;
  pan_lifecycle_result_release (&lres);
  return err;
}

/* Revoke each key the bundle revokes that REG has and has not
 * revoked.  */
static gpg_error_t
revoke_phase (struct import *im, pan_registry_t reg, char **r_reason)
{
  gpg_error_t err = 0;

  for (size_t i = 0; !err && i < im->b->nrecs; i++)
    {
      const struct pani_bundle_rec *r = im->b->recs + i;
      struct pan_lifecycle_req lr;
      size_t j;

      for (j = 0;
           r->status == PAN_STATUS_REVOKED && j < pan_registry_count (reg);
           j++)
        {
          const struct pan_recipient *rec = pan_registry_get (reg, j);

          if (!strcmp (rec->address, r->address)
              && !strcmp (rec->fingerprint, r->fingerprint)
              && rec->status != PAN_STATUS_REVOKED)
            break;
        }
      if (r->status != PAN_STATUS_REVOKED || j == pan_registry_count (reg))
        continue;
      memset (&lr, 0, sizeof lr);
      lr.address = r->address;
      lr.fingerprint = r->fingerprint;
      lr.reason = r->reason;
      err = step (im, pan_lifecycle_revoke, &lr, &im->res->revoked,
                  r_reason);
    }
  return err;
}

/* End each active enrollment of REG that the bundle has not, or has
 * with a key of another protocol.  */
static gpg_error_t
unenroll_phase (struct import *im, pan_registry_t reg, char **r_reason)
{
  gpg_error_t err = 0;

  for (size_t i = 0; !err && i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);
      const struct pani_bundle_rec *r;
      struct pan_lifecycle_req lr;

      if (rec->status != PAN_STATUS_ACTIVE)
        continue;
      r = pani_bundle_active (im->b, rec->address);
      if (r && r->protocol == rec->protocol)
        continue;
      memset (&lr, 0, sizeof lr);
      lr.address = rec->address;
      lr.note = r ? "the bundle pins a key of another protocol"
                  : "not in the bundle";
      err = step (im, pan_lifecycle_unenroll, &lr, &im->res->unenrolled,
                  r_reason);
    }
  return err;
}

/* Enroll, or rotate to, each active key of the bundle that REG does
 * not pin for its address.  */
static gpg_error_t
enroll_phase (struct import *im, pan_registry_t reg, char **r_reason)
{
  gpg_error_t err = 0;

  for (size_t i = 0; !err && i < im->b->nrecs; i++)
    {
      const struct pani_bundle_rec *r = im->b->recs + i;
      const struct pani_bundle_key *k = pani_bundle_key (im->b,
                                                         r->fingerprint);
      const struct pan_recipient *cur;
      struct pan_lifecycle_req lr;

      if (r->status != PAN_STATUS_ACTIVE || !k)
        continue;
      cur = pani_registry_lookup (reg, r->address);
      if (cur && !strcmp (cur->fingerprint, r->fingerprint))
        {
          im->res->unchanged++;
          continue;
        }
      memset (&lr, 0, sizeof lr);
      lr.address = r->address;
      lr.protocol = r->protocol;
      lr.fingerprint = r->fingerprint;
      lr.data = k->data;
      lr.len = k->len;
      if (cur)
        err = step (im, pan_lifecycle_rotate, &lr, &im->res->rotated,
                    r_reason);
      else
        err = step (im, pan_lifecycle_enroll, &lr, &im->res->enrolled,
                    r_reason);
    }
  return err;
}

/* Make the changes of the bundle of IM, phase by phase, each on the
 * registry as the one before left it.  */
static gpg_error_t
apply (struct import *im, char **r_reason)
{
  static gpg_error_t (*const phases[]) (struct import *, pan_registry_t,
                                        char **) = { revoke_phase,
                                                     unenroll_phase,
                                                     enroll_phase };
  pan_registry_t reg = NULL;
  gpg_error_t err = 0;

  im->applying = 1;
  for (size_t i = 0; !err && i < sizeof phases / sizeof *phases; i++)
    {
      if (!(err = pan_ctx_registry_load (im->ctx, &reg, r_reason)))
        err = phases[i](im, reg, r_reason);
      pan_registry_release (reg);
      reg = NULL;
    }
  return err;
}

/* Check that the bundle of IM, whose text has the digest SHA256, is
 * newer than the last one applied; the same again sets ALREADY.  */
static gpg_error_t
check_serial (struct import *im, char **r_reason)
{
  const struct pani_bundle_state *st = &im->st;
  struct pan_bundle_result *res = im->res;

  if (!strcmp (im->b->home, st->home))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "bundle %llu was exported by this home; import it"
                        " on the other hosts",
                        im->b->serial);
  if (im->b->serial == st->applied
      && !strcmp (res->sha256, st->applied_sha256))
    {
      res->already = 1;
      return 0;
    }
  if (im->b->serial <= st->applied)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFLICT),
                        "bundle %llu is not newer than bundle %llu, applied"
                        " last: refused as a rollback (export a new bundle"
                        " and import that)",
                        im->b->serial, st->applied);
  return 0;
}

/* Verify and parse the bundle of IM.  */
static gpg_error_t
open_bundle (struct import *im, char **r_reason)
{
  const struct pan_bundle_req *req = im->req;
  char *text = NULL, *signer = NULL;
  size_t len = 0;
  gpg_error_t err;

  if (!im->st.noperators)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_TRUSTED),
                        "this home pins no operator key, so it accepts no"
                        " bundle: pin the key that signs them first"
                        " ('pankey operator-key add')");
  if (!req->data || req->len > PANI_BUNDLE_MAX)
    return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "a bundle is at most %d bytes", PANI_BUNDLE_MAX);
  if ((err = pani_bundle_verify (im->ctx, &im->st, "bundle", req->data,
                                 req->len, im->now, &text, &len, &signer,
                                 r_reason)))
    return err;
  strcpy (im->res->signer, signer);
  pani_sha256_hex (text, len, im->res->sha256);
  if (!(err = pani_bundle_parse (text, len, &im->b, r_reason))
      && strcmp (im->b->signer, signer))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the bundle names key %s as its signer, but key %s"
                       " signed it",
                       im->b->signer, signer);
  free (text);
  free (signer);
  return err;
}

/* Record the end of the import IM with ERR and REASON.  */
static gpg_error_t
record_import (struct import *im, gpg_error_t err, const char *reason,
               char **r_reason)
{
  struct pan_bundle_result *res = im->res;
  struct pani_bundle_event e = { .event = "import",
                                 .operator_name = im->req->operator_name };
  char *why;
  gpg_error_t rerr;

  if (err && !im->applying)
    res->exit_code = pan_bundle_exit_code (err);
  e.outcome = !err ? "ok" : im->applying ? "failed" : "refused";
  e.exit_code = err ? res->exit_code : 0;
  if (err && !im->applying)
    why = pani_strdupf ("%s%s%s: %s", im->context ? im->context : "bundle",
                        res->sha256[0] ? ", SHA-256 " : "", res->sha256,
                        reason ? reason : gpg_strerror (err));
  else
    why = pani_strdupf ("%s, SHA-256 %s: %u enrolled, %u rotated, %u"
                        " revoked, %u unenrolled, %u unchanged%s%s",
                        im->context, res->sha256, res->enrolled,
                        res->rotated, res->revoked, res->unenrolled,
                        res->unchanged, reason ? "; " : "",
                        reason ? reason : "");
  e.reason = why;
  rerr = why ? pani_bundle_record (im->ctx, &e, r_reason)
             : gpg_error_from_syserror ();
  free (why);
  return rerr;
}

/* Import under the bundle lock.  */
static gpg_error_t
import_locked (struct import *im, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_bundle_state_load (im->ctx, &im->st, r_reason))
      || (err = open_bundle (im, r_reason)))
    return err;
  im->res->serial = im->b->serial;
  strcpy (im->res->home, im->b->home);
  if (!(im->context = pani_strdupf ("bundle %llu of home %s signed by %s",
                                    im->b->serial, im->b->home,
                                    im->b->signer)))
    return gpg_error_from_syserror ();
  if ((err = check_serial (im, r_reason)) || im->res->already
      || (err = apply (im, r_reason)))
    return err;
  if ((err = record_import (im, 0, NULL, r_reason)))
    {
      im->res->audit_failed = 1;
      return err;
    }
  im->st.applied = im->b->serial;
  strcpy (im->st.applied_sha256, im->res->sha256);
  return pani_bundle_state_save (im->ctx, &im->st, r_reason);
}

/* Import under the bundle lock (pani_bundle_run) and record a refusal or
 * failure: a change that failed recorded itself, its import is
 * recorded too (a record that cannot be written is noted).  */
static gpg_error_t
run_import (void *opaque, char **r_reason)
{
  struct import *im = opaque;
  gpg_error_t err = import_locked (im, r_reason);

  if (err && !im->res->audit_failed
      && record_import (im, err, *r_reason, NULL))
    im->res->audit_failed = 1;
  return err;
}

gpg_error_t
pan_bundle_import (pan_ctx_t ctx, const struct pan_bundle_req *req,
                   struct pan_bundle_result *r_res, char **r_reason)
{
  struct import im;
  gpg_error_t err;

  memset (r_res, 0, sizeof *r_res);
  memset (&im, 0, sizeof im);
  *r_reason = NULL;
  im.ctx = ctx;
  im.req = req;
  im.res = r_res;
  im.now = req->now ? req->now : time (NULL);
  err = pani_bundle_run (ctx, run_import, &im, r_reason);
  pani_bundle_release (im.b);
  pani_bundle_state_clear (&im.st);
  free (im.context);
  return err;
}
