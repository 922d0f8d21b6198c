/* config.c - the home's panmail.conf
 *
 * Each line is "NAME VALUE": the name, one or more spaces or tabs, and
 * the value up to the end of the line (trailing white space removed).
 * Lines whose first non-blank character is '#' are comments.  The
 * table of settings below is the single source for the parser,
 * pan_config_get and the commented default file.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "config-int.h"

/* The longest line, without its LF, that the parser accepts.  */
#define MAX_LINE 4096

/* The largest configuration file that pani_config_load reads.  */
#define MAX_FILE (1024 * 1024)

enum setting_type
{
  SETTING_STRING,
  SETTING_INT,
  SETTING_CHOICE /* One word of a fixed list.  */
};

struct setting
{
  const char *name;
  enum setting_type type;
  const char *def;     /* The default, as written in the file.  */
  long min, max;       /* The range of an integer setting.  */
  const char *help;    /* Lines of explanation for the file.  */
  const char *choices; /* Space-separated words of a choice.  */
};

static const struct setting settings[] = {
  {"sendmail",                SETTING_STRING, "/usr/sbin/sendmail", 0,    0,
   "The MTA program and its leading arguments (split at white space;\n"
    "quotes group).  pansend appends \"-i -f SENDER\", the DSN options\n"
    "given, \"--\" and every recipient; a -f or -r here is the envelope\n"
    "sender when neither pansend -f nor envelope-sender gives one, and\n"
    "is taken out, as is -t.",                                                                                                                          NULL          },
  { "envelope-sender",        SETTING_STRING, "",                   0,    0,
   "The envelope sender (where bounces go) when pansend is given no -f\n"
    "or -r; empty: the -f of sendmail above, else the login user.",                                                                                     NULL          },
  { "mta-timeout",            SETTING_INT,    "300",                1,    86400,
   "Seconds the MTA may take to take a copy; then its process group is\n"
    "killed and the copy is queued (exit 75).",                                                                                                         NULL          },
  { "gpg-timeout",            SETTING_INT,    "120",                1,    86400,
   "Seconds gpg or gpgsm may take to encrypt a copy, plus one second\n"
    "per MiB of message, not counting the time spent waiting for the\n"
    "message on stdin; then it is killed and nothing is sent (exit 77).",                                                                               NULL          },
  { "queue-lifetime",         SETTING_INT,    "432000",             60,   31536000,
   "Seconds a queued copy is kept and retried (default 5 days); then\n"
    "it is dropped with a \"drop\" audit record.",                                                                                                      NULL          },
  { "lock-timeout",           SETTING_INT,    "10",                 1,    3600,
   "Seconds to wait for the lock on the recipient registry and on the\n"
    "audit log.",                                                                                                                                       NULL          },
  { "max-key-size",           SETTING_INT,    "1048576",            1024, 67108864,
   "The largest key file, in bytes, that pankey enroll reads.",                                                                                         NULL          },
  { "expire-warn-days",       SETTING_INT,    "30",                 1,    3650,
   "Days before a key expires from which pankey check and pansend\n"
    "warn.",                                                                                                                                            NULL          },
  { "cryptoperiod-days",      SETTING_INT,    "365",                1,    3650,
   "Days after enrollment when a key is due for rotation (pankey check\n"
    "warns).",                                                                                                                                          NULL          },
  { "min-rsa-bits",           SETTING_INT,    "2048",               1024, 16384,
   "RSA keys below this size are refused at enroll, refresh and send.",                                                                                 NULL          },
  { "warn-rsa-bits",          SETTING_INT,    "3072",               1024, 16384,
   "RSA keys below this size are accepted with a warning.",                                                                                             NULL          },
  { "allowed-curves",         SETTING_STRING,
   "cv25519 ed25519 nistp256 nistp384 nistp521 brainpoolP256r1"
    " brainpoolP384r1 brainpoolP512r1",                             0,    0,        "Elliptic curves allowed for keys (space-separated, gpg's names).",
   NULL                                                                                                                                                               },
  { "smime-revocation-check", SETTING_CHOICE, "crl",                0,    0,
   "How gpgsm makes sure that an S/MIME recipient's certificate is not\n"
    "revoked: crl (CRLs through dirmngr, also for certificates without a\n"
    "distribution point, whose CRL must then be loaded with\n"
    "\"pankey load-crl\"), ocsp (OCSP, CRLs as the fallback)\n"
    "or off (closed test set-ups only).  When a check is on and cannot be\n"
    "done, nothing is sent.",                                                                                                                           "crl ocsp off"},
  { "protected-headers",      SETTING_CHOICE, "on",                 0,    0,
   "Carry Subject, From, To, Cc, Date, Message-ID and Reply-To inside\n"
    "the encryption (protected-headers=\"v1\") and replace the Subject\n"
    "that travels in clear with protected-subject.",                                                                                                    "on off"      },
  { "protected-subject",      SETTING_STRING, "[...]",              0,    0,
   "The Subject that travels in clear when headers are protected.",                                                                                     NULL          },
  { "signing-key",            SETTING_STRING, "none",               0,    0,
   "Fingerprint of the OpenPGP key (its secret key in the home's\n"
    "gnupg/) that signs every message, or none.  Its passphrase comes\n"
    "from gpg-agent (preset it) or pansend --passphrase-fd; it is never\n"
    "stored in the home.  If signing fails, nothing is sent.",                                                                                          NULL          },
  { "smime-signing-cert",     SETTING_STRING, "none",               0,    0,
   "SHA-1 fingerprint of the S/MIME certificate (its secret key\n"
    "imported into the home's gnupg/ with gpgsm) that signs every S/MIME\n"
    "copy (signed-data inside enveloped-data), or none.  Its passphrase\n"
    "comes from gpg-agent or pansend --passphrase-fd.  If signing fails,\n"
    "nothing is sent.",                                                                                                                                 NULL          },
  { "audit-syslog",           SETTING_CHOICE, "off",                0,    0,
   "Also send a one-line summary of each audit record to syslog (on or\n"
    "off).  The summary holds no message text.",                                                                                                        "on off"      },
  { "audit-syslog-facility",  SETTING_CHOICE, "local0",             0,    0,
   "The syslog facility for audit-syslog.",                                                                                                             "local0 local1 local2 local3 local4 local5 local6 local7 user mail"
    " daemon auth authpriv"                                                                                                },
  { "address-case",           SETTING_CHOICE, "insensitive",        0,    0,
   "How the local part of a recipient's address (before the @) is\n"
    "matched against the registry: insensitive (Bob@example.net is\n"
    "bob@example.net, as mail systems treat it; enrolling both is\n"
    "refused) or exact.  Domains always match ignoring case.",                                                                                          "exact"
    " insensitive"                                                                                      },
  { "audit-retention",        SETTING_INT,    "365",                1,    36500,
   "Days that closed segments of the audit log are kept: panaudit\n"
    "prune deletes only segments whose last record is older.",                                                                                          NULL          }
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

struct pan_config
{
  char *value[N_SETTINGS];       /* The value of each setting.  */
  long num[N_SETTINGS];          /* The number of an integer setting.  */
  unsigned int line[N_SETTINGS]; /* The line that set it, or 0.  */
};

#define CONFIG_HEADER                                                      \
  "# panmail.conf - configuration of panmail, see panmail.conf(5).\n"      \
  "#\n"                                                                    \
  "# Each line is \"NAME VALUE\"; lines starting with '#' are comments.\n" \
  "# Every setting is shown commented out with its default value.\n"


/* Return the index of the setting NAME of LEN bytes, or -1.  */
static int
setting_lookup (const char *name, size_t len)
{
  size_t i;

  for (i = 0; i < N_SETTINGS; i++)
    if (strlen (settings[i].name) == len
        && !memcmp (settings[i].name, name, len))
      return (int)i;
  return -1;
}

/* Parse the decimal integer S into *R_NUM; 0 if S is not one in
 * MIN..MAX.  */
static int
parse_int (const char *s, long min, long max, long *r_num)
{
  char *end;
  long num;

  if (*s < '0' || *s > '9')
    return 0;
  errno = 0;
  num = strtol (s, &end, 10);
  if (errno || *end || num < min || num > max)
    return 0;
  *r_num = num;
  return 1;
}

/* Set setting IDX of CONFIG to VALUE (already checked).  */
static gpg_error_t
config_set (pan_config_t config, int idx, const char *value)
{
  char *copy;

  if (settings[idx].type == SETTING_INT)
    {
      if (!parse_int (value, settings[idx].min, settings[idx].max,
                      &config->num[idx]))
        return gpg_error (GPG_ERR_BUG);
      copy = pani_strdupf ("%ld", config->num[idx]);
    }
  else
    copy = pani_strdup (value);
  if (!copy)
    return gpg_error_from_syserror ();
  free (config->value[idx]);
  config->value[idx] = copy;
  return 0;
}

/* Create a configuration with every setting at its default.  */
static gpg_error_t
config_new (pan_config_t *r_config)
{
  gpg_error_t err;
  pan_config_t config;
  size_t i;

  *r_config = NULL;
  if (!(config = calloc (1, sizeof *config)))
    return gpg_error_from_syserror ();
  for (i = 0; i < N_SETTINGS; i++)
    if ((err = config_set (config, (int)i, settings[i].def)))
      {
        pani_config_release (config);
        return err;
      }
  *r_config = config;
  return 0;
}

void
pani_config_release (pan_config_t config)
{
  size_t i;

  if (!config)
    return;
  for (i = 0; i < N_SETTINGS; i++)
    free (config->value[i]);
  free (config);
}

const char *
pan_config_get (pan_config_t config, const char *name)
{
  int idx = name ? setting_lookup (name, strlen (name)) : -1;

  if (idx < 0)
    return NULL;
  return config ? config->value[idx] : settings[idx].def;
}

long
pan_config_get_int (pan_config_t config, const char *name)
{
  int idx = name ? setting_lookup (name, strlen (name)) : -1;
  long num = 0;

  if (idx < 0 || settings[idx].type != SETTING_INT)
    return 0;
  if (config)
    return config->num[idx];
  parse_int (settings[idx].def, settings[idx].min, settings[idx].max, &num);
  return num;
}


/*
 * Parsing.
 */

/* The state of the parser.  */
struct parser
{
  const char *file;
  unsigned int line;
  pan_config_t config;
  char **r_reason;
};

static gpg_error_t parser_error (struct parser *p, const char *fmt, ...)
  PAN_PRINTF (2, 3);

/* Store "FILE:LINE: MESSAGE" as the reason and return
 * GPG_ERR_CONFIGURATION.  */
static gpg_error_t
parser_error (struct parser *p, const char *fmt, ...)
{
  gpg_error_t err = gpg_error (GPG_ERR_CONFIGURATION);
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (!msg)
    return err;
  pani_reason (p->r_reason, err, "%s:%u: %s", p->file, p->line, msg);
  free (msg);
  return err;
}

/* Return NULL if the LEN bytes at S hold no control character but TAB,
 * else what is wrong.  */
static const char *
text_problem (const char *s, size_t len)
{
  size_t i;

  for (i = 0; i < len; i++)
    {
      if (!s[i])
        return "a NUL byte";
      if (s[i] == '\r')
        return "a carriage return (convert the file to LF line endings)";
      if (s[i] != '\t' && pani_is_ctrl ((unsigned char)s[i]))
        return "a control character";
    }
  return NULL;
}

/* True if VALUE is one of the space-separated words of CHOICES.  */
static int
is_choice (const char *choices, const char *value)
{
  size_t len = strlen (value);

  for (const char *p = choices; *p; p += strcspn (p, " "), p += !!*p)
    if (strcspn (p, " ") == len && !strncmp (p, value, len))
      return 1;
  return 0;
}

/* Check VALUE for setting IDX.  */
static gpg_error_t
check_value (struct parser *p, int idx, const char *value)
{
  const struct setting *s = &settings[idx];
  long num;

  if (!*value)
    return parser_error (p, "setting '%s' needs a value", s->name);
  if (s->type == SETTING_INT && !parse_int (value, s->min, s->max, &num))
    return parser_error (p, "'%s' must be an integer from %ld to %ld",
                         s->name, s->min, s->max);
  if (s->type == SETTING_CHOICE && !is_choice (s->choices, value))
    return parser_error (p, "'%s' must be one of: %s", s->name, s->choices);
  return 0;
}

/* Handle "NAME VALUE" in LINE (no leading or trailing white space).  */
static gpg_error_t
parse_setting (struct parser *p, const char *line)
{
  gpg_error_t err;
  size_t namelen = strcspn (line, " \t");
  const char *value = line + namelen;
  int idx = setting_lookup (line, namelen);

  if (idx < 0)
    return parser_error (p, "unknown setting '%.*s'", (int)namelen, line);
  if (p->config->line[idx])
    return parser_error (p, "'%s' is already set at line %u",
                         settings[idx].name, p->config->line[idx]);
  while (pani_is_wsp (*value))
    value++;
  if ((err = check_value (p, idx, value)))
    return err;
  if ((err = config_set (p->config, idx, value)))
    return err;
  p->config->line[idx] = p->line;
  return 0;
}

/* Handle the line LINE of LEN bytes (without its LF).  */
static gpg_error_t
parse_line (struct parser *p, char *line, size_t len)
{
  const char *problem = text_problem (line, len);

  if (problem)
    return parser_error (p, "the line contains %s", problem);
  while (len && pani_is_wsp (line[len - 1]))
    line[--len] = 0;
  while (pani_is_wsp (*line))
    line++;
  if (!*line || *line == '#')
    return 0;
  return parse_setting (p, line);
}

gpg_error_t
pani_config_parse (const char *filename, const void *buf, size_t len,
                   pan_config_t *r_config, char **r_reason)
{
  gpg_error_t err;
  struct parser p;
  const char *s = buf, *nl;
  char *line = NULL;
  size_t pos = 0, n;

  *r_config = NULL;
  memset (&p, 0, sizeof p);
  p.file = filename ? filename : "panmail.conf";
  p.r_reason = r_reason;
  if ((err = config_new (&p.config)))
    goto leave;
  if (!(line = malloc (MAX_LINE + 1)))
    {
      err = gpg_error_from_syserror ();
      goto leave;
    }
  while (pos < len)
    {
      p.line++;
      nl = memchr (s + pos, '\n', len - pos);
      n = nl ? (size_t)(nl - (s + pos)) : len - pos;
      if (n > MAX_LINE)
        {
          err = parser_error (&p, "the line is longer than %d bytes",
                              MAX_LINE);
          goto leave;
        }
      memcpy (line, s + pos, n);
      line[n] = 0;
      if ((err = parse_line (&p, line, n)))
        goto leave;
      pos += n + (nl != NULL);
    }
  *r_config = p.config;
  p.config = NULL;

leave:
  pani_config_release (p.config);
  free (line);
  return err;
}

gpg_error_t
pani_config_load (const char *path, pan_config_t *r_config, char **r_reason)
{
  gpg_error_t err;
  char *buf = NULL, *reason = NULL;
  size_t len;

  *r_config = NULL;
  err = pani_read_file (path, MAX_FILE, &buf, &len, &reason);
  if (gpg_err_code (err) == GPG_ERR_ENOENT)
    err = config_new (r_config);
  else if (err)
    pani_reason (r_reason, err, "%s", reason ? reason : gpg_strerror (err));
  else
    err = pani_config_parse (path, buf, len, r_config, r_reason);
  free (reason);
  free (buf);
  return err;
}


/*
 * The default file.
 */

/* Write TEXT as comment lines to OUT.  */
static gpg_error_t
write_comment (const char *text, estream_t out)
{
  const char *nl;
  int n;

  for (; *text; text = nl ? nl + 1 : text + n)
    {
      nl = strchr (text, '\n');
      n = nl ? (int)(nl - text) : (int)strlen (text);
      if (es_fprintf (out, "# %.*s\n", n, text) < 0)
        return gpg_error_from_syserror ();
    }
  return 0;
}

static gpg_error_t
write_setting (const struct setting *s, estream_t out)
{
  gpg_error_t err;

  if (es_fputs ("\n", out) == EOF)
    return gpg_error_from_syserror ();
  if ((err = write_comment (s->help, out)))
    return err;
  if (s->type == SETTING_INT
      && es_fprintf (out, "# An integer from %ld to %ld.\n", s->min, s->max)
        < 0)
    return gpg_error_from_syserror ();
  if (s->type == SETTING_CHOICE
      && es_fprintf (out, "# One of: %s.\n", s->choices) < 0)
    return gpg_error_from_syserror ();
  if (es_fprintf (out, "# %s %s\n", s->name, s->def) < 0)
    return gpg_error_from_syserror ();
  return 0;
}

gpg_error_t
pani_config_write_default (estream_t out)
{
  gpg_error_t err;
  size_t i;

  if (es_fputs (CONFIG_HEADER, out) == EOF)
    return gpg_error_from_syserror ();
  for (i = 0; i < N_SETTINGS; i++)
    if ((err = write_setting (&settings[i], out)))
      return err;
  return 0;
}
