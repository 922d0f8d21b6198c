#!/bin/sh
# dropin.sh - pansend takes sendmail(1)'s command line: the command lines
# of real cron scripts (issue 12), each run unchanged through the real
# Postfix, deliver what Postfix's sendmail would deliver, encrypted, to
# the recipients it would choose, with the envelope sender it would use
# (the delivered Return-Path); the recipient decrypts each.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}dropin-alice@example.test
B=${TAG}dropin-bob@example.test
C=${TAG}dropin-carol@example.test
BOUNCE=${TAG}dropin-bounce@example.test
BODY=$(new_marker)
ME=$(id -un)

init_home; pass "init (audit key kept)"
fa=$(make_key "Alice Dropin" "$A")
fb=$(make_key "Bob Dropin" "$B")
fc=$(make_key "Carol Dropin" "$C")
enroll_keys "$A:$fa" "$B:$fb" "$C:$fc"
pass "three recipients enrolled"

# msg ROW [CC]: a message To alice (Cc CC) whose Message-ID names ROW.
msg() {
    printf 'From: Reports <reports@example.test>\nTo: %s\n' "$A"
    if [ -n "${2:-}" ]; then printf 'Cc: %s\n' "$2"; fi
    printf 'Subject: row %s\nMessage-ID: <%s.%s@dropin.test>\n\n%s %s\n' \
        "$1" "$1" "$TAG" "$BODY" "$1"
}

s_A=$(mbox_size "$A") s_B=$(mbox_size "$B") s_C=$(mbox_size "$C")
conf=$PANMAIL_HOME/panmail.conf
cp "$conf" "$T/conf.orig"

# The table: ROW | Cc of the message | the command line (words split at
# blanks, as cron's shell would) | who gets it | the envelope sender
# ("@" ends a sender that the MTA qualifies with its own domain).
# ROW "cfg" runs with "-f" in the sendmail setting, "env" with
# envelope-sender set as well.
cat > "$T/table" <<EOF
oi-t-f-F|$B|-oi -t -f $BOUNCE -F Reports|A B|$BOUNCE
f-attached|$B|-f$BOUNCE $A|A|$BOUNCE
t-f-bare|-|-t -f x|A|x@
oem-odi|-|-oem -odi -t|A|$ME@
dsn|-|-N never -B 8BITMIME -V env-$TAG -R hdrs -t|A|$ME@
n-ignored|-|-n -t|A|$ME@
r-sender|$B|-r $BOUNCE $A|A|$BOUNCE
bm|$B|-bm $A|A|$ME@
no-t|$B|$A|A|$ME@
t-plus-arg|$B|-t $C|A B C|$ME@
cfg|-|-t|A|cfg-$TAG@example.test
env|-|-t|A|env-$TAG@example.test
EOF

want_A=0 want_B=0 want_C=0
while IFS='|' read -r row cc words who sender; do
    cp "$T/conf.orig" "$conf"
    case $row in
        cfg) printf 'sendmail /usr/sbin/sendmail -f cfg-%s@example.test\n' "$TAG" >> "$conf" ;;
        env) printf 'sendmail /usr/sbin/sendmail -f cfg-%s@example.test\nenvelope-sender env-%s@example.test\n' \
                 "$TAG" "$TAG" >> "$conf" ;;
    esac
    [ "$cc" = - ] && cc=
    msg "$row" "$cc" > "$T/msg"
    # shellcheck disable=SC2086  # the command line, split as a shell would
    expect_rc 0 "pansend $words" pansend $words < "$T/msg"
    for w in $who; do
        eval "want_$w=\$((want_$w + 1))"
        printf '%s|%s\n' "$row" "$sender" >> "$T/want.$w"
    done
done < "$T/table"
cp "$T/conf.orig" "$conf"

# check_mbox WHO ADDR OLDSIZE COUNT FPR: ADDR got exactly the rows of
# $T/want.WHO (COUNT) since OLDSIZE, each with its Return-Path, decrypting with
# FPR's key to the body of its row.
check_mbox() {
    tail -c +"$(($3 + 1))" "$(mbox "$2")" > "$T/mbox.$1"
    "$PYTHON" - "$T/mbox.$1" "$T/want.$1" "$(secret_home "$5")" "$TAG" "$BODY" <<'PY' ||
import mailbox, email, email.policy, subprocess, sys
box, want_file, home, tag, body = sys.argv[1:]
want = dict(l.rstrip('\n').split('|') for l in open(want_file))
got = {}
for m in mailbox.mbox(box, create=False):
    mid = m['Message-ID'] or ''
    if not mid.endswith('.%s@dropin.test>' % tag):
        continue
    row = mid[1:].split('.')[0]
    assert row not in got, 'row %s delivered twice' % row
    got[row] = m
assert set(got) == set(want), 'rows delivered %s, expected %s' % (sorted(got), sorted(want))
for row, m in got.items():
    rp = (m['Return-Path'] or '').strip('<> ')
    s = want[row]
    ok = rp.startswith(s) and '@' in rp if s.endswith('@') else rp == s
    assert ok, 'row %s: Return-Path %r, expected %r' % (row, rp, s)
    assert m.get_content_type() == 'multipart/encrypted', row
    armored = m.get_payload()[1].get_payload(decode=True)
    out = subprocess.run(['gpg', '--homedir', home, '--batch', '--no-tty',
                          '--quiet', '--decrypt'], input=armored,
                         capture_output=True).stdout
    inner = email.message_from_bytes(out, policy=email.policy.default)
    texts = [p.get_content().strip() for p in inner.walk()
             if p.get_content_type() == 'text/plain']
    assert '%s %s' % (body, row) in texts, 'row %s: decrypted %r' % (row, texts)
    assert 'Subject: row %s' % row in out.decode(errors='replace'), 'row %s: no Subject in the decrypted entity' % row
PY
        fail "$2: the delivered messages are not what sendmail would deliver"
    pass "$2: got exactly $4 rows, each with its Return-Path, decrypted"
}
wait_for_mail "$A" "$s_A" "$want_A"
wait_for_mail "$B" "$s_B" "$want_B"
wait_for_mail "$C" "$s_C" "$want_C"
sleep 1   # Nothing more may come.
check_mbox A "$A" "$s_A" "$want_A" "$fa"
check_mbox B "$B" "$s_B" "$want_B" "$fb"
check_mbox C "$C" "$s_C" "$want_C" "$fc"

# The audit record names the true envelope sender and the DSN options.
log=$PANMAIL_HOME/audit.log
rec() { jq -r -s --arg m "<$1.$TAG@dropin.test>" \
    "map(select(.message_id == \$m and .event == \"send\"))[0].$2 // \"-\"" "$log"; }
[ "$(rec oi-t-f-F envelope_from)" = "$BOUNCE" ] || fail "audit: envelope_from of -f is $(rec oi-t-f-F envelope_from)"
[ "$(rec cfg envelope_from)" = "cfg-$TAG@example.test" ] || fail "audit: envelope_from of the sendmail setting's -f"
[ "$(rec env envelope_from)" = "env-$TAG@example.test" ] || fail "audit: envelope_from of envelope-sender"
[ "$(rec no-t envelope_from)" = "$ME" ] || fail "audit: envelope_from of the login user"
[ "$(rec dsn dsn)" = "NOTIFY=never RET=hdrs ENVID=env-$TAG" ] ||
    fail "audit: the dsn of -N never -V -R is $(rec dsn dsn)"
[ "$(rec oi-t-f-F dsn)" = - ] || fail "audit: a dsn without DSN options"
pass "audit records: the true envelope sender, the DSN options"

# The MTA's command line, captured.
make_capture capture >/dev/null
msg capture "" > "$T/msg"
expect_rc 0 "the MTA's arguments" pansend --sendmail "$T/capture -t -f old@x -oi" \
    -N success,delay -R full -V env1 -B 7BIT -f "$BOUNCE" -t < "$T/msg"
printf '%s\n' -oi -i -f "$BOUNCE" -N success,delay -R full -V env1 -B 7BIT -- "$A" \
    > "$T/want.args"
cmp -s "$T/want.args" "$T/capture.args" ||
    { diff "$T/want.args" "$T/capture.args" >&2; fail "the MTA was not run as SENDMAIL -i -f SENDER [DSN] -- RCPT"; }
pass "the MTA is run as SENDMAIL -i -f SENDER -N -R -V -B -- RCPT (its own -f and -t taken out)"

# Usage errors: 64, "pansend: " and a hint; nothing sent.
for words in "-Z" "-t -f" "$A -f $BOUNCE" "-bs" "--subject x" "-N sometimes -t"; do
    # shellcheck disable=SC2086
    expect_rc 64 "pansend $words" pansend --sendmail "$T/capture" $words < "$T/msg"
    grep -q '^pansend: ' "$T/err" || fail "pansend $words: no \"pansend: \" prefix"
done
run_rc "$T/out" "$T/err" pansend -Z < "$T/msg"
grep -q 'see pansend --help' "$T/err" || fail "an unknown option gives no hint"
pass "usage errors exit 64 with pansend: and a hint"
