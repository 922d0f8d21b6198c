/* scan.c - finding PANs in files and directories (data discovery)
 *
 * A file is read in PAN_SCAN_CHUNK pieces and fed to a "stream" that
 * knows its format:
 *
 *  - plain text goes straight to the PAN scanner; the line of a hit is
 *    found by counting newlines up to its first digit.  A hit may be
 *    reported while a later chunk is fed, or at the end: the bytes of a
 *    chain of candidates (digits, single spaces or dashes) hold no
 *    newline, and the scanner reports a hit at most 16 bytes after the
 *    chain ended, so the newlines between such a hit and the chunk are
 *    all among the last PLAIN_TAIL bytes before it, which are kept;
 *
 *  - an mbox is cut into messages at every line that starts "From "
 *    (mboxo and mboxrd quote such body lines as ">From "); the "From "
 *    line is scanned as text, the rest of each message is walked with
 *    pan_mime_scan_* (decoded headers, base64 and quoted-printable);
 *    the first 5 bytes of a line are held until it is known whether it
 *    starts a message, so chunks may split "From " anywhere;
 *
 *  - a message (.eml, or a file in a Maildir) is walked whole.
 *
 * The walk does not follow symbolic links below a path it was given,
 * skips devices, FIFOs and sockets, and opens everything relative to
 * the directory it is in (openat with O_NOFOLLOW), so that a link put in
 * place of a file during the scan is not followed either.  Paths and
 * header names are masked (pan_scan_hit.path) before anyone sees them:
 * a file may be named after a card number.
 *
 * XXX Not looked into: compressed files and archives (gzip, zip, ...),
 * mboxcl Content-Length framing, UTF-16 text, PDF and office formats.  */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "panmail.h"
#include "util.h"
#include "pan-int.h"

/* Plain text bytes kept to count the newlines between a hit reported
 * late and the chunk being fed (at most the scanner's lookahead and the
 * byte that ends a chain).  */
#define PLAIN_TAIL 32

/* The mbox message separator and its length.  */
#define FROM_LINE "From "
#define FROM_LEN 5

struct pan_scan_stream
{
  pan_scanner_t scanner;
  int own_scanner;
  pan_scan_format_t format;
  pan_scan_hit_cb_t hit_cb;
  void *opaque;
  char *path;                   /* Masked.  */
  gpg_error_t err;              /* Sticky.  */

  /* Plain text: the chunk being fed, its stream offset and the
   * newlines before it; a cursor counting newlines inside it; the last
   * bytes before the chunk.  */
  const char *chunk;
  unsigned long long off;
  unsigned long long nl;
  unsigned long long cur_off;
  unsigned long long cur_nl;
  size_t tail_len;
  char tail[PLAIN_TAIL];

  /* Messages.  */
  unsigned long long line;      /* The line being read (mbox).  */
  unsigned long long message;   /* Number of the current message.  */
  unsigned long long msg_line;  /* Where it starts.  */
  pan_mime_t mime;              /* Walking its body, or NULL.  */
  int envelope;                 /* Reading its "From " line.  */
  int bol;                      /* At the beginning of a line.  */
  size_t holdlen;
  char hold[FROM_LEN];
};


/*
 * Small helpers.
 */

static gpg_error_t
mask_cb (void *opaque, const struct pan_hit *hit)
{
  char *s = opaque;
  size_t i, k = 0;

  for (i = hit->offset; i < hit->offset + hit->length; i++)
    {
      if (!pani_is_digit ((unsigned char)s[i]))
        continue;
      if (!pani_mask_keeps (k++, hit->ndigits))
        s[i] = '*';
    }
  return 0;
}

/* Return true if S holds fewer digits than a PAN.  */
static int
too_few_digits (const char *s)
{
  size_t n = 0;

  for (; *s && n < PAN_MIN_DIGITS; s++)
    n += pani_is_digit ((unsigned char)*s);
  return n < PAN_MIN_DIGITS;
}

/* Store at *R_COPY a malloc'ed copy of TEXT with every PAN masked.  */
static gpg_error_t
masked_copy (const char *text, char **r_copy)
{
  gpg_error_t err;
  pan_scanner_t s = NULL;
  char *copy = strdup (text);

  *r_copy = NULL;
  if (!copy)
    return gpg_error_from_syserror ();
  if (too_few_digits (copy))
    {
      *r_copy = copy;
      return 0;
    }
  if (!(err = pan_scanner_new (NULL, 0, &s))
      && !(err = pan_scanner_feed (s, copy, strlen (copy), mask_cb, copy)))
    err = pan_scanner_finish (s, mask_cb, copy);
  pan_scanner_release (s);
  if (err)
    free (copy);
  else
    *r_copy = copy;
  return err;
}

/* Return the number of newlines in P/LEN.  */
static unsigned long long
count_nl (const char *p, size_t len)
{
  const char *end = p + len;
  unsigned long long n = 0;

  while (p < end && (p = memchr (p, '\n', end - p)))
    {
      n++;
      p++;
    }
  return n;
}


/*
 * Reporting hits.
 */

static void
init_hit (pan_scan_stream_t s, const struct pan_hit *hit,
          struct pan_scan_hit *sh)
{
  memset (sh, 0, sizeof *sh);
  sh->path = s->path;
  sh->format = s->format;
  sh->message = s->message;
  sh->line = s->msg_line;
  sh->brand = hit->brand;
  sh->masked = hit->masked;
  sh->hash = hit->hash;
}

/* Return the line of stream offset O (see the top of this file).  */
static unsigned long long
plain_line (pan_scan_stream_t s, unsigned long long o)
{
  size_t from;

  if (!s->chunk || o < s->off)
    {
      from = o + s->tail_len > s->off ? (size_t)(o + s->tail_len - s->off)
                                      : 0;
      return s->nl - count_nl (s->tail + from, s->tail_len - from) + 1;
    }
  s->cur_nl += count_nl (s->chunk + (s->cur_off - s->off), o - s->cur_off);
  s->cur_off = o;
  return s->cur_nl + 1;
}

static gpg_error_t
plain_hit_cb (void *opaque, const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;

  init_hit (s, hit, &sh);
  sh.line = plain_line (s, hit->offset);
  return s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
}

static gpg_error_t
envelope_hit_cb (void *opaque, const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;

  init_hit (s, hit, &sh);
  sh.envelope = 1;
  return s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
}

static gpg_error_t
mime_hit_cb (void *opaque, const struct pan_mime_part *part,
             const struct pan_hit *hit)
{
  pan_scan_stream_t s = opaque;
  struct pan_scan_hit sh;
  char *header = NULL;
  gpg_error_t err;

  init_hit (s, hit, &sh);
  sh.part = part->index;
  sh.content_type = part->content_type;
  sh.undecoded = part->undecoded;
  if (part->header && (err = masked_copy (part->header, &header)))
    return err;
  sh.header = header;
  err = s->hit_cb ? s->hit_cb (s->opaque, &sh) : 0;
  free (header);
  return err;
}


/*
 * Plain text.
 */

/* Keep the last PLAIN_TAIL bytes of the plain text fed so far.  */
static void
keep_tail (pan_scan_stream_t s, const char *p, size_t len)
{
  size_t keep;

  if (len >= PLAIN_TAIL)
    {
      memcpy (s->tail, p + len - PLAIN_TAIL, PLAIN_TAIL);
      s->tail_len = PLAIN_TAIL;
      return;
    }
  keep = s->tail_len + len > PLAIN_TAIL ? PLAIN_TAIL - len : s->tail_len;
  memmove (s->tail, s->tail + s->tail_len - keep, keep);
  memcpy (s->tail + keep, p, len);
  s->tail_len = keep + len;
}

static void
plain_feed (pan_scan_stream_t s, const char *p, size_t len)
{
  s->chunk = p;
  s->cur_off = s->off;
  s->cur_nl = s->nl;
  s->err = pan_scanner_feed (s->scanner, p, len, plain_hit_cb, s);
  s->nl = s->cur_nl + count_nl (p + (s->cur_off - s->off),
                                len - (s->cur_off - s->off));
  s->off += len;
  s->chunk = NULL;
  keep_tail (s, p, len);
}


/*
 * Messages.
 */

/* Count a message that starts at the current line.  */
static void
begin_message (pan_scan_stream_t s)
{
  s->message++;
  s->msg_line = s->line;
}

/* Start walking the header block and body of the current message.  */
static void
start_walk (pan_scan_stream_t s)
{
  s->err = pan_mime_scan_new (s->scanner, NULL, NULL, mime_hit_cb, s,
                              &s->mime);
}

static void
end_message (pan_scan_stream_t s)
{
  gpg_error_t err = 0;

  if (s->mime)
    err = pan_mime_scan_finish (s->mime);
  pan_mime_scan_release (s->mime);
  s->mime = NULL;
  if (!s->err)
    s->err = err;
}

/* The "From " line of a new message starts.  */
static void
begin_envelope (pan_scan_stream_t s)
{
  end_message (s);
  begin_message (s);
  s->envelope = 1;
}

static void
end_envelope (pan_scan_stream_t s)
{
  s->envelope = 0;
  s->err = pan_scanner_finish (s->scanner, envelope_hit_cb, s);
  if (!s->err)
    start_walk (s);
}

/* Hand P/LEN, part of one line (its end if it ends in LF), to the
 * envelope or the message.  */
static void
message_bytes (pan_scan_stream_t s, const char *p, size_t len)
{
  int eol = len && p[len - 1] == '\n';

  if (s->err || !len)
    return;
  if (s->envelope)
    {
      s->err = pan_scanner_feed (s->scanner, p, len, envelope_hit_cb, s);
      if (eol && !s->err)
        end_envelope (s);
    }
  else
    {
      if (!s->mime)
        {
          begin_message (s);    /* Text before the first "From ".  */
          start_walk (s);
        }
      if (!s->err)
        s->err = pan_mime_scan_feed (s->mime, p, len);
    }
  if (eol)
    s->line++;
}

/* Collect the first bytes of a line into HOLD; return the bytes of P
 * used.  */
static size_t
hold_bytes (pan_scan_stream_t s, const char *p, const char *end)
{
  const char *start = p;

  while (s->holdlen < FROM_LEN && p < end
         && !(s->holdlen && s->hold[s->holdlen - 1] == '\n'))
    s->hold[s->holdlen++] = *p++;
  return p - start;
}

/* Decide whether the held start of a line begins a message.  */
static void
release_hold (pan_scan_stream_t s)
{
  if (s->holdlen == FROM_LEN && !memcmp (s->hold, FROM_LINE, FROM_LEN))
    begin_envelope (s);
  s->bol = s->hold[s->holdlen - 1] == '\n';
  message_bytes (s, s->hold, s->holdlen);
  pani_wipe (s->hold, sizeof s->hold);
  s->holdlen = 0;
}

static void
mbox_feed (pan_scan_stream_t s, const char *p, size_t len)
{
  const char *end = p + len, *q;
  size_t n;

  while (p < end && !s->err)
    {
      if (s->bol)
        {
          p += hold_bytes (s, p, end);
          if (s->holdlen == FROM_LEN || s->hold[s->holdlen - 1] == '\n')
            release_hold (s);
          continue;
        }
      q = memchr (p, '\n', end - p);
      n = q ? (size_t)(q + 1 - p) : (size_t)(end - p);
      message_bytes (s, p, n);
      s->bol = q != NULL;
      p += n;
    }
}

static void
mbox_finish (pan_scan_stream_t s)
{
  if (s->holdlen)
    {
      message_bytes (s, s->hold, s->holdlen);
      pani_wipe (s->hold, sizeof s->hold);
      s->holdlen = 0;
    }
  if (s->envelope && !s->err)
    end_envelope (s);
  end_message (s);
}


/*
 * Streams.
 */

gpg_error_t
pan_scan_stream_new (pan_scanner_t scanner, const char *path,
                     pan_scan_format_t format,
                     const struct pan_scan_options *options,
                     pan_scan_stream_t *r_stream)
{
  gpg_error_t err;
  pan_scan_stream_t s;

  if (!r_stream)
    return gpg_error (GPG_ERR_INV_VALUE);
  *r_stream = NULL;
  if (!path || !options || format < PAN_SCAN_PLAIN
      || format > PAN_SCAN_MESSAGE)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(s = calloc (1, sizeof *s)))
    return gpg_error_from_syserror ();
  s->format = format;
  s->hit_cb = options->hit_cb;
  s->opaque = options->opaque;
  s->line = 1;
  s->bol = 1;
  s->scanner = scanner;
  s->own_scanner = !scanner;
  err = scanner ? 0 : pan_scanner_new (NULL, 0, &s->scanner);
  if (!err)
    err = masked_copy (path, &s->path);
  if (!err && format == PAN_SCAN_MESSAGE)
    {
      begin_message (s);
      start_walk (s);
      err = s->err;
    }
  if (!err)
    {
      *r_stream = s;
      s = NULL;
    }
  pan_scan_stream_release (s);
  return err;
}

gpg_error_t
pan_scan_stream_feed (pan_scan_stream_t s, const void *buf, size_t len)
{
  if (!s || (!buf && len))
    return gpg_error (GPG_ERR_INV_VALUE);
  if (s->err || !len)
    return s->err;
  if (s->format == PAN_SCAN_PLAIN)
    plain_feed (s, buf, len);
  else if (s->format == PAN_SCAN_MBOX)
    mbox_feed (s, buf, len);
  else
    s->err = pan_mime_scan_feed (s->mime, buf, len);
  return s->err;
}

gpg_error_t
pan_scan_stream_finish (pan_scan_stream_t s)
{
  if (!s)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (s->err)
    return s->err;
  if (s->format == PAN_SCAN_PLAIN)
    s->err = pan_scanner_finish (s->scanner, plain_hit_cb, s);
  else if (s->format == PAN_SCAN_MBOX)
    mbox_finish (s);
  else
    end_message (s);
  return s->err;
}

void
pan_scan_stream_release (pan_scan_stream_t s)
{
  if (!s)
    return;
  pan_mime_scan_release (s->mime);
  if (s->own_scanner)
    pan_scanner_release (s->scanner);
  else if (s->scanner)
    pan_scanner_finish (s->scanner, NULL, NULL);   /* Reset it.  */
  free (s->path);
  pani_wipe (s, sizeof *s);
  free (s);
}

/* Return true if PATH's last component ends in ".eml" (any case).  */
static int
has_eml_suffix (const char *path)
{
  size_t n = strlen (path);

  return n >= 4 && path[n - 4] == '.'
         && (path[n - 3] | 0x20) == 'e' && (path[n - 2] | 0x20) == 'm'
         && (path[n - 1] | 0x20) == 'l';
}

pan_scan_format_t
pan_scan_format_detect (const char *path, int in_maildir, const void *head,
                        size_t len)
{
  if (head && len >= FROM_LEN && !memcmp (head, FROM_LINE, FROM_LEN))
    return PAN_SCAN_MBOX;
  if (in_maildir || (path && has_eml_suffix (path)))
    return PAN_SCAN_MESSAGE;
  return PAN_SCAN_PLAIN;
}


/*
 * Walking.
 */

/* Directories being walked, to refuse loops (bind mounts).  */
struct ancestor
{
  dev_t dev;
  ino_t ino;
};

struct walk
{
  const struct pan_scan_options *o;
  pan_scanner_t scanner;
  char *buf;                    /* PAN_SCAN_CHUNK bytes.  */
  size_t used;                  /* Of BUF, since it was last wiped.  */
  struct ancestor anc[PAN_SCAN_MAX_DEPTH + 1];
  size_t nanc;
  gpg_error_t err;              /* Fatal: stops the walk.  */
};

/* Where a path is: the directory to open it from, its name there and
 * its path as given.  */
struct where
{
  int dirfd;
  const char *name;
  const char *path;
  unsigned int depth;
  int in_maildir;
};

/* Report EVENT of the path at W to the file callback.  */
static void
tell (struct walk *w, const struct where *at, pan_scan_event_t event,
      pan_scan_format_t format, unsigned long long bytes, gpg_error_t err,
      const char *why)
{
  struct pan_scan_file f;
  char *path = NULL, *reason = NULL;
  gpg_error_t rc;

  if (w->err || !w->o->file_cb)
    return;
  if ((rc = masked_copy (at->path, &path)))
    goto leave;
  if (why && !(reason = pani_strdupf ("%s: %s", path, why)))
    {
      rc = gpg_error_from_syserror ();
      goto leave;
    }
  f.path = path;
  f.event = event;
  f.format = format;
  f.depth = at->depth;
  f.bytes = bytes;
  f.err = err;
  f.reason = reason;
  rc = w->o->file_cb (w->o->opaque, &f);

 leave:
  w->err = rc;
  free (reason);
  free (path);
}

static void
tell_skip (struct walk *w, const struct where *at, const char *why)
{
  tell (w, at, PAN_SCAN_SKIPPED, PAN_SCAN_PLAIN, 0, 0, why);
}

/* Report that WHAT failed with ERR for the path at AT; a lack of
 * memory stops the walk.  */
static void
tell_err (struct walk *w, const struct where *at, gpg_error_t err,
          const char *what)
{
  char *why;

  if (gpg_err_code (err) == GPG_ERR_ENOMEM)
    {
      w->err = err;
      return;
    }
  if (!(why = pani_strdupf ("%s: %s", what, gpg_strerror (err))))
    w->err = gpg_error_from_syserror ();
  else
    tell (w, at, PAN_SCAN_FAILED, PAN_SCAN_PLAIN, 0, err, why);
  free (why);
}

/* Report the system error of the last call about the path at AT.  */
static void
tell_syserr (struct walk *w, const struct where *at, const char *what)
{
  tell_err (w, at, gpg_error_from_syserror (), what);
}

static int
excluded (const struct walk *w, const char *path)
{
  const char *base = strrchr (path, '/');
  const char *const *g;

  base = base && base[1] ? base + 1 : path;
  for (g = w->o->exclude; g && *g; g++)
    if (!fnmatch (*g, path, 0) || !fnmatch (*g, base, 0))
      return 1;
  return 0;
}

/* Return true if the directory open at FD is cur/, new/ or tmp/ of a
 * Maildir: it is one of those of its parent, which has cur/ and new/.  */
static int
is_maildir_dir (int fd)
{
  struct stat self, cur, new, tmp;

  if (fstat (fd, &self) || fstatat (fd, "../cur", &cur, 0)
      || fstatat (fd, "../new", &new, 0)
      || !S_ISDIR (cur.st_mode) || !S_ISDIR (new.st_mode))
    return 0;
  if (fstatat (fd, "../tmp", &tmp, 0))
    tmp = cur;
  return (self.st_dev == cur.st_dev && self.st_ino == cur.st_ino)
         || (self.st_dev == new.st_dev && self.st_ino == new.st_ino)
         || (self.st_dev == tmp.st_dev && self.st_ino == tmp.st_ino);
}

/* Return true if the directory holding the path given as PATH is one
 * of a Maildir.  */
static int
parent_is_maildir (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *dir = slash ? pani_strndup (path, slash - path + 1) : NULL;
  int fd, yes = 0;

  if (slash && !dir)
    return 0;
  fd = open (dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      yes = is_maildir_dir (fd);
      close (fd);
    }
  free (dir);
  return yes;
}


/*
 * Files.
 */

/* Read up to LEN bytes from FD into BUF, short only at end of file.  */
static ssize_t
read_full (int fd, char *buf, size_t len)
{
  size_t got = 0;
  ssize_t n;

  while (got < len)
    {
      n = read (fd, buf + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (!n)
        break;
      got += n;
    }
  return got;
}

static int
looks_binary (const char *buf, size_t len)
{
  return memchr (buf, 0, len < PAN_SCAN_BINARY_TEST
                         ? len : PAN_SCAN_BINARY_TEST) != NULL;
}

/* Feed the file open at FD, whose first LEN bytes are in W->BUF, to
 * STREAM, counting the bytes in *R_TOTAL; return a read error.  */
static gpg_error_t
stream_file (struct walk *w, const struct where *at, int fd,
             pan_scan_stream_t stream, size_t len,
             unsigned long long *r_total)
{
  ssize_t n = len;

  *r_total = 0;
  while (n > 0)
    {
      *r_total += n;
      if ((w->err = pan_scan_stream_feed (stream, w->buf, n)))
        return 0;
      tell (w, at, PAN_SCAN_PROGRESS, PAN_SCAN_PLAIN, *r_total, 0, NULL);
      if (w->err || (size_t)n < PAN_SCAN_CHUNK)
        break;
      n = read_full (fd, w->buf, PAN_SCAN_CHUNK);
      if (n > 0 && (size_t)n > w->used)
        w->used = n;
    }
  if (n < 0)
    return gpg_error_from_syserror ();
  if (!w->err)
    w->err = pan_scan_stream_finish (stream);
  return 0;
}

/* Scan the regular file open at FD.  */
static void
scan_fd (struct walk *w, const struct where *at, int fd)
{
  pan_scan_stream_t stream = NULL;
  pan_scan_format_t format;
  ssize_t n = read_full (fd, w->buf, PAN_SCAN_CHUNK);
  unsigned long long total;
  gpg_error_t err;

  if (n < 0)
    {
      tell_syserr (w, at, "cannot read");
      return;
    }
  w->used = n;
  if (w->o->skip_binary && looks_binary (w->buf, n))
    {
      tell_skip (w, at, "binary (a NUL byte in its first 8 KiB)");
      return;
    }
  format = pan_scan_format_detect (at->path, at->in_maildir, w->buf, n);
  if ((w->err = pan_scan_stream_new (w->scanner, at->path, format, w->o,
                                     &stream)))
    return;
  err = stream_file (w, at, fd, stream, n, &total);
  pan_scan_stream_release (stream);
  if (err)
    tell_err (w, at, err, "cannot read");
  else
    tell (w, at, PAN_SCAN_SCANNED, format, total, 0, NULL);
}

static void
scan_file (struct walk *w, const struct where *at, int follow)
{
  struct stat st;
  int fd = openat (at->dirfd, at->name, O_RDONLY | O_CLOEXEC | O_NOCTTY
                   | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));

  if (fd < 0)
    {
      tell_syserr (w, at, "cannot open");
      return;
    }
  if (fstat (fd, &st))
    tell_syserr (w, at, "cannot stat");
  else if (!S_ISREG (st.st_mode))
    tell_skip (w, at, "not a regular file (it changed during the scan)");
  else
    scan_fd (w, at, fd);
  close (fd);
  pani_wipe (w->buf, w->used);
  w->used = 0;
}


/*
 * Directories.
 */

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The names in a directory: their text one after the other, each with
 * its NUL, and V pointing at each.  */
struct names
{
  struct pani_buf text;
  char **v;
  size_t n;
};

static void
free_names (struct names *ns)
{
  pani_buf_free (&ns->text);
  free (ns->v);
  ns->v = NULL;
  ns->n = 0;
}

/* Point NS->V at each of the NS->N names in NS->TEXT.  */
static gpg_error_t
index_names (struct names *ns)
{
  char *p;
  size_t i;

  if (!ns->n)
    return 0;
  if (!(ns->v = calloc (ns->n, sizeof *ns->v)))
    return gpg_error_from_syserror ();
  for (i = 0, p = ns->text.data; i < ns->n; i++, p += strlen (p) + 1)
    ns->v[i] = p;
  return 0;
}

/* Read the names in the directory open at FD, sorted, into NS.  */
static gpg_error_t
read_names (int fd, struct names *ns)
{
  gpg_error_t err = 0;
  struct dirent *de;
  int dfd = dup (fd);
  DIR *dir = dfd < 0 ? NULL : fdopendir (dfd);

  if (!dir)
    {
      err = gpg_error_from_syserror ();
      if (dfd >= 0)
        close (dfd);
      return err;
    }
  for (errno = 0; (de = readdir (dir)); errno = 0)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      {
        pani_buf_put (&ns->text, de->d_name, strlen (de->d_name) + 1);
        ns->n++;
      }
  if (errno)
    err = gpg_error_from_syserror ();
  closedir (dir);
  if (!err)
    err = pani_buf_error (&ns->text);
  if (!err)
    err = index_names (ns);
  if (err)
    free_names (ns);
  else if (ns->n)
    qsort (ns->v, ns->n, sizeof *ns->v, cmp_names);
  return err;
}

static void walk_path (struct walk *w, const struct where *at, int follow);

/* Walk the entries NS of the directory open at FD.  */
static void
walk_entries (struct walk *w, const struct where *at, int fd,
              const struct names *ns)
{
  size_t i, plen = strlen (at->path);
  int slash = plen && at->path[plen - 1] == '/';
  struct where child;
  char *path;

  child.dirfd = fd;
  child.depth = at->depth + 1;
  child.in_maildir = is_maildir_dir (fd);
  for (i = 0; i < ns->n && !w->err; i++)
    {
      if (!(path = pani_strdupf ("%s%s%s", at->path, slash ? "" : "/",
                                 ns->v[i])))
        {
          w->err = gpg_error_from_syserror ();
          break;
        }
      child.name = ns->v[i];
      child.path = path;
      walk_path (w, &child, 0);
      free (path);
    }
}

/* Return true if the directory ST is one being walked.  */
static int
is_ancestor (const struct walk *w, const struct stat *st)
{
  size_t i;

  for (i = 0; i < w->nanc; i++)
    if (w->anc[i].dev == st->st_dev && w->anc[i].ino == st->st_ino)
      return 1;
  return 0;
}

static void
walk_dir (struct walk *w, const struct where *at, int follow)
{
  struct stat st;
  struct names ns = { { NULL, 0, 0, 0 }, NULL, 0 };
  gpg_error_t err;
  int fd = openat (at->dirfd, at->name, O_RDONLY | O_DIRECTORY
                           | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));

  if (fd < 0 || fstat (fd, &st))
    {
      tell_syserr (w, at, "cannot open the directory");
      goto leave;
    }
  if (is_ancestor (w, &st))
    {
      tell_skip (w, at, "directory loop (already being scanned)");
      goto leave;
    }
  if ((err = read_names (fd, &ns)))
    {
      tell_err (w, at, err, "cannot read the directory");
      goto leave;
    }
  w->anc[w->nanc].dev = st.st_dev;
  w->anc[w->nanc].ino = st.st_ino;
  w->nanc++;
  walk_entries (w, at, fd, &ns);
  w->nanc--;

 leave:
  free_names (&ns);
  if (fd >= 0)
    close (fd);
}

static void
tell_too_deep (struct walk *w, const struct where *at)
{
  char *why = pani_strdupf ("more than %d directories deep: not scanned",
                            PAN_SCAN_MAX_DEPTH);

  if (!why)
    w->err = gpg_error_from_syserror ();
  else
    tell (w, at, PAN_SCAN_FAILED, PAN_SCAN_PLAIN, 0,
          gpg_error (GPG_ERR_TOO_LARGE), why);
  free (why);
}

/* Walk the path at AT, following a symbolic link to it if FOLLOW.  */
static void
walk_path (struct walk *w, const struct where *at, int follow)
{
  struct stat st;

  if (excluded (w, at->path))
    tell_skip (w, at, "excluded");
  else if (fstatat (at->dirfd, at->name, &st,
                    follow ? 0 : AT_SYMLINK_NOFOLLOW))
    tell_syserr (w, at, "cannot stat");
  else if (S_ISLNK (st.st_mode))
    tell_skip (w, at, "symbolic link (not followed)");
  else if (S_ISDIR (st.st_mode) && at->depth >= PAN_SCAN_MAX_DEPTH)
    tell_too_deep (w, at);
  else if (S_ISDIR (st.st_mode))
    walk_dir (w, at, follow);
  else if (S_ISREG (st.st_mode))
    scan_file (w, at, follow);
  else
    tell_skip (w, at, "not a regular file (device, FIFO or socket)");
}

gpg_error_t
pan_scan_path (pan_scanner_t scanner, const char *path,
               const struct pan_scan_options *options)
{
  struct walk *w;
  struct where at;
  gpg_error_t err;

  if (!path || !*path || !options)
    return gpg_error (GPG_ERR_INV_VALUE);
  if (!(w = calloc (1, sizeof *w)) || !(w->buf = malloc (PAN_SCAN_CHUNK)))
    {
      err = gpg_error_from_syserror ();
      free (w);
      return err;
    }
  w->o = options;
  w->scanner = scanner;
  at.dirfd = AT_FDCWD;
  at.name = path;
  at.path = path;
  at.depth = 0;
  at.in_maildir = parent_is_maildir (path);
  walk_path (w, &at, 1);
  err = w->err;
  pani_wipe (w->buf, PAN_SCAN_CHUNK);
  free (w->buf);
  free (w);
  return err;
}
