#!/bin/sh
# audit-seg-rotate.sh - panaudit rotate while writers keep appending:
# no record lost or doubled, no writer fails, and the segments verify
# as one chain; tampering with a closed or the open segment, removing or
# reordering a segment, and rolling the newest records back are found.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
command -v jq >/dev/null 2>&1 || fail "jq is not installed"
PANAUDIT=$top_builddir/cmd/panaudit
H=$PANMAIL_HOME

init_home

# ---------------------------------------------------------------- rotate under load

WRITERS=4
# writers NAME: start $WRITERS writers in the background, each appending
# notes "$TAG-NAMEi-nj" until $T/stop.NAME exists; writer i leaves the
# number it wrote in $T/count.NAME.i, or $T/failed.i if a note failed.
writers() {
    i=0
    while [ "$i" -lt "$WRITERS" ]; do
        (
            j=0
            while [ "$j" -eq 0 ] || [ ! -e "$T/stop.$1" ]; do
                "$PANAUDIT" note "$TAG-$1$i-n$j" || { echo "writer $i failed at $j" > "$T/failed.$i"; exit 1; }
                j=$((j + 1))
            done
            echo "$j" > "$T/count.$1.$i"
        ) &
        i=$((i + 1))
    done
}
# stop_writers NAME WHEN: stop the writers NAME and wait for them;
# $written is the number of notes they wrote.
stop_writers() {
    : > "$T/stop.$1"
    wait
    ls "$T"/failed.* >/dev/null 2>&1 && { cat "$T"/failed.* >&2; fail "a writer failed $2"; }
    written=$(cat "$T"/count."$1".* | awk '{ n += $1 } END { print n }')
}
# grown: wait until audit.log holds $WRITERS more records than now, so
# that a rotation comes while the writers append and every segment
# holds notes of theirs, however fast the machine.
grown() {
    gr_want=$(($(wc -l < "$H/audit.log") + WRITERS)) gr_i=0
    while [ "$(wc -l < "$H/audit.log")" -lt "$gr_want" ]; do
        gr_i=$((gr_i + 1))
        [ "$gr_i" -lt 600 ] || fail "the writers wrote nothing for 30 s"
        sleep 0.05
    done
}
writers w
r=0
while [ "$r" -lt 3 ]; do
    grown
    "$PANAUDIT" rotate > "$T/rotate.$r" 2>&1 ||
        { cat "$T/rotate.$r" >&2; fail "rotate $r failed while writers ran"; }
    r=$((r + 1))
done
grown
stop_writers w "during rotation"
pass "$WRITERS writers, $written records, 3 rotations while they wrote: no writer failed"

nseg=$(find "$H" -maxdepth 1 -name 'audit-*.log' | wc -l)
[ "$nseg" -eq 3 ] || fail "3 rotations made $nseg closed segments"
for f in "$H"/audit-*.log; do
    [ -w "$f" ] && [ "$(id -u)" -ne 0 ] && fail "$f is writable"
    [ "$(stat -c %a "$f")" = 400 ] || fail "$f is mode $(stat -c %a "$f"), not read-only"
    tail -n 1 "$f" | jq -e '.event == "segment-close"' >/dev/null ||
        fail "$f does not end with a segment-close record"
done
head -n 1 "$H/audit.log" | jq -e '.event == "segment-open"' >/dev/null ||
    fail "audit.log does not start with a segment-open record"
pass "3 closed segments, read-only, each ending in segment-close"

expect_rc 0 "verify --key across all segments" "$PANAUDIT" verify --key "$T/audit.key"
"$PANAUDIT" log --json --event note > "$T/notes.json"
[ "$(jq -r .reason "$T/notes.json" | sort | uniq -d | wc -l)" -eq 0 ] ||
    fail "a record appears twice"
[ "$(jq -r .reason "$T/notes.json" | grep -c "^$TAG-w")" -eq "$written" ] ||
    fail "not every record is in the log: $(wc -l < "$T/notes.json")"
"$PANAUDIT" log --json | jq -r .seq > "$T/seqs"
seq 1 "$(wc -l < "$T/seqs")" | cmp -s - "$T/seqs" || fail "sequence numbers are not 1..N across segments"
pass "every record once, in order, across the segments"

# An anchor now; more records; a backup of the state to roll back to.
"$PANAUDIT" note "before the backup"
cp "$H/audit.log" "$T/old.log"; cp "$H/audit.key" "$T/old.key"
"$PANAUDIT" note "after the backup"
"$PANAUDIT" rotate >/dev/null
"$PANAUDIT" note "newest"
anchor=$("$PANAUDIT" anchor)
mkdir "$T/good"
cp -p "$H"/audit* "$T/good/"

restore() {
    rm -f "$H"/audit-*.log
    cp -p "$T/good/"audit* "$H/"
}

# tamper WHAT KIND CMD...: after CMD (on a fresh copy), verify must say
# KIND (with the initial key if $with_key is set).
tamper() {
    tw=$1 tk=$2
    shift 2
    restore
    "$@"
    expect_rc 1 "$tw" "$PANAUDIT" verify ${with_key:+--key "$T/audit.key"}
    grep -q "TAMPERED: record [0-9]*.*: $tk:" "$T/err" ||
        { cat "$T/err" >&2; fail "$tw: not reported $tk"; }
}

set -- "$H"/audit-*.log
seg1=$1 seg2=$2
# edit FILE SCRIPT: sed SCRIPT on a closed segment; it must change it.
edit() {
    cp "$1" "$T/unedited"
    chmod u+w "$1"; sed -i -e "$2" "$1"; chmod a-w "$1"
    cmp -s "$1" "$T/unedited" && fail "sed '$2' left $(basename "$1") as it was"
    return 0
}

with_key=
tamper "a record of a closed segment edited" modified edit "$seg2" '2s/"note"/"nite"/'
grep -q "$(basename "$seg2") line 2" "$T/err" || { cat "$T/err" >&2; fail "the edited segment is not named"; }
tamper "a record of a closed segment deleted" deleted edit "$seg2" '2d'
tamper "two records of a closed segment swapped" reordered edit "$seg2" '2{h;d};3G'
tamper "a closed segment truncated" deleted edit "$seg2" "\$d"
with_key=1
tamper "a record of the open segment edited" modified sed -i -e '2s/"newest"/"newer"/' "$H/audit.log"
tamper "the open segment's last record removed" truncated sed -i -e "\$d" "$H/audit.log"
tamper "the first closed segment removed" deleted rm -f "$seg1"
tamper "a middle closed segment removed" deleted rm -f "$seg2"
swap() { mv "$seg1" "$T/x"; mv "$seg2" "$seg1"; mv "$T/x" "$seg2"; }
tamper "two closed segments swapped" deleted swap
tamper "the open segment removed" truncated rm -f "$H/audit.log"
pass "every tamper kind on closed and open segments is found"

# Rolling back to the backup (the newest segment, the key state and the
# records after it gone): only the anchor, kept elsewhere, tells.
restore
for last in "$H"/audit-*.log; do :; done
rm -f "$last"
cp "$T/old.log" "$H/audit.log"; cp "$T/old.key" "$H/audit.key"
expect_rc 0 "a rollback with its key state looks intact without an anchor" "$PANAUDIT" verify
expect_rc 1 "the rollback is found with the anchor" "$PANAUDIT" verify --anchor "$anchor"
grep -q 'truncated' "$T/err" || { cat "$T/err" >&2; fail "rollback not reported truncated"; }
restore
expect_rc 0 "the restored segments verify with the anchor and key" \
    "$PANAUDIT" verify --key "$T/audit.key" --anchor "$anchor"
pass "tampering, removing and rolling back segments are found"

# ---------------------------------------------------------------- logrotate, compressed segments

# The shipped logrotate snippet, run by logrotate itself (forced, with a
# state file of its own) while writers append: it rotates with
# --compress, which gzips every closed segment.
command -v logrotate >/dev/null 2>&1 || fail "logrotate is not installed"
sed -e "s|/usr/bin/panaudit --home /var/lib/panmail|$PANAUDIT --home $H|" \
    -e "s|/var/lib/logrotate/panmail-audit.stamp|$T/lr.stamp|" \
    "$top_srcdir/contrib/logrotate/panmail-audit" > "$T/lr.conf"
chmod 644 "$T/lr.conf"
grep -q "rotate --compress" "$T/lr.conf" || fail "the snippet does not rotate with --compress"
expect_rc 1 "logrotate without its stamp file reports it (no silent no-op)" \
    logrotate -f -s "$T/lr.state" "$T/lr.conf"
install -m 600 /dev/null "$T/lr.stamp"
writers lr
for r in 1 2; do
    grown
    logrotate -f -s "$T/lr.state" "$T/lr.conf" > "$T/lr.$r" 2>&1 ||
        { cat "$T/lr.$r" >&2; fail "logrotate $r failed while writers ran"; }
done
grown
stop_writers lr "during logrotate"
[ -z "$(find "$H" -maxdepth 1 -name 'audit-*.log')" ] || fail "a closed segment was left uncompressed"
[ "$(find "$H" -maxdepth 1 -name 'audit-*.log.gz' | wc -l)" -eq 6 ] ||
    fail "not 6 compressed segments: $(ls "$H")"
for f in "$H"/audit-*.log.gz; do
    [ "$(stat -c %a "$f")" = 400 ] || fail "$f is mode $(stat -c %a "$f"), not read-only"
    zcat "$f" | tail -n 1 | jq -e '.event == "segment-close"' >/dev/null ||
        fail "zcat $f does not end with a segment-close record"
done
expect_rc 0 "verify --key across compressed segments" "$PANAUDIT" verify --key "$T/audit.key"
"$PANAUDIT" log --json > "$T/all.json"
[ "$(jq -r 'select(.event == "note") | .reason' "$T/all.json" | grep -c "^$TAG-lr")" -eq "$written" ] ||
    fail "not every record written during logrotate is in the log"
[ "$(jq -r 'select(.event == "note") | .reason' "$T/all.json" | sort | uniq -d | wc -l)" -eq 0 ] ||
    fail "a record appears twice"
jq -r .seq "$T/all.json" > "$T/seqs"
seq 1 "$(wc -l < "$T/seqs")" | cmp -s - "$T/seqs" || fail "sequence numbers are not 1..N across compressed segments"
[ "$(zcat "$H"/audit-*.log.gz | cat - "$H/audit.log" | wc -l)" -eq "$(wc -l < "$T/seqs")" ] ||
    fail "zcat of the segments and audit.log is not the whole log"
expect_rc 0 "report over compressed segments" "$PANAUDIT" report
pass "logrotate through the shipped snippet in a loop of writers: nothing lost, segments gzipped, verify passes"

# Tampering with a compressed segment: its bytes flipped, or cut short.
set -- "$H"/audit-*.log.gz
gz=$2
cp -p "$gz" "$T/gz.saved"
chmod u+w "$gz"
size=$(stat -c %s "$gz")
printf 'XXXX' | dd of="$gz" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_rc 1 "a compressed segment with flipped bytes" "$PANAUDIT" verify
grep -q 'TAMPERED: record [0-9]*' "$T/err" || { cat "$T/err" >&2; fail "flipped bytes not reported"; }
head -c $((size - 20)) "$T/gz.saved" > "$gz"
expect_rc 1 "a compressed segment cut short" "$PANAUDIT" verify
grep -q 'TAMPERED: record [0-9]*: modified: .*cut short' "$T/err" || { cat "$T/err" >&2; fail "cut segment not reported"; }
cp -p "$T/gz.saved" "$gz"
expect_rc 0 "the restored compressed segment verifies" "$PANAUDIT" verify --key "$T/audit.key"
pass "damage to a compressed segment is found"
