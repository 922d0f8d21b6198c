# bench-lib.sh - sourced by the scripts/bench-*.sh benchmarks.
# shellcheck shell=sh

# unwrap_libtool PROG: set $unwrapped to the program that PROG runs.  In
# a build tree cmd/NAME is libtool's wrapper script, which costs more
# than the work being timed: take the program it wraps, with
# LD_LIBRARY_PATH exported to the library next to it.
# shellcheck disable=SC2034  # unwrapped is read by the caller
unwrap_libtool () {
    unwrapped=$1
    ul_real=$(dirname "$1")/.libs/$(basename "$1")
    ul_libs=$(dirname "$1")/../lib/.libs
    if [ -x "$ul_real" ] && [ -d "$ul_libs" ]; then
        LD_LIBRARY_PATH=$(cd "$ul_libs" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        export LD_LIBRARY_PATH
        unwrapped=$ul_real
    fi
}

# bench_make_keys KEYS FIRST LAST: make the keys "Bench I
# <benchI@bench.test>" for I = FIRST..LAST (an ed25519 primary key with
# a cv25519 encryption subkey, no passphrase) in the new GnuPG home KEYS
# with one gpg run.  Writes, in the order of I: KEYS/list ("ADDRESS
# FINGERPRINT" lines), KEYS/fprs (the primary fingerprints) and
# KEYS/stanzas (I, address, fingerprint, subkey, subkey-expiry,
# creation time; tabs);
# and KEYS/all.asc (every public key, armored).
bench_make_keys () {
    bmk_keys=$1 bmk_i=$2
    mkdir -m 700 "$bmk_keys"
    while [ "$bmk_i" -le "$3" ]; do
        printf '%s\n' "Key-Type: eddsa" "Key-Curve: ed25519" \
            "Key-Usage: sign" "Subkey-Type: ecdh" "Subkey-Curve: cv25519" \
            "Subkey-Usage: encrypt" "Name-Real: Bench $bmk_i" \
            "Name-Email: bench$bmk_i@bench.test" "Expire-Date: 2y" \
            "%no-protection" "%commit"
        bmk_i=$((bmk_i + 1))
    done > "$bmk_keys/keygen"
    gpg --homedir "$bmk_keys" --batch --quiet --gen-key "$bmk_keys/keygen" 2>/dev/null
    gpg --homedir "$bmk_keys" --armor --export > "$bmk_keys/all.asc"
    gpg --homedir "$bmk_keys" --with-colons --list-keys 2>/dev/null |
        TZ=UTC awk -F: '
        function stamp(t) { return strftime("%Y-%m-%dT%H:%M:%SZ", t) }
        $1 == "pub" { pexp = $7; made = $6; what = "pub" }
        $1 == "sub" { sexp = $7; what = "sub" }
        $1 == "uid" { addr = $10; sub(/.*</, "", addr); sub(/>.*/, "", addr) }
        $1 == "fpr" && what == "pub" { fpr = $10 }
        $1 == "fpr" && what == "sub" {
            end = sexp; if (pexp && (!end || pexp < end)) end = pexp
            n = addr; sub(/^bench/, "", n); sub(/@.*/, "", n)
            printf "%d\t%s\t%s\t%s\t%s\t%s\n", n, addr, fpr, $10, end ? stamp(end) : "never", stamp(made)
        }' | sort -n > "$bmk_keys/stanzas"
    cut -f3 "$bmk_keys/stanzas" > "$bmk_keys/fprs"
    cut -f2,3 "$bmk_keys/stanzas" | tr '\t' ' ' > "$bmk_keys/list"
}

# bench_enrolled_home PANKEY KEYS N: bench_make_keys KEYS 1 N, and a
# panmail home at $PANMAIL_HOME (pankey init) where all N are enrolled.
# The first is enrolled by "pankey enroll"; the others are written as
# it writes them (subkeys, their times and the verdict on the key, as
# gpg lists them; the policy's tag from the first), the keys imported
# into the home's keyring in one gpg run, the registry recorded with
# "pankey registry-accept" and the keyring's stamp written as pankey
# writes it: the per-key checks of enroll are skipped, so that a home
# of 10,000 keys takes minutes, not hours.
bench_enrolled_home () {
    bench_make_keys "$2" 1 "$3"
    bench_home_of_keys "$1" "$2" "$3"
}

# bench_home_of_keys PANKEY KEYS N: the home of bench_enrolled_home,
# with the N keys that bench_make_keys made in KEYS.
bench_home_of_keys () {
    "$1" init > /dev/null
    head -n 1 "$2/list" > "$2/first"
    gpg --homedir "$2" --armor --export "$(head -n 1 "$2/fprs")" > "$2/first.asc"
    "$1" enroll --batch "$2/first" --file "$2/first.asc" --operator bench > /dev/null
    beh_tag=$(sed -n 's/^key-state \([0-9a-f]*\) .*/\1/p' "$PANMAIL_HOME/registry")
    gpg --homedir "$PANMAIL_HOME/gnupg" --batch --quiet --import \
        "$2/all.asc" 2>/dev/null
    awk -F'\t' -v at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v tag="$beh_tag" 'NR > 1 {
        printf "\nrecipient %s\nprotocol openpgp\nfingerprint %s\nsubkeys %s\nsubkey-expiry %s\nkey-state %s %s %s %s u ok ed25519 255 cv25519\nenrolled-at %s\nenrolled-by bench\nstatus active\n", $2, $3, $4, $5, tag, $6, $5, $5, at
        }' "$2/stanzas" >> "$PANMAIL_HOME/registry"
    "$1" registry-accept --note "bench: $3 keys enrolled" > /dev/null
    sha256sum < "$PANMAIL_HOME/gnupg/pubring.kbx" | cut -d' ' -f1 \
        > "$PANMAIL_HOME/gnupg/keyring.sha256"
}

# bench_ms: milliseconds since the epoch.
bench_ms () { date +%s%3N; }

# bench_us: microseconds since the epoch (a send takes 15 ms on a fast
# machine: whole milliseconds would make its ratios jump by 0.1).
bench_us () { date +%s%6N; }

# bench_median FILE: the median of the numbers in FILE, one a line.
bench_median () {
    sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_interleave REPEAT A B [C]: run the commands A, B and C (names
# of shell functions; C is optional) one after the other, REPEAT times,
# and leave the medians of their wall times in milliseconds (to the
# microsecond) in $bench_a, $bench_b and $bench_c.  Each time also holds
# the start of one "date" (bench_us), a few ms that would bring every
# ratio closer to 1: the median of an empty command, timed the same
# way, is taken off each.
bench_interleave () {
    bi_a=$(mktemp) bi_b=$(mktemp) bi_c=$(mktemp) bi_z=$(mktemp) bi_i=0
    while [ "$bi_i" -lt "$1" ]; do
        bi_t0=$(bench_us); "$2"; bi_t1=$(bench_us); "$3"; bi_t2=$(bench_us)
        :; bi_t3=$(bench_us)
        echo $((bi_t1 - bi_t0)) >> "$bi_a"
        echo $((bi_t2 - bi_t1)) >> "$bi_b"
        echo $((bi_t3 - bi_t2)) >> "$bi_z"
        if [ -n "${4:-}" ]; then
            bi_t0=$(bench_us); "$4"; bi_t1=$(bench_us)
            echo $((bi_t1 - bi_t0)) >> "$bi_c"
        fi
        bi_i=$((bi_i + 1))
    done
    bi_zero=$(bench_median "$bi_z")
    # shellcheck disable=SC2034  # read by the caller
    bench_a=$(bench_net "$bi_a") bench_b=$(bench_net "$bi_b") bench_c=
    if [ -s "$bi_c" ]; then bench_c=$(bench_net "$bi_c"); fi
    rm -f "$bi_a" "$bi_b" "$bi_c" "$bi_z"
}

# bench_net FILE: the median of the times in FILE (us) less $bi_zero, in ms.
bench_net () {
    awk -v m="$(bench_median "$1")" -v z="$bi_zero" 'BEGIN { print (m - z) / 1000 }'
}

# bench_mta FILE: make FILE a discard MTA, a script that reads all of
# its input (pansend checks that the MTA read the whole copy).
bench_mta () {
    printf '#!/bin/sh\nexec cat > /dev/null\n' > "$1"
    chmod 700 "$1"
}

# bench_report FILE: a 10 KB report (160 lines of figures, no card
# numbers).
bench_report () {
    awk 'BEGIN { for (i = 1; i <= 160; i++)
          printf "%05d  settlement batch %06d  total %9.2f EUR  ok\n", i, i * 37, i * 123.45 }' \
        > "$1"
}
