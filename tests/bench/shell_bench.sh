#!/bin/sh
# shell.run of `true` end to end over MCP next to fork+exec, bwrap, unshare and docker exec
# (tests/bench/shell_bench.py), then the namespace backend's own table with the sandbox build
# cost (ns_bench), from the same build.
#
#   tests/bench/shell_bench.sh [BUILD_DIR] [--as-nobody]
#
# BUILD_DIR defaults to build/. --as-nobody (as root) runs both a second time as uid 65534,
# which takes the user-namespace path.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build"
nobody=0
for a in "$@"; do
	case "$a" in
	--as-nobody) nobody=1 ;;
	*) build=$(cd "$a" && pwd) ;;
	esac
done
export ZONEBOX_BIN="${ZONEBOX_BIN:-$build/zonebox}"
if [ ! -x "$ZONEBOX_BIN" ]; then
	echo "no zonebox at $ZONEBOX_BIN: build it first (meson setup build && ninja -C build)" >&2
	exit 1
fi

run() {
	"$@" /usr/bin/python3 "$top/tests/bench/shell_bench.py"
	if [ -x "$build/tests/ns_bench" ]; then
		echo
		echo "The namespace backend alone (no MCP), with the sandbox build cost:"
		echo
		"$@" "$build/tests/ns_bench" "${ZB_BENCH_N:-300}"
	fi
}

run env
if [ "$nobody" = 1 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
		echo "--as-nobody needs root and setpriv" >&2
		exit 1
	fi
	echo
	echo "As uid 65534 (user-namespace path):"
	echo
	run setpriv --reuid 65534 --regid 65534 --clear-groups env HOME=/tmp
fi
