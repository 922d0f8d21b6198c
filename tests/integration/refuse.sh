#!/bin/sh
# refuse.sh - pansend fails closed: one recipient without a valid pinned
# key means nothing is sent to anyone; an MTA failure queues ciphertext.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}refuse-alice@example.test
B=${TAG}refuse-bob@example.test
C=${TAG}refuse-carol@example.test     # enrolled, expires later
R=${TAG}refuse-rita@example.test      # enrolled, revoked later
K=${TAG}refuse-kim@example.test       # key in the keyring, never enrolled
N=${TAG}refuse-nobody@example.test    # no key at all
BODY=$(new_marker)
SUBJ=$(new_marker)

init_home; pass "init (audit key kept)"

fa=$(make_key "Alice Refuse" "$A")
fb=$(make_key "Bob Refuse" "$B")
fc=$(make_key -c 3 "Carol Refuse" "$C")
fr=$(make_key "Rita Refuse" "$R")
fk=$(make_key "Kim Refuse" "$K")
for r in "$A:$fa" "$B:$fb" "$C:$fc" "$R:$fr"; do
    addr=${r%%:*} fpr=${r#*:}
    export_key "$fpr" "$T/key.asc"
    pankey enroll "$addr" --fingerprint "$fpr" --file "$T/key.asc" \
        --operator refuse-test >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "enrolling $addr failed"; }
done
pass "four recipients enrolled"

# message FILE TO...: a message to the addresses TO... (one To header).
message() {
    m_file=$1
    shift
    m_to=$(printf '%s, ' "$@")
    printf '%s\n' \
        "From: Refuse Test <reports@panmail.test>" \
        "To: ${m_to%, }" \
        "Subject: refuse $SUBJ" \
        "Date: Mon, 02 Mar 2026 10:00:00 +0000" \
        "Content-Type: text/plain; charset=utf-8" \
        "" \
        "Confidential $BODY" \
        "second line" > "$m_file"
}

# snap: remember the size of each mailbox.
snap() {
    s_A=$(mbox_size "$A") s_B=$(mbox_size "$B") s_C=$(mbox_size "$C")
    s_R=$(mbox_size "$R") s_K=$(mbox_size "$K") s_N=$(mbox_size "$N")
}

# no_leak WHAT: stdout and stderr of the last run hold no body text.
no_leak() {
    grep -qF "$BODY" "$T/out" "$T/err" && fail "$1: the output shows the body text"
    grep -qF "$SUBJ" "$T/out" "$T/err" && fail "$1: the output shows the Subject"
    return 0
}

# queue_clear: our Postfix queue has nothing for this test's addresses.
queue_clear() {
    mail_queue_empty "^${TAG}refuse-" || { postqueue -p >&2; fail "$1: mail for refuse-* is in the Postfix queue"; }
}

make_capture capture >/dev/null

# ------------------------------------------------------------------ not enrolled

snap
message "$T/msg" "$A" "$N" "$B"
expect_rc 67 "an unenrolled recipient among enrolled ones" pansend < "$T/msg"
grep -qiF "$N" "$T/err" || fail "the refusal does not name the unenrolled $N"
no_leak "not enrolled"
queue_clear "not enrolled"
expect_rc 67 "same, through --sendmail" pansend --sendmail "$T/capture" < "$T/msg"
[ -e "$T/capture.out" ] && fail "not enrolled: the sendmail command was run"
message "$T/msg2" "$A"
expect_rc 67 "an unenrolled address on the command line (-t)" pansend -t "$N" < "$T/msg2"
assert_no_new_mail "not enrolled" "$A" "$s_A" "$B" "$s_B" "$N" "$s_N"
queue_clear "not enrolled"
pass "not enrolled: nothing was sent to anyone"

# ------------------------------------------------------------------ key in the keyring, not pinned

export_key "$fk" "$T/kim.asc"
pmgpg --import "$T/kim.asc" 2>"$T/err" || { cat "$T/err" >&2; fail "importing $fk failed"; }
snap
message "$T/msg" "$A" "$K"
expect_rc 67 "a key in the keyring for an address that is not enrolled" pansend < "$T/msg"
no_leak "unpinned key"
assert_no_new_mail "unpinned key" "$K" "$s_K" "$A" "$s_A"

# A second key with a user ID for an enrolled address is not used either.
fa2=$(make_key "Alice Impostor" "$A")
export_key "$fa2" "$T/impostor.asc"
pmgpg --import "$T/impostor.asc" 2>"$T/err" || { cat "$T/err" >&2; fail "importing $fa2 failed"; }
message "$T/msg" "$A"
rm -f "$T/capture.out"
expect_rc 0 "send to an address whose user ID is also on an unpinned key" \
    pansend --sendmail "$T/capture" < "$T/msg"
decrypt_pgpmime "$T/capture.out" "$(secret_home "$fa")" "$T/dec"
grep -qF "$BODY" "$T/dec" || fail "the pinned key's message does not hold the body"
sh_imp=$(secret_home "$fa2")
if gpg --homedir "$sh_imp" --batch --no-tty --quiet --decrypt \
        "$T/pgpmime.asc" >/dev/null 2>&1; then
    fail "the message was also encrypted to the unpinned key $fa2"
fi
pass "only the pinned key is used"
rm -f "$T/capture.out"

# ------------------------------------------------------------------ expired later

expire_key_later "$fc"
push_key_update "$fc"
snap
message "$T/msg" "$A" "$C"
expect_rc 77 "an enrolled key that has expired since" pansend < "$T/msg"
grep -qiF "$C" "$T/err" || tr -d ' ' < "$T/err" | grep -qi "$fc" ||
    fail "the expiry refusal names neither $C nor its key"
no_leak "expired"
expect_rc 77 "same, through --sendmail" pansend --sendmail "$T/capture" < "$T/msg"
[ -e "$T/capture.out" ] && fail "expired: the sendmail command was run"
assert_no_new_mail "expired" "$A" "$s_A" "$C" "$s_C"
queue_clear "expired"
pass "expired key: nothing was sent to anyone"

# ------------------------------------------------------------------ revoked later

revoke_key "$fr"
push_key_update "$fr"
snap
message "$T/msg" "$R" "$B"
expect_rc 77 "an enrolled key that has been revoked since" pansend < "$T/msg"
grep -qF "$R: key $fr is revoked; nothing was sent to anyone" "$T/err" ||
    { cat "$T/err" >&2; fail "the revocation refusal does not name $R and its key"; }
panaudit log --json --event refuse | tail -n 1 |
    jq -e --arg r "$R: key $fr is revoked; nothing was sent to anyone" \
        '.outcome == "refused" and .exit_code == 77 and .reason == $r' \
        >/dev/null || fail "the revocation refusal is not in the audit log"
no_leak "revoked"
expect_rc 77 "same, through --sendmail" pansend --sendmail "$T/capture" < "$T/msg"
[ -e "$T/capture.out" ] && fail "revoked: the sendmail command was run"
# A hidden recipient's copy comes after the visible one is encrypted.
message "$T/msg" "$A"
expect_rc 77 "a revoked hidden recipient" pansend --sendmail "$T/capture" -t "$R" < "$T/msg"
grep -qF "$R: key $fr is revoked" "$T/err" || fail "the hidden refusal does not name $R"
[ -e "$T/capture.out" ] && fail "revoked hidden: the sendmail command was run"
assert_no_new_mail "revoked" "$R" "$s_R" "$B" "$s_B"
queue_clear "revoked"
pass "revoked key: nothing was sent to anyone"

# ------------------------------------------------------------------ records without times

# The send above went to gpg by exact subkey with no key listing, and gpg
# refused the key itself.  A registry written before the times of the
# subkeys were recorded is read as before: the keyring decides.
sed -i '/^subkey-expiry /d' "$PANMAIL_HOME/registry"
expect_rc 0 "registry-accept of a registry without subkey-expiry" \
    pankey registry-accept --note "restored from a backup"
message "$T/msg" "$R" "$A"
expect_rc 77 "revoked, record without times" pansend --sendmail "$T/capture" < "$T/msg"
grep -qF "$R: key $fr is revoked; nothing was sent to anyone" "$T/err" ||
    { cat "$T/err" >&2; fail "the refusal without times differs"; }
[ -e "$T/capture.out" ] && fail "revoked, old record: the sendmail command was run"
message "$T/msg" "$A"
expect_rc 0 "send, record without times" pansend --sendmail "$T/capture" < "$T/msg"
decrypt_pgpmime "$T/capture.out" "$(secret_home "$fa")" "$T/dec"
grep -qF "$BODY" "$T/dec" || fail "old record: the message does not hold the body"
rm -f "$T/capture.out"
pass "a record without subkey times: checked in the keyring as before"

# ------------------------------------------------------------------ MTA failure

message "$T/msg" "$A" "$B"
# queue_files: the files under the queue directory, sorted.
queue_files() {
    if [ -d "$PANMAIL_HOME/queue" ]; then
        find "$PANMAIL_HOME/queue" -type f | sort
    fi
}
queue_files > "$T/queue.before"
expect_rc 75 "the MTA fails" pansend --sendmail /bin/false < "$T/msg"
no_leak "MTA failure"
[ -d "$PANMAIL_HOME/queue" ] || fail "no queue directory $PANMAIL_HOME/queue"
queue_files > "$T/queue.after"
comm -13 "$T/queue.before" "$T/queue.after" > "$T/queue.new"
[ -s "$T/queue.new" ] || fail "MTA failure: nothing new in $PANMAIL_HOME/queue"
n_ct=0
while IFS= read -r qf; do
    q=${qf#"$PANMAIL_HOME"/}
    mode=$(stat -c %a "$qf")
    [ "$mode" = 600 ] || fail "queued file $q has mode $mode, not 600"
    grep -qF "$BODY" "$qf" && fail "queued file $q holds the body text"
    if grep -q -- '-----BEGIN PGP MESSAGE-----' "$qf"; then
        n_ct=$((n_ct + 1))
        pass "queued file $q: mode 0600, ciphertext"
    fi
done < "$T/queue.new"
[ "$n_ct" -ge 1 ] || fail "MTA failure: no new file in the queue holds an armored PGP message"
grep -rqF "$BODY" "$PANMAIL_HOME" && fail "the body text is written somewhere in $PANMAIL_HOME"
grep -rqF "$BODY" "$T/user" && fail "the body text is written somewhere in \$HOME"
pass "MTA failure: ciphertext queued, no plaintext on disk"
