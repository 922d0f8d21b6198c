#!/bin/sh
# roles.sh - a home shared by an operator and a group of senders (issue
# 11), each a real user made here: the operator runs "pankey init
# --sender-group" and enrolls; a sender sends through Postfix and the
# recipient decrypts; a sender cannot enroll, rotate, revoke, edit the
# registry or replace the keyring; a user outside the group cannot send;
# and every symbolic link or wrong owner or mode in the home, or an
# other-writable parent without the sticky bit, is refused with 78
# (pankey check: 3), naming the path; "panaudit rotate" by the operator
# or root keeps the log the senders' (0660, segments 0440, their group)
# and the registry check after it (segment-open carries the digest).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix
command -v runuser >/dev/null 2>&1 || fail "runuser is not installed"

# ------------------------------------------------------------------ users

sfx=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
GRP=pmg$sfx
OPU=pmo$sfx             # the operator
SNDU=pms$sfx            # a sender
OUTU=pmx$sfx            # neither

make_role_users "$GRP" "$OPU" "$SNDU" -- "$OUTU"
pass "users $OPU (operator), $SNDU (sender), $OUTU and group $GRP made"

chmod 711 "$T"
R=$T/r
mkdir -m 755 "$R"
chown "$OPU" "$R"
for u in "$OPU" "$SNDU" "$OUTU"; do
    mkdir -m 700 "$R/h-$u"
    chown "$u" "$R/h-$u"
done
PANMAIL_HOME=$R/home
H=$PANMAIL_HOME

# as USER CMD...: run CMD as USER (no shell), in /, with its own HOME.
as() {
    as_u=$1
    shift
    (cd / && runuser -u "$as_u" -- env HOME="$R/h-$as_u" \
        PANMAIL_HOME="$PANMAIL_HOME" PATH="$PATH" "$@")
}

# ------------------------------------------------------------------ init, enroll

as "$OPU" "$PANKEY" init --sender-group "$GRP" >"$T/init.out" 2>"$T/err" ||
    { cat "$T/err" >&2; fail "pankey init --sender-group failed"; }
sed -n 's/^audit key: //p' "$T/init.out" > "$T/audit.key"
[ -s "$T/audit.key" ] || fail "pankey init showed no audit key"
[ "$(stat -c '%U %G %a' "$H")" = "$OPU $GRP 2750" ] ||
    fail "the home is $(stat -c '%U %G %a' "$H"), expected $OPU $GRP 2750"
[ "$(stat -c '%a' "$H/registry")" = 640 ] || fail "registry is not 0640"
[ "$(stat -c '%a' "$H/audit.log")" = 660 ] || fail "audit.log is not 0660"
[ "$(stat -c '%a' "$H/spool")" = 2770 ] || fail "spool/ is not 2770"
pass "init --sender-group: operator-owned home shared with $GRP"

A=${TAG}roles-alice@example.test
B=${TAG}roles-bob@example.test
fa=$(make_key "Alice Roles" "$A")
fb=$(make_key "Bob Roles" "$B")
export_key "$fa" "$R/a.asc"
export_key "$fb" "$R/b.asc"
chmod 644 "$R/a.asc" "$R/b.asc"
expect_rc 0 "the operator enrolls $A" \
    as "$OPU" "$PANKEY" enroll "$A" --fingerprint "$fa" --file "$R/a.asc"
[ "$(stat -c '%U %G %a' "$H/registry")" = "$OPU $GRP 640" ] ||
    fail "the registry after enroll is $(stat -c '%U %G %a' "$H/registry")"

# ------------------------------------------------------------------ send

MARK=$(new_marker)
old=$(mbox_size "$A")
report_to "$A" "$MARK" > "$R/msg"
chmod 644 "$R/msg"
# shellcheck disable=SC2016  # expanded by the inner shell
expect_rc 0 "the sender sends" sh -c \
    'runuser -u "$1" -- env HOME="$2" PANMAIL_HOME="$3" "$4" -t < "$5"' \
    sh "$SNDU" "$R/h-$SNDU" "$H" "$PANSEND" "$R/msg"
wait_for_mail "$A" "$old"
last_message "$A" "$T/got"
grep -qF "$MARK" "$T/got" && fail "the body is readable in the mail"
decrypt_pgpmime "$T/got" "$(secret_home "$fa")" "$T/dec"
grep -qF "$MARK" "$T/dec" || fail "the decrypted message lacks the body"
pass "the recipient decrypts what the sender sent"
[ "$(stat -c '%U' "$H/audit.key")" = "$OPU" ] ||
    fail "audit.key changed owner after a send"
expect_rc 0 "the operator still reads the audit log" \
    as "$OPU" "$PANAUDIT" verify --key "$T/audit.key"

# shellcheck disable=SC2016  # expanded by the inner shell
expect_rc 78 "a user outside $GRP cannot send" sh -c \
    'runuser -u "$1" -- env HOME="$2" PANMAIL_HOME="$3" "$4" -t < "$5"' \
    sh "$OUTU" "$R/h-$OUTU" "$H" "$PANSEND" "$R/msg"

# ------------------------------------------------------------------ what a sender cannot do

reg_before=$(sha256sum < "$H/registry")
kbx_before=$(sha256sum < "$H/gnupg/pubring.kbx")

# not_ok WHAT CMD...: CMD, run as the sender, must fail.
not_ok() {
    no_what=$1
    shift
    if as "$SNDU" "$@" >"$T/out" 2>"$T/err"; then
        fail "the sender could $no_what"
    fi
    pass "the sender cannot $no_what"
}
not_ok "enroll" "$PANKEY" enroll "$B" --fingerprint "$fb" --file "$R/b.asc"
not_ok "rotate" "$PANKEY" rotate "$A" --fingerprint "$fb" --file "$R/b.asc"
not_ok "revoke" "$PANKEY" revoke "$A" --reason compromised
not_ok "unenroll" "$PANKEY" unenroll "$A"
# shellcheck disable=SC2016  # expanded by the inner shell
not_ok "write the registry" sh -c 'printf x >> "$1"' sh "$H/registry"
cp "$H/registry" "$R/evil"
chmod 644 "$R/evil"
not_ok "replace the registry" mv -f "$R/evil" "$H/registry"
not_ok "replace the keyring" cp "$R/b.asc" "$H/gnupg/pubring.kbx"
not_ok "add a keyring" cp "$R/b.asc" "$H/gnupg/pubring.gpg"
not_ok "import into the keyring" gpg --homedir "$H/gnupg" --batch \
    --import "$R/b.asc"
# shellcheck disable=SC2016  # expanded by the inner shell
not_ok "edit the configuration" sh -c 'printf x >> "$1"' sh "$H/panmail.conf"
# shellcheck disable=SC2016  # expanded by the inner shell
not_ok "write pan.key" sh -c 'printf x >> "$1"' sh "$H/pan.key"
[ "$(sha256sum < "$H/registry")" = "$reg_before" ] ||
    fail "the registry changed"
[ "$(sha256sum < "$H/gnupg/pubring.kbx")" = "$kbx_before" ] ||
    fail "the keyring changed"
fprs_in_keyring | grep -qx "$fb" && fail "bob's key reached the keyring"
pass "registry and keyring unchanged"

# ------------------------------------------------------------------ unsafe homes

# refused WHAT [check]: pansend (sender) exits 78 naming $H; with
# "check", pankey check (operator) exits 3 too.
refused() {
    if as "$SNDU" "$PANSEND" --dry-run -t < "$R/msg" >"$T/out" 2>"$T/err"
    then rc=0; else rc=$?; fi
    [ "$rc" -eq 78 ] || { cat "$T/err" >&2; fail "$1: pansend exit $rc, expected 78"; }
    grep -qF "$H" "$T/err" || { cat "$T/err" >&2; fail "$1: the message names no path"; }
    if [ "${2:-}" = check ]; then
        if as "$OPU" "$PANKEY" check >"$T/out" 2>"$T/err"; then rc=0; else rc=$?; fi
        [ "$rc" -eq 3 ] || { cat "$T/out" "$T/err" >&2; fail "$1: pankey check exit $rc, expected 3"; }
    fi
    pass "$1: refused (78${2:+, pankey check 3})"
}

# works: the home is fine again.
works() {
    expect_rc 0 "$1: sending works again" \
        as "$SNDU" "$PANSEND" --dry-run "$A" < "$R/msg"
}

# linked FILE: FILE replaced by a symbolic link to a copy of itself.
linked() {
    cp -p "$H/$1" "$H/$1.real"
    ln -sfn "$H/$1.real" "$H/$1"
    refused "$1 is a symbolic link" "${2:-}"
    mv -f "$H/$1.real" "$H/$1"
}
linked registry check
for f in panmail.conf audit.log audit.key pan.key gnupg/pubring.kbx \
         gnupg/gpg.conf; do
    linked "$f"
done
works "after the links"

mv "$H/spool" "$H/spool.real"
ln -s spool.real "$H/spool"
refused "spool/ is a symbolic link"
rm "$H/spool"
mv "$H/spool.real" "$H/spool"

mv "$H/gnupg" "$H/gnupg.real"
ln -s gnupg.real "$H/gnupg"
refused "gnupg/ is a symbolic link"
rm "$H/gnupg"
mv "$H/gnupg.real" "$H/gnupg"

# moded FILE MODE: FILE with MODE is refused.
moded() {
    md_old=$(stat -c '%a' "$H/$1")
    chmod "$2" "$H/$1"
    refused "$1 with mode $2" "${3:-}"
    chmod "$md_old" "$H/$1"
}
moded gnupg 2777 check
moded pan.key 644
moded registry 660
moded panmail.conf 662
moded gnupg/pubring.kbx 664
moded audit.log 666
moded audit.key 664
moded spool 2777
moded . 2755
works "after the modes"

# owned FILE: FILE owned by the sender is refused.
owned() {
    chown "$SNDU" "$H/$1"
    refused "$1 owned by the sender" "${2:-}"
    chown "$OPU" "$H/$1"
}
owned registry check
owned gnupg/pubring.kbx
owned audit.key
owned gnupg
works "after the owners"

chmod 777 "$R"
refused "a parent directory writable by others" check
chmod 1777 "$R"
works "a parent directory writable by others with the sticky bit"
chmod 755 "$R"

# ------------------------------------------------------------------ rotation

# The operator (then root, as from cron) rotates the audit log: the new
# audit.log and the closed segment keep the shared home's owner, modes
# and group, the sender goes on sending and reading the log, and the
# first send after the rotation still compares the registry with the
# digest that the segment-open record carries.
# mode_of FILE: "OWNER GROUP MODE" of FILE.
mode_of() { stat -c '%U %G %a' "$1"; }
for who in "$OPU" root; do
    if [ "$who" = root ]; then
        expect_rc 0 "root rotates the audit log" "$PANAUDIT" rotate
    else
        expect_rc 0 "the operator rotates the audit log" \
            as "$OPU" "$PANAUDIT" rotate
    fi
    seg=$(sed -n 's/^closed segment: //p' "$T/out")
    [ "$(mode_of "$H/audit.log")" = "$OPU $GRP 660" ] ||
        fail "after a rotate by $who audit.log is $(mode_of "$H/audit.log")"
    [ "$(mode_of "$seg")" = "$OPU $GRP 440" ] ||
        fail "after a rotate by $who the closed segment is $(mode_of "$seg")"
    works "after a rotate by $who"
    expect_rc 0 "the sender reads the rotated log" \
        as "$SNDU" "$PANAUDIT" verify
done
panaudit --home "$H" log --json | tail -n 1 |
    jq -e --arg d "$(sha256sum < "$H/registry" | cut -d' ' -f1)" \
        '.event == "segment-open" and .registry_sha256 == $d' >/dev/null ||
    fail "the segment-open record does not carry the registry digest"
cp -p "$H/registry" "$T/registry.kept"
printf '# edited by hand\n' >> "$H/registry"
if as "$SNDU" "$PANSEND" --dry-run "$A" < "$R/msg" >"$T/out" 2>"$T/err"
then rc=0; else rc=$?; fi
if [ "$rc" -ne 77 ] || ! grep -q "audit record [0-9]* (segment-open" "$T/err"
then
    cat "$T/err" >&2
    fail "a registry edited after a rotate: exit $rc"
fi
pass "a registry edited after a rotate is refused (77), naming segment-open"
cat "$T/registry.kept" > "$H/registry"
works "with the registry as recorded"

# The single-user case keeps working: a 0700 home of one uid.
expect_rc 0 "a single-user home still works" \
    as "$OPU" "$PANKEY" --home "$R/h-$OPU/home1" init
expect_rc 0 "pankey list on it" as "$OPU" "$PANKEY" --home "$R/h-$OPU/home1" list
