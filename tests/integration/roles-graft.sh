#!/bin/sh
# roles-graft.sh - the grafted-subkey attack of issue 11, on a keybox
# (pubring.kbx) and on a legacy keyring (pubring.gpg): an attacker with
# write access to the home appends an encryption subkey of its own to
# the partner's pinned key, with a binding signature that claims the
# partner as issuer and a ring-trust packet that marks it "checked,
# valid" in gpg's signature cache, in a home whose gpg.conf lacks
# no-sig-cache (an old home, or one the attacker edited).  gpg itself
# then lists the subkey as valid and would encrypt to it.  pansend
# encrypts only to the pinned subkey: the partner decrypts, the
# attacker cannot; "pankey check" says CRITICAL, naming the recipient
# and the subkey; a refresh from the tampered keyring does not pin it
# (the bindings are checked again without the cache).  Last, a record
# from before subkeys were pinned is refused until it is refreshed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
need_postfix

A=${TAG}graft-alice@example.test
M=${TAG}graft-mallory@example.test
fa=$(make_key "Alice Graft" "$A")
fm=$(make_key "Mallory Graft" "$M")
kgpg --export "$fa" > "$T/alice.gpg" || fail "exporting $fa failed"
kgpg --export "$fm" > "$T/mallory.gpg" || fail "exporting $fm failed"
sub_of() {
    kgpg --with-colons --list-keys "$1" |
        awk -F: '$1 == "sub" { s = 1; next } $1 == "fpr" && s { print $10; exit }'
}
sa=$(sub_of "$fa")
sm=$(sub_of "$fm")
if [ -z "$sa" ] || [ -z "$sm" ]; then
    fail "no encryption subkeys in the test keys"
fi

# graft MODE: print the packets that graft Mallory's encryption subkey
# onto Alice's key: with MODE "full" Alice's key first (for an import),
# with "tail" only the grafted packets (appended to a keyring file).
# The binding is Mallory's own, its issuer rewritten to Alice (so it
# cannot verify), followed by a ring-trust packet whose signature cache
# says "checked, valid".
graft() {
    "$PYTHON" - "$T/alice.gpg" "$T/mallory.gpg" "$fa" "$1" <<'EOF'
import sys

def packets(data):
    i = 0
    while i < len(data):
        c = data[i]
        if c & 0x40:
            tag, l = c & 0x3f, data[i + 1]
            if l < 192:
                hl, n = 2, l
            elif l < 224:
                hl, n = 3, ((l - 192) << 8) + data[i + 2] + 192
            else:
                hl, n = 6, int.from_bytes(data[i + 2:i + 6], 'big')
        else:
            tag = (c >> 2) & 15
            hl = 1 + (1 << (c & 3))
            n = int.from_bytes(data[i + 1:i + hl], 'big')
        yield tag, data[i + hl:i + hl + n]
        i += hl + n

def packet(tag, body):
    return bytes([0xc0 | tag, 0xff]) + len(body).to_bytes(4, 'big') + body

def subpackets(area):
    i = 0
    while i < len(area):
        l = area[i]
        if l < 192:
            hl, n = 1, l
        elif l < 255:
            hl, n = 2, ((l - 192) << 8) + area[i + 1] + 192
        else:
            hl, n = 5, int.from_bytes(area[i + 1:i + 5], 'big')
        yield area[i:i + hl], area[i + hl:i + hl + n]
        i += hl + n

def reissue(area, fpr):
    out = b''
    for head, sp in subpackets(area):
        kind = sp[0] & 0x7f
        if kind == 33:              # issuer fingerprint
            sp = sp[:2] + fpr
        elif kind == 16:            # issuer key ID
            sp = sp[:1] + fpr[-8:]
        out += head + sp
    return out

def forge(sig, fpr):
    hl = int.from_bytes(sig[4:6], 'big')
    hashed, rest = sig[6:6 + hl], sig[6 + hl:]
    ul = int.from_bytes(rest[0:2], 'big')
    unhashed, tail = rest[2:2 + ul], rest[2 + ul:]
    h, u = reissue(hashed, fpr), reissue(unhashed, fpr)
    return (sig[:4] + len(h).to_bytes(2, 'big') + h
            + len(u).to_bytes(2, 'big') + u + tail)

victim = list(packets(open(sys.argv[1], 'rb').read()))
attacker = list(packets(open(sys.argv[2], 'rb').read()))
fpr = bytes.fromhex(sys.argv[3])
k = [i for i, (t, _) in enumerate(attacker) if t == 14][0]
out = b''
if sys.argv[4] == 'full':
    out = b''.join(packet(t, b) for t, b in victim)
out += packet(14, attacker[k][1]) + packet(2, forge(attacker[k + 1][1], fpr))
out += packet(12, bytes([0, 3]) + b'gpg' + bytes([0]))   # sig cache: valid
sys.stdout.buffer.write(out)
EOF
}

# setup_home DIR KIND: a home in DIR whose keyring is a keybox (kbx) or
# a legacy pubring.gpg (gpg), without no-sig-cache, Alice enrolled.
setup_home() {
    PANMAIL_HOME=$1
    export PANMAIL_HOME
    init_home
    if [ "$2" = gpg ]; then
        rm -f "$PANMAIL_HOME/gnupg/pubring.kbx"
        : > "$PANMAIL_HOME/gnupg/pubring.gpg"
        chmod 600 "$PANMAIL_HOME/gnupg/pubring.gpg"
    fi
    sed -i '/^no-sig-cache/d' "$PANMAIL_HOME/gnupg/gpg.conf"
    export_key "$fa" "$T/a.asc"
    expect_rc 0 "$2: enroll $A" pankey enroll "$A" --fingerprint "$fa" \
        --file "$T/a.asc"
    pankey show "$A" > "$T/show" || fail "pankey show $A failed"
    grep -qx "subkeys *$sa" "$T/show" ||
        { cat "$T/show" >&2; fail "$2: the record does not pin $sa alone"; }
    if [ "$2" = gpg ]; then
        if [ ! -s "$PANMAIL_HOME/gnupg/pubring.gpg" ] ||
            [ -e "$PANMAIL_HOME/gnupg/pubring.kbx" ]; then
            fail "gpg: the key did not go to the legacy pubring.gpg"
        fi
    fi
}

# graft_into KIND: the attack on the home's keyring; check that gpg now
# takes Mallory's subkey for one of Alice's.
graft_into() {
    if [ "$1" = gpg ]; then
        graft tail >> "$PANMAIL_HOME/gnupg/pubring.gpg" ||
            fail "grafting onto pubring.gpg failed"
    else
        graft full > "$T/grafted.gpg" || fail "making the grafted key failed"
        pmgpg --import-options restore --import "$T/grafted.gpg" \
            2>"$T/err" || { cat "$T/err" >&2; fail "importing the graft failed"; }
    fi
    pmgpg --with-colons --list-keys "$fa" > "$T/colons" 2>/dev/null
    awk -F: -v s="$sm" '$1 == "sub" { u = $12; v = $2 }
        $1 == "fpr" && $10 == s && u ~ /e/ && v != "i" { ok = 1 }
        END { exit !ok }' "$T/colons" ||
        { cat "$T/colons" >&2; fail "$1: gpg does not take the grafted subkey"; }
    pass "$1: gpg lists Mallory's subkey $sm as a valid subkey of $fa"
}

# send_and_check KIND WORD: pansend to Alice; the message decrypts with
# Alice's key and is encrypted to her pinned subkey only.
send_and_check() {
    old=$(mbox_size "$A")
    report_to "$A" "$2" | expect_rc 0 "$1: pansend to $A" pansend -t
    wait_for_mail "$A" "$old"
    last_message "$A" "$T/msg"
    decrypt_pgpmime "$T/msg" "$(secret_home "$fa")" "$T/plain"
    grep -q "$2" "$T/plain" || fail "$1: the decrypted message lacks its body"
    gpg --list-packets "$T/pgpmime.asc" 2>/dev/null |
        sed -n 's/^:pubkey enc packet:.* keyid \([0-9A-F]*\).*/\1/p' > "$T/keyids"
    [ "$(cat "$T/keyids")" = "$(printf '%s\n' "$sa" | cut -c25-40)" ] ||
        { cat "$T/keyids" >&2; fail "$1: encrypted to other keys than $sa"; }
    if gpg --homedir "$(secret_home "$fm")" --batch --no-tty --quiet \
        --decrypt "$T/pgpmime.asc" >/dev/null 2>&1; then
        fail "$1: Mallory's key decrypts the message"
    fi
    pass "$1: delivered to $sa only; Alice decrypts it, Mallory cannot"
}

# check_critical KIND: pankey check reports the grafted subkey.
check_critical() {
    expect_rc 2 "$1: pankey check" pankey check
    grep -q "^CRITICAL $A key $fa has subkey $sm .*registry does not pin" \
        "$T/out" || { cat "$T/out" >&2; fail "$1: check names no unpinned subkey"; }
    head -n 1 "$T/out" | grep -q "1 with a subkey not pinned ($A) |.* unpinned=1 " ||
        { head -n 1 "$T/out" >&2; fail "$1: status line"; }
}

for kind in kbx gpg; do
    setup_home "$T/home-$kind" "$kind"
    graft_into "$kind"
    send_and_check "$kind" "$(new_marker)"
    check_critical "$kind"
    # A refresh from the tampered keyring checks the bindings again,
    # without the cache: the grafted subkey is not pinned.
    pmgpg --export "$fa" > "$T/update.gpg"
    expect_rc 0 "$kind: refresh from the home's keyring" \
        pankey refresh "$A" --file "$T/update.gpg"
    pankey show "$A" > "$T/show"
    grep -qx "subkeys *$sa" "$T/show" ||
        { cat "$T/show" >&2; fail "$kind: refresh pinned the grafted subkey"; }
    check_critical "$kind after refresh"
    audit_intact || fail "$kind: audit log"
done

# ------------------------------------------------------------------ old records

# A registry from before subkeys were pinned (the lines removed, the
# change accepted as a restore): pansend refuses with 78 and says to
# refresh; pankey check says no-pins; a refresh pins the subkey again.
sed -i -e '/^subkeys /d' -e '/^subkey-expiry /d' "$PANMAIL_HOME/registry"
expect_rc 0 "registry-accept of an old registry" \
    pankey registry-accept --note "restored from a backup of 0.1"
old=$(mbox_size "$A")
report_to "$A" "old" | expect_rc 78 "pansend with an old record" pansend -t
grep -q "pins no encryption subkey of key $fa for $A.*pankey refresh $A" \
    "$T/err" || { cat "$T/err" >&2; fail "the refusal does not say to refresh"; }
expect_rc 2 "pankey check with an old record" pankey check
grep -q "^CRITICAL $A key $fa has no encryption subkey pinned" "$T/out" ||
    { cat "$T/out" >&2; fail "check does not report the missing pins"; }
kgpg --export "$fa" > "$T/update.gpg"
expect_rc 0 "refresh of the old record" pankey refresh "$A" --file "$T/update.gpg"
pankey show "$A" | grep -qx "subkeys *$sa" || fail "refresh did not pin $sa"
assert_no_new_mail "an old record" "$A" "$old"
audit_intact || fail "audit log"
pass "an old record is refused until it is refreshed"
