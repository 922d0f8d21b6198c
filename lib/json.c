/* json.c - a small strict JSON reader for audit records
 *
 * RFC 8259 with these restrictions: the input is UTF-8 (checked: no
 * overlong forms, no surrogates), strings may not hold U+0000, nesting
 * is limited to PANI_JSON_MAX_DEPTH and duplicate object keys are
 * refused.  Numbers are checked against the grammar and kept as text.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "json-int.h"
#include "util.h"

struct parser
{
  const unsigned char *p;
  const unsigned char *end;
  const unsigned char *start;
  int depth;
};

static gpg_error_t parse_value (struct parser *ps, struct pani_json **r_val);

static gpg_error_t
syntax_error (void)
{
  return gpg_error (GPG_ERR_INV_DATA);
}

static void
skip_ws (struct parser *ps)
{
  while (
    ps->p < ps->end
    && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

/* Read the four hex digits at P (before END) into *R_V.  */
static int
hex4 (const unsigned char *p, const unsigned char *end, unsigned long *r_v)
{
  unsigned long v = 0;
  int i, d;

  if (end - p < 4)
    return 0;
  for (i = 0; i < 4; i++)
    {
      if ((d = pani_hexval (p[i])) < 0)
        return 0;
      v = (v << 4) | d;
    }
  *r_v = v;
  return 1;
}

/* Parse the \uXXXX escape (and a following low surrogate) at PS->P,
 * which points after the 'u'.  */
static gpg_error_t
parse_uescape (struct parser *ps, struct pani_buf *sb)
{
  unsigned long cp, lo;

  if (!hex4 (ps->p, ps->end, &cp))
    return syntax_error ();
  ps->p += 4;
  if (cp >= 0xdc00 && cp <= 0xdfff)
    return syntax_error ();
  if (cp >= 0xd800 && cp <= 0xdbff)
    {
      if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u'
          || !hex4 (ps->p + 2, ps->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
        return syntax_error ();
      ps->p += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
  if (!cp)
    return syntax_error ();
  pani_buf_put_utf8 (sb, cp);
  return 0;
}

static gpg_error_t
parse_escape (struct parser *ps, struct pani_buf *sb)
{
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *hit;
  int c;

  if (ps->p >= ps->end)
    return syntax_error ();
  c = *ps->p++;
  if (c == 'u')
    return parse_uescape (ps, sb);
  if (!c || !(hit = strchr (from, c)))
    return syntax_error ();
  pani_buf_put (sb, to + (hit - from), 1);
  return 0;
}

/* Parse a string; PS->P is at the opening quote.  */
/* Return the length of the run of plain ASCII at P (no quote, no
 * backslash, no control character), copied at once.  */
static size_t
plain_run (const unsigned char *p, const unsigned char *end)
{
  size_t n = 0;

  while (p + n < end && p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"'
         && p[n] != '\\')
    n++;
  return n;
}

/* The common case of parse_string: a string of plain ASCII, without
 * escapes, copied at once.  Return 1 if it was one.  */
static int
parse_plain_string (struct parser *ps, char **r_str, gpg_error_t *r_err)
{
  size_t n = plain_run (ps->p, ps->end);

  if (ps->p + n >= ps->end || ps->p[n] != '"')
    return 0;
  *r_err = 0;
  if (!(*r_str = malloc (n + 1)))
    *r_err = gpg_error_from_syserror ();
  else
    {
      memcpy (*r_str, ps->p, n);
      (*r_str)[n] = 0;
      ps->p += n + 1;
    }
  return 1;
}

static gpg_error_t
parse_string (struct parser *ps, char **r_str)
{
  gpg_error_t err = 0;
  struct pani_buf sb = { NULL, 0, 0, 0 };
  size_t n;

  ps->p++;
  if (parse_plain_string (ps, r_str, &err))
    return err;
  while (!err && !sb.failed)
    {
      if (ps->p >= ps->end || *ps->p < 0x20)
        err = syntax_error ();
      else if (*ps->p == '"')
        break;
      else if (*ps->p == '\\')
        {
          ps->p++;
          err = parse_escape (ps, &sb);
        }
      else if ((n = plain_run (ps->p, ps->end)))
        {
          pani_buf_put (&sb, ps->p, n);
          ps->p += n;
        }
      else if (!(n = pani_utf8_len (ps->p, ps->end)))
        err = syntax_error ();
      else
        {
          pani_buf_put (&sb, ps->p, n);
          ps->p += n;
        }
    }
  if (err || (err = pani_buf_error (&sb)))
    goto leave;
  ps->p++;
  if (!(*r_str = pani_buf_take (&sb)))
    err = gpg_error (GPG_ERR_ENOMEM);

leave:
  pani_buf_free (&sb);
  return err;
}

static size_t
count_digits (const unsigned char *p, const unsigned char *end)
{
  size_t n = 0;

  while (p + n < end && p[n] >= '0' && p[n] <= '9')
    n++;
  return n;
}

/* Parse a number per the RFC 8259 grammar; keep its text.  */
static gpg_error_t
parse_number (struct parser *ps, char **r_text)
{
  const unsigned char *s = ps->p;
  size_t n;

  if (ps->p < ps->end && *ps->p == '-')
    ps->p++;
  if (!(n = count_digits (ps->p, ps->end)) || (n > 1 && *ps->p == '0'))
    return syntax_error ();
  ps->p += n;
  if (ps->p < ps->end && *ps->p == '.')
    {
      ps->p++;
      if (!(n = count_digits (ps->p, ps->end)))
        return syntax_error ();
      ps->p += n;
    }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E'))
    {
      ps->p++;
      if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
        ps->p++;
      if (!(n = count_digits (ps->p, ps->end)))
        return syntax_error ();
      ps->p += n;
    }
  if (!(*r_text = malloc (ps->p - s + 1)))
    return gpg_error_from_syserror ();
  memcpy (*r_text, s, ps->p - s);
  (*r_text)[ps->p - s] = 0;
  return 0;
}

/* Append ITEM to V, with its KEY when V is an object (a member always
 * has one, an element never).  Both are V's from now on, or freed if
 * this fails.  */
static gpg_error_t
add_item (struct pani_json *v, struct pani_json *item, char *key)
{
  gpg_error_t err;
  struct pani_json **items;
  char **keys;

  if (!(items = realloc (v->items, (v->n + 1) * sizeof *items)))
    goto nomem;
  v->items = items;
  if (key)
    {
      if (!(keys = realloc (v->keys, (v->n + 1) * sizeof *keys)))
        goto nomem;
      v->keys = keys;
      v->keys[v->n] = key;
    }
  v->items[v->n++] = item;
  return 0;

nomem:
  err = gpg_error_from_syserror ();
  free (key);
  pani_json_release (item);
  return err;
}

/* Parse one member ("key": value) of the object V.  */
static gpg_error_t
parse_member (struct parser *ps, struct pani_json *v)
{
  gpg_error_t err;
  char *key = NULL;
  struct pani_json *item = NULL;

  skip_ws (ps);
  if (ps->p >= ps->end || *ps->p != '"')
    return syntax_error ();
  if ((err = parse_string (ps, &key)))
    return err;
  skip_ws (ps);
  if (pani_json_get (v, key) || ps->p >= ps->end || *ps->p++ != ':')
    err = syntax_error ();
  else if (!(err = parse_value (ps, &item)))
    return add_item (v, item, key);
  free (key);
  return err;
}

static gpg_error_t
parse_element (struct parser *ps, struct pani_json *v)
{
  gpg_error_t err;
  struct pani_json *item = NULL;

  if (v->type == PANI_JSON_OBJECT)
    return parse_member (ps, v);
  if ((err = parse_value (ps, &item)))
    return err;
  return add_item (v, item, NULL);
}

/* Parse the items of an array or object; PS->P is after the opening
 * bracket, CLOSE is the closing one.  */
static gpg_error_t
parse_container (struct parser *ps, struct pani_json *v, int close)
{
  gpg_error_t err;

  if (++ps->depth > PANI_JSON_MAX_DEPTH)
    return syntax_error ();
  skip_ws (ps);
  if (ps->p < ps->end && *ps->p == close)
    {
      ps->p++;
      ps->depth--;
      return 0;
    }
  for (;;)
    {
      if ((err = parse_element (ps, v)))
        return err;
      skip_ws (ps);
      if (ps->p >= ps->end)
        return syntax_error ();
      if (*ps->p == close)
        break;
      if (*ps->p++ != ',')
        return syntax_error ();
    }
  ps->p++;
  ps->depth--;
  return 0;
}

static gpg_error_t
parse_literal (struct parser *ps, struct pani_json *v)
{
  static const struct
  {
    const char *word;
    enum pani_json_type type;
  } lits[] = {
    {"null",   PANI_JSON_NULL },
    { "false", PANI_JSON_FALSE},
    { "true",  PANI_JSON_TRUE }
  };
  size_t i, n;

  for (i = 0; i < sizeof lits / sizeof *lits; i++)
    {
      n = strlen (lits[i].word);
      if ((size_t)(ps->end - ps->p) >= n && !memcmp (ps->p, lits[i].word, n))
        {
          ps->p += n;
          v->type = lits[i].type;
          return 0;
        }
    }
  return syntax_error ();
}

static gpg_error_t
parse_typed (struct parser *ps, struct pani_json *v)
{
  int c = *ps->p;

  if (c == '{' || c == '[')
    {
      v->type = c == '{' ? PANI_JSON_OBJECT : PANI_JSON_ARRAY;
      ps->p++;
      return parse_container (ps, v, c == '{' ? '}' : ']');
    }
  if (c == '"')
    {
      v->type = PANI_JSON_STRING;
      return parse_string (ps, &v->text);
    }
  if (c == '-' || (c >= '0' && c <= '9'))
    {
      v->type = PANI_JSON_NUMBER;
      return parse_number (ps, &v->text);
    }
  return parse_literal (ps, v);
}

static gpg_error_t
parse_value (struct parser *ps, struct pani_json **r_val)
{
  gpg_error_t err;
  struct pani_json *v;

  *r_val = NULL;
  skip_ws (ps);
  if (ps->p >= ps->end)
    return syntax_error ();
  if (!(v = calloc (1, sizeof *v)))
    return gpg_error_from_syserror ();
  v->type = PANI_JSON_NULL;
  if ((err = parse_typed (ps, v)))
    {
      pani_json_release (v);
      return err;
    }
  *r_val = v;
  return 0;
}

gpg_error_t
pani_json_parse (const char *buf, size_t len, struct pani_json **r_value,
                 size_t *r_errpos)
{
  gpg_error_t err;
  struct parser ps;
  struct pani_json *v = NULL;

  *r_value = NULL;
  ps.start = ps.p = (const unsigned char *)buf;
  ps.end = ps.p + len;
  ps.depth = 0;
  err = parse_value (&ps, &v);
  if (!err)
    {
      skip_ws (&ps);
      if (ps.p != ps.end)
        err = syntax_error ();
    }
  if (err)
    {
      if (r_errpos)
        *r_errpos = ps.p - ps.start;
      pani_json_release (v);
      return err;
    }
  *r_value = v;
  return 0;
}

void
pani_json_release (struct pani_json *value)
{
  size_t i;

  if (!value)
    return;
  for (i = 0; i < value->n; i++)
    {
      pani_json_release (value->items[i]);
      if (value->keys)
        free (value->keys[i]);
    }
  free (value->items);
  free (value->keys);
  free (value->text);
  free (value);
}

const struct pani_json *
pani_json_get (const struct pani_json *obj, const char *key)
{
  size_t i;

  if (!obj || obj->type != PANI_JSON_OBJECT)
    return NULL;
  /* The first byte first: the parser calls this for every key, to
   * refuse duplicates, so most comparisons are of different names.  */
  for (i = 0; i < obj->n; i++)
    if (obj->keys[i][0] == key[0] && !strcmp (obj->keys[i], key))
      return obj->items[i];
  return NULL;
}

int
pani_json_uint (const struct pani_json *value, unsigned long long max,
                unsigned long long *r_num)
{
  unsigned long long num = 0;
  const char *s;

  if (!value || value->type != PANI_JSON_NUMBER)
    return 0;
  for (s = value->text; *s; s++)
    {
      if (*s < '0' || *s > '9' || num > (max - (*s - '0')) / 10)
        return 0;
      num = num * 10 + (*s - '0');
    }
  *r_num = num;
  return 1;
}
