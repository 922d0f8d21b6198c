# bench-lib.sh - sourced by the scripts/bench-*.sh benchmarks.
# shellcheck shell=sh

# unwrap_libtool PROG: set $unwrapped to the program that PROG runs.  In
# a build tree cmd/NAME is libtool's wrapper script, which costs more
# than the work being timed: take the program it wraps, with
# LD_LIBRARY_PATH exported to the library next to it.
# shellcheck disable=SC2034  # unwrapped is read by the caller
unwrap_libtool () {
    unwrapped=$1
    ul_real=$(dirname "$1")/.libs/$(basename "$1")
    ul_libs=$(dirname "$1")/../lib/.libs
    if [ -x "$ul_real" ] && [ -d "$ul_libs" ]; then
        LD_LIBRARY_PATH=$(cd "$ul_libs" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        export LD_LIBRARY_PATH
        unwrapped=$ul_real
    fi
}
