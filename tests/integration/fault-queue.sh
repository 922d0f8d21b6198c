#!/bin/sh
# fault-queue.sh - the queue: with the MTA down a To+Bcc message is
# queued (75), each copy with its envelope; once it is up, two flushes
# at once (the command of contrib/panmail-flush.service) deliver each
# copy exactly once through the real Postfix and each recipient
# decrypts it.  A pansend killed while the MTA has its copy leaves it
# for the next pansend to queue ("recovered"); --queue-list and
# --queue-drop; records match.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools
need_postfix

init_home; pass "init (audit key kept)"
A=${TAG}fault-queue-alice@example.test B=${TAG}fault-queue-bob@example.test
fa=$(make_key Alice "$A"); fb=$(make_key Bob "$B")
export_key "$fa" "$T/a.asc"; export_key "$fb" "$T/b.asc"
expect_rc 0 "enroll A" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
expect_rc 0 "enroll B" pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc"

# An MTA that is down while $T/down exists, else the real sendmail (a
# little slow, so that two flushes overlap).
rec=$(mta_recorder rec /usr/sbin/sendmail)
cat > "$T/mta" <<EOF
#!/bin/sh
echo "\$*" >> "$T/mta.args"
if [ -e "$T/down" ]; then cat > /dev/null; exit 75; fi
sleep 0.3
exec "$rec" "\$@"
EOF
chmod 755 "$T/mta"
echo "sendmail $T/mta" >> "$PANMAIL_HOME/panmail.conf"
log_json() { panaudit --home "$PANMAIL_HOME" log --json; }

BODY="queued body $(new_marker)"
printf 'From: ops@example.test\nTo: %s\nBcc: %s\nSubject: q\n\n%s\n' \
    "$A" "$B" "$BODY" > "$T/msg"
sa=$(mbox_size "$A") sb=$(mbox_size "$B")

# ------------------------------------------------------------ MTA down
touch "$T/down"
SENDER=${TAG}fault-queue-bounce@example.test
expect_rc 75 "send To+Bcc with the MTA down (-f, -N, -R)" \
    pansend -t -f "$SENDER" -N success,failure -R hdrs < "$T/msg"
expect_rc 0 "--queue-list" pansend --queue-list
[ "$(wc -l < "$T/out")" = 2 ] || { cat "$T/out" >&2; fail "--queue-list does not show 2 copies"; }
grep -q " to $A\$" "$T/out" || fail "--queue-list does not name $A"
grep -q " to $B\$" "$T/out" || fail "--queue-list does not name $B"
pass "two copies queued, listed with their recipients"

# ------------------------------------------------------------ a crash
# The MTA hangs; pansend is killed (-9) while it has the copy.
kill_while_mta_has "$A"
expect_rc 0 "--queue-list after a crash (recovers first)" pansend --queue-list
[ -z "$(ls "$PANMAIL_HOME/spool")" ] || { ls -l "$PANMAIL_HOME/spool" >&2; fail "spool/ not empty after recovery"; }
[ "$(wc -l < "$T/out")" = 3 ] || { cat "$T/out" >&2; fail "the crashed copy is not queued"; }
log_json | jq -e -s '[.[] | select(.event == "queue" and (.reason | test("recovered")))] | length == 1' \
    >/dev/null || fail "no queue record saying recovered"
pass "the copy of a killed pansend is queued by the next one, with a record"

# ------------------------------------------------------------ drop
id=$(log_json | jq -r -s '[.[] | select(.event == "queue")][-1].copy')
expect_rc 0 "--queue-drop $id" pansend --queue-drop "$id"
[ ! -e "$PANMAIL_HOME/queue/$id.env" ] || fail "the dropped copy is still queued"
log_json | jq -e -s --arg id "$id" '.[-1] | .event == "drop" and .copy == $id' \
    >/dev/null || fail "no drop record"
expect_rc 64 "--queue-drop of an unknown id" pansend --queue-drop c0-00000000-9
pass "--queue-drop removes a copy with a record"

# ------------------------------------------------------------ two flushes
rm -f "$T/down"
flush_cmd=$(sed -n 's/^ExecStart=//p' "$top_srcdir/contrib/panmail-flush.service")
[ -n "$flush_cmd" ] || fail "contrib/panmail-flush.service has no ExecStart"
# shellcheck disable=SC2086  # the unit's command line, split into words
set -- $flush_cmd
shift                                   # the installed pansend: ours instead
"$PANSEND" "$@" > "$T/f1" 2>&1 & f1=$!
"$PANSEND" "$@" > "$T/f2" 2>&1 & f2=$!
wait "$f1" || { cat "$T/f1" >&2; fail "flush 1 failed"; }
wait "$f2" || { cat "$T/f2" >&2; fail "flush 2 failed"; }
[ -z "$(ls "$PANMAIL_HOME/queue")" ] || { ls -l "$PANMAIL_HOME/queue" >&2; fail "queue/ not empty after the flushes"; }
wait_for_mail "$A" "$sa"; wait_for_mail "$B" "$sb"
last_message "$A" "$T/a.eml"; last_message "$B" "$T/b.eml"
assert_no_new_mail "two flushes" "$A" "$(mbox_size "$A")" "$B" "$(mbox_size "$B")"
for x in "$A $sa" "$B $sb"; do
    # shellcheck disable=SC2086  # split into its words on purpose
    set -- $x
    [ "$(new_mail_count "$1" "$2")" = 2 ] ||
        fail "$1 did not get exactly one copy (and the sentinel)"
done
pass "two flushes at once: one copy each"
decrypt_pgpmime "$T/a.eml" "$(secret_home "$fa")" "$T/a.dec"
decrypt_pgpmime "$T/b.eml" "$(secret_home "$fb")" "$T/b.dec"
grep -qF "$BODY" "$T/a.dec" || fail "$A cannot read the queued message"
grep -qF "$BODY" "$T/b.dec" || fail "$B cannot read the queued message"
pass "each recipient decrypts its copy"
grep -q "^Return-Path: <$SENDER>" "$T/a.eml" ||
    fail "the flushed copy lost its envelope sender"
[ "$(grep -c -- "-i -f $SENDER -N success,failure -R hdrs -- " "$T/mta.args")" -ge 4 ] ||
    { cat "$T/mta.args" >&2; fail "the flush did not pass the envelope sender and DSN options"; }
pass "a flushed copy keeps the envelope sender and the DSN options"
n=$(log_json | jq -s '[.[] | select(.event == "delivered")] | length')
[ "$n" = 2 ] || fail "$n delivered records, expected 2"
log_json | jq -e -s '[.[] | select(.event == "delivered") | .copy] | unique | length == 2' \
    >/dev/null || fail "a copy was delivered twice"
pass "two delivered records, one per copy"
check_received

# ------------------------------------------------------------ cron line
grep -q 'pansend -q' "$top_srcdir/contrib/panmail-flush.cron" || fail "no cron line"
grep -q '^OnUnitActiveSec=' "$top_srcdir/contrib/panmail-flush.timer" || fail "timer has no period"
pass "contrib: service, timer and cron line"
