#!/bin/sh
# enroll.sh - pankey init, enroll (and its refusals), list and show.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools

A=${TAG}enroll-alice@example.test
B=${TAG}enroll-bob@example.test
C=${TAG}enroll-carol@example.test
D=${TAG}enroll-dave@example.test
OP=enroll-operator

# ------------------------------------------------------------------ init

init_home; pass "init (audit key kept)"
[ -d "$PANMAIL_HOME" ] || fail "init did not create $PANMAIL_HOME"
mode=$(stat -c %a "$PANMAIL_HOME")
[ "$mode" = 700 ] || fail "init made $PANMAIL_HOME mode $mode, not 700"
pass "home is mode 0700"

foreign=$T/foreign
mkdir "$foreign"
echo "not panmail" > "$foreign/precious"
pankey --home "$foreign" init >"$T/out" 2>"$T/err" &&
    fail "init of a non-empty foreign directory succeeded without --force"
[ -s "$T/err" ] || fail "refused init printed no message"
[ "$(cat "$foreign/precious")" = "not panmail" ] ||
    fail "refused init changed a file of the foreign directory"
pass "init refuses a non-empty foreign directory"
expect_rc 0 "init --force on a non-empty foreign directory" \
    pankey --home "$foreign" init --force

# ------------------------------------------------------------------ keys

fa=$(make_key "Alice Enroll" "$A")
fb=$(make_key "Bob Enroll" "$B")
fc=$(make_key "Carol Enroll" "$C")
fd=$(make_key "Dave Enroll" "$D")
fe=$(make_key "Eve Enroll" enroll-eve@example.test)
export_key "$fa" "$T/alice.asc"
export_key "$fb" "$T/bob.asc"
export_key "$fc" "$T/carol.asc"
export_keys "$T/dave-and-eve.asc" "$fe" "$fd"

# ------------------------------------------------------------------ enroll ok

expect_rc 0 "enroll with the fingerprint as gpg prints it" \
    pankey --home "$PANMAIL_HOME" enroll "$A" --fingerprint "$fa" \
    --file "$T/alice.asc" --operator "$OP"
expect_rc 0 "enroll with a fingerprint in groups with spaces" \
    pankey enroll "$B" --fingerprint "$(spaced_fpr "$fb")" \
    --file "$T/bob.asc" --operator "$OP"
expect_rc 0 "enroll with a lower-case fingerprint, key on stdin" \
    pankey enroll "$C" --fingerprint "$(lower "$fc")" --file - \
    --operator "$OP" < "$T/carol.asc"
expect_rc 0 "enroll from a file holding two keys" \
    pankey enroll "$D" --fingerprint "$fd" --file "$T/dave-and-eve.asc" \
    --operator "$OP"

[ -d "$PANMAIL_HOME/gnupg" ] || fail "no GnuPG home $PANMAIL_HOME/gnupg"
fprs_in_keyring > "$T/keyring"
for f in "$fa" "$fb" "$fc" "$fd"; do
    grep -qx "$f" "$T/keyring" || fail "enrolled key $f is not in the panmail keyring"
done
grep -qx "$fe" "$T/keyring" &&
    fail "the unpinned key $fe from the same file was imported"
pass "only the pinned key of a file with several keys is imported"
pmgpg --with-colons --list-secret-keys 2>/dev/null | grep -q '^sec' &&
    fail "the panmail keyring holds a secret key"
pass "the panmail keyring holds no secret key"

# ------------------------------------------------------------------ refusals

# expect_refusal WHAT ADDR ENROLL-ARGS...: enroll must fail with a message
# and leave ADDR unenrolled.
expect_refusal() {
    er_what=$1 er_addr=$2
    shift 2
    if pankey enroll "$er_addr" "$@" >"$T/out" 2>"$T/err"; then
        fail "enroll succeeded: $er_what"
    fi
    [ -s "$T/err" ] || fail "refused enroll printed no message: $er_what"
    not_enrolled "$er_addr" || fail "refused enroll left a record: $er_what"
    pass "enroll refuses $er_what"
}

F=${TAG}enroll-frank@example.test
ff=$(make_key "Frank Enroll" "$F")
export_key "$ff" "$T/frank.asc"
expect_refusal "a fingerprint of another key" "$F" \
    --fingerprint "$fa" --file "$T/frank.asc"
# Flip the last hex digit.
case $ff in
    *0) ff_bad=${ff%?}1 ;;
    *) ff_bad=${ff%?}0 ;;
esac
expect_refusal "a fingerprint that differs in one digit" "$F" \
    --fingerprint "$ff_bad" --file "$T/frank.asc"
ff16=$(printf '%s\n' "$ff" | cut -c25-40)
ff8=$(printf '%s\n' "$ff" | cut -c33-40)
expect_refusal "a 16-digit key id" "$F" --fingerprint "$ff16" --file "$T/frank.asc"
expect_refusal "a 0x 16-digit key id" "$F" --fingerprint "0x$ff16" --file "$T/frank.asc"
expect_refusal "an 8-digit key id" "$F" --fingerprint "$ff8" --file "$T/frank.asc"
fprs_in_keyring | grep -qx "$ff" && fail "a refused key ($ff) is in the panmail keyring"
pass "refused keys are not imported"

G=${TAG}enroll-grace@example.test
fg=$(make_key "Grace Enroll" enroll-grace-other@example.test)
export_key "$fg" "$T/grace.asc"
expect_refusal "a key without a user ID for the address" "$G" \
    --fingerprint "$fg" --file "$T/grace.asc"

H=${TAG}enroll-heidi@example.test
fh=$(make_expired_key "Heidi Enroll" "$H")
export_key "$fh" "$T/heidi.asc"
expect_refusal "an expired key" "$H" --fingerprint "$fh" --file "$T/heidi.asc"

I=${TAG}enroll-ivan@example.test
fi_=$(make_key "Ivan Enroll" "$I")
revoke_key "$fi_"
export_key "$fi_" "$T/ivan.asc"
expect_refusal "a revoked key" "$I" --fingerprint "$fi_" --file "$T/ivan.asc"

J=${TAG}enroll-judy@example.test
fj=$(make_sign_only_key "Judy Enroll" "$J")
export_key "$fj" "$T/judy.asc"
expect_refusal "a key without an encryption subkey" "$J" \
    --fingerprint "$fj" --file "$T/judy.asc"

# Enrolling an enrolled address again (same key, or another key).
if pankey enroll "$A" --fingerprint "$fa" --file "$T/alice.asc" >"$T/out" 2>"$T/err"; then
    fail "enrolling $A a second time succeeded"
fi
[ -s "$T/err" ] || fail "second enroll printed no message"
A2=$(make_key "Alice Again" "$A")
export_key "$A2" "$T/alice2.asc"
if pankey enroll "$A" --fingerprint "$A2" --file "$T/alice2.asc" >"$T/out" 2>"$T/err"; then
    fail "enrolling $A a second time with another key succeeded"
fi
pass "enroll refuses an address that is already enrolled"

# Another spelling of an enrolled address is the same mailbox while
# matching ignores case (address-case insensitive, the default): refused
# with 65, naming the enrolled spelling; show finds it.  Under
# address-case exact it is another mailbox, which the key (user ID in
# lower case) does not name.
AU=$(upper "$A")
expect_rc 65 "enroll of $AU (differs from $A only by case)" \
    pankey enroll "$AU" --fingerprint "$A2" --file "$T/alice2.asc"
grep -qF "differs from the enrolled $A only by case" "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal of $AU does not name $A"; }
expect_rc 0 "show $AU" pankey show "$AU"
grep -qF "$A" "$T/out" || fail "show $AU does not show $A"
echo "address-case exact" >> "$PANMAIL_HOME/panmail.conf"
expect_rc 67 "show $AU under address-case exact" pankey show "$AU"
expect_rc 77 "enroll of $AU under address-case exact (no user ID for it)" \
    pankey enroll "$AU" --fingerprint "$A2" --file "$T/alice2.asc"
sed -i '/^address-case exact$/d' "$PANMAIL_HOME/panmail.conf"
pass "address-case: another spelling is the enrolled address, unless exact"

# ------------------------------------------------------------------ inspect

# pankey inspect shows what a file holds before it is enrolled, without a
# home too, and changes nothing: the fingerprint as gpg prints it (which
# enroll takes), the user IDs, the algorithms, and enroll's verdict.
gpgfpr=$(kgpg --fingerprint "$fd" | sed -n 2p | sed 's/^ *//')
cp "$PANMAIL_HOME/registry" "$T/registry.before"
audit_lines=$(wc -l < "$PANMAIL_HOME/audit.log")
expect_rc 0 "inspect a file of two keys" pankey inspect --file "$T/dave-and-eve.asc"
if ! grep -qxF "  fingerprint  $gpgfpr" "$T/out" ||
    ! grep -qF "user ID      Dave Enroll <$D>" "$T/out" ||
    [ "$(grep -c "enroll .*accepted" "$T/out")" != 2 ]; then
    cat "$T/out" >&2
    fail "inspect: not gpg's fingerprint of $D, its user ID, or a verdict"
fi
expect_rc 0 "inspect --json without a home" \
    env -u PANMAIL_HOME "$PANKEY" inspect --json --file - < "$T/judy.asc"
jq -e -s --arg f "$fj" --arg j "$J" 'length == 1 and .[0].v == 1
    and .[0].fingerprint == $f and (.[0].addresses | index($j))
    and (.[0].accepted | not) and (.[0].refusal | test("encryption subkey"))
    and (.[0].subkeys | length) >= 1' "$T/out" >/dev/null ||
    { cat "$T/out" >&2; fail "inspect --json of the sign-only key"; }
if ! cmp -s "$T/registry.before" "$PANMAIL_HOME/registry" ||
    [ "$(wc -l < "$PANMAIL_HOME/audit.log")" != "$audit_lines" ]; then
    fail "inspect changed the registry or the audit log"
fi
for d in "$PANMAIL_HOME"/spool/keycheck.*; do
    [ -e "$d" ] && fail "inspect left its scratch keyring $d"
done
expect_rc 65 "inspect a file without keys" pankey inspect --file "$T/out"
# inspect reads the file under the home's max-key-size, as enroll does.
[ "$(wc -c < "$T/dave-and-eve.asc")" -gt 1024 ] || fail "dave-and-eve.asc is too small for the test"
cp "$PANMAIL_HOME/panmail.conf" "$T/conf.before"
echo "max-key-size 1024" >> "$PANMAIL_HOME/panmail.conf"
expect_rc 65 "inspect a file larger than the home's max-key-size" \
    pankey inspect --file "$T/dave-and-eve.asc"
grep -q 'larger than max-key-size (1024 bytes)' "$T/err" ||
    { cat "$T/err" >&2; fail "inspect did not name the home's max-key-size"; }
cp "$T/conf.before" "$PANMAIL_HOME/panmail.conf"
# A wrong fingerprint points to inspect; gpg's form with spaces and
# OpenSSL's with colons, in any case, are fingerprints enroll takes.
expect_rc 65 "enroll with a fingerprint the file does not hold" \
    pankey enroll "$F" --fingerprint "$fa" --file "$T/dave-and-eve.asc"
grep -qF "pankey inspect --file $T/dave-and-eve.asc" "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal does not point to pankey inspect"; }
expect_rc 64 "enroll is refused a fingerprint of the wrong length" \
    pankey enroll "$F" --fingerprint "$(printf '%s' "$fd" | cut -c1-38 | sed 's/../&:/g')" \
    --file "$T/dave-and-eve.asc"
grep -q "hex digits, spaces and colons\|40 or 64 hex digits" "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal of a short fingerprint"; }
pass "inspect: fingerprints, user IDs, verdicts, without a home, read-only; enroll points to it"

# ------------------------------------------------------------------ list

expect_rc 0 "list" pankey list
for a in "$A" "$B" "$C" "$D"; do
    grep -qiF "$a" "$T/out" || fail "pankey list does not show $a"
done
for a in "$F" "$G" "$H" "$I" "$J"; do
    grep -qiF "$a" "$T/out" && fail "pankey list shows the refused $a"
done
pass "list shows the enrolled addresses and no other"

expect_rc 0 "list --json" pankey list --json
cp "$T/out" "$T/list.out"
n=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=$((n + 1))
    printf '%s\n' "$line" | jq -e 'type == "object"
        and has("address") and has("protocol") and has("fingerprint")
        and has("enrolled_at") and has("enrolled_by") and has("status")' \
        >/dev/null || fail "list --json line $n is not a full record: $line"
done < "$T/list.out"
[ "$n" -eq 4 ] || fail "list --json gave $n records, expected 4"
pass "list --json gives one complete object per line"

# check_record FILE ADDR FPR: the JSON record for ADDR in FILE is right.
check_record() {
    jq -e -s --arg a "$2" --arg f "$3" --arg op "$OP" '
        [.[] | select((.address | ascii_downcase) == $a)]
        | length == 1 and (.[0]
        | .fingerprint == $f and .protocol == "openpgp"
          and .enrolled_by == $op and .status == "active"
          and .enrolled_at != null and .enrolled_at != "")' "$1" >/dev/null ||
        { cat "$1" >&2; fail "JSON record for $2 is not as expected ($3)"; }
}
check_record "$T/list.out" "$A" "$fa"
check_record "$T/list.out" "$B" "$fb"
check_record "$T/list.out" "$C" "$fc"
check_record "$T/list.out" "$D" "$fd"
pass "records hold the canonical fingerprint, protocol, operator and status"

# ------------------------------------------------------------------ show

expect_rc 0 "show" pankey show "$B"
grep -qiF "$B" "$T/out" || fail "pankey show does not name $B"
tr -d ' ' < "$T/out" | grep -qi "$fb" || fail "pankey show does not give the fingerprint of $B"
expect_rc 0 "show --json" pankey --home "$PANMAIL_HOME" show "$B" --json
[ "$(grep -c . "$T/out")" -eq 1 ] || fail "show --json gave more than one line"
check_record "$T/out" "$B" "$fb"
pass "show --json gives the record"

if pankey show enroll-nobody@example.test >"$T/out" 2>"$T/err"; then
    fail "show of an address that is not enrolled succeeded"
fi
[ -s "$T/err" ] || fail "show of an unknown address printed no message"
pass "show refuses an address that is not enrolled"

# ------------------------------------------------------------------ enroll --batch

# One list, one key file: each pair checked, recorded and pinned on its
# own; a pair that is refused (Grace's key has no user ID for her
# address) is recorded and does not stop the others.
K1=${TAG}enroll-kate@example.test
K2=${TAG}enroll-ken@example.test
fk1=$(make_key "Kate Enroll" "$K1")
fk2=$(make_key "Ken Enroll" "$K2")
export_keys "$T/batch.asc" "$fk1" "$fg" "$fk2"
printf '%s\n' "# read out on the phone" "$K1 $fk1" "" \
    "$G	$(printf '%s' "$fg" | tr 'A-F' 'a-f')" "$K2 $fk2" > "$T/batch.list"
expect_rc 65 "enroll --batch with one refused pair" \
    pankey enroll --batch "$T/batch.list" --file "$T/batch.asc" --operator "$OP"
grep -q "enrolled $K1 with OpenPGP key $fk1" "$T/out" || fail "--batch did not enroll $K1"
grep -q "enrolled $K2 with OpenPGP key $fk2" "$T/out" || fail "--batch did not enroll $K2"
grep -q "2 of 3 keys enrolled" "$T/out" || fail "--batch does not count what it enrolled"
grep -q "pair 2 ($G) not enrolled" "$T/err" || fail "--batch does not name the refused pair"
awk -v a="$K2" '$1 == "recipient" { r = $2 } r == a && $1 == "subkey-expiry" { n++ }
    END { exit n != 1 }' "$PANMAIL_HOME/registry" ||
    fail "--batch did not record the time of $K2's subkey"
panaudit log --json --event enroll | jq -e -s --arg g "$G" --arg k1 "$K1" --arg k2 "$K2" '
    (map(select(.outcome == "ok") | .recipients[0].address) | index($k1) != null and index($k2) != null)
    and (map(select(.outcome != "ok") | .recipients[0].address) | index($g) != null)' >/dev/null ||
    fail "--batch did not record each pair"
printf 'bad line\n' > "$T/bad.list"
expect_rc 65 "enroll --batch with a bad list" \
    pankey enroll --batch "$T/bad.list" --file "$T/batch.asc"
grep -q "line 1: the fingerprint must be" "$T/err" || fail "--batch does not say which line is wrong"
pass "enroll --batch: each pair on its own, a bad list refused"

# ------------------------------------------------------------------ address-case exact

# Under address-case exact the local part is matched as written: a key
# whose user ID spells it Kim-Enroll enrolls for that spelling (GnuPG
# gives the address in lower case; the user ID's own spelling counts),
# and the lower-case spelling is another, unenrolled mailbox.
K=${TAG}Kim-Enroll@example.test
fk=$(make_key "Kim Enroll" "$K")
export_key "$fk" "$T/kim.asc"
echo "address-case exact" >> "$PANMAIL_HOME/panmail.conf"
expect_rc 0 "enroll $K under address-case exact" \
    pankey enroll "$K" --fingerprint "$fk" --file "$T/kim.asc"
expect_rc 67 "show $(lower "$K") under address-case exact" pankey show "$(lower "$K")"
sed -i '/^address-case exact$/d' "$PANMAIL_HOME/panmail.conf"
expect_rc 0 "show $(lower "$K") when case is ignored" pankey show "$(lower "$K")"
grep -qF "$K" "$T/out" || fail "show does not give $K as enrolled"
pass "address-case exact: the local part as the user ID writes it"

# ------------------------------------------------------------------ verdicts

# enroll records its verdict on each OpenPGP key in the registry; the
# reports take it from there while the keyring is as pankey left it
# (the stamp gnupg/keyring.sha256), else they ask gpg about every key.
# Both ways give the same reports.
ring_digest() { sha256sum < "$PANMAIL_HOME/gnupg/pubring.kbx" | cut -d' ' -f1; }
stamp=$PANMAIL_HOME/gnupg/keyring.sha256
[ "$(grep -c '^key-state ' "$PANMAIL_HOME/registry")" -ge 5 ] ||
    fail "enroll recorded no verdicts"
[ "$(cat "$stamp")" = "$(ring_digest)" ] || fail "the keyring stamp is not the keyring's"
# reports SUFFIX: every report into $T/*.SUFFIX.
reports() {
    pankey list --json > "$T/list.$1" 2>&1 || fail "pankey list failed"
    if pankey check > "$T/check.$1" 2>&1; then echo 0; else echo $?; fi >> "$T/check.$1"
    "$PANAUDIT" keys --json > "$T/keys.$1" 2>&1 || fail "panaudit keys failed"
}
reports recorded
mv "$stamp" "$T/stamp"
reports asked
mv "$T/stamp" "$stamp"
for r in list check keys; do
    diff -u "$T/$r.asked" "$T/$r.recorded" || fail "$r: the recorded verdicts differ from gpg's"
done
pass "the reports from the recorded verdicts are those from gpg"
# A key imported behind pankey's back leaves the stamp behind, and no
# later enroll renews it: the reports ask gpg from then on.
G=${TAG}enroll-gil@example.test
fg=$(make_key "Gil Enroll" "$G")
export_key "$fg" "$T/gil.asc"
pmgpg --import "$T/gil.asc" 2>/dev/null || fail "importing gil's key failed"
before=$(cat "$stamp")
H=${TAG}enroll-hal@example.test
fh=$(make_key "Hal Enroll" "$H")
export_key "$fh" "$T/hal.asc"
expect_rc 0 "enroll $H" pankey enroll "$H" --fingerprint "$fh" --file "$T/hal.asc"
[ "$(cat "$stamp")" = "$before" ] ||
    fail "an enroll renewed the stamp of a keyring changed behind its back"
pass "a keyring changed behind pankey's back keeps its old stamp"
