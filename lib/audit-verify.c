/* audit-verify.c - verifying the audit log
 *
 * One pass over the lines: each record must parse in canonical form,
 * carry the next sequence number, name the hash of the line before it
 * and, with the initial key, carry the MAC of the key evolved to it.
 * At the end, audit.key and an anchor tell whether records were
 * removed from the end.  The first damage found is the verdict.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"
#include "home-int.h"

#define ANCHOR_PREFIX "panmail-anchor 1 "

/* A head that a log must have passed through: from an anchor line.  */
struct anchor
{
  int set;
  unsigned long long seq;
  char hash[AUDIT_HEXLEN];
};

struct verifier
{
  struct pan_audit_verdict *v;
  struct pani_buf warn;
  unsigned long long expect; /* The seq of the next record.  */
  unsigned long long prev_lineno;
  const char *file, *prev_file; /* Of the line checked, the last good.  */
  char prev[AUDIT_HEXLEN];      /* Hash of the last good line.  */
  char prev_prev[AUDIT_HEXLEN]; /* And of the one before.  */
  unsigned char *key;           /* K(expect), or NULL.  */
  unsigned char *last_key;      /* K(expect - 1).  */
  const struct pani_audit_state *state; /* audit.key, or NULL.  */
  int state_missing;
  struct anchor anchor;
  struct anchor start;  /* audit.checkpoint: the last record
                                   pruned.  */
  char start_line[160]; /* As a prune record names it.  */
  int start_confirmed;  /* A prune record names it.  */
  struct pani_audit_parsed cur, nxt;
};

const char *
pani_audit_damage_name (pan_audit_damage_t damage)
{
  static const char *const names[] = { "intact",  "modified",  "inserted",
                                       "deleted", "reordered", "truncated",
                                       "torn" };

  if ((unsigned)damage < sizeof names / sizeof *names)
    return names[damage];
  return "unknown";
}

void
pan_audit_verdict_release (struct pan_audit_verdict *verdict)
{
  if (!verdict)
    return;
  free (verdict->message);
  free (verdict->warnings);
  verdict->message = verdict->warnings = NULL;
}

/* Compare the hex strings A and B (64 digits) in constant time.  */
static int
hash_equal (const char *a, const char *b)
{
  unsigned int diff = 0;
  size_t i;

  for (i = 0; i < 64; i++)
    diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
  return !diff;
}

/* True if FILE is a closed segment (not audit.log, not in memory).  */
static int
closed_segment (const char *file)
{
  const char *base = file ? strrchr (file, '/') : NULL;

  return base && strcmp (base + 1, AUDIT_LOG_FILE);
}

static int damage (struct verifier *vf, pan_audit_damage_t kind,
                   unsigned long long record, unsigned long long line,
                   const char *fmt, ...) PAN_PRINTF (5, 6);

/* Record the first damage found; return 1.  */
static int
damage (struct verifier *vf, pan_audit_damage_t kind,
        unsigned long long record, unsigned long long line, const char *fmt,
        ...)
{
  va_list ap;
  char *what = NULL;

  va_start (ap, fmt);
  if (vasprintf (&what, fmt, ap) < 0)
    what = NULL;
  va_end (ap);
  vf->v->damage = kind;
  vf->v->record = record;
  vf->v->line = line;
  if (line && closed_segment (vf->file))
    vf->v->message = pani_strdupf ("record %llu (%s line %llu): %s: %s",
                                   record, strrchr (vf->file, '/') + 1, line,
                                   pani_audit_damage_name (kind),
                                   what ? what : "");
  else if (line)
    vf->v->message = pani_strdupf ("record %llu (line %llu): %s: %s", record,
                                   line, pani_audit_damage_name (kind),
                                   what ? what : "");
  else
    vf->v->message = pani_strdupf ("record %llu: %s: %s", record,
                                   pani_audit_damage_name (kind),
                                   what ? what : "");
  free (what);
  return 1;
}

static void warn (struct verifier *vf, const char *fmt, ...)
  PAN_PRINTF (2, 3);

static void
warn (struct verifier *vf, const char *fmt, ...)
{
  va_list ap;
  char *s;

  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) >= 0)
    {
      pani_buf_puts (&vf->warn, s);
      pani_buf_putc (&vf->warn, '\n');
      free (s);
    }
  va_end (ap);
}


/*
 * One record.
 */

/* True if NXT is a recovery record that names CUR as its torn line.  */
static int
is_recovery_of (struct verifier *vf, const struct pani_audit_line *cur,
                const struct pani_audit_line *nxt)
{
  static const char mark[] = "\"event\":\"recovery\"";
  const struct pan_audit_record *rec = &vf->nxt.rec;
  char hash[AUDIT_HEXLEN];

  if (!nxt || !memmem (nxt->p, nxt->len, mark, sizeof mark - 1)
      || pani_audit_parse (nxt->p, nxt->len, &vf->nxt, NULL))
    return 0;
  if (strcmp (rec->ev.event, "recovery") || !rec->torn_sha256
      || rec->torn_length != (long long)cur->len)
    return 0;
  pani_sha256_hex (cur->p, cur->len, hash);
  return !strcmp (hash, rec->torn_sha256);
}

/* True if the line L holds a record with sequence number SEQ.  */
static int
line_has_seq (struct verifier *vf, const struct pani_audit_line *l,
              unsigned long long seq)
{
  return l && !pani_audit_parse (l->p, l->len, &vf->nxt, NULL)
    && vf->nxt.rec.seq == seq;
}

static int
check_seq (struct verifier *vf, const struct pani_audit_line *cur,
           const struct pani_audit_line *nxt)
{
  unsigned long long s = vf->cur.rec.seq, e = vf->expect;

  if (s == e)
    return 0;
  if (s < e)
    return damage (vf, PAN_AUDIT_INSERTED, s, cur->no,
                   "a second record %llu where record %llu was expected:"
                   " a record was inserted or duplicated",
                   s, e);
  if (line_has_seq (vf, nxt, e))
    return damage (vf, PAN_AUDIT_REORDERED, e, cur->no,
                   "record %llu comes before record %llu: records were"
                   " reordered",
                   s, e);
  if (s == e + 1)
    return damage (vf, PAN_AUDIT_DELETED, e, cur->no,
                   "record %llu is missing (the sequence jumps from %llu"
                   " to %llu)",
                   e, e - 1, s);
  return damage (vf, PAN_AUDIT_DELETED, e, cur->no,
                 "records %llu to %llu are missing (the sequence jumps"
                 " from %llu to %llu)",
                 e, s - 1, e - 1, s);
}

static gpg_error_t
check_mac (struct verifier *vf, const struct pani_audit_line *cur,
           int *r_bad)
{
  gpg_error_t err;
  char mac[AUDIT_HEXLEN];

  *r_bad = 0;
  err = pani_audit_key_mac (vf->key, cur->p, cur->len - AUDIT_MAC_SUFFIX_LEN,
                            mac);
  if (err)
    return err;
  if (!hash_equal (mac, vf->cur.rec.mac))
    *r_bad = damage (vf, PAN_AUDIT_MODIFIED, vf->expect, cur->no,
                     "the MAC does not verify with the key: the record was"
                     " modified or forged");
  return 0;
}

static int
check_prev (struct verifier *vf, const struct pani_audit_line *cur)
{
  if (!strcmp (vf->cur.rec.prev, vf->prev))
    return 0;
  if (vf->expect == 1)
    return damage (vf, PAN_AUDIT_MODIFIED, 1, cur->no,
                   "its prev hash is not all zeros: the log does not start"
                   " with its first record");
  vf->file = vf->prev_file;
  return damage (vf, PAN_AUDIT_MODIFIED, vf->expect - 1, vf->prev_lineno,
                 "its SHA-256 does not match the prev hash of record %llu:"
                 " record %llu (or that prev field) was modified",
                 vf->expect, vf->expect - 1);
}

static int
check_anchor_at (struct verifier *vf, const struct pani_audit_line *cur,
                 const char *hash)
{
  if (!vf->anchor.set || vf->anchor.seq != vf->expect
      || !strcmp (hash, vf->anchor.hash))
    return 0;
  return damage (vf, PAN_AUDIT_MODIFIED, vf->expect, cur->no,
                 "it does not match the anchor: the log was rewritten at"
                 " or before this record");
}

/* The record on line LINENO, which hashes to HASH, is good: expect the
 * next one.  */
static gpg_error_t
advance (struct verifier *vf, const char hash[AUDIT_HEXLEN],
         unsigned long long lineno)
{
  memcpy (vf->prev_prev, vf->prev, sizeof vf->prev_prev);
  memcpy (vf->prev, hash, sizeof vf->prev);
  vf->prev_lineno = lineno;
  vf->prev_file = vf->file;
  vf->expect++;
  if (!vf->key)
    return 0;
  memcpy (vf->last_key, vf->key, AUDIT_KEYLEN);
  return pani_audit_key_evolve (vf->key);
}

/* Check one record line CUR (NXT is the line after it, or NULL).  */
static gpg_error_t
verify_one (struct verifier *vf, const struct pani_audit_line *cur,
            const struct pani_audit_line *nxt)
{
  gpg_error_t err;
  char *why = NULL, hash[AUDIT_HEXLEN];
  int bad = 0;

  vf->file = cur->file;
  if (is_recovery_of (vf, cur, nxt))
    {
      warn (vf,
            "line %llu: a torn record of %zu bytes (a writer was"
            " interrupted), recovered by record %llu",
            cur->no, cur->len, vf->expect);
      return 0;
    }
  if (!cur->has_nl)
    {
      damage (vf, PAN_AUDIT_TORN, vf->expect, cur->no,
              "the last line has no newline (%zu bytes): a writer was"
              " interrupted; the next append records a recovery",
              cur->len);
      return 0;
    }
  if ((err = pani_audit_parse (cur->p, cur->len, &vf->cur, &why)))
    {
      if (gpg_err_code (err) == GPG_ERR_INV_DATA)
        damage (vf, nxt ? PAN_AUDIT_MODIFIED : PAN_AUDIT_TORN, vf->expect,
                cur->no, "not a valid record: %s", why ? why : "");
      free (why);
      return gpg_err_code (err) == GPG_ERR_INV_DATA ? 0 : err;
    }
  if (check_seq (vf, cur, nxt))
    return 0;
  if (vf->key && ((err = check_mac (vf, cur, &bad)) || bad))
    return err;
  pani_sha256_hex (cur->p, cur->len, hash);
  if (check_prev (vf, cur) || check_anchor_at (vf, cur, hash))
    return 0;
  if (vf->start.set && !strcmp (vf->cur.rec.ev.event, "prune")
      && vf->cur.rec.ev.reason
      && strstr (vf->cur.rec.ev.reason, vf->start_line))
    vf->start_confirmed = 1;
  return advance (vf, hash, cur->no);
}


/*
 * The end of the log.
 */

static int
check_state_key (struct verifier *vf, const unsigned char *key)
{
  unsigned long long n = vf->expect - 1;

  if (!vf->key || !memcmp (vf->state->key, key, AUDIT_KEYLEN))
    return 0;
  return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                 "audit.key does not hold the key that --key evolves to"
                 " for record %llu: audit.key was replaced (were records"
                 " removed from the end?)",
                 vf->state->seq);
}

/* Compare audit.key with the end of the log (N records).  */
static int
check_state (struct verifier *vf)
{
  unsigned long long n = vf->expect - 1, s = vf->state->seq;

  if (s > n + 1)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "audit.key says %llu records were written, the log ends"
                   " at record %llu: records were removed from the end",
                   s - 1, n);
  if (s == n + 1 && strcmp (vf->state->prev, vf->prev))
    return damage (vf, PAN_AUDIT_MODIFIED, n ? n : 1, vf->prev_lineno,
                   "the last record does not match audit.key: it was"
                   " modified, or the log was rewritten with a recomputed"
                   " hash chain (--key or --anchor tells where)");
  if (s == n + 1)
    return check_state_key (vf, vf->key);
  if (s == n && strcmp (vf->state->prev, vf->prev_prev))
    return damage (vf, PAN_AUDIT_INSERTED, n, vf->prev_lineno,
                   "the log has one record more than audit.key knows of and"
                   " the chain was recomputed: a record was inserted"
                   " (--key or --anchor tells where)");
  if (s == n)
    {
      warn (vf,
            "audit.key lags one record behind the log (a writer"
            " stopped between appending record %llu and evolving the"
            " key); the next append repairs this",
            n);
      return check_state_key (vf, vf->last_key);
    }
  return damage (vf, PAN_AUDIT_INSERTED, s, 0,
                 "the log has %llu records but audit.key expects record %llu"
                 " next: records were added without the audit key",
                 n, s);
}

static int
verify_end (struct verifier *vf)
{
  unsigned long long n = vf->expect - 1;

  vf->v->nrecords = n - vf->start.seq;
  memcpy (vf->v->head, vf->prev, sizeof vf->v->head);
  if (vf->start.set && !vf->start_confirmed)
    return damage (vf, PAN_AUDIT_DELETED, vf->start.seq + 1, 0,
                   "audit.checkpoint says records 1 to %llu were pruned,"
                   " but no prune record in the log names it: records"
                   " were removed without 'panaudit prune'",
                   vf->start.seq);
  if (vf->anchor.set && vf->anchor.seq > n)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "the anchor names record %llu but the log ends at record"
                   " %llu: records were removed from the end",
                   vf->anchor.seq, n);
  if (vf->state_missing && n)
    return damage (vf, PAN_AUDIT_TRUNCATED, n + 1, 0,
                   "audit.key is missing, so records removed from the end"
                   " cannot be detected and nothing can be appended;"
                   " restore audit.key from a backup");
  if (vf->state)
    return check_state (vf);
  return 0;
}

static gpg_error_t
verify_lines (struct verifier *vf, struct pani_audit_lines *lines)
{
  gpg_error_t err = 0;
  struct pani_audit_line cur, nxt;
  int have_cur, have_nxt;

  have_cur = pani_audit_lines_next (lines, &cur);
  while (have_cur && !vf->v->damage && !err)
    {
      have_nxt = pani_audit_lines_next (lines, &nxt);
      err = verify_one (vf, &cur, have_nxt ? &nxt : NULL);
      cur = nxt;
      have_cur = have_nxt;
    }
  if (!err && !vf->v->damage && lines->err
      && gpg_err_code (lines->err) == GPG_ERR_INV_DATA)
    damage (vf, PAN_AUDIT_MODIFIED, vf->expect, 0, "%s",
            lines->reason ? lines->reason
                          : "a compressed segment is"
                            " damaged");
  else if (!err && lines->err)
    err = lines->err;
  if (!err && !vf->v->damage)
    verify_end (vf);
  return err;
}


/*
 * Setting up.
 */

static gpg_error_t
anchor_parse (const char *text, struct anchor *a)
{
  static const char prefix[] = ANCHOR_PREFIX "seq=";
  const char *p = text, *end = text + strlen (text);
  size_t n;

  memset (a, 0, sizeof *a);
  while (*p == ' ' || *p == '\t')
    p++;
  if (strncmp (p, prefix, sizeof prefix - 1))
    return gpg_error (GPG_ERR_INV_VALUE);
  p += sizeof prefix - 1;
  if (*p == '0' && p[1] == ' ')
    p++;
  else if (!pani_audit_parse_seq (&p, end, &a->seq))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (strncmp (p, " sha256=", 8) || strnlen (p + 8, 65) < 64)
    return gpg_error (GPG_ERR_INV_VALUE);
  memcpy (a->hash, p + 8, 64);
  a->hash[64] = 0;
  if (!pani_audit_is_hash (a->hash))
    return gpg_error (GPG_ERR_INV_VALUE);
  for (p += 8 + 64, n = 0; p[n] == ' ' || p[n] == '\n' || p[n] == '\r'; n++)
    ;
  if (p[n])
    return gpg_error (GPG_ERR_INV_VALUE);
  a->set = 1;
  return 0;
}

/* Start VF after the checkpoint TEXT that panaudit prune left (an
 * anchor line for the last record pruned): its chain, and its key
 * evolved past the pruned records.  */
static gpg_error_t
verifier_start (struct verifier *vf, const char *text, char **r_reason)
{
  gpg_error_t err = 0;
  unsigned long long i;

  if (!text)
    return 0;
  if (anchor_parse (text, &vf->start) || !vf->start.seq)
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "audit.checkpoint is not \"panmail-anchor 1 seq=N"
                        " sha256=HEX\": restore it from a backup");
  snprintf (vf->start_line, sizeof vf->start_line,
            ANCHOR_PREFIX "seq=%llu sha256=%s", vf->start.seq,
            vf->start.hash);
  /* The prune record's reason went through the card-number guard, which
   * masks a Luhn-valid run of digits in the hex digest: compare the
   * same.  The chain still binds the checkpoint itself (the first
   * record's prev).  */
  pani_audit_mask_in_place (vf->start_line);
  vf->expect = vf->start.seq + 1;
  memcpy (vf->prev, vf->start.hash, sizeof vf->prev);
  memcpy (vf->prev_prev, vf->start.hash, sizeof vf->prev_prev);
  for (i = 0; !err && vf->key && i < vf->start.seq; i++)
    err = pani_audit_key_evolve (vf->key);
  return err;
}

/* Set up VF to check MACs from the initial key KEY (consumed).  */
static gpg_error_t
verifier_keys (struct verifier *vf, unsigned char *key)
{
  vf->key = key;
  if (!key)
    return 0;
  if (!(vf->last_key = pani_audit_key_new ()))
    return gpg_error_from_syserror ();
  memset (vf->last_key, 0, AUDIT_KEYLEN);
  vf->v->key_checked = 1;
  return 0;
}

static void
verifier_finish (struct verifier *vf)
{
  if (vf->warn.len)
    vf->v->warnings = pani_buf_take (&vf->warn);
  pani_buf_free (&vf->warn);
  pani_audit_key_free (vf->key);
  pani_audit_key_free (vf->last_key);
  pani_audit_parsed_clear (&vf->cur);
  pani_audit_parsed_clear (&vf->nxt);
}

/* The common core: check LINES against STATE (may be NULL) and ANCHOR
 * (may be NULL), and every MAC if KEY (secure, consumed) is not
 * NULL.  */
static gpg_error_t
verify_core (struct pani_audit_lines *lines,
             const struct pani_audit_state *state, int state_missing,
             unsigned char *key, const char *anchor, const char *checkpoint,
             struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err = 0;
  struct verifier vf;

  memset (&vf, 0, sizeof vf);
  memset (r_verdict, 0, sizeof *r_verdict);
  vf.v = r_verdict;
  vf.expect = 1;
  vf.state = state;
  vf.state_missing = state_missing;
  memcpy (vf.prev, AUDIT_ZERO_HASH, sizeof vf.prev);
  memcpy (vf.prev_prev, AUDIT_ZERO_HASH, sizeof vf.prev_prev);
  memcpy (r_verdict->head, AUDIT_ZERO_HASH, sizeof r_verdict->head);
  err = verifier_keys (&vf, key); /* VF owns KEY from here on.  */
  if (!err)
    err = verifier_start (&vf, checkpoint, r_reason);
  if (!err && anchor && anchor_parse (anchor, &vf.anchor))
    err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                       "the anchor is not \"panmail-anchor 1 seq=N"
                       " sha256=HEX\" as printed by 'panaudit anchor'");
  else if (!err)
    err = verify_lines (&vf, lines);
  verifier_finish (&vf);
  if (err)
    pan_audit_verdict_release (r_verdict);
  return err;
}


/*
 * The public calls.
 */

gpg_error_t
pani_audit_verify_buffer (const void *log, size_t loglen, const void *state,
                          size_t statelen, const char *key_hex,
                          const char *anchor,
                          struct pan_audit_verdict *r_verdict,
                          char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_state st;
  struct pani_audit_lines lines;
  unsigned char *key = NULL;

  memset (&st, 0, sizeof st);
  memset (r_verdict, 0, sizeof *r_verdict);
  if (key_hex && pani_audit_key_parse (key_hex, strlen (key_hex), &key))
    return pani_reason (r_reason, gpg_error (GPG_ERR_INV_VALUE),
                        "the audit key is not 64 hex digits");
  if (state && pani_audit_state_parse (state, statelen, &st))
    {
      pani_audit_key_free (key);
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_STATE),
                          "audit.key is damaged");
    }
  pani_audit_lines_init (&lines, log, loglen);
  err = verify_core (&lines, state ? &st : NULL, 0, key, anchor, NULL,
                     r_verdict, r_reason);
  pani_audit_state_clear (&st);
  return err;
}

/* A log that verified as empty, without audit.key, in the home of CTX:
 * if the home shows that records were written (pankey init made its
 * registry and recorded it), the log was removed, not never written.  */
static void
check_empty_home (pan_ctx_t ctx, struct pan_audit_verdict *v)
{
  char *path = pan_ctx_path (ctx, PAN_REGISTRY_FILE);
  struct stat st;

  if (path && !lstat (path, &st))
    {
      v->damage = PAN_AUDIT_TRUNCATED;
      v->record = 1;
      v->message = pani_strdupf ("record 1: truncated: the log and audit.key"
                                 " are missing or empty, but the home was"
                                 " set up (%s exists) and 'pankey init'"
                                 " recorded that: the log was removed;"
                                 " restore it and audit.key from a backup",
                                 path);
    }
  free (path);
}

/* Verify the files of SNAP against its audit.key (if it has one), the
 * initial key in KEY_FILE and ANCHOR (either may be NULL).  */
static gpg_error_t
verify_snapshot (const struct pani_audit_snapshot *snap,
                 const char *key_file, const char *anchor, int with_state,
                 struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_lines lines;
  unsigned char *key = NULL;

  if (key_file && (err = pani_audit_key_read (key_file, &key, r_reason)))
    return err;
  if ((err = pani_audit_lines_open (&lines, snap)))
    pani_audit_key_free (key);
  else
    err = verify_core (&lines,
                       with_state && !snap->state_missing ? &snap->state
                                                          : NULL,
                       with_state && snap->state_missing, key, anchor,
                       snap->checkpoint, r_verdict, r_reason);
  if (err && lines.reason && r_reason && !*r_reason)
    {
      *r_reason = lines.reason;
      lines.reason = NULL;
    }
  pani_audit_lines_release (&lines);
  return err;
}

gpg_error_t
pan_audit_verify_dir (const char *dir, const char *key_file,
                      const char *anchor,
                      struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_snapshot snap;

  memset (r_verdict, 0, sizeof *r_verdict);
  if ((err = pani_audit_snapshot_dir (dir, &snap, r_reason)))
    return err;
  err = verify_snapshot (&snap, key_file, anchor, 0, r_verdict, r_reason);
  pani_audit_snapshot_release (&snap);
  return err;
}

gpg_error_t
pan_audit_verify (pan_ctx_t ctx, const char *key_file, const char *anchor,
                  struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct pani_audit_snapshot snap;

  memset (r_verdict, 0, sizeof *r_verdict);
  if ((err = pani_audit_snapshot_take (ctx, &snap, r_reason)))
    return err;
  err = verify_snapshot (&snap, key_file, anchor, 1, r_verdict, r_reason);
  if (!err && !r_verdict->damage && !r_verdict->nrecords
      && snap.state_missing)
    check_empty_home (ctx, r_verdict);
  pani_audit_snapshot_release (&snap);
  return err;
}

gpg_error_t
pan_audit_anchor (pan_ctx_t ctx, char **r_line, char **r_reason)
{
  gpg_error_t err;
  struct pan_audit_verdict v;

  *r_line = NULL;
  if ((err = pan_audit_verify (ctx, NULL, NULL, &v, r_reason)))
    return err;
  if (v.damage)
    err = pani_reason (r_reason, gpg_error (GPG_ERR_BAD_SIGNATURE),
                       "the log is damaged, no anchor made: %s",
                       v.message ? v.message : "");
  else if (!(*r_line = pani_strdupf (ANCHOR_PREFIX "seq=%llu sha256=%s",
                                     v.nrecords, v.head)))
    err = gpg_error_from_syserror ();
  pan_audit_verdict_release (&v);
  return err;
}
