#!/bin/sh
# dropin-mailx.sh - panmailx, mailx's command line: an attachment from a
# pipe, non-ASCII and comma display names (checked with Python's email
# parser on the decrypted message), Cc and Bcc, -r as From and envelope
# sender, through the real Postfix; usage errors exit 64, a missing
# attachment 66, and nothing is sent.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}dropin-mailx-alice@example.test
B=${TAG}dropin-mailx-bob@example.test
C=${TAG}dropin-mailx-carol@example.test
OPS=${TAG}dropin-mailx-ops@example.test

init_home; pass "init (audit key kept)"
fa=$(make_key "Alice Mailx" "$A")
fb=$(make_key "Bob Mailx" "$B")
fc=$(make_key "Carol Mailx" "$C")
enroll_keys "$A:$fa" "$B:$fb" "$C:$fc"
pass "three recipients enrolled"
s_A=$(mbox_size "$A") s_B=$(mbox_size "$B") s_C=$(mbox_size "$C")
MARK=$(new_marker)
printf 'case,amount,%s\nC-1,12.50\n' "$MARK" > "$T/report.csv"

# 1. The report comes from a pipe as the attachment; the message has no
# text; From with a non-ASCII name, Cc with a comma in the name, a Bcc.
expect_rc 0 "panmailx -a '-;text/csv;report.csv' from a pipe" \
    panmailx -s "Rückbuchungen $MARK" -a '-;text/csv;report.csv' \
    -r "Büro Zahlungen <$OPS>" -c "\"Ops, Payments\" <$B>" -b "$C" "$A" \
    < "$T/report.csv"
# 2. The text from the pipe, the report from /dev/stdin is refused (it
# is standard input too), so the report comes from a file; the comma
# name in -r is quoted.
printf 'See the report %s.\n' "$MARK" > "$T/text"
expect_rc 0 "panmailx with a text body, -r with a comma name, -a FILE" \
    panmailx -s "Report" -r "Ops, Payments <$OPS>" -a "$T/report.csv" "$A" \
    < "$T/text"

wait_for_mail "$A" "$s_A" 2
wait_for_mail "$B" "$s_B" 1
wait_for_mail "$C" "$s_C" 1
tail -c +"$((s_A + 1))" "$(mbox "$A")" > "$T/mbox.A"
tail -c +"$((s_B + 1))" "$(mbox "$B")" > "$T/mbox.B"
tail -c +"$((s_C + 1))" "$(mbox "$C")" > "$T/mbox.C"
"$PYTHON" - "$T" "$MARK" "$OPS" "$A" "$B" "$C" \
    "$(secret_home "$fa")" "$(secret_home "$fb")" "$(secret_home "$fc")" <<'PY' ||
import email, email.policy, mailbox, subprocess, sys
t, mark, ops, a, b, c, ha, hb, hc = sys.argv[1:]
report = open(t + '/report.csv', 'rb').read()

def messages(who):
    return list(mailbox.mbox('%s/mbox.%s' % (t, who), create=False))

def decrypt(m, home):
    assert m.get_content_type() == 'multipart/encrypted'
    data = m.get_payload()[1].get_payload(decode=True)
    out = subprocess.run(['gpg', '--homedir', home, '--batch', '--no-tty',
                          '--quiet', '--decrypt'], input=data,
                         capture_output=True, check=True).stdout
    return email.message_from_bytes(out, policy=email.policy.default)

def check_first(inner, outer):
    frm = inner['From'].addresses[0]
    assert frm.display_name == 'Büro Zahlungen', frm.display_name
    assert frm.addr_spec == ops, frm.addr_spec
    cc = inner['Cc'].addresses[0]
    assert cc.display_name == 'Ops, Payments' and cc.addr_spec == b, cc
    assert inner['To'].addresses[0].addr_spec == a
    assert 'Bcc' not in inner and 'Bcc' not in outer, 'Bcc travels'
    assert str(inner['Subject']) == 'Rückbuchungen ' + mark, inner['Subject']
    raw = outer.get('From')
    assert '<%s>' % ops in raw and '=?' in raw.split('<')[0], raw
    files = [p for p in inner.walk() if p.get_filename()]
    assert len(files) == 1, [p.get_filename() for p in files]
    f = files[0]
    assert f.get_filename() == 'report.csv' and f.get_content_type() == 'text/csv'
    assert f.get_payload(decode=True) == report, 'the attachment differs'
    texts = [p for p in inner.walk() if p.get_content_type() == 'text/plain'
             and not p.get_filename()]
    assert all(not p.get_content().strip() for p in texts), 'stdin used twice'
    assert (outer['Return-Path'] or '').strip('<>') == ops, outer['Return-Path']

ma = messages('A')
assert len(ma) == 2, len(ma)
check_first(decrypt(ma[0], ha), ma[0])
second = decrypt(ma[1], ha)
frm = second['From'].addresses[0]
assert (frm.display_name, frm.addr_spec) == ('Ops, Payments', ops), frm
assert ma[1].get('From').startswith('"Ops, Payments" <'), ma[1].get('From')
body = [p for p in second.walk() if p.get_content_type() == 'text/plain'
        and not p.get_filename()][0]
assert body.get_content().strip() == 'See the report %s.' % mark
att = [p for p in second.walk() if p.get_filename()][0]
assert att.get_filename() == 'report.csv' and att.get_payload(decode=True) == report
for who, home in (('B', hb), ('C', hc)):
    msgs = messages(who)
    assert len(msgs) == 1, (who, len(msgs))
    check_first(decrypt(msgs[0], home), msgs[0])
PY
    fail "the delivered messages are not what panmailx was asked for"
pass "pipe attachment, non-ASCII and comma display names, Cc, Bcc, -r: as asked"

# Refusals: nothing is sent.
s_A=$(mbox_size "$A")
expect_rc 64 "standard input attached twice" panmailx -a - -a /dev/stdin "$A" < "$T/report.csv"
grep -q '^panmailx: .*standard input' "$T/err" || fail "no reason for stdin twice"
expect_rc 64 "an unquoted comma in -c" panmailx -c "Ops, Payments <$B>" "$A" < "$T/text"
expect_rc 64 "a bad address" panmailx "not an address" < "$T/text"
expect_rc 64 "a bad content type" panmailx -a "$T/report.csv;csv" "$A" < "$T/text"
expect_rc 64 "no recipients" panmailx -s x < "$T/text"
expect_rc 66 "a missing attachment" panmailx -a "$T/missing.csv" "$A" < "$T/text"
assert_no_new_mail "refusals" "$A" "$s_A"
pass "usage errors exit 64, a missing attachment 66; nothing sent"
