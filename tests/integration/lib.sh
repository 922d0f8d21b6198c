# lib.sh - shared set-up for the panmail integration tests.  -*- sh -*-
# shellcheck shell=sh
#
# Sourced by tests/integration/*.sh:
#     . "${top_srcdir:-.}/tests/integration/lib.sh"
#
# Environment:
#   top_srcdir, top_builddir  set by "make check"; default: the source tree
#                             that holds this file.
#   KEEP=1                    keep the throwaway directory $T (printed).
#   VERBOSE=1                 trace the test script (set -x).
#
# What it sets up:
#   $T                a throwaway directory, removed on exit unless KEEP=1
#   $PANMAIL_HOME     $T/home (exported; NOT created: tests run "pankey init")
#   $KEYS             $T/keys: the GnuPG home where test keys are made (0700).
#                     GNUPGHOME is unset and HOME is $T/user (empty), so a
#                     tool that ignored $PANMAIL_HOME/gnupg would find no key.
#   $PANSEND $PANKEY  the built tools (libtool wrappers)
#   $MAILDIR          where Postfix delivers: $MAILDIR/example.test/LOCALPART
#   $TEST_NAME        the script's name without .sh (use it to prefix
#                     mailbox local parts so tests can run in parallel)
#   $TAG              a prefix for every mailbox local part, unique to the
#                     build directory ($PANMAIL_TEST_TAG overrides it), so
#                     that two suite runs (two checkouts) sharing the one
#                     test Postfix never read each other's mail
#
# Tests run in parallel ("make -jN check"): each keeps to its $T, its
# homes and mailboxes named with $TAG$TEST_NAME; fixtures that cost
# seconds to make (DSA and ElGamal keys, the X.509 test PKI) are made
# once per build directory by "fixture NAME" and only read.
#
# Tests exit 0 on success and 1 on failure; they never skip (77).

set -eu
if [ "${VERBOSE:-}" = 1 ]; then set -x; fi

LC_ALL=C
export LC_ALL
unset LANGUAGE LANG GNUPGHOME 2>/dev/null || true

TEST_NAME=$(basename "$0" .sh)

# LeakSanitizer: its check at exit costs about 70 ms of CPU per tool run
# in the sanitizer build, a tenth of the suite.  The tests of the main
# paths (send, enroll and the key lifecycle, the audit verbs, S/MIME,
# the sendmail command line, the scanner) keep it; the others turn it
# off and keep ASan and UBSan.  The unit tests and the fuzz replay check
# the library for leaks too, and scripts/analyze.sh runs valgrind.
case $TEST_NAME in
    send | lifecycle | audit | smime-send | dropin | enroll | scan) ;;
    *) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
       export ASAN_OPTIONS ;;
esac

# ---------------------------------------------------------------- reporting

# fail MESSAGE...: report a failure and exit 1.
fail() {
    printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

# pass MESSAGE...: report one passed check.
pass() {
    printf 'ok: %s\n' "$*"
}

# note MESSAGE...: informative line.
note() {
    printf '# %s\n' "$*"
}

# ---------------------------------------------------------------- locations

if [ -z "${top_srcdir:-}" ]; then
    top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
fi
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir

PANSEND=$top_builddir/cmd/pansend
PANKEY=$top_builddir/cmd/pankey
MAILDIR=${PANMAIL_MAILDIR:-/var/mail/vhosts}
MAILDOMAIN=example.test
# shellcheck disable=SC2034  # used by the tests that source this file
TAG=${PANMAIL_TEST_TAG:-t$(printf '%s' "$top_builddir" | cksum | cut -d' ' -f1)-}

if [ -x /usr/bin/python3 ]; then
    PYTHON=/usr/bin/python3
else
    PYTHON=python3
fi

# ---------------------------------------------------------------- throwaway dir

lib_t0=$(date +%s)
T=$(mktemp -d "${TMPDIR:-/tmp}/panmail-$TEST_NAME.XXXXXX")
KEYS=$T/keys
PANMAIL_HOME=$T/home
export PANMAIL_HOME
mkdir -m 700 "$KEYS" "$T/user"
HOME=$T/user
export HOME

lib_cleanup() {
    lib_rc=$?
    set +e
    if [ "$lib_rc" -eq 0 ] && ! audit_intact; then
        lib_rc=1
    fi
    # Stop the gpg-agents started for the homes of this test.
    for d in "$KEYS" "$PANMAIL_HOME/gnupg" "$T"/sec-*; do
        if [ -d "$d" ]; then
            gpgconf --homedir "$d" --kill all >/dev/null 2>&1
        fi
    done
    printf '# %s took %s s; CPU time of its processes (user, system):\n' \
        "$TEST_NAME" "$(($(date +%s) - lib_t0))"
    times > "$T/times"
    sed -n '2s/^/#   /p' "$T/times"
    if [ "${KEEP:-}" = 1 ]; then
        printf '# KEEP=1: test files kept in %s\n' "$T" >&2
    else
        rm -rf "$T"
    fi

    if [ "$lib_rc" -eq 0 ]; then
        printf 'PASS: %s\n' "$TEST_NAME"
    elif [ "$lib_rc" -eq 77 ]; then
        # Never skip: a missing prerequisite is a failure.
        printf 'FAIL: %s: exit 77 (skip) is not allowed here\n' "$TEST_NAME" >&2
        lib_rc=1
    else
        printf 'FAIL: %s (exit %s)\n' "$TEST_NAME" "$lib_rc" >&2
    fi
    exit "$lib_rc"
}
trap lib_cleanup EXIT
trap 'exit 1' HUP INT TERM

# ---------------------------------------------------------------- the tools

# need_tools: fail unless pansend and pankey are built.
need_tools() {
    [ -x "$PANSEND" ] || fail "$PANSEND is not built (run make first)"
    [ -x "$PANKEY" ] || fail "$PANKEY is not built (run make first)"
}

pansend() { "$PANSEND" "$@"; }
PANMAILX=$top_builddir/cmd/panmailx
panmailx() { "$PANMAILX" "$@"; }
pankey() { "$PANKEY" "$@"; }
PANAUDIT=$top_builddir/cmd/panaudit
panaudit() { "$PANAUDIT" "$@"; }

# init_home: "pankey init" of $PANMAIL_HOME, keeping the audit key it
# shows once in $T/audit.key for "panaudit verify --key".
init_home() {
    "$PANKEY" init > "$T/init.out" || fail "pankey init failed"
    sed -n 's/^audit key: //p' "$T/init.out" > "$T/audit.key"
    [ -s "$T/audit.key" ] || fail "pankey init showed no audit key"
}

# audit_intact: every home a test used ends with an intact audit log, its
# MACs checked when the test kept the audit key; each send and queue
# record names every recipient's fingerprint and the ciphertext digest.
audit_intact() {
    [ -f "$PANMAIL_HOME/audit.key" ] || return 0
    if [ -s "$T/audit.key" ]; then
        set -- --key "$T/audit.key"
    else
        set --
    fi
    "$PANAUDIT" --home "$PANMAIL_HOME" verify "$@" >"$T/verify.out" 2>&1 ||
        { cat "$T/verify.out" >&2
          printf 'FAIL: %s: panaudit verify failed at the end\n' "$TEST_NAME" >&2
          return 1; }
    "$PANAUDIT" --home "$PANMAIL_HOME" log --json --event send |
        jq -e -s 'all(.[]; (.recipients | length > 0)
                   and all(.recipients[]; .fingerprint | test("^[0-9A-F]{40,64}$"))
                   and (.ciphertext_sha256 | test("^[0-9a-f]{64}$")))' \
        >/dev/null ||
        { printf 'FAIL: %s: a send record lacks fingerprints or digest\n' \
              "$TEST_NAME" >&2; return 1; }
}

# enroll_alice: init_home, then make a key for $TAG$TEST_NAME-alice (its
# address in $A, its fingerprint in $fa, the public key in $T/a.asc)
# and enroll it.
enroll_alice() {
    init_home; pass "init (audit key kept)"
    A=$TAG$TEST_NAME-alice@example.test
    fa=$(make_key Alice "$A")
    export_key "$fa" "$T/a.asc"
    expect_rc 0 "enroll" pankey enroll "$A" --fingerprint "$fa" --file "$T/a.asc"
}

# enroll_keys ADDR:FPR...: export each key FPR made by make_key and
# enroll it for ADDR.
enroll_keys() {
    for ek_r in "$@"; do
        export_key "${ek_r#*:}" "$T/key.asc"
        pankey enroll "${ek_r%%:*}" --fingerprint "${ek_r#*:}" \
            --file "$T/key.asc" >"$T/out" 2>"$T/err" ||
            { cat "$T/err" >&2; fail "enrolling ${ek_r%%:*} failed"; }
    done
}

# report_to ADDR WORD: a short message to ADDR whose body holds WORD.
report_to() {
    printf 'From: ops@example.test\nTo: %s\nSubject: report\n\nbody %s\n' \
        "$1" "$2"
}

# run_rc OUT ERR CMD...: run CMD with stdout to OUT and stderr to ERR and
# put its exit status in $rc, whatever it is (set -e safe).
run_rc() {
    run_out=$1 run_err=$2
    shift 2
    if "$@" >"$run_out" 2>"$run_err"; then rc=0; else rc=$?; fi
}

# expect_rc WANT WHAT CMD...: run CMD (stdin passed through, stdout to
# $T/out, stderr to $T/err); fail with WHAT unless it exits with WANT.
expect_rc() {
    want=$1 what=$2
    shift 2
    if "$@" >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
    if [ "$rc" -ne "$want" ]; then
        printf -- '--- stdout:\n' >&2; cat "$T/out" >&2
        printf -- '--- stderr:\n' >&2; cat "$T/err" >&2
        fail "$what: exit status $rc, expected $want"
    fi
    pass "$what (exit $rc)"
}

# ---------------------------------------------------------------- GnuPG helpers

# kgpg ARGS...: gpg on the key-maker home $KEYS.
kgpg() {
    gpg --homedir "$KEYS" --batch --no-tty --quiet --no-greeting \
        --pinentry-mode loopback --passphrase '' "$@"
}

# pmgpg ARGS...: gpg on the panmail home's keyring.
pmgpg() {
    gpg --homedir "$PANMAIL_HOME/gnupg" --batch --no-tty --quiet \
        --no-greeting "$@"
}

# lib_faketime DAYS_AGO: the gpg option that moves the clock DAYS_AGO back
# (nothing for 0).
lib_faketime() {
    if [ "${1:-0}" -gt 0 ]; then
        printf -- '--faked-system-time=%s\n' "$(( $(date +%s) - $1 * 86400 ))"
    fi
}

# make_key [-c DAYS_AGO] NAME ADDR [EXPIRE]: make an ed25519 (cert,sign)
# primary key with user ID "NAME <ADDR>" and one cv25519 encryption subkey,
# both expiring EXPIRE (gpg syntax; default 2y) after creation; with -c
# the key is created DAYS_AGO days in the past.  Prints the fingerprint.
make_key() {
    mk_ago=0
    if [ "${1:-}" = -c ]; then mk_ago=$2; shift 2; fi
    mk_name=$1 mk_addr=$2 mk_exp=${3:-2y}
    mk_ft=$(lib_faketime "$mk_ago")
    # shellcheck disable=SC2086
    kgpg $mk_ft --status-fd 3 --quick-gen-key "$mk_name <$mk_addr>" \
        ed25519 cert,sign "$mk_exp" 3>"$T/keygen.status" >/dev/null 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-gen-key $mk_addr failed"; }
    mk_fpr=$(awk '$2 == "KEY_CREATED" { print $4; exit }' "$T/keygen.status")
    [ -n "$mk_fpr" ] || fail "no KEY_CREATED from gpg for $mk_addr"
    if [ "$mk_ago" -gt 0 ]; then
        # A faked clock runs on from where it is set: start the subkey's
        # where gpg made the primary key, which under load can be seconds
        # later than $mk_ft (gpg refuses a subkey older than its key).
        mk_ft=--faked-system-time=$(kgpg --with-colons --list-keys "$mk_fpr" |
            awk -F: '$1 == "pub" { print $6; exit }')
    fi
    # shellcheck disable=SC2086
    kgpg $mk_ft --quick-add-key "$mk_fpr" cv25519 encr "$mk_exp" 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-add-key $mk_addr failed"; }
    printf '%s\n' "$mk_fpr"
}

# make_role_users GROUP USER... [-- USER...]: make GROUP, the users
# before "--" as its members and those after it outside it (login group
# "users", no home directory); all are removed, their gpg-agents
# stopped, when the test exits.
make_role_users() {
    role_group=$1
    shift
    trap role_users_cleanup EXIT
    groupadd "$role_group" || fail "groupadd $role_group"
    ru_member=1
    for u in "$@"; do
        if [ "$u" = -- ]; then ru_member=; continue; fi
        role_users="${role_users:-} $u"
        if [ -n "$ru_member" ]; then
            useradd -M -N -g users -G "$role_group" -s /bin/sh "$u"
        else
            useradd -M -N -g users -s /bin/sh "$u"
        fi || fail "useradd $u"
    done
}

role_users_cleanup() {
    rc_keep=$?
    set +e
    for u in ${role_users:-}; do
        pkill -U "$u" gpg-agent >/dev/null 2>&1
        userdel "$u" >/dev/null 2>&1
    done
    groupdel "$role_group" >/dev/null 2>&1
    (exit "$rc_keep")
    lib_cleanup
}

# make_signing_key ADDR: an ed25519 signing key "Signer <ADDR>" made in
# the test keyring (passphrase "test"), imported into the home and named
# by signing-key in panmail.conf; its fingerprint in $fs.
make_signing_key() {
    fs=$(kgpg --status-fd 1 --passphrase test --quick-gen-key "Signer <$1>" \
            ed25519 sign 1y | awk '$2 == "KEY_CREATED" { print $4 }')
    [ -n "$fs" ] || fail "cannot make the signing key"
    kgpg --passphrase test --export-secret-keys "$fs" > "$T/signer.sec"
    pmgpg --import "$T/signer.sec" 2>/dev/null || fail "cannot import the signing key"
    echo "signing-key $fs" >> "$PANMAIL_HOME/panmail.conf"
}

# make_key_two_enc [-c DAYS_AGO] NAME ADDR [EXPIRE]: like make_key, with a
# second cv25519 encryption subkey.  Prints the fingerprint.
make_key_two_enc() {
    mk2_ago=0
    if [ "${1:-}" = -c ]; then mk2_ago=$2; shift 2; fi
    mk2_fpr=$(make_key -c "$mk2_ago" "$@")
    # shellcheck disable=SC2046
    kgpg $(lib_faketime "$mk2_ago") --quick-add-key "$mk2_fpr" cv25519 encr \
        "${3:-2y}" 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-add-key (second) $2 failed"; }
    printf '%s\n' "$mk2_fpr"
}

# make_expired_key NAME ADDR: a key made two days ago that expired one day
# after creation (so, yesterday).  Prints the fingerprint.
make_expired_key() {
    make_key -c 2 "$1" "$2" 1d
}

# make_sign_only_key NAME ADDR: an ed25519 key with no encryption subkey.
make_sign_only_key() {
    kgpg --status-fd 3 --quick-gen-key "$1 <$2>" ed25519 cert,sign 2y \
        3>"$T/keygen.status" >/dev/null 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-gen-key $2 failed"; }
    awk '$2 == "KEY_CREATED" { print $4; exit }' "$T/keygen.status"
}

# expire_key_later FPR: FPR must have been made with make_key -c 3 (or
# older) and is valid now; add newer self-signatures, dated two days ago,
# that make the primary key and all subkeys expire one day after that, so
# the key has been expired since yesterday.
expire_key_later() {
    ek_ft=$(lib_faketime 2)
    kgpg "$ek_ft" --quick-set-expire "$1" 1d 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-set-expire $1 failed"; }
    kgpg "$ek_ft" --quick-set-expire "$1" 1d '*' 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "gpg --quick-set-expire $1 (subkeys) failed"; }
    kgpg --with-colons --list-keys "$1" 2>/dev/null |
        awk -F: '$1 == "pub" { print $2; exit }' | grep -qx e ||
        fail "expire_key_later: $1 is not expired in $KEYS"
}

# revoke_key FPR: revoke FPR in $KEYS with the revocation certificate gpg
# made when it made the key.
revoke_key() {
    rk_rev=$KEYS/openpgp-revocs.d/$1.rev
    [ -f "$rk_rev" ] || fail "no revocation certificate $rk_rev"
    sed 's/^:-----BEGIN/-----BEGIN/' "$rk_rev" > "$T/revoke.asc"
    kgpg --import "$T/revoke.asc" 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "importing the revocation of $1 failed"; }
    kgpg --with-colons --list-keys "$1" 2>/dev/null |
        awk -F: '$1 == "pub" { print $2; exit }' | grep -qx r ||
        fail "revoke_key: $1 is not revoked in $KEYS"
}

# export_key FPR FILE: export the public key FPR armored into FILE.
export_key() {
    export_keys "$2" "$1"
}

# export_keys FILE FPR...: export the public keys FPR... armored into FILE.
export_keys() {
    ek_file=$1
    shift
    kgpg --armor --export "$@" > "$ek_file" || fail "gpg --export to $ek_file failed"
    grep -q 'BEGIN PGP PUBLIC KEY BLOCK' "$ek_file" ||
        fail "export_keys: nothing exported to $ek_file"
}

# secret_home FPR: print the path of a GnuPG home holding only FPR's
# secret key (made on first use): decrypting with it proves that the
# message was encrypted to FPR.
secret_home() {
    sh_dir=$T/sec-$1
    if [ ! -d "$sh_dir" ]; then
        mkdir -m 700 "$sh_dir"
        kgpg --export-secret-keys "$1" > "$T/secret.gpg" ||
            fail "exporting the secret key $1 failed"
        gpg --homedir "$sh_dir" --batch --no-tty --quiet --import \
            "$T/secret.gpg" 2>"$T/keygen.err" ||
            { cat "$T/keygen.err" >&2; fail "importing the secret key $1 failed"; }
        rm -f "$T/secret.gpg"
    fi
    printf '%s\n' "$sh_dir"
}

# gpgsm_import_p12 HOME P12: import P12 (certificate and key, password
# "test") into the gpgsm home HOME; on failure show what gpgsm said.
gpgsm_import_p12() {
    echo test | gpgsm --homedir "$1" --batch --pinentry-mode loopback \
        --passphrase-fd 0 --import "$2" >/dev/null 2>"$T/p12.err" ||
        { cat "$T/p12.err" >&2; fail "gpgsm --import $(basename "$2") into $1"; }
}

# push_key_update FPR: export FPR from $KEYS and import it into the panmail
# home's keyring, as a later key refresh would.
push_key_update() {
    kgpg --export "$1" > "$T/update.gpg" || fail "gpg --export $1 failed"
    pmgpg --import "$T/update.gpg" 2>"$T/keygen.err" ||
        { cat "$T/keygen.err" >&2; fail "importing $1 into $PANMAIL_HOME/gnupg failed"; }
}

# spaced_fpr FPR: FPR in gpg's display form "ABCD EF01 ...  ...".
spaced_fpr() {
    printf '%s\n' "$1" | sed -e 's/..../& /g' -e 's/ $//' \
        -e 's/^\(\([^ ]* \)\{5\}\)/\1 /'
}

# new_marker: a random word to find plaintext leaks with (hex, so it never
# looks like a card number).
new_marker() {
    printf 'pmk%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
}

# fprs_in_keyring: the primary key fingerprints in the panmail keyring.
fprs_in_keyring() {
    pmgpg --with-colons --list-keys 2>/dev/null |
        awk -F: '$1 == "pub" { p = 1; next } $1 == "fpr" && p { print $10; p = 0 }'
}

# not_enrolled ADDR: true if "pankey list --json" has no record for ADDR.
not_enrolled() {
    pankey list --json > "$T/list.json" || fail "pankey list --json failed"
    jq -e -s --arg a "$(lower "$1")" \
        'all(.[]; (.address | ascii_downcase) != $a)' "$T/list.json" >/dev/null ||
        return 1
}

# lower WORDS...: lower-case.
lower() { printf '%s\n' "$*" | tr '[:upper:]' '[:lower:]'; }

# upper ADDR: ADDR with its local part in capitals and its domain
# capitalised (Bob@example.test: BOB@Example.test), another spelling of
# the same mailbox.
upper() {
    printf '%s@%s\n' "$(printf '%s' "${1%@*}" | tr '[:lower:]' '[:upper:]')" \
        "$(printf '%s' "${1##*@}" | sed 's/^./\U&/')"
}

# fixture NAME: print the directory of the shared fixture NAME (see
# tests/integration/fixtures.sh), made once per build directory under a
# lock: the first test that asks makes it, the others wait for it.  Only
# read what is in it.  Use as: dir=$(fixture NAME) || exit 1
fixture() {
    fx_dir=$top_builddir/tests/fixtures
    mkdir -p "$fx_dir" || fail "cannot make $fx_dir"
    (
        flock -w 300 9 || fail "could not lock the fixture $1"
        TAG=$TAG \
            sh "$top_srcdir/tests/integration/fixtures.sh" "$1" "$fx_dir/$1" \
            >"$T/fixture.log" 2>&1 ||
            { cat "$T/fixture.log" >&2; fail "making the fixture $1 failed"; }
    ) 9>>"$fx_dir/$1.lock" || exit 1
    printf '%s\n' "$fx_dir/$1"
}

# log_gpgconf_runs LOG: make $T/wrap/gpgconf, which appends
# "gpgconf ARGS" to LOG and runs the real one, and print the directory
# to put first in PATH.  GPGME looks for gpgconf in PATH, and asks it
# where gpgsm is: the log shows whether it did.
log_gpgconf_runs() {
    mkdir -p "$T/wrap"
    printf '#!/bin/sh\necho "gpgconf $*" >> "%s"\nexec /usr/bin/gpgconf "$@"\n' \
        "$1" > "$T/wrap/gpgconf"
    chmod 755 "$T/wrap/gpgconf"
    : > "$1"
    printf '%s\n' "$T/wrap"
}

# ---------------------------------------------------------------- Postfix

# need_postfix: make sure the test Postfix is configured and running (runs
# scripts/postfix-setup.sh once, under a lock, if it is not).
need_postfix() {
    PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
    export PATH
    command -v postfix >/dev/null 2>&1 ||
        fail "postfix is not installed: run scripts/install-deps.sh"
    command -v flock >/dev/null 2>&1 ||
        fail "flock is not installed: run scripts/install-deps.sh"
    # The lock lives outside $T so that parallel tests share it.
    np_lock=${TMPDIR:-/tmp}/panmail-postfix-setup.lock
    (
        flock -w 120 9 || fail "could not lock $np_lock"
        if ! postfix status >/dev/null 2>&1 ||
            [ "$(postconf -h virtual_transport 2>/dev/null)" != panmailbox ] ||
            [ ! -d "$MAILDIR/$MAILDOMAIN" ]; then
            "$top_srcdir/scripts/postfix-setup.sh" >"$T/postfix-setup.log" 2>&1 || {
                cat "$T/postfix-setup.log" >&2
                fail "scripts/postfix-setup.sh failed"
            }
        fi
    ) 9>>"$np_lock"
}

# mbox ADDR: path of the mbox file for ADDR (LOCALPART@example.test).
mbox() {
    mb_local=${1%@*} mb_dom=${1##*@}
    # (tr only when needed: this runs in every wait for mail)
    case $1 in
        *[A-Z]*)
            mb_local=$(printf '%s\n' "$mb_local" | tr '[:upper:]' '[:lower:]')
            mb_dom=$(printf '%s\n' "$mb_dom" | tr '[:upper:]' '[:lower:]') ;;
    esac
    [ "$mb_dom" = "$MAILDOMAIN" ] || fail "mbox: $1 is not in $MAILDOMAIN"
    printf '%s\n' "$MAILDIR/$MAILDOMAIN/$mb_local"
}

# mbox_size ADDR: size in bytes of ADDR's mbox (0 if there is none).
mbox_size() {
    ms_f=$(mbox "$1")
    if [ -f "$ms_f" ]; then wc -c < "$ms_f" | tr -d ' '; else echo 0; fi
}

# mbox_count ADDR: number of messages in ADDR's mbox.
mbox_count() {
    mc_f=$(mbox "$1")
    if [ -f "$mc_f" ]; then
        flock -s "$mc_f" grep -c '^From ' "$mc_f" || true
    else
        echo 0
    fi
}

# wait_for_mail ADDR OLDSIZE [COUNT]: wait (30 s at most) until ADDR's mbox
# holds COUNT (default 1) more messages than it did at OLDSIZE bytes, and
# no delivery to it is under way.  Fails on time-out.
wait_for_mail() {
    wm_f=$(mbox "$1") wm_old=$2 wm_want=${3:-1}
    wm_i=0
    while :; do
        if [ -f "$wm_f" ] && [ "$(wc -c < "$wm_f")" -gt "$wm_old" ]; then
            # The delivery agent appends under an exclusive flock.
            wm_n=$(flock -s "$wm_f" tail -c +"$((wm_old + 1))" "$wm_f" |
                grep -c '^From ' || true)
            [ "$wm_n" -lt "$wm_want" ] || return 0
        fi
        wm_i=$((wm_i + 1))
        if [ "$wm_i" -gt 150 ]; then
            tail -n 20 "${PANMAIL_POSTFIX_LOG:-/var/log/postfix-panmail.log}" >&2 || true
            fail "no mail for $1 after 30 s"
        fi
        sleep 0.2
    done
}

# new_mail_count ADDR OLDSIZE [REGEX]: number of messages after OLDSIZE
# bytes (with REGEX: of lines matching it there, e.g. a header that only
# one message carries).
new_mail_count() {
    nm_f=$(mbox "$1")
    if [ -f "$nm_f" ]; then
        flock -s "$nm_f" tail -c +"$(($2 + 1))" "$nm_f" | grep -c -- "${3:-^From }" || true
    else
        echo 0
    fi
}

# mail_queue_empty [REGEX]: true if the Postfix queue holds no message for
# a recipient matching REGEX (default: any recipient).
mail_queue_empty() {
    mq_re=${1:-.}
    mq_n=$(postqueue -j 2>/dev/null |
        jq -r '.recipients[].address' 2>/dev/null |
        grep -Eic -- "$mq_re" || true)
    [ "$mq_n" -eq 0 ]
}

# assert_no_new_mail WHAT ADDR OLDSIZE [ADDR OLDSIZE]...: check that
# nothing but a sentinel has reached any ADDR since its OLDSIZE.  One
# plain sentinel message to all the ADDRs goes through Postfix and is
# waited for first, so mail submitted earlier has had its chance to
# arrive (no fixed sleeps, one wait for the whole phase).
assert_no_new_mail() {
    an_what=$1
    shift
    an_to="" an_re="" an_i=0
    while [ "$an_i" -lt $(($# / 2)) ]; do
        an_to=${an_to:+$an_to, }$1
        an_re=${an_re:+$an_re|}$(printf '%s' "$1" | sed 's/[.+]/\\&/g')
        set -- "$@" "$1" "$2"       # rotate: the list is whole again after
        shift 2
        an_i=$((an_i + 1))
    done
    printf 'To: %s\nSubject: sentinel %s\n\nsentinel\n' "$an_to" "$TEST_NAME" |
        /usr/sbin/sendmail -t -i || fail "sendmail (sentinel) failed"
    an_i=0
    while [ "$an_i" -lt $(($# / 2)) ]; do
        wait_for_mail "$1" "$2" 1
        set -- "$@" "$1" "$2"
        shift 2
        an_i=$((an_i + 1))
    done
    # Give any message queued before the sentinel time to be delivered.
    an_i=0
    until mail_queue_empty "^($an_re)\$"; do
        an_i=$((an_i + 1))
        [ "$an_i" -le 150 ] || break
        sleep 0.2
    done
    while [ $# -ge 2 ]; do
        an_n=$(new_mail_count "$1" "$2")
        [ "$an_n" -eq 1 ] ||
            fail "$an_what: $1 got $((an_n - 1)) message(s) besides the sentinel"
        shift 2
    done
}

# last_message ADDR FILE [REGEX]: write the last message of ADDR's mbox
# (with REGEX: the last one with a line matching it) to FILE,
# without the mbox "From " line and the blank line after the message, and
# with ">From " unquoted (pipe(8) quotes mboxo style).
last_message() {
    lm_f=$(mbox "$1")
    [ -s "$lm_f" ] || fail "last_message: no mbox for $1"
    # shellcheck disable=SC2016
    flock -s "$lm_f" awk -v re="${3:-}" '
        function keep() {
            if (n > 0 && (re == "" || hit)) { m = n; for (i = 1; i <= n; i++) best[i] = line[i] }
        }
        /^From / { keep(); n = 0; hit = 0; next }
        { sub(/^>From /, "From "); line[++n] = $0; if (re != "" && $0 ~ re) hit = 1 }
        END {
            keep()
            if (m > 0 && best[m] == "") m--
            for (i = 1; i <= m; i++) print best[i]
        }' "$lm_f" > "$2"
    [ -s "$2" ] || fail "last_message: empty message for $1"
}

# ---------------------------------------------------------------- MIME

# decrypt_pgpmime MSGFILE SECRETHOME OUTFILE: check that MSGFILE is an RFC
# 3156 PGP/MIME message and decrypt its payload with the keys in
# SECRETHOME into OUTFILE (the inner MIME entity, as decrypted).
decrypt_pgpmime() {
    dp_msg=$1 dp_home=$2 dp_out=$3
    "$PYTHON" - "$dp_msg" "$T/pgpmime.asc" <<'EOF' || fail "$dp_msg is not RFC 3156 PGP/MIME"
import email, email.policy, sys
raw = open(sys.argv[1], 'rb').read()
msg = email.message_from_bytes(raw, policy=email.policy.compat32)
def bad(why):
    sys.stderr.write('decrypt_pgpmime: %s\n' % why)
    sys.exit(1)
if msg.get_content_type() != 'multipart/encrypted':
    bad('top Content-Type is %s, not multipart/encrypted' % msg.get_content_type())
proto = (msg.get_param('protocol') or '')
if isinstance(proto, tuple):
    proto = email.utils.collapse_rfc2231_value(proto)
if proto.lower() != 'application/pgp-encrypted':
    bad('protocol parameter is %r, not application/pgp-encrypted' % proto)
parts = msg.get_payload()
if not isinstance(parts, list) or len(parts) != 2:
    bad('multipart/encrypted must have exactly 2 parts')
p1, p2 = parts
if p1.get_content_type() != 'application/pgp-encrypted':
    bad('first part is %s, not application/pgp-encrypted' % p1.get_content_type())
v = p1.get_payload(decode=True) or b''
if b'Version: 1' not in [l.strip() for l in v.splitlines()]:
    bad('first part does not say "Version: 1"')
if p2.get_content_type() != 'application/octet-stream':
    bad('second part is %s, not application/octet-stream' % p2.get_content_type())
data = p2.get_payload(decode=True) or b''
lines = data.replace(b'\r\n', b'\n').split(b'\n')
try:
    b = lines.index(b'-----BEGIN PGP MESSAGE-----')
    e = lines.index(b'-----END PGP MESSAGE-----', b)
except ValueError:
    bad('second part holds no armored PGP MESSAGE')
open(sys.argv[2], 'wb').write(b'\n'.join(lines[b:e + 1]) + b'\n')
EOF
    rm -f "$dp_out"
    gpg --homedir "$dp_home" --batch --no-tty --quiet --decrypt \
        --output "$dp_out" "$T/pgpmime.asc" 2>"$T/decrypt.err" || {
        cat "$T/decrypt.err" >&2
        fail "gpg --decrypt with $dp_home failed"
    }
}

# entity_body ENTITY OUTFILE: write the decoded body of the decrypted MIME
# entity ENTITY to OUTFILE (Content-Transfer-Encoding undone; for a
# multipart entity, the first leaf that is not a protected-headers
# legacy-display or text/rfc822-headers part).
entity_body() {
    "$PYTHON" - "$1" "$2" <<'EOF' || fail "cannot get the body of the MIME entity $1"
import email, email.policy, sys
msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(),
                               policy=email.policy.compat32)
part = None
for p in msg.walk():
    if p.is_multipart():
        continue
    if p.get_content_type() == 'text/rfc822-headers':
        continue
    if p.get_param('protected-headers') and 'legacy-display' in str(p.get_params()):
        continue
    part = p
    break
if part is None:
    sys.stderr.write('entity_body: no body part\n')
    sys.exit(1)
body = part.get_payload(decode=True)
if body is None:
    body = b''
open(sys.argv[2], 'wb').write(body)
EOF
}

# header_names FILE: the header field names of the message FILE, one a
# line, lower-case.
header_names() {
    awk '/^\r?$/ { exit } /^[^ \t]/ { sub(/:.*/, ""); print tolower($0) }' "$1"
}

# header_value FILE NAME: the (unfolded) value of the first NAME header.
header_value() {
    awk -v want="$(lower "$2")" '
        /^\r?$/ { exit }
        { sub(/\r$/, "") }
        /^[ \t]/ { if (on) v = v $0; next }
        { if (on) exit; on = 0 }
        { n = $0; sub(/:.*/, "", n)
          if (tolower(n) == want) { on = 1; v = $0; sub(/^[^:]*:[ \t]*/, "", v) } }
        END { if (on) print v }' "$1"
}

# body_of FILE: the body of message FILE (after the first empty line).
body_of() {
    awk 'b { print; next } /^\r?$/ { b = 1 }' "$1"
}

# canon FILE: FILE with CRLF line ends turned into LF.
canon() {
    awk '{ sub(/\r$/, ""); print }' "$1"
}

# same_text A B: true if A and B are equal after canon and after dropping
# trailing empty lines.
same_text() {
    canon "$1" | awk '{ l[++n] = $0 } END { while (n > 0 && l[n] == "") n--; for (i = 1; i <= n; i++) print l[i] }' > "$T/same.a"
    canon "$2" | awk '{ l[++n] = $0 } END { while (n > 0 && l[n] == "") n--; for (i = 1; i <= n; i++) print l[i] }' > "$T/same.b"
    cmp -s "$T/same.a" "$T/same.b"
}

# make_capture NAME: write an executable $T/NAME that saves its arguments
# to $T/NAME.args (one a line) and its stdin to $T/NAME.out, and exits 0.
make_capture() {
    cat > "$T/$1" <<EOF
#!/bin/sh
for a in "\$@"; do printf '%s\n' "\$a"; done > "$T/$1.args"
cat > "$T/$1.out"
EOF
    chmod 755 "$T/$1"
    printf '%s\n' "$T/$1"
}

# ---------------------------------------------------------------- fault runs

# running PID: true if process PID exists and has not ended.  A killed
# process whose parent was gone is a zombie until PID 1 reaps it, which
# some container inits do late; kill -0 still finds a zombie.
running() {
    rn_state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$rn_state" ] && [ "$rn_state" != Z ]
}

# What fake MTAs made with mta_recorder took whole, one file a copy.
MTA_GOT=$T/mta-got

# mta_recorder NAME [MTA...]: write an executable fake MTA $T/NAME that
# notes each run (its pid) in $T/NAME.runs, reads the whole copy on its
# stdin and keeps it in $MTA_GOT (one file a run) once it has taken
# it: at once, exit 0; or, with MTA, once MTA (given the arguments and
# the copy) exited 0, else it exits with MTA's status.  Prints its path.
mta_recorder() {
    mkdir -p "$MTA_GOT"
    mr_name=$1
    shift
    cat > "$T/$mr_name" <<EOF
#!/bin/sh
echo "\$\$" >> "$T/$mr_name.runs"
cat > "$MTA_GOT/.part.\$\$" || exit 75
if [ -n "$*" ]; then
    $* "\$@" < "$MTA_GOT/.part.\$\$" ||
        { s=\$?; rm -f "$MTA_GOT/.part.\$\$"; exit \$s; }
fi
mv "$MTA_GOT/.part.\$\$" "$MTA_GOT/\$\$"
EOF
    chmod 755 "$T/$mr_name"
    printf '%s\n' "$T/$mr_name"
}

# check_received: the acceptance check of every fault-*.sh test, over
# all the runs of the test on $PANMAIL_HOME: nothing is recorded as
# delivered unless the MTA took the whole ciphertext.  Each "delivered" record (and a legacy
# "send"/"sent" one) has a copy in $MTA_GOT whose SHA-256 is the
# record's ciphertext_sha256, and each copy in $MTA_GOT is the
# ciphertext of a recorded copy (the ciphertext_sha256 of a "send"
# record, or of the "queue" record of a copy recovered before its
# "send" record): no message reached the MTA without a record.
check_received() {
    "$PANAUDIT" --home "$PANMAIL_HOME" log --json > "$T/cr.log" ||
        fail "check_received: panaudit log failed"
    jq -r 'select(.outcome == "delivered" or .outcome == "sent")
           | .ciphertext_sha256 // "none"' "$T/cr.log" | sort -u > "$T/cr.delivered"
    jq -r '.ciphertext_sha256 // empty' "$T/cr.log" | sort -u > "$T/cr.recorded"
    : > "$T/cr.received"
    if [ -d "$MTA_GOT" ]; then
        find "$MTA_GOT" -type f ! -name '.part.*' -exec sha256sum {} + |
            cut -d' ' -f1 | sort -u > "$T/cr.received"
    fi
    comm -23 "$T/cr.delivered" "$T/cr.received" > "$T/cr.bad"
    [ ! -s "$T/cr.bad" ] ||
        fail "recorded as delivered, but the MTA never took it whole: $(cat "$T/cr.bad")"
    comm -23 "$T/cr.received" "$T/cr.recorded" > "$T/cr.bad"
    [ ! -s "$T/cr.bad" ] ||
        fail "the MTA took copies that no record names: $(cat "$T/cr.bad")"
    pass "check_received: $(wc -l < "$T/cr.delivered") delivered copies, each taken whole by the MTA; the MTA took $(wc -l < "$T/cr.received") copies, each recorded"
}

# home_daemons DIR: the pids of the gpg-agent and dirmngr processes that
# run on the GnuPG home DIR (their command line names it), from /proc.
home_daemons() {
    for hd_p in /proc/[0-9]*; do
        hd_c=$(tr '\0' ' ' < "$hd_p/cmdline" 2>/dev/null) || continue
        case $hd_c in
            *gpg-agent*"$1"*|*dirmngr*"$1"*) printf '%s\n' "${hd_p#/proc/}" ;;
        esac
    done
}

# kill_while_mta_has ADDR: a pansend of a message to ADDR killed (-9)
# while its MTA (which hangs, and is killed too) has the copy: it
# leaves the copy, staged and pending, in spool/.
kill_while_mta_has() {
    cat > "$T/hang" <<EOF
#!/bin/sh
echo \$\$ > "$T/hang.pid"
exec sleep 30
EOF
    chmod 755 "$T/hang"
    rm -f "$T/hang.pid"
    report_to "$1" "crash $(new_marker)" > "$T/crash"
    "$PANSEND" --sendmail "$T/hang" < "$T/crash" >/dev/null 2>&1 &
    kw_p=$!
    kw_i=0
    while [ ! -s "$T/hang.pid" ] && [ "$kw_i" -lt 300 ]; do
        sleep 0.1; kw_i=$((kw_i + 1))
    done
    [ -s "$T/hang.pid" ] || fail "the hanging MTA never ran"
    kill -9 "$kw_p"; wait "$kw_p" || true
    kill -9 "$(cat "$T/hang.pid")" 2>/dev/null || true
    [ -n "$(find "$PANMAIL_HOME/spool" -name 'c*.env')" ] ||
        fail "the killed pansend left no staged copy in spool/"
}
