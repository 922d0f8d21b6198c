#!/bin/sh
# audit.sh - the tamper-evident audit log through panaudit(1): every kind
# of tampering is found, with and without the initial key; exit codes;
# log --json, --csv and filters; torn-line recovery.
# shellcheck shell=sh
. "${top_srcdir:-.}/tests/integration/lib.sh"

PANAUDIT=$top_builddir/cmd/panaudit
[ -x "$PANAUDIT" ] || fail "$PANAUDIT is not built (run make first)"
[ -x "$PANKEY" ] || fail "$PANKEY is not built (run make first)"
command -v jq >/dev/null 2>&1 || fail "jq is not installed"
panaudit() { "$PANAUDIT" "$@"; }

LOG=$PANMAIL_HOME/audit.log
AKEY=$PANMAIL_HOME/audit.key

# ---------------------------------------------------------------- helpers

# expect_damage WANT_RECORD WANT_KIND WHAT ARGS...: panaudit verify ARGS
# must exit 1 and name record WANT_RECORD and the kind WANT_KIND.
expect_damage() {
    ed_rec=$1 ed_kind=$2 ed_what=$3
    shift 3
    expect_rc 1 "$ed_what" panaudit verify "$@"
    grep -q "TAMPERED: record $ed_rec\\b.*: $ed_kind:" "$T/err" || {
        cat "$T/err" >&2
        fail "$ed_what: expected record $ed_rec $ed_kind"
    }
}

# both REC KIND WHAT: expect_damage without and with the key.
both() {
    expect_damage "$1" "$2" "$3 (no key)"
    expect_damage "$1" "$2" "$3 (key)" --key "$T/key"
}

# tamper CMD...: run CMD on a fresh copy of the good log (as $LOG).
tamper() {
    cp "$T/good.log" "$LOG"
    cp "$T/good.key" "$AKEY"
    "$@" || fail "tamper: $* failed"
}

restore() {
    cp "$T/good.log" "$LOG"
    cp "$T/good.key" "$AKEY"
}

sed_line() { sed -i -e "$1" "$LOG"; }

swap_3_4() {
    awk 'NR == 3 { h = $0; next } NR == 4 { print; print h; next } { print }' \
        "$T/good.log" > "$LOG"
}

# rechain FROM: renumber records FROM.. and recompute their prev hashes,
# as someone without the key would do to hide an insertion.
rechain() {
    rc_i=0 rc_prev=0000000000000000000000000000000000000000000000000000000000000000
    while IFS= read -r rc_line; do
        rc_i=$((rc_i + 1))
        if [ "$rc_i" -ge "$1" ]; then
            rc_line=$(printf '%s\n' "$rc_line" | sed \
                -e "s/^{\"seq\":[0-9]*,/{\"seq\":$rc_i,/" \
                -e "s/\"prev\":\"[0-9a-f]*\"/\"prev\":\"$rc_prev\"/")
        fi
        printf '%s\n' "$rc_line"
        rc_prev=$(printf '%s' "$rc_line" | sha256sum | cut -c1-64)
    done < "$LOG" > "$T/rechained"
    cp "$T/rechained" "$LOG"
}

forge_insert() {
    awk 'NR == 4 { print prev3 } NR == 3 { prev3 = $0 } { print }' \
        "$T/good.log" > "$LOG"
    rechain 4
}

# ---------------------------------------------------------------- set-up

expect_rc 0 "pankey init" pankey --home "$PANMAIL_HOME" init
key=$(sed -n 's/^audit key: //p' "$T/out")
if [ -z "$key" ]; then
    # pankey init does not make the audit key yet: panaudit does.
    [ ! -e "$AKEY" ] || fail "audit.key exists but pankey init showed no key"
    expect_rc 0 "panaudit init-key" panaudit init-key
    key=$(sed -n 's/^audit key: //p' "$T/out")
fi
printf '%s\n' "$key" | grep -Eq '^[0-9a-f]{64}$' || fail "no audit key shown"
printf 'audit key: %s\n' "$key" > "$T/key"
chmod 600 "$T/key"
[ "$(stat -c %a "$AKEY")" = 600 ] || fail "audit.key is not mode 600"
[ "$(stat -c %a "$LOG")" = 600 ] || fail "audit.log is not mode 600"
expect_rc 2 "init-key a second time" panaudit init-key
grep -q "audit key: " "$T/out" && fail "a second key was shown"

expect_rc 0 "verify a new home" panaudit verify --key "$T/key"

# Records: operator notes, and refusals if pansend writes them already.
for n in 1 2 3 4 5; do
    expect_rc 0 "note $n" panaudit note "review $n, \"quoted\""
done
if [ -x "$PANSEND" ]; then
    printf 'To: nobody@example.test\nSubject: x\n\nbody\n' |
        "$PANSEND" >/dev/null 2>&1 && fail "pansend sent to an unknown recipient"
fi
nrec=$(wc -l < "$LOG")
[ "$nrec" -ge 6 ] || fail "only $nrec records"
note "$nrec records"

expect_rc 0 "verify (no key)" panaudit verify
grep -q "intact: $nrec records" "$T/out" || fail "verify did not count $nrec"
expect_rc 0 "verify --key FILE" panaudit verify --key "$T/key"
grep -q "every MAC checked" "$T/out" || fail "verify --key did not check MACs"
expect_rc 0 "verify --key -" sh -c "'$PANAUDIT' verify --key - < '$T/key'"
printf '%s\n' "$key" | tr 0-9a-f 1-9a-f0 > "$T/badkey"
expect_damage 1 modified "verify with a wrong key" --key "$T/badkey"
anchor=$(panaudit anchor) || fail "anchor failed"
printf '%s\n' "$anchor" | grep -Eq "^panmail-anchor 1 seq=$nrec sha256=[0-9a-f]{64}$" ||
    fail "bad anchor line: $anchor"
expect_rc 0 "verify --anchor" panaudit verify --anchor "$anchor"
cp "$LOG" "$T/good.log"
cp "$AKEY" "$T/good.key"

# ---------------------------------------------------------------- log

panaudit log --json > "$T/log.json" || fail "log --json failed"
jq -e . "$T/log.json" >/dev/null || fail "log --json is not JSON lines"
[ "$(jq -s length "$T/log.json")" -eq "$nrec" ] || fail "log --json count"
[ "$(jq -r 'select(.event == "note") | .reason' "$T/log.json" | head -1)" = \
    'review 1, "quoted"' ] || fail "log --json: note text"
jq -e -s 'all(.[]; (.prev | test("^[0-9a-f]{64}$")) and (.mac | test("^[0-9a-f]{64}$")))' \
    "$T/log.json" >/dev/null || fail "log --json: prev/mac"
cmp -s "$T/log.json" "$LOG" || fail "log --json differs from the stored records"
pass "log --json | jq"

panaudit log --csv > "$T/log.csv" || fail "log --csv failed"
head -1 "$T/log.csv" | grep -q '^seq,time,event,tool,operator,host,message_id,' ||
    fail "log --csv: header"
grep -q ',"review 1, ""quoted"""$' "$T/log.csv" || fail "log --csv: quoting"
[ "$(wc -l < "$T/log.csv")" -eq $((nrec + 1)) ] || fail "log --csv: rows"
pass "log --csv"

panaudit log > "$T/log.txt" || fail "log failed"
head -1 "$T/log.txt" | grep -q '^ *SEQ  TIME' || fail "log: table header"
[ "$(panaudit log --event note | grep -c ' note ')" -eq 5 ] ||
    fail "log --event note"
[ "$(panaudit log --json --since 2999-01-01 | wc -l)" -eq 0 ] ||
    fail "log --since in the future"
[ "$(panaudit log --json --until 2000-01-01 | wc -l)" -eq 0 ] ||
    fail "log --until in the past"
[ "$(panaudit log --json --since "$(date -u +%Y-%m-%d)" | wc -l)" -eq "$nrec" ] ||
    fail "log --since today"
pass "log filters"
expect_rc 2 "log --since garbage" panaudit log --since yesterday
expect_rc 2 "log --json --csv" panaudit log --json --csv
expect_rc 0 "report" panaudit report --key "$T/key"
grep -q 'intact:' "$T/out" || fail "report: no verification result"
grep -q 'review 1' "$T/out" && fail "report shows note text as a change"

# ---------------------------------------------------------------- tampering

tamper sed_line '3s/"review /"reviEw /'
both 3 modified "a byte of record 3 changed"
tamper sed_line "${nrec}s/\"operator\":\"/\"operator\":\"x/"
both "$nrec" modified "the last record changed"
tamper sed_line 3d
both 3 deleted "record 3 deleted"
tamper swap_3_4
both 3 reordered "records 3 and 4 swapped"
tamper sed_line '2p'
both 2 inserted "record 2 duplicated"

tamper forge_insert
expect_damage $((nrec + 1)) inserted "forged record 4, chain recomputed (no key)"
expect_damage 4 modified "forged record 4, chain recomputed (key)" --key "$T/key"
expect_damage "$nrec" modified "forged record 4 (anchor)" --anchor "$anchor"

# shellcheck disable=SC2016  # a sed address, not a shell expansion
tamper sed_line '$d'
both "$nrec" truncated "last record removed"
expect_damage "$nrec" truncated "last record removed (anchor)" --anchor "$anchor"

tamper truncate -s -10 "$LOG"
both "$nrec" torn "last line torn"

# Truncation with audit.key rolled back to a copy: only the anchor shows it.
restore
cp "$AKEY" "$T/old.key"
cp "$LOG" "$T/old.log"
expect_rc 0 "one more note" panaudit note "after the copy"
anchor2=$(panaudit anchor) || fail "anchor failed"
cp "$T/old.log" "$LOG"
cp "$T/old.key" "$AKEY"
expect_rc 0 "rolled back log and audit.key pass without an anchor" \
    panaudit verify --key "$T/key"
expect_damage $((nrec + 1)) truncated "rolled back log (anchor)" --anchor "$anchor2"

rm -f "$AKEY"
expect_damage $((nrec + 1)) truncated "audit.key removed"
expect_rc 2 "note without audit.key" panaudit note "x"
grep -q 'audit.key is missing' "$T/err" || fail "no reason for the missing key"

# ---------------------------------------------------------------- recovery

# A writer killed in the middle of its write(2) leaves part of a line.
restore
printf '{"seq":%d,"time":"20' $((nrec + 1)) >> "$LOG"
expect_damage $((nrec + 1)) torn "a writer was killed"
expect_rc 0 "append after a torn line" panaudit note "after a crash"
expect_rc 0 "verify after recovery" panaudit verify --key "$T/key"
grep -q 'warning: line .*torn record of' "$T/err" || fail "no warning for the torn line"
panaudit log --json --event recovery > "$T/rec.json"
[ "$(jq -r .torn_length "$T/rec.json")" -gt 0 ] || fail "no recovery record"
pass "torn line recovered and named"

# ---------------------------------------------------------------- usage

expect_rc 2 "unknown command" panaudit frobnicate
expect_rc 2 "verify with a missing key file" panaudit verify --key "$T/nokey"
expect_rc 2 "verify with a bad anchor" panaudit verify --anchor "panmail-anchor 9"
expect_rc 2 "no such home" panaudit --home "$T/nohome" verify

# Every home this test used verifies in the end.
restore
expect_rc 0 "final verify" panaudit verify --key "$T/key"
