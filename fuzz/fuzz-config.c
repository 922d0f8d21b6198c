/* fuzz-config.c - libFuzzer target for the panmail.conf parser
 *
 * A refusal carries a "FILE:LINE:" reason; an accepted file gives a
 * value for every setting, integers within their ranges.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "config-int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_config (pan_config_t config)
{
  const char *sendmail = pan_config_get (config, "sendmail");
  long timeout = pan_config_get_int (config, "lock-timeout");
  long keysize = pan_config_get_int (config, "max-key-size");

  if (!sendmail || !*sendmail || strchr (sendmail, '\n'))
    abort ();
  if (timeout < 1 || timeout > 3600)
    abort ();
  if (keysize < 1024 || keysize > 67108864)
    abort ();
  if (pan_config_get (config, "no-such-setting"))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  pan_config_t config = NULL;
  char *reason = NULL;
  gpg_error_t err;

  err = pani_config_parse ("fuzz", data, size, &config, &reason);
  if (err
      && (config || !reason || strncmp (reason, "fuzz:", 5)
          || gpg_err_code (err) != GPG_ERR_CONFIGURATION))
    abort ();
  if (!err)
    {
      if (reason)
        abort ();
      check_config (config);
    }
  pani_config_release (config);
  pan_free (reason);
  return 0;
}
