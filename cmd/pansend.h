/* pansend.h - pansend's send path, which panmailx shares  */
#ifndef PAN_PANSEND_H
#define PAN_PANSEND_H

#include <gpg-error.h>
#include "panmail.h"

/* What to send and how.  */
struct options
{
  struct pan_sendmail_args args; /* The sendmail(1) command line.  */
  gpgrt_stream_t in;             /* The message; NULL: stdin.  */
  int openpgp_only;              /* GPGME was set up without gpgsm.  */
};

/* Send the message of O (read from O->IN or stdin) as pansend does and
 * return pansend's exit code (see pansend(1)).  */
int pansend_send (struct options *o);

#endif /* PAN_PANSEND_H */
