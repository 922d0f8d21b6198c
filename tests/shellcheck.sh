#!/bin/sh
# tests/shellcheck.sh - shellcheck finds nothing in the shell scripts:
# every *.sh of scripts/ and tests/, .ci/run, the bash completion and the
# Debian maintainer scripts.  A finding that is
# wrong is disabled where it occurs, with a "# shellcheck
# disable=SCnnnn" line and the reason.
#
# Environment: top_srcdir (set by make check), SHELLCHECK.
set -eu
: "${top_srcdir:=.}"
SHELLCHECK=${SHELLCHECK:-shellcheck}
cd "$top_srcdir"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{ find scripts tests -type f -name '*.sh'; echo .ci/run
  echo contrib/bash-completion/pankey
  find debian -type f \( -name '*.postinst' -o -name '*.postrm' \); } |
    sort > "$list"
n=$(wc -l < "$list")
[ "$n" -gt 0 ] || { echo "shellcheck: no scripts found"; exit 1; }

# An integration test that sets an EXIT trap of its own replaces
# lib.sh's: its handler must end in lib_cleanup (which stops the test's
# gpg-agents, checks its audit log and removes $T).
for f in tests/integration/*.sh; do
    [ "$f" = tests/integration/lib.sh ] && continue
    if grep -q '^[[:space:]]*trap .*EXIT' "$f" && ! grep -q 'lib_cleanup' "$f"; then
        echo "shellcheck: $f: an EXIT trap that does not call lib_cleanup"
        exit 1
    fi
done

# -x: follow the files the scripts source (tests/integration/lib.sh).
# shellcheck disable=SC2046
if "$SHELLCHECK" -x $(cat "$list"); then
    echo "shellcheck: $n scripts clean"
else
    exit 1
fi
