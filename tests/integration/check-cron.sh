#!/bin/sh
# check-cron.sh - the crontab lines of the man pages work as cron runs
# them: each is one line (crontab has no continuation lines), calls the
# tools and sendmail by their full paths (cron's PATH is /usr/bin:/bin),
# writes its report to a mktemp file that it removes, and mails the
# operators only when "pankey check" finds something, with the status
# line as the subject.  The lines are taken from the man pages as
# installed (nroff output), not copied.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
A=${TAG}check-cron-alice@example.test
B=${TAG}check-cron-bob@example.test

# The crontab lines: five time fields, then the command.
for page in "$top_srcdir"/man/*.[158]; do
    man -l -P cat "$page" 2>/dev/null
done | sed -n 's/^ *\([0-9*][0-9*,/-]* [0-9*][0-9*,/-]* [0-9*][0-9*,/-]* [0-9*][0-9*,/-]* [0-9*][0-9*,/-]* .*\)$/\1/p' \
    > "$T/cron.lines"
[ -s "$T/cron.lines" ] || fail "no crontab line found in the man pages"
note "$(wc -l < "$T/cron.lines") crontab line(s) in the man pages"
if grep -q '\\$' "$T/cron.lines"; then
    fail "a crontab line is continued with a backslash"
fi
grep -q '/tmp/' "$T/cron.lines" && fail "a crontab line writes a fixed file in /tmp"
# Every panmail tool and sendmail by its full path, no mail(1).
if grep -Eq '(^|[ ;|&({])(pankey|pansend|panaudit|sendmail|mail|mailx) ' "$T/cron.lines"; then
    fail "a crontab line relies on PATH or on mail(1): $(cat "$T/cron.lines")"
fi
pass "crontab lines: one line each, full paths, no fixed /tmp file, no mail(1)"

make_capture sendmail >/dev/null
mkdir -m 700 "$T/tmp"

# run_cron LINE: the command of LINE as cron runs it (sh, a bare
# environment), with the built pankey and the capture for sendmail.
run_cron() {
    rc_cmd=$(printf '%s\n' "$1" | cut -d' ' -f6-)
    rc_cmd=$(printf '%s\n' "$rc_cmd" |
        sed -e "s|/usr/sbin/pankey|$PANKEY|g" -e "s|/usr/sbin/sendmail|$T/sendmail|g")
    env -i PATH=/usr/bin:/bin HOME="$T/user" SHELL=/bin/sh LOGNAME=root \
        TMPDIR="$T/tmp" PANMAIL_HOME="$PANMAIL_HOME" sh -c "$rc_cmd" \
        >"$T/cron.out" 2>&1 || true
    [ -z "$(ls -A "$T/tmp")" ] || fail "the crontab line left $(ls "$T/tmp")"
}

init_home
fa=$(make_key "Alice Cron" "$A")
export_key "$fa" "$T/a.asc"
expect_rc 0 "enroll $A" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
grep pankey "$T/cron.lines" > "$T/check.lines" || fail "no crontab line runs pankey check"
while IFS= read -r line; do
    rm -f "$T/sendmail.out"
    run_cron "$line"
    [ ! -e "$T/sendmail.out" ] || fail "the crontab line mailed although all keys are fine"
    pass "all keys fine: no mail, no temporary file left"

    fb=$(make_key "Bob Cron" "$B" 10d)
    export_key "$fb" "$T/b.asc"
    pankey enroll "$B" --fingerprint "$fb" --file "$T/b.asc" >/dev/null 2>&1 ||
        fail "enroll $B failed"
    run_cron "$line"
    [ -s "$T/sendmail.out" ] || { cat "$T/cron.out" >&2; fail "no mail for an expiring key"; }
    grep -qx -- -t "$T/sendmail.args" || fail "sendmail was not run with -t"
    grep -q '^To: ' "$T/sendmail.out" || fail "the mail has no To:"
    grep -q "^Subject: PANKEY WARNING - 1 expiring within 30 days ($B) |" "$T/sendmail.out" ||
        { cat "$T/sendmail.out" >&2; fail "the subject is not the status line"; }
    grep -q "^WARNING $B key $fb expires in 10 days" "$T/sendmail.out" ||
        fail "the mail does not hold the finding"
    pass "an expiring key: one mail with the status line as subject, no file left"
done < "$T/check.lines"
