/* pankey-check.c - "pankey check": the review of every active key and
 * trusted CA as a monitoring plugin (status lines, a summary with
 * perfdata, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).  The findings
 * come from the library (pan_review_enrollment, pan_review_ca).  */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "pankey-check.h"

/* What pankey check counts.  */
struct check_state
{
  int json;
  long days;
  int nfound;                   /* Findings of the current record.  */
  int expired, revoked, missing, unusable, expiring, rotation, weak;
  int unknown, ok, total;
};

static void
count_finding (struct check_state *st, const struct pan_key_finding *f)
{
  const char *c = f->check;

  if (!strcmp (c, "expired")) st->expired++;
  else if (!strcmp (c, "revoked")) st->revoked++;
  else if (!strcmp (c, "missing")) st->missing++;
  else if (!strcmp (c, "unusable")) st->unusable++;
  else if (!strcmp (c, "expiring")) st->expiring++;
  else if (!strcmp (c, "rotation-due")) st->rotation++;
  else if (!strcmp (c, "policy")) st->weak++;
  else st->unknown++;
}

static void
finding_json (const struct pan_key_finding *f)
{
  char when[32];

  es_fprintf (es_stdout, "{\"type\":\"finding\",\"severity\":\"%s\","
              "\"check\":\"%s\",\"address\":",
              pan_severity_name (f->severity), f->check);
  cmd_put_json_string (es_stdout, f->rec->address);
  es_fprintf (es_stdout, ",\"protocol\":\"%s\",\"fingerprint\":\"%s\"",
              pan_protocol_name (f->rec->protocol), f->rec->fingerprint);
  if (f->when)
    es_fprintf (es_stdout, ",\"when\":\"%s\",\"days\":%ld",
                pan_time_format (f->when, when, sizeof when), f->days);
  es_fputs (",\"message\":", es_stdout);
  cmd_put_json_string (es_stdout, f->text);
  es_fputs ("}\n", es_stdout);
}

/* Print the finding F about a trusted CA.  */
static void
print_ca_finding (int json, const struct pan_key_finding *f)
{
  if (!json)
    {
      es_fprintf (es_stdout, "%s trusted S/MIME CA %s %s\n",
                  pan_severity_name (f->severity), f->ca->fpr, f->text);
      return;
    }
  es_fprintf (es_stdout, "{\"type\":\"finding\",\"severity\":\"%s\","
              "\"check\":\"%s\",\"ca\":true,\"protocol\":\"smime\","
              "\"fingerprint\":\"%s\",\"message\":",
              pan_severity_name (f->severity), f->check, f->ca->fpr);
  cmd_put_json_string (es_stdout, f->text);
  es_fputs ("}\n", es_stdout);
}

static gpg_error_t
on_finding (void *opaque, const struct pan_key_finding *f)
{
  struct check_state *st = opaque;

  st->nfound++;
  count_finding (st, f);
  if (f->ca)
    print_ca_finding (st->json, f);
  else if (st->json)
    finding_json (f);
  else
    {
      es_fprintf (es_stdout, "%s %s key %s ", pan_severity_name (f->severity),
                  f->rec->address, f->rec->fingerprint);
      cmd_put_safe (es_stdout, f->text);
      es_putc ('\n', es_stdout);
    }
  return 0;
}

/* Append ", N WHAT" to BUF for a non-zero N.  */
static void
add_part (char *buf, size_t size, int n, const char *what, long days)
{
  size_t len = strlen (buf);

  if (!n || len >= size)
    return;
  snprintf (buf + len, size - len, "%s%d %s", len ? ", " : "", n, what);
  if (days >= 0 && strlen (buf) < size)
    snprintf (buf + strlen (buf), size - strlen (buf), " %ld days", days);
}

static void
check_summary (struct check_state *st, pan_severity_t worst)
{
  char text[512] = "";

  add_part (text, sizeof text, st->expired, "expired", -1);
  add_part (text, sizeof text, st->revoked, "revoked", -1);
  add_part (text, sizeof text, st->missing, "missing", -1);
  add_part (text, sizeof text, st->unusable, "unusable", -1);
  add_part (text, sizeof text, st->weak, "below the algorithm policy", -1);
  add_part (text, sizeof text, st->expiring, "expiring within", st->days);
  add_part (text, sizeof text, st->rotation, "due for rotation", -1);
  add_part (text, sizeof text, st->unknown, "not checked", -1);
  if (!*text)
    snprintf (text, sizeof text, "%d key%s OK", st->total,
              st->total == 1 ? "" : "s");
  if (st->json)
    es_fprintf (es_stdout, "{\"type\":\"summary\",\"status\":\"%s\","
                "\"exit\":%d,", pan_severity_name (worst), (int)worst);
  else
    es_fprintf (es_stdout, "PANKEY %s - %s | ", pan_severity_name (worst),
                text);
  es_fprintf (es_stdout, st->json
              ? "\"expired\":%d,\"revoked\":%d,\"missing\":%d,"
              "\"unusable\":%d,\"expiring\":%d,\"rotation_due\":%d,"
              "\"weak\":%d,\"unknown\":%d,\"ok\":%d}\n"
              : "expired=%d revoked=%d missing=%d unusable=%d expiring=%d"
              " rotation_due=%d weak=%d unknown=%d ok=%d\n",
              st->expired, st->revoked, st->missing, st->unusable,
              st->expiring, st->rotation, st->weak, st->unknown, st->ok);
}

/* Say that the check stopped with CODE (critical or unknown) and
 * return CODE.  */
static int
check_stop (int json, int code, gpg_error_t err, const char *what,
            char *reason)
{
  const char *word = code == PANKEY_CHECK_UNKNOWN ? "UNKNOWN" : "CRITICAL";

  if (json)
    es_fprintf (es_stdout, "{\"type\":\"summary\",\"status\":\"%s\","
                "\"exit\":%d,\"message\":", word, code);
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
pankey_parse_days (const char *s, long *r_days)
{
  char *end;

  *r_days = -1;
  if (!s)
    return 0;
  errno = 0;
  *r_days = strtol (s, &end, 10);
  if (errno || end == s || *end || *r_days < 0 || *r_days > 3650)
    return -1;
  return 0;
}

/* Review the CAs trusted for S/MIME: missing, expired, expiring.  */
static pan_severity_t
check_cas (pan_ctx_t ctx, struct check_state *st, time_t now)
{
  struct pan_smime_ca *cas = NULL;
  size_t n = 0;
  pan_severity_t worst = PAN_SEVERITY_OK, sev;

  if (pan_smime_list_cas (ctx, &cas, &n, NULL))
    return PAN_SEVERITY_UNKNOWN;
  for (size_t i = 0; i < n; i++)
    {
      st->total++;
      st->nfound = 0;
      pan_review_ca (&cas[i], now, st->days, on_finding, st, &sev);
      if (!st->nfound)
        st->ok++;
      worst = sev > worst ? sev : worst;
    }
  pan_smime_cas_release (cas, n);
  return worst;
}

static int
check_records (pan_ctx_t ctx, pan_registry_t reg, struct check_state *st)
{
  gpg_error_t err;
  pan_severity_t worst = PAN_SEVERITY_OK, sev;
  time_t now = time (NULL);

  for (size_t i = 0; i < pan_registry_count (reg); i++)
    {
      const struct pan_recipient *rec = pan_registry_get (reg, i);

      if (rec->status != PAN_STATUS_ACTIVE)
        continue;
      st->total++;
      st->nfound = 0;
      err = pan_review_enrollment (ctx, rec, now, st->days, on_finding, st,
                                   &sev);
      if (err)
        {
          sev = PAN_SEVERITY_UNKNOWN;
          st->unknown++;
        }
      if (!st->nfound && !err)
        st->ok++;
      if (sev > worst)
        worst = sev;
    }
  sev = check_cas (ctx, st, now);
  if (sev > worst)
    worst = sev;
  check_summary (st, worst);
  return (int)worst;
}

int
pankey_check (const char *home, int json, long days)
{
  gpg_error_t err;
  pan_ctx_t ctx = NULL;
  pan_registry_t reg = NULL;
  char *reason = NULL;
  struct check_state st;
  int rc;

  memset (&st, 0, sizeof st);
  st.json = json;
  st.days = days;
  if ((err = pan_ctx_open (home, &ctx, &reason)))
    return check_unknown (json, err, "cannot open the home", reason);
  if (st.days < 0)
    st.days = pan_policy_warn_days (pan_ctx_config (ctx));
  if ((err = pan_registry_check_recorded (ctx, &reason)))
    rc = check_stop (json, gpg_err_code (err) == GPG_ERR_BAD_DATA
                     ? (int)PAN_SEVERITY_CRITICAL : PANKEY_CHECK_UNKNOWN,
                     err, "the registry", reason);
  else if ((err = pan_ctx_registry_load (ctx, &reg, &reason)))
    rc = check_unknown (json, err, "cannot read the registry", reason);
  else
    rc = check_records (ctx, reg, &st);
  pan_registry_release (reg);
  pan_ctx_release (ctx);
  return rc;
}
