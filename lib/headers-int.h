/* headers-int.h - reading RFC 5322 header blocks (not installed)  */
#ifndef PAN_HEADERS_INT_H
#define PAN_HEADERS_INT_H

#include "panmail.h"

/* Parse a header block held in memory (used by tests and fuzzers).  */
gpg_error_t pani_headers_parse (const void *buf, size_t len,
                                pan_headers_t *r_headers, size_t *r_consumed,
                                char **r_reason);

/* Read the header block of a message from IN, up to and including the
 * empty line (LF or CRLF) that ends it, and leave IN at the first byte
 * of the body.  End of input right after the last field is accepted as
 * a message with an empty body.  Malformed input gives GPG_ERR_INV_DATA,
 * an oversized block GPG_ERR_TOO_LARGE, empty input GPG_ERR_NO_DATA;
 * *R_REASON then says which line is wrong, without quoting it.  */
gpg_error_t pani_headers_read (gpgrt_stream_t in, pan_headers_t *r_headers,
                               char **r_reason);

#endif /* PAN_HEADERS_INT_H */
