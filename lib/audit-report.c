/* audit-report.c - the summary of the audit log for an assessor
 *
 * What was sent, queued and refused (and why), to whom with which key,
 * which keys changed, and the verdict of a full verification, over the
 * records a filter selects.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"

/* A count per distinct NAME.  */
struct tally
{
  char **names;
  unsigned long *counts;
  size_t n;
};

static void
tally_add (struct tally *t, const char *name, int *r_oom)
{
  size_t i;
  char **names;
  unsigned long *counts;

  for (i = 0; i < t->n; i++)
    if (!strcmp (t->names[i], name))
      {
        t->counts[i]++;
        return;
      }
  names = realloc (t->names, (t->n + 1) * sizeof *names);
  if (names)
    t->names = names;
  counts = realloc (t->counts, (t->n + 1) * sizeof *counts);
  if (counts)
    t->counts = counts;
  if (!names || !counts || !(t->names[t->n] = pani_strdup (name)))
    {
      *r_oom = 1;
      return;
    }
  t->counts[t->n++] = 1;
}

static unsigned long
tally_get (const struct tally *t, const char *name)
{
  size_t i;

  for (i = 0; i < t->n; i++)
    if (!strcmp (t->names[i], name))
      return t->counts[i];
  return 0;
}

static void
tally_free (struct tally *t)
{
  size_t i;

  for (i = 0; i < t->n; i++)
    free (t->names[i]);
  free (t->names);
  free (t->counts);
}

struct report
{
  unsigned long long records, first_seq, last_seq;
  time_t first, last;
  unsigned long sends, refused, queued, requeued;
  struct tally reasons, keys, events, sent_digests;
  struct pani_buf changes;
  int oom;
};

static int
is_change (const char *event)
{
  static const char *const changes[] = { "init", "init-key", "enroll",
    "rotate", "revoke", "unenroll", "retire" };
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
                        : "-", ev->keys[i].address);
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
                rec->ev.keys[i].fingerprint ? rec->ev.keys[i].fingerprint
                : "-");
  if (rec->ev.outcome)
    pani_buf_printf (&r->changes, "  (%s)", rec->ev.outcome);
  pani_buf_puts (&r->changes, "\n");
}

static void
report_add (struct report *r, const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  const char *digest = ev->ciphertext_sha256 ? ev->ciphertext_sha256 : "";

  if (!r->records++)
    r->first_seq = rec->seq, r->first = rec->time;
  r->last_seq = rec->seq;
  r->last = rec->time;
  if (!strcmp (ev->event, "send"))
    {
      r->sends++;
      report_keys (r, ev);
      tally_add (&r->sent_digests, digest, &r->oom);
    }
  else if (!strcmp (ev->event, "queue"))
    {
      r->queued++;
      r->requeued += *digest && tally_get (&r->sent_digests, digest);
    }
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
             ? '?' : *text, out);
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
    es_fprintf (out, "intact: %llu records, hash chain and audit.key %s;"
                " head sha256 %s", v->nrecords,
                v->key_checked ? "and every MAC (with the initial key)"
                : "checked (MACs not checked: no --key)", v->head);
  es_putc ('\n', out);
  if (v->warnings)
    {
      es_fputs ("  warnings:\n", out);
      put_safe (out, v->warnings);
    }
}

static void
print_report (gpgrt_stream_t out, const struct pan_audit_filter *f,
              const struct report *r, const struct pan_audit_verdict *v)
{
  es_fputs ("panmail audit report\n\n", out);
  print_period (out, f, r);
  es_fprintf (out, "\nMessages:\n  sent (handed to the MTA):  %lu\n"
              "  queued (MTA failed, ciphertext kept): %lu\n"
              "  refused:                   %lu\n",
              r->sends - r->requeued, r->queued, r->refused);
  es_fputs ("\nRefused, by reason:\n", out);
  print_tally (out, &r->reasons, "none");
  es_fputs ("\nRecipients and keys used (messages sent):\n", out);
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
      && !(err = pan_audit_verify (ctx, key_file, NULL, r_verdict,
                                   r_reason)))
    {
      print_report (out, filter, &r, r_verdict);
      if (es_ferror (out))
        err = gpg_error_from_syserror ();
    }
  tally_free (&r.reasons);
  tally_free (&r.keys);
  tally_free (&r.events);
  tally_free (&r.sent_digests);
  pani_buf_free (&r.changes);
  return err;
}
