/* audit-syslog.c - the syslog mirror of the audit log
 *
 * With audit-syslog on, every appended record is also summarised in
 * one syslog line (sequence number, event, outcome, counts and the
 * start of the line's hash), so that a central collector holds a copy
 * that someone who takes the host over cannot recall.  The line names
 * no recipient and no PAN, only counts of them.
 */
#include <config.h>

#include <string.h>
#include <syslog.h>

#include "panmail.h"
#include "util.h"
#include "audit-int.h"

static int
facility_code (const char *name)
{
  static const struct
  {
    const char *name;
    int code;
  } map[] = {
    {"local0",    LOG_LOCAL0  },
    { "local1",   LOG_LOCAL1  },
    { "local2",   LOG_LOCAL2  },
    { "local3",   LOG_LOCAL3  },
    { "local4",   LOG_LOCAL4  },
    { "local5",   LOG_LOCAL5  },
    { "local6",   LOG_LOCAL6  },
    { "local7",   LOG_LOCAL7  },
    { "user",     LOG_USER    },
    { "mail",     LOG_MAIL    },
    { "daemon",   LOG_DAEMON  },
    { "auth",     LOG_AUTH    },
    { "authpriv", LOG_AUTHPRIV}
  };
  size_t i;

  for (i = 0; i < sizeof map / sizeof *map; i++)
    if (!strcmp (name, map[i].name))
      return map[i].code;
  return -1;
}

gpg_error_t
pani_audit_syslog_config (pan_ctx_t ctx, int *r_facility, char **r_reason)
{
  pan_config_t config = pan_ctx_config (ctx);
  const char *on = pan_config_get (config, "audit-syslog");
  const char *fac = pan_config_get (config, "audit-syslog-facility");

  *r_facility = -1;
  if (!on || !strcmp (on, "off") || !strcmp (on, "no"))
    return 0;
  if (strcmp (on, "on") && strcmp (on, "yes"))
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                        "audit-syslog must be on or off");
  if ((*r_facility = facility_code (fac ? fac : "local0")) < 0)
    return pani_reason (r_reason, gpg_error (GPG_ERR_CONFIGURATION),
                        "audit-syslog-facility must be local0..local7,"
                        " user, mail, daemon, auth or authpriv");
  return 0;
}

/* Copy S to OUT (SIZE bytes) as printable ASCII.  */
static const char *
syslog_safe (const char *s, char *out, size_t size)
{
  size_t i;

  if (!s)
    return "-";
  for (i = 0; s[i] && i + 1 < size; i++)
    out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
  out[i] = 0;
  return out;
}

void
pani_audit_syslog_mirror (int facility, const struct pan_audit_record *rec,
                          const char *hash)
{
  char id[128], outcome[40];

  if (facility < 0)
    return;
  openlog ("panmail-audit", LOG_PID, facility);
  syslog (LOG_INFO | facility,
          "seq=%llu event=%s tool=%s outcome=%s"
          " exit=%d recipients=%zu pans=%zu message_id=%s sha256=%.16s",
          rec->seq, rec->ev.event, rec->ev.tool,
          syslog_safe (rec->ev.outcome, outcome, sizeof outcome),
          rec->ev.outcome ? rec->ev.exit_code : -1, rec->ev.nkeys,
          rec->ev.npans, syslog_safe (rec->ev.message_id, id, sizeof id),
          hash);
  closelog ();
}
