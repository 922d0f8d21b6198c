#!/bin/sh
# scripts/bench-send.sh - pansend against the gpg pipe it replaces.
#
# Makes a throwaway home with N cv25519 keys (the largest of COUNTS;
# each an ed25519 primary key with a cv25519 encryption subkey),
# enrolled as bench_enrolled_home (bench-lib.sh) does, then times,
# REPEAT times each (default 15), interleaved (pipe, pansend, pipe, pansend, ...), one message of a
# 10 KB report:
#   pipe:    gpg --batch --trust-model always -ea -r FPR... | MTA
#   pansend: pansend --sendmail MTA ADDR...   (the same message and keys)
#   floor:   tests/bench/gpgme-floor FPR... | MTA
# for 1, 30 and 100 To recipients, and prints the median wall time of
# each and their ratio (issue 14's goal: at most 1.5).  The floor is
# GPGME's encryption alone, with nothing of panmail (no key check, spool,
# audit record, or wait for the MTA): a program's start, the "gpg
# --version" GPGME runs before its first operation, then the encryption,
# which cannot start before that check ends.  Then the
# one-recipient case again with HOST_PROCS (default 3000) sleeping
# processes on the host, since a watchdog that walks /proc costs about
# 10 us per process.  Then one 200 MB
# message (a 150 MB random file in base64) to one recipient: wall time
# and peak RSS (/usr/bin/time) of pansend against "gpg -ea" of the same
# message into the same MTA (goals: at most 1.3 times the wall time,
# under 64 MB of RSS).  No pass/fail.
#
# The MTA of both sides is a discard transport: a script that reads its
# input and drops it (pansend checks that the MTA read the whole copy),
# so that the test Postfix's queue is not timed.
#
# Run it in the build directory (it makes tests/bench/gpgme-floor if
# missing).  Environment: PANSEND, PANKEY, GPGME_FLOOR (default
# cmd/pansend, cmd/pankey, tests/bench/gpgme-floor), REPEAT, COUNTS (default "1 30 100"),
# HOST_PROCS (0 skips that case), BIG_MB
# (default 150 of random bytes, 200 MB once in base64; 0 skips it),
# KEEP=1 keeps the directory.  The load average is printed first and
# last: other work on the machine distorts wall times.
set -eu
umask 077

repeat=${REPEAT:-15}
counts=${COUNTS:-1 30 100}
big_mb=${BIG_MB:-150}
host_procs=${HOST_PROCS:-3000}
pansend=${PANSEND:-cmd/pansend}
pankey=${PANKEY:-cmd/pankey}
floor=${GPGME_FLOOR:-tests/bench/gpgme-floor}
[ -x "$floor" ] || [ -n "${GPGME_FLOOR:-}" ] || make -s tests/bench/gpgme-floor >&2 || true
for p in "$pansend" "$pankey" "$floor" /usr/bin/time; do
    [ -x "$p" ] || { echo "bench-send.sh: $p is missing (set PANSEND, PANKEY, GPGME_FLOOR)" >&2; exit 2; }
done
# shellcheck source-path=SCRIPTDIR source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
unwrap_libtool "$pansend"
pansend=$unwrapped
unwrap_libtool "$pankey"
pankey=$unwrapped

max=0
for n in $counts; do [ "$n" -gt "$max" ] && max=$n; done
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-send.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "directory: $dir"
else
    trap 'gpgconf --homedir "$dir/keys" --kill all 2>/dev/null || true
          gpgconf --homedir "$dir/home/gnupg" --kill all 2>/dev/null || true
          rm -rf "$dir"' EXIT INT TERM
fi
export PANMAIL_HOME="$dir/home"
keys=$dir/keys
echo "load: $(uptime | sed 's/.*load/load/')"

start=$(date +%s)
bench_enrolled_home "$pankey" "$keys" "$max"
echo "setup: $max keys made and enrolled in $(( $(date +%s) - start )) s (one gpg run; see bench_enrolled_home)"

bench_mta "$dir/mta"

# message FILE N BODY: a message to the first N addresses, body BODY.
message() {
    { echo "From: Reports <reports@bench.test>"
      printf 'To: '
      head -n "$2" "$keys/list" | awk '{ printf "%s%s", sep, $1; sep = ", " }'
      echo
      echo "Subject: nightly report"
      echo "Content-Type: text/plain; charset=utf-8"
      echo
      cat "$3"; } > "$1"
}

bench_report "$dir/report"

# gpg_ea FILE: the encryption of the hand-rolled pipeline, to the keys
# in $rargs ("-r FPR" each, made before the timing: such a script names
# its keys).
gpg_ea() {
    # shellcheck disable=SC2086  # one -r FPR per key
    gpg --homedir "$PANMAIL_HOME/gnupg" --batch --no-tty --quiet \
        --trust-model always -ea $rargs < "$1"
}

# floor_ea FILE: the floor's encryption, to the same keys ($fprs).
floor_ea() {
    # shellcheck disable=SC2086  # one argument per key
    GNUPGHOME="$PANMAIL_HOME/gnupg" "$floor" $fprs < "$1"
}

# pipe FILE: the hand-rolled pipeline.
pipe() { gpg_ea "$1" | "$dir/mta" -i -- x; }

run_pipe() { pipe "$dir/msg"; }
run_pansend() { "$pansend" --sendmail "$dir/mta" -t < "$dir/msg"; }
run_floor() { floor_ea "$dir/msg" | "$dir/mta" -i -- x; }
for n in $counts; do
    message "$dir/msg" "$n" "$dir/report"
    rargs=$(head -n "$n" "$keys/fprs" | sed 's/^/-r /' | tr '\n' ' ')
    fprs=$(head -n "$n" "$keys/fprs" | tr '\n' ' ')
    run_pipe; run_pansend; run_floor                      # warm up
    # The status of gpg and of the floor is lost in their pipes: check
    # their output once.
    { gpg_ea "$dir/msg"; floor_ea "$dir/msg"; } > "$dir/check.out"
    [ "$(grep -c "BEGIN PGP MESSAGE" "$dir/check.out")" = 2 ] ||
        { echo "bench-send.sh: gpg or $floor did not encrypt" >&2; exit 1; }
    bench_interleave "$repeat" run_pipe run_pansend run_floor
    awk -v n="$n" -v p="$bench_a" -v s="$bench_b" -v f="$bench_c" 'BEGIN {
        printf "%3d To recipients: pansend %6.1f ms  gpg pipe %6.1f ms  ratio %.2f (goal <= 1.5)  GPGME floor %6.1f ms, ratio %.2f\n",
            n, s, p, (p > 0 ? s / p : 0), f, (p > 0 ? f / p : 0) }'
done

# The same one-recipient send with HOST_PROCS other processes on the
# host (sleeping): pansend must not look at each of them.
if [ "$host_procs" -gt 0 ]; then
    message "$dir/msg" 1 "$dir/report"
    rargs=$(head -n 1 "$keys/fprs" | sed 's/^/-r /')
    sleepers=
    i=0
    while [ "$i" -lt "$host_procs" ]; do
        sleep 3600 &
        sleepers="$sleepers $!"
        i=$((i + 1))
    done
    run_pipe; run_pansend
    bench_interleave "$repeat" run_pipe run_pansend
    # shellcheck disable=SC2086  # one pid each
    kill $sleepers 2>/dev/null || true
    wait 2>/dev/null || true
    awk -v n="$host_procs" -v p="$bench_a" -v s="$bench_b" 'BEGIN {
        printf "  1 To recipient, %d more processes on the host: pansend %6.1f ms  gpg pipe %6.1f ms  ratio %.2f\n",
            n, s, p, (p > 0 ? s / p : 0) }'
fi

if [ "$big_mb" -gt 0 ]; then
    head -c "${big_mb}M" /dev/urandom | base64 > "$dir/big.body"
    message "$dir/big" 1 "$dir/big.body"
    rm -f "$dir/big.body"
    echo "200 MB message: $(wc -c < "$dir/big") bytes"
    : > "$dir/t.pipe"; : > "$dir/t.pansend"
    i=0
    while [ "$i" -lt 2 ]; do
        # shellcheck disable=SC2016  # expanded by the inner shell
        /usr/bin/time -o "$dir/time.pipe" -f '%e %M' sh -c '
            gpg --homedir "$1" --batch --no-tty --quiet --trust-model always \
                -ea -r "$2" < "$3" | "$4" -i -- x' sh \
            "$PANMAIL_HOME/gnupg" "$(head -n 1 "$keys/fprs")" "$dir/big" "$dir/mta"
        /usr/bin/time -o "$dir/time.pansend" -f '%e %M' \
            "$pansend" --sendmail "$dir/mta" -t < "$dir/big"
        cat "$dir/time.pipe" >> "$dir/t.pipe"
        cat "$dir/time.pansend" >> "$dir/t.pansend"
        i=$((i + 1))
    done
    awk 'NR == FNR { if (!pe || $1 < pe) pe = $1; next }
         { if (!se || $1 < se) se = $1; if ($2 > sr) sr = $2 }
         END { printf "200 MB: pansend %.2f s  gpg -ea %.2f s  ratio %.2f (goal <= 1.3)  pansend peak RSS %d KB (goal < 65536)\n",
                   se, pe, (pe > 0 ? se / pe : 0), sr }' "$dir/t.pipe" "$dir/t.pansend"
fi
echo "load: $(uptime | sed 's/.*load/load/')"
