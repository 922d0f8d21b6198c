/* lifecycle-exit.c - the exit codes of the lifecycle transactions
 *
 * pankey exits with them and every record of a transaction carries
 * the code of its outcome (sysexits.h).  */
#include <config.h>

#include <sysexits.h>

#include "panmail.h"

static int
exit_for_import (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_KEY_EXPIRED:
    case GPG_ERR_CERT_REVOKED:
    case GPG_ERR_KEY_DISABLED:
    case GPG_ERR_UNUSABLE_PUBKEY:
    case GPG_ERR_BAD_PUBKEY:
    case GPG_ERR_WRONG_NAME:
    case GPG_ERR_NO_CRL_KNOWN:
    case GPG_ERR_CRL_TOO_OLD:
    case GPG_ERR_FORBIDDEN: return EX_NOPERM;
    case GPG_ERR_NO_PUBKEY:
    case GPG_ERR_NO_DATA:
    case GPG_ERR_INV_DATA: return EX_DATAERR;
    default: return EX_SOFTWARE;
    }
}

static int
exit_for_registry (gpg_error_t err)
{
  switch (gpg_err_code (err))
    {
    case GPG_ERR_EEXIST:
    case GPG_ERR_CONFLICT: return EX_CANTCREAT;
    case GPG_ERR_NOT_FOUND: return EX_NOUSER;
    case GPG_ERR_CERT_REVOKED: return EX_NOPERM;
    case GPG_ERR_INV_DATA:
    case GPG_ERR_INV_VALUE: return EX_DATAERR;
    default: return EX_IOERR;
    }
}

int
pan_lifecycle_exit_code (pan_lifecycle_stage_t stage, gpg_error_t err,
                         int keyring)
{
  switch (stage)
    {
    case PAN_LIFECYCLE_DONE: return 0;
    case PAN_LIFECYCLE_REGISTRY: return EX_CONFIG;
    case PAN_LIFECYCLE_REQUEST: return EX_USAGE;
    case PAN_LIFECYCLE_STATE: return exit_for_registry (err);
    case PAN_LIFECYCLE_KEY: return exit_for_import (err);
    case PAN_LIFECYCLE_AUDIT: return EX_IOERR;
    case PAN_LIFECYCLE_APPLY:
      return keyring ? exit_for_import (err) : exit_for_registry (err);
    default: return EX_SOFTWARE;
    }
}
