#!/bin/sh
# Every public function of panmail.h is documented in libpanmail.3, and
# the man page names no function that does not exist.
set -eu
: "${top_srcdir:=.}"
hdr=$top_srcdir/lib/panmail.h man=$top_srcdir/man/libpanmail.3
funcs=$(sed -n 's/^[a-z_ *]*[ *]\(pan_[a-z0-9_]*\) (.*/\1/p' "$hdr" | sort -u)
documented=$(sed -n 's/^\.Fn \(pan_[a-z0-9_]*\).*/\1/p' "$man" | sort -u)
status=0
for f in $funcs; do
    echo "$documented" | grep -qx "$f" || { echo "not in libpanmail.3: $f"; status=1; }
done
for f in $documented; do
    echo "$funcs" | grep -qx "$f" || { echo "in libpanmail.3 but not in panmail.h: $f"; status=1; }
done
[ $status = 0 ] && echo "$(echo "$funcs" | wc -l) functions documented"
exit $status
