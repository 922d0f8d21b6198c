/* fuzz-proc.c - libFuzzer target for the readers of /proc that the
 * engine watchdog uses: pani_proc_stat_parse (/proc/PID/stat) and
 * pani_proc_next_pid (/proc/PID/task/TID/children)
 *
 * The input is read as both.  A parsed command name is NUL-terminated
 * within its buffer and is what lies between the first '(' and the
 * last ')'; a parent pid is not negative.  Each pid of the list is from
 * 1 to INT_MAX, each step moves forward within the text, and the pids
 * written out again as the kernel writes them read back the same.
 */
#include <config.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_PIDS 4096

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
