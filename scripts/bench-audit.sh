#!/bin/sh
# scripts/bench-audit.sh [N] - how the audit log's readers scale.
#
# Writes a valid audit log of N records (default 1000000; a send and a
# delivered record per copy, about 900 bytes each) with
# tests/bench/gen-audit into a temporary home, then times, best of
# REPEAT (default 3) runs each, with /usr/bin/time:
#   - sha256sum of the log (the reference: reading and hashing it once);
#   - panaudit verify (hash chain and audit.key), and with --key (every
#     MAC as well);
#   - panaudit log, report and anchor.
# It prints seconds (elapsed and CPU), peak RSS, and the ratio of
# verify to sha256sum in CPU time (elapsed time too, which other work
# on the machine distorts: look at uptime first).  No pass/fail.
#
# Run it in the build directory.  Environment: GEN_AUDIT (default
# tests/bench/gen-audit) and PANAUDIT
# (default cmd/panaudit), both in the build tree (make
# tests/bench/gen-audit first); REPEAT; KEEP=1 keeps the home.
set -eu
# The home and its log as pankey would make them (the home checks refuse
# a log others can read).
umask 077

n=${1:-1000000}
repeat=${REPEAT:-3}
gen=${GEN_AUDIT:-tests/bench/gen-audit}
panaudit=${PANAUDIT:-cmd/panaudit}
for p in "$gen" "$panaudit" /usr/bin/time; do
    [ -x "$p" ] || { echo "bench-audit.sh: $p is missing (make tests/bench/gen-audit; set GEN_AUDIT, PANAUDIT)" >&2; exit 2; }
done
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
unwrap_libtool "$panaudit"
panaudit=$unwrapped
home=$(mktemp -d "${TMPDIR:-/tmp}/bench-audit.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "home: $home"
else
    trap 'rm -rf "$home"' EXIT INT TERM
fi
chmod 700 "$home"

start=$(date +%s)
"$gen" "$home" "$n"
bytes=$(wc -c < "$home/audit.log")
echo "log: $n records, $bytes bytes, written in $(( $(date +%s) - start )) s"
echo "load: $(uptime | sed 's/.*load/load/')"

# best NAME CMD...: run CMD REPEAT times; keep the run with the least
# CPU time; print "NAME elapsed cpu rss" and set best_cpu.
best() {
    name=$1; shift
    best_line=
    best_cpu=
    i=0
    while [ "$i" -lt "$repeat" ]; do
        /usr/bin/time -o "$home/time" -f '%e %U %S %M' "$@" >/dev/null 2>&1 || true
        read -r e u s m < "$home/time"
        c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
        if [ -z "$best_cpu" ] || awk -v a="$c" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
            best_cpu=$c
            best_line=$(printf '%-18s %8s s elapsed %8s s cpu %8s KB peak RSS' "$name" "$e" "$c" "$m")
        fi
        i=$((i + 1))
    done
    echo "$best_line"
}

"$panaudit" --home "$home" verify --key "$home/initial.key" \
    || { echo "bench-audit.sh: the generated log does not verify" >&2; exit 1; }
best sha256sum sha256sum "$home/audit.log"; sha=$best_cpu
best verify "$panaudit" --home "$home" verify; ver=$best_cpu
best "verify --key" "$panaudit" --home "$home" verify --key "$home/initial.key"; verk=$best_cpu
best log "$panaudit" --home "$home" log
best "log --json" "$panaudit" --home "$home" log --json
best report "$panaudit" --home "$home" report
best anchor "$panaudit" --home "$home" anchor
awk -v v="$ver" -v k="$verk" -v s="$sha" 'BEGIN {
    if (s <= 0) s = 0.01
    printf "verify / sha256sum (cpu): %.1fx; verify --key / sha256sum: %.1fx\n", v / s, k / s }'
