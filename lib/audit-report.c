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

/* One enrollment or key change: its line of the report.  */
struct change
{
  time_t time;
  char *event, *operator_name, *outcome; /* OUTCOME may be NULL.  */
  char *addresses, *fingerprints;        /* Of its keys, space-separated
                                            ("-": no fingerprint).  */
  char *keys;                            /* "ADDR FPR  ADDR FPR".  */
};

struct report
{
  unsigned long long records, first_seq, last_seq;
  time_t first, last;
  unsigned long refused;
  struct idset copies, messages;
  struct tally reasons, keys, events;
  struct change *changes;
  size_t nchanges, changes_size;
  int oom;
};

/* The separator of the fields of a key's name in the tally KEYS:
 * protocol, fingerprint, address.  */
#define KEY_SEP "\x1f"

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
    "init",     "init-key", "enroll",          "rotate",
    "refresh",  "revoke",   "unenroll",        "retire",
    "trust-ca", "import",   "registry-accept", "operator-key",
    "load-crl"
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
      k = pani_strdupf ("%s" KEY_SEP "%s" KEY_SEP "%s",
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

/* Append to B the keys of EV: with EACH (address, fingerprint or both)
 * and SEP between them.  */
static void
put_keys (struct pani_buf *b, const struct pan_audit_event *ev, int each,
          const char *sep)
{
  for (size_t i = 0; i < ev->nkeys; i++)
    {
      const char *fpr = ev->keys[i].fingerprint;

      if (i)
        pani_buf_puts (b, sep);
      if (each != 2)
        pani_buf_puts (b, ev->keys[i].address ? ev->keys[i].address : "-");
      if (!each)
        pani_buf_putc (b, ' ');
      if (each != 1)
        pani_buf_puts (b, fpr ? fpr : "-");
    }
}

/* Take the text of B, or an empty string; NULL (and OOM set) if memory
 * ran out.  */
static char *
take_text (struct pani_buf *b, int *oom)
{
  char *text = pani_buf_take (b);

  if (!text)
    *oom = 1;
  return text;
}

static void
report_change (struct report *r, const struct pan_audit_record *rec)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  struct change *c, *tmp;

  if (r->nchanges == r->changes_size)
    {
      size_t size = r->changes_size ? 2 * r->changes_size : 16;

      if (!(tmp = realloc (r->changes, size * sizeof *tmp)))
        {
          r->oom = 1;
          return;
        }
      r->changes = tmp;
      r->changes_size = size;
    }
  c = &r->changes[r->nchanges++];
  memset (c, 0, sizeof *c);
  c->time = rec->time;
  put_keys (&b, &rec->ev, 0, "  ");
  c->keys = take_text (&b, &r->oom);
  put_keys (&b, &rec->ev, 1, " ");
  c->addresses = take_text (&b, &r->oom);
  put_keys (&b, &rec->ev, 2, " ");
  c->fingerprints = take_text (&b, &r->oom);
  if (!(c->event = pani_strdup (rec->ev.event))
      || !(c->operator_name = pani_strdup (
             rec->ev.operator_name ? rec->ev.operator_name : ""))
      || (rec->ev.outcome && !(c->outcome = pani_strdup (rec->ev.outcome))))
    r->oom = 1;
}

static void
changes_free (struct report *r)
{
  for (size_t i = 0; i < r->nchanges; i++)
    {
      struct change *c = &r->changes[i];

      free (c->event);
      free (c->operator_name);
      free (c->outcome);
      free (c->addresses);
      free (c->fingerprints);
      free (c->keys);
    }
  free (r->changes);
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

/* Split the name of a key in the tally KEYS into its protocol,
 * fingerprint and address (pointers into BUF, SIZE bytes).  */
static void
split_key (const char *name, char *buf, size_t size, const char **r_proto,
           const char **r_fpr, const char **r_addr)
{
  char *p;

  snprintf (buf, size, "%s", name);
  *r_proto = buf;
  *r_fpr = *r_addr = "";
  if ((p = strchr (buf, *KEY_SEP)))
    {
      *p++ = 0;
      *r_fpr = p;
      if ((p = strchr (p, *KEY_SEP)))
        {
          *p++ = 0;
          *r_addr = p;
        }
    }
}

static void
print_keys (gpgrt_stream_t out, const struct tally *t)
{
  const char *proto, *fpr, *addr;
  char buf[1200];

  if (!t->n)
    es_fputs ("  none\n", out);
  for (size_t i = 0; i < t->n; i++)
    {
      split_key (t->names[i], buf, sizeof buf, &proto, &fpr, &addr);
      es_fprintf (out, "  %6lu  %-7s %s  ", t->counts[i], proto, fpr);
      put_safe (out, addr);
      es_putc ('\n', out);
    }
}

static void
print_changes (gpgrt_stream_t out, const struct report *r)
{
  char when[32];

  if (!r->nchanges)
    es_fputs ("  none\n", out);
  for (size_t i = 0; i < r->nchanges; i++)
    {
      const struct change *c = &r->changes[i];

      es_fprintf (out, "  %s  %-8s by ",
                  pan_time_format (c->time, when, sizeof when), c->event);
      put_safe (out, c->operator_name);
      if (*c->keys)
        {
          es_fputs ("  ", out);
          put_safe (out, c->keys);
        }
      if (c->outcome)
        es_fprintf (out, "  (%s)", c->outcome);
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
  print_keys (out, &r->keys);
  es_fputs ("\nEnrollment and key changes:\n", out);
  print_changes (out, r);
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
  if (r->oom)
    return gpg_error (GPG_ERR_ENOMEM);
  return gpg_err_code (err) == GPG_ERR_EOF ? 0 : err;
}


/*
 * The report as rows (pan_audit_report_rows): one per line of the text.
 */

/* Hand CB the row of TYPE and NAME with COUNT (-1: none).  */
static void
row_count (pan_audit_row_cb_t cb, void *opaque, const char *type,
           const char *name, long long count)
{
  struct pan_audit_report_row row = { .type = type,
                                      .name = name,
                                      .count = count };

  cb (opaque, &row);
}

static void
rows_head (const struct pan_audit_filter *f, const struct report *r,
           pan_audit_row_cb_t cb, void *opaque)
{
  struct pan_audit_report_row row = { .type = "period", .count = -1 };
  struct copy_counts c;
  char seq[64];

  row.from = f ? f->since : 0;
  row.to = f ? f->until : 0;
  cb (opaque, &row);
  snprintf (seq, sizeof seq, "seq %llu..%llu", r->first_seq, r->last_seq);
  row.type = "records";
  row.count = (long long)r->records;
  row.from = r->records ? r->first : 0;
  row.to = r->records ? r->last : 0;
  row.detail = r->records ? seq : NULL;
  cb (opaque, &row);
  row_count (cb, opaque, "messages", "with_copies",
             (long long)r->messages.n);
  row_count (cb, opaque, "messages", "refused", (long long)r->refused);
  count_copies (&r->copies, &c);
  row_count (cb, opaque, "copies", "total", c.total);
  row_count (cb, opaque, "copies", "delivered", c.delivered);
  row_count (cb, opaque, "copies", "delivered_after_queue", c.after_queue);
  row_count (cb, opaque, "copies", "delivered_legacy", c.legacy);
  row_count (cb, opaque, "copies", "queued", c.queued);
  row_count (cb, opaque, "copies", "dropped", c.dropped);
  row_count (cb, opaque, "copies", "pending", c.pending);
}

static void
rows_tally (const char *type, const struct tally *t, pan_audit_row_cb_t cb,
            void *opaque)
{
  for (size_t i = 0; i < t->n; i++)
    row_count (cb, opaque, type, t->names[i], (long long)t->counts[i]);
}

static void
rows_keys (const struct tally *t, pan_audit_row_cb_t cb, void *opaque)
{
  struct pan_audit_report_row row = { .type = "key" };
  char buf[1200];

  for (size_t i = 0; i < t->n; i++)
    {
      split_key (t->names[i], buf, sizeof buf, &row.protocol,
                 &row.fingerprint, &row.address);
      row.count = (long long)t->counts[i];
      cb (opaque, &row);
    }
}

static void
rows_changes (const struct report *r, pan_audit_row_cb_t cb, void *opaque)
{
  for (size_t i = 0; i < r->nchanges; i++)
    {
      const struct change *c = &r->changes[i];
      struct pan_audit_report_row row = {
        .type = "change",
        .name = c->event,
        .count = -1,
        .from = c->time,
        .fingerprint = *c->fingerprints ? c->fingerprints : NULL,
        .address = *c->addresses ? c->addresses : NULL,
        .operator_name = c->operator_name,
        .outcome = c->outcome
      };

      cb (opaque, &row);
    }
}

/* The verdict V: one row, and one for each line of its warnings.  */
static void
rows_verdict (const struct pan_audit_verdict *v, pan_audit_row_cb_t cb,
              void *opaque)
{
  struct pan_audit_report_row row = { .type = "verification", .count = -1 };
  char *copy = v->warnings ? pani_strdup (v->warnings) : NULL, *line, *next;

  row.name = v->damage ? "tampered" : "intact";
  row.count = (long long)v->nrecords;
  row.outcome = v->key_checked ? "macs-checked" : "macs-not-checked";
  row.detail = v->damage ? v->message : v->head;
  cb (opaque, &row);
  memset (&row, 0, sizeof row);
  row.type = "warning";
  row.count = -1;
  for (line = copy; line && *line; line = next)
    {
      if ((next = strchr (line, '\n')))
        *next++ = 0;
      else
        next = line + strlen (line);
      row.detail = line;
      cb (opaque, &row);
    }
  free (copy);
}

static void
report_rows (const struct pan_audit_filter *f, const struct report *r,
             const struct pan_audit_verdict *v, pan_audit_row_cb_t cb,
             void *opaque)
{
  rows_head (f, r, cb, opaque);
  rows_tally ("refused", &r->reasons, cb, opaque);
  rows_keys (&r->keys, cb, opaque);
  rows_changes (r, cb, opaque);
  rows_tally ("event", &r->events, cb, opaque);
  rows_verdict (v, cb, opaque);
}

/* Collect the report of FILTER, verify the log, and hand the result to
 * CB (rows) or print it to OUT (text).  */
static gpg_error_t
make_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
             const char *key_file, gpgrt_stream_t out, pan_audit_row_cb_t cb,
             void *opaque, struct pan_audit_verdict *r_verdict,
             char **r_reason)
{
  gpg_error_t err;
  struct report r;

  memset (&r, 0, sizeof r);
  memset (r_verdict, 0, sizeof *r_verdict);
  if (!(err = collect_report (ctx, filter, &r, r_reason))
      && !(
        err = pan_audit_verify (ctx, key_file, NULL, r_verdict, r_reason)))
    {
      if (cb)
        report_rows (filter, &r, r_verdict, cb, opaque);
      else
        print_report (out, filter, &r, r_verdict);
      if (out && es_ferror (out))
        err = gpg_error_from_syserror ();
    }
  tally_free (&r.reasons);
  tally_free (&r.keys);
  tally_free (&r.events);
  free (r.copies.slot);
  free (r.messages.slot);
  changes_free (&r);
  return err;
}

gpg_error_t
pan_audit_report (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                  const char *key_file, gpgrt_stream_t out,
                  struct pan_audit_verdict *r_verdict, char **r_reason)
{
  return make_report (ctx, filter, key_file, out, NULL, NULL, r_verdict,
                      r_reason);
}

gpg_error_t
pan_audit_report_rows (pan_ctx_t ctx, const struct pan_audit_filter *filter,
                       const char *key_file, pan_audit_row_cb_t cb,
                       void *opaque, struct pan_audit_verdict *r_verdict,
                       char **r_reason)
{
  return make_report (ctx, filter, key_file, NULL, cb, opaque, r_verdict,
                      r_reason);
}
