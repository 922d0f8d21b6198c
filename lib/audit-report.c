/* audit-report.c - the summary of the audit log for an assessor
 *
 * What was sent, queued and refused (and why), to whom with which key,
 * which keys changed, and the verdict of a full verification, over the
 * records a filter selects.  One pass over the records, in time and
 * memory linear in what is counted: messages by Message-ID and copies
 * by copy id (old logs: by ciphertext digest), kept as hashes.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>

#include "panmail.h"
#include "util.h"

/* A count per distinct NAME, in the order first seen, with an index
 * hashed on the name so that adding is constant time.  */
struct tally
{
  char **names;
  unsigned long *counts;
  size_t n, cap;
  uint32_t *index; /* 1 + position in NAMES, 0: free.  */
  size_t nindex;   /* A power of 2, or 0.  */
};

/* FNV-1a of NAME: spreads names over the index (not a defence against
 * crafted names, which only slow the tally down).  */
static uint64_t
name_hash (const char *name)
{
  uint64_t h = 14695981039346656037ULL;

  for (; *name; name++)
    h = (h ^ (unsigned char)*name) * 1099511628211ULL;
  return h;
}

/* Make room for one more name in T; false if out of core.  */
static int
tally_grow (struct tally *t)
{
  size_t i, j, cap;
  uint32_t *index;
  char **names;
  unsigned long *counts;

  if (t->n < t->cap && (t->n + 1) * 4 <= t->nindex * 3)
    return 1;
  cap = t->cap ? 2 * t->cap : 16;
  if (!(names = realloc (t->names, cap * sizeof *names)))
    return 0;
  t->names = names;
  if (!(counts = realloc (t->counts, cap * sizeof *counts)))
    return 0;
  t->counts = counts;
  t->cap = cap;
  if (!(index = calloc (2 * cap, sizeof *index)))
    return 0;
  free (t->index);
  t->index = index;
  t->nindex = 2 * cap;
  for (i = 0; i < t->n; i++)
    {
      j = name_hash (t->names[i]) & (t->nindex - 1);
      while (t->index[j])
        j = (j + 1) & (t->nindex - 1);
      t->index[j] = (uint32_t)i + 1;
    }
  return 1;
}

static void
tally_add (struct tally *t, const char *name, int *r_oom)
{
  size_t j;

  if (!tally_grow (t))
    {
      *r_oom = 1;
      return;
    }
  j = name_hash (name) & (t->nindex - 1);
  for (; t->index[j]; j = (j + 1) & (t->nindex - 1))
    if (!strcmp (t->names[t->index[j] - 1], name))
      {
        t->counts[t->index[j] - 1]++;
        return;
      }
  if (!(t->names[t->n] = pani_strdup (name)))
    {
      *r_oom = 1;
      return;
    }
  t->counts[t->n] = 1;
  t->index[j] = (uint32_t)++t->n;
}

static void
tally_free (struct tally *t)
{
  size_t i;

  for (i = 0; i < t->n; i++)
    free (t->names[i]);
  free (t->names);
  free (t->counts);
  free (t->index);
}

/* What the report learned of one copy (STATE_*), or that a message was
 * seen; kept in the low bits of a slot of a struct idset.  */
#define STATE_USED 1
#define STATE_PENDING 2 /* send / pending: encrypted.  */
#define STATE_LEGACY 4  /* send / sent: of an old log.  */
#define STATE_DELIVERED 8
#define STATE_QUEUED 16
#define STATE_DROPPED 32
#define STATE_MASK 63

/* A set of ids (copies, Message-IDs), each kept as 58 bits of its
 * SHA-256 and 6 bits of state: 8 bytes an id, so that a year of
 * records fits in a few megabytes.  Two ids are counted as one only if
 * their hashes agree in all 58 bits (for a million ids, a chance below
 * 1 in 10^5).  */
struct idset
{
  uint64_t *slot;
  size_t n, size; /* SIZE: a power of 2, or 0.  */
};

static int
idset_grow (struct idset *s)
{
  uint64_t *slot, v;
  size_t i, j, size = s->size ? 2 * s->size : 1024;

  if (!(slot = calloc (size, sizeof *slot)))
    return 0;
  for (i = 0; i < s->size; i++)
    if ((v = s->slot[i]))
      {
        for (j = (v >> 6) & (size - 1); slot[j]; j = (j + 1) & (size - 1))
          ;
        slot[j] = v;
      }
  free (s->slot);
  s->slot = slot;
  s->size = size;
  return 1;
}

/* Add STATE to the id KIND:ID of S; false if out of core.  */
static int
idset_add (struct idset *s, char kind, const char *id, unsigned int state)
{
  unsigned char digest[32];
  gcry_md_hd_t hd;
  uint64_t h = 0;
  size_t j, i;

  if ((s->n + 1) * 4 > s->size * 3 && !idset_grow (s))
    return 0;
  if (gcry_md_open (&hd, GCRY_MD_SHA256, 0))
    return 0;
  gcry_md_putc (hd, kind);
  gcry_md_write (hd, id, strlen (id));
  memcpy (digest, gcry_md_read (hd, GCRY_MD_SHA256), sizeof digest);
  gcry_md_close (hd);
  for (i = 0; i < 8; i++)
    h = (h << 8) | digest[i];
  h &= ~(uint64_t)STATE_MASK;
  for (j = (h >> 6) & (s->size - 1); s->slot[j]; j = (j + 1) & (s->size - 1))
    if ((s->slot[j] & ~(uint64_t)STATE_MASK) == h)
      {
        s->slot[j] |= state | STATE_USED;
        return 1;
      }
  s->slot[j] = h | state | STATE_USED;
  s->n++;
  return 1;
}

struct report
{
  unsigned long long records, first_seq, last_seq;
  time_t first, last;
  unsigned long refused;
  struct idset copies, messages;
  struct tally reasons, keys, events;
  struct pani_buf changes;
  int oom;
};

/* The copies by what became of them.  */
struct copy_counts
{
  unsigned long total, delivered, after_queue, legacy, queued, dropped,
    pending;
};

static void
count_copies (const struct idset *s, struct copy_counts *c)
{
  size_t i;
  unsigned int st;

  memset (c, 0, sizeof *c);
  for (i = 0; i < s->size; i++)
    {
      if (!(st = s->slot[i] & STATE_MASK))
        continue;
      c->total++;
      if (st & STATE_DELIVERED)
        {
          c->delivered++;
          c->after_queue += !!(st & STATE_QUEUED);
        }
      else if (st & STATE_DROPPED)
        c->dropped++;
      else if (st & STATE_QUEUED)
        c->queued++;
      else if (st & STATE_LEGACY)
        c->delivered++, c->legacy++;
      else
        c->pending++;
    }
}

static int
is_change (const char *event)
{
  static const char *const changes[] = {
    "init",     "init-key", "enroll",   "rotate", "refresh",        "revoke",
    "unenroll", "retire",   "trust-ca", "import", "registry-accept"
  };
  size_t i;

  for (i = 0; i < sizeof changes / sizeof *changes; i++)
    if (!strcmp (event, changes[i]))
      return 1;
  return 0;
}

static void
report_keys (struct report *r, const struct pan_audit_event *ev)
{
  char *k;
  size_t i;

  for (i = 0; i < ev->nkeys; i++)
    {
      k = pani_strdupf ("%-7s %s  %s",
                        pan_protocol_name (ev->keys[i].protocol),
                        ev->keys[i].fingerprint ? ev->keys[i].fingerprint
                                                : "-",
                        ev->keys[i].address);
      if (!k)
        r->oom = 1;
      else
        tally_add (&r->keys, k, &r->oom);
      free (k);
    }
}

static void
report_change (struct report *r, const struct pan_audit_record *rec)
{
  char when[32];
  size_t i;

  pani_buf_printf (&r->changes, "  %s  %-8s by %s",
                   pan_time_format (rec->time, when, sizeof when),
                   rec->ev.event, rec->ev.operator_name);
  for (i = 0; i < rec->ev.nkeys; i++)
    pani_buf_printf (&r->changes, "  %s %s", rec->ev.keys[i].address,
                     rec->ev.keys[i].fingerprint
                       ? rec->ev.keys[i].fingerprint
                       : "-");
  if (rec->ev.outcome)
    pani_buf_printf (&r->changes, "  (%s)", rec->ev.outcome);
  pani_buf_puts (&r->changes, "\n");
}

/* The state a record of a copy gives it, or 0 if it is not one.  */
static unsigned int
copy_state (const struct pan_audit_event *ev)
{
  const char *o = ev->outcome ? ev->outcome : "";

  if (!strcmp (ev->event, "send"))
    return !strcmp (o, "sent") ? STATE_LEGACY : STATE_PENDING;
  if (!strcmp (ev->event, "delivered"))
    return STATE_DELIVERED;
  if (!strcmp (ev->event, "queue"))
    return STATE_QUEUED;
  if (!strcmp (ev->event, "drop"))
    return STATE_DROPPED;
  return 0;
}

/* Note the record EV of a copy, which gives it STATE.  A copy is named
 * by its copy id; in old logs, by its ciphertext's digest.  */
static void
report_copy (struct report *r, const struct pan_audit_event *ev,
             unsigned int state)
{
  const char *id = ev->copy;
  char kind = 'c';

  if (!id)
    {
      id = ev->ciphertext_sha256 ? ev->ciphertext_sha256 : "";
      kind = 'd';
    }
  if (!idset_add (&r->copies, kind, id, state)
      || (ev->message_id
          && !idset_add (&r->messages, 'm', ev->message_id, 0)))
    r->oom = 1;
  if (state & (STATE_PENDING | STATE_LEGACY))
    report_keys (r, ev);
}

static void
report_add (struct report *r, const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  unsigned int state = copy_state (ev);

  if (!r->records++)
    r->first_seq = rec->seq, r->first = rec->time;
  r->last_seq = rec->seq;
  r->last = rec->time;
  if (state)
    report_copy (r, ev, state);
  else if (!strcmp (ev->event, "refuse"))
    {
      r->refused++;
      tally_add (&r->reasons, ev->reason ? ev->reason : "(no reason)",
                 &r->oom);
    }
  else if (is_change (ev->event))
    report_change (r, rec);
  else
    tally_add (&r->events, ev->event, &r->oom);
}

/* Print TEXT with control characters but LF replaced.  */
static void
put_safe (gpgrt_stream_t out, const char *text)
{
  for (; *text; text++)
    es_putc (*text != '\n' && ((unsigned char)*text < 0x20 || *text == 0x7f)
               ? '?'
               : *text,
             out);
}

static void
print_tally (gpgrt_stream_t out, const struct tally *t, const char *none)
{
  size_t i;

  if (!t->n)
    es_fprintf (out, "  %s\n", none);
  for (i = 0; i < t->n; i++)
    {
      es_fprintf (out, "  %6lu  ", t->counts[i]);
      put_safe (out, t->names[i]);
      es_putc ('\n', out);
    }
}

static void
print_period (gpgrt_stream_t out, const struct pan_audit_filter *f,
              const struct report *r)
{
  char a[32], b[32];

  es_fprintf (out, "period:   %s .. %s\n",
              f && f->since ? pan_time_format (f->since, a, sizeof a)
                            : "(start of log)",
              f && f->until ? pan_time_format (f->until, b, sizeof b)
                            : "(end of log)");
  if (r->records)
    es_fprintf (out, "records:  %llu (seq %llu..%llu, %s .. %s)\n",
                r->records, r->first_seq, r->last_seq,
                pan_time_format (r->first, a, sizeof a),
                pan_time_format (r->last, b, sizeof b));
  else
    es_fputs ("records:  none in this period\n", out);
}

static void
print_verdict (gpgrt_stream_t out, const struct pan_audit_verdict *v)
{
  es_fputs ("\nVerification of the whole log:\n  ", out);
  if (v->damage)
    {
      es_fputs ("TAMPERED: ", out);
      put_safe (out, v->message ? v->message : "");
    }
  else
    es_fprintf (out,
                "intact: %llu records, hash chain and audit.key %s;"
                " head sha256 %s",
                v->nrecords,
                v->key_checked ? "and every MAC (with the initial key)"
                               : "checked (MACs not checked: no --key)",
                v->head);
  es_putc ('\n', out);
  if (v->warnings)
    {
      es_fputs ("  warnings:\n", out);
      put_safe (out, v->warnings);
    }
}

static void
print_counts (gpgrt_stream_t out, const struct report *r)
{
  struct copy_counts c;

  count_copies (&r->copies, &c);
  es_fprintf (out,
              "\nMessages (by Message-ID):\n"
              "  messages with copies:       %lu\n"
              "  refused (nothing sent):     %lu\n",
              (unsigned long)r->messages.n, r->refused);
  es_fprintf (out,
              "\nCopies (one per protocol and per hidden recipient):\n"
              "  copies:                     %lu\n"
              "  delivered (MTA took all):   %lu"
              " (%lu after queueing, %lu as \"sent\" in an old log)\n"
              "  queued (not delivered yet): %lu\n"
              "  dropped from the queue:     %lu\n"
              "  pending (no MTA outcome):   %lu\n",
              c.total, c.delivered, c.after_queue, c.legacy, c.queued,
              c.dropped, c.pending);
}

static void
print_report (gpgrt_stream_t out, const struct pan_audit_filter *f,
              const struct report *r, const struct pan_audit_verdict *v)
{
  es_fputs ("panmail audit report\n\n", out);
  print_period (out, f, r);
  print_counts (out, r);
  es_fputs ("\nRefused, by reason:\n", out);
  print_tally (out, &r->reasons, "none");
  es_fputs ("\nRecipients and keys used (copies encrypted):\n", out);
  print_tally (out, &r->keys, "none");
  es_fputs ("\nEnrollment and key changes:\n", out);
  if (r->changes.len)
    put_safe (out, r->changes.data);
  else
    es_fputs ("  none\n", out);
  es_fputs ("\nOther events:\n", out);
  print_tally (out, &r->events, "none");
  print_verdict (out, v);
}

static gpg_error_t
collect_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                struct report *r, char **r_reason)
{
  gpg_error_t err;
  pan_audit_reader_t rd = NULL;
  const struct pan_audit_record *rec;

  if ((err = pan_audit_open (ctx, filter, &rd, r_reason)))
    return err;
  while (!(err = pan_audit_next (rd, &rec)) && !r->oom)
    report_add (r, rec);
  pan_audit_close (rd);
  if (r->oom || pani_buf_error (&r->changes))
    return gpg_error (GPG_ERR_ENOMEM);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}

gpg_error_t
pan_audit_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                  const char *key_file, gpgrt_stream_t out,
                  struct pan_audit_verdict *r_verdict, char **r_reason)
{
  gpg_error_t err;
  struct report r;

  memset (&r, 0, sizeof r);
  memset (r_verdict, 0, sizeof *r_verdict);
  if (!(err = collect_report (ctx, filter, &r, r_reason))
      && !(
        err = pan_audit_verify (ctx, key_file, NULL, r_verdict, r_reason)))
    {
      print_report (out, filter, &r, r_verdict);
      if (es_ferror (out))
        err = gpg_error_from_syserror ();
    }
  tally_free (&r.reasons);
  tally_free (&r.keys);
  tally_free (&r.events);
  free (r.copies.slot);
  free (r.messages.slot);
  pani_buf_free (&r.changes);
  return err;
}
