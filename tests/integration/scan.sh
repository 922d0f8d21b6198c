#!/bin/sh
# scan.sh - "panaudit scan" finds planted card numbers in a tree of plain
# files, CSV, an mbox (base64 attachment, a quoted-printable soft line
# break inside a PAN), a Maildir and a binary file, each masked with its
# path and line (and a part's type and transfer encoding); it honours
# --exclude and --skip-binary, follows no symbolic link inside the tree,
# skips FIFOs, exits 0 on a clean tree, 1 when it finds PANs and 2 when a
# path cannot be read; one thread and several give the same output; the
# JSON lines carry "v", a keyed hash and a masked context, and are valid
# UTF-8 even for file names that are not; an allow list built from a
# JSON report makes the same scan exit 0 with the hits counted as
# allowed; no output ever holds a planted PAN unmasked, not even a file
# named after one.
. "${top_srcdir:-.}/tests/integration/lib.sh"
need_tools

# Every planted PAN, as digits (each is also checked with its separators
# removed from the output).
PANS="4111111111111111 5500000000000004 4012888888881881 3530111333300000
6011111111111117 378282246310005 30569309025904 5105105105105100
4222222222222 4000056655665556 5555555555554444 4242424242424242
2223003122003222"

# scan ARGS...: panaudit scan without progress, output in $T/out and
# $T/err, exit status in $rc, everything also kept in $T/all.
scan() {
    run_rc "$T/out" "$T/err" "$PANAUDIT" scan --no-progress "$@"
    cat "$T/out" "$T/err" >> "$T/all"
}

# want_rc N WHAT: the last scan exited N.
want_rc() {
    [ "$rc" = "$1" ] || {
        cat "$T/out" "$T/err" >&2
        fail "$2: exit $rc, expected $1"
    }
}

cd "$T"
mkdir -p tree/mail tree/Maildir/cur tree/Maildir/new tree/Maildir/tmp \
    tree/excluded tree/sub tree/clean

# ------------------------------------------------------------ the tree
printf 'meeting notes\nnothing here\ncall back re card 4111 1111 1111 1111 today\n' \
    > tree/notes.txt
printf 'id,name,card,amount\n1,Ann,5500-0000-0000-0004,10.00\n2,Bob,n/a,5.00\n3,Cy,4012888888881881,7.50\n' \
    > tree/orders.csv

# big.log: a PAN across the first 64 KiB read (bytes 65530-65548, line
# 656), and one far after it (line 957).
awk 'BEGIN {
    s = sprintf("%99s", ""); gsub(/ /, "x", s)
    for (i = 1; i <= 655; i++) print s
    printf "pay%27s3530 1113 3330 0000 done\n", ""
    for (i = 1; i <= 300; i++) print "filler line without numbers"
    print "later 6011 1111 1111 1117"
}' > tree/big.log
[ "$(head -c 65549 tree/big.log | tail -c 19)" = "3530 1113 3330 0000" ] ||
    fail "big.log does not put the PAN across the 64 KiB boundary"

qp_b64=$(printf 'id,card\n1,30569309025904\n' | base64)
cat > tree/mail/inbox <<EOF
From alice@example.test Mon Nov 24 10:00:00 2026
From: alice@example.test
Subject: first

card 378282246310005 on file

From bob@example.test Mon Nov 24 11:00:00 2026
From: bob@example.test
Subject: second
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XyZ"

--XyZ
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

the card is 6011 1111 11=
11 1117 thanks
--XyZ
Content-Type: text/csv
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="cards.csv"

$qp_b64
--XyZ--

EOF
# The Discover PAN of big.log is reused above on purpose: it must be
# found in both places.

printf 'From: carol@example.test\nSubject: note\n\nplease charge 5105105105105100\n' \
    > 'tree/Maildir/cur/1700000000.1.host:2,S'
printf 'From: dave@example.test\nSubject: =?UTF-8?Q?card_4222222222222?=\n\nhello\n' \
    > tree/Maildir/new/1700000001.2.host
printf 'BIN\000\001\002 4000056655665556 \000\377' > tree/blob.bin
printf 'secret 5555555555554444\n' > tree/excluded/secret.txt
printf 'outside 4242424242424242\n' > outside.txt
ln -s .. tree/sub/loop
ln -s "$T/outside.txt" tree/sub/outside
mkfifo tree/sub/fifo
printf 'ref 2223003122003222\n' > tree/4111111111111111.txt
printf 'order 2026-11-24 12:00:00, tel +44 20 7946 0958, qty 12\n' \
    > tree/clean/ok.txt

cat > "$T/expected" <<'EOF'
tree/411111******1111.txt:1: 222300******3222 Mastercard
tree/Maildir/cur/1700000000.1.host:2,S:1: 510510******5100 Mastercard (part 0 text/plain 7bit)
tree/Maildir/new/1700000001.2.host:1: 422222***2222 Visa (part 0 header Subject)
tree/big.log:656: 353011******0000 JCB
tree/big.log:957: 601111******1117 Discover
tree/blob.bin:1: 400005******5556 Visa
tree/mail/inbox:1: 378282*****0005 American Express (message 1, part 0 text/plain 7bit)
tree/mail/inbox:7: 601111******1117 Discover (message 2, part 1 text/plain quoted-printable)
tree/mail/inbox:7: 305693****5904 Diners Club (message 2, part 2 text/csv base64)
tree/notes.txt:3: 411111******1111 Visa
tree/orders.csv:2: 550000******0004 Mastercard
tree/orders.csv:4: 401288******1881 Visa
EOF

# ------------------------------------------------------------ the scans
scan --exclude excluded tree
want_rc 1 "scan of a tree with PANs"
diff -u "$T/expected" "$T/out" || fail "scan did not list the planted PANs"
grep -qx 'panaudit: 12 PANs in 8 files; 9 files scanned, 4 skipped' \
    "$T/err" || { cat "$T/err" >&2; fail "wrong summary"; }
pass "12 planted PANs found, masked, with path and line; exit 1"
pass "mbox: 2 messages, base64 attachment, QP soft break inside a PAN"
pass "a part's type and transfer encoding are shown"
pass "a PAN across the 64 KiB read boundary has the right line"
pass "symbolic links inside the tree (a loop, a file outside) not followed"
pass "FIFO skipped, excluded directory not scanned"

scan --exclude excluded --skip-binary tree
want_rc 1 "scan --skip-binary"
grep -v blob.bin "$T/expected" | diff -u - "$T/out" ||
    fail "--skip-binary: wrong hits"
grep -q '11 PANs in 7 files; 8 files scanned, 5 skipped' "$T/err" ||
    { cat "$T/err" >&2; fail "--skip-binary: wrong summary"; }
pass "--skip-binary skips the binary file"

scan --exclude '*.log' --exclude 'tree/Maildir' --exclude excluded tree
want_rc 1 "scan with glob excludes"
grep -Ev 'big.log|Maildir' "$T/expected" | diff -u - "$T/out" ||
    fail "--exclude with globs: wrong hits"
pass "--exclude matches names and whole paths"

scan tree/sub tree/excluded
want_rc 1 "scan of two paths"
[ "$(cat "$T/out")" = "tree/excluded/secret.txt:1: 555555******4444 Mastercard" ] ||
    { cat "$T/out" >&2; fail "scan of two paths: wrong hits"; }
pass "several paths; nothing followed from sub/"

scan tree/sub/outside
want_rc 1 "a symbolic link named on the command line"
grep -q '^tree/sub/outside:1: 424242\*\*\*\*\*\*4242 Visa$' "$T/out" ||
    fail "a symbolic link given as PATH is not followed"
pass "a symbolic link given on the command line is followed"

# ------------------------------------------------------------ threads
for jobs in 1 2 5; do
    scan --jobs $jobs --exclude excluded tree
    want_rc 1 "scan --jobs $jobs"
    diff -u "$T/expected" "$T/out" || fail "--jobs $jobs: other hits"
    grep -qx 'panaudit: 12 PANs in 8 files; 9 files scanned, 4 skipped' \
        "$T/err" || { cat "$T/err" >&2; fail "--jobs $jobs: wrong summary"; }
done
scan --jobs 3 --json --exclude excluded tree
cp "$T/out" "$T/json-3"
scan --jobs 1 --json --exclude excluded tree
cmp -s "$T/out" "$T/json-3" || fail "--json: --jobs 3 and --jobs 1 differ"
pass "one thread or several: the same hits, files and summary, in order"

# A slow file first, then one with more hits than the threads keep in
# memory (they wait for their turn) and more files than they take ahead
# (the walk waits): still the same output.
mkdir -p pool
awk 'BEGIN { for (i = 0; i < 100000; i++)
        print "a line of text with no digits at all, long enough to read" }' \
    > pool/a-slow.txt
awk 'BEGIN { for (i = 0; i < 20000; i++) print "card 4111 1111 1111 1111" }' \
    > pool/b-hits.txt
i=0
while [ $i -lt 80 ]; do
    printf 'ref %d 5555555555554444\n' $i > "pool/c$i.txt"
    i=$((i + 1))
done
scan --jobs 1 pool
cp "$T/out" "$T/pool-1"
scan --jobs 3 pool
want_rc 1 "scan --jobs 3 of the pool tree"
cmp -s "$T/out" "$T/pool-1" || fail "--jobs 3: the pool tree gives other output"
grep -qx 'panaudit: 20080 PANs in 81 files; 82 files scanned, 0 skipped' \
    "$T/err" || { cat "$T/err" >&2; fail "--jobs 3: wrong summary"; }
pass "many hits and many files behind a slow one: same output, in order"
for bad in 0 65 x ''; do
    scan --jobs "$bad" tree/clean
    want_rc 2 "--jobs '$bad'"
done
pass "--jobs refuses what is not 1 to 64"

# ------------------------------------------------------------ JSON
scan --json --exclude excluded tree
want_rc 1 "scan --json"
jq -e -s 'length == 12' "$T/out" >/dev/null || fail "--json: not 12 objects"
jq -e -s '[.[] | select(.path == "tree/mail/inbox" and .message == 2
             and .part == 1 and .content_type == "text/plain"
             and .encoding == "quoted-printable"
             and .masked == "601111******1117" and .line == 7
             and .brand == "Discover" and .hash == null)] | length == 1' \
    "$T/out" >/dev/null || fail "--json: the QP hit is not described"
jq -e -s '[.[] | select(.path == "tree/notes.txt")][0]
          | .line == 3 and .message == null and .part == null
            and .encoding == null
            and .context == "ll back re card 4111 11** **** 1111 today"' \
    "$T/out" >/dev/null || fail "--json: the plain hit is not described"
jq -e -s 'all(.[]; .v == 1 and .allowed == false and .comment == null
              and (.context | type) == "string")' "$T/out" >/dev/null ||
    fail "--json: no schema version, context or allowed"
pass "--json: one object per hit, \"v\": 1, masked context, transfer encoding"

# A file name that is not UTF-8 is still valid JSON: bytes replaced by
# U+FFFD, the name's bytes in path_hex.
mkdir -p tree8
printf 'ref 4111111111111111\n' > "tree8/bad$(printf '\377')name.txt"
scan --json tree8
want_rc 1 "scan --json of a file name that is not UTF-8"
iconv -f UTF-8 -t UTF-8 "$T/out" >/dev/null ||
    fail "--json: the output is not valid UTF-8"
jq -e '.path == "tree8/bad\ufffdname.txt"
       and .path_hex == "74726565382f626164ff6e616d652e747874"' \
    "$T/out" >/dev/null || { cat "$T/out" >&2; fail "--json: wrong path"; }
pass "--json: a file name that is not UTF-8 gives U+FFFD and path_hex"

# ------------------------------------------------------------ clean, errors
scan tree/clean
want_rc 0 "clean tree"
[ ! -s "$T/out" ] || fail "clean tree: output"
grep -q '0 PANs in 0 files; 1 file scanned, 0 skipped' "$T/err" ||
    fail "clean tree: wrong summary"
pass "clean tree: exit 0"

scan tree/sub/fifo
want_rc 0 "a FIFO named on the command line"
grep -q 'skipped' "$T/err" || fail "the FIFO is not reported as skipped"
pass "a FIFO is skipped, not read"

scan tree/clean "$T/no-such-dir"
want_rc 2 "a path that does not exist"
grep -q 'no-such-dir: cannot stat' "$T/err" ||
    fail "the missing path is not named"
grep -q '1 unreadable' "$T/err" || fail "the summary does not count it"
scan tree/notes.txt "$T/no-such-dir"
want_rc 2 "PANs and a missing path"
grep -q 'notes.txt:3:' "$T/out" || fail "PANs are not listed with an error"
pass "a path that cannot be read: exit 2, even with PANs found"

run_rc "$T/out" "$T/err" "$PANAUDIT" scan
[ "$rc" = 2 ] || fail "scan without PATH: exit $rc"
pass "scan without PATH: usage error"

scan --allow /dev/null tree/clean
want_rc 2 "--allow without a home"
grep -q 'needs the home' "$T/err" || fail "--allow without a home: no reason"
pass "--allow without a home is refused (the list holds keyed hashes)"

# ------------------------------------------------------------ with a home
init_home
scan --json --exclude excluded tree
want_rc 1 "scan --json with a home"
jq -e -s 'length == 12 and all(.[]; .hash | test("^[0-9a-f]{64}$"))' \
    "$T/out" >/dev/null || fail "--json with a home: no keyed hashes"
pass "with a home: hits carry the keyed hash"

# ------------------------------------------------------------ allow lists
# Build the list from the report, as the man page shows; allow all but
# the hits of notes.txt.
cp "$T/out" "$T/report.json"
jq -r 'select(.path != "tree/notes.txt")
       | "\(.hash) \(.path):\(.line): \(.context)"' "$T/report.json" \
    > "$T/allow"
printf '# checked by the test on %s\n' "$(date +%F)" >> "$T/allow"
scan --allow "$T/allow" --exclude excluded tree
want_rc 1 "scan with an allow list that leaves one hit"
[ "$(cat "$T/out")" = "tree/notes.txt:3: 411111******1111 Visa" ] ||
    { cat "$T/out" >&2; fail "--allow: wrong hits listed"; }
grep -qx 'panaudit: 1 PAN in 1 file, 11 allowed; 9 files scanned, 4 skipped' \
    "$T/err" || { cat "$T/err" >&2; fail "--allow: wrong summary"; }
jq -r '"\(.hash) \(.path): \(.context)"' "$T/report.json" > "$T/allow"
scan --allow "$T/allow" --exclude excluded tree
want_rc 0 "scan with an allow list from the report"
[ ! -s "$T/out" ] || fail "--allow: allowed hits listed as PANs"
want='panaudit: 0 PANs in 0 files, 12 allowed; 9 files scanned, 4 skipped'
grep -qx "$want" "$T/err" || { cat "$T/err" >&2; fail "--allow: wrong summary"; }
scan --json --jobs 2 --allow "$T/allow" --exclude excluded tree
want_rc 0 "scan --json with an allow list"
jq -e -s 'length == 12 and all(.[]; .allowed == true
                                 and (.comment | startswith("tree/")))' \
    "$T/out" >/dev/null || fail "--json: allowed hits not shown as such"
pass "--allow: a list built from --json exits 0, hits counted as allowed"

printf '%s test card 4111 1111 1111 1111\n' "$(head -c 64 "$T/allow")" \
    > "$T/allow-pan"
scan --allow "$T/allow-pan" tree/clean
want_rc 2 "an allow list with a card number"
grep -q 'line 1 holds a card number' "$T/err" ||
    { cat "$T/err" >&2; fail "--allow: the card number is not refused"; }
printf '4111111111111112 checked\n' > "$T/allow-digits"
scan --allow "$T/allow-digits" tree/clean
want_rc 2 "an allow list of digits"
grep -q 'line 1: not a keyed hash' "$T/err" ||
    { cat "$T/err" >&2; fail "--allow: digits taken for a hash"; }
head -c 64 "$T/allow" > "$T/allow-bare"
echo >> "$T/allow-bare"
scan --allow "$T/allow-bare" tree/clean
want_rc 2 "an allow list entry without a comment"
scan --allow "$T/no-such-list" tree/clean
want_rc 2 "a missing allow list"
pass "--allow refuses card numbers, digits, bare hashes, a missing list"

# ------------------------------------------------------------ no PAN shown
grep -q . "$T/all" || fail "no output collected"
for p in $PANS; do
    if grep -qF "$p" "$T/all" ||
        tr -d ' -' < "$T/all" | grep -qF "$p"; then
        fail "a planted PAN (${p%????????????}...) appears unmasked"
    fi
done
if grep -q "$(printf '\r')" "$T/all"; then
    fail "progress output on a stderr that is not a terminal"
fi
pass "no planted PAN in any output, no progress when not on a terminal"
