/* gen-audit.c - write a large, valid audit log quickly (benchmarks)
 *
 * Usage: gen-audit DIR N
 * Writes DIR/audit.log with N records (a send/pending and a delivered
 * record per copy, about 750 bytes each, as pansend writes them),
 * DIR/audit.key to match, and the initial key to DIR/initial.key, as
 * pan_audit_append would but without fsync(2) after every record.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"

#define T0 1795000000 /* 2026-11-17 */

static const struct pan_audit_key keys[2] = {
  {"alice@example.test",
   PAN_PROTOCOL_OPENPGP, "0123456789ABCDEF0123456789ABCDEF01234567",
   { NULL }},
  { "bob@example.test",
   PAN_PROTOCOL_OPENPGP, "89ABCDEF0123456789ABCDEF0123456789ABCDEF",
   { NULL }}
};

static const struct pan_audit_pan pans[1] = {
  {"visa",
   "411111******1111", "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
   { NULL }}
};

/* Fill REC (with the strings in ID and DIGEST) as record I.  */
static void
make_record (struct pan_audit_record *rec, unsigned long long i, char id[64],
             char copy[64], char digest[AUDIT_HEXLEN])
{
  struct pan_audit_event *ev = &rec->ev;
  unsigned long long m = (i - 1) / 2;

  memset (rec, 0, sizeof *rec);
  rec->seq = i;
  rec->time = T0 + (time_t)(i / 4);
  rec->host = "bench.example.test";
  rec->torn_length = -1;
  snprintf (id, 64, "<%llu.bench@reports.example.test>", m);
  snprintf (copy, 64, "c20261117T000000-%08llx-1", m);
  pani_sha256_hex (id, strlen (id), digest);
  ev->tool = "pansend";
  ev->operator_name = "reports";
  ev->message_id = id;
  ev->copy = copy;
  ev->envelope_from = "reports@example.test";
  ev->header_from = "Nightly settlement <reports@example.test>";
  ev->keys = keys;
  ev->nkeys = 2;
  ev->pans = m % 3 ? NULL : pans;
  ev->npans = m % 3 ? 0 : 1;
  ev->ciphertext_sha256 = digest;
  ev->size = 4096 + (long long)(m % 1000);
  ev->event = i % 2 ? "send" : "delivered";
  ev->outcome = i % 2 ? "pending" : "delivered";
  ev->reason = i % 2 ? "encrypted to 2 pinned keys; handing over" : NULL;
}

static int
generate (FILE *log, unsigned char *key, unsigned long long n,
          struct pani_audit_state *st)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  struct pan_audit_record rec;
  char prev[AUDIT_HEXLEN] = AUDIT_ZERO_HASH, mac[AUDIT_HEXLEN];
  char id[64], copy[64], digest[AUDIT_HEXLEN];

  for (unsigned long long i = 1; i <= n; i++)
    {
      make_record (&rec, i, id, copy, digest);
      rec.prev = prev;
      b.len = 0;
      pani_audit_format_prefix (&b, &rec);
      if (pani_buf_error (&b)
          || pani_audit_key_mac (key, b.data, b.len, mac))
        return 1;
      pani_buf_printf (&b, AUDIT_MAC_PREFIX "%s\"}", mac);
      if (pani_buf_error (&b))
        return 1;
      pani_sha256_hex (b.data, b.len, prev);
      pani_buf_putc (&b, '\n');
      if (fwrite (b.data, 1, b.len, log) != b.len
          || pani_audit_key_evolve (key))
        return 1;
    }
  pani_buf_free (&b);
  st->seq = n + 1;
  st->key = key;
  memcpy (st->prev, prev, sizeof st->prev);
  return 0;
}

int
main (int argc, char **argv)
{
  struct pani_audit_state st;
  unsigned char *key;
  char hex[65], path[4096];
  FILE *fp;

  if (argc != 3 || !gcry_check_version (NULL))
    {
      fprintf (stderr, "usage: gen-audit DIR N\n");
      return 2;
    }
  gcry_control (GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  if (!(key = pani_audit_key_new ()))
    return 1;
  gcry_randomize (key, AUDIT_KEYLEN, GCRY_STRONG_RANDOM);
  pani_bin2hex (key, AUDIT_KEYLEN, hex);
  snprintf (path, sizeof path, "%s/initial.key", argv[1]);
  if (!(fp = fopen (path, "w")) || fprintf (fp, "%s\n", hex) < 0
      || fclose (fp))
    return 1;
  snprintf (path, sizeof path, "%s/audit.log", argv[1]);
  if (!(fp = fopen (path, "w"))
      || generate (fp, key, strtoull (argv[2], NULL, 10), &st)
      || fclose (fp))
    return 1;
  snprintf (path, sizeof path, "%s/audit.key", argv[1]);
  return pani_audit_state_write (path, &st, NULL) ? 1 : 0;
}
