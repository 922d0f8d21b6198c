#!/bin/sh
# audit-concurrent.sh - 50 concurrent sends give 50 audit records, an
# intact chain and intact MACs.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

enroll_alice

marker=$(new_marker)
msg () { report_to "$1" "$marker"; }

# ------------------------------------------------------------ concurrency
# Each send holds the audit lock for a while; under the load of a
# parallel test run the last of 50 can wait longer than the default
# lock-timeout (10 s).  This test is about what 50 writers leave in the
# log, not about how fast the machine is.
echo "lock-timeout 300" >> "$PANMAIL_HOME/panmail.conf"
before=$(panaudit log --json | jq -s length)
i=0
while [ $i -lt 50 ]; do
    (msg "$A" | pansend --sendmail /bin/true > "$T/par.$i.out" 2>&1;
     echo $? > "$T/par.$i.rc") &
    i=$((i + 1))
done
wait
i=0
while [ $i -lt 50 ]; do
    [ "$(cat "$T/par.$i.rc")" = 0 ] ||
        { cat "$T/par.$i.out" >&2; fail "concurrent pansend $i failed"; }
    i=$((i + 1))
done
after=$(panaudit log --json | jq -s length)
[ $((after - before)) = 50 ] ||
    fail "50 concurrent sends gave $((after - before)) records"
expect_rc 0 "verify --key after 50 concurrent sends" \
    panaudit verify --key "$T/audit.key"
pass "50 concurrent sends: 50 records, intact chain and MACs"
