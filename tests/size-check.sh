#!/bin/sh
# tests/size-check.sh - no lib/*.c file over 1,000 lines, and no function
# of lib/*.c or cmd/*.c over 60 lines.
#
# How a function is counted: in the tree's GNU style a definition's
# braces stand alone in column 0, so a function is the lines from its
# "{" in column 0 to the next "}" in column 0, both included (blank and
# comment lines inside count; the return type, the name and the
# parameter lines above the "{" do not).  A "{" in column 0 that follows
# a line ending in "=" opens an initializer, not a function, and is not
# counted.  The function is named after the last line before it that
# starts in column 0 with an identifier and "(".
#
# Environment: top_srcdir (set by make check); MAX_FILE_LINES and
# MAX_FUNCTION_LINES override the limits.
set -eu
: "${top_srcdir:=.}"
max_file=${MAX_FILE_LINES:-1000}
max_func=${MAX_FUNCTION_LINES:-60}
cd "$top_srcdir"

status=0
for f in lib/*.c; do
    n=$(wc -l < "$f")
    if [ "$n" -gt "$max_file" ]; then
        echo "size-check: $f has $n lines (at most $max_file)"
        status=1
    fi
done

awk -v max="$max_func" '
    FNR == 1 { name = ""; open = 0; prev = "" }
    /^[A-Za-z_][A-Za-z0-9_]* *\(/ && !open {
        name = $0; sub(/ *\(.*/, "", name)
    }
    /^\{/ && !open && prev !~ /= *$/ { open = 1; start = FNR; nfunc++ }
    /^\}/ && open {
        open = 0; n = FNR - start + 1
        if (n > max) {
            printf "size-check: %s:%d: %s has %d lines (at most %d)\n",
                FILENAME, start, name, n, max
            bad++
        }
    }
    /[^ \t]/ { prev = $0 }
    END {
        printf "size-check: %d functions, %d over %d lines\n", nfunc, bad, max
        exit bad > 0
    }' lib/*.c cmd/*.c || status=1

if [ "$status" = 0 ]; then
    echo "size-check: every lib/*.c within $max_file lines, every function within $max_func"
fi
exit "$status"
