#!/bin/sh
# policy.sh - the algorithm policy at enroll, refresh, check and send:
# RSA-1024, DSA, ElGamal and SHA-1 self-signatures are refused, RSA-2048
# is a warning.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools

init_home; pass "init (audit key kept)"

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

# refused WHAT ADDR FPR PATTERN: enroll is refused with 77 and a message
# matching PATTERN, and ADDR stays unenrolled.
refused() {
    export_key "$3" "$T/key.asc"
    expect_rc 77 "enroll refuses $1" \
        pankey enroll "$2" --fingerprint "$3" --file "$T/key.asc"
    grep -q "$4" "$T/err" || { cat "$T/err" >&2; fail "$1: no '$4' in the refusal"; }
    grep -q 'algorithm policy' "$T/err" || fail "$1: the refusal names no rule"
    not_enrolled "$2" || fail "$1: a record was left"
}

R1=${TAG}pol-rsa1024@example.test
f=$(gen_key "RSA 1024 <$R1>" rsa1024)
add_enc "$f" rsa1024
refused "RSA-1024" "$R1" "$f" 'below min-rsa-bits 2048'

DS=${TAG}pol-dsa@example.test
f=$(gen_key "DSA <$DS>" dsa2048)
add_enc "$f" elg2048
refused "DSA" "$DS" "$f" 'DSA is not allowed'

EG=${TAG}pol-elg@example.test
f=$(gen_key "ElGamal <$EG>" ed25519)
add_enc "$f" elg2048
refused "an ElGamal subkey" "$EG" "$f" 'ElGamal is not allowed'

S1=${TAG}pol-sha1@example.test
f=$(gen_key "SHA1 <$S1>" ed25519 --cert-digest-algo SHA1)
add_enc "$f" cv25519 --cert-digest-algo SHA1
kgpg --with-colons --list-sigs "$f" | awk -F: '$1 == "sig" && $16 != 2 { bad = 1 } END { exit bad }' ||
    fail "gpg did not make SHA-1 self-signatures"
refused "SHA-1 self-signatures" "$S1" "$f" 'uses SHA-1'

# RSA-2048 is allowed with a warning; check reports it.
R2=${TAG}pol-rsa2048@example.test
f2=$(gen_key "RSA 2048 <$R2>" rsa2048)
add_enc "$f2" rsa2048
export_key "$f2" "$T/key.asc"
expect_rc 0 "enroll RSA-2048" pankey enroll "$R2" --fingerprint "$f2" --file "$T/key.asc"
grep -q 'warn-rsa-bits' "$T/err" || fail "enroll of RSA-2048 gave no warning"
expect_rc 1 "check: RSA-2048 is a warning" pankey check
grep -q "^WARNING $R2 key $f2 breaks the algorithm policy: .*RSA 2048 bits" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no policy warning"; }
grep -q 'weak=1' "$T/out" || fail "check: weak not counted"

# A good key that later gains an ElGamal subkey: refresh refuses the
# update; pushed into the keyring behind pankey's back, pansend and
# check refuse it.
G=${TAG}pol-good@example.test
fg=$(make_key "Good Policy" "$G")
export_key "$fg" "$T/good.asc"
expect_rc 0 "enroll a good key" pankey enroll "$G" --fingerprint "$fg" --file "$T/good.asc"
add_enc "$fg" elg2048
export_key "$fg" "$T/good2.asc"
expect_rc 77 "refresh refuses an update with an ElGamal subkey" \
    pankey refresh "$G" --file "$T/good2.asc"
grep -q 'ElGamal is not allowed' "$T/err" || fail "refresh: the refusal names no rule"
make_capture capture >/dev/null
printf 'From: p@panmail.test\nTo: %s\nSubject: policy\n\nhello\n' "$G" > "$T/msg"
expect_rc 0 "send to the good key after the refused refresh" \
    pansend --sendmail "$T/capture" < "$T/msg"
push_key_update "$fg"
rm -f "$T/capture.out"
expect_rc 77 "send refuses a key that breaks the policy" \
    pansend --sendmail "$T/capture" < "$T/msg"
grep -q 'ElGamal' "$T/err" || fail "send: the refusal names no rule"
[ -e "$T/capture.out" ] && fail "policy: the sendmail command was run"
expect_rc 2 "check: a key that breaks the policy is critical" pankey check
grep -q "^CRITICAL $G key $fg breaks the algorithm policy" "$T/out" ||
    { cat "$T/out" >&2; fail "check: no critical policy finding"; }
