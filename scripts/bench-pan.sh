#!/bin/sh
# scripts/bench-pan.sh [MB] - throughput of the PAN scanner, compared.
#
# Generates, in a temporary directory:
#   - about MB (default 200) megabytes of payment-log-like text: prose,
#     dates, times, phone numbers, order numbers, amounts and hex ids,
#     one line in ~400 with a test PAN (plain, spaced or dashed);
#   - MB/2 megabytes of digits only, and as many of 16-digit lines (every
#     line a candidate, one in 25 a valid PAN: the worst case);
#   - MB/2 megabytes of rows of 4-digit codes (tables: much work for
#     the state machine, no card number);
#   - a tree of 1 MB files cut from the text and the rows.
# Then it times, best of REPEAT (default 3) runs each:
#   - the scanner itself on one core, in memory (tests/bench/bench-pan);
#   - "panaudit scan --jobs 1" of each file, as an operator runs it;
#   - the reference on the same file: ccsrch when installed (or CCSRCH
#     names it), else grep -P (or grep -E) for runs of 13 to 19 digits
#     with single spaces or dashes, a simpler job (no Luhn, no brand);
#   - "panaudit scan" of the tree with one thread and with one per core.
# It prints MB/s, the hits each found, and the ratios.  No pass/fail:
# run it on demand, on a quiet machine (look at uptime first).
#
# Environment: BENCH_PAN (the driver, default tests/bench/bench-pan),
# PANAUDIT (default cmd/panaudit), both in the build tree (make
# tests/bench/bench-pan first); CCSRCH; REPEAT; BENCH_MIX (the share of
# plain words, default 0.92: about 6% digits; 0.80 is digit-heavy).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-200}
mix=${BENCH_MIX:-0.92}
repeat=${REPEAT:-3}
bench=${BENCH_PAN:-$top/tests/bench/bench-pan}
panaudit=${PANAUDIT:-$top/cmd/panaudit}
for p in "$bench" "$panaudit"; do
    [ -x "$p" ] || { echo "bench-pan.sh: build $p first (or set BENCH_PAN, PANAUDIT)" >&2; exit 2; }
done
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
unwrap_libtool "$panaudit"
panaudit=$unwrapped
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-pan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# ---------------------------------------------------------------- data

# About 2 MB of text (see above).
awk -v mix="$mix" 'BEGIN {
    srand(42);
    split("the invoice for order was paid on and shipped to customer " \
          "please find attached report of daily settlement batch with " \
          "reference total amount account balance refund request ticket", w, " ");
    split("4111111111111111|5555 5555 5555 4444|3782-822463-10005|" \
          "6011111111111117|3530 1113 3330 0000|2223003122003222", pan, "|");
    for (i = 0; i < 24000; i++) {
        line = "";
        n = 6 + int(rand() * 10);
        for (j = 0; j < n; j++) {
            r = rand();
            if (r < mix)       t = w[1 + int(rand() * 30)];
            else if (r < 0.94) t = sprintf("2026-%02d-%02d", 1 + int(rand()*12), 1 + int(rand()*28));
            else if (r < 0.95) t = sprintf("%02d:%02d:%02d", int(rand()*24), int(rand()*60), int(rand()*60));
            else if (r < 0.96) t = sprintf("+1 415 555 %04d", int(rand()*10000));
            else if (r < 0.98) t = sprintf("#%d", int(rand()*100000000));
            else if (r < 0.99) t = sprintf("$%d.%02d", int(rand()*10000), int(rand()*100));
            else               t = sprintf("%08x-%04x", int(rand()*2^31), int(rand()*65536));
            line = line (j ? " " : "") t;
        }
        if (rand() < 0.0025) line = line " card " pan[1 + int(rand() * 6)];
        print line;
    }
}' > "$tmp/block.txt"
# 1 MB of digits, and 1 MB of 16-digit lines.
awk 'BEGIN { srand(7); for (i = 0; i < 15625; i++) {
        s = ""; for (j = 0; j < 8; j++) s = s sprintf("%08d", int(rand() * 1e8));
        printf "%s", s } }' > "$tmp/digits1.txt"
awk 'BEGIN { srand(9); for (i = 0; i < 58824; i++)
        printf "%08d%08d\n", int(rand() * 1e8), int(rand() * 1e8) }' \
    > "$tmp/lines1.txt"
# 1 MB of rows of ten 4-digit codes: chains the state machine must judge
# (tables of codes), and no card number.
awk 'BEGIN { srand(5); for (i = 0; i < 20000; i++) { l = "";
        for (j = 0; j < 10; j++) l = l sprintf("%04d ", int(rand() * 10000));
        print l } }' > "$tmp/rows1.txt"

# repeat FILE N OUT: OUT is FILE N times.
repeat() {
    i=0
    while [ "$i" -lt "$2" ]; do cat "$1"; i=$((i + 1)); done > "$3"
}
blocksize=$(wc -c < "$tmp/block.txt")
repeat "$tmp/block.txt" $((mb * 1000000 / blocksize + 1)) "$tmp/corpus.txt"
half=$((mb / 2 > 0 ? mb / 2 : 1))
repeat "$tmp/digits1.txt" "$half" "$tmp/digits.txt"
repeat "$tmp/lines1.txt" "$half" "$tmp/lines.txt"
repeat "$tmp/rows1.txt" "$half" "$tmp/rows.txt"
mkdir "$tmp/tree"
(cd "$tmp/tree" && split -b 1000000 -a 4 "$tmp/corpus.txt" text- &&
    split -b 1000000 -a 4 "$tmp/rows.txt" rows-)

# ---------------------------------------------------------------- timing

# best CMD...: run CMD REPEAT times (output to $tmp/out), print the best
# wall time in seconds.
best() {
    b=
    r=0
    while [ "$r" -lt "$repeat" ]; do
        s=$(date +%s.%N)
        "$@" > "$tmp/out" 2> "$tmp/err" || true
        e=$(date +%s.%N)
        b=$(awk -v s="$s" -v e="$e" -v b="$b" \
            'BEGIN { t = e - s; print (b == "" || t < b) ? t : b }')
        r=$((r + 1))
    done
    echo "$b"
}

# mbs BYTES SECONDS: megabytes a second.
mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / 1e6 / t }'; }

# after_start BYTES SECONDS: megabytes a second once the start-up is
# taken off, if it is a small part of SECONDS.
after_start() {
    awk -v n="$1" -v t="$2" -v s="$t_start" 'BEGIN {
        if (t - s < t / 4) print "its start-up dominates";
        else printf "%.0f MB/s after its start-up", n / 1e6 / (t - s) }'
}

# ratio A B: A / B with one decimal.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# The reference.
ccsrch=${CCSRCH:-$(command -v ccsrch || true)}
if [ -n "$ccsrch" ]; then
    refname="ccsrch"
    ref() { "$ccsrch" "$1"; }
    refcount() { wc -l < "$tmp/out"; }
elif echo 1 | grep -P '\d' > /dev/null 2>&1; then
    refname="grep -P (no ccsrch installed)"
    ref() { LC_ALL=C grep -P -c '(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])' "$1"; }
    refcount() { cat "$tmp/out"; }
else
    refname="grep -E (no ccsrch installed)"
    ref() { LC_ALL=C grep -E -c '(^|[^0-9])([0-9][ -]?){12,18}[0-9]([^0-9]|$)' "$1"; }
    refcount() { cat "$tmp/out"; }
fi
tool() { "$panaudit" scan --no-progress --jobs "$1" "$2"; }
hits() { wc -l < "$tmp/out"; }

cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
echo "machine: $cores cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo "reference: $refname; best of $repeat runs each"
: > "$tmp/empty"
t_start=$(best tool 1 "$tmp/empty")
echo "panaudit scan of an empty file (start-up): $t_start s"

# bench_file NAME FILE: the scanner, the tool and the reference on FILE.
bench_file() {
    size=$(wc -c < "$2")
    echo
    echo "$1: $(awk -v n="$size" 'BEGIN { printf "%.1f", n / 1e6 }') MB"
    "$bench" --repeat="$repeat" "$2" | sed 's/^/  /'
    t_tool=$(best tool 1 "$2")
    n_tool=$(hits)
    echo "  panaudit scan --jobs 1: $(mbs "$size" "$t_tool") MB/s, $n_tool hits" \
         "($(after_start "$size" "$t_tool"))"
    t_ref=$(best ref "$2")
    echo "  $refname: $(mbs "$size" "$t_ref") MB/s, $(refcount) hits or lines"
    echo "  ratio panaudit scan / $refname: $(ratio "$t_ref" "$t_tool")x"
}

cat "$tmp/corpus.txt" "$tmp/digits.txt" "$tmp/lines.txt" "$tmp/rows.txt" \
    > /dev/null
bench_file "payment-log-like text" "$tmp/corpus.txt"
bench_file "all-digit input" "$tmp/digits.txt"
bench_file "16-digit lines (every line a candidate)" "$tmp/lines.txt"
bench_file "rows of 4-digit codes (tables)" "$tmp/rows.txt"

# The tree: one thread against one per core; the same output.
size=$(find "$tmp/tree" -type f -exec cat {} + | wc -c)
files=$(find "$tmp/tree" -type f | wc -l)
echo
echo "tree: $files files, $(awk -v n="$size" 'BEGIN { printf "%.1f", n / 1e6 }') MB"
t1=$(best tool 1 "$tmp/tree")
mv "$tmp/out" "$tmp/out-1"
tn=$(best tool "$cores" "$tmp/tree")
cmp -s "$tmp/out" "$tmp/out-1" ||
    { echo "bench-pan.sh: --jobs 1 and --jobs $cores differ" >&2; exit 1; }
echo "  panaudit scan --jobs 1: $(mbs "$size" "$t1") MB/s"
echo "  panaudit scan --jobs $cores: $(mbs "$size" "$tn") MB/s (same output)"
echo "  ratio --jobs $cores / --jobs 1: $(ratio "$t1" "$tn")x," \
     "$(ratio "$(awk -v a="$t1" -v b="$t_start" 'BEGIN { print a - b }')" \
              "$(awk -v a="$tn" -v b="$t_start" 'BEGIN { print a - b }')")x" \
     "after start-up"
