#!/bin/sh
# tests/checks-selftest.sh - tests/layers.sh and tests/size-check.sh on
# small synthetic trees made here: each rule they enforce is broken once
# and must be reported, and a tree that keeps them must pass.
#
# Environment: top_srcdir (set by make check), CC (default cc), NM.
set -eu
: "${top_srcdir:=.}"
CC=${CC:-cc}
checks=$(cd "$top_srcdir/tests" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# tree NAME LAYER-LINES...: a new tree $tmp/NAME whose lib/README holds
# LAYER-LINES; lib/*.c are added by src.
tree () {
    t=$tmp/$1
    shift
    mkdir -p "$t/lib/.libs"
    printf '%s\n' "$@" > "$t/lib/README"
}

# src MODULE CODE: lib/MODULE.c holding CODE.
src () {
    printf '%s\n' "$2" > "$t/lib/$1.c"
}

# build: compile lib/*.c into lib/.libs/libpanmail-core.a, as libtool
# does for the convenience library.
build () {
    for c in "$t"/lib/*.c; do
        "$CC" -c -I"$t/lib" -o "${c%.c}.o" "$c"
    done
    ar rc "$t/lib/.libs/libpanmail-core.a" "$t"/lib/*.o
}

# expect RC PATTERN CHECK: CHECK (layers or size-check) on the tree exits
# RC, and its output matches the extended regular expression PATTERN.
expect () {
    if top_srcdir=$t top_builddir=$t sh "$checks/$3.sh" >"$t/out" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    if [ "$rc" != "$1" ] || ! grep -Eq -- "$2" "$t/out"; then
        echo "FAIL: $3 on $(basename "$t"): exit $rc, expected $1 and /$2/:"
        sed 's/^/    /' "$t/out"
        status=1
    else
        echo "ok: $3 on $(basename "$t"): $(grep -E -m1 -- "$2" "$t/out")"
    fi
}

base='int pani_base (int x) { return x + 1; }'
mid='int pani_base (int); int pan_mid (int x) { return pani_base (x); }'
top='int pan_mid (int); int pan_top (void) { return pan_mid (1); }'

# A good tree: arrows down, and one within a layer.
tree good 'layer 0: base' 'layer 1: mid helper' 'layer 2: top'
src base "$base"
src helper 'int pani_base (int); int pani_helper (void) { return pani_base (2); }'
src mid 'int pani_base (int); int pani_helper (void);
int pan_mid (int x) { return pani_base (x) + pani_helper (); }'
src top "$top"
build
expect 0 '4 modules in 3 layers, 4 arrows, none upward, no cycle' layers

# A call upward (base calls top), which also closes a cycle.
tree upward 'layer 0: base' 'layer 1: mid' 'layer 2: top'
src base 'int pan_top (void); int pani_base (int x) { return x ? x : pan_top (); }'
src mid "$mid"
src top "$top"
build
expect 1 'upward: base \(layer 0\) uses top \(layer 2\): pan_top' layers
expect 1 'cycle: base -> top -> mid -> base' layers

# A cycle within one layer.
tree samelayer 'layer 0: base' 'layer 1: left right'
src base "$base"
src left 'int pani_right (int); int pani_left (int x) { return x ? pani_right (x - 1) : 0; }'
src right 'int pani_left (int); int pani_right (int x) { return x ? pani_left (x - 1) : 1; }'
build
expect 1 'cycle: left -> right -> left' layers

# An include of a higher layer's internal header.
tree include 'layer 0: base' 'layer 1: mid'
src base '#include "mid-int.h"
int pani_base (int x) { return x + 1; }'
printf 'int pan_mid (int);\n' > "$t/lib/mid-int.h"
src mid "$mid"
build
expect 1 'upward: base \(layer 0\) uses mid \(layer 1\): #include "mid-int.h"' layers

# A file missing from the table, a module without a file, a symbol
# defined twice and one defined nowhere.
tree table 'layer 0: base gone' 'layer 1: mid'
src base "$base"
src mid "$mid"
src stray 'int pani_base (int x) { return x; } int pani_nowhere (void);
int pani_stray (void) { return pani_nowhere (); }'
build
expect 1 'lib/stray.c is not in the layer table' layers
expect 1 'lib/README names gone, but there is no lib/gone.c' layers
expect 1 'pani_base is defined by base and stray' layers
expect 1 'stray uses pani_nowhere, which no module defines' layers

# Sizes: a file of 1,001 lines, a function of 61 lines (counted from
# its "{" to its "}"), an initializer of 70 lines that is no function.
tree sizes 'layer 0: big'
mkdir -p "$t/cmd"
# lines N TEXT: N lines of TEXT, in which %d becomes the line's number.
lines () {
    awk -v n="$1" -v text="$2" 'BEGIN { for (i = 0; i < n; i++) printf text "\n", i }'
}
{
    printf 'int\nlong_one (int x)\n{\n'
    lines 59 '  x++;'
    printf '}\n\nstatic const int table[] =\n{\n'
    lines 68 '  %d,'
    printf '};\n'
    lines 866 '/* filler */'
} > "$t/lib/big.c"
{
    printf 'int\nsixty (int x)\n{\n'
    lines 58 '  x++;'
    printf '}\n'
} > "$t/cmd/tool.c"
expect 1 'lib/big.c has 1001 lines' size-check
expect 1 'lib/big.c:3: long_one has 61 lines' size-check
expect 1 '2 functions, 1 over 60 lines' size-check
head -n 1000 "$t/lib/big.c" > "$t/lib/big.c.new"
mv "$t/lib/big.c.new" "$t/lib/big.c"
sed -i '4d' "$t/lib/big.c"
expect 0 'every lib/\*\.c within 1000 lines, every function within 60' size-check

exit $status
