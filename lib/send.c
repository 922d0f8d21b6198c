/* send.c - one message: recipients, encryption to a spool file, the MTA
 *
 * The flow: read the header block (bounded), collect and resolve every
 * recipient to its pinned key, then stream the body through GPGME into
 * a 0600 spool file that holds the complete outgoing PGP/MIME message
 * (RFC 3156), and only then hand that file to the MTA.  The plaintext
 * travels only through memory and GPGME's pipe to gpg.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "keys-int.h"

extern char **environ;

struct rcpt
{
  char *addr;
  char *fpr;
  pan_protocol_t protocol;
  int extra;                    /* Given on the command line.  */
};

struct pan_job
{
  pan_ctx_t ctx;
  pan_headers_t headers;
  struct rcpt *rcpts;
  size_t nrcpts;
  size_t rcpts_size;
  time_t now;                   /* Time of pan_job_resolve.  */
  char *spool_path;
  int spool_fd;
  char *message_id;             /* Given, or made if the message had none. */
  int made_message_id;
  char digest[65];              /* Hex SHA-256 of the spool file.  */
  long long size;               /* Its size in bytes.  */
  pan_scanner_t scanner;        /* Keyed with the home's PAN key.  */
  struct pan_audit_pan *pans;   /* Distinct PANs seen, masked and hashed. */
  size_t npans;
};

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
  job->spool_fd = -1;
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

void
pan_job_release (pan_job_t job)
{
  if (!job)
    return;
  if (job->spool_fd >= 0)
    close (job->spool_fd);
  if (job->spool_path)
    unlink (job->spool_path);
  free (job->spool_path);
  free (job->message_id);
  release_pans (job);
  pan_scanner_release (job->scanner);
  for (size_t i = 0; i < job->nrcpts; i++)
    {
      free (job->rcpts[i].addr);
      free (job->rcpts[i].fpr);
    }
  free (job->rcpts);
  pan_headers_release (job->headers);
  free (job);
}


/*
 * Recipients.
 */

/* Add the normalised address ADDR once.  */
static gpg_error_t
add_rcpt (pan_job_t job, const char *addr, int extra)
{
  struct rcpt *tmp;

  for (size_t i = 0; i < job->nrcpts; i++)
    if (!strcmp (job->rcpts[i].addr, addr))
      {
        job->rcpts[i].extra |= extra;
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
  job->rcpts[job->nrcpts++].extra = extra;
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
  err = pan_addrlist_parse (list, pan_headers_value (job->headers, idx), &why);
  if (err)
    pani_reason (r_reason, err, "the %s header (field %zu) is not a valid"
                 " address list: %s", name, idx + 1,
                 why ? why : gpg_strerror (err));
  for (size_t i = 0; !err && i < pan_addrlist_count (list); i++)
    err = add_rcpt (job, pan_addrlist_addr (list, i), 0);
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
  unsigned char nonce[12];
  char host[256], hex[25];

  if (given)
    return (job->message_id = pani_strdup (given)) ? 0
      : gpg_error_from_syserror ();
  gcry_create_nonce (nonce, sizeof nonce);
  for (size_t i = 0; i < sizeof nonce; i++)
    snprintf (hex + 2 * i, 3, "%02x", nonce[i]);
  if (gethostname (host, sizeof host - 1) || !*host || strchr (host, '>'))
    strcpy (host, "localhost");
  host[sizeof host - 1] = 0;
  job->message_id = pani_strdupf ("<%lld.%s@%s>", (long long)time (NULL),
                                  hex, host);
  job->made_message_id = 1;
  return job->message_id ? 0 : gpg_error_from_syserror ();
}

gpg_error_t
pan_job_read_headers (pan_job_t job, estream_t in, char **r_reason)
{
  gpg_error_t err;

  if ((err = pan_headers_read (in, &job->headers, r_reason))
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
  err = add_rcpt (job, norm, 1);
  free (norm);
  return err;
}

static gpg_error_t
load_registry (pan_job_t job, pan_registry_t *r_reg, char **r_reason)
{
  gpg_error_t err;
  char *path = pan_ctx_path (job->ctx, PAN_REGISTRY_FILE);

  if (!path)
    return gpg_error_from_syserror ();
  err = pan_registry_load (path, r_reg, r_reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                 "%s is missing; is %s a panmail home (pankey init)?",
                 path, pan_ctx_home (job->ctx));
  free (path);
  return gpg_err_code (err) == GPG_ERR_ENOENT
    ? gpg_error (GPG_ERR_CONFIGURATION) : err;
}

static gpg_error_t
resolve_one (pan_job_t job, pan_registry_t reg, struct rcpt *r,
             char **r_reason)
{
  gpg_error_t err;
  const struct pan_recipient *rec = pan_registry_lookup (reg, r->addr);
  char *why = NULL;

  if (!rec)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNKNOWN_NAME),
                        "%s is not enrolled; nothing was sent to anyone."
                        " Enroll its key with 'pankey enroll' after"
                        " checking the fingerprint", r->addr);
  err = pan_keys_check (job->ctx, rec->protocol, rec->fingerprint, job->now,
                        NULL, &why);
  if (err)
    pani_reason (r_reason, err, "%s: %s; nothing was sent to anyone",
                 r->addr, why ? why : gpg_strerror (err));
  else if (!(r->fpr = pani_strdup (rec->fingerprint)))
    err = gpg_error_from_syserror ();
  r->protocol = rec->protocol;
  free (why);
  return err;
}

gpg_error_t
pan_job_resolve (pan_job_t job, time_t now, char **r_reason)
{
  gpg_error_t err;
  pan_registry_t reg = NULL;

  job->now = now;
  if (!job->nrcpts)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NO_USER_ID),
                        "the message has no recipients: give To, Cc or"
                        " Bcc headers or addresses on the command line");
  if ((err = load_registry (job, &reg, r_reason)))
    return err;
  for (size_t i = 0; !err && i < job->nrcpts; i++)
    err = resolve_one (job, reg, &job->rcpts[i], r_reason);
  pan_registry_release (reg);
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

const char *
pan_job_ciphertext_digest (pan_job_t job, long long *r_size)
{
  if (r_size)
    *r_size = job->digest[0] ? job->size : -1;
  return job->digest[0] ? job->digest : NULL;
}


/*
 * Card numbers: none in clear headers; those in the body are listed.
 */

/* Remember the PAN of HIT once (by its keyed hash).  */
static gpg_error_t
note_pan (pan_job_t job, const struct pan_hit *hit)
{
  struct pan_audit_pan *p;

  if (!hit->hash)
    return gpg_error (GPG_ERR_INTERNAL);
  for (size_t i = 0; i < job->npans; i++)
    if (!strcmp (job->pans[i].hash, hit->hash))
      return 0;
  if (job->npans == MAX_LISTED_PANS)
    return 0;
  if (!job->pans && !(job->pans = calloc (MAX_LISTED_PANS, sizeof *p)))
    return gpg_error_from_syserror ();
  p = &job->pans[job->npans];
  p->brand = hit->brand;        /* A static string of pan.c.  */
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

static gpg_error_t
get_scanner (pan_job_t job, char **r_reason)
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
  gpg_error_t err = note_pan (h->job, hit);

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
  if ((err = pan_header_decode_2047 (value, &decoded)))
    return err;
  err = scan_text (job, decoded, h);
  explicit_bzero (decoded, strlen (decoded));
  free (decoded);
  return err;
}

static int is_outer_dropped (const char *name);

gpg_error_t
pan_job_check_headers (pan_job_t job, char **r_reason)
{
  gpg_error_t err = 0;
  struct header_hit h = { job, NULL, "", NULL };

  if (!job->headers)
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = get_scanner (job, r_reason)))
    return err;
  for (size_t i = 0; !err && i < pan_headers_count (job->headers); i++)
    if (!is_outer_dropped (pan_headers_name (job->headers, i)))
      err = scan_header (job, i, &h);
  if (gpg_err_code (err) == GPG_ERR_FORBIDDEN)
    return pani_reason (r_reason, err, "the %s header holds a card number"
                        " (%s %s) and headers travel in clear; move it"
                        " into the body, which is encrypted", h.name,
                        h.brand, h.masked);
  return err;
}

const struct pan_audit_pan *
pan_job_pans (pan_job_t job, size_t *r_count)
{
  *r_count = job->npans;
  return job->pans;
}

static gpg_error_t
body_hit_cb (void *opaque, const struct pan_mime_part *part,
             const struct pan_hit *hit)
{
  return note_pan (opaque, hit);
}


/*
 * The plaintext source: the body entity, streamed to GPGME.
 */

/* The inner entity is the original Content-* fields and the body, with
 * line ends made canonical (CRLF), as RFC 3156 asks.  */
struct body_src
{
  estream_t in;
  char *head;                   /* Inner header block, CRLF.  */
  size_t head_len;
  size_t head_off;
  unsigned char out[16384];     /* Converted body bytes not yet read.  */
  size_t out_len;
  size_t out_off;
  int prev_cr;
  pan_mime_t mime;              /* Scans the body for PANs.  */
  int scan_done;
  gpg_error_t err;              /* Read or scan error.  */
};

static int
is_content_field (const char *name)
{
  return !strncasecmp (name, "Content-", 8);
}

/* Content-* go inside the encrypted entity; Bcc goes nowhere.  */
static int
is_outer_dropped (const char *name)
{
  return is_content_field (name) || !pani_ascii_casecmp (name, "MIME-Version")
    || !pani_ascii_casecmp (name, "Bcc");
}

static void
put_crlf_text (estream_t out, const char *text)
{
  for (; *text; text++)
    {
      if (*text == '\n')
        es_putc ('\r', out);
      es_putc (*text, out);
    }
}

static gpg_error_t
build_inner_head (pan_headers_t headers, char **r_head, size_t *r_len)
{
  estream_t mem = es_fopenmem (0, "w+");
  int have_type = 0;
  void *buf = NULL;

  if (!mem)
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < pan_headers_count (headers); i++)
    if (is_content_field (pan_headers_name (headers, i)))
      {
        have_type |= !pani_ascii_casecmp (pan_headers_name (headers, i),
                                          "Content-Type");
        put_crlf_text (mem, pan_headers_raw (headers, i));
      }
  if (!have_type)
    es_fputs ("Content-Type: text/plain; charset=utf-8\r\n", mem);
  es_fputs ("\r\n", mem);
  if (es_ferror (mem) || es_fclose_snatch (mem, &buf, r_len))
    {
      es_fclose (mem);
      return gpg_error_from_syserror ();
    }
  *r_head = buf;
  return 0;
}

/* Refill SRC->out from the body, turning bare LF into CRLF.  */
static void
refill_body (struct body_src *src)
{
  unsigned char raw[sizeof src->out / 2];
  size_t nread = 0;

  src->out_len = src->out_off = 0;
  if (es_read (src->in, raw, sizeof raw, &nread))
    {
      src->err = gpg_error_from_syserror ();
      return;
    }
  if (nread)
    src->err = pan_mime_scan_feed (src->mime, raw, nread);
  else if (!src->scan_done++)
    src->err = pan_mime_scan_finish (src->mime);
  if (src->err)
    return;
  for (size_t i = 0; i < nread; i++)
    {
      if (raw[i] == '\n' && !src->prev_cr)
        src->out[src->out_len++] = '\r';
      src->out[src->out_len++] = raw[i];
      src->prev_cr = raw[i] == '\r';
    }
}

static ssize_t
body_read_cb (void *handle, void *buffer, size_t size)
{
  struct body_src *src = handle;
  size_t n;

  if (src->head_off < src->head_len)
    {
      n = src->head_len - src->head_off;
      n = n < size ? n : size;
      memcpy (buffer, src->head + src->head_off, n);
      src->head_off += n;
      return n;
    }
  if (src->out_off == src->out_len)
    refill_body (src);
  if (src->err)
    {
      errno = EIO;
      return -1;
    }
  n = src->out_len - src->out_off;
  n = n < size ? n : size;
  memcpy (buffer, src->out + src->out_off, n);
  src->out_off += n;
  return n;
}

/* The converted buffer held plaintext: wipe it.  */
static void
body_src_wipe (struct body_src *src)
{
  explicit_bzero (src->out, sizeof src->out);
  pan_mime_scan_release (src->mime);
  if (src->head)
    {
      explicit_bzero (src->head, src->head_len);
      free (src->head);
    }
}


/*
 * The outgoing message in the spool file.
 */

static gpg_error_t
write_all (int fd, const char *data, size_t len)
{
  ssize_t n;

  while (len)
    {
      n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return gpg_error_from_syserror ();
      data += n;
      len -= n;
    }
  return 0;
}

static gpg_error_t
write_str (int fd, const char *s)
{
  return write_all (fd, s, strlen (s));
}

static gpg_error_t
open_spool (pan_job_t job, char **r_reason)
{
  job->spool_path = pani_strdupf ("%s/spool/msg.XXXXXX",
                                  pan_ctx_home (job->ctx));
  if (!job->spool_path)
    return gpg_error_from_syserror ();
  job->spool_fd = mkstemp (job->spool_path);
  if (job->spool_fd < 0)
    {
      gpg_error_t err = pani_reason_sys (r_reason, job->spool_path);
      free (job->spool_path);
      job->spool_path = NULL;
      return err;
    }
  if (fchmod (job->spool_fd, 0600))
    return pani_reason_sys (r_reason, job->spool_path);
  return 0;
}

static void
make_boundary (char *buf, size_t size)
{
  unsigned char nonce[12];
  size_t n = 0;

  gcry_create_nonce (nonce, sizeof nonce);
  n = snprintf (buf, size, "panmail-");
  for (size_t i = 0; i < sizeof nonce && n + 2 < size; i++, n += 2)
    snprintf (buf + n, size - n, "%02x", nonce[i]);
}

static gpg_error_t
write_outer_field (pan_job_t job, const char *name, const char *value)
{
  gpg_error_t err;
  char *line = pani_strdupf ("%s: %s\n", name, value);

  if (!line)
    return gpg_error_from_syserror ();
  err = write_str (job->spool_fd, line);
  free (line);
  return err;
}

static gpg_error_t
write_outer_head (pan_job_t job, const char *boundary)
{
  gpg_error_t err = 0;
  char *mime;

  for (size_t i = 0; !err && i < pan_headers_count (job->headers); i++)
    if (!is_outer_dropped (pan_headers_name (job->headers, i)))
      err = write_str (job->spool_fd, pan_headers_raw (job->headers, i));
  if (!err && job->made_message_id)
    err = write_outer_field (job, "Message-ID", job->message_id);
  if (err)
    return err;
  mime = pani_strdupf
    ("MIME-Version: 1.0\n"
     "Content-Type: multipart/encrypted;\n"
     "\tprotocol=\"application/pgp-encrypted\";\n"
     "\tboundary=\"%s\"\n"
     "\n"
     "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n"
     "--%s\n"
     "Content-Type: application/pgp-encrypted\n"
     "Content-Description: PGP/MIME version identification\n"
     "\n"
     "Version: 1\n"
     "\n"
     "--%s\n"
     "Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
     "Content-Description: OpenPGP encrypted message\n"
     "Content-Disposition: inline; filename=\"encrypted.asc\"\n"
     "\n", boundary, boundary, boundary);
  if (!mime)
    return gpg_error_from_syserror ();
  err = write_str (job->spool_fd, mime);
  free (mime);
  return err;
}

static gpg_error_t
write_outer_tail (pan_job_t job, const char *boundary)
{
  gpg_error_t err;
  char *tail = pani_strdupf ("\n--%s--\n", boundary);

  if (!tail)
    return gpg_error_from_syserror ();
  err = write_str (job->spool_fd, tail);
  free (tail);
  return err;
}

/* Collect the pinned keys of all recipients, each checked again.  */
static gpg_error_t
collect_keys (pan_job_t job, gpgme_ctx_t gctx, gpgme_key_t **r_keys,
              char **r_reason)
{
  gpg_error_t err = 0;
  gpgme_key_t *keys = calloc (job->nrcpts + 1, sizeof *keys);

  *r_keys = NULL;
  if (!keys)
    return gpg_error_from_syserror ();
  for (size_t i = 0; !err && i < job->nrcpts; i++)
    {
      if (!job->rcpts[i].fpr)
        err = gpg_error (GPG_ERR_INV_STATE);  /* Not resolved.  */
      else if (!(err = pani_get_pinned_key (gctx, job->rcpts[i].fpr,
                                            &keys[i])))
        err = pani_key_usable (keys[i], job->now, r_reason);
      if (err)
        pani_reason (r_reason, err, "%s: key %s cannot be used: %s",
                     job->rcpts[i].addr, job->rcpts[i].fpr ?
                     job->rcpts[i].fpr : "-", gpg_strerror (err));
    }
  if (err)
    {
      for (size_t i = 0; i < job->nrcpts; i++)
        gpgme_key_unref (keys[i]);
      free (keys);
      return err;
    }
  *r_keys = keys;
  return 0;
}

static void
release_keys (gpgme_key_t *keys)
{
  for (size_t i = 0; keys && keys[i]; i++)
    gpgme_key_unref (keys[i]);
  free (keys);
}

static gpg_error_t
check_encrypt_result (gpgme_ctx_t gctx, char **r_reason)
{
  gpgme_encrypt_result_t res = gpgme_op_encrypt_result (gctx);

  if (!res)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpg gave no encryption result");
  if (res->invalid_recipients)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "gpg refused key %s: %s",
                        res->invalid_recipients->fpr,
                        gpg_strerror (res->invalid_recipients->reason));
  return 0;
}

/* Encrypt SRC to KEYS, appending armored ciphertext to the spool.  */
static gpg_error_t
encrypt_stream (pan_job_t job, gpgme_ctx_t gctx, gpgme_key_t *keys,
                struct body_src *src, char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t plain = NULL, cipher = NULL;
  static struct gpgme_data_cbs cbs = { body_read_cb, NULL, NULL, NULL };

  if ((err = gpgme_data_new_from_cbs (&plain, &cbs, src))
      || (err = gpgme_data_new_from_fd (&cipher, job->spool_fd)))
    goto leave;
  gpgme_data_set_flag (plain, "sensitive", "1");
  gpgme_set_armor (gctx, 1);
  err = gpgme_op_encrypt (gctx, keys, GPGME_ENCRYPT_ALWAYS_TRUST
                          | GPGME_ENCRYPT_NO_ENCRYPT_TO, plain, cipher);
  if (src->err)
    err = pani_reason (r_reason, src->err, "reading the message body: %s",
                       gpg_strerror (src->err));
  else if (err)
    pani_reason (r_reason, err, "encryption failed: %s", gpg_strerror (err));
  else
    err = check_encrypt_result (gctx, r_reason);

 leave:
  gpgme_data_release (cipher);
  gpgme_data_release (plain);
  return err;
}

/* Hash the complete outgoing message for the audit record.  */
static gpg_error_t
digest_spool (pan_job_t job, char **r_reason)
{
  gpg_error_t err;
  gcry_md_hd_t md;
  char buf[65536];
  ssize_t n;
  const unsigned char *hash;

  if ((err = gcry_md_open (&md, GCRY_MD_SHA256, 0)))
    return err;
  job->size = 0;
  if (lseek (job->spool_fd, 0, SEEK_SET))
    err = pani_reason_sys (r_reason, job->spool_path);
  while (!err && (n = read (job->spool_fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        err = pani_reason_sys (r_reason, job->spool_path);
      else
        {
          gcry_md_write (md, buf, n);
          job->size += n;
        }
    }
  hash = gcry_md_read (md, GCRY_MD_SHA256);
  for (int i = 0; !err && i < 32; i++)
    snprintf (job->digest + 2 * i, 3, "%02x", hash[i]);
  gcry_md_close (md);
  return err;
}

/* The body is scanned as the entity its Content-* headers describe.  */
static gpg_error_t
start_body_scan (pan_job_t job, struct body_src *src)
{
  const char *type = pan_headers_get (job->headers, "Content-Type");
  const char *encoding = pan_headers_get (job->headers,
                                          "Content-Transfer-Encoding");

  return pan_mime_scan_new (job->scanner, type ? type : "text/plain",
                            encoding, body_hit_cb, job, &src->mime);
}

gpg_error_t
pan_job_encrypt (pan_job_t job, estream_t in, char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t *keys = NULL;
  struct body_src *src = NULL;
  char boundary[64];

  if (!job->headers || !job->nrcpts)
    return gpg_error (GPG_ERR_INV_STATE);
  if (!(src = calloc (1, sizeof *src)))
    return gpg_error_from_syserror ();
  src->in = in;
  if ((err = build_inner_head (job->headers, &src->head, &src->head_len))
      || (err = get_scanner (job, r_reason))
      || (err = start_body_scan (job, src)))
    goto leave;
  if ((err = pani_gpgme_new (job->ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             &gctx)))
    {
      pani_reason (r_reason, err, "cannot start GPGME: %s",
                   gpg_strerror (err));
      goto leave;
    }
  if ((err = collect_keys (job, gctx, &keys, r_reason))
      || (err = open_spool (job, r_reason)))
    goto leave;
  make_boundary (boundary, sizeof boundary);
  if ((err = write_outer_head (job, boundary))
      || (err = encrypt_stream (job, gctx, keys, src, r_reason))
      || (err = write_outer_tail (job, boundary)))
    goto leave;
  if (fsync (job->spool_fd))
    err = pani_reason_sys (r_reason, job->spool_path);
  else
    err = digest_spool (job, r_reason);

 leave:
  if (err)
    pani_reason (r_reason, err, "writing %s: %s",
                 job->spool_path ? job->spool_path : "the spool",
                 gpg_strerror (err));
  release_keys (keys);
  gpgme_release (gctx);
  if (src)
    body_src_wipe (src);
  free (src);
  return err;
}


/*
 * Delivery.
 */

gpg_error_t
pan_argv_split (const char *command, char ***r_argv)
{
  size_t len = strlen (command), n = 0;
  char **argv = calloc (len / 2 + 2, sizeof *argv);
  char *word = malloc (len + 1);
  gpg_error_t err = 0;

  *r_argv = NULL;
  if (!argv || !word)
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  for (const char *p = command; !err && *p;)
    {
      size_t wlen = 0;
      char quote = 0;

      while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
      if (!*p)
        break;
      for (; *p && (quote || !(*p == ' ' || *p == '\t' || *p == '\n')); p++)
        {
          if (!quote && (*p == '"' || *p == '\''))
            quote = *p;
          else if (quote && *p == quote)
            quote = 0;
          else
            word[wlen++] = *p;
        }
      if (quote)
        err = gpg_error (GPG_ERR_UNFINISHED);
      else if (!(argv[n++] = pani_strndup (word, wlen)))
        err = gpg_error_from_syserror ();
    }
  if (!err && !n)
    err = gpg_error (GPG_ERR_MISSING_VALUE);
  if (!err)
    {
      *r_argv = argv;
      argv = NULL;
    }
 leave:
  free (word);
  pan_argv_release (argv);
  return err;
}

void
pan_argv_release (char **argv)
{
  for (size_t i = 0; argv && argv[i]; i++)
    free (argv[i]);
  free (argv);
}

/* Build the MTA command: ARGV, "-i", "--", then every recipient.  The
 * recipients are given explicitly rather than with -t: MTAs disagree on
 * what -t does with addresses on the command line (Sendmail drops them,
 * Postfix adds them), and Bcc must not travel in the headers.  "--"
 * keeps an address that starts with '-' from being taken for an option. */
static gpg_error_t
build_mta_argv (pan_job_t job, const char *const *argv, char ***r_full)
{
  size_t n = 0, k = 0;
  char **full;

  while (argv[n])
    n++;
  if (!(full = calloc (n + 2 + job->nrcpts + 1, sizeof *full)))
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < n; i++)
    full[k++] = (char *)argv[i];
  full[k++] = (char *)"-i";
  full[k++] = (char *)"--";
  for (size_t i = 0; i < job->nrcpts; i++)
    full[k++] = job->rcpts[i].addr;
  *r_full = full;
  return 0;
}

/* Run the MTA on the spool file; store its exit status or -1.  */
static gpg_error_t
run_mta (pan_job_t job, char **full, int *r_status)
{
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, wstatus;

  *r_status = -1;
  if (lseek (job->spool_fd, 0, SEEK_SET))
    return gpg_error_from_syserror ();
  if ((rc = posix_spawn_file_actions_init (&fa)))
    return gpg_error_from_errno (rc);
  rc = posix_spawn_file_actions_adddup2 (&fa, job->spool_fd, 0);
  if (!rc)
    rc = posix_spawnp (&pid, full[0], &fa, NULL, full, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc)
    return gpg_error_from_errno (rc);
  while (waitpid (pid, &wstatus, 0) < 0)
    if (errno != EINTR)
      return gpg_error_from_syserror ();
  *r_status = WIFEXITED (wstatus) ? WEXITSTATUS (wstatus)
    : 128 + WTERMSIG (wstatus);
  return 0;
}

/* Keep the ciphertext the MTA did not take; return its queue path.  */
static char *
queue_spool (pan_job_t job)
{
  const char *base = strrchr (job->spool_path, '/') + 1;
  char *dest = pani_strdupf ("%s/queue/%s.eml", pan_ctx_home (job->ctx),
                             base);

  if (!dest)
    return NULL;
  if (rename (job->spool_path, dest))
    {
      free (dest);
      return NULL;
    }
  free (job->spool_path);
  job->spool_path = NULL;
  return dest;
}

gpg_error_t
pan_job_deliver (pan_job_t job, const char *const *argv, char **r_reason)
{
  gpg_error_t err;
  char **full = NULL, *queued;
  int status;

  if (!job->spool_path || !argv || !argv[0])
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = build_mta_argv (job, argv, &full)))
    return err;
  err = run_mta (job, full, &status);
  free (full);
  if (!err && !status)
    {
      unlink (job->spool_path);
      free (job->spool_path);
      job->spool_path = NULL;
      return 0;
    }
  queued = queue_spool (job);
  if (err)
    pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                 "cannot run the MTA %s: %s; the encrypted message is"
                 " queued as %s", argv[0], gpg_strerror (err),
                 queued ? queued : "(queueing failed too)");
  else
    pani_reason (r_reason, gpg_error (GPG_ERR_EPIPE),
                 "the MTA %s exited with status %d; the encrypted message"
                 " is queued as %s", argv[0], status,
                 queued ? queued : "(queueing failed too)");
  free (queued);
  return gpg_error (GPG_ERR_EPIPE);
}
