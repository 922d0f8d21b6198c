#!/bin/sh
# scripts/bench-pan.sh [MB] - throughput of the PAN scanner on one core.
#
# Generates about MB (default 200) megabytes of mail-like text with
# sparse PANs in a temporary directory, then times the panmail scanner
# (tests/bench/bench-pan, reading the file in 64 KiB chunks) and, for
# scale, grep -P doing a simpler job (digit runs only: no Luhn, no brand,
# no chunking) on the same file.  Prints both; no pass/fail on timing.
#
# Build the driver first, e.g. in the build tree: make tests/bench/bench-pan
# or set BENCH_PAN to its path.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mb=${1:-200}
# Share of plain words among the tokens; the rest are dates, times,
# phone numbers, order numbers, amounts and hex ids.  0.92 gives about
# 6% digits; 0.80 a digit-heavy log-like text (about 20%).
mix=${BENCH_MIX:-0.92}
bench=${BENCH_PAN:-$top/tests/bench/bench-pan}
[ -x "$bench" ] || { echo "bench-pan.sh: build $bench first (or set BENCH_PAN)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-pan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# About 2 MB of text: prose, dates, times, phone numbers, order numbers,
# amounts, hex ids; one line in ~400 carries a test PAN (plain, spaced or
# dashed).
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
blocksize=$(wc -c < "$tmp/block.txt")
count=$(( mb * 1000000 / blocksize + 1 ))
i=0
while [ $i -lt $count ]; do cat "$tmp/block.txt"; i=$((i + 1)); done > "$tmp/corpus.txt"
size=$(wc -c < "$tmp/corpus.txt")
echo "corpus: $size bytes in $tmp/corpus.txt"

# Warm the page cache, then time each.
cat "$tmp/corpus.txt" > /dev/null
"$bench" "$tmp/corpus.txt"
if echo 1 | grep -P '\d' > /dev/null 2>&1; then
    start=$(date +%s.%N)
    matches=$(LC_ALL=C grep -P -c '\b(?:\d[ -]?){13,19}\b' "$tmp/corpus.txt" || true)
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v n="$size" -v m="$matches" 'BEGIN {
        printf "grep -P: %d matching lines in %.1f MB, %.3f s, %.0f MB/s\n",
               m, n / 1e6, e - s, n / 1e6 / (e - s) }'
else
    echo "grep -P: not available"
fi
