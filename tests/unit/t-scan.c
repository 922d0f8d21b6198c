/* t-scan.c - tests for walking trees with threads, allow lists and JSON
 *
 * Builds a small tree in a temporary directory and walks it with one
 * thread and with several: the events must be the same, in the same
 * order; a callback that stops the scan stops it at once in both.  An
 * allow list marks the hits whose keyed hash it holds.  The JSON of a
 * hit is valid UTF-8 whatever its path.  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gcrypt.h>

#include "panmail.h"
#include "t-support.h"
#include "scan-allow-int.h"

#define KEY "t-scan test key"

/* The events of a walk as text.  */
struct events
{
  char text[1 << 16];
  size_t len;
  unsigned int hits, allowed;
  unsigned int stop_at; /* > 0: stop at that hit.  */
};

static void
add (struct events *ev, const char *line)
{
  size_t n = strlen (line);

  if (n < sizeof ev->text - ev->len)
    {
      memcpy (ev->text + ev->len, line, n + 1);
      ev->len += n;
    }
}

static gpg_error_t
hit_cb (void *opaque, const struct pan_scan_hit *h)
{
  struct events *ev = opaque;
  char line[512];

  ev->hits++;
  ev->allowed += h->allowed != NULL;
  snprintf (line, sizeof line, "hit %s %s %llu\n", h->path, h->masked,
            h->line);
  add (ev, line);
  if (ev->stop_at && ev->hits == ev->stop_at)
    return gpg_error (GPG_ERR_CANCELED);
  return 0;
}

static gpg_error_t
file_cb (void *opaque, const struct pan_scan_file *f)
{
  struct events *ev = opaque;
  char line[512];

  if (f->event == PAN_SCAN_PROGRESS)
    return 0;
  snprintf (line, sizeof line, "file %s %s %d\n", f->path,
            f->reason ? f->reason : "-", (int)f->event);
  add (ev, line);
  return 0;
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  char path[512];
  FILE *fp;

  snprintf (path, sizeof path, "%s/%s", dir, name);
  fp = fopen (path, "w");
  T_CHECK (fp != NULL);
  if (!fp)
    return;
  fputs (text, fp);
  fclose (fp);
}

/* A tree: files with and without PANs, a subdirectory, a symlink.  */
static void
make_tree (const char *dir)
{
  char sub[512], name[64], text[128];
  int i;

  snprintf (sub, sizeof sub, "%s/sub", dir);
  T_CHECK (!mkdir (sub, 0700));
  for (i = 0; i < 40; i++)
    {
      snprintf (name, sizeof name, "f%02d.txt", i);
      snprintf (text, sizeof text, "line\ncard %s\n",
                i % 3 ? "4111 1111 1111 1111" : "none");
      write_file (i % 2 ? dir : sub, name, text);
    }
  write_file (sub, "m.eml", "Subject: 5555555555554444\n\nbody\n");
  snprintf (sub, sizeof sub, "%s/link", dir);
  T_CHECK (!symlink ("sub", sub));
}

static gpg_error_t
walk (pan_scanner_t s, const char *dir, unsigned int jobs,
      pan_scan_allow_t allow, struct events *ev)
{
  struct pan_scan_options o;
  unsigned int stop_at = ev->stop_at;

  memset (ev, 0, sizeof *ev);
  ev->stop_at = stop_at;
  memset (&o, 0, sizeof o);
  o.hit_cb = hit_cb;
  o.file_cb = file_cb;
  o.opaque = ev;
  o.jobs = jobs;
  o.allow = allow;
  return pan_scan_path (s, dir, &o);
}

static void
test_threads (pan_scanner_t s, const char *dir)
{
  static struct events one, many;
  unsigned int jobs;

  T_ERR (walk (s, dir, 1, NULL, &one), 0);
  T_CHECK (one.hits == 27 && one.len > 0);
  for (jobs = 2; jobs <= 8; jobs += 3)
    {
      T_ERR (walk (s, dir, jobs, NULL, &many), 0);
      T_CHECK (one.len == many.len && !strcmp (one.text, many.text));
    }
  /* A callback's error stops the walk at once, with any number of
   * threads, and comes back.  */
  one.stop_at = many.stop_at = 5;
  T_ERR (walk (s, dir, 1, NULL, &one), GPG_ERR_CANCELED);
  T_ERR (walk (s, dir, 4, NULL, &many), GPG_ERR_CANCELED);
  T_CHECK (one.hits == 5 && many.hits == 5);
  T_CHECK (!strcmp (one.text, many.text));
}

static gpg_error_t
first_hash_cb (void *opaque, const struct pan_hit *hit)
{
  snprintf (opaque, 65, "%s", hit->hash);
  return 0;
}

/* An allow list with the hash of 4111111111111111 marks its hits.  */
static void
test_allow (pan_scanner_t s, const char *dir)
{
  static struct events ev;
  pan_scan_allow_t allow = NULL;
  char hash[65] = "", list[256], *reason = NULL;

  T_ERR (pan_scanner_feed (s, "4111111111111111", 16, first_hash_cb, hash),
         0);
  T_ERR (pan_scanner_finish (s, first_hash_cb, hash), 0);
  T_CHECK (strlen (hash) == 64);
  snprintf (list, sizeof list, "# test\n\n  %s  the test Visa\r\n", hash);
  T_ERR (pani_scan_allow_parse (list, strlen (list), &allow, &reason), 0);
  T_CHECK (pani_scan_allow_count (allow) == 1);
  T_STREQ (pani_scan_allow_find (allow, hash), "the test Visa");
  T_ERR (walk (s, dir, 3, allow, &ev), 0);
  T_CHECK (ev.hits == 27 && ev.allowed == 26);
  pan_scan_allow_release (allow);
  snprintf (list, sizeof list, "%s\n", hash);
  T_ERR (pani_scan_allow_parse (list, strlen (list), &allow, &reason),
         GPG_ERR_INV_VALUE);
  T_CHECK (allow == NULL && reason && strstr (reason, "line 1: no comment"));
  pan_free (reason);
  reason = NULL;
  snprintf (list, sizeof list, "%s fine\n# 4111-1111-1111-1111\n", hash);
  T_ERR (pani_scan_allow_parse (list, strlen (list), &allow, &reason),
         GPG_ERR_INV_VALUE);
  T_CHECK (reason && strstr (reason, "line 2 holds a card number"));
  pan_free (reason);
}

/* The JSON of a hit: the schema version, and valid UTF-8 for a path
 * that is not.  */
static void
test_json (void)
{
  struct pan_scan_hit h;
  char *json = NULL;

  memset (&h, 0, sizeof h);
  h.path = "dir/caf\xe9.txt";
  h.format = PAN_SCAN_PLAIN;
  h.line = 7;
  h.brand = "Visa";
  h.masked = "411111******1111";
  h.context = "a \"b\" \\ 411111******1111";
  T_ERR (pan_scan_hit_json (&h, &json), 0);
  T_STREQ (json,
           "{\"v\":1,\"path\":\"dir/caf\\ufffd.txt\","
           "\"path_hex\":\"6469722f636166e92e747874\",\"line\":7,"
           "\"masked\":\"411111******1111\",\"brand\":\"Visa\","
           "\"hash\":null,\"context\":\"a \\\"b\\\" \\\\ 411111******1111\","
           "\"message\":null,\"part\":null,\"content_type\":null,"
           "\"encoding\":null,\"header\":null,\"envelope\":false,"
           "\"undecoded\":false,\"allowed\":false,\"comment\":null}");
  pan_free (json);
  T_ERR (pan_scan_hit_json (NULL, &json), GPG_ERR_INV_VALUE);
}

/* Remove what make_tree made in DIR.  */
static void
remove_tree (const char *dir)
{
  char path[512];
  int i;

  for (i = 0; i < 40; i++)
    {
      snprintf (path, sizeof path, "%s/%sf%02d.txt", dir,
                i % 2 ? "" : "sub/", i);
      T_CHECK (!unlink (path));
    }
  snprintf (path, sizeof path, "%s/sub/m.eml", dir);
  T_CHECK (!unlink (path));
  snprintf (path, sizeof path, "%s/link", dir);
  T_CHECK (!unlink (path));
  snprintf (path, sizeof path, "%s/sub", dir);
  T_CHECK (!rmdir (path));
  T_CHECK (!rmdir (dir));
}

/* pan_mask_text masks card numbers anywhere, but keeps a fingerprint
 * or digest whose digit run happens to pass the Luhn check.  */
static void
test_mask_text (void)
{
  char *out = NULL;

  T_ERR (pan_mask_text ("key C23969CD427E3DE09904720697568E9B761185C9.",
                        &out),
         0);
  T_STREQ (out, "key C23969CD427E3DE09904720697568E9B761185C9.");
  pan_free (out);
  T_ERR (pan_mask_text ("to 4111111111111111@example.test", &out), 0);
  T_STREQ (out, "to 411111******1111@example.test");
  pan_free (out);
  /* Not a 40-digit word: masked.  */
  T_ERR (pan_mask_text ("AB4111111111111111CD", &out), 0);
  T_STREQ (out, "AB411111******1111CD");
  pan_free (out);
  /* 41 hex digits: no fingerprint, masked.  */
  T_ERR (pan_mask_text ("C23969CD427E3DE09904720697568E9B761185C9A", &out),
         0);
  T_CHECK (strstr (out, "099047****7568") != NULL);
  pan_free (out);
}

int
main (void)
{
  char dir[] = "/tmp/t-scan.XXXXXX";
  pan_scanner_t s = NULL;

  if (!gcry_check_version (NULL))
    return 1;
  gcry_control (GCRYCTL_INIT_SECMEM, 65536, 0);
  gcry_control (GCRYCTL_INITIALIZATION_FINISHED, 0);
  if (!mkdtemp (dir))
    return 1;
  make_tree (dir);
  T_ERR (pan_scanner_new (KEY, strlen (KEY), &s), 0);
  test_threads (s, dir);
  test_allow (s, dir);
  test_json ();
  test_mask_text ();
  pan_scanner_release (s);
  remove_tree (dir);
  return t_done ("t-scan");
}
