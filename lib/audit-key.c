/* audit-key.c - the audit log's forward-secure key and audit.key
 *
 * Keys live in libgcrypt secure memory and are wiped when released.
 * HOME/audit.key holds "seq N key HEX prev HEX\n": the key for record
 * N and the hash that record must name as prev.  HOME/audit.lock
 * serialises every change of the log and audit.key, and lets readers
 * take both as one consistent snapshot.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "fileio-int.h"

#define EVOLVE_LABEL "panmail audit key evolve"
#define MAX_STATE_FILE 1024
#define MAX_KEY_FILE 4096

/* audit.key after "seq N": " key " HEX " prev " HEX "\n".  */
#define STATE_KEY_AT 5
#define STATE_PREV_AT (STATE_KEY_AT + 64 + 6)
#define STATE_TAIL_LEN (STATE_PREV_AT + 64 + 1)

/* Bytes of audit.key text at most: "seq " 20 digits and the tail.  */
#define STATE_TEXT_SIZE 256


/*
 * Keys, in libgcrypt secure memory.
 */

unsigned char *
pani_audit_key_new (void)
{
  return gcry_malloc_secure (AUDIT_KEYLEN);
}

/* Wipe the SIZE bytes of secure memory at P and release it.  */
static void
secret_free (void *p, size_t size)
{
  if (!p)
    return;
  pani_wipe (p, size);
  gcry_free (p);
}

void
pani_audit_key_free (unsigned char *key)
{
  secret_free (key, AUDIT_KEYLEN);
}

gpg_error_t
pani_audit_key_evolve (unsigned char *key)
{
  gpg_error_t err;
  gcry_md_hd_t hd;

  if ((err = gcry_md_open (&hd, GCRY_MD_SHA256, GCRY_MD_FLAG_SECURE)))
    return err;
  gcry_md_write (hd, EVOLVE_LABEL, strlen (EVOLVE_LABEL));
  gcry_md_write (hd, key, AUDIT_KEYLEN);
  memcpy (key, gcry_md_read (hd, GCRY_MD_SHA256), AUDIT_KEYLEN);
  gcry_md_close (hd);
  return 0;
}

gpg_error_t
pani_audit_key_mac (const unsigned char *key, const void *data, size_t len,
                    char hex[AUDIT_HEXLEN])
{
  gpg_error_t err;
  gcry_md_hd_t hd;

  err = gcry_md_open (&hd, GCRY_MD_SHA256,
                      GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE);
  if (err)
    return err;
  if (!(err = gcry_md_setkey (hd, key, AUDIT_KEYLEN)))
    {
      gcry_md_write (hd, data, len);
      pani_bin2hex (gcry_md_read (hd, GCRY_MD_SHA256), 32, hex);
    }
  gcry_md_close (hd);
  return err;
}

static int
is_space (int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

gpg_error_t
pani_audit_key_parse (const char *text, size_t len, unsigned char **r_key)
{
  static const char label[] = "audit key:";
  unsigned char *key = pani_audit_key_new ();
  size_t i = 0, n = 0;
  int v;

  *r_key = NULL;
  if (!key)
    return gpg_error_from_syserror ();
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'))
    i++;
  if (len - i >= sizeof label - 1
      && !memcmp (text + i, label, sizeof label - 1))
    i += sizeof label - 1;
  for (; i < len; i++)
    {
      if (is_space (text[i]))
        continue;
      v = pani_hexval ((unsigned char)text[i]);
      if (v < 0 || n >= 2 * AUDIT_KEYLEN)
        break;
      key[n / 2] = (n % 2) ? (key[n / 2] | v) : (v << 4);
      n++;
    }
  if (i < len || n != 2 * AUDIT_KEYLEN)
    {
      pani_audit_key_free (key);
      return gpg_error (GPG_ERR_INV_VALUE);
    }
  *r_key = key;
  return 0;
}


/*
 * Secret files: read into secure memory.
 */

/* Read from FD into BUF (SIZE bytes) until it is full or the file ends;
 * store the number of bytes at *R_LEN.  */
static gpg_error_t
read_fd (int fd, char *buf, size_t size, size_t *r_len)
{
  size_t len = 0;
  ssize_t n;

  *r_len = 0;
  while (len < size)
    {
      n = read (fd, buf + len, size - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return gpg_error_from_syserror ();
      if (!n)
        break;
      len += (size_t)n;
    }
  *r_len = len;
  return 0;
}

/* Read at most MAXLEN bytes of the file PATH (or stdin for "-") into a
 * new NUL-terminated buffer of MAXLEN + 1 bytes in secure memory.  */
static gpg_error_t
read_secret_file (const char *path, size_t maxlen, int in_home, char **r_buf,
                  size_t *r_len)
{
  gpg_error_t err;
  int is_stdin = !strcmp (path, "-");
  char *buf;
  size_t len = 0;
  int fd;

  *r_buf = NULL;
  *r_len = 0;
  if (!(buf = gcry_malloc_secure (maxlen + 1)))
    return gpg_error_from_syserror ();
  /* A file of the home is never read through a symbolic link.  */
  err = 0;
  if (is_stdin)
    fd = STDIN_FILENO;
  else if (in_home)
    err = pani_open_file (path, O_RDONLY, 0, &fd, NULL);
  else if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0)
    err = gpg_error_from_syserror ();
  if (!err)
    err = read_fd (fd, buf, maxlen + 1, &len);
  if (fd >= 0 && !is_stdin)
    close (fd);
  if (!err && len > maxlen)
    err = gpg_error (GPG_ERR_TOO_LARGE);
  if (err)
    {
      secret_free (buf, maxlen + 1);
      return err;
    }
  buf[len] = 0;
  *r_buf = buf;
  *r_len = len;
  return 0;
}

gpg_error_t
pani_audit_key_read (const char *key_file, unsigned char **r_key,
                     char **r_reason)
{
  gpg_error_t err;
  char *text = NULL;
  size_t len = 0;
  const char *name = strcmp (key_file, "-") ? key_file : "standard input";

  *r_key = NULL;
  if ((err = read_secret_file (key_file, MAX_KEY_FILE, 0, &text, &len)))
    return pani_reason (r_reason, err, "%s: %s", name, gpg_strerror (err));
  if (pani_audit_key_parse (text, len, r_key))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                       "%s does not hold an audit key (64 hex digits)",
                       name);
  secret_free (text, MAX_KEY_FILE + 1);
  return err;
}

void
pan_audit_key_release (char *key_hex)
{
  if (key_hex)
    secret_free (key_hex, strlen (key_hex));
}


/*
 * audit.key: "seq N key HEX prev HEX\n".
 */

void
pani_audit_state_clear (struct pani_audit_state *st)
{
  pani_audit_key_free (st->key);
  memset (st, 0, sizeof *st);
}

gpg_error_t
pani_audit_state_parse (const char *text, size_t len,
                        struct pani_audit_state *st)
{
  const char *p = text, *end = text + len;

  memset (st, 0, sizeof *st);
  if (len < 4 || memcmp (p, "seq ", 4))
    return gpg_error (GPG_ERR_INV_DATA);
  p += 4;
  if (!pani_audit_parse_seq (&p, end, &st->seq) || end - p != STATE_TAIL_LEN
      || memcmp (p, " key ", STATE_KEY_AT)
      || memcmp (p + STATE_KEY_AT + 64, " prev ", 6)
      || p[STATE_TAIL_LEN - 1] != '\n')
    return gpg_error (GPG_ERR_INV_DATA);
  memcpy (st->prev, p + STATE_PREV_AT, 64);
  st->prev[64] = 0;
  if (!pani_audit_is_hash (st->prev)
      || pani_audit_key_parse (p + STATE_KEY_AT, 64, &st->key))
    {
      pani_audit_state_clear (st);
      return gpg_error (GPG_ERR_INV_DATA);
    }
  return 0;
}

gpg_error_t
pani_audit_state_read (const char *path, struct pani_audit_state *st,
                       int *r_missing, char **r_reason)
{
  gpg_error_t err;
  char *text = NULL;
  size_t len = 0;

  *r_missing = 0;
  memset (st, 0, sizeof *st);
  err = read_secret_file (path, MAX_STATE_FILE, 1, &text, &len);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    {
      *r_missing = 1;
      return 0;
    }
  if (err)
    return pani_reason (r_reason, err, "%s: %s", path, gpg_strerror (err));
  if (pani_audit_state_parse (text, len, st))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                       "%s is damaged (not \"seq N key HEX prev HEX\");"
                       " restore it from a backup",
                       path);
  secret_free (text, MAX_STATE_FILE + 1);
  return err;
}

/* Rewrite the state file PATH in place with TEXT/N if it is shared
 * with the senders of a two-role home (group-writable): they cannot
 * replace a file in the operator's home directory.  Sets *R_DONE.  */
static gpg_error_t
state_write_shared (const char *path, const char *text, size_t n,
                    int *r_done, char **r_reason)
{
  gpg_error_t err = 0;
  struct stat st;
  int fd = open (path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

  *r_done = 0;
  if (fd < 0)
    return 0;
  if (!fstat (fd, &st) && S_ISREG (st.st_mode) && (st.st_mode & S_IWGRP))
    {
      *r_done = 1;
      /* One write of a few bytes within one block: old or new.  */
      if (pwrite (fd, text, n, 0) != (ssize_t)n || ftruncate (fd, n)
          || fsync (fd))
        err = pani_reason_sys (r_reason, path);
    }
  close (fd);
  return err;
}

gpg_error_t
pani_audit_state_write (const char *path, const struct pani_audit_state *st,
                        char **r_reason)
{
  int shared = 0;
  char *text = gcry_malloc_secure (STATE_TEXT_SIZE);
  char hex[2 * AUDIT_KEYLEN + 1];
  gpg_error_t err;
  int n;

  if (!text)
    return gpg_error_from_syserror ();
  pani_bin2hex (st->key, AUDIT_KEYLEN, hex);
  n = snprintf (text, STATE_TEXT_SIZE, "seq %llu key %s prev %s\n", st->seq,
                hex, st->prev);
  pani_wipe (hex, sizeof hex);
  if (n < 0 || n >= STATE_TEXT_SIZE)
    err = gpg_error (GPG_ERR_BUG);
  else if (!(err = state_write_shared (path, text, (size_t)n, &shared,
                                       r_reason))
           && !shared)
    err = pani_write_file_atomic (path, text, (size_t)n, 0600, r_reason);
  secret_free (text, STATE_TEXT_SIZE);
  return err;
}


/*
 * The audit files of a home and their lock.
 */

gpg_error_t
pani_audit_files_init (pan_ctx_t ctx, struct pani_audit_files *f)
{
  long t = pan_config_get_int (pan_ctx_config (ctx), "lock-timeout");
  gpg_error_t err;

  memset (f, 0, sizeof *f);
  f->lockfd = -1;
  f->lock_timeout = t > 0 ? (int)t : 10;
  f->log = pan_ctx_path (ctx, AUDIT_LOG_FILE);
  f->key = pan_ctx_path (ctx, AUDIT_KEY_FILE);
  f->lock = pan_ctx_path (ctx, AUDIT_LOCK_FILE);
  if (f->log && f->key && f->lock)
    return 0;
  err = gpg_error_from_syserror ();
  pani_audit_files_release (f);
  return err;
}

gpg_error_t
pani_audit_lock (struct pani_audit_files *f, char **r_reason)
{
  return pani_lock (f->lock, f->lock_timeout, &f->lockfd, r_reason);
}

void
pani_audit_files_release (struct pani_audit_files *f)
{
  pani_unlock (f->lockfd);
  free (f->log);
  free (f->key);
  free (f->lock);
  memset (f, 0, sizeof *f);
  f->lockfd = -1;
}


/*
 * Creating the key.
 */

/* Fail with GPG_ERR_EEXIST unless the home has no audit.key and no
 * records.  */
static gpg_error_t
check_no_audit_yet (const char *logpath, const char *keypath,
                    char **r_reason)
{
  struct stat st;

  if (!stat (keypath, &st))
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s exists: the audit key was created before",
                        keypath);
  if (errno != ENOENT)
    return pani_reason_sys (r_reason, keypath);
  if (!stat (logpath, &st) && st.st_size)
    return pani_reason (r_reason, gpg_error (GPG_ERR_EEXIST),
                        "%s holds records but %s is missing; restore %s"
                        " from a backup",
                        logpath, keypath, keypath);
  return 0;
}

static gpg_error_t
create_log (const char *logpath, char **r_reason)
{
  gpg_error_t err = 0;
  int fd;

  if ((err = pani_open_file (logpath, O_WRONLY | O_CREAT | O_APPEND, 0600,
                             &fd, r_reason)))
    return err;
  if (fchmod (fd, 0600) || fsync (fd))
    err = pani_reason_sys (r_reason, logpath);
  close (fd);
  return err;
}

static gpg_error_t
make_initial_key (const char *logpath, const char *keypath, char **r_hex,
                  char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_state st = { 1, NULL, AUDIT_ZERO_HASH };
  char *hex = gcry_malloc_secure (2 * AUDIT_KEYLEN + 1);

  if (!hex
      || !(st.key = gcry_random_bytes_secure (AUDIT_KEYLEN,
                                              GCRY_STRONG_RANDOM)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  if ((err = create_log (logpath, r_reason))
      || (err = pani_audit_state_write (keypath, &st, r_reason)))
    goto leave;
  pani_bin2hex (st.key, AUDIT_KEYLEN, hex);
  *r_hex = hex;
  hex = NULL;

leave:
  secret_free (hex, 2 * AUDIT_KEYLEN + 1);
  pani_audit_key_free (st.key);
  return err;
}

gpg_error_t
pani_audit_key_create (const struct pani_audit_files *f, char **r_hex,
                       char **r_reason)
{
  gpg_error_t err;

  *r_hex = NULL;
  if ((err = check_no_audit_yet (f->log, f->key, r_reason)))
    return err;
  return make_initial_key (f->log, f->key, r_hex, r_reason);
}
