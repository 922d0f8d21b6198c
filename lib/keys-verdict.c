/* keys-verdict.c - the recorded verdicts on keys, for the reports
 *
 * enroll, rotate and refresh record their verdict on an OpenPGP key in
 * its record (registry-verdict.c).  pankey list and check and panaudit
 * keys take the state of a key from there, without gpg, while two
 * things hold: the keyring is as pankey left it, and the policy
 * settings are those the verdict was judged under.
 *
 * The first: every transaction of pankey that found the keyring as the
 * stamp HOME/gnupg/keyring.sha256 says (the SHA-256 of pubring.kbx, or
 * "none") writes the stamp anew when it is done.  A keyring changed by
 * anything else (gpg --import behind pankey's back, a transaction that
 * failed half-way) no longer matches: the reports then ask gpg about
 * every key, as before, and so see a revocation or an unpinned subkey
 * that came that way; and no later transaction renews the stamp.  A
 * home from before the stamp has none: it is asked about too.  A new
 * home has neither keyring nor stamp, which also match.
 *
 * The second: the verdict names a tag of min-rsa-bits, warn-rsa-bits
 * and allowed-curves; a key judged under other settings is asked
 * about.  Time is no reason to ask: the recorded expiry is compared
 * with NOW.  */
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
#include "fileio-int.h"
#include "home-int.h"
#include "keys-int.h"
#include "registry-int.h"
#include "registry-verdict-int.h"

#define STAMP_FILE "gnupg/keyring.sha256"

/* The keyrings gpg and gpgsm use, in the order gpg looks.  */
static const char *const keyrings[] = { "gnupg/pubring.kbx",
                                        "gnupg/pubring.gpg" };

/* What the last check found (the library is not used from several
 * threads at once).  */
static struct
{
  char *home;
  struct stat ring, stamp; /* As they were then (zero: missing).  */
  int valid;
} seen;

/* Stat NAME of the home of CTX into ST (zeroed if it is missing).  */
static void
stat_home (pan_ctx_t ctx, const char *name, struct stat *st)
{
  char *path = pan_ctx_path (ctx, name);

  if (!path || stat (path, st))
    memset (st, 0, sizeof *st);
  free (path);
}

/* The keyring of CTX that exists (else the first) and its stat.  */
static const char *
keyring_name (pan_ctx_t ctx, struct stat *st)
{
  for (size_t i = 0; i < sizeof keyrings / sizeof *keyrings; i++)
    {
      stat_home (ctx, keyrings[i], st);
      if (st->st_ino)
        return keyrings[i];
    }
  return keyrings[0];
}

/* Store in HEX (65 bytes) the digest of the keyring of CTX: "none" if
 * there is none; and in ST its stat, taken before it was read.  */
static gpg_error_t
keyring_digest (pan_ctx_t ctx, char *hex, struct stat *st, char **r_reason)
{
  const char *name = keyring_name (ctx, st);
  gpg_error_t err;
  int fd = -1;

  strcpy (hex, "none");
  if (!st->st_ino)
    return 0;
  if ((err = pani_home_open (ctx, name, O_RDONLY, 0, PANI_HOME_OPERATOR, &fd,
                             r_reason)))
    return err;
  err = pani_sha256_fd (fd, hex);
  close (fd);
  return err;
}

/* Compare the keyring of CTX with its stamp; set *R_VALID.  */
static gpg_error_t
compare_stamp (pan_ctx_t ctx, int *r_valid)
{
  char now[65], *buf = NULL;
  size_t len = 0;
  struct stat st;
  gpg_error_t err;

  *r_valid = 0;
  if ((err = keyring_digest (ctx, now, &st, NULL)))
    return err;
  err = pani_home_read (ctx, STAMP_FILE, PANI_HOME_OPERATOR, 128, &buf, &len,
                        NULL);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    *r_valid = !strcmp (now, "none");
  else if (!err)
    *r_valid = len == strlen (now) + 1 && !memcmp (buf, now, len - 1)
      && buf[len - 1] == '\n';
  free (buf);
  return gpg_err_code (err) == GPG_ERR_ENOENT ? 0 : err;
}

/* Remember that the keyring RING and the stamp STAMP of CTX were found
 * VALID (or not).  */
static gpg_error_t
remember (pan_ctx_t ctx, const struct stat *ring, const struct stat *stamp,
          int valid)
{
  free (seen.home);
  if (!(seen.home = pani_strdup (pan_ctx_home (ctx))))
    return gpg_error_from_syserror ();
  seen.ring = *ring;
  seen.stamp = *stamp;
  seen.valid = valid;
  return 0;
}

gpg_error_t
pani_keys_stamp_valid (pan_ctx_t ctx, int *r_valid)
{
  struct stat ring, stamp;
  gpg_error_t err;

  *r_valid = 0;
  keyring_name (ctx, &ring);
  stat_home (ctx, STAMP_FILE, &stamp);
  if (seen.home && !strcmp (seen.home, pan_ctx_home (ctx))
      && pani_same_file (&ring, &seen.ring)
      && pani_same_file (&stamp, &seen.stamp))
    {
      *r_valid = seen.valid;
      return 0;
    }
  free (seen.home);
  seen.home = NULL;
  if ((err = compare_stamp (ctx, r_valid)))
    return err;
  return remember (ctx, &ring, &stamp, *r_valid);
}

gpg_error_t
pani_keys_stamp_write (pan_ctx_t ctx, char **r_reason)
{
  char hex[66], *path = NULL;
  struct stat ring, stamp;
  gpg_error_t err;

  if ((err = keyring_digest (ctx, hex, &ring, r_reason)))
    return err;
  strcat (hex, "\n");
  if (!(path = pan_ctx_path (ctx, STAMP_FILE)))
    return gpg_error_from_syserror ();
  err = pani_write_file_atomic (path, hex, strlen (hex), 0644, r_reason);
  free (path);
  /* The stamp matches the keyring as it was when read: the next check
   * (the next pair of enroll --batch) need not read it again.  Only a
   * stamp that is there is remembered: a missing one (zero stat) would
   * be taken for this one, and "valid" would outlive it.  */
  if (!err)
    {
      stat_home (ctx, STAMP_FILE, &stamp);
      if (stamp.st_ino)
        (void)remember (ctx, &ring, &stamp, 1); /* Else nothing is known. */
    }
  return err;
}

void
pani_keys_policy_tag (pan_config_t config, char *tag)
{
  char *text;
  unsigned char d[32];
  const char *curves = config ? pan_config_get (config, "allowed-curves")
                              : NULL;

  text =
    pani_strdupf ("min-rsa-bits %ld\nwarn-rsa-bits %ld\nallowed-curves %s\n",
                  config ? pan_config_get_int (config, "min-rsa-bits") : 0L,
                  config ? pan_config_get_int (config, "warn-rsa-bits") : 0L,
                  curves ? curves : "");
  if (!text) /* No tag matches it.  */
    {
      strcpy (tag, "-");
      return;
    }
  gcry_md_hash_buffer (GCRY_MD_SHA256, d, text, strlen (text));
  free (text);
  pani_bin2hex (d, 8, tag);
}

gpg_error_t
pani_keys_verdict_make (pan_ctx_t ctx, const struct pan_key_info *info,
                        time_t primary_expires, const char *unpinned,
                        char **r_state, char **r_policy)
{
  struct pani_key_verdict v;
  gpg_error_t err;

  *r_state = *r_policy = NULL;
  memset (&v, 0, sizeof v);
  pani_keys_policy_tag (pan_ctx_config (ctx), v.tag);
  v.created = info->created;
  v.primary_expires = primary_expires;
  v.expires = info->expires;
  v.revoked = info->revoked;
  v.expired = info->expired;
  v.usable = info->usable;
  v.policy = info->policy;
  snprintf (v.algorithm, sizeof v.algorithm, "%s",
            *info->algorithm ? info->algorithm : "unknown");
  v.bits = info->bits;
  snprintf (v.enc_algorithm, sizeof v.enc_algorithm, "%s",
            info->enc_algorithm);
  v.unpinned = unpinned;
  if ((err = pani_registry_verdict_format (&v, r_state)))
    return err;
  if (info->policy != PAN_SEVERITY_OK && info->policy_reason
      && !(*r_policy = pani_strdup (info->policy_reason)))
    {
      free (*r_state);
      *r_state = NULL;
      return gpg_error_from_syserror ();
    }
  return 0;
}

/* Store in V the verdict of REC if the reports may take it (see
 * above); GPG_ERR_NO_DATA if not.  */
static gpg_error_t
usable_verdict (pan_ctx_t ctx, const struct pan_recipient *rec,
                struct pani_key_verdict *v)
{
  char tag[17];
  int valid = 0;

  if (rec->protocol != PAN_PROTOCOL_OPENPGP || !rec->key_state
      || pani_registry_verdict_parse (rec->key_state, v))
    return gpg_error (GPG_ERR_NO_DATA);
  pani_keys_policy_tag (pan_ctx_config (ctx), tag);
  if (strcmp (tag, v->tag) || pani_keys_stamp_valid (ctx, &valid) || !valid)
    return gpg_error (GPG_ERR_NO_DATA);
  return 0;
}

/* Fill INFO (set up for REC's key) from the verdict V at NOW.  */
static gpg_error_t
info_from_verdict (const struct pan_recipient *rec,
                   const struct pani_key_verdict *v, time_t now,
                   struct pan_key_info *info)
{
  int gone = v->expires && v->expires <= now; /* No key can encrypt.  */

  info->present = 1;
  snprintf (info->algorithm, sizeof info->algorithm, "%s", v->algorithm);
  info->bits = v->bits;
  snprintf (info->enc_algorithm, sizeof info->enc_algorithm, "%s",
            v->enc_algorithm);
  info->created = v->created;
  /* As gpg would say at NOW: once no encryption key is left, the key
   * lasts as long as its primary key.  */
  info->expires = gone ? v->primary_expires : v->expires;
  info->revoked = v->revoked;
  info->expired = !v->revoked
    && (v->expired || (v->primary_expires && v->primary_expires <= now));
  info->usable = v->usable && !info->revoked && !info->expired && !gone;
  info->policy = v->policy;
  if (rec->key_policy
      && !(info->policy_reason = pani_strdup (rec->key_policy)))
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pani_keys_review_info (pan_ctx_t ctx, const struct pan_recipient *rec,
                       time_t now, struct pan_key_info *r_info,
                       char **r_reason)
{
  struct pani_key_verdict v;

  if (usable_verdict (ctx, rec, &v))
    return pani_keys_info (ctx, rec->protocol, rec->fingerprint, now, r_info,
                           r_reason);
  memset (r_info, 0, sizeof *r_info);
  r_info->protocol = rec->protocol;
  snprintf (r_info->fingerprint, sizeof r_info->fingerprint, "%s",
            rec->fingerprint);
  return info_from_verdict (rec, &v, now, r_info);
}

gpg_error_t
pani_keys_review_unpinned (pan_ctx_t ctx, const struct pan_recipient *rec,
                           char **r_list, char **r_reason)
{
  struct pani_key_verdict v;

  *r_list = NULL;
  if (usable_verdict (ctx, rec, &v) || !rec->subkeys)
    return pani_keys_unpinned (ctx, rec, r_list, r_reason);
  if (*v.unpinned && !(*r_list = pani_strdup (v.unpinned)))
    return gpg_error_from_syserror ();
  return 0;
}

const char *
pani_keys_expiry_words (const struct pan_key_info *info, char *buf,
                        size_t size)
{
  char when[32];

  if (info->revoked)
    return "revoked by its holder";
  if (!info->expires)
    return "does not expire";
  snprintf (buf, size, "%s %s", info->expired ? "expired" : "expires",
            pan_time_format (info->expires, when, sizeof when));
  return buf;
}
