#!/bin/sh
# package.sh - the Debian packages install on this machine, make the
# senders' group and the default home /var/lib/panmail (mode 0700), put
# the tools, man pages, bash completion and systemd units in place; the
# installed tools, on the default home, send one message through the
# test Postfix that the recipient decrypts; purging removes it all.
#
# scripts/package.sh builds the packages and runs this test with
# PANMAIL_DEB_DIR set to where they are; without it, the test builds
# them itself.  Not in "make check" (a package build takes minutes):
# scripts/test.sh runs it as a phase of its own.  Needs root; it refuses
# to run where panmail is installed or /var/lib/panmail is in use, and
# one run at a time holds a lock.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || fail "needs root (it installs the packages)"
need_postfix

debs=${PANMAIL_DEB_DIR:-}
if [ -z "$debs" ]; then
    debs=$T/debs
    sh "$top_srcdir/scripts/package.sh" --build-only "$debs" >"$T/build.out" 2>&1 ||
        { cat "$T/build.out" >&2; fail "building the packages failed"; }
fi
for p in panmail libpanmail1 libpanmail-dev; do
    set -- "$debs/${p}_"*.deb
    [ -f "$1" ] || fail "no ${p} package in $debs"
done

# The default home of the installed tools: no --home, no $PANMAIL_HOME.
PANMAIL_HOME=   # empty: the tools take the default (lib.sh reads it)
home=/var/lib/panmail
apt_lock="-o DPkg::Lock::Timeout=300"

exec 8>>"${TMPDIR:-/tmp}/panmail-package-test.lock"
flock -w 600 8 || fail "another package test holds the lock"
if dpkg-query -W -f='${db:Status-Abbrev}' panmail 2>/dev/null | grep -q '^i'; then
    fail "panmail is installed on this machine: this test installs and purges it"
fi
if [ -d "$home" ] && [ -n "$(ls -A "$home")" ]; then
    fail "$home is in use: this test makes its own home there"
fi
had_group=
if getent group panmail-senders >/dev/null; then had_group=1; fi

# pkg_cleanup: purge what the test installed, the home it made, and the
# group if the package made it.
installed='' mandb_flag='' mandb_paused=''
pkg_cleanup() {
    set +e
    if [ -n "$installed" ]; then
        if [ -d "$home/gnupg" ]; then
            gpgconf --homedir "$home/gnupg" --kill all >/dev/null 2>&1
        fi
        find "$home" -mindepth 1 -delete 2>/dev/null
        # shellcheck disable=SC2086
        apt-get purge -y -q $apt_lock panmail libpanmail-dev libpanmail1 \
            >"$T/purge.out" 2>&1 || cat "$T/purge.out" >&2
        if [ -z "$had_group" ]; then delgroup --quiet panmail-senders; fi
    fi
    if [ -n "$mandb_paused" ]; then mv "$mandb_flag.panmail-test" "$mandb_flag"; fi
}
# pkg_exit: pkg_cleanup, then lib.sh's cleanup with the exit status.
pkg_exit() {
    pc_rc=$?
    pkg_cleanup
    (exit "$pc_rc")
    lib_cleanup
}
trap pkg_exit EXIT

# ------------------------------------------------------------------ install

# man-db's trigger rebuilds the whole manual database on every install
# and purge (10 CPU seconds, the most costly step of this test); it runs
# only while this flag exists, so it is put aside and restored at exit.
mandb_flag=/var/lib/man-db/auto-update
if [ -f "$mandb_flag" ] && mv "$mandb_flag" "$mandb_flag.panmail-test"; then
    mandb_paused=1
fi
installed=1
t0=$(date +%s)
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    $apt_lock "$debs"/panmail_*.deb "$debs"/libpanmail1_*.deb \
    "$debs"/libpanmail-dev_*.deb >"$T/install.out" 2>&1 ||
    { cat "$T/install.out" >&2; fail "apt-get install of the packages failed"; }
pass "the three packages install ($(($(date +%s) - t0)) s)"

getent group panmail-senders >/dev/null || fail "no group panmail-senders"
[ "$(stat -c '%a %U' "$home")" = "700 root" ] ||
    fail "$home is $(stat -c '%a %U' "$home"), not 700 root"
pass "postinst made the group panmail-senders and $home (0700)"
for f in /usr/bin/pansend /usr/bin/panaudit /usr/bin/panmailx /usr/sbin/pankey \
         /usr/share/man/man1/pansend.1.gz /usr/share/man/man8/pankey.8.gz \
         /usr/share/man/man5/panmail.conf.5.gz /usr/share/man/man3/libpanmail.3.gz \
         /usr/share/bash-completion/completions/pankey \
         /usr/share/bash-completion/completions/pansend \
         /usr/share/bash-completion/completions/panaudit \
         /lib/systemd/system/pankey-check.service \
         /lib/systemd/system/pankey-check.timer \
         /usr/share/doc/panmail/contrib/panmail-nagios.cfg \
         /usr/share/doc/panmail/contrib/panmail-icinga2.conf \
         /usr/include/panmail.h; do
    [ -e "$f" ] || fail "the packages did not install $f"
done
grep -qx 'ExecStart=/usr/sbin/pankey check -t 120' \
    /lib/systemd/system/pankey-check.service ||
    fail "pankey-check.service does not run /usr/sbin/pankey"
ldd /usr/bin/pansend | grep -Eq "libpanmail.so.1 => /(usr/)?lib/" ||
    fail "pansend does not use the packaged libpanmail.so.1"
pkg-config --exists panmail || fail "pkg-config does not find panmail"
pass "tools, library, man pages, completion, units and panmail.pc are in place"
# What "make installcheck" checks of an installed tree, on the packages:
# only pan_ symbols exported, and a program built with pkg-config runs.
sh "$top_srcdir/tests/install.sh" --installed /usr > "$T/installcheck.out" 2>&1 ||
    { cat "$T/installcheck.out" >&2; fail "tests/install.sh --installed /usr failed"; }
pass "installcheck of the packages: exported symbols, a pkg-config client builds and runs"
bash -c '. /usr/share/bash-completion/bash_completion
    . /usr/share/bash-completion/completions/pankey
    COMP_WORDS=(pankey en); COMP_CWORD=1; COMP_LINE="pankey en"
    COMP_POINT=${#COMP_LINE}; _panmail pankey en pankey
    [ "${COMPREPLY[*]}" = enroll ]' ||
    fail "the bash completion does not complete 'pankey en' to enroll"

# ------------------------------------------------------------------ send

/usr/sbin/pankey init > "$T/init.out" || fail "pankey init of the default home failed"
grep -qx "pankey: created the panmail home $home" "$T/init.out" ||
    { cat "$T/init.out" >&2; fail "pankey init did not use $home"; }
sed -n 's/^audit key: //p' "$T/init.out" > "$T/audit.key"
A=${TAG}package-alice@example.test
fa=$(make_key "Alice Package" "$A")
export_key "$fa" "$T/a.asc"
expect_rc 0 "enroll with the installed pankey" \
    /usr/sbin/pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
word=$(new_marker)
old=$(mbox_size "$A")
report_to "$A" "$word" > "$T/msg"
expect_rc 0 "send with the installed pansend" /usr/bin/pansend < "$T/msg"
wait_for_mail "$A" "$old"
last_message "$A" "$T/got"
grep -q "$word" "$T/got" && fail "the plaintext reached the mailbox"
decrypt_pgpmime "$T/got" "$(secret_home "$fa")" "$T/dec"
grep -q "body $word" "$T/dec" || fail "the decrypted message lacks the body"
pass "the recipient decrypts the message sent by the installed tools"
expect_rc 0 "panaudit verify --key" /usr/bin/panaudit verify --key "$T/audit.key"
expect_rc 0 "pankey check" /usr/sbin/pankey check
head -n 1 "$T/out" | grep -q '^PANKEY OK' || fail "pankey check is not OK"

# ------------------------------------------------------------------ purge

gpgconf --homedir "$home/gnupg" --kill all >/dev/null 2>&1 || true
find "$home" -mindepth 1 -delete
installed=
# shellcheck disable=SC2086
apt-get purge -y -q $apt_lock panmail libpanmail-dev libpanmail1 \
    >"$T/purge.out" 2>&1 || { cat "$T/purge.out" >&2; fail "apt-get purge failed"; }
[ ! -e /usr/sbin/pankey ] || fail "purge left /usr/sbin/pankey"
[ ! -e "$home" ] || fail "purge left the empty $home"
if [ -z "$had_group" ]; then delgroup --quiet panmail-senders; fi
pass "purge removes the tools and the empty home"
