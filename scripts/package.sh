#!/bin/sh
# package.sh - build the Debian packages of panmail from this tree, check
# them with lintian, then install them on this machine and send one
# message with the installed tools (tests/integration/package.sh).
#
#   scripts/package.sh [--build-only] [--tarball FILE] [OUTDIR]
#
# The tree (what git tracks, as it is in the work tree, or the whole
# tree without build directories when it is not a git checkout) is
# copied to a scratch directory and built there with
# "dpkg-buildpackage -us -uc -b", so the source tree stays clean; the
# .deb files, the .changes file, the build log and lintian.out end up
# in OUTDIR (default: _build-deb).  With --tarball, the source is the
# release tarball FILE ("make dist") instead: the package build is then
# a check of that tarball (scripts/test.sh).  Fails if lintian reports
# an error; prints its warnings.  With --build-only nothing is
# installed.
#
# The install test needs root and the test Postfix; it installs the
# packages into this machine's root (apt-get, so that dependencies come
# too), checks what the package made, sends, and purges the packages
# again (see tests/integration/package.sh).
#
# Environment: DEB_BUILD_OPTIONS (default "nocheck noautodbgsym
# parallel=2": the debug symbols packages are not needed; set it to
# "parallel=2" for a full build, which runs the unit tests);
# PANMAIL_CONFIGURE_FLAGS, configure options that debian/rules adds
# last (scripts/test.sh: "--enable-werror --enable-source-checks").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build_only='' tarball=''
while [ $# -gt 0 ]; do
    case $1 in
        --build-only) build_only=1; shift ;;
        --tarball) tarball=${2:?--tarball needs a file}; shift 2 ;;
        *) break ;;
    esac
done
case $tarball in /* | '') ;; *) tarball=$(pwd)/$tarball ;; esac
out=${1:-$top/_build-deb}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "package.sh: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

version=$(sed -n '1s/^panmail (\([^)]*\)).*/\1/p' "$top/debian/changelog")
[ -n "$version" ] || { echo "package.sh: no version in debian/changelog" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/panmail-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/panmail-$version
mkdir "$src"

# copy_tree: the source files into $src.
copy_tree() {
    if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        # (a file deleted but not yet committed is left out, quietly)
        (cd "$top" && git ls-files -z --cached --others --exclude-standard |
            tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
            tar -xf - -C "$src"
    else
        (cd "$top" && tar -cf - --exclude='./_build*' --exclude='./.git' .) |
            tar -xf - -C "$src"
    fi
}
# unpack_tarball: the release tarball's files into $src.
unpack_tarball() {
    [ -f "$tarball" ] || { echo "package.sh: no tarball $tarball" >&2; exit 1; }
    tar -xzf "$tarball" -C "$src" --strip-components=1
}
if [ -n "$tarball" ]; then unpack_tarball; else copy_tree; fi

t0=$(date +%s)
echo "package.sh: building panmail $version in $src"
if ! (cd "$src" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-"nocheck noautodbgsym parallel=2"} \
        dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    rm -rf "$out" && mkdir -p "$out" && cp "$work/build.log" "$out/"
    echo "package.sh: dpkg-buildpackage failed (the log: $out/build.log)" >&2
    exit 1
fi
echo "package.sh: built in $(($(date +%s) - t0)) s"

rm -rf "$out"
mkdir -p "$out"
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/build.log" "$out/"
changes=$(ls "$out"/*.changes)

t0=$(date +%s)
lintian --info --display-info --pedantic "$changes" >"$out/lintian.out" 2>&1 || true
echo "package.sh: lintian took $(($(date +%s) - t0)) s:"
sed 's/^/  /' "$out/lintian.out"
if grep -q '^E: ' "$out/lintian.out"; then
    echo "package.sh: lintian found errors" >&2
    exit 1
fi
ls -l "$out"/*.deb

[ -z "$build_only" ] || exit 0
PANMAIL_DEB_DIR=$out sh "$top/tests/integration/package.sh"
