#!/bin/sh
# smime-race.sh - an S/MIME recipient enrolled while a send is under
# way.  pansend looks at the home before it reads the message: a home
# without S/MIME sets GPGME up without gpgsm.  If the operator trusts a
# CA and enrolls an S/MIME recipient before the message names it, the
# send is refused (77) with a reason that says so, recorded, and nothing
# reaches the MTA; the next send to that recipient goes out.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

P=$(fixture pki) || exit 1
fp () { cat "$P/$1.$2"; }
A=${TAG}alice@example.test
mta=$(mta_recorder mta)

init_home; pass "init (audit key kept)"
echo "smime-revocation-check off" >> "$PANMAIL_HOME/panmail.conf"

# The message comes through a FIFO, opened here first (read and write,
# which does not wait for a reader), so that pansend starts and then
# waits for it in read(2).  Only this shell holds the FIFO open for
# writing: every other program runs with descriptor 7 closed.
# waiting_for_message PID: pansend itself (not libtool's wrapper, which
# waits on pipes too) is in read(2) on a pipe: its wait channel says so,
# or else its system call (read, 0 on x86_64 and 63 on arm64, on fd 0).
waiting_for_message() {
    case $(readlink "/proc/$1/exe") in
        */pansend | */lt-pansend) ;;
        *) return 1 ;;
    esac
    grep -q "pipe_read" "/proc/$1/wchan" 2>/dev/null && return 0
    read -r wm_nr wm_fd _ < "/proc/$1/syscall" 2>/dev/null || return 1
    { [ "$wm_nr" = 0 ] || [ "$wm_nr" = 63 ]; } && [ "$wm_fd" = 0x0 ]
}
mkfifo "$T/msg.fifo"
exec 7<> "$T/msg.fifo"
"$PANSEND" --sendmail "$mta" -t < "$T/msg.fifo" > "$T/race.out" 2> "$T/race.err" 7>&- &
send_pid=$!
i=0
until waiting_for_message "$send_pid"; do
    i=$((i + 1))
    [ "$i" -lt 600 ] || fail "pansend did not come to read its message"
    sleep 0.05
done
pass "pansend waits for its message, the home without S/MIME"

expect_rc 0 "trust-ca meanwhile" \
    pankey trust-ca --fingerprint "$(fp ca sha256)" --file "$P/ca.pem" 7>&-
expect_rc 0 "enroll an S/MIME recipient meanwhile" pankey enroll "$A" \
    --protocol smime --fingerprint "$(fp valid sha1)" --file "$P/valid.pem" 7>&-
report_to "$A" "race" >&7
exec 7>&-
if wait "$send_pid"; then rc=0; else rc=$?; fi
[ "$rc" -eq 77 ] || { cat "$T/race.err" >&2; fail "the send begun before the enroll: exit status $rc, expected 77"; }
grep -q "S/MIME recipient was enrolled after this send began" "$T/race.err" ||
    { cat "$T/race.err" >&2; fail "the refusal does not say why"; }
[ ! -s "$T/mta.runs" ] || fail "the refused send ran the MTA"
panaudit log --json --event refuse |
    jq -e -s 'length == 1 and (.[0].reason | test("enrolled after this send began"))' \
        >/dev/null || fail "no refuse record with the reason"
pass "the send begun before the enroll is refused (77), recorded, not handed to the MTA"

report_to "$A" "again" > "$T/msg"
expect_rc 0 "the next send to the S/MIME recipient" \
    pansend --sendmail "$mta" -t < "$T/msg"
[ "$(wc -l < "$T/mta.runs")" -eq 1 ] || fail "the next send did not reach the MTA once"
pass "the next send to the S/MIME recipient reaches the MTA"
