/* send.c - encrypt each copy of a job, streaming, into its spool file
 *
 * The body streams from stdin through GPGME into a 0600 spool file that
 * holds the complete outgoing message (PGP/MIME, RFC 3156, or S/MIME,
 * RFC 8551: the protocol's table writes its part), one file per copy,
 * and only when every copy is ready is any handed to the MTA
 * (deliver.c).
 * With more than one copy the body is kept, for the later copies, in a
 * sealed spool (seal.c): encrypted under a one-time key in secure
 * memory.  The plaintext travels only through memory and GPGME's pipes
 * to gpg.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "keys-int.h"
#include "engine-int.h"
#include "job-int.h"
#include "seal-int.h"

/* The header fields that protected headers (protected-headers="v1")
 * carry inside the encryption.  */
static const char *const protected_fields[] = {
  "Subject", "From", "To", "Cc", "Date", "Message-ID", "Reply-To"
};


/*
 * The plaintext: the inner entity, streamed to GPGME.
 */

/* Where the body bytes come from: stdin (scanned for PANs as they pass,
 * and copied to the seal if there are more copies), or the seal.  */
struct body_src
{
  gpgrt_stream_t in; /* NULL: read the seal.  */
  pani_seal_t seal;  /* Written while reading IN, else read.  */
  char *head;        /* Inner header block, CRLF.  */
  size_t head_len;
  size_t head_off;
  unsigned char out[65536]; /* Converted body bytes not yet read.  */
  size_t out_len;
  size_t out_off;
  int prev_cr;
  pan_mime_t mime;           /* Scans the body for PANs.  */
  pani_engine_guard_t guard; /* Of the copy being encrypted.  */
  int scan_done;
  int engine_gone; /* The engine ended before the body: reading stopped.  */
  gpg_error_t err; /* Read, seal or scan error.  */
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
  /* Waiting for the sender's input is no time of the engine's.  */
  pani_engine_guard_hold (src->guard, 1);
  if (es_read (src->in, raw, size, &nread))
    nread = (size_t)-1;
  pani_engine_guard_hold (src->guard, 0);
  pani_engine_guard_progress (src->guard, nread == (size_t)-1 ? 0 : nread);
  if (nread == (size_t)-1)
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
  pani_wipe (raw, sizeof raw);
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

  pani_engine_guard_kick (src->guard);
  if (pani_engine_guard_gone (src->guard))
    {
      /* The engine ended: the rest of the body is not read, or a sender
       * that never stops would keep pansend reading for ever.  An
       * error, not the end of the data: no engine may take a body cut
       * short for the whole.  */
      src->engine_gone = 1;
      errno = EPIPE;
      return -1;
    }
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
  src->engine_gone = 0;
  return pani_seal_rewind (src->seal);
}

/* Everything in SRC held plaintext: wipe it.  */
static void
body_src_release (struct body_src *src)
{
  if (!src)
    return;
  pani_wipe (src->out, sizeof src->out);
  pan_mime_scan_release (src->mime);
  pani_seal_release (src->seal);
  pani_wipe_free (src->head, src->head_len);
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

/* Make the zeroed SRC read the body of JOB from IN.  */
static gpg_error_t
body_src_init (pan_job_t job, gpgrt_stream_t in, struct body_src *src,
               char **r_reason)
{
  gpg_error_t err;
  char *spool;

  src->in = in;
  if ((err = build_inner_head (job, &src->head, &src->head_len))
      || (err = pani_job_scanner (job, r_reason))
      || (err = start_body_scan (job, src)))
    return err;
  if (job->ncopies < 2)
    return 0;
  if (!(spool = pan_ctx_path (job->ctx, "spool")))
    return gpg_error (GPG_ERR_ENOMEM);
  if ((err = pani_seal_create (spool, &src->seal)))
    pani_reason (r_reason, err, "%s: cannot create the sealed spool: %s",
                 spool, gpg_strerror (err));
  free (spool);
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

/* Name copy number IDX of JOB: "cYYYYMMDDTHHMMSS-NONCE-N" (UTC).  */
static void
name_copy (pan_job_t job, struct copy *c, size_t idx)
{
  /* "c" + 15 + "-" + 8 + "-" + 20 digits fit in c->id: a year past
   * 9999 does not fit WHEN and gives "0".  */
  char when[16];
  struct tm tm;
  time_t t = job->now ? job->now : time (NULL);

  if (!job->nonce[0])
    pani_nonce_hex (job->nonce, 4);
  if (!gmtime_r (&t, &tm)
      || !strftime (when, sizeof when, "%Y%m%dT%H%M%S", &tm))
    strcpy (when, "0");
  snprintf (c->id, sizeof c->id, "c%s-%s-%zu", when, job->nonce, idx + 1);
}

/* Create the spool file of C, named by its copy id, already locked:
 * the lock tells a later pansend (pan_queue_recover) that its process
 * lives.  It is made unnamed (O_TMPFILE), locked, then linked in, so
 * that no other process ever sees it unlocked; where O_TMPFILE is not
 * supported it is created and locked at once.  */
static gpg_error_t
open_spool (pan_job_t job, struct copy *c, char **r_reason)
{
  char *dir = pan_ctx_path (job->ctx, "spool"), proc[64];
  int flags = O_RDWR | O_CLOEXEC;

  c->spool_path = pani_strdupf ("%s/%s.eml", dir ? dir : "", c->id);
  if (!dir || !c->spool_path)
    {
      free (dir);
      return gpg_error_from_syserror ();
    }
  c->spool_fd = open (dir, O_TMPFILE | flags, 0600);
  free (dir);
  if (c->spool_fd >= 0)
    {
      snprintf (proc, sizeof proc, "/proc/self/fd/%d", c->spool_fd);
      if (flock (c->spool_fd, LOCK_EX)
          || linkat (AT_FDCWD, proc, AT_FDCWD, c->spool_path,
                     AT_SYMLINK_FOLLOW))
        return pani_reason_sys (r_reason, c->spool_path);
      return 0;
    }
  c->spool_fd = open (c->spool_path, flags | O_CREAT | O_EXCL | O_NOFOLLOW,
                      0600);
  if (c->spool_fd < 0 || flock (c->spool_fd, LOCK_EX | LOCK_NB))
    {
      gpg_error_t err = pani_reason_sys (r_reason, c->spool_path);

      if (c->spool_fd >= 0)
        unlink (c->spool_path);
      free (c->spool_path);
      c->spool_path = NULL;
      return err;
    }
  return 0;
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

/* Keep the last bytes of the spool in TAIL (sizeof TAIL - 1 at most,
 * *R_LEN of them).  */
static void
keep_tail (char *tail, size_t size, size_t *r_len, const char *buf, size_t n)
{
  size_t keep = size - 1;

  if (n >= keep)
    {
      memcpy (tail, buf + n - keep, keep);
      *r_len = keep;
    }
  else
    {
      size_t drop = *r_len + n > keep ? *r_len + n - keep : 0;

      memmove (tail, tail + drop, *r_len - drop);
      memcpy (tail + *r_len - drop, buf, n);
      *r_len += n - drop;
    }
  tail[*r_len] = 0;
}

/* Is the ciphertext of C complete?  An OpenPGP copy ends with the
 * armor's end line and the closing boundary, written only after gpg
 * finished; a killed gpg leaves neither.  (An S/MIME copy has no end
 * line: there the engine's exit status, see pani_engine_guard_end,
 * tells.)  */
static gpg_error_t
check_complete (const struct copy *c, const char *tail, char **r_reason)
{
  static const char end[] = "\n-----END PGP MESSAGE-----\n\n--panmail-";

  if (c->protocol == PAN_PROTOCOL_OPENPGP && !strstr (tail, end))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "the ciphertext is incomplete (no armor end line);"
                        " gpg did not finish; nothing was sent");
  return 0;
}

/* Hash the complete outgoing message of C for the audit record and
 * check that it is complete.  */
static gpg_error_t
digest_spool (struct copy *c, char **r_reason)
{
  gpg_error_t err;
  gcry_md_hd_t md;
  char buf[65536], tail[128];
  size_t tail_len = 0;
  ssize_t n;
  const unsigned char *hash;

  if ((err = gcry_md_open (&md, GCRY_MD_SHA256, 0)))
    return err;
  c->size = 0;
  tail[0] = 0;
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
          keep_tail (tail, sizeof tail, &tail_len, buf, n);
          c->size += n;
        }
    }
  hash = gcry_md_read (md, GCRY_MD_SHA256);
  if (!err && !(err = check_complete (c, tail, r_reason)))
    pani_bin2hex (hash, 32, c->digest);
  gcry_md_close (md);
  return err;
}

/* Append the protocol's part of the message of C (OPS) to its spool:
 * the inner entity of SRC encrypted to the copy's recipients; if gpg
 * refuses one's key, store its number in the copy at *R_REFUSED.  */
static gpg_error_t
encrypt_body (pan_job_t job, const struct copy *c,
              const struct pani_proto_ops *ops, struct body_src *src,
              long *r_refused, char **r_reason)
{
  gpg_error_t err;
  const char **fprs = calloc (c->nrcpts + 1, sizeof *fprs);
  const char **addrs = calloc (c->nrcpts + 1, sizeof *addrs);
  const char **pins = calloc (c->nrcpts + 1, sizeof *pins);
  const char **chosen = calloc (c->nrcpts + 1, sizeof *chosen);
  gpgme_data_t plain = NULL;
  static struct gpgme_data_cbs cbs = { body_read_cb, NULL, NULL, NULL };
  struct pani_encrypt_req req;

  if (!fprs || !addrs || !pins || !chosen)
    {
      err = gpg_error (GPG_ERR_ENOMEM);
      goto leave;
    }
  for (size_t i = 0; i < c->nrcpts; i++)
    {
      fprs[i] = job->rcpts[c->rcpts[i]].fpr;
      addrs[i] = job->rcpts[c->rcpts[i]].addr;
      pins[i] = job->rcpts[c->rcpts[i]].subkeys;
      chosen[i] = job->rcpts[c->rcpts[i]].subkey;
    }
  if ((err = gpgme_data_new_from_cbs (&plain, &cbs, src)))
    goto leave;
  pani_data_streaming (plain, 1);
  memset (&req, 0, sizeof req);
  req.ctx = job->ctx;
  req.fprs = fprs;
  req.addrs = addrs;
  req.pins = pins;
  req.chosen = chosen;
  req.nrcpts = c->nrcpts;
  req.refused = r_refused;
  req.plain = plain;
  req.plain_err = &src->err;
  req.passphrase = job->passphrase;
  req.out_fd = c->spool_fd;
  req.now = job->now;
  err = ops->encrypt (&req, r_reason);
leave:
  gpgme_data_release (plain);
  free (chosen);
  free (pins);
  free (addrs);
  free (fprs);
  return err;
}

/* The engine's time for one copy: gpg-timeout seconds (more are added
 * per MiB of body as it is read, see pani_engine_guard_progress).  */
static long
gpg_timeout (pan_job_t job)
{
  long t = pan_config_get_int (pan_ctx_config (job->ctx), "gpg-timeout");

  return t > 0 ? t : 120;
}

/* Encrypt under a watchdog: the copy counts only if gpg exited 0 in
 * time, GPGME reported success and the ciphertext is complete.  */
static gpg_error_t
guarded_encrypt (pan_job_t job, struct copy *c,
                 const struct pani_proto_ops *ops, struct body_src *src,
                 long *r_refused, char **r_reason)
{
  gpg_error_t err, err2;
  char *why = NULL;

  if ((err = pani_engine_guard_begin (gpg_timeout (job), &src->guard)))
    return pani_reason (r_reason, err, "cannot watch the GnuPG engine: %s",
                        gpg_strerror (err));
  err = encrypt_body (job, c, ops, src, r_refused, r_reason);
  err2 = pani_engine_guard_end (src->guard, &why);
  src->guard = NULL;
  if (err2
      && (!err || gpg_err_code (err2) == GPG_ERR_TIMEOUT
          || src->engine_gone))
    {
      /* A success GPGME reported is void, and a time-out, or an engine
       * that ended before the body did, is the cause of whatever GPGME
       * saw.  */
      err = err2;
      if (r_reason)
        {
          free (*r_reason);
          *r_reason = why;
          why = NULL;
        }
    }
  free (why);
  return err;
}

/* Write the whole outgoing message of C, number IDX, to a new spool
 * file.  */
static gpg_error_t
encrypt_copy (pan_job_t job, struct copy *c, size_t idx,
              struct body_src *src, char **r_reason)
{
  gpg_error_t err;
  const struct pani_proto_ops *ops = pani_keys_ops (c->protocol);
  long refused = -1;

  if (!ops)
    return pani_reason (r_reason, gpg_error (GPG_ERR_NOT_IMPLEMENTED),
                        "protocol %s is not supported for sending",
                        pan_protocol_name (c->protocol));
  name_copy (job, c, idx);
  if ((err = open_spool (job, c, r_reason))
      || (err = write_visible_fields (job, c->spool_fd)))
    goto leave;
  err = guarded_encrypt (job, c, ops, src, &refused, r_reason);
  /* A key gpg refused is refused as pan_job_resolve refuses it.  */
  if (err && refused >= 0 && (size_t)refused < c->nrcpts)
    err = pani_job_refusal (job, c->rcpts[refused], err, r_reason);
  if (err)
    goto leave;
  if (fsync (c->spool_fd))
    err = pani_reason_sys (r_reason, c->spool_path);
  else if (!(err = digest_spool (c, r_reason)))
    pani_test_crash ("encrypted");
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
  struct body_src *src;

  if (!job->headers || !job->ncopies)
    return gpg_error (GPG_ERR_INV_STATE);
  if ((err = pan_engine_settle ()))
    return pani_reason (r_reason, err,
                        "\"gpg --version\" did not end within gpg-timeout"
                        " and was killed; nothing was sent");
  if (!(src = calloc (1, sizeof *src)))
    return gpg_error (GPG_ERR_ENOMEM);
  err = body_src_init (job, in, src, r_reason);
  for (size_t i = 0; !err && i < job->ncopies; i++)
    {
      if (i && (err = body_src_rewind (src)))
        pani_reason (r_reason, err, "reading back the sealed spool: %s",
                     gpg_strerror (err));
      else
        err = encrypt_copy (job, &job->copies[i], i, src, r_reason);
    }
  body_src_release (src);
  return err;
}

/* Read one byte of FD into *C, waiting until DEADLINE at most: 1, 0
 * at the end of the file, -1 on error or time-out (errno ETIMEDOUT).  */
static int
read_byte_by (int fd, char *c, const struct timespec *deadline)
{
  struct pollfd p = { fd, POLLIN, 0 };
  ssize_t n;
  int rc;

  for (;;)
    {
      while ((rc = poll (&p, 1, pani_ms_until (deadline))) < 0
             && errno == EINTR)
        ;
      if (!rc)
        errno = ETIMEDOUT;
      if (rc <= 0)
        return -1;
      if ((n = read (fd, c, 1)) >= 0 || (errno != EINTR && errno != EAGAIN))
        return (int)n;
    }
}

gpg_error_t
pan_job_passphrase_fd (pan_job_t job, int fd, char **r_reason)
{
  char *pass = gcry_malloc_secure (1024);
  size_t n = 0;
  struct timespec deadline;
  int rc = 0, e;

  if (!pass)
    return gpg_error_from_syserror ();
  /* One byte at a time: nothing after the line is taken from FD.  The
   * wait is bounded by gpg-timeout: a writer that never writes must
   * not hold pansend.  */
  pani_deadline_in (&deadline, gpg_timeout (job));
  while (n < 1023 && (rc = read_byte_by (fd, pass + n, &deadline)) == 1
         && pass[n] != '\n')
    n++;
  e = errno;
  pass[n] = 0;
  if (n == 1023 || rc < 0)
    {
      pani_wipe (pass, 1024);
      gcry_free (pass);
      if (rc < 0)
        return pani_reason (r_reason, gpg_error_from_errno (e),
                            "reading the passphrase on fd %d: %s", fd,
                            e == ETIMEDOUT ? "nothing within gpg-timeout"
                                           : strerror (e));
      return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                          "the passphrase on fd %d is too long", fd);
    }
  job->passphrase = pass;
  return 0;
}
