#!/bin/sh
# install-deps.sh - install everything needed to build and test panmail
# on Debian 12 (bookworm).  Idempotent, needs root, never reads stdin.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --check  exit 0 if all is installed, 1 if not
#
# If every package is already installed, apt is not touched at all.
set -eu

# Build: compiler, autotools, libraries the library links.
# Run time: GnuPG (gpg, gpgsm, gpg-agent), a sendmail-compatible MTA.
# Tests: jq (JSON output), python3 (MIME parsing in the integration tests),
# util-linux (flock), procps, shellcheck (lint), clang + libclang-rt-dev
# (libFuzzer and sanitizers), clang-format-14 (tests/format-check.sh),
# libgmime-3.0-dev (the oracle of the differential address-list fuzz
# target, in fuzz/ only), openssl (test CA and S/MIME decryption in
# the S/MIME tests, scripts/make-test-ca.sh), perl-modules-5.36 (its
# Unicode::Collate tables are real data that tests/integration/
# scan-realdata.sh scans for false alarms).
# Package: debhelper, dpkg-dev, fakeroot and lintian build and check the
# Debian package (scripts/package.sh); bash-completion runs its bash
# completion in tests/integration/package.sh; man-db formats the man
# pages whose crontab lines tests/integration/check-cron.sh runs;
# logrotate runs the shipped contrib/logrotate snippet in
# tests/integration/audit-seg-rotate.sh.
PACKAGES="
build-essential
autoconf
automake
libtool
pkg-config
make
libgpgme-dev
libgpg-error-dev
libgcrypt20-dev
libassuan-dev
zlib1g-dev
gnupg
gpg
gpgsm
gpg-agent
postfix
jq
python3
util-linux
procps
clang
libclang-rt-dev
clang-format-14
libgmime-3.0-dev
shellcheck
openssl
perl-modules-5.36
debhelper
dpkg-dev
fakeroot
lintian
bash-completion
man-db
logrotate
"

missing_packages() {
    for p in $PACKAGES; do
        st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
        case $st in
            ii*) ;;
            *) printf '%s\n' "$p" ;;
        esac
    done
}

missing=$(missing_packages | tr '\n' ' ')
missing=${missing% }

if [ "${1:-}" = "--check" ]; then
    if [ -n "$missing" ]; then
        echo "missing packages: $missing"
        exit 1
    fi
    echo "all build and test dependencies are installed"
    exit 0
fi

if [ -z "$missing" ]; then
    echo "install-deps: all build and test dependencies are already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install: $missing" >&2
    echo "install-deps: run it as root (or with sudo)" >&2
    exit 1
fi

echo "install-deps: installing: $missing"

export DEBIAN_FRONTEND=noninteractive
export DEBCONF_NONINTERACTIVE_SEEN=true

# Postfix asks questions on install: answer them in advance.
debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Local only
postfix postfix/mailname string panmail.test
postfix postfix/destinations string panmail.test, localhost
postfix postfix/relayhost string
postfix postfix/protocols select ipv4
EOF
# /etc/mailname is read by the postfix postinst when it exists.
[ -s /etc/mailname ] || echo panmail.test > /etc/mailname

# Keep package scripts from starting services (no init system here, and
# scripts/postfix-setup.sh starts Postfix the way the tests want it).
# Only touch policy-rc.d if there is none, and remove only the one we made.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
fi
cleanup() {
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

apt_opts="-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

apt-get update -q </dev/null
# shellcheck disable=SC2086
apt-get install $apt_opts --no-install-recommends $missing </dev/null

still=$(missing_packages | tr '\n' ' ')
if [ -n "$still" ]; then
    echo "install-deps: still missing after apt-get install: $still" >&2
    exit 1
fi
echo "install-deps: done"
