#!/bin/sh
# audit-concurrent.sh - 50 concurrent sends give 100 audit records (each
# copy "send"/"pending", then "delivered"), an intact chain and intact
# MACs.
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
# An MTA that reads the whole copy (pansend checks that it does).
printf '#!/bin/sh\ncat > /dev/null\n' > "$T/mta"
chmod 755 "$T/mta"
before=$(panaudit log --json | jq -s length)
i=0
while [ $i -lt 50 ]; do
    (msg "$A" | pansend --sendmail "$T/mta" > "$T/par.$i.out" 2>&1;
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
[ $((after - before)) = 100 ] ||
    fail "50 concurrent sends gave $((after - before)) records, not 100"
expect_rc 0 "verify --key after 50 concurrent sends" \
    panaudit verify --key "$T/audit.key"
pass "50 concurrent sends: 100 records, intact chain and MACs"
