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
# KEYS/stanzas (I, address, fingerprint, subkey, subkey-expiry; tabs);
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
        $1 == "pub" { pexp = $7; what = "pub" }
        $1 == "sub" { sexp = $7; what = "sub" }
        $1 == "uid" { addr = $10; sub(/.*</, "", addr); sub(/>.*/, "", addr) }
        $1 == "fpr" && what == "pub" { fpr = $10 }
        $1 == "fpr" && what == "sub" {
            end = sexp; if (pexp && (!end || pexp < end)) end = pexp
            n = addr; sub(/^bench/, "", n); sub(/@.*/, "", n)
            printf "%d\t%s\t%s\t%s\t%s\n", n, addr, fpr, $10, end ? stamp(end) : "never"
        }' | sort -n > "$bmk_keys/stanzas"
    cut -f3 "$bmk_keys/stanzas" > "$bmk_keys/fprs"
    cut -f2,3 "$bmk_keys/stanzas" | tr '\t' ' ' > "$bmk_keys/list"
}

# bench_enrolled_home PANKEY KEYS N: bench_make_keys KEYS 1 N, and a
# panmail home at $PANMAIL_HOME (pankey init) where all N are enrolled.
# The enrollments are written as "pankey enroll" writes them (subkeys
# and their times from gpg's listing), the keys imported into the home's
# keyring in one gpg run, and the registry recorded with "pankey
# registry-accept": the per-key checks of enroll are skipped, so that a
# home of 10,000 keys takes minutes, not hours.
bench_enrolled_home () {
    bench_make_keys "$2" 1 "$3"
    "$1" init > /dev/null
    gpg --homedir "$PANMAIL_HOME/gnupg" --batch --quiet --import \
        "$2/all.asc" 2>/dev/null
    awk -F'\t' -v at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{
        printf "\nrecipient %s\nprotocol openpgp\nfingerprint %s\nsubkeys %s\nsubkey-expiry %s\nenrolled-at %s\nenrolled-by bench\nstatus active\n", $2, $3, $4, $5, at
        }' "$2/stanzas" >> "$PANMAIL_HOME/registry"
    "$1" registry-accept --note "bench: $3 keys enrolled" > /dev/null
}
