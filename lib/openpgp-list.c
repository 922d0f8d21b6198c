/* openpgp-list.c - one listing of a keyring for many look-ups
 *
 * pankey list and check and panaudit keys describe every enrolled key:
 * a key listing and a "gpg --check-sigs" per key made them take 50 ms
 * per key.  Once a process has looked up LIST_AFTER keys in one GnuPG
 * home, the whole keyring is listed once (and, when the policy asks for
 * the self-signatures, checked once, without the signature cache), and
 * each later look-up is a binary search by primary fingerprint.  The
 * listing is made again when the keyring file changed (device, inode,
 * size, modification or change time), so an import in between is seen.
 * The first look-ups of a home stay single: a tool that changes one key
 * does not pay for the listing of ten thousand.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <gpgme.h>

#include "panmail.h"
#include "util.h"
#include "engine-int.h"
#include "openpgp-list-int.h"
#include "fileio-int.h"

/* Look-ups of one home before its whole keyring is listed.  */
#define LIST_AFTER 8

/* The self-signature listing of one key: a slice of the listing.  */
struct sigs
{
  const char *fpr; /* In the listing's buffer, not terminated,  */
  size_t fprlen;   /* this long.  */
  const char *buf;
  size_t len;
};

/* The listing of one home (the library is not used from several
 * threads at once).  */
static struct
{
  char *home;
  unsigned int lookups; /* Of HOME since it was first asked for.  */
  struct stat st;       /* Of its keyring when it was listed.  */
  int listed;
  gpgme_key_t *keys; /* Sorted by primary fingerprint.  */
  size_t nkeys;
  char *sigbuf; /* The --check-sigs listing of every key.  */
  size_t siglen;
  struct sigs *sigs; /* Sorted by fingerprint.  */
  size_t nsigs;
} cache;

static void
drop_listing (void)
{
  for (size_t i = 0; i < cache.nkeys; i++)
    gpgme_key_unref (cache.keys[i]);
  free (cache.keys);
  cache.keys = NULL;
  cache.nkeys = 0;
  gpgme_free (cache.sigbuf);
  cache.sigbuf = NULL;
  cache.siglen = 0;
  free (cache.sigs);
  cache.sigs = NULL;
  cache.nsigs = 0;
  cache.listed = 0;
}

/* Stat the keyring file of GNUPG_HOME into ST; -1 if there is none.  */
static int
keyring_stat (const char *gnupg_home, struct stat *st)
{
  static const char *const names[] = { "pubring.kbx", "pubring.gpg" };
  char *path;
  int rc = -1;

  for (size_t i = 0; rc && i < sizeof names / sizeof *names; i++)
    if ((path = pani_strdupf ("%s/%s", gnupg_home, names[i])))
      {
        rc = stat (path, st);
        free (path);
      }
  return rc;
}

static int
key_cmp (const void *a, const void *b)
{
  gpgme_key_t x = *(const gpgme_key_t *)a, y = *(const gpgme_key_t *)b;

  return strcmp (x->subkeys->fpr, y->subkeys->fpr);
}

/* Append KEY to the listing.  */
static gpg_error_t
keep_key (gpgme_key_t key, size_t *size)
{
  gpgme_key_t *tmp;

  if (cache.nkeys == *size)
    {
      *size = *size ? 2 * *size : 256;
      if (!(tmp = realloc (cache.keys, *size * sizeof *tmp)))
        return gpg_error_from_syserror ();
      cache.keys = tmp;
    }
  cache.keys[cache.nkeys++] = key;
  return 0;
}

/* List every key of GNUPG_HOME into the cache.  */
static gpg_error_t
list_all (const char *gnupg_home)
{
  gpg_error_t err;
  gpgme_ctx_t gctx = NULL;
  gpgme_key_t key;
  size_t size = 0;

  if ((err = pani_gpgme_new (gnupg_home, GPGME_PROTOCOL_OpenPGP, &gctx))
      || (err = gpgme_op_keylist_start (gctx, NULL, 0)))
    goto leave;
  while (!(err = gpgme_op_keylist_next (gctx, &key)))
    if (!key->subkeys || !key->subkeys->fpr)
      gpgme_key_unref (key);
    else if ((err = keep_key (key, &size)))
      {
        gpgme_key_unref (key);
        break;
      }
  gpgme_op_keylist_end (gctx);
  if (gpg_err_code (err) == GPG_ERR_EOF)
    err = 0;
  qsort (cache.keys, cache.nkeys, sizeof *cache.keys, key_cmp);
leave:
  gpgme_release (gctx);
  return err;
}

/* Make the cache hold GNUPG_HOME's keyring as it is now, if it should
 * (see above): set *R_LISTED.  */
static gpg_error_t
refresh (const char *gnupg_home, int *r_listed)
{
  gpg_error_t err;
  struct stat st;

  *r_listed = 0;
  if (!cache.home || strcmp (cache.home, gnupg_home))
    {
      drop_listing ();
      free (cache.home);
      if (!(cache.home = pani_strdup (gnupg_home)))
        return gpg_error_from_syserror ();
      cache.lookups = 0;
    }
  if (++cache.lookups <= LIST_AFTER || keyring_stat (gnupg_home, &st))
    return 0;
  if (cache.listed && pani_same_file (&st, &cache.st))
    {
      *r_listed = 1;
      return 0;
    }
  drop_listing ();
  if ((err = list_all (gnupg_home)))
    {
      drop_listing ();
      return err;
    }
  cache.st = st;
  cache.listed = *r_listed = 1;
  return 0;
}

gpg_error_t
pani_openpgp_listed_key (const char *gnupg_home, const char *fpr,
                         gpgme_key_t *r_key)
{
  gpg_error_t err;
  int listed, c;
  size_t lo = 0, hi, mid;

  *r_key = NULL;
  if ((err = refresh (gnupg_home, &listed)))
    return err;
  if (!listed)
    return gpg_error (GPG_ERR_NOT_FOUND);
  for (hi = cache.nkeys; lo < hi;)
    {
      mid = lo + (hi - lo) / 2;
      if (!(c = strcmp (cache.keys[mid]->subkeys->fpr, fpr)))
        {
          gpgme_key_ref (cache.keys[mid]);
          *r_key = cache.keys[mid];
          return 0;
        }
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return gpg_error (GPG_ERR_NO_PUBKEY);
}

static int
sigs_cmp (const void *a, const void *b)
{
  const struct sigs *x = a, *y = b;
  size_t n = x->fprlen < y->fprlen ? x->fprlen : y->fprlen;
  int c = memcmp (x->fpr, y->fpr, n);

  return c ? c : (x->fprlen > y->fprlen) - (x->fprlen < y->fprlen);
}

/* If the line P..END is "fpr:", name CUR by its fingerprint field.  */
static void
name_sigs (struct sigs *cur, const char *p, const char *end)
{
  int colons = 0;

  if (end - p < 5 || memcmp (p, "fpr:", 4))
    return;
  for (p += 4; p < end && colons < 8; p++)
    colons += *p == ':';
  cur->fpr = p;
  cur->fprlen = 0;
  while (p + cur->fprlen < end && p[cur->fprlen] != ':')
    cur->fprlen++;
}

static int
is_pub (const char *p, const char *end)
{
  return end - p >= 4 && !memcmp (p, "pub:", 4);
}

/* Cut the listing in the cache into one slice per key ("pub:" to the
 * next "pub:"), each named by the "fpr:" line after its "pub:".  */
static gpg_error_t
cut_sigs (void)
{
  const char *end = cache.sigbuf + cache.siglen, *nl, *q;
  struct sigs *cur = NULL;
  size_t n = 0;

  for (q = cache.sigbuf; q < end; q = nl + 1)
    {
      if (!(nl = memchr (q, '\n', end - q)))
        nl = end;
      n += is_pub (q, nl);
    }
  if (!(cache.sigs = calloc (n + 1, sizeof *cache.sigs)))
    return gpg_error_from_syserror ();
  for (q = cache.sigbuf; q < end; q = nl + 1)
    {
      if (!(nl = memchr (q, '\n', end - q)))
        nl = end;
      if (is_pub (q, nl))
        {
          cur = &cache.sigs[cache.nsigs++];
          cur->buf = q;
          cur->fpr = "";
        }
      else if (cur && !cur->fprlen)
        name_sigs (cur, q, nl);
      if (cur)
        cur->len = (size_t)(nl - cur->buf) + (nl < end);
    }
  qsort (cache.sigs, cache.nsigs, sizeof *cache.sigs, sigs_cmp);
  return 0;
}

gpg_error_t
pani_openpgp_listed_sigs (const char *gnupg_home, const char *fpr,
                          const char **r_buf, size_t *r_len)
{
  gpg_error_t err;
  gpgme_data_t out = NULL;
  struct sigs want = { fpr, strlen (fpr), NULL, 0 }, *found;

  struct stat st;

  *r_buf = NULL;
  *r_len = 0;
  if (!cache.listed || !cache.home || strcmp (cache.home, gnupg_home)
      || keyring_stat (gnupg_home, &st) || !pani_same_file (&st, &cache.st))
    return gpg_error (GPG_ERR_NOT_FOUND);
  if (!cache.sigbuf)
    {
      if ((err = pani_openpgp_list_sigs (gnupg_home, NULL, &out, NULL)))
        return err;
      cache.sigbuf = gpgme_data_release_and_get_mem (out, &cache.siglen);
      err = cache.sigbuf ? cut_sigs () : gpg_error (GPG_ERR_ENOMEM);
      if (err)
        {
          drop_listing ();
          return err;
        }
    }
  found = bsearch (&want, cache.sigs, cache.nsigs, sizeof *cache.sigs,
                   sigs_cmp);
  if (!found)
    return gpg_error (GPG_ERR_NO_PUBKEY);
  *r_buf = found->buf;
  *r_len = found->len;
  return 0;
}

gpg_error_t
pani_openpgp_list_sigs (const char *gnupg_home, const char *fpr,
                        gpgme_data_t *r_out, char **r_reason)
{
  gpg_error_t err;
  const char *prog = pani_engine_program (GPGME_PROTOCOL_OpenPGP);
  const char *argv[] = { "gpg",
                         "--homedir",
                         gnupg_home,
                         "--batch",
                         "--no-tty",
                         "--with-colons",
                         "--fixed-list-mode",
                         "--trust-model",
                         "always",
                         "--no-auto-check-trustdb",
                         "--no-sig-cache",
                         "--check-sigs",
                         "--",
                         fpr,
                         NULL };

  *r_out = NULL;
  if (!fpr)
    argv[12] = NULL; /* Every key.  */
  if (!prog)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_ENGINE),
                        "GPGME knows no gpg program");
  if ((err = pani_engine_spawn (prog, argv, r_out)))
    pani_reason (r_reason, err, "running %s --check-sigs: %s", prog,
                 gpg_strerror (err));
  return err;
}


/*
 * One key file of many keys, read once (pankey enroll --batch).
 */

gpg_error_t
pani_openpgp_scratch_conf (const char *dir, char **r_reason)
{
  /* Every signature checked, whatever a cache says; and no gpg-agent:
   * a scratch keyring holds public keys only, and starting and
   * stopping an agent cost each enrollment a third of its time.  */
  static const char conf[] = "no-sig-cache\nno-autostart\n";
  char *path = pani_strdupf ("%s/gpg.conf", dir);
  gpg_error_t err;

  if (!path)
    return gpg_error (GPG_ERR_ENOMEM);
  err = pani_write_file_atomic (path, conf, sizeof conf - 1, 0600, r_reason);
  free (path);
  return err;
}

struct pani_openpgp_split
{
  char *dir;
  gpgme_ctx_t gctx;
};

/* The split of the bulk enrollment under way (see
 * pani_openpgp_split_use).  */
static pani_openpgp_split_t current;

void
pani_openpgp_split_use (pani_openpgp_split_t split)
{
  current = split;
}

int
pani_openpgp_split_current (const char **r_dir, gpgme_ctx_t *r_gctx)
{
  if (!current)
    return 0;
  *r_dir = current->dir;
  *r_gctx = current->gctx;
  return 1;
}

void
pani_openpgp_split_release (pani_openpgp_split_t split)
{
  if (!split)
    return;
  if (split == current)
    current = NULL;
  gpgme_release (split->gctx);
  pani_engine_scratch_remove (split->dir);
  free (split->dir);
  free (split);
}

/* Import DATA/LEN into the scratch keyring of SPLIT; secret keys are
 * refused, as enroll refuses them.  */
static gpg_error_t
split_import (pani_openpgp_split_t split, const void *data, size_t len,
              char **r_reason)
{
  gpg_error_t err;
  gpgme_data_t in = NULL;
  gpgme_import_result_t res;

  if ((err = gpgme_data_new_from_mem (&in, data, len, 0)))
    return err;
  err = gpgme_op_import (split->gctx, in);
  gpgme_data_release (in);
  res = err ? NULL : gpgme_op_import_result (split->gctx);
  if (err || !res)
    return pani_reason (r_reason, err ? err : gpg_error (GPG_ERR_GENERAL),
                        "reading the key file: %s",
                        gpg_strerror (err ? err : GPG_ERR_GENERAL));
  if (res->secret_read)
    return pani_reason (r_reason, gpg_error (GPG_ERR_FORBIDDEN),
                        "the key file holds secret key material; export"
                        " only the public keys");
  return 0;
}

gpg_error_t
pani_openpgp_split_new (pan_ctx_t ctx, const void *data, size_t len,
                        pani_openpgp_split_t *r_split, char **r_reason)
{
  gpg_error_t err;
  pani_openpgp_split_t split = calloc (1, sizeof *split);

  *r_split = NULL;
  if (!split)
    return gpg_error_from_syserror ();
  if ((err = pani_engine_scratch_new (ctx, "batch", &split->dir, r_reason))
      || (err = pani_openpgp_scratch_conf (split->dir, r_reason)))
    goto leave;
  if ((err = pani_gpgme_new (split->dir, GPGME_PROTOCOL_OpenPGP,
                             &split->gctx)))
    {
      pani_reason (r_reason, err, "cannot start GPGME: %s",
                   pani_engine_strerror (err));
      goto leave;
    }
  if ((err = split_import (split, data, len, r_reason)))
    goto leave;
  *r_split = split;
  split = NULL;
leave:
  pani_openpgp_split_release (split);
  return err;
}

gpg_error_t
pani_openpgp_split_get (pani_openpgp_split_t split, const char *fpr,
                        char **r_buf, size_t *r_len)
{
  gpg_error_t err;
  gpgme_data_t out = NULL;
  char *buf;

  *r_buf = NULL;
  *r_len = 0;
  if ((err = gpgme_data_new (&out)))
    return err;
  if ((err = gpgme_op_export (split->gctx, fpr, 0, out)))
    {
      gpgme_data_release (out);
      return err;
    }
  buf = gpgme_data_release_and_get_mem (out, r_len);
  /* GPGME's memory, released with gpgme_free: copy it to ours.  */
  if (!(*r_buf = malloc (*r_len + 1)))
    err = gpg_error_from_syserror ();
  else if (*r_len)
    memcpy (*r_buf, buf, *r_len);
  gpgme_free (buf);
  return err;
}
