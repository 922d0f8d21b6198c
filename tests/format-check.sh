#!/bin/sh
# tests/format-check.sh - the C files of lib/, cmd/, tests/unit/ and
# fuzz/ are as clang-format formats them with the tree's .clang-format:
# "clang-format --dry-run -Werror" reports every line it would change.
# To fix a finding, run clang-format -i on the file (HACKING, Formatting).
#
# Environment: top_srcdir (set by make check), CLANG_FORMAT.
set -eu
: "${top_srcdir:=.}"
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
cd "$top_srcdir"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
find lib cmd tests/unit fuzz -type f \( -name '*.c' -o -name '*.h' \) \
    ! -name config.h | sort > "$list"
n=$(wc -l < "$list")
[ "$n" -gt 0 ] || { echo "format-check: no C files found"; exit 1; }

# shellcheck disable=SC2046
if "$CLANG_FORMAT" --style=file --dry-run -Werror $(cat "$list"); then
    echo "format-check: $n files as .clang-format formats them"
else
    echo "format-check: run '$CLANG_FORMAT -i FILE' on the files above"
    exit 1
fi
