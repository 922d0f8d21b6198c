#!/bin/sh
# tests/install.sh - what "make install" put in place: the tools, the
# library with only pan_ symbols exported, the header, the man pages and
# panmail.pc; a program built with pkg-config links and runs.
#
#   tests/install.sh BUILDDIR         make install DESTDIR=(scratch) in
#                                     BUILDDIR, then check it
#   tests/install.sh --installed ROOT check what is installed under the
#                                     prefix ROOT (make installcheck, so
#                                     make distcheck runs it; and the
#                                     Debian packages' test, with /usr)
set -eu
dest=$(mktemp -d); trap 'rm -rf "$dest"' EXIT
if [ "${1:-}" = --installed ]; then
    root=$2 sysroot=
else
    build=$1
    make -C "$build" install DESTDIR="$dest" >/dev/null
    prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
    root=$dest$prefix sysroot=$dest
fi
# (A Debian package keeps the man pages gzipped and the library and
# panmail.pc in the multiarch directory, lib/TRIPLET/.)
for f in bin/pansend bin/panmailx sbin/pankey include/panmail.h \
         share/man/man1/pansend.1 share/man/man1/panmailx.1 share/man/man8/pankey.8 \
         share/man/man5/panmail.conf.5 share/man/man3/libpanmail.3; do
    [ -e "$root/$f" ] || [ -e "$root/$f.gz" ] || { echo "missing $f"; exit 1; }
done
for lib in "$root"/lib/libpanmail.so.*.*.* "$root"/lib/*/libpanmail.so.*.*.*; do
    [ -f "$lib" ] && break
done
[ -f "$lib" ] || { echo "missing lib/libpanmail.so.X.Y.Z"; exit 1; }
libdir=$(dirname "$lib")
[ -e "$libdir/pkgconfig/panmail.pc" ] || { echo "missing $libdir/pkgconfig/panmail.pc"; exit 1; }
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^pan_' || true)
[ -z "$bad" ] || { echo "exported symbols outside pan_: $bad"; exit 1; }
cat >"$dest/client.c" <<'C'
#include <stdio.h>
#include <panmail.h>
int main (void) { if (pan_init ()) return 1; puts (pan_version ()); return 0; }
C
flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$sysroot \
    pkg-config --cflags --libs panmail)
# shellcheck disable=SC2086  # the flags are words
cc -o "$dest/client" "$dest/client.c" $flags
LD_LIBRARY_PATH=$libdir "$dest/client"
echo "install ok"
