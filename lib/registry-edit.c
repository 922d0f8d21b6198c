/* registry-edit.c - locked, atomic changes of the registry file
 *
 * Every change loads the registry under its lock (PATH.lock), edits it
 * in memory, and replaces the file atomically; nothing is written if
 * the edit fails.  A new record is checked as the parser checks the
 * file (pani_registry_validate) before the lock is taken.  The rules
 * that no tool may break live here: one active record per address, a
 * revoked key is never pinned again, a revoked record stays revoked.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "panmail.h"
#include "util.h"
#include "addrlist-int.h"
#include "registry-int.h"
#include "fileio-int.h"

/* Write REG to memory and store it at *R_DATA, its length at *R_LEN
 * (release with es_free).  */
static gpg_error_t
serialise (pan_registry_t reg, void **r_data, size_t *r_len)
{
  gpg_error_t err;
  estream_t mem = es_fopenmem (0, "w+b");

  if (!mem)
    return gpg_error_from_syserror ();
  if ((err = pani_registry_write (reg, mem)))
    {
      es_fclose (mem);
      return err;
    }
  if (es_fclose_snatch (mem, r_data, r_len))
    return gpg_error_from_syserror ();
  return 0;
}

/* Refuse the registry PATH, read as BUF/LEN, unless its SHA-256 is
 * EXPECT (hex; NULL: any).  */
static gpg_error_t
check_unchanged (const char *path, const char *buf, size_t len,
                 const char *expect, char **r_reason)
{
  char hex[65];

  if (!expect)
    return 0;
  pani_sha256_hex (buf, len, hex);
  if (!strcmp (hex, expect))
    return 0;
  return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_DATA),
                      "%s was changed while this command ran (SHA-256 "
                      "%.16s..."
                      " where %.16s... was checked): nothing was changed",
                      path, hex, expect);
}

/* Load the registry PATH into *R_REG if its SHA-256 is EXPECT (hex;
 * NULL: any); a missing file is an empty registry.  */
static gpg_error_t
load_or_empty (const char *path, const char *expect, pan_registry_t *r_reg,
               char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL, *reason = NULL;
  size_t len = 0;

  *r_reg = NULL;
  err = pani_read_file (path, PANI_REGISTRY_MAX, &buf, &len, &reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    err = 0; /* An empty registry.  */
  else if (err)
    pani_reason (r_reason, err, "%s", reason ? reason : gpg_strerror (err));
  free (reason);
  if (!err)
    err = check_unchanged (path, buf, len, expect, r_reason);
  if (!err)
    err = buf ? pani_registry_parse (path, buf, len, r_reg, r_reason)
              : pani_registry_new (r_reg);
  free (buf);
  return err;
}

gpg_error_t
pani_registry_check_new (pan_registry_t reg, const char *addr,
                         char **r_reason)
{
  long idx = pani_registry_find_active (reg, addr);
  const struct pan_recipient *rec;
  size_t i;

  if (idx >= 0 && !strcmp (reg->recs[idx].address, addr))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s is already enrolled (fingerprint %s);"
                        " use pankey rotate",
                        addr, reg->recs[idx].fingerprint);
  for (i = 0; i < reg->count; i++)
    {
      rec = &reg->recs[i];
      if (rec->status == PAN_STATUS_ACTIVE
          && pani_addr_same (rec->address, addr, reg->exact_local))
        return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                            "%s differs from the enrolled %s only by case,"
                            " and addresses match ignoring case"
                            " (address-case in panmail.conf): it is the"
                            " same mailbox; use 'pankey rotate %s' to"
                            " change its key",
                            addr, rec->address, rec->address);
    }
  return 0;
}

/* The mode of a new registry file PATH: 0640 if the one it replaces
 * is readable by its group (a home shared with senders), else 0600.  */
static int
registry_mode (const char *path)
{
  struct stat st;

  if (!lstat (path, &st) && S_ISREG (st.st_mode) && (st.st_mode & S_IRGRP))
    return 0640;
  return 0600;
}

static gpg_error_t
save_registry (const char *path, pan_registry_t reg,
               const struct pani_registry_hook *hook, char **r_reason)
{
  gpg_error_t err;
  void *data = NULL;
  size_t len = 0;

  if ((err = serialise (reg, &data, &len)))
    return pani_reason (r_reason, err, "%s: cannot write the registry: %s",
                        path, gpg_strerror (err));
  if (hook && hook->before_save
      && (err = hook->before_save (hook->opaque, data, len, r_reason)))
    {
      es_free (data);
      return err;
    }
  err = pani_write_file_atomic (path, data, len, registry_mode (path),
                                r_reason);
  es_free (data);
  return err;
}

/* Refuse the fingerprint FPR if REG has a revoked record of it: a key
 * revoked once is never pinned again.  */
static gpg_error_t
check_not_revoked (pan_registry_t reg, const char *fpr, char **r_reason)
{
  char when[32];
  size_t i;

  for (i = 0; i < reg->count; i++)
    if (reg->recs[i].status == PAN_STATUS_REVOKED
        && !strcmp (reg->recs[i].fingerprint, fpr))
      return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                          "key %s was revoked for %s%s%s; it cannot be"
                          " enrolled again: ask for a new key",
                          fpr, reg->recs[i].address,
                          reg->recs[i].changed_at ? " on " : "",
                          reg->recs[i].changed_at
                            ? pan_time_format (reg->recs[i].changed_at, when,
                                               sizeof when)
                            : "");
  return 0;
}

/* The edit an update makes to the registry loaded under the lock.  */
typedef gpg_error_t (*edit_fn_t) (pan_registry_t reg, void *opaque,
                                  char **r_reason);

/* Under the registry lock of PATH (waiting at most TIMEOUT seconds),
 * load the registry, let EDIT change it, show the new file to HOOK (if
 * not NULL) and replace the file atomically; nothing is written if
 * EDIT or HOOK fails.  */
static gpg_error_t
update_locked (const char *path, int timeout, edit_fn_t edit, void *opaque,
               const struct pani_registry_hook *hook, char **r_reason)
{
  gpg_error_t err;
  pan_registry_t reg = NULL;
  char *lockname = NULL;
  int lockfd = -1;

  if (!(lockname = pani_strdupf ("%s.lock", path)))
    return gpg_error_from_syserror ();
  if ((err = pani_lock (lockname, timeout, &lockfd, r_reason)))
    goto leave;
  if ((err = load_or_empty (path, hook ? hook->expect_sha256 : NULL, &reg,
                            r_reason)))
    goto leave;
  pani_registry_match (reg, hook ? hook->config : NULL);
  if ((err = edit (reg, opaque, r_reason)))
    goto leave;
  err = save_registry (path, reg, hook, r_reason);

leave:
  pani_unlock (lockfd);
  pan_registry_release (reg);
  free (lockname);
  return err;
}

/* Append the checked record OPAQUE to REG unless its address is
 * enrolled or its key was revoked.  */
static gpg_error_t
edit_add (pan_registry_t reg, void *opaque, char **r_reason)
{
  gpg_error_t err;
  struct pan_recipient *valid = opaque;

  if ((err = pani_registry_check_new (reg, valid->address, r_reason))
      || (err = check_not_revoked (reg, valid->fingerprint, r_reason)))
    return err;
  return pani_registry_append (reg, valid, 0);
}

gpg_error_t
pani_registry_add (const char *path, const struct pan_recipient *rec,
                   int timeout, const struct pani_registry_hook *hook,
                   char **r_reason)
{
  gpg_error_t err;
  struct pan_recipient valid;

  memset (&valid, 0, sizeof valid);
  if (!path || !rec)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(err = pani_registry_validate (path, rec, &valid, r_reason)))
    err = update_locked (path, timeout, edit_add, &valid, hook, r_reason);
  pani_registry_clear_rec (&valid);
  return err;
}


/*
 * Changing the state of records.
 */

/* Set REC to STATUS, changed at AT by BY for REASON, with NOTE (NULL:
 * none); on error REC is unchanged.  */
static gpg_error_t
set_state (struct pan_recipient *rec, pan_status_t status, time_t at,
           const char *by, const char *reason, const char *note)
{
  char *by2 = pani_strdup (by);
  char *reason2 = pani_strdup (reason);
  char *note2 = note ? pani_strdup (note) : NULL;

  if (!by2 || !reason2 || (note && !note2))
    {
      gpg_error_t err = gpg_error_from_syserror ();
      free (by2);
      free (reason2);
      free (note2);
      return err;
    }
  free (rec->changed_by);
  free (rec->reason);
  free (rec->note);
  rec->status = status;
  rec->changed_at = at;
  rec->changed_by = by2;
  rec->reason = reason2;
  rec->note = note2;
  return 0;
}

/* What pan_registry_rotate changes.  */
struct rotate_parm
{
  struct pan_recipient *valid; /* The new record, checked.  */
  const char *old_fpr;         /* The key the caller saw, or NULL.  */
};

static gpg_error_t
edit_rotate (pan_registry_t reg, void *opaque, char **r_reason)
{
  gpg_error_t err;
  struct rotate_parm *parm = opaque;
  struct pan_recipient *rec = parm->valid;
  long idx = pani_registry_find_active (reg, rec->address);

  if (idx < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                        "%s has no active enrollment to rotate; use"
                        " pankey enroll",
                        rec->address);
  if (parm->old_fpr && strcmp (reg->recs[idx].fingerprint, parm->old_fpr))
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFLICT),
                        "the active key of %s changed meanwhile to %s;"
                        " check and try again",
                        rec->address, reg->recs[idx].fingerprint);
  if (!strcmp (reg->recs[idx].fingerprint, rec->fingerprint))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s is already pinned to %s; use pankey refresh"
                        " to update that key",
                        rec->address, rec->fingerprint);
  if ((err = check_not_revoked (reg, rec->fingerprint, r_reason))
      || (err = set_state (&reg->recs[idx], PAN_STATUS_RETIRED,
                           rec->enrolled_at, rec->enrolled_by, "rotated",
                           NULL)))
    return err;
  return pani_registry_append (reg, rec, 0);
}

gpg_error_t
pani_registry_rotate (const char *path, const struct pan_recipient *rec,
                      const char *old_fpr, int timeout,
                      const struct pani_registry_hook *hook, char **r_reason)
{
  gpg_error_t err;
  struct pan_recipient valid;
  struct rotate_parm parm = { &valid, old_fpr };

  memset (&valid, 0, sizeof valid);
  if (!path || !rec || rec->status != PAN_STATUS_ACTIVE)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(err = pani_registry_validate (path, rec, &valid, r_reason)))
    err = update_locked (path, timeout, edit_rotate, &parm, hook, r_reason);
  pani_registry_clear_rec (&valid);
  return err;
}

/* Return the record of the normalised ADDR with FPR in REG: the active
 * one, else the last; -1 if there is none.  */
static long
find_key (pan_registry_t reg, const char *addr, const char *fpr)
{
  long idx = pani_registry_find_active (reg, addr);
  size_t i;

  if (idx >= 0 && !strcmp (reg->recs[idx].fingerprint, fpr))
    return idx;
  for (i = reg->count; i > 0; i--)
    if (pani_addr_same (reg->recs[i - 1].address, addr, reg->exact_local)
        && !strcmp (reg->recs[i - 1].fingerprint, fpr))
      return (long)(i - 1);
  return -1;
}

/* Check that the record IDX of REG may go to the state of CHG.  */
static gpg_error_t
check_transition (pan_registry_t reg, long idx,
                  const struct pan_registry_change *chg, char **r_reason)
{
  const struct pan_recipient *rec = &reg->recs[idx];

  if (rec->status == PAN_STATUS_REVOKED)
    return pani_reason (r_reason, gpg_error (GPG_ERR_EALREADY),
                        "key %s of %s is already revoked", rec->fingerprint,
                        rec->address);
  if (chg->status == PAN_STATUS_RETIRED && rec->status != PAN_STATUS_ACTIVE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                        "key %s of %s is not active", rec->fingerprint,
                        rec->address);
  return 0;
}

static gpg_error_t
edit_status (pan_registry_t reg, void *opaque, char **r_reason)
{
  gpg_error_t err;
  const struct pan_registry_change *chg = opaque;
  long idx;

  idx = chg->fingerprint ? find_key (reg, chg->address, chg->fingerprint)
                         : pani_registry_find_active (reg, chg->address);
  if (idx < 0 && chg->fingerprint)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                        "%s was never enrolled with key %s; see pankey"
                        " show %s",
                        chg->address, chg->fingerprint, chg->address);
  if (idx < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_FOUND),
                        "%s has no active enrollment", chg->address);
  if ((err = check_transition (reg, idx, chg, r_reason)))
    return err;
  return set_state (&reg->recs[idx], chg->status, chg->changed_at,
                    chg->changed_by, chg->reason, chg->note);
}

/* Check CHG as the parser would check the fields it writes.  */
static gpg_error_t
validate_change (const char *path, const struct pan_registry_change *chg,
                 char **r_reason)
{
  gpg_error_t err;
  struct pan_recipient rec;
  char *norm = NULL;

  memset (&rec, 0, sizeof rec);
  if (!chg->address || !chg->changed_by || !chg->reason
      || chg->changed_at <= 0
      || (chg->status != PAN_STATUS_RETIRED
          && chg->status != PAN_STATUS_REVOKED))
    return gpg_error (GPG_ERR_INV_VALUE);
  if ((err = pan_addr_normalize (chg->address, &norm, r_reason)))
    return err;
  rec.address = norm;
  rec.protocol = PAN_PROTOCOL_OPENPGP;
  rec.fingerprint = pani_strdup (
    chg->fingerprint ? chg->fingerprint
                     : "0000000000000000000000000000000000000000");
  rec.enrolled_by = pani_strdup (chg->changed_by);
  rec.enrolled_at = chg->changed_at;
  if (!rec.fingerprint || !rec.enrolled_by)
    err = gpg_error_from_syserror ();
  else if (!(err = set_state (&rec, chg->status, chg->changed_at,
                              chg->changed_by, chg->reason, chg->note)))
    {
      struct pan_recipient valid;

      memset (&valid, 0, sizeof valid);
      err = pani_registry_validate (path, &rec, &valid, r_reason);
      pani_registry_clear_rec (&valid);
    }
  pani_registry_clear_rec (&rec);
  return err;
}

gpg_error_t
pani_registry_set_status (const char *path,
                          const struct pan_registry_change *chg, int timeout,
                          const struct pani_registry_hook *hook,
                          char **r_reason)
{
  gpg_error_t err;
  struct pan_registry_change norm;
  char *addr = NULL;

  if (!path || !chg)
    return gpg_error (GPG_ERR_INV_VALUE);
  if ((err = validate_change (path, chg, r_reason)))
    return err;
  if ((err = pan_addr_normalize (chg->address, &addr, r_reason)))
    return err;
  norm = *chg;
  norm.address = addr;
  err = update_locked (path, timeout, edit_status, &norm, hook, r_reason);
  pan_free (addr);
  return err;
}


/*
 * Pinning the subkeys of a refreshed key.
 */

/* Replace *R_DST by a copy of SRC (may be NULL).  */
static gpg_error_t
replace_opt (char **r_dst, const char *src)
{
  char *copy = NULL;

  if (src && !(copy = pani_strdup (src)))
    return gpg_error_from_syserror ();
  free (*r_dst);
  *r_dst = copy;
  return 0;
}

/* Set the pins and the verdict of the active record of WANT's address,
 * which must pin WANT's key (see pani_registry_set_pins).  */
static gpg_error_t
edit_subkeys (pan_registry_t reg, void *opaque, char **r_reason)
{
  const struct pan_recipient *want = opaque;
  long idx = pani_registry_find_active (reg, want->address);
  struct pan_recipient *rec;
  gpg_error_t err;

  if (idx < 0 || strcmp (reg->recs[idx].fingerprint, want->fingerprint))
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFLICT),
                        "%s is no longer pinned to key %s; check and try"
                        " again",
                        want->address, want->fingerprint);
  rec = &reg->recs[idx];
  if (rec->protocol != PAN_PROTOCOL_OPENPGP)
    return gpg_error (GPG_ERR_INV_VALUE);
  if ((err = replace_opt (&rec->subkeys, want->subkeys))
      || (err = replace_opt (&rec->subkey_expiry, want->subkey_expiry))
      || (err = replace_opt (&rec->key_state, want->key_state)))
    return err;
  return replace_opt (&rec->key_policy, want->key_policy);
}

gpg_error_t
pani_registry_set_pins (const char *path, const struct pan_recipient *want,
                        int timeout, const struct pani_registry_hook *hook,
                        char **r_reason)
{
  gpg_error_t err;
  struct pan_recipient rec, valid;

  if (!path || !want->address || !want->fingerprint || !want->subkeys)
    return gpg_error (GPG_ERR_INV_VALUE);
  /* Checked as the parser checks a record that pins them.  */
  rec = *want;
  memset (&valid, 0, sizeof valid);
  rec.protocol = PAN_PROTOCOL_OPENPGP;
  rec.enrolled_at = 1;
  rec.enrolled_by = (char *)"pankey";
  rec.status = PAN_STATUS_ACTIVE;
  rec.changed_at = 0;
  rec.changed_by = rec.reason = rec.note = NULL;
  if (!(err = pani_registry_validate (path, &rec, &valid, r_reason)))
    err = update_locked (path, timeout, edit_subkeys, &rec, hook, r_reason);
  pani_registry_clear_rec (&valid);
  return err;
}

gpg_error_t
pani_registry_set_subkeys (const char *path, const char *addr,
                           const char *fpr, const char *subkeys,
                           const char *expiry, int timeout,
                           const struct pani_registry_hook *hook,
                           char **r_reason)
{
  struct pan_recipient want;

  if (!addr || !fpr)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&want, 0, sizeof want);
  want.address = (char *)addr;
  want.fingerprint = (char *)fpr;
  want.subkeys = (char *)subkeys;
  want.subkey_expiry = (char *)expiry;
  return pani_registry_set_pins (path, &want, timeout, hook, r_reason);
}
