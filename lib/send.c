/* send.c - encrypt a job's copies to spool files
 *
 * The body streams from stdin through GPGME into a 0600 spool file that
 * holds the complete outgoing PGP/MIME message (RFC 3156), one file per
 * copy, and only when every copy is ready is any handed to the MTA
 * (deliver.c).
 * With more than one copy the body is kept, for the later copies, in a
 * sealed spool (seal.c): encrypted under a one-time key in secure
 * memory.  The plaintext travels only through memory and GPGME's pipes
 * to gpg.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "home-int.h"
#include "keys-int.h"
#include "job-int.h"
#include "seal-int.h"
#include "smime-int.h"

/* The header fields that protected headers (protected-headers="v1")
 * carry inside the encryption.  */
static const char *const protected_fields[] =
  { "Subject", "From", "To", "Cc", "Date", "Message-ID", "Reply-To" };


/*
 * The plaintext: the inner entity, streamed to GPGME.
 */

/* Where the body bytes come from: stdin (scanned for PANs as they pass,
 * and copied to the seal if there are more copies), or the seal.  */
struct body_src
{
  gpgrt_stream_t in;            /* NULL: read the seal.  */
  pani_seal_t seal;             /* Written while reading IN, else read.  */
  char *head;                   /* Inner header block, CRLF.  */
  size_t head_len;
  size_t head_off;
  unsigned char out[16384];     /* Converted body bytes not yet read.  */
  size_t out_len;
  size_t out_off;
  int prev_cr;
  pan_mime_t mime;              /* Scans the body for PANs.  */
  int scan_done;
  gpg_error_t err;              /* Read, seal or scan error.  */
};

static gpg_error_t
body_hit_cb (void *opaque, const struct pan_mime_part *part,
             const struct pan_hit *hit)
{
  return pani_job_note_pan (opaque, hit);
}

static void
put_crlf_text (gpgrt_stream_t out, const char *text)
{
  for (; *text; text++)
    {
      if (*text == '\n')
        es_putc ('\r', out);
      es_putc (*text, out);
    }
}

static int
is_protected (const char *name)
{
  for (size_t i = 0; i < sizeof protected_fields / sizeof *protected_fields;
       i++)
    if (!pani_ascii_casecmp (name, protected_fields[i]))
      return 1;
  return 0;
}

static int
protect_headers (pan_job_t job)
{
  const char *v = pan_config_get (pan_ctx_config (job->ctx),
                                  "protected-headers");

  return !v || strcmp (v, "off");
}

/* Write the Content-Type of the inner entity, marked as carrying
 * protected headers when PROTECT.  */
static void
put_inner_type (pan_headers_t headers, int protect, gpgrt_stream_t out)
{
  const char *type = NULL;

  for (size_t i = 0; i < pan_headers_count (headers) && !type; i++)
    if (!pani_ascii_casecmp (pan_headers_name (headers, i), "Content-Type"))
      type = pan_headers_raw (headers, i);
  if (!type)
    type = "Content-Type: text/plain; charset=utf-8\n";
  if (!protect)
    {
      put_crlf_text (out, type);
      return;
    }
  /* Drop the final LF to append the parameter.  */
  es_write (out, type, strlen (type) - 1, NULL);
  put_crlf_text (out, ";\n protected-headers=\"v1\"\n");
}

/* Build the header block of the inner entity: the protected header
 * fields (unless switched off), the Content-* fields, CRLF ends.  */
static gpg_error_t
build_inner_head (pan_job_t job, char **r_head, size_t *r_len)
{
  pan_headers_t headers = job->headers;
  int protect = protect_headers (job);
  gpgrt_stream_t mem = es_fopenmem (0, "w+");
  void *buf = NULL;

  if (!mem)
    return gpg_error_from_syserror ();
  put_inner_type (headers, protect, mem);
  for (size_t i = 0; i < pan_headers_count (headers); i++)
    {
      const char *name = pan_headers_name (headers, i);

      if ((pani_is_content_field (name)
           && pani_ascii_casecmp (name, "Content-Type"))
          || (protect && is_protected (name)))
        put_crlf_text (mem, pan_headers_raw (headers, i));
    }
  if (protect && job->made_message_id)
    es_fprintf (mem, "Message-ID: %s\r\n", job->message_id);
  es_fputs ("\r\n", mem);
  if (es_ferror (mem) || es_fclose_snatch (mem, &buf, r_len))
    {
      es_fclose (mem);
      return gpg_error_from_syserror ();
    }
  *r_head = buf;
  return 0;
}

/* Read raw body bytes from stdin (scanning them and keeping them in
 * the seal) or from the seal.  */
static size_t
read_raw (struct body_src *src, unsigned char *raw, size_t size)
{
  size_t nread = 0;

  if (!src->in)
    {
      src->err = pani_seal_read (src->seal, raw, size, &nread);
      return nread;
    }
  if (es_read (src->in, raw, size, &nread))
    {
      src->err = gpg_error_from_syserror ();
      return 0;
    }
  if (nread)
    src->err = pan_mime_scan_feed (src->mime, raw, nread);
  else if (!src->scan_done++)
    src->err = pan_mime_scan_finish (src->mime);
  if (!src->err && nread && src->seal)
    src->err = pani_seal_write (src->seal, raw, nread);
  return nread;
}

/* Refill SRC->out from the body, turning bare LF into CRLF.  */
static void
refill_body (struct body_src *src)
{
  unsigned char raw[sizeof src->out / 2];
  size_t nread;

  src->out_len = src->out_off = 0;
  nread = read_raw (src, raw, sizeof raw);
  for (size_t i = 0; !src->err && i < nread; i++)
    {
      if (raw[i] == '\n' && !src->prev_cr)
        src->out[src->out_len++] = '\r';
      src->out[src->out_len++] = raw[i];
      src->prev_cr = raw[i] == '\r';
    }
  explicit_bzero (raw, sizeof raw);
}

static size_t
take (const void *from, size_t avail, void *buffer, size_t size)
{
  size_t n = avail < size ? avail : size;

  memcpy (buffer, from, n);
  return n;
}

static ssize_t
body_read_cb (void *handle, void *buffer, size_t size)
{
  struct body_src *src = handle;
  size_t n;

  if (src->head_off < src->head_len)
    {
      n = take (src->head + src->head_off, src->head_len - src->head_off,
                buffer, size);
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
  n = take (src->out + src->out_off, src->out_len - src->out_off, buffer,
            size);
  src->out_off += n;
  return n;
}

/* Start SRC over for the next copy: from the seal.  */
static gpg_error_t
body_src_rewind (struct body_src *src)
{
  src->in = NULL;
  src->head_off = 0;
  src->out_len = src->out_off = 0;
  src->prev_cr = 0;
  return pani_seal_rewind (src->seal);
}

/* Everything in SRC held plaintext: wipe it.  */
static void
body_src_release (struct body_src *src)
{
  if (!src)
    return;
  explicit_bzero (src->out, sizeof src->out);
  pan_mime_scan_release (src->mime);
  pani_seal_release (src->seal);
  if (src->head)
    {
      explicit_bzero (src->head, src->head_len);
      free (src->head);
    }
  free (src);
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

static gpg_error_t
body_src_new (pan_job_t job, gpgrt_stream_t in, struct body_src **r_src,
              char **r_reason)
{
  gpg_error_t err;
  struct body_src *src = calloc (1, sizeof *src);
  char *spool = NULL;

  *r_src = NULL;
  if (!src)
    return gpg_error_from_syserror ();
  src->in = in;
  if ((err = build_inner_head (job, &src->head, &src->head_len))
      || (err = pani_job_scanner (job, r_reason))
      || (err = start_body_scan (job, src)))
    goto leave;
  if (job->ncopies > 1)
    {
      if (!(spool = pan_ctx_path (job->ctx, "spool")))
        err = gpg_error_from_syserror ();
      else if ((err = pani_seal_create (spool, &src->seal)))
        pani_reason (r_reason, err, "%s: cannot create the sealed spool:"
                     " %s", spool, gpg_strerror (err));
    }
 leave:
  free (spool);
  if (err)
    body_src_release (src);
  else
    *r_src = src;
  return err;
}


/*
 * The outgoing message of one copy in its spool file.
 */

static gpg_error_t
write_str (int fd, const char *s)
{
  return pani_write_all (fd, s, strlen (s));
}

static gpg_error_t
open_spool (pan_job_t job, struct copy *c, char **r_reason)
{
  c->spool_path = pani_strdupf ("%s/spool/msg.XXXXXX",
                                pan_ctx_home (job->ctx));
  if (!c->spool_path)
    return gpg_error_from_syserror ();
  c->spool_fd = mkstemp (c->spool_path);
  if (c->spool_fd < 0)
    {
      gpg_error_t err = pani_reason_sys (r_reason, c->spool_path);
      free (c->spool_path);
      c->spool_path = NULL;
      return err;
    }
  if (fchmod (c->spool_fd, 0600))
    return pani_reason_sys (r_reason, c->spool_path);
  return 0;
}

static void
make_boundary (char *buf, size_t size)
{
  char hex[25];

  pani_nonce_hex (hex, 12);
  snprintf (buf, size, "panmail-%s", hex);
}

static gpg_error_t
write_field (int fd, const char *name, const char *value)
{
  gpg_error_t err;
  char *line = pani_strdupf ("%s: %s\n", name, value);

  if (!line)
    return gpg_error_from_syserror ();
  err = write_str (fd, line);
  free (line);
  return err;
}

/* The Subject of the outer header when headers are protected.  */
static const char *
subject_placeholder (pan_job_t job)
{
  const char *v = pan_config_get (pan_ctx_config (job->ctx),
                                  "protected-subject");

  return v ? v : "[...]";
}

/* Write the header fields that travel in clear: all but Content-*,
 * MIME-Version and Bcc, with the Subject replaced when protected.  */
static gpg_error_t
write_visible_fields (pan_job_t job, int fd)
{
  gpg_error_t err = 0;
  int protect = protect_headers (job);

  for (size_t i = 0; !err && i < pan_headers_count (job->headers); i++)
    {
      const char *name = pan_headers_name (job->headers, i);

      if (pani_is_outer_dropped (name))
        continue;
      if (protect && !pani_ascii_casecmp (name, "Subject"))
        err = write_field (fd, "Subject", subject_placeholder (job));
      else
        err = write_str (fd, pan_headers_raw (job->headers, i));
    }
  if (!err && job->made_message_id)
    err = write_field (fd, "Message-ID", job->message_id);
  return err;
}

static gpg_error_t
write_pgpmime_head (int fd, const char *boundary)
{
  gpg_error_t err;
  char *mime = pani_strdupf
    ("MIME-Version: 1.0\n"
     "Content-Type: multipart/encrypted;\n"
     "\tprotocol=\"application/pgp-encrypted\";\n"
     "\tboundary=\"%s\"\n"
     "Content-Transfer-Encoding: 7bit\n"
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
  err = write_str (fd, mime);
  free (mime);
  return err;
}

static gpg_error_t
write_pgpmime_tail (int fd, const char *boundary)
{
  gpg_error_t err;
  char *tail = pani_strdupf ("\n--%s--\n", boundary);

  if (!tail)
    return gpg_error_from_syserror ();
  err = write_str (fd, tail);
  free (tail);
  return err;
}


/*
 * Encryption of one copy.
 */

/* Collect the pinned keys of the copy's recipients, each checked
 * again.  */
static gpg_error_t
collect_keys (pan_job_t job, const struct copy *c, gpgme_ctx_t gctx,
              gpgme_key_t **r_keys, char **r_reason)
{
  gpg_error_t err = 0;
  gpgme_key_t *keys = calloc (c->nrcpts + 1, sizeof *keys);

  *r_keys = NULL;
  if (!keys)
    return gpg_error_from_syserror ();
  for (size_t i = 0; !err && i < c->nrcpts; i++)
    {
      const struct rcpt *r = &job->rcpts[c->rcpts[i]];

      if (!r->fpr)
        err = gpg_error (GPG_ERR_INV_STATE);  /* Not resolved.  */
      else if (!(err = pani_get_pinned_key (gctx, r->fpr, &keys[i])))
        err = pani_key_usable (keys[i], job->now, r_reason);
      if (err)
        pani_reason (r_reason, err, "%s: key %s cannot be used: %s",
                     r->addr, r->fpr ? r->fpr : "-", gpg_strerror (err));
    }
  if (err)
    {
      for (size_t i = 0; i < c->nrcpts; i++)
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
check_encrypt_result (gpgme_ctx_t gctx, int signing, char **r_reason)
{
  gpgme_encrypt_result_t res = gpgme_op_encrypt_result (gctx);
  gpgme_sign_result_t sres = signing ? gpgme_op_sign_result (gctx) : NULL;

  if (!res)
    return pani_reason (r_reason, gpg_error (GPG_ERR_GENERAL),
                        "gpg gave no encryption result");
  if (res->invalid_recipients)
    return pani_reason (r_reason, gpg_error (GPG_ERR_UNUSABLE_PUBKEY),
                        "gpg refused key %s: %s",
                        res->invalid_recipients->fpr,
                        gpg_strerror (res->invalid_recipients->reason));
  if (signing && (!sres || sres->invalid_signers || !sres->signatures))
    return pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                        "the message could not be signed with the"
                        " configured signing key; nothing was sent");
  return 0;
}

static gpg_error_t
passphrase_cb (void *opaque, const char *uid_hint, const char *info,
               int prev_was_bad, int fd)
{
  pan_job_t job = opaque;

  if (prev_was_bad || !job->passphrase)
    return gpg_error (GPG_ERR_BAD_PASSPHRASE);
  if (gpgme_io_writen (fd, job->passphrase, strlen (job->passphrase))
      || gpgme_io_writen (fd, "\n", 1))
    return gpg_error_from_syserror ();
  return 0;
}

/* Make GCTX sign with the configured OpenPGP signing key, if any; set
 * *R_SIGNING.  */
static gpg_error_t
setup_signing (pan_job_t job, gpgme_ctx_t gctx, int *r_signing,
               char **r_reason)
{
  gpg_error_t err;
  gpgme_key_t key = NULL;
  const char *fpr = pan_config_get (pan_ctx_config (job->ctx),
                                    "signing-key");

  *r_signing = 0;
  if (!fpr || !*fpr || !strcmp (fpr, "none"))
    return 0;
  err = gpgme_get_key (gctx, fpr, &key, 1);
  if (err || !key || pani_ascii_casecmp (key->subkeys->fpr, fpr)
      || !key->can_sign)
    {
      gpgme_key_unref (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_NO_SECKEY),
                          "the signing key %s (setting signing-key) has no"
                          " usable secret key in %s/gnupg; nothing was sent",
                          fpr, pan_ctx_home (job->ctx));
    }
  err = gpgme_signers_add (gctx, key);
  gpgme_key_unref (key);
  if (!err && job->passphrase)
    {
      gpgme_set_pinentry_mode (gctx, GPGME_PINENTRY_MODE_LOOPBACK);
      gpgme_set_passphrase_cb (gctx, passphrase_cb, job);
    }
  *r_signing = !err;
  return err;
}

/* Encrypt SRC to the keys of C, appending armored ciphertext to its
 * spool.  */
static gpg_error_t
encrypt_openpgp (pan_job_t job, struct copy *c, struct body_src *src,
                 char **r_reason)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t *keys = NULL;
  gpgme_data_t plain = NULL, cipher = NULL;
  static struct gpgme_data_cbs cbs = { body_read_cb, NULL, NULL, NULL };
  gpgme_encrypt_flags_t flags = GPGME_ENCRYPT_ALWAYS_TRUST
    | GPGME_ENCRYPT_NO_ENCRYPT_TO;
  int signing;

  if ((err = pani_gpgme_new (job->ctx->gnupg_home, GPGME_PROTOCOL_OpenPGP,
                             &gctx)))
    return pani_reason (r_reason, err, "cannot start GPGME: %s",
                        gpg_strerror (err));
  if ((err = collect_keys (job, c, gctx, &keys, r_reason))
      || (err = setup_signing (job, gctx, &signing, r_reason))
      || (err = gpgme_data_new_from_cbs (&plain, &cbs, src))
      || (err = gpgme_data_new_from_fd (&cipher, c->spool_fd)))
    goto leave;
  gpgme_data_set_flag (plain, "sensitive", "1");
  gpgme_set_armor (gctx, 1);
  err = signing ? gpgme_op_encrypt_sign (gctx, keys, flags, plain, cipher)
    : gpgme_op_encrypt (gctx, keys, flags, plain, cipher);
  if (src->err)
    err = pani_reason (r_reason, src->err, "reading the message body: %s",
                       gpg_strerror (src->err));
  else if (err)
    pani_reason (r_reason, err, "encryption failed: %s", gpg_strerror (err));
  else
    err = check_encrypt_result (gctx, signing, r_reason);

 leave:
  gpgme_data_release (cipher);
  gpgme_data_release (plain);
  release_keys (keys);
  gpgme_release (gctx);
  return err;
}

/* Encrypt PLAIN with gpgsm to the certificates of C, appending the
 * base64 CMS enveloped-data to its spool.  */
static gpg_error_t
encrypt_smime (pan_job_t job, struct copy *c, gpgme_data_t plain,
               char **r_reason)
{
  gpg_error_t err;
  const char **fprs = calloc (c->nrcpts + 1, sizeof *fprs);

  if (!fprs)
    return gpg_error_from_syserror ();
  for (size_t i = 0; i < c->nrcpts; i++)
    fprs[i] = job->rcpts[c->rcpts[i]].fpr;
  gpgme_data_set_flag (plain, "sensitive", "1");
  err = pani_smime_encrypt_stream (job->ctx, fprs, c->nrcpts, plain,
                                   c->spool_fd, job->now, r_reason);
  free (fprs);
  return err;
}

/* The signed entity, made in a seal and read back for encryption.  */
struct signed_sink
{
  pani_seal_t seal;
  int prev_cr;
  gpg_error_t err;
};

/* Keep gpgsm's base64 lines, with CRLF ends: the entity that is
 * encrypted is canonical.  */
static ssize_t
signed_write_cb (void *handle, const void *buffer, size_t size)
{
  struct signed_sink *sink = handle;
  const char *p = buffer;

  for (size_t i = 0; !sink->err && i < size; i++)
    {
      if (p[i] == '\n' && !sink->prev_cr)
        sink->err = pani_seal_write (sink->seal, "\r", 1);
      if (!sink->err)
        sink->err = pani_seal_write (sink->seal, p + i, 1);
      sink->prev_cr = p[i] == '\r';
    }
  if (sink->err)
    {
      errno = EIO;
      return -1;
    }
  return size;
}

static ssize_t
seal_read_cb (void *handle, void *buffer, size_t size)
{
  size_t n = 0;

  if (pani_seal_read (handle, buffer, size, &n))
    {
      errno = EIO;
      return -1;
    }
  return n;
}

/* Sign the entity of SRC with SIGNER into SINK->seal as an
 * application/pkcs7-mime signed-data entity.  */
static gpg_error_t
sign_smime (pan_job_t job, const char *signer, struct body_src *src,
            struct signed_sink *sink, char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t plain = NULL, out = NULL;
  static struct gpgme_data_cbs in_cbs = { body_read_cb, NULL, NULL, NULL };
  static struct gpgme_data_cbs out_cbs = { NULL, signed_write_cb, NULL,
                                           NULL };
  static const char head[] =
    "Content-Type: application/pkcs7-mime; smime-type=signed-data;\r\n"
    " name=\"smime.p7m\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n";
  char *spool = pan_ctx_path (job->ctx, "spool");

  if (!spool)
    return gpg_error_from_syserror ();
  err = pani_seal_create (spool, &sink->seal);
  free (spool);
  if (err || (err = pani_seal_write (sink->seal, head, strlen (head)))
      || (err = gpgme_data_new_from_cbs (&plain, &in_cbs, src))
      || (err = gpgme_data_new_from_cbs (&out, &out_cbs, sink)))
    goto leave;
  gpgme_data_set_flag (plain, "sensitive", "1");
  err = pani_smime_sign_stream (job->ctx, signer, job->passphrase, plain,
                                out, r_reason);
  if (src->err || sink->err)
    err = pani_reason (r_reason, src->err ? src->err : sink->err,
                       "signing the message body: %s",
                       gpg_strerror (src->err ? src->err : sink->err));
  if (!err)
    err = pani_seal_rewind (sink->seal);
 leave:
  gpgme_data_release (out);
  gpgme_data_release (plain);
  return err;
}

/* Encrypt the entity of SRC for C, signed first (signed-data inside
 * enveloped-data, RFC 8551) if smime-signing-cert is set.  */
static gpg_error_t
seal_and_encrypt_smime (pan_job_t job, struct copy *c, struct body_src *src,
                        char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t plain = NULL;
  static struct gpgme_data_cbs body_cbs = { body_read_cb, NULL, NULL, NULL };
  static struct gpgme_data_cbs seal_cbs = { seal_read_cb, NULL, NULL, NULL };
  const char *signer = pan_config_get (pan_ctx_config (job->ctx),
                                       "smime-signing-cert");
  struct signed_sink sink = { NULL, 0, 0 };

  if (signer && *signer && strcmp (signer, "none"))
    {
      if (!(err = sign_smime (job, signer, src, &sink, r_reason)))
        err = gpgme_data_new_from_cbs (&plain, &seal_cbs, sink.seal);
    }
  else
    err = gpgme_data_new_from_cbs (&plain, &body_cbs, src);
  if (!err)
    err = encrypt_smime (job, c, plain, r_reason);
  if (src->err)
    err = pani_reason (r_reason, src->err, "reading the message body: %s",
                       gpg_strerror (src->err));
  gpgme_data_release (plain);
  pani_seal_release (sink.seal);
  return err;
}

/* Hash the complete outgoing message of C for the audit record.  */
static gpg_error_t
digest_spool (struct copy *c, char **r_reason)
{
  gpg_error_t err;
  gcry_md_hd_t md;
  char buf[65536];
  ssize_t n;
  const unsigned char *hash;

  if ((err = gcry_md_open (&md, GCRY_MD_SHA256, 0)))
    return err;
  c->size = 0;
  if (lseek (c->spool_fd, 0, SEEK_SET))
    err = pani_reason_sys (r_reason, c->spool_path);
  while (!err && (n = read (c->spool_fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        err = pani_reason_sys (r_reason, c->spool_path);
      else
        {
          gcry_md_write (md, buf, n);
          c->size += n;
        }
    }
  hash = gcry_md_read (md, GCRY_MD_SHA256);
  if (!err)
    pani_bin2hex (hash, 32, c->digest);
  gcry_md_close (md);
  return err;
}

/* Write the outgoing OpenPGP message (RFC 3156) of C.  */
static gpg_error_t
write_pgpmime (pan_job_t job, struct copy *c, struct body_src *src,
               char **r_reason)
{
  gpg_error_t err;
  char boundary[64];

  make_boundary (boundary, sizeof boundary);
  if ((err = write_pgpmime_head (c->spool_fd, boundary))
      || (err = encrypt_openpgp (job, c, src, r_reason)))
    return err;
  return write_pgpmime_tail (c->spool_fd, boundary);
}

/* Write the outgoing S/MIME message (RFC 8551 enveloped-data) of C.  */
static gpg_error_t
write_smime (pan_job_t job, struct copy *c, struct body_src *src,
             char **r_reason)
{
  gpg_error_t err;

  if ((err = write_str (c->spool_fd, pani_smime_envelope_head ())))
    return err;
  return seal_and_encrypt_smime (job, c, src, r_reason);
}

/* Write the whole outgoing message of C to a new spool file.  */
static gpg_error_t
encrypt_copy (pan_job_t job, struct copy *c, struct body_src *src,
              char **r_reason)
{
  gpg_error_t err;

  if (c->protocol != PAN_PROTOCOL_OPENPGP
      && c->protocol != PAN_PROTOCOL_SMIME)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_IMPLEMENTED),
                        "protocol %s is not supported for sending",
                        pan_protocol_name (c->protocol));
  if ((err = open_spool (job, c, r_reason))
      || (err = write_visible_fields (job, c->spool_fd)))
    goto leave;
  err = c->protocol == PAN_PROTOCOL_SMIME ? write_smime (job, c, src, r_reason)
    : write_pgpmime (job, c, src, r_reason);
  if (err)
    goto leave;
  if (fsync (c->spool_fd))
    err = pani_reason_sys (r_reason, c->spool_path);
  else
    err = digest_spool (c, r_reason);
 leave:
  if (err)
    pani_reason (r_reason, err, "writing %s: %s", c->spool_path,
                 gpg_strerror (err));
  return err;
}

gpg_error_t
pan_job_encrypt (pan_job_t job, gpgrt_stream_t in, char **r_reason)
{
  gpg_error_t err = 0;
  struct body_src *src = NULL;

  if (!job->headers || !job->ncopies)
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = body_src_new (job, in, &src, r_reason)))
    return err;
  for (size_t i = 0; !err && i < job->ncopies; i++)
    {
      if (i && (err = body_src_rewind (src)))
        pani_reason (r_reason, err, "reading back the sealed spool: %s",
                     gpg_strerror (err));
      else
        err = encrypt_copy (job, &job->copies[i], src, r_reason);
    }
  body_src_release (src);
  return err;
}

gpg_error_t
pan_job_passphrase_fd (pan_job_t job, int fd, char **r_reason)
{
  char *pass = gcry_malloc_secure (1024);
  size_t n = 0;
  ssize_t got;

  if (!pass)
    return gpg_error_from_syserror ();
  while (n < 1023 && (got = read (fd, pass + n, 1)) == 1 && pass[n] != '\n')
    n++;
  pass[n] = 0;
  if (n == 1023)
    {
      explicit_bzero (pass, 1024);
      gcry_free (pass);
      return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                          "the passphrase on fd %d is too long", fd);
    }
  job->passphrase = pass;
  return 0;
}
