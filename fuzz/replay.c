/* replay.c - run a libFuzzer target over files, without libFuzzer.
 *
 * Built with each fuzz target so that "make check" replays the seed
 * corpus (and any crash reproducers added to it) in every build,
 * including the sanitizer build.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
replay_file (const char *path)
{
  FILE *fp = fopen (path, "rb");
  unsigned char *buf = NULL;
  size_t size = 0, n;
  unsigned char chunk[4096];

  if (!fp)
    {
      perror (path);
      return 1;
    }
  while ((n = fread (chunk, 1, sizeof chunk, fp)) > 0)
    {
      unsigned char *tmp = realloc (buf, size + n);
      if (!tmp)
        {
          fclose (fp);
          free (buf);
          return 1;
        }
      buf = tmp;
      for (size_t i = 0; i < n; i++)
        buf[size + i] = chunk[i];
      size += n;
    }
  fclose (fp);
  LLVMFuzzerTestOneInput (buf ? buf : (unsigned char *)"", size);
  free (buf);
  return 0;
}

int
main (int argc, char **argv)
{
  int rc = 0;

  for (int i = 1; i < argc; i++)
    rc |= replay_file (argv[i]);
  return rc;
}
