#!/bin/sh
# postfix-setup.sh - configure and start a local-only Postfix for the
# panmail integration tests.  Needs root.  Idempotent.  Does not need
# systemd or syslog.
#
# Mail to LOCALPART@example.test (any local part made of [a-z0-9._+=-],
# not starting with '.') is appended to one mbox file per address:
#     $PANMAIL_MAILDIR/example.test/LOCALPART
# (default PANMAIL_MAILDIR=/var/mail/vhosts).  Nothing leaves the machine:
# every other non-local destination bounces (default_transport = error),
# and the SMTP server listens on loopback only.
#
# Postfix logs to $PANMAIL_POSTFIX_LOG (default /var/log/postfix-panmail.log).
set -eu

VDOMAIN=example.test
VBASE=${PANMAIL_MAILDIR:-/var/mail/vhosts}
VMAP=/etc/postfix/panmail_vmailbox
LOGFILE=${PANMAIL_POSTFIX_LOG:-/var/log/postfix-panmail.log}
VUSER=vmail
DELIVER=/usr/local/libexec/panmail-test-mbox

say() { printf 'postfix-setup: %s\n' "$*"; }
die() { printf 'postfix-setup: error: %s\n' "$*" >&2; exit 1; }

PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH
[ "$(id -u)" -eq 0 ] || die "must run as root (it edits /etc/postfix and starts Postfix)"
command -v postconf >/dev/null 2>&1 ||
    die "postfix is not installed: run scripts/install-deps.sh first"
command -v flock >/dev/null 2>&1 ||
    die "flock (util-linux) is not installed: run scripts/install-deps.sh first"

# A static user that owns the mailboxes.
if ! getent group "$VUSER" >/dev/null 2>&1; then
    groupadd --system "$VUSER"
fi
if ! getent passwd "$VUSER" >/dev/null 2>&1; then
    useradd --system --gid "$VUSER" --home-dir "$VBASE" --no-create-home \
        --shell /usr/sbin/nologin "$VUSER"
fi

mkdir -p "$VBASE/$VDOMAIN"
chown "$VUSER:$VUSER" "$VBASE" "$VBASE/$VDOMAIN"
chmod 0755 "$VBASE"
chmod 0750 "$VBASE/$VDOMAIN"

# virtual(8) refuses regexp substitution in virtual_mailbox_maps, so
# example.test is a virtual mailbox domain whose transport is a pipe(8)
# into a small script that appends to $VBASE/example.test/LOCALPART under
# flock(1).  pipe(8) writes the mbox "From " line (F), quotes lines that
# start with "From " as ">From " (>), adds Delivered-To (D) and Return-Path
# (R), a blank line at the end (B), and folds the address to lower case
# (h, u).  The map only says which addresses exist: a local part may not
# contain '/' nor start with '.', so a mailbox never lands elsewhere.
cat > "$VMAP.tmp" <<'EOF'
# Managed by panmail scripts/postfix-setup.sh
/^[a-z0-9][-a-z0-9_.+=]*@example\.test$/	OK
EOF
mv "$VMAP.tmp" "$VMAP"

mkdir -p "${DELIVER%/*}"
cat > "$DELIVER.tmp" <<'EOF'
#!/bin/sh
# Managed by panmail scripts/postfix-setup.sh: append one message (stdin,
# already in mbox form) to the mbox of the local part given as $1.
set -eu
box=${1:-}
case $box in
    ''|.*|*/*) echo "panmail-test-mbox: bad mailbox name" >&2; exit 67 ;;
esac
umask 077
exec 9>>"@VBASE@/@VDOMAIN@/$box"
/usr/bin/flock -w 60 9 || exit 75
cat >&9 || exit 75
EOF
sed -i -e "s|@VBASE@|$VBASE|" -e "s|@VDOMAIN@|$VDOMAIN|" "$DELIVER.tmp"
chmod 0755 "$DELIVER.tmp"
mv "$DELIVER.tmp" "$DELIVER"

[ -s /etc/mailname ] || echo panmail.test > /etc/mailname

# Postfix in a container without syslog: log to a file via postlogd.
touch "$LOGFILE"

postconf -e \
    "compatibility_level = 3.6" \
    "myhostname = panmail.test" \
    "mydomain = panmail.test" \
    "myorigin = /etc/mailname" \
    "mydestination = panmail.test, localhost.localdomain, localhost" \
    "inet_interfaces = loopback-only" \
    "inet_protocols = ipv4" \
    "mynetworks = 127.0.0.0/8" \
    "relayhost =" \
    "default_transport = error:panmail test MTA delivers only to $VDOMAIN" \
    "relay_transport = error:panmail test MTA delivers only to $VDOMAIN" \
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
    "virtual_alias_maps =" \
    "virtual_mailbox_domains = $VDOMAIN" \
    "virtual_mailbox_maps = regexp:$VMAP" \
    "virtual_transport = panmailbox" \
    "panmailbox_destination_recipient_limit = 1" \
    "mailbox_size_limit = 0" \
    "message_size_limit = 52428800" \
    "maillog_file = $LOGFILE" \
    "queue_run_delay = 10s" \
    "minimal_backoff_time = 10s" \
    "maximal_backoff_time = 60s"

# shellcheck disable=SC2016
postconf -M "panmailbox/unix=panmailbox unix - n n - - pipe flags=DRFB>hu user=$VUSER argv=$DELIVER \${mailbox}"

# No chroot: Debian's init script normally copies files into the chroot,
# and it does not run here.
postconf -F '*/*/chroot = n'

# Keep the aliases database consistent with main.cf.
if [ -f /etc/aliases ]; then
    newaliases || die "newaliases failed; see $LOGFILE"
fi

postfix check || die "postfix check failed; see the messages above and $LOGFILE"

if postfix status >/dev/null 2>&1; then
    postfix reload >/dev/null 2>&1 || die "postfix reload failed; see $LOGFILE"
    say "Postfix reloaded"
else
    # A stale pid file from an earlier boot stops 'postfix start'.
    pidfile=/var/spool/postfix/pid/master.pid
    if [ -f "$pidfile" ]; then
        pid=$(tr -dc 0-9 < "$pidfile" || true)
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
        fi
    fi
    postfix start >/dev/null 2>&1 || {
        tail -n 20 "$LOGFILE" >&2 || true
        die "postfix start failed; see $LOGFILE"
    }
    # Wait until the master answers.
    i=0
    until postfix status >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le 50 ] || die "postfix did not come up; see $LOGFILE"
        sleep 0.1
    done
    say "Postfix started"
fi

say "mail for LOCALPART@$VDOMAIN is appended to the mbox $VBASE/$VDOMAIN/LOCALPART"
say "Postfix log: $LOGFILE"
