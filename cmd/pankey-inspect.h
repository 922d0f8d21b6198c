/* pankey-inspect.h - pankey inspect: what a key file holds  */
#ifndef PANKEY_INSPECT_H
#define PANKEY_INSPECT_H

#include <stddef.h>

/* pankey inspect --file FILE [--json]: print each key or certificate
 * of FILE ("-": stdin, at most the home's max-key-size) with its
 * fingerprints, user IDs, algorithms, expiry and whether enroll would
 * accept it, under the policy of the home HOME (NULL: --home was not
 * given; then the default home if it can be opened, else the default
 * policy).  Nothing is changed or recorded.  Return the exit code.  */
int pankey_inspect (const char *home, const char *file, int json);

#endif /* PANKEY_INSPECT_H */
