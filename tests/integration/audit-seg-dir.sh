#!/bin/sh
# audit-seg-dir.sh - panaudit prune refuses inside the retention period;
# panaudit verify --dir: the segments of a log copied
# to another directory, owned by another user who has no panmail home,
# verify there with the initial key and an anchor; a copy with a segment
# missing, a record edited or its newest records cut off does not.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

need_tools
PANAUDIT=$top_builddir/cmd/panaudit
H=$PANMAIL_HOME
[ "$(id -u)" -eq 0 ] || fail "needs root (to run as another user)"
id nobody >/dev/null 2>&1 || fail "no user nobody"

init_home
for i in 1 2 3; do
    "$PANAUDIT" note "$TAG dir $i a"
    "$PANAUDIT" rotate >/dev/null
    "$PANAUDIT" note "$TAG dir $i b"
done
anchor=$("$PANAUDIT" anchor)
expect_rc 2 "prune inside the retention period" "$PANAUDIT" prune
grep -q 'retention' "$T/err" || { cat "$T/err" >&2; fail "prune refused without saying why"; }
[ "$(find "$H" -maxdepth 1 -name 'audit-*.log' | wc -l)" -eq 3 ] ||
    fail "a refused prune removed a segment"
[ ! -e "$H/audit.checkpoint" ] || fail "a refused prune left a checkpoint"
n=$("$PANAUDIT" log --json | wc -l)

# The copy: another directory, owned by nobody, without audit.key.
D=$(mktemp -d /tmp/panmail-verify-dir.XXXXXX)
# seg_exit: remove the copy, then lib.sh's cleanup with the exit status
# (which a trap of its own would replace: the agents, the check of the
# log, $T).
seg_exit() {
    sd_rc=$?
    rm -rf "$D"
    (exit "$sd_rc")
    lib_cleanup
}
trap seg_exit EXIT
cp "$H"/audit-*.log "$H/audit.log" "$D/"
cp "$T/audit.key" "$D/initial.key"
chown -R nobody "$D"
chmod 700 "$D"
[ ! -e "$D/audit.key" ] || fail "the copy holds audit.key"

# as_nobody CMD...: run CMD as nobody, with no panmail home.
as_nobody() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env -u PANMAIL_HOME HOME=/nonexistent "$@"
}

expect_rc 0 "verify --dir as nobody, with key and anchor" \
    as_nobody "$PANAUDIT" verify --dir "$D" --key "$D/initial.key" --anchor "$anchor"
grep -q "intact: $n records" "$T/out" || { cat "$T/out" >&2; fail "not $n records"; }
grep -q 'and every MAC checked' "$T/out" || fail "MACs not checked"
expect_rc 0 "verify --dir with the key on stdin" \
    as_nobody "$PANAUDIT" verify --dir "$D" --key - < "$D/initial.key"

set -- "$D"/audit-*.log
seg1=$1 seg2=$2
mv "$seg2" "$D/saved"
expect_rc 1 "verify --dir without a middle segment" \
    as_nobody "$PANAUDIT" verify --dir "$D"
grep -q 'deleted' "$T/err" || { cat "$T/err" >&2; fail "missing segment not reported deleted"; }
mv "$D/saved" "$seg2"

cp "$D/audit.log" "$D/saved"
sed -i -e "\$d" "$D/audit.log"
expect_rc 0 "a copy cut at its end looks whole without an anchor" \
    as_nobody "$PANAUDIT" verify --dir "$D"
expect_rc 1 "a copy cut at its end, with the anchor" \
    as_nobody "$PANAUDIT" verify --dir "$D" --anchor "$anchor"
grep -q 'truncated' "$T/err" || { cat "$T/err" >&2; fail "cut copy not reported truncated"; }
cp "$D/saved" "$D/audit.log"

chmod u+w "$seg1"
grep -q ' dir 1 a"' "$seg1" || fail "the first segment lacks the first note"
sed -i -e 's/ dir 1 a"/ dir 1 A"/' "$seg1"
expect_rc 1 "a record edited in a copied segment, with the key" \
    as_nobody "$PANAUDIT" verify --dir "$D" --key "$D/initial.key"
grep -q "$(basename "$seg1") line [0-9]" "$T/err" || { cat "$T/err" >&2; fail "the edited segment is not named"; }

# Compressed segments (rotate --compress): prune reads their last
# records and still refuses; a copy of them verifies as nobody.
"$PANAUDIT" rotate --compress >/dev/null
[ -z "$(find "$H" -maxdepth 1 -name 'audit-*.log')" ] || fail "rotate --compress left a segment uncompressed"
[ "$(find "$H" -maxdepth 1 -name 'audit-*.log.gz' | wc -l)" -eq 4 ] || fail "not 4 compressed segments"
expect_rc 2 "prune inside the retention period, segments compressed" "$PANAUDIT" prune
grep -q 'retention' "$T/err" || { cat "$T/err" >&2; fail "prune refused without saying why"; }
anchor=$("$PANAUDIT" anchor)
rm -f "$D"/audit-*.log "$D/audit.log"
cp "$H"/audit-*.log.gz "$H/audit.log" "$D/"
chown -R nobody "$D"
expect_rc 0 "verify --dir of compressed segments as nobody, with key and anchor" \
    as_nobody "$PANAUDIT" verify --dir "$D" --key "$D/initial.key" --anchor "$anchor"
pass "compressed segments: prune refuses inside the retention, verify --dir reads them"

# Signed anchors: anchor --sign with an operator key of the operator's
# own GnuPG home; verify checks it against the operator keys the home
# pins, verify --dir against the operator's public key file.
fop=$(kgpg --status-fd 1 --quick-gen-key "Operator <${TAG}anchor-op@example.test>" \
        ed25519 sign 1y | awk '$2 == "KEY_CREATED" { print $4 }')
fx=$(kgpg --status-fd 1 --quick-gen-key "Other <${TAG}anchor-x@example.test>" \
        ed25519 sign 1y | awk '$2 == "KEY_CREATED" { print $4 }')
{ [ -n "$fop" ] && [ -n "$fx" ]; } || fail "cannot make the operator keys"
export_keys "$T/op.asc" "$fop"
export_keys "$T/x.asc" "$fx"
GNUPGHOME=$KEYS "$PANAUDIT" anchor --sign "$fop" > "$T/anchor.asc" ||
    fail "anchor --sign failed"
GNUPGHOME=$KEYS "$PANAUDIT" anchor --sign "$fx" > "$T/anchor-x.asc" ||
    fail "anchor --sign with the other key failed"
grep -q '^-----BEGIN PGP SIGNED MESSAGE-----$' "$T/anchor.asc" || fail "the anchor is not clearsigned"
grep -qx "$anchor" "$T/anchor.asc" || fail "the signed anchor is not the anchor"
sed -e 's/^\(panmail-anchor 1 seq=\)\([0-9]\)/\1\29/' "$T/anchor.asc" > "$T/anchor-bad.asc"
expect_rc 2 "a signed anchor while the home pins no operator key" \
    "$PANAUDIT" verify --anchor "$T/anchor.asc"
grep -q 'pins no operator key' "$T/err" || { cat "$T/err" >&2; fail "no word of the missing operator key"; }
expect_rc 0 "pankey operator-key add" \
    "$PANKEY" operator-key add --fingerprint "$fop" --file "$T/op.asc"
expect_rc 0 "verify with the signed anchor, the operator key pinned" \
    "$PANAUDIT" verify --key "$T/audit.key" --anchor "$T/anchor.asc" --require-signed
grep -q "signed by operator key $fop" "$T/err" || { cat "$T/err" >&2; fail "the signer is not named"; }
expect_rc 2 "an unsigned anchor with --require-signed" \
    "$PANAUDIT" verify --anchor "$anchor" --require-signed
expect_rc 2 "an anchor signed by a key that is not an operator key" \
    "$PANAUDIT" verify --anchor "$T/anchor-x.asc"
grep -q "the anchor is signed by key $fx, which is not an operator key" "$T/err" ||
    { cat "$T/err" >&2; fail "the unpinned signer of the anchor is not said"; }
expect_rc 2 "a signed anchor whose line was changed" \
    "$PANAUDIT" verify --anchor "$T/anchor-bad.asc"
grep -q "the anchor's signature by key .* is bad" "$T/err" ||
    { cat "$T/err" >&2; fail "the changed anchor is not said to be badly signed"; }
cp "$T/anchor.asc" "$T/anchor-x.asc" "$T/op.asc" "$D/"
chown -R nobody "$D"
expect_rc 0 "verify --dir as nobody with the signed anchor and the operator's key file" \
    as_nobody env TMPDIR=/tmp "$PANAUDIT" verify --dir "$D" --key "$D/initial.key" \
    --anchor "$D/anchor.asc" --operator-key "$D/op.asc" --require-signed
expect_rc 2 "verify --dir with an anchor signed by another key" \
    as_nobody env TMPDIR=/tmp "$PANAUDIT" verify --dir "$D" \
    --anchor "$D/anchor-x.asc" --operator-key "$D/op.asc"
expect_rc 2 "verify --dir with a signed anchor and no operator key file" \
    as_nobody env TMPDIR=/tmp "$PANAUDIT" verify --dir "$D" --anchor "$D/anchor.asc"
pass "signed anchors: checked against the pinned operator keys or a key file; unsigned or wrongly signed ones refused"
