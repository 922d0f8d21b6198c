/* t-rfc2047.c - tests for the one RFC 2047 decoder, in both modes
 *
 * Strict decoding is what display names get (addrlist.c), lenient
 * decoding what the header guard and the MIME walker get; t-message.c
 * and t-mime.c test the same decoder through those callers.  */
#include <config.h>

#include <stdarg.h>
#include <string.h>
#include <gpg-error.h>

#include "util.h"
#include "rfc2047-int.h"
#include "t-support.h"

static char result[4096];

/* Return S/LEN of B in RESULT and free B.  */
static const char *
take (struct pani_buf *b)
{
  if (b->failed)
    snprintf (result, sizeof result, "ENOMEM");
  else
    snprintf (result, sizeof result, "%.*s", (int)b->len,
              b->data ? b->data : "");
  pani_buf_free (b);
  return result;
}

/* Decode TEXT as unstructured text (lenient).  */
static const char *
text (const char *s)
{
  struct pani_buf b = { NULL, 0, 0, 0 };

  T_ERR (pani_rfc2047_decode_text (s, strlen (s), &b), 0);
  return take (&b);
}

/* Decode the atoms of a phrase given as NULL-terminated arguments with
 * FLAGS; an argument starting with a space has white space before it
 * (the space is not part of the word), one starting with '"' is a
 * quoted string (the quote is not part of it).  */
static const char *
phrase (unsigned int flags, ...)
{
  struct pani_buf b = { NULL, 0, 0, 0 };
  struct pani_rfc2047 d;
  const char *w;
  va_list ap;
  int sep;

  pani_rfc2047_begin (&d, &b, flags);
  va_start (ap, flags);
  while ((w = va_arg (ap, const char *)))
    {
      sep = *w == ' ';
      w += sep;
      if (*w == '"')
        pani_rfc2047_plain (&d, w + 1, strlen (w + 1), sep);
      else
        pani_rfc2047_word (&d, w, strlen (w), sep);
    }
  va_end (ap);
  pani_rfc2047_end (&d);
  return take (&b);
}

static const char *
strict (const char *word)
{
  return phrase (PANI_RFC2047_STRICT, word, (const char *)NULL);
}

static const char *
lenient (const char *word)
{
  return phrase (0, word, (const char *)NULL);
}

/* Both modes read the same encoded words.  */
static void
test_syntax (void)
{
  static const char *const not_words[] = {
    "=?utf-8?x?abc?=", "=??q?a?=",     "=?utf-8?q?\?=",    "=?utf-8?q?a b?=",
    "=?utf-8?q?a",     "=?utf-8?q?a?", "=?utf-8 ?q?a?=",   "=?utf-8?q?a?b?=",
    "=?utf-8?qq?a?=",  "?utf-8?q?a?=", "=?\xc3\xa4?q?a?=", "=?utf-8?q?\x7f?="
  };
  size_t i;

  for (i = 0; i < sizeof not_words / sizeof *not_words; i++)
    {
      T_STREQ (strict (not_words[i]), not_words[i]);
      T_STREQ (lenient (not_words[i]), not_words[i]);
      T_STREQ (text (not_words[i]), not_words[i]);
    }
  T_STREQ (strict ("=?UTF-8?Q?a_b?="), "a b");
  T_STREQ (strict ("=?utf-8?b?YQ==?="), "a");
  T_STREQ (strict ("=?Utf-8*de-CH?q?a?="), "a");
  /* A phrase word must be one whole encoded word.  */
  T_STREQ (strict ("=?utf-8?q?a?=x"), "=?utf-8?q?a?=x");
  T_STREQ (strict ("x=?utf-8?q?a?="), "x=?utf-8?q?a?=");
}

/* The one set of charsets, in both modes.  */
static void
test_charsets (void)
{
  static const struct
  {
    const char *in, *out;
  } ok[] = {
    {"=?utf-8?q?=C3=A4?=",          "\xc3\xa4"             },
    { "=?UTF8?Q?=F0=9F=98=80?=",    "\xf0\x9f\x98\x80"     },
    { "=?us-ascii?q?a?=",           "a"                    },
    { "=?iso-8859-1?q?=E4?=",       "\xc3\xa4"             },
    { "=?ISO8859-1?Q?=FF?=",        "\xc3\xbf"             },
    { "=?latin1?q?=A0?=",           "\xc2\xa0"             },
    { "=?windows-1252?q?=80_=E4?=", "\xe2\x82\xac \xc3\xa4"},
    { "=?windows-1252?q?=9F=99?=",  "\xc5\xb8\xe2\x84\xa2" },
    { "=?utf-16?b?AGEA5A==?=",      "a\xc3\xa4"            },
    { "=?utf-16be?b?AGE=?=",        "a"                    },
    { "=?ucs-2?b?AGE=?=",           "a"                    },
    { "=?utf-16le?b?YQDkAA==?=",    "a\xc3\xa4"            },
    { "=?utf-16?b?//5hAA==?=",      "a"                    },
    { "=?utf-16le?b?/v8AYQ==?=",    "a"                    },
    { "=?utf-16?b?2D3eAA==?=",      "\xf0\x9f\x98\x80"     }
  };
  size_t i;

  for (i = 0; i < sizeof ok / sizeof *ok; i++)
    {
      T_STREQ (strict (ok[i].in), ok[i].out);
      T_STREQ (lenient (ok[i].in), ok[i].out);
      T_STREQ (text (ok[i].in), ok[i].out);
    }
  /* Another charset: as written, or its ASCII with U+FFFD.  */
  T_STREQ (strict ("=?koi8-r?q?a=C1?="), "=?koi8-r?q?a=C1?=");
  T_STREQ (lenient ("=?koi8-r?q?a=C1?="), "a\xef\xbf\xbd");
  T_STREQ (strict ("=?iso-8859-15?q?a?="), "=?iso-8859-15?q?a?=");
  T_STREQ (lenient ("=?iso-8859-15?q?a?="), "a");
}

/* What strict decoding leaves as written and lenient decoding
 * repairs.  */
static void
test_invalid (void)
{
  static const struct
  {
    const char *in, *lenient;
  } bad[] = {
    {"=?utf-8?q?a=C3?=",         "a\xef\xbf\xbd"                       },
    { "=?utf-8?q?=C0=80?=",      "\xef\xbf\xbd\xef\xbf\xbd"            },
    { "=?utf-8?q?=ED=A0=80?=",   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    { "=?utf-8?q?a=00b?=",
     "a\xef\xbf\xbd"
      "b"                                                              },
    { "=?us-ascii?q?=E9?=",      "\xef\xbf\xbd"                        },
    { "=?windows-1252?q?=81?=",  "\xef\xbf\xbd"                        },
    { "=?utf-16be?b?AGEA?=",     "a\xef\xbf\xbd"                       },
    { "=?utf-16be?b?2D0AYQ==?=",
     "\xef\xbf\xbd"
      "a"                                                              },
    { "=?utf-16be?b?3gA=?=",     "\xef\xbf\xbd"                        },
    { "=?utf-16be?b?AAA=?=",     "\xef\xbf\xbd"                        },
    { "=?utf-8?q?a=G1?=",        "a=G1"                                },
    { "=?utf-8?q?a=4?=",         "a=4"                                 },
    { "=?utf-8?b?YQ=?=",         "a"                                   },
    { "=?utf-8?b?Y*Q==?=",       "a"                                   }
  };
  static const char *const controls[] = {
    "=?utf-8?q?a=0Ab?=",    "=?utf-8?q?a=09b?=",    "=?utf-8?q?a=7Fb?=",
    "=?utf-8?q?a=C2=9Bb?=", "=?iso-8859-1?q?=85?=", "=?utf-16be?b?AIU=?="
  };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      T_STREQ (strict (bad[i].in), bad[i].in);
      T_STREQ (lenient (bad[i].in), bad[i].lenient);
    }
  /* Control characters stay encoded in strict mode only.  */
  for (i = 0; i < sizeof controls / sizeof *controls; i++)
    {
      T_STREQ (strict (controls[i]), controls[i]);
      T_CHECK (strcmp (lenient (controls[i]), controls[i]));
    }
  T_STREQ (lenient ("=?utf-8?q?a=0Ab?="), "a\nb");
}

/* Adjacent encoded words: joined into one run per charset.  */
static void
test_runs (void)
{
  unsigned int s = PANI_RFC2047_STRICT;

  T_STREQ (phrase (s, "=?utf-8?q?J=C3?=", " =?utf-8?q?=B6rg?=",
                   (const char *)NULL),
           "J\xc3\xb6rg");
  T_STREQ (phrase (0, "=?utf-16be?b?AA==?=", " =?utf-16be?b?YQ==?=",
                   (const char *)NULL),
           "a");
  T_STREQ (phrase (s, "=?utf-8?q?a?=", " =?iso-8859-1?q?=E9?=",
                   (const char *)NULL),
           "a\xc3\xa9");
  T_STREQ (phrase (s, "=?utf-8?q?a?=", " b", " =?utf-8?q?c?=", "d",
                   (const char *)NULL),
           "a b cd");
  T_STREQ (phrase (s, "Dr.", " =?utf-8?q?A?=", (const char *)NULL), "Dr. A");
  T_STREQ (phrase (s,
                   "\"=?utf-8?q?a?=", " =?utf-8?q?b?=", (const char *)NULL),
           "=?utf-8?q?a?= b");
  /* A run that does not convert stays as written, with one space.  */
  T_STREQ (phrase (s, "=?utf-8?q?=C3?=", " =?utf-8?q?x?=", " y",
                   (const char *)NULL),
           "=?utf-8?q?=C3?= =?utf-8?q?x?= y");
  T_STREQ (phrase (0,
                   "=?utf-8?q?=C3?=", " =?utf-8?q?x?=", (const char *)NULL),
           "\xef\xbf\xbdx");

  T_STREQ (text ("=?utf-8?q?4111_1111?= =?utf-8?q?_1111_1111?="),
           "4111 1111 1111 1111");
  T_STREQ (text ("=?UTF-8?B?NDEx?=\r\n =?utf-8?b?MQ==?= x"), "4111 x");
  T_STREQ (text ("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?="), "\xe2\x82\xac");
  T_STREQ (text ("x=?utf-8?q?41?=y =?utf-8?q?1?="), "x41y 1");
  T_STREQ (text ("=?utf-8?q?a?=  b"), "a  b");
  T_STREQ (text ("a\xff"
                 "b"),
           "a\xff"
           "b");
  T_STREQ (text (""), "");
}

static void
test_nul_in_text (void)
{
  struct pani_buf b = { NULL, 0, 0, 0 };

  T_ERR (pani_rfc2047_decode_text ("a\0b", 3, &b), 0);
  T_CHECK (b.len == 5
           && !memcmp (b.data,
                       "a\xef\xbf\xbd"
                       "b",
                       5));
  pani_buf_free (&b);
}

/* Output appends to what the buffer holds.  */
static void
test_append (void)
{
  struct pani_buf b = { NULL, 0, 0, 0 };

  pani_buf_puts (&b, "x:");
  T_ERR (pani_rfc2047_decode_text ("=?utf-8?q?a?=", 13, &b), 0);
  T_STREQ (take (&b), "x:a");
}

int
main (void)
{
  test_syntax ();
  test_charsets ();
  test_invalid ();
  test_runs ();
  test_nul_in_text ();
  test_append ();
  return t_done ("t-rfc2047");
}
