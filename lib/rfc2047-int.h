/* rfc2047-int.h - the decoder of RFC 2047 encoded words (rfc2047.c)  */
#ifndef PAN_RFC2047_INT_H
#define PAN_RFC2047_INT_H

#include <stddef.h>
#include <gpg-error.h>

#include "util.h"

/* Flags for pani_rfc2047_begin.  Without PANI_RFC2047_STRICT the
 * decoder is lenient: it decodes as much as it can and puts U+FFFD for
 * what it cannot convert (the header guard and the MIME walker, which
 * must not let an odd encoding hide a card number).  With it, an
 * encoded word that is malformed, in a charset outside the set, or
 * whose bytes are not valid in its charset or hold a control character
 * stays as written (display names, which are shown and may be written
 * into a header again).  */
#define PANI_RFC2047_STRICT 1

/* The state of a decoder: the text decoded so far goes to OUT, the
 * bytes of a run of adjacent encoded words in one charset wait in
 * BYTES, so that a character split across two words is decoded whole.
 * The fields are private to rfc2047.c.  */
struct pani_rfc2047
{
  struct pani_buf *out;
  struct pani_buf bytes; /* Decoded bytes of the pending run.  */
  struct pani_buf raw;   /* The run as written (strict).  */
  int cs;                /* Charset of the run; 0: no run.  */
  int strict;
  int prev_ew; /* The last word was an encoded word.  */
};

/* Start decoding into OUT (appending to what it holds) with FLAGS.
 * Out of memory is sticky in OUT, as for every pani_buf.  */
void pani_rfc2047_begin (struct pani_rfc2047 *d, struct pani_buf *out,
                         unsigned int flags);

/* Add the word S/LEN of a phrase (RFC 5322 atom), preceded by white
 * space if SEP: if it is one encoded word, it is decoded and white
 * space between it and a previous encoded word goes; else it is copied
 * (SEP as one space).  */
void pani_rfc2047_word (struct pani_rfc2047 *d, const char *s, size_t len,
                        int sep);

/* Add the text S/LEN of a phrase that is never decoded (a quoted
 * string, a special), preceded by one space if SEP.  */
void pani_rfc2047_plain (struct pani_rfc2047 *d, const char *s, size_t len,
                         int sep);

/* Decode what is pending into OUT and release the state of D.  */
void pani_rfc2047_end (struct pani_rfc2047 *d);

/* Append the unstructured text S/LEN (an unfolded header value) to OUT
 * with its encoded words decoded leniently: an encoded word may stand
 * anywhere, white space between two encoded words goes, everything else
 * is copied (a NUL becomes U+FFFD).  Returns pani_buf_error (OUT).  */
gpg_error_t pani_rfc2047_decode_text (const char *s, size_t len,
                                      struct pani_buf *out);

/* Decode the RFC 2047 encoded words in the unfolded header VALUE into
 * malloc'ed UTF-8 *R_UTF8 for scanning: malformed words stay as
 * written, unknown charsets keep their ASCII bytes.  */
gpg_error_t pani_header_decode_2047 (const char *value, char **r_utf8);

#endif /* PAN_RFC2047_INT_H */
