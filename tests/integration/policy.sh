#!/bin/sh
# policy.sh - the algorithm policy at enroll, refresh, check and send:
# RSA-1024, DSA, ElGamal and SHA-1 self-signatures are refused, RSA-2048
# is a warning.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools

init_home; pass "init (audit key kept)"

# The DSA, ElGamal and RSA keys take seconds to make: they are shared
# fixtures (tests/integration/fixtures.sh), made once per run.
K=$(fixture policy-keys) || exit 1
fpr() { cat "$K/$1.fpr"; }

# gen_key UID ALGO [GPG-OPTIONS...]: a primary key ALGO (cert,sign);
# prints its fingerprint.
gen_key() {
    gk_uid=$1 gk_algo=$2
    shift 2
    kgpg "$@" --status-fd 3 --quick-gen-key "$gk_uid" "$gk_algo" cert,sign 2y \
        3>"$T/keygen.status" >/dev/null 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-gen-key $gk_algo failed"; }
    awk '$2 == "KEY_CREATED" { print $4; exit }' "$T/keygen.status"
}

# add_enc FPR ALGO [GPG-OPTIONS...]: add an encryption subkey ALGO.
add_enc() {
    ae_fpr=$1 ae_algo=$2
    shift 2
    kgpg "$@" --quick-add-key "$ae_fpr" "$ae_algo" encr 2y 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-add-key $ae_algo failed"; }
}

# refused WHAT ADDR FPR FILE PATTERN: enrolling FPR from FILE is refused
# with 77 and a message matching PATTERN, and ADDR stays unenrolled.
refused() {
    expect_rc 77 "enroll refuses $1" \
        pankey enroll "$2" --fingerprint "$3" --file "$4"
    grep -q "$5" "$T/err" || { cat "$T/err" >&2; fail "$1: no '$5' in the refusal"; }
    grep -q 'algorithm policy' "$T/err" || fail "$1: the refusal names no rule"
    not_enrolled "$2" || fail "$1: a record was left"
}

refused "RSA-1024" "${TAG}pol-rsa1024@example.test" "$(fpr rsa1024)" \
    "$K/rsa1024.asc" 'below min-rsa-bits 2048'
refused "DSA" "${TAG}pol-dsa@example.test" "$(fpr dsa)" "$K/dsa.asc" \
    'DSA is not allowed'
refused "an ElGamal subkey" "${TAG}pol-elg@example.test" "$(fpr elg)" \
    "$K/elg.asc" 'ElGamal is not allowed'

S1=${TAG}pol-sha1@example.test
f=$(gen_key "SHA1 <$S1>" ed25519 --cert-digest-algo SHA1)
add_enc "$f" cv25519 --cert-digest-algo SHA1
kgpg --with-colons --list-sigs "$f" | awk -F: '$1 == "sig" && $16 != 2 { bad = 1 } END { exit bad }' ||
    fail "gpg did not make SHA-1 self-signatures"
export_key "$f" "$T/key.asc"
refused "SHA-1 self-signatures" "$S1" "$f" "$T/key.asc" 'uses SHA-1'

# RSA-2048 is allowed with a warning; check reports it.
R2=${TAG}pol-rsa2048@example.test
f2=$(fpr rsa2048)
expect_rc 0 "enroll RSA-2048" pankey enroll "$R2" --fingerprint "$f2" --file "$K/rsa2048.asc"
grep -q 'warn-rsa-bits' "$T/err" || fail "enroll of RSA-2048 gave no warning"
expect_rc 1 "check: RSA-2048 is a warning" pankey check
grep -q "^WARNING $R2 key $f2 breaks the algorithm policy: .*RSA 2048 bits" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no policy warning"; }
grep -q 'weak=1' "$T/out" || fail "check: weak not counted"

# A good key that later gains an ElGamal subkey: refresh refuses the
# update; pushed into the keyring behind pankey's back, the subkey is
# not pinned: pansend encrypts to the pinned subkey only (the policy is
# checked at enroll, rotate and refresh; no key listing at send time)
# and check reports the key as critical.
G=${TAG}pol-good@example.test
fg=$(fpr good)
expect_rc 0 "enroll a good key" pankey enroll "$G" --fingerprint "$fg" --file "$K/good.asc"
expect_rc 77 "refresh refuses an update with an ElGamal subkey" \
    pankey refresh "$G" --file "$K/good-elg.asc"
grep -q 'ElGamal is not allowed' "$T/err" || fail "refresh: the refusal names no rule"
make_capture capture >/dev/null
printf 'From: p@panmail.test\nTo: %s\nSubject: policy\n\nhello\n' "$G" > "$T/msg"
expect_rc 0 "send to the good key after the refused refresh" \
    pansend --sendmail "$T/capture" < "$T/msg"
pmgpg --import "$K/good-elg.asc" 2>"$T/keygen.err" ||
    { cat "$T/keygen.err" >&2; fail "importing the update of $fg into $PANMAIL_HOME/gnupg failed"; }
rm -f "$T/capture.out"
expect_rc 0 "send after an unpinned ElGamal subkey reached the keyring" \
    pansend --sendmail "$T/capture" < "$T/msg"
mkdir -p "$T/empty"; chmod 700 "$T/empty"
sed -n '/^-----BEGIN PGP MESSAGE-----/,/^-----END PGP MESSAGE-----/p' \
    "$T/capture.out" > "$T/ct.asc"
gpg --homedir "$T/empty" --batch --list-packets "$T/ct.asc" 2>/dev/null |
    grep ':pubkey enc packet:' > "$T/pkesk" || fail "send: no ciphertext captured"
if [ "$(wc -l < "$T/pkesk")" -ne 1 ] || grep -q 'algo 16' "$T/pkesk"; then
    cat "$T/pkesk" >&2; fail "send: not encrypted to the pinned subkey alone"
fi
expect_rc 2 "check: a key that breaks the policy is critical" pankey check
grep -q "^CRITICAL $G key $fg breaks the algorithm policy" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no critical policy finding"; }
