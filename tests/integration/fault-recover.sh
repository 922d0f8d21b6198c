#!/bin/sh
# fault-recover.sh - what a crashed pansend left (killed at "staged",
# "pending" or "handed": PANMAIL_TEST_CRASH_AT, a hook of
# --enable-test-hooks builds) is queued with its record by the next
# pankey that takes the key lock, or by the operator's "panaudit
# verify", not only by the next pansend; a flush then delivers it.  In
# a home shared with senders (issue 11), a sender's "panaudit verify"
# changes nothing, the operator's pankey passes over a sender's copy
# it cannot open, and the sender's next pansend queues it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need_tools
command -v runuser >/dev/null 2>&1 || fail "runuser is not installed"

enroll_alice
echo "sendmail $(mta_recorder good)" >> "$PANMAIL_HOME/panmail.conf"
B=${TAG}fault-recover-bob@example.test
fb=$(make_key Bob "$B")
export_key "$fb" "$T/b.asc"
log_json() { panaudit --home "$PANMAIL_HOME" log --json; }

# crash STEP: a pansend killed at STEP; print the id of the copy it left.
crash() {
    report_to "$A" "crash $1 $(new_marker)" > "$T/msg"
    if PANMAIL_TEST_CRASH_AT=$1 "$PANSEND" < "$T/msg" >"$T/out" 2>&1; then
        rc=0; else rc=$?; fi
    [ "$rc" = 137 ] || { cat "$T/out" >&2; fail "$1: exit $rc, not killed"; }
    find "$PANMAIL_HOME/spool" -name 'c*.env' | sed 's,.*/,,; s,\.env$,,'
}

# recovered ID WHO: copy ID left spool/ for queue/ with one "queue"
# record saying it was recovered, and WHO said so on stderr.
recovered() {
    [ -z "$(ls "$PANMAIL_HOME/spool")" ] ||
        { ls -l "$PANMAIL_HOME/spool" >&2; fail "$2: spool/ is not empty"; }
    for x in eml env; do
        [ -f "$PANMAIL_HOME/queue/$1.$x" ] || fail "$2: copy $1 is not queued ($x)"
    done
    log_json | jq -e -s --arg id "$1" '[.[] | select(.copy == $id
        and .event == "queue" and (.reason | test("recovered")))] | length == 1' \
        >/dev/null || fail "$2: no single record saying copy $1 was recovered"
    grep -q "1 copies of a crashed pansend were queued" "$T/err" ||
        { cat "$T/err" >&2; fail "$2 does not say it queued a copy"; }
    pass "$2 queued the copy $1 a crashed pansend left, with its record"
}

id=$(crash pending)
[ -n "$id" ] || fail "the crash at pending left no copy"
expect_rc 0 "pankey enroll after a crash at pending" \
    pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc"
recovered "$id" "pankey enroll"

id=$(crash handed)
expect_rc 0 "pankey revoke after a crash at handed" \
    pankey revoke "$B" --reason superseded
recovered "$id" "pankey revoke"

id=$(crash staged)
expect_rc 0 "panaudit verify after a crash at staged" \
    panaudit --home "$PANMAIL_HOME" verify --key "$T/audit.key"
recovered "$id" "panaudit verify"

expect_rc 0 "pankey list (no lock, nothing to queue)" pankey list
expect_rc 0 "flush" pansend -q
[ -z "$(ls "$PANMAIL_HOME/queue")" ] || fail "queue/ not empty after the flush"
n=$(log_json | jq -s '[.[] | select(.event == "delivered")] | length')
[ "$n" = 3 ] || fail "$n delivered records, expected 3"
check_received

# ------------------------------------------------------------ a shared home
sfx=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
GRP=pmg$sfx OPU=pmo$sfx SNDU=pms$sfx
make_role_users "$GRP" "$OPU" "$SNDU"
chmod 711 "$T"
R=$T/r
mkdir -m 755 "$R"
chown "$OPU" "$R"
for u in "$OPU" "$SNDU"; do
    mkdir -m 700 "$R/h-$u"
    chown "$u" "$R/h-$u"
done
H=$R/home
printf '#!/bin/sh\ncat > /dev/null\n' > "$R/mta"
chmod 755 "$R/mta"
cp "$T/a.asc" "$T/b.asc" "$R/"
chmod 644 "$R/a.asc" "$R/b.asc"
report_to "$A" "shared $(new_marker)" > "$R/msg"
chmod 644 "$R/msg"

# as USER CMD...: CMD as USER, in /, with its own HOME, on the shared home.
as() {
    as_u=$1
    shift
    (cd / && runuser -u "$as_u" -- env HOME="$R/h-$as_u" PANMAIL_HOME="$H" \
        PATH="$PATH" "$@")
}
hlog() { as "$OPU" "$PANAUDIT" log --json; }

as "$OPU" "$PANKEY" init --sender-group "$GRP" >/dev/null 2>"$T/err" ||
    { cat "$T/err" >&2; fail "pankey init --sender-group failed"; }
expect_rc 0 "the operator enrolls $A" \
    as "$OPU" "$PANKEY" enroll "$A" --fingerprint "$fa" --file "$R/a.asc"
# shellcheck disable=SC2016  # expanded by the inner shell
if sh -c 'runuser -u "$1" -- env HOME="$2" PANMAIL_HOME="$3" \
        PANMAIL_TEST_CRASH_AT=pending "$4" --sendmail "$5" -t < "$6"' \
        sh "$SNDU" "$R/h-$SNDU" "$H" "$PANSEND" "$R/mta" "$R/msg" \
        >"$T/out" 2>&1; then
    fail "the sender's pansend was not killed"
fi
left=$(find "$H/spool" -name 'c*.eml')
[ -n "$left" ] || fail "the sender's crashed pansend left nothing in spool/"
nrec=$(hlog | wc -l)
pass "a sender's pansend killed at pending"

expect_rc 0 "the sender's panaudit verify" as "$SNDU" "$PANAUDIT" verify
[ -f "$left" ] || fail "the sender's verify moved the copy"
[ "$(hlog | wc -l)" = "$nrec" ] || fail "the sender's verify wrote a record"
pass "a sender's panaudit verify changes nothing"

expect_rc 0 "the operator's pankey enroll passes over the sender's copy" \
    as "$OPU" "$PANKEY" enroll "$B" --fingerprint "$fb" --file "$R/b.asc"
[ -f "$left" ] || fail "the operator moved a copy it cannot read"
pass "the operator's pankey passes over a sender's copy it cannot open"

# shellcheck disable=SC2016  # expanded by the inner shell
expect_rc 0 "the sender's next pansend" sh -c \
    'runuser -u "$1" -- env HOME="$2" PANMAIL_HOME="$3" "$4" --sendmail "$5" -t < "$6"' \
    sh "$SNDU" "$R/h-$SNDU" "$H" "$PANSEND" "$R/mta" "$R/msg"
[ ! -e "$left" ] || fail "the sender's next pansend left its crashed copy"
hlog | jq -e -s '[.[] | select(.event == "queue"
    and (.reason | test("recovered")))] | length == 1' >/dev/null ||
    fail "no record of the recovered copy in the shared home"
pass "the sender's next pansend queues it, with its record"
