/* fuzz-proc.c - libFuzzer target for the readers of /proc that the
 * engine watchdog uses: pani_proc_stat_parse (/proc/PID/stat) and
 * pani_proc_next_pid (/proc/PID/task/TID/children)
 *
 * The input is read as both.  A parsed command name is NUL-terminated
 * within its buffer and is what lies between the first '(' and the
 * last ')'; the state is the first letter after that ')', and the
 * parent pid the number after the state (as strtol reads it), from 0 to
 * INT_MAX.  Each pid of the list is from 1 to INT_MAX, each step moves
 * forward within the text, and the pids written out again as the kernel
 * writes them read back the same.  A list as the kernel writes it
 * (digits and blanks, no leading zero, 9 digits at most) reads as the
 * strtol loop that read it before.
 */
#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_PIDS 4096

/* STATE and PPID are what follows the command name at AFTER: blanks,
 * the state letter, blanks, the parent pid.  */
static void
check_stat_fields (const char *after, char state, long ppid)
{
  char *end;

  while (isspace ((unsigned char)*after))
    after++;
  if (*after != state || ppid > INT_MAX
      || strtol (after + 1, &end, 10) != ppid || end == after + 1)
    abort ();
}

static void
check_stat (const char *text)
{
  char comm[16], state;
  long ppid;
  const char *open_paren, *close_paren;

  if (pani_proc_stat_parse (text, &ppid, &state, comm, sizeof comm))
    return;
  open_paren = strchr (text, '(');
  close_paren = strrchr (text, ')');
  if (!open_paren || !close_paren || ppid < 0)
    abort ();
  if (strnlen (comm, sizeof comm) >= sizeof comm)
    abort ();
  if (strncmp (comm, open_paren + 1, strlen (comm))
      || (strlen (comm) < sizeof comm - 1
          && open_paren + 1 + strlen (comm) != close_paren))
    abort ();
  check_stat_fields (close_paren + 1, state, ppid);
}

/* Read the pids of TEXT into PIDS (MAX at most); return how many.  */
static size_t
read_pids (const char *text, long *pids, size_t max)
{
  const char *p = text, *before;
  size_t n = 0;
  long pid;

  while (n < max)
    {
      before = p;
      if (!(pid = pani_proc_next_pid (&p)))
        {
          if (p != before)
            abort ();
          break;
        }
      if (pid < 1 || pid > INT_MAX || p <= before
          || p > text + strlen (text))
        abort ();
      pids[n++] = pid;
    }
  return n;
}

/* Is TEXT a children list as the kernel writes it?  */
static int
kernel_list (const char *text)
{
  size_t digits = 0;

  for (const char *p = text; *p; p++)
    if (*p == ' ')
      digits = 0;
    else if (*p < '0' || *p > '9' || (!digits && *p == '0') || ++digits > 9)
      return 0;
  return 1;
}

/* The list reader before pani_proc_next_pid.  */
static size_t
read_pids_strtol (const char *text, long *pids, size_t max)
{
  const char *p = text;
  char *end;
  size_t n = 0;
  long pid;

  for (; n < max && (pid = strtol (p, &end, 10)) > 0; p = end)
    pids[n++] = pid;
  return n;
}

static void
check_pids (const char *text)
{
  static long pids[MAX_PIDS], again[MAX_PIDS];
  static char list[MAX_PIDS * 12 + 1];
  size_t n = read_pids (text, pids, MAX_PIDS), len = 0;

  list[0] = 0;
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf (list + len, sizeof list - len, "%ld ", pids[i]);
  if (read_pids (list, again, MAX_PIDS) != n
      || memcmp (pids, again, n * sizeof *pids))
    abort ();
  if (kernel_list (text)
      && (read_pids_strtol (text, again, MAX_PIDS) != n
          || memcmp (pids, again, n * sizeof *pids)))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);

  if (!text)
    return 0;
  memcpy (text, data, size);
  text[size] = 0;
  check_stat (text);
  check_pids (text);
  free (text);
  return 0;
}
