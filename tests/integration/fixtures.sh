#!/bin/sh
# fixtures.sh NAME DIR - make the shared test fixture NAME in DIR, unless
# DIR already holds a fresh one.  Called by fixture() in lib.sh, under a
# lock, so that every test of a run shares one copy of the fixtures that
# cost seconds to make; the tests only read them.
#
#   pki          the X.509 test PKI of scripts/make-test-ca.sh, its local
#                parts prefixed with $TAG
#   policy-keys  OpenPGP keys that the algorithm policy refuses or warns
#                about, exported (armored) as NAME.asc with the
#                fingerprint in NAME.fpr:
#                  rsa1024   RSA-1024 primary and encryption subkey
#                  dsa       DSA-2048 primary, ElGamal-2048 subkey
#                  elg       ed25519 primary, ElGamal-2048 subkey
#                  rsa2048   RSA-2048 primary and encryption subkey
#                  good      ed25519 primary, cv25519 subkey; good-elg is
#                            the same key after it gained an ElGamal-2048
#                            encryption subkey
#                each with the user ID "NAME <${TAG}pol-NAME@example.test>"
#
# A fixture is fresh when it was made less than a day ago, for the same
# $TAG, by this version of this script.
set -eu
name=$1 dir=$2
: "${TAG:?}" "${top_srcdir:?}"
self=$top_srcdir/tests/integration/fixtures.sh

if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$TAG" ] &&
    [ -n "$(find "$dir/stamp" -mmin -1440 -newer "$self" \
        -newer "$top_srcdir/scripts/make-test-ca.sh")" ]; then
    exit 0
fi

# gen KEY UID ALGO EXPIRE: a primary key (cert,sign); KEY.fpr its
# fingerprint.
gen() {
    gpg --homedir "$work/gnupg" --batch --no-tty --quiet \
        --pinentry-mode loopback --passphrase '' --status-fd 3 \
        --quick-gen-key "$2" "$3" cert,sign "$4" 3>"$work/status" >/dev/null
    awk '$2 == "KEY_CREATED" { print $4; exit }' "$work/status" > "$work/$1.fpr"
    [ -s "$work/$1.fpr" ] || { echo "fixtures: no key made for $2" >&2; exit 1; }
}

# add KEY ALGO: add an encryption subkey ALGO to KEY.
add() {
    gpg --homedir "$work/gnupg" --batch --no-tty --quiet \
        --pinentry-mode loopback --passphrase '' \
        --quick-add-key "$(cat "$work/$1.fpr")" "$2" encr 2y
}

# export KEY [FILE]: KEY's public key, armored, to FILE (default KEY.asc).
export_key() {
    gpg --homedir "$work/gnupg" --batch --no-tty --armor \
        --export "$(cat "$work/$1.fpr")" > "$work/${2:-$1}.asc"
    grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$work/${2:-$1}.asc"
}

# key KEY PRIMARY SUBKEY: a key and its subkey, exported.
key() {
    gen "$1" "$1 <${TAG}pol-$1@example.test>" "$2" 2y
    add "$1" "$3"
    export_key "$1"
}

policy_keys() {
    mkdir -m 700 "$work/gnupg"
    key rsa1024 rsa1024 rsa1024
    key dsa dsa2048 elg2048
    key elg ed25519 elg2048
    key rsa2048 rsa2048 rsa2048
    key good ed25519 cv25519
    add good elg2048
    export_key good good-elg
    cp "$work/good.fpr" "$work/good-elg.fpr"
    gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true
    rm -rf "$work/gnupg" "$work/status"
}

work=$dir.new
rm -rf "$work"
mkdir -p "$work"
case $name in
    pki) sh "$top_srcdir/scripts/make-test-ca.sh" "$work" example.test "$TAG" ;;
    policy-keys) policy_keys ;;
    *) echo "fixtures: no fixture named $name" >&2; exit 1 ;;
esac
printf '%s\n' "$TAG" > "$work/stamp"
rm -rf "$dir"
mv "$work" "$dir"
