/* mime-decode.c - streaming transfer decoders for the MIME walker
 *
 * Quoted-printable and base64, fed in chunks of any size (base64 a line
 * at a time), for the PAN scanner: they never refuse input, because
 * what cannot be decoded must still reach the scanner.  A '=' of
 * quoted-printable that starts no escape passes as written; a base64
 * line the decoder refuses starts a new decoder.  */
#include <config.h>

#include <string.h>

#include "util.h"
#include "mime-decode-int.h"

/* Write what QP holds in state ST (the escape begun by '=') to OUT and
 * return its length.  */
static size_t
qp_pending (const struct pani_qp *qp, enum pani_qp_state st,
            unsigned char *out)
{
  size_t n = 0;

  if (st == PANI_QP_TEXT)
    return 0;
  out[n++] = '=';
  if (st == PANI_QP_HEX)
    out[n++] = (unsigned char)qp->hex;
  else if (st == PANI_QP_CR)
    out[n++] = '\r';
  else if (st == PANI_QP_WS)
    {
      memcpy (out + n, qp->ws, qp->nws);
      n += qp->nws;
    }
  return n;
}

/* Feed C to QP, which is inside an escape: decoded bytes go to *PO.
 * Return true if C does not continue the escape: what the escape held
 * was written as it stood and C is to be read as text.  */
static int
qp_escape (struct pani_qp *qp, int c, unsigned char **po)
{
  enum pani_qp_state st = qp->state;

  qp->state = PANI_QP_TEXT;
  if ((st == PANI_QP_EQ || st == PANI_QP_WS) && (c == '\r' || c == '\n'))
    qp->state = c == '\r' ? PANI_QP_CR : PANI_QP_TEXT; /* Soft break.  */
  else if (st == PANI_QP_CR && c == '\n')
    ;
  else if (st == PANI_QP_EQ && pani_hexval (c) >= 0)
    {
      qp->hex = c;
      qp->state = PANI_QP_HEX;
    }
  else if (st == PANI_QP_HEX && pani_hexval (c) >= 0)
    *(*po)++ = (unsigned char)(pani_hexval (qp->hex) * 16 + pani_hexval (c));
  else if (pani_is_wsp (c)
           && (st == PANI_QP_EQ
               || (st == PANI_QP_WS && qp->nws < PANI_QP_MAX_WS)))
    {
      qp->nws = st == PANI_QP_EQ ? 0 : qp->nws;
      qp->ws[qp->nws++] = (char)c;
      qp->state = PANI_QP_WS;
    }
  else
    {
      *po += qp_pending (qp, st, *po);
      return 1;
    }
  return 0;
}

size_t
pani_qp_decode (struct pani_qp *qp, const unsigned char *in, size_t n,
                unsigned char *out)
{
  unsigned char *o = out;
  size_t i;

  for (i = 0; i < n; i++)
    {
      if (qp->state != PANI_QP_TEXT && !qp_escape (qp, in[i], &o))
        continue;
      if (in[i] == '=')
        qp->state = PANI_QP_EQ;
      else
        *o++ = in[i];
    }
  return o - out;
}

size_t
pani_qp_flush (struct pani_qp *qp, unsigned char *out)
{
  size_t n = qp_pending (qp, qp->state, out);

  qp->state = PANI_QP_TEXT;
  return n;
}


gpg_error_t
pani_b64_start (struct pani_b64 *b)
{
  pani_b64_end (b);
  if (!(b->state = gpgrt_b64dec_start (NULL)))
    return gpg_error_from_syserror ();
  return 0;
}

/* gpgrt's decoder stops for good after padding, so a new one starts at
 * the line after a '='.  */
gpg_error_t
pani_b64_decode (struct pani_b64 *b, const char *p, size_t n,
                 unsigned char *out, size_t *r_len)
{
  gpg_error_t err = 0;

  *r_len = 0;
  if (!b->state || !n)
    return 0;
  memcpy (out, p, n);
  if (memchr (p, '=', n))
    b->pad = 1;
  if (gpgrt_b64dec_proc (b->state, out, n, r_len))
    {
      *r_len = 0;
      if ((err = pani_b64_start (b)))
        return err;
      memcpy (out, p, n);
      if (gpgrt_b64dec_proc (b->state, out, n, r_len))
        *r_len = 0;
    }
  if (b->pad && p[n - 1] == '\n')
    err = pani_b64_start (b);
  return err;
}

void
pani_b64_end (struct pani_b64 *b)
{
  if (b->state)
    gpgrt_b64dec_finish (b->state);
  b->state = NULL;
  b->pad = 0;
}
