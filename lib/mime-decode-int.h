/* mime-decode-int.h - streaming transfer decoders (mime-decode.c)  */
#ifndef PAN_MIME_DECODE_INT_H
#define PAN_MIME_DECODE_INT_H

#include <stddef.h>
#include <gpg-error.h>

/* The longest run of white space kept after a quoted-printable '=' to
 * see whether a line break follows.  */
#define PANI_QP_MAX_WS 16

enum pani_qp_state
{
  PANI_QP_TEXT = 0, /* The start state.  */
  PANI_QP_EQ,       /* After '='.  */
  PANI_QP_HEX,      /* After '=' and one hex digit.  */
  PANI_QP_CR,       /* After '=' (and white space) and CR.  */
  PANI_QP_WS        /* After '=' and white space.  */
};

/* A quoted-printable decoder that may be fed chunks of any size; zeroed
 * it is in its start state.  */
struct pani_qp
{
  enum pani_qp_state state;
  int hex; /* The hex digit after '='.  */
  size_t nws;
  char ws[PANI_QP_MAX_WS]; /* The white space after '='.  */
};

/* Decode the quoted-printable bytes IN/N into OUT (room for N + 2 *
 * PANI_QP_MAX_WS bytes) and return the decoded length.  What is not
 * quoted-printable passes as written.  */
size_t pani_qp_decode (struct pani_qp *qp, const unsigned char *in, size_t n,
                       unsigned char *out);

/* End the input: write what QP still holds to OUT (room for 2 +
 * PANI_QP_MAX_WS bytes), reset QP and return the length.  */
size_t pani_qp_flush (struct pani_qp *qp, unsigned char *out);

/* A base64 decoder fed line by line; zeroed it has not started.  */
struct pani_b64
{
  gpgrt_b64state_t state;
  int pad; /* The line holds a '='.  */
};

/* Start B (again).  */
gpg_error_t pani_b64_start (struct pani_b64 *b);

/* Decode the base64 P/N (at most one line end, at its end) into OUT
 * (room for N bytes) and store the decoded length at *R_LEN.  After the
 * line that holds the padding, and when the decoder refuses a line, a
 * new decoder starts, so that one bad line or a second body part does
 * not end the decoding.  */
gpg_error_t pani_b64_decode (struct pani_b64 *b, const char *p, size_t n,
                             unsigned char *out, size_t *r_len);

/* Release the decoder of B; B may then be started again.  */
void pani_b64_end (struct pani_b64 *b);

#endif /* PAN_MIME_DECODE_INT_H */
