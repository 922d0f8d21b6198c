/* fuzz-audit-verdict.h - the consistency of a verdict, for the audit
 * fuzz targets (fuzz-audit.c, fuzz-audit-segments.c)
 *
 * An error comes with a reason and no verdict; intact means no message
 * and no bad record; damage names a record and says why in one line.  */
#ifndef FUZZ_AUDIT_VERDICT_H
#define FUZZ_AUDIT_VERDICT_H

#include <stdlib.h>
#include <string.h>

#include "panmail.h"

static void
check_verdict (gpg_error_t err, const struct pan_audit_verdict *v,
               const char *reason)
{
  if (err)
    {
      if (!reason || v->message || v->warnings)
        abort ();
      return;
    }
  if (v->damage == PAN_AUDIT_INTACT && (v->message || v->record))
    abort ();
  if (v->damage != PAN_AUDIT_INTACT
      && (!v->message || !v->record || v->damage > PAN_AUDIT_TORN))
    abort ();
  if (strlen (v->head) != 64)
    abort ();
  if (v->message && strchr (v->message, '\n'))
    abort ();
}

#endif /* FUZZ_AUDIT_VERDICT_H */
