/* crl.c - offline revocation for S/MIME: CRLs the operator gives,
 * loaded into the dirmngr of the home's GnuPG home
 *
 * Under smime-revocation-check crl, gpgsm asks dirmngr whether a
 * certificate is revoked, and dirmngr answers only from a CRL it holds.
 * A CA without a reachable distribution point (an in-house CA made with
 * OpenSSL, a host without network) needs its CRL loaded by hand.  GPGME
 * has no call for that, so this file talks to dirmngr itself through
 * libassuan: LOADCRL and LISTCRLS, answering dirmngr's questions for
 * the certificates it needs (SENDCERT) from the home's keybox.
 *
 * The dirmngr is a "dirmngr --server" of our own on a socket pair,
 * started with posix_spawn and gone when the call returns.  A dirmngr
 * daemon of the home would keep the cache it read when it started, so
 * it is stopped first; gpgsm starts a fresh one when it needs it.  */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <assuan.h>
#include <gcrypt.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "fileio-int.h"
#include "home-int.h"
#include "engine-int.h"
#include "smime-trust-int.h"
#include "crl-list-int.h"
#include "crl-int.h"

extern char **environ;

/* Seconds dirmngr may take to answer one command.  */
#define DIRMNGR_TIMEOUT 60
/* The largest CRL file read, and the largest listing taken.  */
#define MAX_CRL_FILE (64 * 1024 * 1024)
#define MAX_LISTING (64 * 1024 * 1024)

/* One conversation with a dirmngr --server of a home.  */
struct dirmngr
{
  pan_ctx_t ctx;
  assuan_context_t actx;
  pid_t pid;
  gpgme_ctx_t gctx;     /* The home's keybox, for SENDCERT.  */
  gpgme_ctx_t chain;    /* Certificates given with a CRL, or NULL.  */
  struct pani_buf data; /* The data lines of the current command.  */
};


/*
 * The dirmngr process.
 */

/* Bound every read and write on FD by DIRMNGR_TIMEOUT.  */
static void
set_timeouts (int fd)
{
  struct timeval tv = { DIRMNGR_TIMEOUT, 0 };

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Start "dirmngr --server" on HOMEDIR with its stdin and stdout on
 * one end of a socket pair; store its pid and our end.  */
static gpg_error_t
spawn_server (const char *homedir, pid_t *r_pid, int *r_fd)
{
  char *prog = pani_engine_sibling ("dirmngr");
  char *argv[] = { (char *)"dirmngr", (char *)"--server",
                   (char *)"--homedir", (char *)homedir, NULL };
  posix_spawn_file_actions_t fa;
  int sv[2], rc;

  if (!prog)
    return gpg_error_from_syserror ();
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
    {
      free (prog);
      return gpg_error_from_syserror ();
    }
  if (!(rc = posix_spawn_file_actions_init (&fa)))
    {
      if (!(rc = posix_spawn_file_actions_adddup2 (&fa, sv[1], 0))
          && !(rc = posix_spawn_file_actions_adddup2 (&fa, sv[1], 1))
          && !(rc = posix_spawn_file_actions_addopen (&fa, 2, "/dev/null",
                                                      O_WRONLY, 0))
          /* Only stdin, stdout and stderr: not a pipe that another
           * thread's child (GPGME's) still needs closed.  */
          && !(rc = posix_spawn_file_actions_addclosefrom_np (&fa, 3)))
        rc = posix_spawn (r_pid, prog, &fa, NULL, argv, environ);
      posix_spawn_file_actions_destroy (&fa);
    }
  close (sv[1]);
  free (prog);
  if (rc)
    {
      close (sv[0]);
      return gpg_error_from_errno (rc);
    }
  set_timeouts (sv[0]);
  *r_fd = sv[0];
  return 0;
}

/* Wait for the dirmngr PID to exit (it does once its input ends);
 * kill it if it has not within a few seconds.  */
static void
reap (pid_t pid)
{
  struct timespec pause = { 0, 20 * 1000 * 1000 };

  for (int i = 0; i < 250; i++)
    {
      pid_t r = waitpid (pid, NULL, WNOHANG);

      if (r == pid || (r < 0 && errno != EINTR))
        return;
      nanosleep (&pause, NULL);
    }
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

static void
dirmngr_close (struct dirmngr *d)
{
  assuan_release (d->actx);
  if (d->pid > 0)
    reap (d->pid);
  gpgme_release (d->gctx);
  pani_buf_free (&d->data);
  memset (d, 0, sizeof *d);
}

/* Start the dirmngr of CTX's home for D.  */
static gpg_error_t
dirmngr_open (pan_ctx_t ctx, struct dirmngr *d, char **r_reason)
{
  gpg_error_t err;
  int fd = -1;

  memset (d, 0, sizeof *d);
  d->ctx = ctx;
  d->pid = -1;
  if ((err = pani_smime_configure (ctx, NULL, r_reason))
      || (err = pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF,
                                    &d->gctx, r_reason)))
    return err;
  pani_engine_gpgconf (ctx->gnupg_home, "--kill", "dirmngr");
  if ((err = spawn_server (ctx->gnupg_home, &d->pid, &fd)))
    return pani_reason (r_reason, err, "cannot start dirmngr for %s: %s",
                        ctx->gnupg_home, gpg_strerror (err));
  if ((err = assuan_new (&d->actx))
      || (err = assuan_socket_connect_fd (d->actx, fd, 0)))
    {
      if (!d->actx)
        close (fd);
      return pani_reason (r_reason, err, "dirmngr of %s does not answer: %s",
                          ctx->gnupg_home, gpg_strerror (err));
    }
  return 0;
}


/*
 * Commands and dirmngr's questions.
 */

static gpg_error_t
on_data (void *opaque, const void *buf, size_t len)
{
  struct dirmngr *d = opaque;

  if (d->data.len + len > MAX_LISTING)
    return gpg_error (GPG_ERR_TOO_LARGE);
  pani_buf_put (&d->data, buf, len);
  return pani_buf_error (&d->data);
}

/* Store at *R_KEY the first certificate of GCTX that NAME names: "/DN"
 * its subject, else its SHA-1 fingerprint.  The keybox is walked
 * rather than searched with NAME as a pattern, which gpgsm would split
 * at its spaces.  XXX Of two certificates with one subject (a renewed
 * CA) the first is taken; dirmngr's signature check then decides.  */
static gpg_error_t
find_cert (gpgme_ctx_t gctx, const char *name, gpgme_key_t *r_key)
{
  gpgme_key_t key = NULL;
  gpg_error_t err;

  *r_key = NULL;
  if ((err = gpgme_op_keylist_start (gctx, NULL, 0)))
    return err;
  /* The listing is read to its end: GPGME does not take a new
   * operation on a context whose CMS listing was cut short.  */
  while (!gpgme_op_keylist_next (gctx, &key))
    {
      if (!*r_key
          && (name[0] == '/' ? key->uids && key->uids->uid
                  && !strcmp (key->uids->uid, name + 1)
                             : key->subkeys && key->subkeys->fpr
                  && !pani_ascii_casecmp (key->subkeys->fpr, name)))
        *r_key = key;
      else
        gpgme_key_unref (key);
    }
  gpgme_op_keylist_end (gctx);
  return *r_key ? 0 : gpg_error (GPG_ERR_NO_PUBKEY);
}

/* Send the certificate that NAME names (see find_cert), or its issuer
 * if ISSUER, from the home's keybox or else from the certificates
 * given with the CRL; nothing if neither has it: dirmngr then says
 * what is missing.  */
static gpg_error_t
send_cert (struct dirmngr *d, const char *name, int issuer)
{
  gpgme_ctx_t from[2] = { d->gctx, d->chain };
  gpgme_key_t key = NULL;
  char *der = NULL;
  size_t len = 0;
  const char *fpr;
  gpg_error_t err = 0;

  for (int i = 0; i < 2 && !der; i++)
    {
      if (!from[i] || find_cert (from[i], name, &key))
        continue;
      /* A root comes only from the home, where it is trusted.  */
      if (i == 1 && pani_smime_is_self_signed (key))
        {
          gpgme_key_unref (key);
          key = NULL;
          continue;
        }
      fpr = issuer ? key->chain_id : key->subkeys->fpr;
      if (fpr && pani_smime_export_der (from[i], fpr, &der, &len))
        der = NULL;
      gpgme_key_unref (key);
      key = NULL;
    }
  if (der)
    err = assuan_send_data (d->actx, der, len);
  gpgme_free (der);
  return err;
}

/* Answer "ISTRUSTED FPR": "1" if the home trusts the root CA FPR.  */
static gpg_error_t
send_trusted (struct dirmngr *d, const char *fpr)
{
  struct pan_smime_ca *cas = NULL;
  size_t n = 0;
  int trusted = 0;

  if (!pan_smime_list_cas (d->ctx, &cas, &n, NULL))
    for (size_t i = 0; i < n; i++)
      trusted |= !cas[i].missing && !pani_ascii_casecmp (cas[i].fpr, fpr);
  pan_smime_cas_release (cas, n);
  return trusted ? assuan_send_data (d->actx, "1", 1) : 0;
}

/* dirmngr asks for certificates by subject ("SENDCERT /DN",
 * "SENDCERT_SKI KEYID /DN"), for an issuer ("SENDISSUERCERT NAME") and
 * whether a root is trusted ("ISTRUSTED FPR"); any other question gets
 * an empty answer.  */
static gpg_error_t
on_inquire (void *opaque, const char *line)
{
  struct dirmngr *d = opaque;
  const char *p;

  if (!strncmp (line, "SENDCERT_SKI ", 13) && (p = strchr (line + 13, ' ')))
    return send_cert (d, p + 1, 0);
  if (!strncmp (line, "SENDCERT ", 9))
    return send_cert (d, line + 9, 0);
  if (!strncmp (line, "SENDISSUERCERT ", 15))
    return send_cert (d, line + 15, 1);
  if (!strncmp (line, "ISTRUSTED ", 10))
    return send_trusted (d, line + 10);
  return 0;
}

/* Run COMMAND; its data lines are in D->data.  */
static gpg_error_t
transact (struct dirmngr *d, const char *command)
{
  pani_buf_clear (&d->data);
  return assuan_transact (d->actx, command, on_data, d, on_inquire, d, NULL,
                          NULL);
}

/* LISTCRLS, parsed.  */
static gpg_error_t
list_crls (struct dirmngr *d, struct pan_crl **r_crls, size_t *r_count,
           char **r_reason)
{
  gpg_error_t err = transact (d, "LISTCRLS");

  if (err)
    return pani_reason (r_reason, err,
                        "dirmngr of %s cannot list its CRLs: %s",
                        d->ctx->gnupg_home, gpg_strerror (err));
  return pani_crl_parse_list (d->data.data ? d->data.data : "", d->data.len,
                              r_crls, r_count, r_reason);
}

gpg_error_t
pan_crl_list (pan_ctx_t ctx, struct pan_crl **r_crls, size_t *r_count,
              char **r_reason)
{
  struct dirmngr d;
  gpg_error_t err;

  *r_crls = NULL;
  *r_count = 0;
  if (!(err = dirmngr_open (ctx, &d, r_reason)))
    err = list_crls (&d, r_crls, r_count, r_reason);
  dirmngr_close (&d);
  return err;
}


/*
 * Loading a CRL.
 */

/* Store at *R_DER the DER of the CRL DATA/LEN, given as DER or as PEM
 * ("-----BEGIN X509 CRL-----").  */
static gpg_error_t
crl_der (const char *data, size_t len, char **r_der, size_t *r_len,
         char **r_reason)
{
  gpgrt_b64state_t st;
  char *copy;
  gpg_error_t err;

  *r_der = NULL;
  if (len > 0 && (unsigned char)data[0] == 0x30)
    {
      if (!(*r_der = pani_strndup (data, len)))
        return gpg_error_from_syserror ();
      *r_len = len;
      return 0;
    }
  if (!memmem (data, len, "-----BEGIN X509 CRL-----", 24))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "the file is not a CRL in DER or PEM"
                        " (-----BEGIN X509 CRL-----)");
  if (!(copy = pani_strndup (data, len))
      || !(st = gpgrt_b64dec_start ("X509 CRL")))
    {
      free (copy);
      return gpg_error_from_syserror ();
    }
  err = gpgrt_b64dec_proc (st, copy, len, r_len);
  if (!err)
    err = gpgrt_b64dec_finish (st);
  else
    gpgrt_b64dec_finish (st);
  if (err || !*r_len)
    {
      free (copy);
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "the PEM CRL does not decode");
    }
  *r_der = copy;
  return 0;
}

/* PATH as a LOADCRL argument: every byte but [A-Za-z0-9/._-] as %XX
 * (dirmngr turns '+' into a space and decodes %XX).  */
static char *
escape_path (const char *path)
{
  struct pani_buf b = { 0 };

  for (const unsigned char *p = (const unsigned char *)path; *p; p++)
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
        || (*p >= '0' && *p <= '9') || strchr ("/._-", *p))
      pani_buf_putc (&b, *p);
    else
      pani_buf_printf (&b, "%%%02X", *p);
  return pani_buf_take (&b);
}

/* Return a copy of the CRL of CRLS/N whose source is PATH, or NULL.  */
static struct pan_crl *
take_loaded (struct pan_crl *crls, size_t n, const char *path)
{
  struct pan_crl *one;

  for (size_t i = 0; i < n; i++)
    if (crls[i].source && !strcmp (crls[i].source, path)
        && (one = calloc (1, sizeof *one)))
      {
        *one = crls[i];
        memset (&crls[i], 0, sizeof crls[i]);
        return one;
      }
  return NULL;
}

/* Say why dirmngr refused to load a CRL (ERR).  */
static gpg_error_t
load_refused (gpg_error_t err, char **r_reason)
{
  if (gpg_err_code (err) == GPG_ERR_MISSING_CERT
      || gpg_err_code (err) == GPG_ERR_MISSING_ISSUER_CERT)
    return pani_reason (r_reason, err,
                        "dirmngr cannot load the CRL: its issuer CA is not"
                        " in this home; trust the root CA with 'pankey"
                        " trust-ca', or give an intermediate CA's"
                        " certificate with --file, and load the CRL"
                        " again");
  if (gpg_err_code (err) == GPG_ERR_CRL_TOO_OLD)
    return pani_reason (r_reason, err,
                        "the CRL has expired (its next update is past);"
                        " dirmngr now holds it in place of the CA's"
                        " earlier CRL: load the CA's current CRL");
  return pani_reason (r_reason, err,
                      "dirmngr refuses the CRL: %s; check that the file"
                      " is the CRL of a CA of this home, signed by it",
                      gpg_strerror (err));
}

/* Load the DER CRL at PATH into the dirmngr of CTX's home and store the
 * CRL as it then lists it at *R_CRL.  */
static gpg_error_t
load_file (pan_ctx_t ctx, const char *path, gpgme_ctx_t chain,
           struct pan_crl **r_crl, char **r_reason)
{
  struct dirmngr d;
  struct pan_crl *crls = NULL;
  size_t n = 0;
  char *esc = escape_path (path), *cmd = NULL;
  gpg_error_t err;

  if (!esc || !(cmd = pani_strdupf ("LOADCRL %s", esc)))
    err = gpg_error_from_syserror ();
  else if (!(err = dirmngr_open (ctx, &d, r_reason)))
    {
      d.chain = chain;
      if ((err = transact (&d, cmd)))
        load_refused (err, r_reason);
      else if (!(err = list_crls (&d, &crls, &n, r_reason))
               && !(*r_crl = take_loaded (crls, n, path)))
        err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_DATA),
                           "dirmngr took the CRL but does not list it");
      dirmngr_close (&d);
    }
  pan_crls_release (crls, n);
  free (cmd);
  free (esc);
  return err;
}

/* Write DER/LEN into a scratch directory of CTX and load it, with the
 * certificates of CHAIN (NULL: none) at hand.  */
static gpg_error_t
load_der (pan_ctx_t ctx, const char *der, size_t len, gpgme_ctx_t chain,
          struct pan_crl **r_crl, char **r_reason)
{
  char *dir = NULL, *path = NULL;
  gpg_error_t err;

  if ((err = pani_engine_scratch_new (ctx, "crl", &dir, r_reason)))
    return err;
  if (!(path = pani_strdupf ("%s/crl.der", dir)))
    err = gpg_error_from_syserror ();
  else if (!(err = pani_write_file_atomic (path, der, len, 0600, r_reason)))
    err = load_file (ctx, path, chain, r_crl, r_reason);
  pani_engine_scratch_remove (dir);
  free (path);
  free (dir);
  return err;
}

/* Record the load of CRL (ERR: its refusal, for WHY) by OPERATOR.  */
static gpg_error_t
record_load (pan_ctx_t ctx, const char *operator_name, time_t now,
             const struct pan_crl *crl, gpg_error_t err, const char *why,
             const char *sha256, char **r_reason)
{
  struct pan_audit_event ev = { 0 };
  char t1[32], t2[32], *text;
  gpg_error_t rerr;

  if (crl)
    text = pani_strdupf ("CRL of %s: this update %s, next update %s,"
                         " %zu certificates revoked; file SHA-256 %s",
                         crl->issuer,
                         pan_time_format (crl->this_update, t1, sizeof t1),
                         crl->next_update
                           ? pan_time_format (crl->next_update, t2,
                                              sizeof t2)
                           : "none",
                         crl->revoked, sha256);
  else
    text = pani_strdupf ("CRL with file SHA-256 %s refused: %s", sha256,
                         why ? why : gpg_strerror (err));
  if (!text)
    return gpg_error_from_syserror ();
  ev.event = "load-crl";
  ev.tool = "pankey";
  ev.operator_name = operator_name;
  ev.outcome = err ? "refused" : "ok";
  ev.exit_code = err ? 65 : 0;
  ev.reason = text;
  rerr = pan_audit_append (ctx, &ev, now, r_reason);
  free (text);
  return rerr;
}

gpg_error_t
pan_crl_load (pan_ctx_t ctx, const void *data, size_t len, const void *chain,
              size_t chainlen, const char *operator_name, time_t now,
              struct pan_crl **r_crl, char **r_reason)
{
  struct pani_smime_scratch s = { 0 };
  char *der = NULL, *why = NULL, hex[65];
  size_t dlen = 0;
  unsigned char digest[32];
  int lockfd = -1, loaded = 0;
  gpg_error_t err;

  *r_crl = NULL;
  if (len > MAX_CRL_FILE)
    return pani_reason (r_reason, gpg_error (GPG_ERR_TOO_LARGE),
                        "the CRL file is larger than %d bytes",
                        MAX_CRL_FILE);
  if ((err = crl_der (data, len, &der, &dlen, r_reason))
      || (chain
          && (err = pani_smime_scratch_load (ctx, &s, chain, chainlen,
                                             r_reason)))
      || (err = pani_home_lock_keys (ctx, &lockfd, r_reason)))
    goto leave;
  gcry_md_hash_buffer (GCRY_MD_SHA256, digest, der, dlen);
  pani_bin2hex (digest, sizeof digest, hex);
  err = load_der (ctx, der, dlen, s.gctx, r_crl, &why);
  loaded = !err;
  if (!err)
    err = record_load (ctx, operator_name, now, *r_crl, 0, NULL, hex,
                       r_reason);
  else
    {
      record_load (ctx, operator_name, now, NULL, err, why, hex, NULL);
      pani_reason (r_reason, err, "%s", why ? why : gpg_strerror (err));
    }
leave:
  if (err && !loaded)
    {
      pan_crls_release (*r_crl, *r_crl ? 1 : 0);
      *r_crl = NULL;
    }
  pani_unlock (lockfd);
  pani_smime_scratch_release (&s);
  free (why);
  free (der);
  return err;
}


/*
 * Whether a CA's revocation can be checked.
 */

/* Return the CRL of CRLS/N issued by DN, or NULL.  */
static const struct pan_crl *
find_crl (const struct pan_crl *crls, size_t n, const char *dn)
{
  for (size_t i = 0; dn && i < n; i++)
    if (!strcmp (crls[i].issuer, dn))
      return &crls[i];
  return NULL;
}

/* If the CA DN (fingerprint FPR) has no usable CRL in CRLS/N at NOW,
 * return why (malloc'ed) and set *R_ERR; else NULL.  */
static char *
crl_gap (const struct pan_crl *crls, size_t n, const char *dn,
         const char *fpr, time_t now, gpg_error_t *r_err)
{
  const struct pan_crl *c = find_crl (crls, n, dn);
  char when[32];

  *r_err = gpg_error (GPG_ERR_NO_CRL_KNOWN);
  if (!c)
    return pani_strdupf ("no CRL of CA \"%s\" (%s) is loaded in this home",
                         dn ? dn : "?", fpr ? fpr : "fingerprint unknown");
  if (c->next_update && c->next_update <= now)
    {
      *r_err = gpg_error (GPG_ERR_CRL_TOO_OLD);
      return pani_strdupf ("the CRL of CA \"%s\" (%s) expired on %s", dn,
                           fpr ? fpr : "fingerprint unknown",
                           pan_time_format (c->next_update, when,
                                            sizeof when));
    }
  if (c->problem)
    return pani_strdupf ("dirmngr does not use the CRL of CA \"%s\": %s", dn,
                         c->problem);
  *r_err = 0;
  return NULL;
}

#define HOW_TO_LOAD                                                  \
  "load the CA's current CRL with 'pankey load-crl FILE', or change" \
  " smime-revocation-check in panmail.conf (ocsp: a reachable OCSP"  \
  " responder; off: no revocation checking, for closed test set-ups)"

/* Walk the chain of KEY from its issuer up and return the first gap
 * (see crl_gap), or NULL.  */
static char *
chain_gap (gpgme_ctx_t gctx, gpgme_key_t key, const struct pan_crl *crls,
           size_t n, time_t now, gpg_error_t *r_err)
{
  gpgme_key_t cur = key, next = NULL;
  char *gap = NULL;

  gpgme_key_ref (cur);
  for (int depth = 0; depth < 16 && !gap; depth++)
    {
      gap = crl_gap (crls, n, cur->issuer_name, cur->chain_id, now, r_err);
      if (gap || !cur->chain_id || pani_smime_is_self_signed (cur)
          || pani_get_pinned_key (gctx, cur->chain_id, &next))
        break;
      gpgme_key_unref (cur);
      cur = next;
      next = NULL;
    }
  gpgme_key_unref (cur);
  return gap;
}

gpg_error_t
pani_crl_explain (pan_ctx_t ctx, gpgme_key_t key, const char *mode_name,
                  gpg_error_t gpgme_err, time_t now, char **r_reason)
{
  struct pan_crl *crls = NULL;
  size_t n = 0;
  char *gap = NULL;
  gpgme_ctx_t gctx = NULL;
  gpg_error_t err = gpg_error (GPG_ERR_NO_CRL_KNOWN), ignored;

  /* A context of its own: the caller's has just failed an operation,
   * after which GPGME may not take a listing.  */
  if (!pan_crl_list (ctx, &crls, &n, NULL)
      && !pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF, &gctx,
                              NULL))
    gap = chain_gap (gctx, key, crls, n, now, &ignored);
  pani_reason (r_reason, err,
               "certificate %s: revocation status cannot be established"
               " (smime-revocation-check %s): %s; " HOW_TO_LOAD,
               key->subkeys->fpr, mode_name,
               gap ? gap : gpg_strerror (gpgme_err));
  gpgme_release (gctx);
  free (gap);
  pan_crls_release (crls, n);
  return err;
}

/* Look the CA FPR up in CTX's home and store its subject DN.  */
static gpg_error_t
ca_subject (pan_ctx_t ctx, const char *fpr, char **r_dn, char **r_reason)
{
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key = NULL;
  gpg_error_t err;

  *r_dn = NULL;
  if ((err = pani_smime_cms_new (ctx->gnupg_home, 0, PANI_REVOCATION_OFF,
                                 &gctx, r_reason)))
    return err;
  if ((err = pani_get_pinned_key (gctx, fpr, &key)))
    pani_reason (r_reason, err, "CA %s is not in %s", fpr, ctx->gnupg_home);
  else if (!key->uids || !key->uids->uid
           || !(*r_dn = pani_strdup (key->uids->uid)))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_NO_NAME),
                       "CA %s has no subject", fpr);
  gpgme_key_unref (key);
  gpgme_release (gctx);
  return err;
}

gpg_error_t
pan_crl_check_ca (pan_ctx_t ctx, const char *ca_fpr, time_t now,
                  char **r_reason)
{
  enum pani_revocation mode = PANI_REVOCATION_CRL;
  struct pan_crl *crls = NULL;
  size_t n = 0;
  char *dn = NULL, *gap = NULL;
  gpg_error_t err;

  if ((err = pani_smime_mode (ctx, &mode, r_reason))
      || mode == PANI_REVOCATION_OFF
      || (err = ca_subject (ctx, ca_fpr, &dn, r_reason))
      || (err = pan_crl_list (ctx, &crls, &n, r_reason)))
    goto leave;
  if ((gap = crl_gap (crls, n, dn, ca_fpr, now, &err)))
    pani_reason (r_reason, err,
                 "%s: under smime-revocation-check %s every certificate"
                 " it issued is refused; " HOW_TO_LOAD,
                 gap, pani_smime_mode_name (mode));
leave:
  free (gap);
  free (dn);
  pan_crls_release (crls, n);
  return err;
}
