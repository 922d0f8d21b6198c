#!/bin/sh
# audit-send.sh - every pansend outcome is in the audit log before pansend
# reports it: sends with fingerprints and the digest of exactly what the
# MTA got, refusals with their reason, queued messages.  (50 concurrent
# sends: audit-concurrent.sh; a record that cannot be written:
# audit-nospace.sh.)
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice

make_capture capture > /dev/null
marker=$(new_marker)
msg () { report_to "$1" "$marker"; }

# ------------------------------------------------------------ a send
msg "$A" | expect_rc 0 "send to a capture MTA" pansend --sendmail "$T/capture"
panaudit log --json --event send > "$T/send.json"
[ "$(jq -s length "$T/send.json")" = 1 ] || fail "not exactly one send record"
digest=$(sha256sum < "$T/capture.out" | cut -d' ' -f1)
jq -e --arg d "$digest" --arg f "$fa" --arg a "$A" \
   '.ciphertext_sha256 == $d and .recipients[0].fingerprint == $f
    and .recipients[0].address == $a and .outcome == "pending"' \
   "$T/send.json" >/dev/null ||
    fail "the send record does not hold the MTA's ciphertext digest and key"
copy=$(jq -r .copy "$T/send.json")
panaudit log --json --event delivered | jq -e -s --arg d "$digest" --arg c "$copy" \
    'length == 1 and .[0].copy == $c and .[0].ciphertext_sha256 == $d
     and .[0].outcome == "delivered"' >/dev/null ||
    fail "no delivered record of the copy"
size=$(wc -c < "$T/capture.out")
jq -e --argjson s "$size" '.size == $s' "$T/send.json" >/dev/null ||
    fail "the send record has the wrong size"
mid=$(jq -r .message_id "$T/send.json")
grep -qiF "Message-ID: $mid" "$T/capture.out" ||
    fail "the Message-ID of the record is not the one sent"
pass "send record: fingerprint, ciphertext digest and size of what the MTA got"

# ------------------------------------------------------------ refusals
msg audit-send-nobody@example.test |
    expect_rc 67 "unenrolled recipient" pansend --sendmail "$T/capture"
panaudit log --json --event refuse | jq -e -s \
    'length == 1 and .[0].exit_code == 67 and .[0].outcome == "refused"
     and (.[0].reason | test("audit-send-nobody@example.test"))' >/dev/null ||
    fail "the refusal is not recorded with its exit code and reason"
pass "refusal recorded with exit code and reason"

msg "$A" | expect_rc 75 "MTA failure" pansend --sendmail /bin/false
panaudit log --json --event queue | jq -e -s \
    'length == 1 and .[0].exit_code == 75 and .[0].outcome == "queued"' \
    >/dev/null || fail "the queued message is not recorded"
pass "queued message recorded"

# ------------------------------------------------------------ report as data
# report --json and --csv: one object or row per line of the text report
# (the line of delivered copies gives three), parsed by Python's readers.
panaudit report > "$T/report.txt" || fail "report failed"
panaudit report --json > "$T/report.json" || fail "report --json failed"
panaudit report --csv > "$T/report.csv" || fail "report --csv failed"
"$PYTHON" - "$T/report.txt" "$T/report.json" "$T/report.csv" "$A" "$fa" <<'PY' ||
import csv, json, sys
text = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n")
        if l.startswith("  ") or l.startswith("period:") or l.startswith("records:")]
rows = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
with open(sys.argv[3], newline="", encoding="utf-8") as f:
    table = list(csv.DictReader(f))
assert all(r["v"] == 1 for r in rows), "no v"
# Every line of the text is a row (the delivered line gives three); a
# section with nothing in it is a "none" line and no row.
none = sum(1 for l in text if l.strip() == "none")
assert len(rows) == len(text) - none + 2, (len(rows), len(text), none)
assert len(table) == len(rows), (len(table), len(rows))
by = {(r["type"], r["name"]): r for r in rows}
assert by[("copies", "total")]["count"] == 2, by[("copies", "total")]
assert by[("copies", "delivered")]["count"] == 1
assert by[("copies", "queued")]["count"] == 1
assert by[("messages", "refused")]["count"] == 1
assert by[("verification", "intact")]["outcome"] == "macs-not-checked"
keys = [r for r in rows if r["type"] == "key"]
assert any(k["address"] == sys.argv[4] and k["fingerprint"] == sys.argv[5]
           and k["protocol"] == "openpgp" for k in keys), keys
assert any(r["type"] == "change" and r["name"] == "enroll"
           and r["address"] == sys.argv[4] for r in rows), rows
refused = [r for r in rows if r["type"] == "refused"]
assert len(refused) == 1 and "audit-send-nobody" in refused[0]["name"]
for r, t in zip(rows, table):
    assert t["type"] == r["type"] and (t["count"] or None) == (
        None if r["count"] is None else str(r["count"])), (r, t)
PY
    fail "report --json / --csv do not match the text report"
expect_rc 2 "report --json --csv" panaudit report --json --csv
pass "report --json and --csv: one object or row per line of the report"

if grep -rq "$marker" "$PANMAIL_HOME"; then
    fail "message text found in the home"
fi
pass "no message body in the home, its queue or its audit log"
