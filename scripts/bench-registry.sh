#!/bin/sh
# scripts/bench-registry.sh [N] - how pansend and the key reports scale
# with the size of the registry.
#
# Makes two throwaway homes, one with N enrolled keys (default 10000)
# and one with 10, as bench_enrolled_home (bench-lib.sh) does: the keys
# made in one gpg run (an ed25519 primary key with a cv25519 encryption
# subkey each), imported into the home's keyring in one run, the
# registry written as pankey enroll writes it (the verdict on each key
# included) and recorded with pankey registry-accept, and the keyring's
# stamp written (the checks of each enrollment skipped, so that 10,000
# keys take minutes).  Then it times, with /usr/bin/time:
#   - one send of a 10 KB report to one recipient in each home (median
#     of REPEAT, default 15, interleaved), and their ratio (issue 14's
#     goal: at most 1.2);
#   - pankey list, pankey check and panaudit keys in the large home
#     (goal: each under 5 s);
#   - pankey enroll --batch of ENROLL (default 100) new keys from one
#     list and one key file into the large home: seconds per key (goal:
#     at most 0.3).
# No pass/fail.  The load average is printed first and last.
#
# Run it in the build directory.  Environment: PANSEND, PANKEY, PANAUDIT
# (default cmd/pansend, cmd/pankey, cmd/panaudit), REPEAT, ENROLL,
# KEEP=1 keeps the directory.
set -eu
umask 077

n=${1:-10000}
repeat=${REPEAT:-15}
enroll=${ENROLL:-100}
pansend=${PANSEND:-cmd/pansend}
pankey=${PANKEY:-cmd/pankey}
panaudit=${PANAUDIT:-cmd/panaudit}
for p in "$pansend" "$pankey" "$panaudit" /usr/bin/time; do
    [ -x "$p" ] || { echo "bench-registry.sh: $p is missing (set PANSEND, PANKEY, PANAUDIT)" >&2; exit 2; }
done
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
unwrap_libtool "$pansend"; pansend=$unwrapped
unwrap_libtool "$pankey"; pankey=$unwrapped
unwrap_libtool "$panaudit"; panaudit=$unwrapped

dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-registry.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "directory: $dir"
else
    cleanup() {
        for c_home in "$dir"/*/keys "$dir"/*/home/gnupg "$dir"/new; do
            gpgconf --homedir "$c_home" --kill all 2>/dev/null || true
        done
        rm -rf "$dir"
    }
    trap cleanup EXIT INT TERM
fi
echo "load: $(uptime | sed 's/.*load/load/')"

for size in 10 "$n"; do
    mkdir "$dir/$size"
    start=$(date +%s)
    PANMAIL_HOME=$dir/$size/home bench_enrolled_home "$pankey" "$dir/$size/keys" "$size"
    echo "home of $size keys made in $(( $(date +%s) - start )) s (one gpg run)"
done
bench_mta "$dir/mta"
bench_report "$dir/report"
{ printf '%s\n' "From: Reports <reports@bench.test>" "To: bench7@bench.test" \
      "Subject: nightly report" ""
  cat "$dir/report"; } > "$dir/msg"

# One send to bench7 in each home, interleaved.
send_small() { PANMAIL_HOME=$dir/10/home "$pansend" --sendmail "$dir/mta" -t < "$dir/msg"; }
send_large() { PANMAIL_HOME=$dir/$n/home "$pansend" --sendmail "$dir/mta" -t < "$dir/msg"; }
send_small; send_large                                    # warm up
bench_interleave "$repeat" send_small send_large
awk -v n="$n" -v s="$bench_a" -v l="$bench_b" 'BEGIN {
    printf "send: %d enrolled %6.1f ms  10 enrolled %6.1f ms  ratio %.2f (goal <= 1.2)\n",
        n, l, s, (s > 0 ? l / s : 0) }'

# timed NAME CMD...: run CMD once in the large home; print its time.
timed() {
    t_name=$1; shift
    PANMAIL_HOME=$dir/$n/home /usr/bin/time -o "$dir/time" -f '%e %U %S %M' \
        "$@" > "$dir/out" 2>&1 || true
    # The last line: /usr/bin/time says first if the command failed.
    tail -n 1 "$dir/time" > "$dir/time.last"
    read -r e u s m < "$dir/time.last"
    printf '%-16s %7s s elapsed %6.2f s cpu %7s KB peak RSS  (%s lines; goal < 5 s)\n' \
        "$t_name" "$e" "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" "$m" \
        "$(wc -l < "$dir/out")"
}
timed "pankey list" "$pankey" list
timed "pankey check" "$pankey" check
timed "panaudit keys" "$panaudit" keys

# Bulk enrollment of ENROLL new keys into the large home.
if [ "$enroll" -gt 0 ]; then
    bench_make_keys "$dir/new" $((n + 1)) $((n + enroll))
    t0=$(bench_ms)
    PANMAIL_HOME=$dir/$n/home "$pankey" enroll --batch "$dir/new/list" \
        --file "$dir/new/all.asc" --operator bench > "$dir/out" 2>&1 ||
        { cat "$dir/out" >&2; echo "bench-registry.sh: pankey enroll --batch failed" >&2; }
    t1=$(bench_ms)
    awk -v k="$enroll" -v t=$((t1 - t0)) 'BEGIN {
        printf "enroll --batch: %d keys in %.1f s, %.3f s per key (goal <= 0.3)\n", k, t / 1000, t / 1000 / k }'
fi
echo "load: $(uptime | sed 's/.*load/load/')"
