#!/bin/sh
# audit-concurrent.sh - 200 concurrent sends while the shipped logrotate
# snippet rotates the audit log three times: no sender fails, each copy
# has its "send" (pending) and "delivered" record once, across the
# segments, and the chain and MACs verify.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice

marker=$(new_marker)
msg () { report_to "$1" "$marker"; }

# ------------------------------------------------------------ concurrency
# Each send holds the audit lock for a while; under the load of a
# parallel test run the last of 200 can wait longer than the default
# lock-timeout (10 s).  This test is about what 200 writers leave in the
# log, not about how fast the machine is.
echo "lock-timeout 300" >> "$PANMAIL_HOME/panmail.conf"
# An MTA that reads the whole copy (pansend checks that it does).
printf '#!/bin/sh\ncat > /dev/null\n' > "$T/mta"
# The last senders' MTA also waits for the gate, which the test holds
# (flock) until logrotate has run three times, so that some copies are
# delivered after the last rotation however fast the others were (ci21).
printf '#!/bin/sh\ncat > /dev/null\nexec flock -s -w 300 "%s/gate" true\n' "$T" > "$T/mta-gated"
chmod 755 "$T/mta" "$T/mta-gated"
command -v flock >/dev/null 2>&1 || fail "flock (util-linux) is not installed"
exec 9> "$T/gate"
flock -x 9
# The shipped logrotate snippet (contrib/logrotate), run by logrotate
# itself three times while the senders run: it closes a segment with
# "panaudit rotate --compress" each time.
command -v logrotate >/dev/null 2>&1 || fail "logrotate is not installed"
sed -e "s|/usr/bin/panaudit --home /var/lib/panmail|$top_builddir/cmd/panaudit --home $PANMAIL_HOME|" \
    -e "s|/var/lib/logrotate/panmail-audit.stamp|$T/lr.stamp|" \
    "$top_srcdir/contrib/logrotate/panmail-audit" > "$T/lr.conf"
chmod 644 "$T/lr.conf"
install -m 600 /dev/null "$T/lr.stamp"
N=200
i=0
while [ $i -lt $N ]; do
    mta="$T/mta"
    [ $i -lt $((N - 20)) ] || mta="$T/mta-gated"
    (msg "$A" | pansend --sendmail "$mta" > "$T/par.$i.out" 2>&1;
     echo $? > "$T/par.$i.rc") 9>&- &
    i=$((i + 1))
done
# Each rotation waits until 20, 70 and 120 senders have finished, so
# that it falls between the sends however slowly they start; the 20
# gated ones finish only after the last.
for r in 1 2 3; do
    want=$((r * 50 - 30)) i=0
    while [ "$(find "$T" -maxdepth 1 -name 'par.*.rc' | wc -l)" -lt $want ]; do
        i=$((i + 1))
        [ $i -le 1500 ] || fail "fewer than $want senders finished in 300 s"
        sleep 0.2
    done
    logrotate -f -s "$T/lr.state" "$T/lr.conf" > "$T/lr.$r" 2>&1 ||
        { cat "$T/lr.$r" >&2; fail "logrotate $r failed while the senders ran"; }
done
flock -u 9
exec 9>&-
wait
i=0
while [ $i -lt $N ]; do
    [ "$(cat "$T/par.$i.rc")" = 0 ] ||
        { cat "$T/par.$i.out" >&2; fail "concurrent pansend $i failed"; }
    i=$((i + 1))
done
[ "$(find "$PANMAIL_HOME" -maxdepth 1 -name 'audit-*.log.gz' | wc -l)" -ge 3 ] ||
    fail "logrotate closed fewer than 3 segments: $(ls "$PANMAIL_HOME")"
# Every copy has its "send" and its "delivered" record, once each,
# across the segments.
panaudit log --json > "$T/log.json" || fail "panaudit log failed"
jq -e -s --argjson n $N '
    ([.[] | select(.event == "send")] | length == $n)
    and ([.[] | select(.event == "delivered")] | length == $n)
    and ([.[] | select(.event == "send") | .copy] | unique | length == $n)
    and ([.[] | select(.event == "delivered") | .copy] | unique | length == $n)' \
    "$T/log.json" >/dev/null ||
    fail "the log does not hold one send and one delivered record per copy"
# The rotations came in the middle of the sends: copies were recorded
# before the first segment was closed and delivered after the last.
jq -e -s '[.[] | .event] as $e | ($e | index("segment-close")) as $f
    | ($e | rindex("segment-close")) as $l | $f != null
    and ($e[0:$f] | index("send")) != null
    and ($e[$l:] | index("delivered")) != null' \
    "$T/log.json" >/dev/null || fail "the rotations did not fall between the sends"
expect_rc 0 "verify --key across the segments after $N concurrent sends" \
    panaudit verify --key "$T/audit.key"
pass "$N concurrent sends while logrotate rotated 3 times: every record once, intact chain and MACs"
