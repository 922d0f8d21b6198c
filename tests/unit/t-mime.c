/* t-mime.c - tests for the MIME walker and RFC 2047 decoding
 *
 * The messages in tests/pan-corpus/NAME.eml name the hits they must give
 * in an "X-Expect: MASKED@PART[:HEADER] ..." field; each is scanned fed
 * whole and in every chunk size from 1 to 17, and precision and recall
 * are printed (both must be 100%).  Further cases are built here:
 * malformed structure, limits, PANs split by base64 lines and QP soft
 * breaks.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "t-support.h"
#include "rfc2047-int.h"

#define MAX_CHUNK 17
#define MAX_HITS 64

/* Hits as "MASKED@PART[:HEADER]" words, joined by spaces.  */
struct collect
{
  char text[4096];
  int undecoded;
};

static unsigned long tp, fp, fn;


/*
 * Helpers.
 */

static gpg_error_t
collect_cb (void *opaque, const struct pan_mime_part *part,
            const struct pan_hit *hit)
{
  struct collect *c = opaque;
  size_t len = strlen (c->text);

  snprintf (c->text + len, sizeof c->text - len, "%s%s@%u%s%s",
            len ? " " : "", hit->masked, part->index,
            part->header ? ":" : "", part->header ? part->header : "");
  c->undecoded += part->undecoded;
  return 0;
}

/* Scan MSG/LEN (a whole message, or a body of CTYPE/CTE) in chunks of
 * CHUNK bytes (0: whole) and store the hits in C.  */
static gpg_error_t
scan (const char *msg, size_t len, const char *ctype, const char *cte,
      size_t chunk, struct collect *c)
{
  pan_scanner_t s = NULL;
  pan_mime_t m = NULL;
  gpg_error_t err;
  size_t off, n;

  memset (c, 0, sizeof *c);
  err = pan_scanner_new (NULL, 0, &s);
  if (!err)
    err = pan_mime_scan_new (s, ctype, cte, collect_cb, c, &m);
  for (off = 0; off < len && !err; off += n)
    {
      n = chunk && len - off > chunk ? chunk : len - off;
      err = pan_mime_scan_feed (m, msg + off, n);
    }
  if (!err)
    err = pan_mime_scan_finish (m);
  pan_mime_scan_release (m);
  pan_scanner_release (s);
  return err;
}

/* Check that MSG gives the hits WANT fed whole and in every chunk
 * size.  */
static void
check_msg (const char *msg, size_t len, const char *ctype, const char *cte,
           const char *want, int line)
{
  struct collect c;
  size_t chunk;

  for (chunk = 0; chunk <= MAX_CHUNK; chunk++)
    {
      T_ERR (scan (msg, len, ctype, cte, chunk, &c), 0);
      if (strcmp (c.text, want))
        {
          fprintf (stderr,
                   "t-mime.c:%d: chunk %zu:\n    got  \"%s\"\n"
                   "    want \"%s\"\n",
                   line, chunk, c.text, want);
          T_CHECK (!"hits as expected");
          return;
        }
    }
  t_checks++;
}

#define CHECK_MSG(msg, want) \
  check_msg ((msg), strlen (msg), NULL, NULL, (want), __LINE__)


/*
 * The corpus.
 */

/* Count the words of GOT found in WANT and the other way round.  */
static void
score (const char *got, const char *want, const char *name, size_t chunk)
{
  char g[4096], w[4096], *tok, *save, *hit;

  snprintf (g, sizeof g, "%s", got);
  snprintf (w, sizeof w, " %s ", want);
  for (tok = strtok_r (g, " ", &save); tok;
       tok = strtok_r (NULL, " ", &save))
    {
      char word[256];

      snprintf (word, sizeof word, " %s ", tok);
      hit = strstr (w, word);
      if (hit)
        {
          memset (hit + 1, '#', strlen (tok));
          tp++;
        }
      else
        {
          fp++;
          fprintf (stderr, "%s, chunk %zu: false positive %s\n", name, chunk,
                   tok);
        }
    }
  for (tok = strtok_r (w, " ", &save); tok;
       tok = strtok_r (NULL, " ", &save))
    if (*tok != '#')
      {
        fn++;
        fprintf (stderr, "%s, chunk %zu: missed %s\n", name, chunk, tok);
      }
}

/* Return the malloc'ed value of the X-Expect field of MSG.  */
static char *
expected (const char *msg)
{
  const char *p = strstr (msg, "X-Expect:"), *e;

  if (!p)
    return NULL;
  p += 9;
  while (*p == ' ')
    p++;
  e = p + strcspn (p, "\r\n");
  return strndup (p, e - p);
}

static char *
read_all (const char *path, size_t *r_len)
{
  FILE *fp_in = fopen (path, "rb");
  char *buf = NULL;
  long size;

  if (!fp_in)
    return NULL;
  if (!fseek (fp_in, 0, SEEK_END) && (size = ftell (fp_in)) >= 0
      && !fseek (fp_in, 0, SEEK_SET) && (buf = malloc (size + 1)))
    {
      *r_len = fread (buf, 1, size, fp_in);
      buf[*r_len] = 0;
    }
  fclose (fp_in);
  return buf;
}

static void
run_eml (const char *dir, const char *name)
{
  char path[1024], *msg, *want;
  struct collect c;
  size_t len = 0, chunk;

  if ((size_t)snprintf (path, sizeof path, "%s/%s", dir, name)
      >= sizeof path)
    {
      T_CHECK (!"path fits");
      return;
    }
  msg = read_all (path, &len);
  T_CHECK (msg != NULL);
  want = msg ? expected (msg) : NULL;
  T_CHECK (want != NULL);
  for (chunk = 0; want && chunk <= MAX_CHUNK; chunk++)
    {
      T_ERR (scan (msg, len, NULL, NULL, chunk, &c), 0);
      score (c.text, want, name, chunk);
    }
  free (want);
  free (msg);
}

static size_t
run_corpus (void)
{
  const char *top = getenv ("top_srcdir");
  char dir[1024];
  struct dirent *de;
  size_t n = 0, len;
  DIR *d;

  snprintf (dir, sizeof dir, "%s/tests/pan-corpus", top ? top : ".");
  d = opendir (dir);
  T_CHECK (d != NULL);
  while (d && (de = readdir (d)))
    {
      len = strlen (de->d_name);
      if (len > 4 && !strcmp (de->d_name + len - 4, ".eml"))
        {
          run_eml (dir, de->d_name);
          n++;
        }
    }
  if (d)
    closedir (d);
  return n;
}


/*
 * RFC 2047.
 */

static void
check_2047 (const char *in, const char *want)
{
  char *out = NULL;

  T_ERR (pani_header_decode_2047 (in, &out), 0);
  T_STREQ (out, want);
  pan_free (out);
}

static void
test_2047 (void)
{
  char *out = (char *)"x";

  check_2047 ("plain 4111", "plain 4111");
  check_2047 ("", "");
  check_2047 ("=?utf-8?q?4111_1111?= =?utf-8?q?_1111_1111?=",
              "4111 1111 1111 1111");
  check_2047 ("=?UTF-8?B?NDExMSAxMTEx?=\r\n =?utf-8?b?IDExMTEgMTExMQ==?=",
              "4111 1111 1111 1111");
  check_2047 ("a =?iso-8859-1?q?f=FCr?= b", "a f\xc3\xbcr b");
  check_2047 ("=?utf-16be?b?ADQAMQAxADE=?=", "4111");
  check_2047 ("=?utf-16le?b?NAAxADEAMQA=?=", "4111");
  check_2047 ("=?utf-16?b?//40ADEA?=", "41");
  check_2047 ("=?utf-16?b?2D3eAAA0?=",
              "\xf0\x9f\x98\x80"
              "4");
  check_2047 ("=?koi8-r?q?=C1_42?=", "\xef\xbf\xbd 42");
  check_2047 ("=?utf-8?q?41=3?=", "41=3");
  check_2047 ("=?utf-8?x?4111?=", "=?utf-8?x?4111?=");
  check_2047 ("=?utf-8?q?41 11?=", "=?utf-8?q?41 11?=");
  check_2047 ("=?utf-8?q?4111", "=?utf-8?q?4111");
  check_2047 ("=?utf-8?q?ab?= c", "ab c");
  check_2047 ("x=?utf-8?q?4111?=y", "x4111y");
  check_2047 ("=?utf-8?q?=00?=", "\xef\xbf\xbd");
  check_2047 ("=??q?a?=", "=??q?a?=");
  /* One decoder with display names (rfc2047.c): bytes not valid in the
   * charset become U+FFFD, a character split across two words comes
   * out whole, Windows-1252 has its own table, empty words are not
   * words.  Digits come out as they did.  */
  check_2047 ("=?utf-8?q?4111=FF1111?=",
              "4111\xef\xbf\xbd"
              "1111");
  check_2047 ("=?us-ascii?q?41=E911?=",
              "41\xef\xbf\xbd"
              "11");
  check_2047 ("=?utf-8?q?=E2=82?= =?utf-8?q?=AC_4111?=",
              "\xe2\x82\xac 4111");
  check_2047 ("=?windows-1252?q?=8041?=",
              "\xe2\x82\xac"
              "41");
  check_2047 ("=?utf-8?q?\?= 41", "=?utf-8?q?\?= 41");
  T_ERR (pani_header_decode_2047 (NULL, &out), GPG_ERR_INV_VALUE);
  T_CHECK (out == NULL);
  T_ERR (pani_header_decode_2047 ("x", NULL), GPG_ERR_INV_VALUE);
}


/*
 * Built cases.
 */

static void
test_structure (void)
{
  /* A PAN split across a base64 line break and across a QP soft break;
   * "=\r\n" soft breaks and transport padding after '='.  */
  CHECK_MSG ("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n"
             "\nNDExMSAx\nMTExIDEx\nMTEgMTEx\nMQo=\n",
             "411111******1111@0");
  CHECK_MSG ("Content-Transfer-Encoding: quoted-printable\n\n"
             "4111 1111 1=\r\n111 1111\r\n5555=  \n5555=\t\n5555=\r\n"
             "44=34=34\n",
             "411111******1111@0 555555******4444@0");
  /* Two base64 blobs in one part (gpgrt stops at padding).  */
  CHECK_MSG ("Content-Transfer-Encoding: base64\n\nIA==\nNDExMTExMTExMTEx"
             "MTExMQ==\n",
             "411111******1111@0");
  /* Nested multiparts; hits carry the part index.  */
  CHECK_MSG ("Content-Type: multipart/mixed; boundary=a\n\n"
             "pre "
             "4111111111111111\n--a\n\n5555555555554444\n--a\nContent-Type: "
             "multipart/"
             "alternative;\n boundary=\"b\"\n\n--b\n\n378282246310005\n--b--"
             "\n--a--\npost 6011111111111117\n",
             "411111******1111@0 555555******4444@1 378282*****0005@3 "
             "601111******1117@0");
  /* A PAN cannot span parts.  */
  CHECK_MSG ("Content-Type: multipart/mixed; boundary=a\n\n--a\n\n4111 1111"
             "\n--a\n\n1111 1111\n--a--\n",
             "");
  /* A delimiter of an outer boundary ends inner parts.  */
  CHECK_MSG ("Content-Type: multipart/mixed; "
             "boundary=a\n\n--a\nContent-Type:"
             " multipart/mixed; boundary=b\n\n--b\n\nx\n--a\n\n"
             "4111111111111111\n--a--\n",
             "411111******1111@3");
  /* Boundary lines: trailing white space; "--a" followed by text is not
   * a delimiter; a longer boundary with the same prefix.  */
  CHECK_MSG ("Content-Type: multipart/mixed; boundary=a\n\n--a \t\n\n--ab\n"
             "4111111111111111\n--a--  \n",
             "411111******1111@1");
  /* Headers: folded Subject with encoded words; obsolete "Name :". */
  CHECK_MSG ("Subject: refund\n =?utf-8?q?4111_1111?=\n"
             " =?utf-8?q?_1111_1111?=\nX-Note : 5555555555554444\n\nbody\n",
             "411111******1111@0:Subject 555555******4444@0:X-Note");
  /* mbox From_ line, message/rfc822, digest default type.  */
  CHECK_MSG ("From 4111111111111111 Mon Jan  1 00:00:00 2024\n"
             "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
             "Subject: 5555555555554444\n\nbody 378282246310005\n--d--\n",
             "411111******1111@0:From_ 555555******4444@2:Subject "
             "378282*****0005@2");
  /* Body-only mode.  */
  check_msg ("--x\n\n4111111111111111\n--x--\n", 28,
             "multipart/mixed; boundary=x", NULL, "411111******1111@1",
             __LINE__);
  check_msg ("NDExMTExMTExMTExMTExMQ==", 24, "text/plain", "Base64",
             "411111******1111@0", __LINE__);
  check_msg ("Subject: 4111111111111111\n\nx", 28, "message/rfc822", NULL,
             "411111******1111@1:Subject", __LINE__);
}

static void
test_malformed (void)
{
  char *big;
  size_t i, n;

  /* Never closed; truncated in a header; no blank line at all.  */
  CHECK_MSG ("Content-Type: multipart/mixed; boundary=a\n\n--a\n\n"
             "4111111111111111",
             "411111******1111@1");
  CHECK_MSG ("Subject: 4111111111111111", "411111******1111@0:Subject");
  CHECK_MSG ("4111111111111111 is not a header\n", "411111******1111@0");
  CHECK_MSG (" 4111111111111111 continuation first\n", "411111******1111@0");
  /* multipart without boundary, boundary too long, unknown encoding.  */
  CHECK_MSG ("Content-Type: multipart/mixed\n\n--a\n\n4111111111111111\n",
             "411111******1111@0");
  CHECK_MSG ("Content-Transfer-Encoding: x-uuencode\n\n4111111111111111\n",
             "411111******1111@0");
  /* A text part mislabelled base64 is scanned undecoded too.  */
  CHECK_MSG ("Content-Transfer-Encoding: base64\n\n4111111111111111\n",
             "411111******1111@0");
  CHECK_MSG ("Content-Type: =?; boundary=\"\\\nContent-Transfer-Encoding: "
             "quoted-printable=\n\n=4=\n=\r",
             "");
  CHECK_MSG ("", "");
  CHECK_MSG ("\n", "");
  CHECK_MSG ("Content-Type: multipart/mixed; boundary=\"unterminated\n\n"
             "--unterminated\n\n4111111111111111\n",
             "411111******1111@1");

  /* A header field beyond PAN_MIME_MAX_FIELD: the rest is raw text.  */
  n = PAN_MIME_MAX_FIELD + 100;
  big = malloc (n + 200);
  T_CHECK (big != NULL);
  if (!big)
    return;
  strcpy (big, "X-Big: ");
  for (i = 7; i < n; i++)
    big[i] = i % 50 ? 'a' : ' ';
  strcpy (big + n, " 4111111111111111\n\n5555555555554444\n");
  CHECK_MSG (big, "411111******1111@0 555555******4444@0");

  /* Nesting beyond PAN_MIME_MAX_DEPTH: the innermost text is raw.  */
  big[0] = 0;
  for (i = 0; i < 40; i++)
    sprintf (big + strlen (big),
             "Content-Type: multipart/mixed; "
             "boundary=b%zu\n\n--b%zu\n",
             i, i);
  strcat (big, "\n4111111111111111\n");
  n = strlen (big);
  check_msg (big, n, NULL, NULL, "411111******1111@32", __LINE__);
  free (big);
}


/* Read all of STREAM in reads of at most STEP bytes into *R_BUF.  */
static size_t
read_stream (gpgrt_stream_t stream, size_t step, char **r_buf)
{
  size_t len = 0, n = 0;
  char *buf = NULL, *tmp;

  do
    {
      if (!(tmp = realloc (buf, len + step + 1)))
        break;
      buf = tmp;
      T_CHECK (!es_read (stream, buf + len, step, &n));
      len += n;
    }
  while (n);
  *r_buf = buf;
  return len;
}

/* A message made by pan_compose_open (read in small pieces, attachment
 * in several base64 chunks, Subject RFC 2047 encoded) and walked back:
 * each PAN is found in its part.  */
static void
test_compose (void)
{
  char path[] = "t-mime-compose-XXXXXX", *msg = NULL, *reason = NULL;
  const char *to[] = { "a@x.example", NULL };
  struct pan_attachment att[1] = {
    {NULL, NULL, "text/csv", NULL, { NULL }}
  };
  struct pan_compose spec = { "R\xc3\xbc"
                              "ckbuchung 4111111111111111",
                              "o@x.example",
                              to,
                              NULL,
                              NULL,
                              att,
                              1,
                              { NULL } };
  gpgrt_stream_t body = NULL, out = NULL;
  FILE *f = NULL;
  size_t len;
  int fd, i;

  T_CHECK ((fd = mkstemp (path)) >= 0 && (f = fdopen (fd, "w")));
  if (!f)
    return;
  for (i = 0; i < 200; i++)
    fputs ("filler line of an attachment with no digits\n", f);
  fputs ("card 378282246310005\n", f);
  fclose (f);
  att[0].path = path;
  body = es_fopenmem_init (0, "r", "note 5555555555554444\n", 22);
  T_ERR (pan_compose_open (&spec, body, 0, &out, &reason), 0);
  len = out ? read_stream (out, 7, &msg) : 0;
  T_CHECK (len > 200 * 44 && strstr (msg, "Subject: =?UTF-8?B?"));
  check_msg (msg, len, NULL, NULL,
             "411111******1111@0:Subject "
             "555555******4444@1 378282*****0005@2",
             __LINE__);
  es_fclose (out);
  es_fclose (body);
  unlink (path);
  free (msg);
  free (reason);
}


int
main (void)
{
  size_t n;

  if (!gcry_check_version (NULL))
    return 1;
  gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);

  test_2047 ();
  test_structure ();
  test_malformed ();
  test_compose ();
  n = run_corpus ();
  printf ("t-mime: %zu messages, %d feedings each: tp %lu fp %lu fn %lu, "
          "precision %.2f%%, recall %.2f%%\n",
          n, MAX_CHUNK + 1, tp, fp, fn,
          tp + fp ? 100.0 * tp / (tp + fp) : 0.0,
          tp + fn ? 100.0 * tp / (tp + fn) : 0.0);
  T_CHECK (n >= 4 && tp > 0 && fp == 0 && fn == 0);
  return t_done ("t-mime");
}
