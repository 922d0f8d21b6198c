/* pankey-check.c - "pankey check": the review of every active key,
 * every address left without a usable key and every trusted CA, as a
 * monitoring plugin (monitoring-plugins guidelines): the status line
 * with perfdata first, then a line per finding; exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN (also for usage errors and the time-out).  The
 * findings about keys come from the library (pan_review_enrollment,
 * pan_review_ca).  */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-check.h"
#include "pankey-crl.h"

#define USAGE "usage: pankey check [-w DAYS] [-c DAYS] [-t SECONDS] [--json]"

/* What a finding is counted as: its check, the words of the status
 * line and the perfdata label.  In the order of the status line.  */
enum category
{
  C_NOKEY,
  C_EXPIRED,
  C_REVOKED,
  C_MISSING,
  C_UNUSABLE,
  C_WEAK,
  C_EXPIRING,
  C_ROTATION,
  C_UNPINNED,
  C_NOPINS,
  C_QUEUE_EXPIRED,
  C_QUEUED,
  C_CRL_EXPIRED,
  C_CRL_EXPIRING,
  C_UNKNOWN,
  NCATEGORIES
};
static const struct
{
  const char *check, *words, *perf;
} categories[NCATEGORIES] = {
  {"nokey",          "without a usable key",       "nokey"        },
  { "expired",       "expired",                    "expired"      },
  { "revoked",       "revoked",                    "revoked"      },
  { "missing",       "missing",                    "missing"      },
  { "unusable",      "unusable",                   "unusable"     },
  { "policy",        "below the algorithm policy", "weak"         },
  { "expiring",      "expiring within",            "expiring"     },
  { "rotation-due",  "due for rotation",           "rotation_due" },
  { "unpinned",      "with a subkey not pinned",   "unpinned"     },
  { "no-pins",       "pinning no subkey",          "nopins"       },
  { "queue-expired", "queued past queue-lifetime", "queue_expired"},
  { "queued",        "queued",                     "queued"       },
  { "crl-expired",   "CRL expired",                "crl_expired"  },
  { "crl-expiring",  "CRL expiring within",        "crl_expiring" },
  { NULL,            "not checked",                "unknown"      }
};
/* The perfdata, in this order (the first version's, then nokey, then
 * those of the subkey pins, then those of the queue, then those of the
 * CRLs, which only a home that trusts a CA gives).  */
static const enum category perf_order[] = {
  C_EXPIRED,  C_REVOKED, C_MISSING,       C_UNUSABLE,    C_EXPIRING,
  C_ROTATION, C_WEAK,    C_NOKEY,         C_UNKNOWN,     C_UNPINNED,
  C_NOPINS,   C_QUEUED,  C_QUEUE_EXPIRED, C_CRL_EXPIRED, C_CRL_EXPIRING
};

/* What pankey check counts.  */
struct check_state
{
  int json;
  long warn, crit; /* -w and -c, in days.  */
  estream_t lines; /* The findings, printed after the
                                   status line.  */
  int nfound;      /* Findings of the current record.  */
  int count[NCATEGORIES];
  char names[NCATEGORIES][200]; /* The first addresses of each.  */
  int ok, total;
  int crls; /* The CRLs were reviewed: their perfdata too.  */
  pan_severity_t worst;
};

/* The message of the time-out, made before the alarm is set.  */
static char timeout_text[160];

static enum category
category_of (const char *check)
{
  for (int i = 0; i < C_UNKNOWN; i++)
    if (!strcmp (categories[i].check, check))
      return i;
  return C_UNKNOWN;
}

/* Count a finding of category C about NAME, whose first three go into
 * the status line.  */
static void
count_finding (struct check_state *st, enum category c, const char *name)
{
  char *names = st->names[c];
  size_t len = strlen (names);

  if (st->count[c] < 3)
    snprintf (names + len, sizeof st->names[c] - len, "%s%s",
              len ? ", " : "", name);
  else if (st->count[c] == 3)
    snprintf (names + len, sizeof st->names[c] - len, ", ...");
  st->count[c]++;
}

static void
finding_json (estream_t out, const struct pan_key_finding *f)
{
  char when[32];

  es_fprintf (out,
              "{\"v\":1,\"type\":\"finding\",\"severity\":\"%s\","
              "\"check\":\"%s\",\"address\":",
              pan_severity_name (f->severity), f->check);
  cmd_put_json_string (out, f->rec->address);
  es_fprintf (out, ",\"protocol\":\"%s\",\"fingerprint\":\"%s\"",
              pan_protocol_name (f->rec->protocol), f->rec->fingerprint);
  if (f->when)
    es_fprintf (out, ",\"when\":\"%s\",\"days\":%ld",
                pan_time_format (f->when, when, sizeof when), f->days);
  es_fputs (",\"message\":", out);
  cmd_put_json_string (out, f->text);
  es_fputs ("}\n", out);
}

/* Print the finding F about a trusted CA.  */
static void
print_ca_finding (estream_t out, int json, const struct pan_key_finding *f)
{
  if (!json)
    {
      es_fprintf (out, "%s trusted S/MIME CA %s %s\n",
                  pan_severity_name (f->severity), f->ca->fpr, f->text);
      return;
    }
  es_fprintf (out,
              "{\"v\":1,\"type\":\"finding\",\"severity\":\"%s\","
              "\"check\":\"%s\",\"ca\":true,\"protocol\":\"smime\","
              "\"fingerprint\":\"%s\",\"message\":",
              pan_severity_name (f->severity), f->check, f->ca->fpr);
  cmd_put_json_string (out, f->text);
  es_fputs ("}\n", out);
}

/* Note and print the finding F0; a key that expires within -c days is
 * critical.  */
static gpg_error_t
on_finding (void *opaque, const struct pan_key_finding *f0)
{
  struct check_state *st = opaque;
  struct pan_key_finding f = *f0;
  enum category c = category_of (f.check);
  char name[64];

  if (c == C_EXPIRING && f.days <= st->crit)
    f.severity = PAN_SEVERITY_CRITICAL;
  if (f.severity > st->worst)
    st->worst = f.severity;
  st->nfound++;
  if (f.ca)
    snprintf (name, sizeof name, "CA %.16s", f.ca->fpr);
  count_finding (st, c, f.ca ? name : f.rec->address);
  if (f.ca)
    print_ca_finding (st->lines, st->json, &f);
  else if (st->json)
    finding_json (st->lines, &f);
  else
    {
      es_fprintf (st->lines, "%s %s key %s ", pan_severity_name (f.severity),
                  f.rec->address, f.rec->fingerprint);
      cmd_put_safe (st->lines, f.text);
      es_putc ('\n', st->lines);
    }
  return 0;
}

/* Write the words of the status line into TEXT.  */
static void
summary_text (struct check_state *st, char *text, size_t size)
{
  size_t len = 0;

  *text = 0;
  for (int c = 0; c < NCATEGORIES && len < size; c++)
    {
      if (!st->count[c])
        continue;
      len += snprintf (text + len, size - len, "%s%d %s", len ? ", " : "",
                       st->count[c], categories[c].words);
      if ((c == C_EXPIRING || c == C_CRL_EXPIRING) && len < size)
        len += snprintf (text + len, size - len, " %ld days", st->warn);
      if (len < size)
        len += snprintf (text + len, size - len, " (%s)", st->names[c]);
    }
  if (!*text)
    snprintf (text, size, "%d key%s OK", st->total,
              st->total == 1 ? "" : "s");
}

/* Print the status line with perfdata (or the JSON summary), then the
 * findings.  */
static void
print_result (struct check_state *st)
{
  char text[1024];
  void *buf = NULL;
  size_t len = 0;

  if (st->json)
    es_fprintf (es_stdout,
                "{\"v\":1,\"type\":\"summary\",\"status\":\"%s\","
                "\"exit\":%d",
                pan_severity_name (st->worst), (int)st->worst);
  else
    {
      summary_text (st, text, sizeof text);
      es_fprintf (es_stdout, "PANKEY %s - ", pan_severity_name (st->worst));
      cmd_put_safe (es_stdout, text);
      es_fputs (" |", es_stdout);
    }
  for (size_t i = 0; i < sizeof perf_order / sizeof *perf_order; i++)
    if (st->crls
        || (perf_order[i] != C_CRL_EXPIRED
            && perf_order[i] != C_CRL_EXPIRING))
      es_fprintf (es_stdout, st->json ? ",\"%s\":%d" : " %s=%d",
                  categories[perf_order[i]].perf, st->count[perf_order[i]]);
  es_fprintf (es_stdout, st->json ? ",\"ok\":%d}\n" : " ok=%d\n", st->ok);
  if (!es_fclose_snatch (st->lines, &buf, &len) && len)
    es_write (es_stdout, buf, len, NULL);
  st->lines = NULL;
  es_free (buf);
}

/* Say that the check stopped with CODE (critical or unknown) and
 * return CODE.  */
static int
check_stop (int json, int code, gpg_error_t err, const char *what,
            char *reason)
{
  const char *word = code == PANKEY_CHECK_UNKNOWN ? "UNKNOWN" : "CRITICAL";

  if (json)
    es_fprintf (es_stdout,
                "{\"v\":1,\"type\":\"summary\",\"status\":\"%s\","
                "\"exit\":%d,\"message\":",
                word, code);
  else
    es_fprintf (es_stdout, "PANKEY %s - ", word);
  if (json)
    cmd_put_json_string (es_stdout, reason ? reason : gpg_strerror (err));
  else
    {
      es_fprintf (es_stdout, "%s: ", what);
      cmd_put_safe (es_stdout, reason ? reason : gpg_strerror (err));
    }
  es_fputs (json ? "}\n" : "\n", es_stdout);
  free (reason);
  return code;
}

/* Say that the check could not run and return 3.  */
static int
check_unknown (int json, gpg_error_t err, const char *what, char *reason)
{
  return check_stop (json, PANKEY_CHECK_UNKNOWN, err, what, reason);
}

int
pankey_check_usage (int json, const char *what)
{
  char text[512];

  snprintf (text, sizeof text, "%s; %s", what, USAGE);
  return check_unknown (json, gpg_error (GPG_ERR_INV_ARG),
                        "bad command line", strdup (text));
}

/* Parse the number S (MIN to MAX) into *R_N, keeping *R_N if S is
 * NULL; return -1 if S is not such a number.  */
static int
parse_number (const char *s, long min, long max, long *r_n)
{
  char *end;
  long n;

  if (!s)
    return 0;
  errno = 0;
  n = strtol (s, &end, 10);
  if (errno || end == s || *end || n < min || n > max)
    return -1;
  *r_n = n;
  return 0;
}

/* The addresses left without a usable key.  */

/* Return 1 if REG has an active record for ADDR (matched as CONFIG
 * says).  */
static int
has_active (pan_config_t config, pan_registry_t reg, const char *addr)
{
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *r = pan_registry_get (reg, i);

      if (r->status == PAN_STATUS_ACTIVE
          && pan_addr_same (config, r->address, addr))
        return 1;
    }
  return 0;
}

/* Return the newest record of ADDR in REG (last changed; the later one
 * of two changed at once).  */
static const struct pan_recipient *
newest (pan_config_t config, pan_registry_t reg, const char *addr)
{
  const struct pan_recipient *best = NULL;

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *r = pan_registry_get (reg, i);

      if (pan_addr_same (config, r->address, addr)
          && (!best || r->changed_at >= best->changed_at))
        best = r;
    }
  return best;
}

/* An address whose newest record is a revoked key, revoked for another
 * reason than "left" and not replaced, is refused by pansend (77):
 * critical.  An unenrolled address, or one whose holder left, is not
 * a partner any more.  */
static void
check_nokey (pan_config_t config, pan_registry_t reg,
             const struct pan_recipient *rec, struct check_state *st)
{
  struct pan_key_finding f = { .severity = PAN_SEVERITY_CRITICAL,
                               .check = "nokey",
                               .rec = rec };
  char day[32], *text;

  if (rec->status == PAN_STATUS_ACTIVE
      || newest (config, reg, rec->address) != rec
      || has_active (config, reg, rec->address)
      || rec->status != PAN_STATUS_REVOKED
      || (rec->reason && !strcmp (rec->reason, "left")))
    return;
  pan_time_format (rec->changed_at, day, sizeof day);
  day[10] = 0; /* The date.  */
  if (!rec->changed_at)
    strcpy (day, "a day not recorded");
  text = gpgrt_bsprintf ("was revoked (%s) on %s and no key replaced it:"
                         " pansend refuses %s; enroll a new key with"
                         " 'pankey enroll'",
                         rec->reason ? rec->reason : "no reason given", day,
                         rec->address);
  f.text = text ? text : "was revoked and no key replaced it";
  st->total++;
  on_finding (st, &f);
  gpgrt_free (text);
}

/* A CRL that expired (critical) or expires within -w days (warning).  */
static void
on_crl_finding (void *opaque, int expired, const struct pan_crl *crl,
                long days, const char *text)
{
  struct check_state *st = opaque;
  enum category c = expired ? C_CRL_EXPIRED : C_CRL_EXPIRING;
  pan_severity_t sev = expired || days <= st->crit ? PAN_SEVERITY_CRITICAL
                                                   : PAN_SEVERITY_WARNING;

  if (sev > st->worst)
    st->worst = sev;
  count_finding (st, c, crl->issuer);
  if (st->json)
    {
      es_fprintf (st->lines,
                  "{\"v\":1,\"type\":\"finding\",\"severity\":\"%s\","
                  "\"check\":\"%s\",\"crl\":true,\"days\":%ld",
                  pan_severity_name (sev), categories[c].check, days);
      cmd_put_json_member (st->lines, ",", "issuer", crl->issuer);
      cmd_put_json_member (st->lines, ",", "message", text);
      es_fputs ("}\n", st->lines);
      return;
    }
  es_fprintf (st->lines, "%s CRL of ", pan_severity_name (sev));
  cmd_put_safe (st->lines, crl->issuer);
  es_putc (' ', st->lines);
  cmd_put_safe (st->lines, text);
  es_putc ('\n', st->lines);
}

/* Review the CRLs loaded for the trusted CAs.  */
static void
check_crls (pan_ctx_t ctx, struct check_state *st, time_t now)
{
  if (pankey_review_crls (ctx, now, st->warn, on_crl_finding, st, NULL))
    {
      count_finding (st, C_UNKNOWN, "the CRLs");
      st->worst = PAN_SEVERITY_UNKNOWN;
    }
}

/* Review the CAs trusted for S/MIME: missing, expired, expiring.  */
static void
check_cas (pan_ctx_t ctx, struct check_state *st, time_t now)
{
  struct pan_smime_ca *cas = NULL;
  size_t n = 0;
  pan_severity_t sev;

  if (pan_smime_list_cas (ctx, &cas, &n, NULL))
    {
      count_finding (st, C_UNKNOWN, "the trusted CAs");
      st->worst = PAN_SEVERITY_UNKNOWN;
      return;
    }
  for (size_t i = 0; i < n; i++)
    {
      st->total++;
      st->nfound = 0;
      pan_review_ca (&cas[i], now, st->warn, on_finding, st, &sev);
      if (!st->nfound)
        st->ok++;
    }
  if ((st->crls = n > 0))
    check_crls (ctx, st, now);
  pan_smime_cas_release (cas, n);
}

/* What the review of the queue needs.  */
struct queue_scan
{
  struct check_state *st;
  time_t now;
  long lifetime; /* queue-lifetime, seconds.  */
};

/* Print the finding about the queued copy E of category C (SEV).  */
static void
print_queued (estream_t out, int json, pan_severity_t sev, enum category c,
              const struct pan_queue_entry *e, const char *text)
{
  char when[32];

  pan_time_format ((time_t)e->created, when, sizeof when);
  if (json)
    {
      es_fprintf (out,
                  "{\"v\":1,\"type\":\"finding\",\"severity\":\"%s\","
                  "\"check\":\"%s\"",
                  pan_severity_name (sev), categories[c].check);
      cmd_put_json_member (out, ",", "copy", e->copy);
      es_fputs (",\"recipients\":[", out);
      for (size_t i = 0; i < e->nrcpts; i++)
        {
          es_fputs (i ? "," : "", out);
          cmd_put_json_string (out, e->rcpts[i]);
        }
      es_fprintf (out, "],\"queued_at\":\"%s\",\"attempts\":%lld", when,
                  e->attempts);
      cmd_put_json_member (out, ",", "message", text);
      es_fputs ("}\n", out);
      return;
    }
  es_fprintf (out, "%s queued copy %s to", pan_severity_name (sev), e->copy);
  for (size_t i = 0; i < e->nrcpts; i++)
    {
      es_putc (' ', out);
      cmd_put_safe (out, e->rcpts[i]);
    }
  es_fprintf (out, " since %s, %lld attempts: ", when, e->attempts);
  cmd_put_safe (out, text);
  es_putc ('\n', out);
}

/* A queued copy: not delivered yet (warning), or older than
 * queue-lifetime (critical: the next flush drops it undelivered).  */
static gpg_error_t
on_queued (void *opaque, const struct pan_queue_entry *e)
{
  struct queue_scan *q = opaque;
  struct check_state *st = q->st;
  int past = (long long)q->now - e->created > q->lifetime;
  enum category c = past ? C_QUEUE_EXPIRED : C_QUEUED;
  pan_severity_t sev = past ? PAN_SEVERITY_CRITICAL : PAN_SEVERITY_WARNING;

  if (sev > st->worst)
    st->worst = sev;
  count_finding (st, c, e->nrcpts ? e->rcpts[0] : e->copy);
  print_queued (st->lines, st->json, sev, c, e,
                past ? "older than queue-lifetime: the next 'pansend"
                       " --queue-flush' drops it undelivered; bring the MTA"
                       " back and flush, or tell the recipients"
                     : "not delivered yet; 'pansend --queue-flush' retries"
                       " it (see 'pansend --queue-list')");
  return 0;
}

/* Review the copies in the queue.  */
static void
check_queue (pan_ctx_t ctx, struct check_state *st, time_t now)
{
  struct queue_scan q = {
    st, now, pan_config_get_int (pan_ctx_config (ctx), "queue-lifetime")
  };

  if (pan_queue_list (ctx, on_queued, &q, NULL))
    {
      count_finding (st, C_UNKNOWN, "the queue");
      st->worst = PAN_SEVERITY_UNKNOWN;
    }
}

static void
check_records (pan_ctx_t ctx, pan_registry_t reg, struct check_state *st)
{
  pan_severity_t sev;
  time_t now = time (NULL);

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (rec->status != PAN_STATUS_ACTIVE)
        {
          check_nokey (pan_ctx_config (ctx), reg, rec, st);
          continue;
        }
      st->total++;
      st->nfound = 0;
      if (pan_review_enrollment (ctx, rec, now, st->warn, on_finding, st,
                                 &sev))
        {
          count_finding (st, C_UNKNOWN, rec->address);
          st->worst = PAN_SEVERITY_UNKNOWN;
        }
      else if (!st->nfound)
        st->ok++;
    }
  check_cas (ctx, st, now);
  check_queue (ctx, st, now);
}

/* The time-out: only what is safe in a signal handler.  */
static void
on_alarm (int sig)
{
  ssize_t n;

  (void)sig;
  n = write (STDOUT_FILENO, timeout_text, strlen (timeout_text));
  (void)n;
  _exit (PANKEY_CHECK_UNKNOWN);
}

static void
set_timeout (int json, long seconds)
{
  struct sigaction sa;

  snprintf (timeout_text, sizeof timeout_text,
            json ? "{\"v\":1,\"type\":\"summary\",\"status\":\"UNKNOWN\","
                   "\"exit\":3,\"message\":\"timed out after %ld s\"}\n"
                 : "PANKEY UNKNOWN - timed out after %ld s (-t)\n",
            seconds);
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGALRM, &sa, NULL);
  alarm ((unsigned int)seconds);
}

/* Parse the thresholds of A into ST and the time-out into
 * *R_TIMEOUT; on a usage error say so and return 3.  */
static int
parse_args (const struct pankey_check_args *a, struct check_state *st,
            long *r_timeout)
{
  st->warn = -1;
  st->crit = 0;
  *r_timeout = 60;
  if (a->warn && a->days)
    return pankey_check_usage (a->json,
                               "-w and --days are the same"
                               " option: give one");
  if (parse_number (a->warn ? a->warn : a->days, 0, 3650, &st->warn))
    return pankey_check_usage (a->json,
                               "-w: not a number of days"
                               " (0 to 3650)");
  if (parse_number (a->crit, 0, 3650, &st->crit))
    return pankey_check_usage (a->json,
                               "-c: not a number of days"
                               " (0 to 3650)");
  if (parse_number (a->timeout, 1, 3600, r_timeout))
    return pankey_check_usage (a->json,
                               "-t: not a number of seconds"
                               " (1 to 3600)");
  if (st->warn >= 0 && st->crit > st->warn)
    return pankey_check_usage (a->json, "-c must not be more days than -w");
  return 0;
}

int
pankey_check (const struct pankey_check_args *a)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  char *reason = NULL;
  struct check_state st;
  long timeout;
  int rc;

  memset (&st, 0, sizeof st);
  st.json = a->json;
  if ((rc = parse_args (a, &st, &timeout)))
    return rc;
  set_timeout (a->json, timeout);
  if ((err = pan_ctx_open (a->home, &ctx, &reason)))
    return check_unknown (a->json, err, "cannot open the home", reason);
  cmd_openpgp_only_unless_smime (ctx);
  if (st.warn < 0)
    st.warn = pan_policy_warn_days (pan_ctx_config (ctx));
  if (st.crit > st.warn)
    rc = pankey_check_usage (a->json,
                             "-c is more days than"
                             " expire-warn-days: give -w too");
  else if (!(st.lines = es_fopenmem (0, "w+")))
    rc = check_unknown (a->json, gpg_error_from_syserror (), "memory", NULL);
  /* The bytes checked are the bytes reported on.  */
  else if ((err = pan_registry_load_recorded (ctx, &reg, &reason)))
    rc = gpg_err_code (err) == GPG_ERR_BAD_DATA
      ? check_stop (a->json, (int)PAN_SEVERITY_CRITICAL, err, "the registry",
                    reason)
      : check_unknown (a->json, err, "cannot read the registry", reason);
  else
    {
      check_records (ctx, reg, &st);
      print_result (&st);
      rc = (int)st.worst;
    }
  es_fclose (st.lines);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}
