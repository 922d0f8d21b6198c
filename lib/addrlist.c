/* addrlist.c - RFC 5322 address lists and the normal form of addresses
 *
 * Address lists follow RFC 5322 section 3.4 with the obsolete syntax of
 * section 4.4 that real mail still uses: phrases with dots, CFWS around
 * dots and '@', empty list elements.  An obs-route ("<@relay:user@host>")
 * is parsed and dropped, as section 4.4 says it must be ignored.
 * Comments never become display names.  A group must be closed by ';'.
 * Atoms and quoted strings may hold 8-bit bytes (RFC 6532).  Encoded
 * words in display names are decoded by rfc2047.c, strictly.
 *
 * The input may carry message plaintext: every buffer is wiped before
 * it is freed and no reason string quotes the input; reasons give
 * character positions and address numbers instead.  */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "panmail.h"
#include "util.h"
#include "rfc2047-int.h"
#include "addrlist-int.h"

/* Comments nested deeper than this are refused.  */
#define MAX_COMMENT_DEPTH 64

/* The longest addr-spec (in normal form) we accept: a line's worth.  */
#define MAX_ADDR_LEN 998


/*
 * Lexer for address lists: turns the value into tokens, drops white
 * space and comments (noting them in the next token's WS flag) and
 * removes quoting.  Token texts live in one scratch buffer no longer
 * than the input.
 */
enum tok_type
{
  T_END = 0,
  T_ATOM,   /* 1*atext, 8-bit bytes included.  */
  T_QSTR,   /* Quoted string, quotes and quoting gone. */
  T_DLIT,   /* Domain literal with brackets.  */
  T_SPECIAL /* One of < > @ , ; : . in CH.  */
};

struct token
{
  enum tok_type type;
  int ch;
  const char *text;
  size_t len;
  int ws; /* White space or a comment came before.  */
};

struct lexer
{
  const unsigned char *s; /* Start of the input.  */
  const unsigned char *p; /* Current position.  */
  char *scratch;
  size_t slen;
  size_t scratch_size;
  struct token *toks;
  size_t ntoks;
  size_t size;
  int done; /* The T_END token is there.  */
  int no_comments;
  char **r_reason;
};

static int
is_special (int c)
{
  return c && strchr ("()<>[]:;@\\,.\"", c) != NULL;
}

static int
is_atext (int c)
{
  return c >= 128 || (c > 32 && c < 127 && !is_special (c));
}

static int
is_cfws_start (int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(';
}

static gpg_error_t
lx_error (struct lexer *lx, const char *what)
{
  return pani_reason (lx->r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "%s, character %zu: %s",
                      lx->no_comments ? "address" : "address list",
                      (size_t)(lx->p - lx->s) + 1, what);
}

static gpg_error_t
lx_push (struct lexer *lx, enum tok_type type, int ch, size_t text_start,
         int ws)
{
  struct token *tmp;
  size_t size;

  if (lx->ntoks == lx->size)
    {
      size = lx->size ? lx->size * 2 : 32;
      tmp = realloc (lx->toks, size * sizeof *tmp);
      if (!tmp)
        return gpg_error (GPG_ERR_ENOMEM);
      lx->toks = tmp;
      lx->size = size;
    }
  tmp = lx->toks + lx->ntoks++;
  tmp->type = type;
  tmp->ch = ch;
  tmp->text = lx->scratch + text_start;
  tmp->len = lx->slen - text_start;
  tmp->ws = ws;
  lx->done = type == T_END;
  return 0;
}

static void
lx_emit (struct lexer *lx, int c)
{
  lx->scratch[lx->slen++] = (char)c;
}

/* Skip a comment at LX->P, nested comments and quoted pairs included,
 * without recursion.  */
static gpg_error_t
lx_comment (struct lexer *lx)
{
  const unsigned char *open = lx->p;
  int depth = 0;

  if (lx->no_comments)
    return lx_error (lx, "comment not allowed here");
  do
    {
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated comment");
        }
      if (*lx->p == '(' && ++depth > MAX_COMMENT_DEPTH)
        return lx_error (lx, "comments nested too deeply");
      if (*lx->p == ')')
        depth--;
      if (*lx->p == '\\' && lx->p[1])
        lx->p++;
      lx->p++;
    }
  while (depth);
  return 0;
}

/* Return true if C may stand in a quoted string or after a backslash:
 * anything but NUL and the control characters other than HTAB.  */
static int
is_qchar (int c)
{
  return c == '\t' || (c && !pani_is_ctrl (c));
}

static gpg_error_t
lx_quoted (struct lexer *lx, int ws)
{
  size_t start = lx->slen;
  const unsigned char *open = lx->p++;

  for (; *lx->p != '"'; lx->p++)
    {
      if (*lx->p == '\r' || *lx->p == '\n')
        continue; /* Folding inside the quotes.  */
      if (*lx->p == '\\')
        lx->p++;
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated quoted string");
        }
      if (!is_qchar (*lx->p))
        return lx_error (lx, "control character in quoted string");
      lx_emit (lx, *lx->p);
    }
  lx->p++;
  return lx_push (lx, T_QSTR, 0, start, ws);
}

/* Scan a domain literal; white space inside is dropped, quoted pairs
 * are refused so that the normal form stays simple.  */
static gpg_error_t
lx_literal (struct lexer *lx, int ws)
{
  size_t start = lx->slen;
  const unsigned char *open = lx->p;

  lx_emit (lx, *lx->p++);
  for (; *lx->p != ']'; lx->p++)
    {
      if (is_cfws_start (*lx->p) && *lx->p != '(')
        continue;
      if (!*lx->p)
        {
          lx->p = open;
          return lx_error (lx, "unterminated domain literal");
        }
      if (*lx->p < 33 || *lx->p > 126 || *lx->p == '[' || *lx->p == '\\')
        return lx_error (lx, "invalid character in domain literal");
      lx_emit (lx, *lx->p);
    }
  lx_emit (lx, *lx->p++);
  return lx_push (lx, T_DLIT, 0, start, ws);
}

static gpg_error_t
lx_atom (struct lexer *lx, int ws)
{
  size_t start = lx->slen;

  while (is_atext (*lx->p))
    lx_emit (lx, *lx->p++);
  return lx_push (lx, T_ATOM, 0, start, ws);
}

/* Scan one token (or the end) after white space and comments.  */
static gpg_error_t
lx_token (struct lexer *lx)
{
  gpg_error_t err;
  int ws = 0;
  int c;

  while (is_cfws_start (*lx->p))
    {
      ws = 1;
      if (*lx->p != '(')
        lx->p++;
      else if ((err = lx_comment (lx)))
        return err;
    }
  c = *lx->p;
  if (!c)
    return lx_push (lx, T_END, 0, lx->slen, ws);
  if (c == '"')
    return lx_quoted (lx, ws);
  if (c == '[')
    return lx_literal (lx, ws);
  if (is_atext (c))
    return lx_atom (lx, ws);
  if (strchr ("<>@,;:.", c))
    {
      lx->p++;
      return lx_push (lx, T_SPECIAL, c, lx->slen, ws);
    }
  if (c == ')')
    return lx_error (lx, "')' without '('");
  if (c == ']')
    return lx_error (lx, "']' without '['");
  if (c == '\\')
    return lx_error (lx, "backslash outside quotes");
  return lx_error (lx, "control character");
}

static gpg_error_t
lx_run (struct lexer *lx, const char *value)
{
  gpg_error_t err = 0;

  lx->s = lx->p = (const unsigned char *)value;
  lx->scratch_size = strlen (value) + 1;
  if (!(lx->scratch = malloc (lx->scratch_size)))
    err = gpg_error (GPG_ERR_ENOMEM);
  while (!err && !lx->done)
    err = lx_token (lx);
  return err;
}

static void
lx_release (struct lexer *lx)
{
  pani_wipe_free (lx->scratch, lx->scratch_size);
  free (lx->toks);
}


/*
 * Parser for address lists over the tokens.  The grammar has a fixed
 * depth (list, group, mailbox), so there is no recursion; a phrase may
 * be scanned twice (to see whether a mailbox or a group follows), which
 * keeps the work linear.
 */
struct mailbox
{
  char *addr;
  char *display;
};

struct pan_addrlist
{
  struct mailbox *items;
  size_t count;
  size_t size;
};

struct parser
{
  const struct token *toks;
  size_t i;
  size_t elem; /* Number of the address; 0: a bare one. */
  struct pan_addrlist *out;
  char **r_reason;
};

static const struct token *
cur (struct parser *ps)
{
  return ps->toks + ps->i;
}

static int
at_special (struct parser *ps, int ch)
{
  return cur (ps)->type == T_SPECIAL && cur (ps)->ch == ch;
}

static int
at_word (struct parser *ps)
{
  return cur (ps)->type == T_ATOM || cur (ps)->type == T_QSTR;
}

static gpg_error_t
ps_error (struct parser *ps, const char *what)
{
  if (!ps->elem)
    return pani_reason (ps->r_reason, gpg_error (GPG_ERR_INV_DATA),
                        "address: %s", what);
  return pani_reason (ps->r_reason, gpg_error (GPG_ERR_INV_DATA),
                      "address %zu: %s", ps->elem, what);
}

static gpg_error_t
list_push (struct pan_addrlist *list, char *addr, char *display)
{
  struct mailbox *tmp;
  size_t size;

  if (list->count == list->size)
    {
      size = list->size ? list->size * 2 : 8;
      tmp = realloc (list->items, size * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      list->items = tmp;
      list->size = size;
    }
  list->items[list->count].addr = addr;
  list->items[list->count].display = display;
  list->count++;
  return 0;
}

/* Return true if S/N is a dot-atom-text (8-bit bytes counted as atext). */
static int
is_dot_atom (const char *s, size_t n)
{
  size_t i;

  if (!n || s[0] == '.' || s[n - 1] == '.')
    return 0;
  for (i = 0; i < n; i++)
    if (s[i] == '.' ? s[i + 1] == '.' : !is_atext ((unsigned char)s[i]))
      return 0;
  return 1;
}

/* Append the local part S/N to OUT, quoted only if it must be.  */
static void
put_local (struct pani_buf *out, const char *s, size_t n)
{
  size_t i;

  if (is_dot_atom (s, n))
    {
      pani_buf_put (out, s, n);
      return;
    }
  pani_buf_putc (out, '"');
  for (i = 0; i < n; i++)
    {
      if (s[i] == '"' || s[i] == '\\')
        pani_buf_putc (out, '\\');
      pani_buf_putc (out, s[i]);
    }
  pani_buf_putc (out, '"');
}

/* Parse a local part: word *("." word).  Its content, without quoting,
 * goes to OUT.  */
static gpg_error_t
parse_local (struct parser *ps, struct pani_buf *out)
{
  for (;;)
    {
      if (!at_word (ps))
        return ps_error (ps, "invalid local part");
      pani_buf_put (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      if (!at_special (ps, '.'))
        return 0;
      pani_buf_putc (out, '.');
      ps->i++;
    }
}

static void
put_lower (struct pani_buf *out, const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    pani_buf_putc (out, pani_ascii_lower ((unsigned char)s[i]));
}

/* Parse a domain: a domain literal or atom *("." atom), lower-cased to
 * OUT.  */
static gpg_error_t
parse_domain (struct parser *ps, struct pani_buf *out)
{
  if (cur (ps)->type == T_DLIT)
    {
      put_lower (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      return 0;
    }
  for (;;)
    {
      if (cur (ps)->type != T_ATOM)
        return ps_error (ps, "invalid domain");
      put_lower (out, cur (ps)->text, cur (ps)->len);
      ps->i++;
      if (!at_special (ps, '.'))
        return 0;
      pani_buf_putc (out, '.');
      ps->i++;
    }
}

/* Parse an addr-spec and store its normal form at *R_ADDR.  */
static gpg_error_t
parse_addr_spec (struct parser *ps, char **r_addr)
{
  gpg_error_t err;
  struct pani_buf local = { NULL, 0, 0, 0 };
  struct pani_buf addr = { NULL, 0, 0, 0 };

  *r_addr = NULL;
  if ((err = parse_local (ps, &local)))
    goto leave;
  if (!at_special (ps, '@'))
    {
      err = ps_error (ps, "not an address (no '@' after the local part)");
      goto leave;
    }
  ps->i++;
  put_local (&addr, local.data ? local.data : "", local.len);
  pani_buf_putc (&addr, '@');
  if ((err = parse_domain (ps, &addr)))
    goto leave;
  if (!addr.failed && addr.len > MAX_ADDR_LEN)
    {
      err = ps_error (ps, "address longer than 998 characters");
      goto leave;
    }
  if (!(*r_addr = pani_buf_take (&addr)))
    err = gpg_error (GPG_ERR_ENOMEM);

leave:
  pani_buf_free (&local);
  pani_buf_free (&addr);
  return err;
}

/* Skip an obs-route "@domain,@domain:" after '<'; RFC 5322 4.4 says to
 * ignore it.  */
static gpg_error_t
skip_route (struct parser *ps)
{
  struct pani_buf scratch = { NULL, 0, 0, 0 };
  gpg_error_t err = 0;

  while (!err && at_special (ps, '@'))
    {
      ps->i++;
      err = parse_domain (ps, &scratch);
      while (!err && at_special (ps, ','))
        ps->i++;
    }
  pani_buf_free (&scratch);
  if (!err && !at_special (ps, ':'))
    err = ps_error (ps, "invalid route in angle brackets");
  ps->i++;
  return err;
}

static gpg_error_t
parse_angle (struct parser *ps, char **r_addr)
{
  gpg_error_t err;

  *r_addr = NULL;
  ps->i++; /* The '<'.  */
  if (at_special (ps, '>'))
    return ps_error (ps, "empty address in angle brackets");
  if (at_special (ps, '@') && (err = skip_route (ps)))
    return err;
  if ((err = parse_addr_spec (ps, r_addr)))
    return err;
  if (at_special (ps, '>'))
    {
      ps->i++;
      return 0;
    }
  free (*r_addr);
  *r_addr = NULL;
  return ps_error (ps, "missing '>'");
}

static void
skip_phrase (struct parser *ps)
{
  while (at_word (ps) || at_special (ps, '.'))
    ps->i++;
}

/* Add the word T of a phrase to the display name being decoded by DEC,
 * after white space if SEP.  */
static void
phrase_word (struct pani_rfc2047 *dec, const struct token *t, int sep)
{
  char ch = (char)t->ch;

  if (t->type == T_ATOM)
    pani_rfc2047_word (dec, t->text, t->len, sep);
  else if (t->type == T_QSTR)
    pani_rfc2047_plain (dec, t->text, t->len, sep);
  else
    pani_rfc2047_plain (dec, &ch, 1, sep);
}

/* Parse a phrase into a display name at *R_DISPLAY (NULL if empty):
 * its words joined by single spaces, encoded words decoded (strictly;
 * not in quoted strings, RFC 2047 section 5).  */
static gpg_error_t
parse_phrase (struct parser *ps, char **r_display)
{
  struct pani_buf out = { NULL, 0, 0, 0 };
  struct pani_rfc2047 dec;
  int first = 1;

  *r_display = NULL;
  pani_rfc2047_begin (&dec, &out, PANI_RFC2047_STRICT);
  for (; at_word (ps) || at_special (ps, '.'); ps->i++, first = 0)
    phrase_word (&dec, cur (ps), !first && cur (ps)->ws);
  pani_rfc2047_end (&dec);
  if (out.failed)
    {
      pani_buf_free (&out);
      return gpg_error (GPG_ERR_ENOMEM);
    }
  if (out.len)
    *r_display = pani_buf_take (&out);
  pani_buf_free (&out);
  return 0;
}

/* Parse a mailbox: name-addr or addr-spec.  */
static gpg_error_t
parse_mailbox (struct parser *ps)
{
  gpg_error_t err;
  size_t start = ps->i;
  char *display = NULL;
  char *addr = NULL;

  skip_phrase (ps);
  if (at_special (ps, '<'))
    {
      ps->i = start;
      if (at_special (ps, '.')) /* obs-phrase starts with a word.  */
        err = ps_error (ps, "a display name starts with a dot");
      else if (!(err = parse_phrase (ps, &display)))
        err = parse_angle (ps, &addr);
    }
  else if (at_special (ps, ':'))
    err = ps_error (ps, "group inside a group");
  else if (start == ps->i)
    err = ps_error (ps, "expected an address");
  else
    {
      ps->i = start;
      err = parse_addr_spec (ps, &addr);
    }
  if (!err)
    err = list_push (ps->out, addr, display);
  if (err)
    {
      pani_wipe_free_str (display);
      free (addr);
    }
  return err;
}

/* Parse mailboxes separated by commas, empty elements allowed, up to
 * the end (IN_GROUP false) or a ';' (IN_GROUP true).  */
static gpg_error_t parse_address (struct parser *ps);

static gpg_error_t
parse_list (struct parser *ps, int in_group)
{
  gpg_error_t err;

  for (;;)
    {
      if (cur (ps)->type == T_END)
        return in_group ? ps_error (ps, "group not closed by ';'") : 0;
      if (in_group && at_special (ps, ';'))
        return 0;
      if (at_special (ps, ','))
        {
          ps->i++;
          continue;
        }
      ps->elem++;
      err = in_group ? parse_mailbox (ps) : parse_address (ps);
      if (err)
        return err;
      if (at_special (ps, ','))
        ps->i++;
      else if (cur (ps)->type != T_END
               && !(in_group && at_special (ps, ';')))
        return ps_error (ps, "expected ',' after the address");
    }
}

/* Parse "display-name : [mailbox-list] ;" starting at the name.  */
static gpg_error_t
parse_group (struct parser *ps, size_t start)
{
  gpg_error_t err;

  if (start == ps->i)
    return ps_error (ps, "group without a name");
  ps->i = start;
  if (at_special (ps, '.')) /* obs-phrase starts with a word.  */
    return ps_error (ps, "a group name starts with a dot");
  skip_phrase (ps);
  ps->i++; /* The ':'.  */
  if ((err = parse_list (ps, 1)))
    return err;
  ps->i++; /* The ';'.  */
  return 0;
}

static gpg_error_t
parse_address (struct parser *ps)
{
  size_t start = ps->i;

  skip_phrase (ps);
  if (at_special (ps, ':'))
    return parse_group (ps, start);
  ps->i = start;
  return parse_mailbox (ps);
}

static void
list_clear (struct pan_addrlist *list)
{
  size_t i;

  for (i = 0; i < list->count; i++)
    {
      pani_wipe_free_str (list->items[i].addr);
      pani_wipe_free_str (list->items[i].display);
    }
  free (list->items);
  memset (list, 0, sizeof *list);
}

/* Move the mailboxes of FROM to the end of LIST.  */
static gpg_error_t
list_append (struct pan_addrlist *list, struct pan_addrlist *from)
{
  struct mailbox *tmp;
  size_t need = list->count + from->count;

  if (need > list->size)
    {
      tmp = realloc (list->items, need * sizeof *tmp);
      if (!tmp)
        return gpg_error_from_syserror ();
      list->items = tmp;
      list->size = need;
    }
  if (from->count)
    memcpy (list->items + list->count, from->items,
            from->count * sizeof *tmp);
  list->count = need;
  from->count = 0;
  return 0;
}

gpg_error_t
pan_addrlist_new (pan_addrlist_t *r_list)
{
  *r_list = calloc (1, sizeof **r_list);
  return *r_list ? 0 : gpg_error_from_syserror ();
}

void
pan_addrlist_release (pan_addrlist_t list)
{
  if (!list)
    return;
  list_clear (list);
  free (list);
}

gpg_error_t
pan_addrlist_parse (pan_addrlist_t list, const char *value, char **r_reason)
{
  gpg_error_t err;
  struct lexer lx;
  struct parser ps;
  struct pan_addrlist tmp = { NULL, 0, 0 };

  if (r_reason)
    *r_reason = NULL;
  if (!list || !value)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&lx, 0, sizeof lx);
  lx.r_reason = r_reason;
  if ((err = lx_run (&lx, value)))
    goto leave;
  memset (&ps, 0, sizeof ps);
  ps.toks = lx.toks;
  ps.out = &tmp;
  ps.r_reason = r_reason;
  if ((err = parse_list (&ps, 0)))
    goto leave;
  err = list_append (list, &tmp);

leave:
  list_clear (&tmp);
  lx_release (&lx);
  return err;
}

size_t
pan_addrlist_count (pan_addrlist_t list)
{
  return list ? list->count : 0;
}

const char *
pan_addrlist_addr (pan_addrlist_t list, size_t idx)
{
  return list && idx < list->count ? list->items[idx].addr : NULL;
}

const char *
pan_addrlist_display (pan_addrlist_t list, size_t idx)
{
  return list && idx < list->count ? list->items[idx].display : NULL;
}

/* Refuse white space (other than around the whole) between the tokens
 * of a bare address.  */
static gpg_error_t
check_bare (const struct lexer *lx, char **r_reason)
{
  size_t i;

  for (i = 1; i < lx->ntoks; i++)
    if (lx->toks[i].ws && lx->toks[i].type != T_END)
      return pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                          "not a bare address (white space inside)");
  return 0;
}

gpg_error_t
pan_addr_normalize (const char *addr, char **r_norm, char **r_reason)
{
  gpg_error_t err;
  struct lexer lx;
  struct parser ps;

  *r_norm = NULL;
  if (r_reason)
    *r_reason = NULL;
  if (!addr)
    return gpg_error (GPG_ERR_INV_VALUE);
  memset (&lx, 0, sizeof lx);
  lx.no_comments = 1;
  lx.r_reason = r_reason;
  if ((err = lx_run (&lx, addr)) || (err = check_bare (&lx, r_reason)))
    goto leave;
  memset (&ps, 0, sizeof ps);
  ps.toks = lx.toks;
  ps.r_reason = r_reason;
  if ((err = parse_addr_spec (&ps, r_norm)))
    goto leave;
  if (cur (&ps)->type != T_END)
    {
      err = pani_reason (r_reason, gpg_error (GPG_ERR_INV_DATA),
                         "not a bare address (local@domain)");
      free (*r_norm);
      *r_norm = NULL;
    }

leave:
  lx_release (&lx);
  return err;
}

int
pani_addr_same (const char *a, const char *b, int exact_local)
{
  const char *at_a = strrchr (a, '@'), *at_b = strrchr (b, '@');
  size_t i, n;

  if (!at_a || !at_b)
    return !strcmp (a, b);
  n = (size_t)(at_a - a);
  if (n != (size_t)(at_b - b) || pani_ascii_casecmp (at_a + 1, at_b + 1))
    return 0;
  if (exact_local)
    return !memcmp (a, b, n);
  for (i = 0; i < n; i++)
    if (pani_ascii_lower ((unsigned char)a[i])
        != pani_ascii_lower ((unsigned char)b[i]))
      return 0;
  return 1;
}

int
pani_addr_case_exact (pan_config_t config)
{
  const char *v = pan_config_get (config, "address-case");

  return v && !strcmp (v, "exact");
}

int
pan_addr_same (pan_config_t config, const char *a, const char *b)
{
  return a && b && pani_addr_same (a, b, pani_addr_case_exact (config));
}
