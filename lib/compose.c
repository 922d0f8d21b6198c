/* compose.c - a MIME message from a text body and attachments
 *
 * For mailx-style sending ("report.sh | panmailx -s Subject -a out.csv
 * partner@example.com"): a stream that yields a complete RFC 5322/MIME
 * message, made as it is read, so that neither the body nor an
 * attachment is ever held whole in memory or written anywhere.  The
 * result is read by a send job like any message on stdin.  */
#include <config.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"

#define ATTACH_CHUNK 3072 /* Bytes of an attachment per base64 step. */

enum phase
{
  PH_HEAD,
  PH_BODY,
  PH_PART_HEAD,
  PH_PART_DATA,
  PH_TAIL,
  PH_END
};

struct compose
{
  gpgrt_stream_t body;   /* The text body (not owned).  */
  gpgrt_stream_t *files; /* Opened attachments.  */
  char *borrowed;        /* Per file: given by the caller.  */
  char **part_heads;     /* Their MIME header blocks.  */
  size_t nfiles;
  size_t cur; /* Attachment being read.  */
  enum phase phase;
  char *head;              /* Message header block and preamble.  */
  char *tail;              /* Closing boundary.  */
  struct pani_buf pending; /* Bytes made but not yet read.  */
  size_t pending_off;
  gpgrt_stream_t b64sink; /* Collects base64 into PENDING.  */
  gpgrt_b64state_t b64;
};

/* A file's content type from its name, for a few types a report uses. */
static const char *
guess_type (const char *name)
{
  static const struct
  {
    const char *ext, *type;
  } types[] = {
    {".csv",   "text/csv"        },
    { ".txt",  "text/plain"      },
    { ".html", "text/html"       },
    { ".xml",  "application/xml" },
    { ".json", "application/json"},
    { ".pdf",  "application/pdf" },
    { ".zip",  "application/zip" },
    { ".gz",   "application/gzip"},
    { ".png",  "image/png"       },
    { ".jpg",  "image/jpeg"      },
    { ".xlsx",
     "application/vnd.openxmlformats-officedocument"
      ".spreadsheetml.sheet"     }
  };
  size_t len = strlen (name);

  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    {
      size_t elen = strlen (types[i].ext);
      if (len > elen && !strcasecmp (name + len - elen, types[i].ext))
        return types[i].type;
    }
  return "application/octet-stream";
}

static int
is_plain_ascii (const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
      return 0;
  return 1;
}

/* The From of a message sendmail would send for this user.  */
static char *
default_from (void)
{
  struct passwd *pw = getpwuid (getuid ());
  char host[256];

  pani_hostname (host, sizeof host, "localhost");
  return pani_strdupf ("%s@%s", pw && pw->pw_name ? pw->pw_name : "root",
                       host);
}

/* Write TEXT (UTF-8) as RFC 2047 encoded words ("B" encoding) of at
 * most 75 characters each, split between UTF-8 characters and
 * separated by folding white space.  */
static void
put_encoded_words (gpgrt_stream_t out, const char *text)
{
  size_t len = strlen (text), off = 0;

  while (off < len)
    {
      size_t n = len - off > 45 ? 45 : len - off;
      gpgrt_b64state_t st;

      while (off + n < len && n
             && ((unsigned char)text[off + n] & 0xc0) == 0x80)
        n--;
      es_fputs (off ? "\n =?UTF-8?B?" : "=?UTF-8?B?", out);
      if ((st = gpgrt_b64enc_start (out, "")))
        {
          gpgrt_b64enc_write (st, text + off, n);
          gpgrt_b64enc_finish (st);
        }
      es_fputs ("?=", out);
      off += n;
    }
}

/* Write the header field NAME with TEXT, RFC 2047 encoded unless it is
 * plain printable ASCII.  */
static void
put_text_field (gpgrt_stream_t out, const char *name, const char *text)
{
  es_fprintf (out, "%s: ", name);
  if (is_plain_ascii (text))
    es_fputs (text, out);
  else
    put_encoded_words (out, text);
  es_putc ('\n', out);
}

/* True if the display name NAME may be written as atoms: letters,
 * digits, white space and the atext specials.  */
static int
is_atom_phrase (const char *name)
{
  for (const char *p = name; *p; p++)
    if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789 !#$%&'*+-/=?^_`{|}~",
                 *p))
      return 0;
  return *name && *name != ' ' && name[strlen (name) - 1] != ' ';
}

/* Write the mailbox ADDR with display name NAME (may be NULL): the name
 * as atoms, a quoted string or encoded words, the address as is.  */
static void
put_mailbox (gpgrt_stream_t out, const char *name, const char *addr)
{
  if (!name || !*name)
    {
      es_fputs (addr, out);
      return;
    }
  if (is_atom_phrase (name))
    es_fputs (name, out);
  else if (is_plain_ascii (name))
    {
      es_putc ('"', out);
      for (const char *p = name; *p; p++)
        {
          if (*p == '"' || *p == '\\')
            es_putc ('\\', out);
          es_putc (*p, out);
        }
      es_putc ('"', out);
    }
  else
    put_encoded_words (out, name);
  es_fprintf (out, " <%s>", addr);
}

/* Parse each address list of LISTS and append its mailboxes to the
 * field NAME of OUT (nothing if there are none).  */
static gpg_error_t
put_list (gpgrt_stream_t out, const char *name, const char *const *lists,
          char **r_reason)
{
  gpg_error_t err = 0;
  pan_addrlist_t list = NULL;
  char *why = NULL;

  if (!lists || !*lists)
    return 0;
  if ((err = pan_addrlist_new (&list)))
    return err;
  for (size_t i = 0; !err && lists[i]; i++)
    if ((err = pan_addrlist_parse (list, lists[i], &why)))
      err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_USER_ID),
                         "%s address \"%s\": %s; quote a display name"
                         " that holds a comma",
                         name, lists[i], why);
  for (size_t i = 0; !err && i < pan_addrlist_count (list); i++)
    {
      es_fputs (i ? ",\n " : "", out);
      if (!i)
        es_fprintf (out, "%s: ", name);
      put_mailbox (out, pan_addrlist_display (list, i),
                   pan_addrlist_addr (list, i));
    }
  if (!err && pan_addrlist_count (list))
    es_putc ('\n', out);
  free (why);
  pan_addrlist_release (list);
  return err;
}

/* FROM as "NAME <ADDR>" with any NAME (a comma included), ADDR a bare
 * address: the display name and address in malloc'ed memory.  */
static gpg_error_t
split_from (const char *from, char **r_name, char **r_addr)
{
  const char *lt = strrchr (from, '<'), *end = from + strlen (from);
  const char *s = from, *e = lt;
  char *norm = NULL;

  *r_name = *r_addr = NULL;
  while (end > from && pani_is_wsp (end[-1]))
    end--;
  if (!lt || end[-1] != '>' || strchr (lt, '>') != end - 1)
    return gpg_error (GPG_ERR_INV_USER_ID);
  while (pani_is_wsp (*s))
    s++;
  while (e > s && pani_is_wsp (e[-1]))
    e--;
  if (e - s >= 2 && *s == '"' && e[-1] == '"')
    s++, e--;
  for (const char *p = s; p < e; p++)
    if (pani_is_ctrl ((unsigned char)*p) || *p == '"' || *p == '<'
        || *p == '>')
      return gpg_error (GPG_ERR_INV_USER_ID);
  *r_name = pani_strndup (s, e - s);
  *r_addr = pani_strndup (lt + 1, end - lt - 2);
  if (!*r_name || !*r_addr || pan_addr_normalize (*r_addr, &norm, NULL))
    {
      free (*r_name);
      free (*r_addr);
      *r_name = *r_addr = NULL;
      free (norm);
      return gpg_error (GPG_ERR_INV_USER_ID);
    }
  free (norm);
  return 0;
}

/* The From field: SPEC's FROM (one mailbox) or LOGIN@HOSTNAME.  */
static gpg_error_t
put_from (gpgrt_stream_t out, const char *from, char **r_reason)
{
  gpg_error_t err;
  pan_addrlist_t list = NULL;
  char *name = NULL, *addr = from ? NULL : default_from ();

  if (!from)
    {
      if (addr)
        es_fprintf (out, "From: %s\n", addr);
      free (addr);
      return addr ? 0 : gpg_error_from_syserror ();
    }
  if ((err = pan_addrlist_new (&list)))
    return err;
  if (!pan_addrlist_parse (list, from, NULL)
      && pan_addrlist_count (list) == 1)
    {
      es_fputs ("From: ", out);
      put_mailbox (out, pan_addrlist_display (list, 0),
                   pan_addrlist_addr (list, 0));
      es_putc ('\n', out);
    }
  else if (!(err = split_from (from, &name, &addr)))
    {
      es_fputs ("From: ", out);
      put_mailbox (out, name, addr);
      es_putc ('\n', out);
    }
  else
    pani_reason (r_reason, err,
                 "the From address \"%s\" is not one"
                 " mailbox (NAME <local@domain> or local@domain)",
                 from);
  free (name);
  free (addr);
  pan_addrlist_release (list);
  return err;
}

static void
put_date (gpgrt_stream_t out, time_t now)
{
  struct tm tm;
  char date[64];

  localtime_r (&now, &tm);
  strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
  es_fprintf (out, "Date: %s\n", date);
}

static char *
make_boundary (void)
{
  char hex[25];

  pani_nonce_hex (hex, 12);
  return pani_strdupf ("panmail-mixed-%s", hex);
}

static gpg_error_t
snatch (gpgrt_stream_t mem, char **r_text)
{
  void *buf = NULL;
  size_t len;

  es_putc (0, mem);
  if (es_ferror (mem) || es_fclose_snatch (mem, &buf, &len))
    {
      es_fclose (mem);
      return gpg_error_from_syserror ();
    }
  *r_text = buf;
  return 0;
}

/* Build the header block, and for attachments the preamble and the
 * text part's header, into C->head.  */
static gpg_error_t
build_head (struct compose *c, const struct pan_compose *spec,
            const char *boundary, time_t now, char **r_reason)
{
  gpg_error_t err;
  gpgrt_stream_t mem = es_fopenmem (0, "w+");

  if (!mem)
    return gpg_error_from_syserror ();
  if ((err = put_from (mem, spec->from, r_reason))
      || (err = put_list (mem, "To", spec->to, r_reason))
      || (err = put_list (mem, "Cc", spec->cc, r_reason))
      || (err = put_list (mem, "Bcc", spec->bcc, r_reason)))
    {
      es_fclose (mem);
      return err;
    }
  if (spec->subject)
    put_text_field (mem, "Subject", spec->subject);
  put_date (mem, now);
  es_fputs ("MIME-Version: 1.0\n", mem);
  if (!c->nfiles)
    es_fputs ("Content-Type: text/plain; charset=utf-8\n"
              "Content-Transfer-Encoding: 8bit\n\n",
              mem);
  else
    es_fprintf (mem,
                "Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
                "This is a multi-part message in MIME format.\n--%s\n"
                "Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n",
                boundary, boundary);
  return snatch (mem, &c->head);
}

/* The file name for Content-Disposition: the last component of PATH,
 * with characters that would break the quoted string replaced.  */
static char *
safe_filename (const char *path)
{
  const char *base = strrchr (path, '/');
  char *name = pani_strdup (base ? base + 1 : path);

  for (char *p = name; p && *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
      *p = '_';
  return name;
}

/* Write the parameter PARAM=NAME: quoted if NAME is ASCII, else as an
 * RFC 2231 extended value in UTF-8.  */
static void
put_name_param (gpgrt_stream_t out, const char *param, const char *name)
{
  if (is_plain_ascii (name))
    {
      es_fprintf (out, "; %s=\"%s\"", param, name);
      return;
    }
  es_fprintf (out, "; %s*=utf-8''", param);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789.-_",
                *p))
      es_putc (*p, out);
    else
      es_fprintf (out, "%%%02X", *p);
}

static gpg_error_t
build_part_head (const struct pan_attachment *att, const char *boundary,
                 char **r_head)
{
  gpgrt_stream_t mem = es_fopenmem (0, "w+");
  char *name = safe_filename (att->name     ? att->name
                                : att->path ? att->path
                                            : "stdin");
  const char *type = att->type ? att->type : guess_type (name ? name : "");

  if (!mem || !name)
    {
      free (name);
      es_fclose (mem);
      return gpg_error_from_syserror ();
    }
  es_fprintf (mem, "\n--%s\nContent-Type: %s", boundary, type);
  put_name_param (mem, "name", name);
  es_fputs ("\nContent-Disposition: attachment", mem);
  put_name_param (mem, "filename", name);
  es_fputs ("\nContent-Transfer-Encoding: base64\n\n", mem);
  free (name);
  return snatch (mem, r_head);
}

static gpg_error_t
open_attachments (struct compose *c, const struct pan_compose *spec,
                  const char *boundary, char **r_reason)
{
  gpg_error_t err = 0;
  size_t n = spec->attachments ? spec->nattachments : 0;

  c->files = calloc (n + 1, sizeof *c->files);
  c->borrowed = calloc (n + 1, 1);
  c->part_heads = calloc (n + 1, sizeof *c->part_heads);
  if (!c->files || !c->part_heads || !c->borrowed)
    return gpg_error_from_syserror ();
  c->nfiles = n; /* compose_free closes as many.  */
  for (size_t i = 0; !err && i < c->nfiles; i++)
    {
      const struct pan_attachment *att = &spec->attachments[i];

      c->borrowed[i] = att->stream != NULL;
      if (att->stream)
        c->files[i] = att->stream;
      else if (!att->path || !(c->files[i] = es_fopen (att->path, "rb")))
        {
          err = pani_reason_sys (r_reason, att->path ? att->path : "(none)");
          break;
        }
      err = build_part_head (att, boundary, &c->part_heads[i]);
    }
  return err;
}


/*
 * Reading the composed message.
 */

static ssize_t
sink_write (void *cookie, const void *buf, size_t size)
{
  struct compose *c = cookie;

  if (!size)
    return 0;
  pani_buf_put (&c->pending, buf, size);
  return c->pending.failed ? -1 : (ssize_t)size;
}

/* Make TEXT the pending bytes; -1 if memory ran out.  */
static int
set_pending (struct compose *c, const char *text)
{
  pani_buf_clear (&c->pending);
  c->pending_off = 0;
  pani_buf_puts (&c->pending, text);
  return c->pending.failed ? -1 : 0;
}

/* Encode the next chunk of attachment C->cur into PENDING; at its end
 * finish the base64 and move on.  */
static int
next_attachment_chunk (struct compose *c)
{
  char chunk[ATTACH_CHUNK];
  size_t n = 0;

  pani_buf_clear (&c->pending);
  c->pending_off = 0;
  if (!c->b64 && !(c->b64 = gpgrt_b64enc_start (c->b64sink, NULL)))
    return -1;
  if (es_read (c->files[c->cur], chunk, sizeof chunk, &n))
    return -1;
  if (n && gpgrt_b64enc_write (c->b64, chunk, n))
    return -1;
  if (!n)
    {
      if (gpgrt_b64enc_finish (c->b64))
        return -1;
      c->b64 = NULL;
      c->cur++;
      c->phase = c->cur < c->nfiles ? PH_PART_HEAD : PH_TAIL;
    }
  return es_fflush (c->b64sink) ? -1 : 0;
}

/* Make the next piece of the message in PENDING, or read the body
 * straight into BUF (return its length); -1 on error.  */
static ssize_t
advance (struct compose *c, void *buf, size_t size)
{
  size_t n = 0;

  switch (c->phase)
    {
    case PH_HEAD: c->phase = PH_BODY; return set_pending (c, c->head);
    case PH_BODY:
      if (es_read (c->body, buf, size, &n))
        return -1;
      if (!n)
        c->phase = c->nfiles ? PH_PART_HEAD : PH_END;
      return n;
    case PH_PART_HEAD:
      c->phase = PH_PART_DATA;
      return set_pending (c, c->part_heads[c->cur]);
    case PH_PART_DATA: return next_attachment_chunk (c);
    case PH_TAIL: c->phase = PH_END; return set_pending (c, c->tail);
    default: return 0;
    }
}

static ssize_t
compose_read (void *cookie, void *buf, size_t size)
{
  struct compose *c = cookie;
  ssize_t n;

  while (c->pending_off == c->pending.len && c->phase != PH_END)
    {
      n = advance (c, buf, size);
      if (n)
        return n;
    }
  n = c->pending.len - c->pending_off;
  if ((size_t)n > size)
    n = size;
  if (n)
    memcpy (buf, c->pending.data + c->pending_off, n);
  c->pending_off += n;
  return n;
}

static void
compose_free (struct compose *c)
{
  if (!c)
    return;
  if (c->b64)
    gpgrt_b64enc_finish (c->b64);
  es_fclose (c->b64sink);
  for (size_t i = 0; i < c->nfiles; i++)
    {
      if (!c->borrowed[i])
        es_fclose (c->files[i]);
      free (c->part_heads[i]);
    }
  free (c->files);
  free (c->borrowed);
  free (c->part_heads);
  pani_wipe_free_str (c->head);
  free (c->tail);
  pani_buf_free (&c->pending);
  free (c);
}

static int
compose_close (void *cookie)
{
  compose_free (cookie);
  return 0;
}

static gpg_error_t
compose_setup (struct compose *c, const struct pan_compose *spec, time_t now,
               char **r_reason)
{
  gpg_error_t err;
  char *boundary = make_boundary ();
  gpgrt_cookie_io_functions_t sink = { NULL, sink_write, NULL, NULL };

  if (!boundary)
    return gpg_error_from_syserror ();
  if ((err = open_attachments (c, spec, boundary, r_reason))
      || (err = build_head (c, spec, boundary, now, r_reason)))
    goto leave;
  c->tail = pani_strdupf ("\n--%s--\n", boundary);
  c->b64sink = es_fopencookie (c, "w", sink);
  if (!c->tail || !c->b64sink)
    err = gpg_error_from_syserror ();
leave:
  free (boundary);
  return err;
}

gpg_error_t
pan_compose_open (const struct pan_compose *spec, gpgrt_stream_t body,
                  time_t now, gpgrt_stream_t *r_stream, char **r_reason)
{
  gpg_error_t err;
  struct compose *c = calloc (1, sizeof *c);
  gpgrt_cookie_io_functions_t io = { compose_read, NULL, NULL,
                                     compose_close };

  *r_stream = NULL;
  if (!c)
    return gpg_error_from_syserror ();
  c->body = body;
  if ((err = compose_setup (c, spec, now, r_reason)))
    {
      compose_free (c);
      return err;
    }
  if (!(*r_stream = es_fopencookie (c, "r", io)))
    {
      err = gpg_error_from_syserror ();
      compose_free (c);
    }
  return err;
}
