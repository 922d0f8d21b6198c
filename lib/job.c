/* job.c - one message to send: its headers, recipients and copies
 *
 * A job reads the header block of a message, collects its recipients
 * (To, Cc, Bcc and the command line), resolves each to its pinned key,
 * refuses card numbers in headers that travel in clear, and plans the
 * copies to send: one per protocol for the visible recipients, one per
 * hidden recipient.  send.c encrypts them and deliver.c hands them to
 * the MTA.  */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "job-int.h"
#include "engine-int.h"
#include "headers-int.h"
#include "rfc2047-int.h"
#include "registry-int.h"
#include "keys-int.h"
#include "review-int.h"
#include "audit-int.h"
#include "addrlist-int.h"
#include "registry-select-int.h"


/* At most this many distinct PANs are listed for the audit record (a
 * record must stay below PAN_AUDIT_MAX_LINE).  XXX: further distinct
 * PANs of a message are not listed.  */
#define MAX_LISTED_PANS 256

gpg_error_t
pan_job_new (pan_ctx_t ctx, pan_job_t *r_job)
{
  pan_job_t job;

  *r_job = NULL;
  if (!(job = calloc (1, sizeof *job)))
    return gpg_error_from_syserror ();
  job->ctx = ctx;
  *r_job = job;
  return 0;
}

static void
release_pans (pan_job_t job)
{
  for (size_t i = 0; i < job->npans; i++)
    {
      free ((char *)job->pans[i].masked);
      free ((char *)job->pans[i].hash);
    }
  free (job->pans);
}

static void
release_rcpts (pan_job_t job)
{
  for (size_t i = 0; i < job->nrcpts; i++)
    {
      free (job->rcpts[i].addr);
      free (job->rcpts[i].fpr);
      free (job->rcpts[i].subkeys);
      free (job->rcpts[i].subkey);
    }
  free (job->rcpts);
}

void
pani_job_release_envelope (pan_job_t job)
{
  free ((char *)job->env.sender);
  free ((char *)job->env.full_name);
  free ((char *)job->env.dsn_notify);
  free ((char *)job->env.dsn_ret);
  free ((char *)job->env.dsn_envid);
  free ((char *)job->env.body_type);
  memset (&job->env, 0, sizeof job->env);
  free (job->sender);
  job->sender = NULL;
  free (job->dsn);
  job->dsn = NULL;
}

void
pan_job_release (pan_job_t job)
{
  if (!job)
    return;
  pani_job_release_copies (job);
  free (job->message_id);
  free (job->warnings);
  release_pans (job);
  pan_scanner_release (job->scanner);
  release_rcpts (job);
  pani_job_release_envelope (job);
  pan_headers_release (job->headers);
  if (job->passphrase)
    {
      pani_wipe (job->passphrase, strlen (job->passphrase));
      gcry_free (job->passphrase);
    }
  free (job);
}


/*
 * Recipients.
 */

/* Add the normalised address ADDR once; VISIBLE if it is named in To
 * or Cc (an address named anywhere visibly is visible), WANTED if it is
 * a recipient (not only named in To or Cc without -t).  */
static gpg_error_t
add_rcpt (pan_job_t job, const char *addr, int visible, int wanted)
{
  struct rcpt *tmp;

  for (size_t i = 0; i < job->nrcpts; i++)
    if (pan_addr_same (pan_ctx_config (job->ctx), job->rcpts[i].addr, addr))
      {
        job->rcpts[i].visible |= visible;
        job->rcpts[i].wanted |= wanted;
        return 0;
      }
  if (job->nrcpts == job->rcpts_size)
    {
      size_t size = job->rcpts_size ? 2 * job->rcpts_size : 8;
      if (!(tmp = realloc (job->rcpts, size * sizeof *tmp)))
        return gpg_error_from_syserror ();
      job->rcpts = tmp;
      job->rcpts_size = size;
    }
  memset (&job->rcpts[job->nrcpts], 0, sizeof *job->rcpts);
  if (!(job->rcpts[job->nrcpts].addr = pani_strdup (addr)))
    return gpg_error_from_syserror ();
  job->rcpts[job->nrcpts].wanted = wanted;
  job->rcpts[job->nrcpts++].visible = visible;
  return 0;
}

static int
is_rcpt_field (const char *name)
{
  return !pani_ascii_casecmp (name, "To") || !pani_ascii_casecmp (name, "Cc")
    || !pani_ascii_casecmp (name, "Bcc");
}

static gpg_error_t
collect_field (pan_job_t job, size_t idx, char **r_reason)
{
  gpg_error_t err;
  pan_addrlist_t list = NULL;
  char *why = NULL;
  const char *name = pan_headers_name (job->headers, idx);

  if ((err = pan_addrlist_new (&list)))
    return err;
  err = pan_addrlist_parse (list, pan_headers_value (job->headers, idx),
                            &why);
  if (err)
    pani_reason (r_reason, err,
                 "the %s header (field %zu) is not a valid"
                 " address list: %s",
                 name, idx + 1, why ? why : gpg_strerror (err));
  for (size_t i = 0; !err && i < pan_addrlist_count (list); i++)
    err = add_rcpt (job, pan_addrlist_addr (list, i),
                    pani_ascii_casecmp (name, "Bcc") != 0, !job->no_extract);
  free (why);
  pan_addrlist_release (list);
  return err;
}

/* A message without Message-ID gets one here rather than from the MTA,
 * so that the audit record and the delivered message name the same.  */
static gpg_error_t
take_message_id (pan_job_t job)
{
  const char *given = pan_headers_get (job->headers, "Message-ID");
  char host[256], hex[25];

  if (given)
    return (job->message_id = pani_strdup (given))
      ? 0
      : gpg_error_from_syserror ();
  pani_nonce_hex (hex, 12);
  pani_hostname (host, sizeof host, "localhost");
  if (strchr (host, '>')) /* It would end the Message-ID.  */
    strcpy (host, "localhost");
  job->message_id = pani_strdupf ("<%lld.%s@%s>", (long long)time (NULL),
                                  hex, host);
  job->made_message_id = 1;
  return job->message_id ? 0 : gpg_error_from_syserror ();
}

/* A message that is already encrypted cannot be checked against the
 * pinned keys, and encrypting it again helps nobody: refuse it.  */
static gpg_error_t
refuse_encrypted (pan_job_t job, char **r_reason)
{
  const char *type = pan_headers_get (job->headers, "Content-Type");
  static const char *const encrypted[] = { "multipart/encrypted",
                                           "application/pkcs7-mime",
                                           "application/x-pkcs7-mime",
                                           "application/pgp-encrypted" };

  for (size_t i = 0; type && i < sizeof encrypted / sizeof *encrypted; i++)
    if (!strncasecmp (type, encrypted[i], strlen (encrypted[i])))
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "the message is already encrypted (%s); give"
                          " pansend the plain message, it encrypts to the"
                          " pinned keys itself",
                          encrypted[i]);
  return 0;
}

gpg_error_t
pan_job_read_headers (pan_job_t job, estream_t in, char **r_reason)
{
  gpg_error_t err;

  if ((err = pani_headers_read (in, &job->headers, r_reason))
      || (err = refuse_encrypted (job, r_reason))
      || (err = take_message_id (job)))
    return err;
  for (size_t i = 0; i < pan_headers_count (job->headers); i++)
    if (is_rcpt_field (pan_headers_name (job->headers, i))
        && (err = collect_field (job, i, r_reason)))
      return err;
  return 0;
}

gpg_error_t
pan_job_add_recipient (pan_job_t job, const char *addr, char **r_reason)
{
  gpg_error_t err;
  char *norm = NULL;

  if ((err = pan_addr_normalize (addr, &norm, r_reason)))
    return err;
  err = add_rcpt (job, norm, 0, 1);
  free (norm);
  return err;
}

void
pan_job_set_extract (pan_job_t job, int extract)
{
  job->no_extract = !extract;
}

/* Drop the addresses that are only named in To or Cc (without -t).  */
static void
drop_unwanted (pan_job_t job)
{
  size_t n = 0;

  for (size_t i = 0; i < job->nrcpts; i++)
    if (job->rcpts[i].wanted)
      job->rcpts[n++] = job->rcpts[i];
    else
      free (job->rcpts[i].addr);
  job->nrcpts = n;
}

/* The error for a registry at PATH over PANI_REGISTRY_MAX bytes.  */
static gpg_error_t
registry_too_large (const char *path, char **r_reason)
{
  return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                      "%s: larger than %d bytes", path, PANI_REGISTRY_MAX);
}

/* Read the registry, opened as FD (its path PATH), in pieces; hash
 * each piece into HEX (SHA-256, 65 bytes) and hand it to SEL, or
 * append it to WHOLE if SEL is NULL.  Pieces copied out of the file,
 * not a mapping of it (which shares the page cache): the bytes parsed
 * are the bytes hashed, even if the file is written in place
 * meanwhile; and a send keeps only its recipients' stanzas of a
 * registry of megabytes.  */
static gpg_error_t
read_registry (int fd, const char *path, pani_registry_selector_t sel,
               struct pani_buf *whole, char *hex, char **r_reason)
{
  char piece[32768];
  gcry_md_hd_t md;
  size_t total = 0;
  ssize_t n;
  gpg_error_t err;

  if ((err = gcry_md_open (&md, GCRY_MD_SHA256, 0)))
    return err;
  while (!err && (n = read (fd, piece, sizeof piece)))
    if (n < 0 && errno != EINTR)
      err = pani_reason_sys (r_reason, path);
    else if (n > 0 && (total += (size_t)n) > PANI_REGISTRY_MAX)
      err = registry_too_large (path, r_reason);
    else if (n > 0)
      {
        gcry_md_write (md, piece, (size_t)n);
        if (sel)
          err = pani_registry_selector_feed (sel, piece, (size_t)n);
        else
          pani_buf_put (whole, piece, (size_t)n);
      }
  if (!err && !sel)
    err = pani_buf_error (whole);
  if (!err)
    pani_bin2hex (gcry_md_read (md, GCRY_MD_SHA256), 32, hex);
  gcry_md_close (md);
  return err;
}

/* A selector of the stanzas of JOB's recipients (ADDRS, filled in).  */
static gpg_error_t
recipients_selector (pan_job_t job, const char ***r_addrs,
                     pani_registry_selector_t *r_sel)
{
  if (!(*r_addrs = calloc (job->nrcpts + 1, sizeof **r_addrs)))
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < job->nrcpts; i++)
    (*r_addrs)[i] = job->rcpts[i].addr;
  return pani_registry_selector_new (*r_addrs, job->nrcpts,
                                     pani_addr_case_exact (
                                       pan_ctx_config (job->ctx)),
                                     r_sel);
}

/* Read the registry of JOB (FD, PATH) into *R_REG: refused if it
 * differs from the registry the audit log recorded last (changed behind
 * pankey's back); only the stanzas of JOB's recipients if it is that
 * one; all of it if the log recorded none (an older version).  */
static gpg_error_t
parse_registry (pan_job_t job, int fd, const char *path,
                pan_registry_t *r_reg, char **r_reason)
{
  struct pani_audit_registry_mark mark;
  struct pani_buf whole = { NULL, 0, 0, 0 };
  pani_registry_selector_t sel = NULL;
  const char **addrs = NULL;
  char hex[65], *text = NULL;
  size_t len = 0;
  gpg_error_t err;

  if (!(err = pani_review_newest_registry (job->ctx, &mark, r_reason))
      && mark.seq)
    err = recipients_selector (job, &addrs, &sel);
  if (!err)
    err = read_registry (fd, path, sel, &whole, hex, r_reason);
  if (!err && mark.seq && strcmp (mark.sha256, hex))
    err = pani_review_registry_changed (job->ctx, &mark, hex, r_reason);
  if (!err && sel)
    {
      err = pani_registry_selector_finish (sel, &text, &len);
      sel = NULL; /* Released.  */
    }
  else if (!err)
    {
      len = whole.len;
      if (!(text = pani_buf_take (&whole)))
        err = gpg_error (GPG_ERR_ENOMEM);
    }
  if (!err)
    err = pani_registry_parse (path, text, len, r_reg, r_reason);
  /* The registry checked against the newest recorded digest.  */
  if (!err && mark.seq)
    memcpy (job->registry_checked, hex, sizeof job->registry_checked);
  pani_registry_selector_release (sel);
  pani_buf_free (&whole);
  free (text);
  free (addrs);
  return err;
}

static gpg_error_t
load_registry (pan_job_t job, pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  char *path = pan_ctx_path (job->ctx, PAN_REGISTRY_FILE);
  int fd = -1;

  if (!path)
    return gpg_error_from_syserror ();
  err = pani_home_open (job->ctx, PAN_REGISTRY_FILE, O_RDONLY, 0,
                        PANI_HOME_OPERATOR, &fd, r_reason);
  if (!err)
    {
      err = parse_registry (job, fd, path, r_reg, r_reason);
      close (fd);
    }
  if (!err)
    pani_registry_match (*r_reg, pan_ctx_config (job->ctx));
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                 "%s is missing; is %s a panmail home (pankey init)?", path,
                 pan_ctx_home (job->ctx));
  free (path);
  return gpg_err_code (err) == GPG_ERR_ENOENT
    ? gpg_error (GPG_ERR_CONFIGURATION)
    : err;
}

/* The refusal for ADDR, which has no active enrollment: revoked (77)
 * or never enrolled (67).  */
static gpg_error_t
refuse_unenrolled (pan_registry_t reg, const char *addr, char **r_reason)
{
  const struct pan_recipient *old = pani_registry_lookup_any (reg, addr);

  if (old && old->status == PAN_STATUS_REVOKED)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CERT_REVOKED),
                        "%s: key %s was revoked (%s); nothing was sent to"
                        " anyone.  Enroll a new key with 'pankey enroll'",
                        addr, old->fingerprint,
                        old->reason ? old->reason : "no reason given");
  return pani_reason (r_reason, gpg_error (GPG_ERR_UNKNOWN_NAME),
                      "%s is not enrolled; nothing was sent to anyone."
                      " Enroll its key with 'pankey enroll' after"
                      " checking the fingerprint",
                      addr);
}

/* Note a key that expires within expire-warn-days of NOW.  */
static gpg_error_t
note_expiry (pan_job_t job, const struct rcpt *r, time_t expires)
{
  long days = pan_policy_warn_days (pan_ctx_config (job->ctx));
  char date[32];
  char *line, *tmp;

  if (!expires || expires - job->now > days * 86400L)
    return 0;
  line = pani_strdupf ("key %s of %s expires in %ld days (%s); ask for a"
                       " new key",
                       r->fpr, r->addr, pan_days_until (job->now, expires),
                       pan_time_format (expires, date, sizeof date));
  if (!line)
    return gpg_error_from_syserror ();
  tmp = job->warnings ? pani_strdupf ("%s; %s", job->warnings, line) : line;
  if (tmp != line)
    free (line);
  if (!tmp)
    return gpg_error_from_syserror ();
  free (job->warnings);
  job->warnings = tmp;
  return 0;
}

/* Check the key of REC in the keyring, as pansend did before the
 * registry kept the times of its subkeys; the reason names ADDR.  */
static gpg_error_t
check_in_keyring (pan_job_t job, const struct pan_recipient *rec,
                  const char *addr, time_t *r_expires, char **r_reason)
{
  gpg_error_t err;
  char *why = NULL;

  err = pani_keys_check_pinned (job->ctx, rec, job->now, r_expires, &why);
  if (err)
    pani_reason (r_reason, err, "%s: %s; nothing was sent to anyone", addr,
                 why ? why : gpg_strerror (err));
  free (why);
  return err;
}

/* Resolve R to its enrollment in REG.  An OpenPGP record that keeps
 * the times of its subkeys needs no key listing: gpg gets the chosen
 * subkey by exact fingerprint and refuses it itself if it was revoked
 * or expired since (pani_job_refusal).  Any other starts the watch of
 * the engines (*WATCH) if it is not running yet.  */
static gpg_error_t
resolve_one (pan_job_t job, pan_registry_t reg, struct rcpt *r,
             pani_engine_guard_t *watch, char **r_reason)
{
  gpg_error_t err;
  const struct pan_recipient *rec = pani_registry_lookup (reg, r->addr);
  time_t expires = 0;

  if (!rec)
    return refuse_unenrolled (reg, r->addr, r_reason);
  err = pani_keys_recorded_subkey (rec, job->now, &r->subkey, &expires);
  /* The look-ups within gpg-timeout (no wait without a bound).  */
  if (gpg_err_code (err) == GPG_ERR_NO_DATA
      && (*watch || !(err = pani_engine_watch_begin (job->ctx, watch))))
    err = check_in_keyring (job, rec, r->addr, &expires, r_reason);
  if (!err
      && (!(r->fpr = pani_strdup (rec->fingerprint))
          || (rec->subkeys && !(r->subkeys = pani_strdup (rec->subkeys)))))
    err = gpg_error_from_syserror ();
  r->protocol = rec->protocol;
  if (!err)
    err = note_expiry (job, r, expires);
  return err;
}

gpg_error_t
pani_job_refusal (pan_job_t job, size_t idx, gpg_error_t err,
                  char **r_reason)
{
  struct rcpt *r = &job->rcpts[idx];
  struct pan_recipient rec;
  pani_engine_guard_t watch = NULL;
  char *gpg_why = NULL, *why = NULL;
  gpg_error_t err2;

  job->refused = 1;
  if (r_reason)
    {
      gpg_why = *r_reason;
      *r_reason = NULL;
    }
  memset (&rec, 0, sizeof rec);
  rec.address = r->addr;
  rec.protocol = r->protocol;
  rec.fingerprint = r->fpr;
  rec.subkeys = r->subkeys;
  if (!(err2 = pani_engine_watch_begin (job->ctx, &watch)))
    {
      err2 = check_in_keyring (job, &rec, r->addr, NULL, &why);
      err2 = pani_engine_watch_end (watch, err2, &why);
    }
  if (!err2) /* The keyring sees no reason: gpg's stands.  */
    err2 = pani_reason (&why, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "%s: %s; nothing was sent to anyone", r->addr,
                        gpg_why ? gpg_why : gpg_strerror (err));
  if (r_reason)
    {
      *r_reason = why;
      why = NULL;
    }
  free (why);
  free (gpg_why);
  return err2;
}

int
pan_job_refused (pan_job_t job)
{
  return job && job->refused;
}

const char *
pan_job_warnings (pan_job_t job)
{
  return job->warnings;
}

/* Add a copy for PROTOCOL, HIDDEN or not, and return its index.
 * JOB->copies has room for one copy per recipient, and each recipient
 * adds at most one.  */
static size_t
add_copy (pan_job_t job, pan_protocol_t protocol, int hidden)
{
  struct copy *c = &job->copies[job->ncopies];

  c->protocol = protocol;
  c->hidden = hidden;
  c->spool_fd = -1;
  return job->ncopies++;
}

/* Return the index of the copy of the visible recipients of PROTOCOL,
 * made on first use.  */
static size_t
visible_copy (pan_job_t job, pan_protocol_t protocol)
{
  for (size_t i = 0; i < job->ncopies; i++)
    if (!job->copies[i].hidden && job->copies[i].protocol == protocol)
      return i;
  return add_copy (job, protocol, 0);
}

/* Give each copy its slice of JOB->copy_rcpts, one entry per recipient
 * of the copy, in the order of JOB's recipients; COPY_OF[I] is the
 * copy of recipient I.  */
static void
fill_copies (pan_job_t job, const size_t *copy_of)
{
  size_t off = 0;

  for (size_t k = 0; k < job->ncopies; k++)
    {
      job->copies[k].rcpts = job->copy_rcpts + off;
      off += job->copies[k].nrcpts;
      job->copies[k].nrcpts = 0;
    }
  for (size_t i = 0; i < job->nrcpts; i++)
    {
      struct copy *c = &job->copies[copy_of[i]];

      c->rcpts[c->nrcpts++] = i;
    }
}

static gpg_error_t
plan_copies (pan_job_t job)
{
  size_t *copy_of = NULL;
  gpg_error_t err = 0;

  pani_job_release_copies (job);
  job->copies = calloc (job->nrcpts, sizeof *job->copies);
  job->copy_rcpts = calloc (job->nrcpts, sizeof *job->copy_rcpts);
  copy_of = calloc (job->nrcpts, sizeof *copy_of);
  if (!job->copies || !job->copy_rcpts || !copy_of)
    {
      err = gpg_error (GPG_ERR_ENOMEM);
      goto leave;
    }
  for (size_t i = 0; i < job->nrcpts; i++)
    {
      struct rcpt *r = &job->rcpts[i];

      copy_of[i] = r->visible ? visible_copy (job, r->protocol)
                              : add_copy (job, r->protocol, 1);
      job->copies[copy_of[i]].nrcpts++;
    }
  fill_copies (job, copy_of);
leave:
  free (copy_of);
  return err;
}

void
pani_job_release_copies (pan_job_t job)
{
  for (size_t i = 0; i < job->ncopies; i++)
    {
      struct copy *c = &job->copies[i];

      if (c->spool_fd >= 0)
        close (c->spool_fd);
      if (c->env_path)
        unlink (c->env_path);
      if (c->spool_path)
        unlink (c->spool_path);
      free (c->env_path);
      free (c->spool_path);
    }
  free (job->copies);
  job->copies = NULL;
  job->ncopies = 0;
  free (job->copy_rcpts);
  job->copy_rcpts = NULL;
}

gpg_error_t
pan_job_resolve (pan_job_t job, time_t now, char **r_reason)
{
  gpg_error_t err;
  pan_registry_t reg = NULL;
  pani_engine_guard_t watch = NULL;

  job->now = now;
  *job->registry_checked = 0;
  drop_unwanted (job);
  if (!job->nrcpts)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_USER_ID),
                        "the message has no recipients: give To, Cc or"
                        " Bcc headers (with -t) or addresses on the"
                        " command line");
  if ((err = load_registry (job, &reg, r_reason)))
    return err;
  for (size_t i = 0; !err && i < job->nrcpts; i++)
    err = resolve_one (job, reg, &job->rcpts[i], &watch, r_reason);
  if (watch)
    err = pani_engine_watch_end (watch, err, r_reason);
  pan_registry_release (reg);
  if (!err)
    err = plan_copies (job);
  return err;
}

size_t
pan_job_recipient_count (pan_job_t job)
{
  return job->nrcpts;
}

const char *
pan_job_recipient_addr (pan_job_t job, size_t idx)
{
  return idx < job->nrcpts ? job->rcpts[idx].addr : NULL;
}

const char *
pan_job_recipient_fpr (pan_job_t job, size_t idx)
{
  return idx < job->nrcpts ? job->rcpts[idx].fpr : NULL;
}

pan_protocol_t
pan_job_recipient_protocol (pan_job_t job, size_t idx)
{
  return idx < job->nrcpts ? job->rcpts[idx].protocol : PAN_PROTOCOL_NONE;
}


pan_headers_t
pan_job_headers (pan_job_t job)
{
  return job->headers;
}

const char *
pan_job_message_id (pan_job_t job)
{
  return job->message_id;
}

size_t
pan_job_copy_count (pan_job_t job)
{
  return job->ncopies;
}

pan_protocol_t
pan_job_copy_protocol (pan_job_t job, size_t copy)
{
  return copy < job->ncopies ? job->copies[copy].protocol
                             : PAN_PROTOCOL_NONE;
}

int
pan_job_copy_hidden (pan_job_t job, size_t copy)
{
  return copy < job->ncopies && job->copies[copy].hidden;
}

size_t
pan_job_copy_recipient_count (pan_job_t job, size_t copy)
{
  return copy < job->ncopies ? job->copies[copy].nrcpts : 0;
}

size_t
pan_job_copy_recipient (pan_job_t job, size_t copy, size_t idx)
{
  return job->copies[copy].rcpts[idx];
}

const char *
pan_job_registry_checked (pan_job_t job)
{
  return *job->registry_checked ? job->registry_checked : NULL;
}

const char *
pan_job_copy_digest (pan_job_t job, size_t copy, long long *r_size)
{
  const struct copy *c = copy < job->ncopies ? &job->copies[copy] : NULL;

  if (r_size)
    *r_size = c && c->digest[0] ? c->size : -1;
  return c && c->digest[0] ? c->digest : NULL;
}


/*
 * Card numbers: none in clear headers; those in the body are listed.
 */

gpg_error_t
pani_job_note_pan (pan_job_t job, const struct pan_hit *hit)
{
  struct pan_audit_pan *p;

  if (!hit->hash)
    return gpg_error (GPG_ERR_INTERNAL);
  for (size_t i = 0; i < job->npans; i++)
    if (!strcmp (job->pans[i].hash, hit->hash))
      return 0;
  if (job->npans == MAX_LISTED_PANS)
    return 0;
  if (!job->pans)
    {
      /* Owned by JOB from here on.  */
      struct pan_audit_pan *pans = calloc (MAX_LISTED_PANS, sizeof *pans);

      if (!pans)
        return gpg_error (GPG_ERR_ENOMEM);
      job->pans = pans;
    }
  p = &job->pans[job->npans];
  p->brand = hit->brand; /* A static string of pan.c.  */
  p->masked = pani_strdup (hit->masked);
  p->hash = pani_strdup (hit->hash);
  if (!p->masked || !p->hash)
    {
      free ((char *)p->masked);
      free ((char *)p->hash);
      return gpg_error_from_syserror ();
    }
  job->npans++;
  return 0;
}

gpg_error_t
pani_job_scanner (pan_job_t job, char **r_reason)
{
  if (job->scanner)
    return 0;
  return pan_ctx_pan_scanner (job->ctx, &job->scanner, r_reason);
}

/* What the header scan found first.  */
struct header_hit
{
  pan_job_t job;
  const char *name;
  char masked[PAN_MASK_SIZE];
  const char *brand;
};

static gpg_error_t
header_hit_cb (void *opaque, const struct pan_hit *hit)
{
  struct header_hit *h = opaque;
  gpg_error_t err = pani_job_note_pan (h->job, hit);

  if (err)
    return err;
  snprintf (h->masked, sizeof h->masked, "%s", hit->masked);
  h->brand = hit->brand;
  return gpg_error (GPG_ERR_FORBIDDEN);
}

static gpg_error_t
scan_text (pan_job_t job, const char *text, struct header_hit *h)
{
  gpg_error_t err;

  err = pan_scanner_feed (job->scanner, text, strlen (text), header_hit_cb,
                          h);
  if (!err)
    err = pan_scanner_finish (job->scanner, header_hit_cb, h);
  else
    pan_scanner_finish (job->scanner, NULL, NULL);
  return err;
}

/* Scan the value of header IDX as written and RFC 2047 decoded.  */
static gpg_error_t
scan_header (pan_job_t job, size_t idx, struct header_hit *h)
{
  gpg_error_t err;
  const char *value = pan_headers_value (job->headers, idx);
  char *decoded = NULL;

  h->name = pan_headers_name (job->headers, idx);
  if ((err = scan_text (job, value, h)))
    return err;
  if ((err = pani_header_decode_2047 (value, &decoded)))
    return err;
  err = scan_text (job, decoded, h);
  pani_wipe_free_str (decoded);
  return err;
}

gpg_error_t
pan_job_check_headers (pan_job_t job, char **r_reason)
{
  gpg_error_t err = 0;
  struct header_hit h = { job, NULL, "", NULL };

  if (!job->headers)
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = pan_headers_refuse_resent (job->headers, r_reason))
      || (err = pani_job_scanner (job, r_reason)))
    return err;
  for (size_t i = 0; !err && i < pan_headers_count (job->headers); i++)
    if (!pani_is_outer_dropped (pan_headers_name (job->headers, i)))
      err = scan_header (job, i, &h);
  if (gpg_err_code (err) == GPG_ERR_FORBIDDEN)
    return pani_reason (r_reason, err,
                        "the %s header holds a card number"
                        " (%s %s) and headers travel in clear; move it"
                        " into the body, which is encrypted",
                        h.name, h.brand, h.masked);
  return err;
}

const struct pan_audit_pan *
pan_job_pans (pan_job_t job, size_t *r_count)
{
  *r_count = job->npans;
  return job->pans;
}

int
pani_is_content_field (const char *name)
{
  return !strncasecmp (name, "Content-", 8);
}

int
pani_is_outer_dropped (const char *name)
{
  return pani_is_content_field (name)
    || !pani_ascii_casecmp (name, "MIME-Version")
    || !pani_ascii_casecmp (name, "Bcc");
}
