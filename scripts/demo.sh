#!/bin/sh
# scripts/demo.sh - panmail's main job, end to end, on a throwaway home:
# install what is needed, build, start a local Postfix, enroll a demo
# recipient, send a sample cron report with test card numbers through
# pansend, and show what arrived (ciphertext) and what the recipient
# decrypts.  Run as root on Debian 12.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/_build

step () { printf '\n==> %s\n' "$*"; }

step "Installing what is needed and starting a local-only Postfix"
"$top/scripts/install-deps.sh" >/dev/null
"$top/scripts/postfix-setup.sh" >/dev/null

step "Building panmail"
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
mkdir -p "$build"
[ -f "$build/Makefile" ] || (cd "$build" && "$top/configure" >/dev/null)
make -C "$build" -j2 >/dev/null
PATH=$build/cmd:$PATH

demo=$(mktemp -d /tmp/panmail-demo.XXXXXX)
export PANMAIL_HOME="$demo/home"
partner="chargebacks-$(date +%s)@example.test"
mbox=/var/mail/vhosts/example.test/${partner%@*}
echo "throwaway home: $PANMAIL_HOME"

step "The partner makes a key pair on their side (here: $demo/partner)"
mkdir -m 700 "$demo/partner"
export GNUPGHOME="$demo/partner"
gpg --batch --quiet --passphrase '' --quick-gen-key \
    "Partner Chargebacks <$partner>" ed25519 cert,sign 1y 2>/dev/null
fpr=$(gpg --with-colons --list-keys "$partner" | awk -F: '/^fpr/ {print $10; exit}')
gpg --batch --quiet --passphrase '' --quick-add-key "$fpr" cv25519 encr 1y
gpg --armor --export "$fpr" >"$demo/partner.asc"
echo "fingerprint the partner reads out on the phone: $fpr"
unset GNUPGHOME

step "The operator creates the home and enrolls the partner's key"
pankey init
pankey enroll "$partner" --fingerprint "$fpr" --file "$demo/partner.asc" \
    --operator "Demo Operator"
pankey list

step "The nightly cron job mails its report through pansend"
cat >"$demo/report.sh" <<REPORT
#!/bin/sh
cat <<MAIL
From: Payments Ops <ops@example.test>
To: Partner Chargebacks <$partner>
Subject: Chargebacks $(date +%Y-%m-%d)
Content-Type: text/plain; charset=utf-8

Chargeback report (test card numbers only)

case   card                  amount   reason
C-101  4111 1111 1111 1111    12.50   fraud
C-102  5555-5555-5555-4444    99.00   not received
C-103  378282246310005       250.00   duplicate
MAIL
REPORT
echo "crontab: 0 6 * * * $demo/report.sh | pansend"
sh "$demo/report.sh" | pansend -v

step "What arrived in the partner's mailbox ($mbox): ciphertext only"
i=0
until [ -s "$mbox" ]; do
    i=$((i + 1)); [ $i -le 60 ] || { echo "no mail arrived"; exit 1; }
    sleep 1
done
sed -n '/^From: /,/^-----BEGIN PGP MESSAGE-----$/p' "$mbox"
echo "[...]"
grep -q '4111 1111' "$mbox" && { echo "PAN found in clear!"; exit 1; }

step "The partner decrypts it with their secret key"
sed -n '/^-----BEGIN PGP MESSAGE-----$/,/^-----END PGP MESSAGE-----$/p' "$mbox" |
    GNUPGHOME="$demo/partner" gpg --batch --quiet --decrypt 2>/dev/null | tr -d '\r'

step "The audit trail: what was sent where, with which key (no plaintext)"
panaudit log
panaudit verify

step "Done.  Remove the throwaway files with: rm -rf $demo $mbox"
