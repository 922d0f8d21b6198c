/* panaudit-keys.c - "panaudit keys": the inventory of trusted keys
 *
 * One row per enrolled key (active, retired or revoked) and per key of
 * the home itself (audit log MAC key, PAN hashing key), with what an
 * assessor asks for (PCI DSS 4.2.1.1, 12.3.3): algorithm and size,
 * validity, who enrolled it when, when it is due for rotation, its
 * status and when it was last used (from the audit log).  */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gpg-error.h>

#include "panmail.h"
#include "cmdutil.h"
#include "panaudit-keys.h"

#define EXIT_ERROR 2

/* One row of the inventory; NULL or 0 fields are unknown.  */
struct row
{
  const char *kind; /* "recipient" or "home" */
  const char *address;
  const char *protocol;
  const char *fingerprint;
  const char *algorithm;
  const char *enc_algorithm;
  unsigned int bits;
  time_t created;
  time_t expires;
  int never_expires;
  time_t enrolled_at;
  const char *enrolled_by;
  time_t rotation_due;
  const char *status;
  const char *key_state;
  time_t last_used;
  const char *purpose;
  const char *file;
  time_t changed_at; /* When the enrollment ended.  */
  const char *changed_by;
  const char *change_reason; /* Why (revoke: reason and note).  */
};

/* When each record of the registry was last used, and the home keys. */
struct usage
{
  time_t *last;        /* One per registry record.  */
  time_t first_record; /* Audit log: its first record.  */
  time_t last_record;
  time_t last_pan; /* Last record with a PAN hash.  */
};

static const char *const columns[] = {
  "kind",        "address",      "protocol",
  "fingerprint", "algorithm",    "encryption_algorithm",
  "bits",        "created",      "expires",
  "enrolled_at", "enrolled_by",  "rotation_due",
  "status",      "key_state",    "last_used",
  "purpose",     "file",         "changed_at",
  "changed_by",  "change_reason"
};

#define N_COLUMNS (sizeof columns / sizeof *columns)


/*
 * Last use, from the audit log.
 */

/* Note the use of the keys named in REC.  */
static void
note_use (pan_config_t config, pan_registry_t reg, struct usage *u,
          const struct pan_audit_record *rec)
{
  const struct pan_audit_event *ev = &rec->ev;
  size_t i, j;

  if (!u->first_record)
    u->first_record = rec->time;
  u->last_record = rec->time;
  if (ev->npans)
    u->last_pan = rec->time;
  if (!ev->event
      || (strcmp (ev->event, "send") && strcmp (ev->event, "queue")))
    return;
  for (i = 0; i < ev->nkeys; i++)
    for (j = 0; j < pan_registry_count (reg); j++)
      if (ev->keys[i].fingerprint && ev->keys[i].address
          && !strcmp (ev->keys[i].fingerprint,
                      pan_registry_get (reg, j)->fingerprint)
          && pan_addr_same (config, ev->keys[i].address,
                            pan_registry_get (reg, j)->address))
        u->last[j] = rec->time;
}

static int
read_usage (pan_ctx_t ctx, pan_registry_t reg, struct usage *u)
{
  gpg_error_t err;
  pan_audit_reader_t reader = NULL;
  const struct pan_audit_record *rec;
  char *reason = NULL;

  if ((err = pan_audit_open (ctx, NULL, &reader, &reason)))
    {
      cmd_error (err, "reading the audit log", reason);
      return EXIT_ERROR;
    }
  while (!(err = pan_audit_next (reader, &rec)))
    note_use (pan_ctx_config (ctx), reg, u, rec);
  pan_audit_close (reader);
  if (gpg_err_code (err) != GPG_ERR_EOF)
    {
      cmd_error (err, "reading the audit log", NULL);
      return EXIT_ERROR;
    }
  return 0;
}


/*
 * Output.
 */

/* Format T as a date-time (or a date for the table) into BUF; NULL for
 * an unknown time.  */
static const char *
fmt_time (time_t t, int date_only, char *buf, size_t size)
{
  if (!t)
    return NULL;
  pan_time_format (t, buf, size);
  if (date_only)
    buf[10] = 0;
  return buf;
}

/* Return the text of column COL of ROW into BUF; NULL if unknown.  */
static const char *
cell (const struct row *row, size_t col, int date_only, char *buf,
      size_t size)
{
  switch (col)
    {
    case 0: return row->kind;
    case 1: return row->address;
    case 2: return row->protocol;
    case 3: return row->fingerprint;
    case 4: return row->algorithm;
    case 5: return row->enc_algorithm;
    case 6:
      if (!row->bits)
        return NULL;
      snprintf (buf, size, "%u", row->bits);
      return buf;
    case 7: return fmt_time (row->created, date_only, buf, size);
    case 8:
      if (row->never_expires)
        return "never";
      return fmt_time (row->expires, date_only, buf, size);
    case 9: return fmt_time (row->enrolled_at, date_only, buf, size);
    case 10: return row->enrolled_by;
    case 11: return fmt_time (row->rotation_due, date_only, buf, size);
    case 12: return row->status;
    case 13: return row->key_state;
    case 14: return fmt_time (row->last_used, date_only, buf, size);
    case 15: return row->purpose;
    case 16: return row->file;
    case 17: return fmt_time (row->changed_at, date_only, buf, size);
    case 18: return row->changed_by;
    case 19: return row->change_reason;
    default: return NULL;
    }
}

static void
put_json_row (const struct row *row)
{
  char buf[64];
  const char *text;

  es_putc ('{', es_stdout);
  for (size_t col = 0; col < N_COLUMNS; col++)
    {
      text = cell (row, col, 0, buf, sizeof buf);
      if (col == 8 && row->never_expires)
        text = NULL;
      if (col == 6 && text)
        es_fprintf (es_stdout, ",\"%s\":%s", columns[col], text);
      else
        cmd_put_json_member (es_stdout, col ? "," : "", columns[col], text);
    }
  es_fputs ("}\n", es_stdout);
}

/* Print TEXT as one CSV field, quoted, control characters replaced and
 * a leading = + - @ defused for spreadsheets.  */
static void
put_csv (const char *text)
{
  if (!text || !*text)
    return;
  es_putc ('"', es_stdout);
  if (strchr ("=+-@", *text))
    es_putc ('\'', es_stdout);
  for (; *text; text++)
    if (*text == '"')
      es_fputs ("\"\"", es_stdout);
    else
      es_putc ((unsigned char)*text < 0x20 || *text == 0x7f ? '?' : *text,
               es_stdout);
  es_putc ('"', es_stdout);
}

static void
put_csv_row (const struct row *row)
{
  char buf[64];

  for (size_t col = 0; col < N_COLUMNS; col++)
    {
      if (col)
        es_putc (',', es_stdout);
      put_csv (cell (row, col, 0, buf, sizeof buf));
    }
  es_putc ('\n', es_stdout);
}

/* The columns of the table: index into COLUMNS and width.  */
static const struct
{
  size_t col;
  int width;
  const char *title;
} table[] = {
  {1,   30, "ADDRESS/PURPOSE" },
  { 2,  7,  "PROTO"           },
  { 3,  40, "FINGERPRINT/FILE"},
  { 4,  11, "ALGO"            },
  { 5,  9,  "ENC"             },
  { 7,  10, "CREATED"         },
  { 8,  10, "EXPIRES"         },
  { 9,  10, "ENROLLED"        },
  { 11, 10, "ROTATE-BY"       },
  { 12, 7,  "STATUS"          },
  { 13, 8,  "KEY"             },
  { 14, 10, "LAST-USED"       },
  { 17, 10, "ENDED"           },
  { 10, 0,  "BY"              }
};

#define N_TABLE (sizeof table / sizeof *table)

static void
put_table_head (void)
{
  for (size_t i = 0; i < N_TABLE; i++)
    es_fprintf (es_stdout, "%-*s%s", table[i].width, table[i].title,
                i + 1 < N_TABLE ? " " : "\n");
}

/* Return the spaces that fill TEXT up to WIDTH.  */
static int
pad (int width, const char *text)
{
  int len = (int)strlen (text);

  return len < width ? width - len : 0;
}

static void
put_table_row (const struct row *row)
{
  char buf[64];
  const char *text;
  size_t col;

  for (size_t i = 0; i < N_TABLE; i++)
    {
      col = table[i].col;
      if (col == 1 && !row->address)
        col = 15;
      else if (col == 3 && !row->fingerprint)
        col = 16;
      if (!(text = cell (row, col, 1, buf, sizeof buf)))
        text = "-";
      cmd_put_safe (es_stdout, text);
      if (i + 1 < N_TABLE)
        es_fprintf (es_stdout, "%*s ", pad (table[i].width, text), "");
    }
  es_putc ('\n', es_stdout);
}

/* How rows are printed.  */
struct output
{
  int json, csv;
};

static void
put_row (const struct output *out, const struct row *row)
{
  if (out->json)
    put_json_row (row);
  else if (out->csv)
    put_csv_row (row);
  else
    put_table_row (row);
}


/*
 * Rows.
 */

static void
recipient_row (pan_ctx_t ctx, const struct output *out,
               const struct pan_recipient *rec, time_t last_used, time_t now)
{
  struct pan_key_status st;
  const struct pan_key_info *info = &st.info;
  struct row row;
  char *reason = NULL;

  pan_review_key (ctx, rec, now, -1, PAN_REVIEW_ENDED, &st);
  memset (&row, 0, sizeof row);
  row.kind = "recipient";
  row.address = rec->address;
  row.protocol = pan_protocol_name (rec->protocol);
  row.fingerprint = rec->fingerprint;
  row.algorithm = info->present ? info->algorithm : NULL;
  row.enc_algorithm = info->present && *info->enc_algorithm
    ? info->enc_algorithm
    : NULL;
  row.bits = info->bits;
  row.created = info->created;
  row.expires = info->expires;
  row.never_expires = info->present && !info->expires;
  row.enrolled_at = rec->enrolled_at;
  row.enrolled_by = rec->enrolled_by;
  row.rotation_due = st.rotation_due;
  row.status = pan_status_name (rec->status);
  /* The state of the enrollment, as pankey list shows it (retired or
   * revoked once it ended), from the same pan_review_key.  */
  row.key_state = pan_review_state_name (st.state);
  row.last_used = last_used;
  row.changed_at = st.changed_at;
  row.changed_by = st.changed_by;
  if (st.reason && st.note)
    row.change_reason = reason = gpgrt_bsprintf ("%s: %s", st.reason,
                                                 st.note);
  else
    row.change_reason = st.reason ? st.reason : st.note;
  row.purpose = "encryption to the recipient";
  put_row (out, &row);
  gpgrt_free (reason);
  pan_review_key_release (&st);
}

/* Print the row of the home's own key NAME, used for PURPOSE.  */
static void
home_row (pan_ctx_t ctx, const struct output *out, const char *name,
          const char *purpose, const char *algorithm, time_t created,
          time_t last_used)
{
  struct row row;
  struct stat st;
  char *path = pan_ctx_path (ctx, name);
  int present = path && !stat (path, &st);

  memset (&row, 0, sizeof row);
  row.kind = "home";
  row.protocol = "none";
  row.algorithm = algorithm;
  row.bits = 256;
  row.created = created ? created : present ? st.st_mtime : 0;
  row.never_expires = present;
  row.status = present ? "active" : "missing";
  row.key_state = present ? "ok" : "missing";
  row.last_used = last_used;
  row.purpose = purpose;
  row.file = path;
  put_row (out, &row);
  free (path);
}

static void
home_rows (pan_ctx_t ctx, const struct output *out, const struct usage *u)
{
  home_row (ctx, out, "audit.key", "audit log MAC (forward-secure)",
            "hmac-sha256", u->first_record, u->last_record);
  home_row (ctx, out, "pan.key", "PAN keyed hashes", "hmac-sha256", 0,
            u->last_pan);
}

int
panaudit_keys (pan_ctx_t ctx, int json, int csv)
{
  pan_registry_t reg = NULL;
  struct usage u;
  struct output out = { json, csv };
  time_t now = time (NULL);
  int rc;

  memset (&u, 0, sizeof u);
  if ((rc = cmd_load_registry (ctx, &reg, EXIT_ERROR)))
    return rc;
  u.last = calloc (pan_registry_count (reg) + 1, sizeof *u.last);
  if (!u.last)
    {
      cmd_error (gpg_error_from_syserror (), "panaudit keys", NULL);
      rc = EXIT_ERROR;
      goto leave;
    }
  if ((rc = read_usage (ctx, reg, &u)))
    goto leave;
  if (csv)
    for (size_t col = 0; col < N_COLUMNS; col++)
      es_fprintf (es_stdout, "%s%s", columns[col],
                  col + 1 < N_COLUMNS ? "," : "\n");
  else if (!json)
    put_table_head ();
  for (size_t i = 0; i < pan_registry_count (reg); i++)
    recipient_row (ctx, &out, pan_registry_get (reg, i), u.last[i], now);
  home_rows (ctx, &out, &u);

leave:
  free (u.last);
  pan_registry_release (reg);
  return rc;
}
