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

# bench_enrolled_home PANKEY KEYS N: make N keys (an ed25519 primary key
# with a cv25519 encryption subkey, "Bench I <benchI@bench.test>") in the
# new GnuPG home KEYS with one gpg run, and a panmail home at
# $PANMAIL_HOME (pankey init) where all N are enrolled.  The enrollments
# are written as "pankey enroll" writes them (subkeys and their times
# from gpg's listing), the keys imported into the home's keyring in one
# gpg run, and the registry recorded with "pankey registry-accept": the
# per-key checks of enroll are skipped, so that a home of 10,000 keys
# takes minutes, not hours.  Writes KEYS/fprs (one primary fingerprint a
# line, in address order) and KEYS/list ("ADDRESS FINGERPRINT" lines);
# leaves KEYS/all.asc (every public key).
bench_enrolled_home () {
    beh_keys=$2 beh_n=$3
    mkdir -m 700 "$beh_keys"
    beh_i=1
    while [ "$beh_i" -le "$beh_n" ]; do
        printf '%s\n' "Key-Type: eddsa" "Key-Curve: ed25519" \
            "Key-Usage: sign" "Subkey-Type: ecdh" "Subkey-Curve: cv25519" \
            "Subkey-Usage: encrypt" "Name-Real: Bench $beh_i" \
            "Name-Email: bench$beh_i@bench.test" "Expire-Date: 2y" \
            "%no-protection" "%commit"
        beh_i=$((beh_i + 1))
    done > "$beh_keys/keygen"
    gpg --homedir "$beh_keys" --batch --quiet --gen-key "$beh_keys/keygen" 2>/dev/null
    "$1" init > /dev/null
    gpg --homedir "$beh_keys" --armor --export > "$beh_keys/all.asc"
    gpg --homedir "$PANMAIL_HOME/gnupg" --batch --quiet --import \
        "$beh_keys/all.asc" 2>/dev/null
    # One stanza per key, in the order of the user IDs' numbers.
    gpg --homedir "$beh_keys" --with-colons --list-keys 2>/dev/null |
        TZ=UTC awk -F: -v now="$(date +%s)" '
        function stamp(t) { return strftime("%Y-%m-%dT%H:%M:%SZ", t) }
        $1 == "pub" { pexp = $7; fpr = ""; sub_ = ""; what = "pub" }
        $1 == "sub" { sexp = $7; what = "sub" }
        $1 == "fpr" && what == "pub" { fpr = $10 }
        $1 == "fpr" && what == "sub" { sub_ = $10 }
        $1 == "uid" { addr = $10; sub(/.*</, "", addr); sub(/>.*/, "", addr) }
        what == "sub" && $1 == "fpr" {
            end = sexp; if (pexp && (!end || pexp < end)) end = pexp
            n = addr; sub(/^bench/, "", n); sub(/@.*/, "", n)
            printf "%d\t%s\t%s\t%s\t%s\n", n, addr, fpr, sub_, end ? stamp(end) : "never"
        }' | sort -n > "$beh_keys/stanzas"
    cut -f3 "$beh_keys/stanzas" > "$beh_keys/fprs"
    cut -f2,3 "$beh_keys/stanzas" | tr '\t' ' ' > "$beh_keys/list"
    TZ=UTC awk -F'\t' -v at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{
        printf "\nrecipient %s\nprotocol openpgp\nfingerprint %s\nsubkeys %s\nsubkey-expiry %s\nenrolled-at %s\nenrolled-by bench\nstatus active\n", $2, $3, $4, $5, at
        }' "$beh_keys/stanzas" >> "$PANMAIL_HOME/registry"
    "$1" registry-accept --note "bench: $beh_n keys enrolled" > /dev/null
}
