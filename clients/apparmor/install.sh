#!/bin/sh
# Lets zonebox's sandbox helper create user namespaces on systems where AppArmor restricts
# them (Ubuntu 23.10 and later: kernel.apparmor_restrict_unprivileged_userns=1). It writes an
# AppArmor profile for the exact path of zonebox-sandbox and loads it.
#
#   sudo clients/apparmor/install.sh [PATH/TO/zonebox-sandbox]
#   clients/apparmor/install.sh --check     # exit 0 if nothing is needed, 1 if it is
#   clients/apparmor/install.sh --print [PATH]   # print the profile, change nothing
#
# The profile grants `userns` to that one program and nothing else; what it runs is confined
# by the sandbox itself (namespaces, seccomp, no capabilities).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
sysctl_file=${ZB_APPARMOR_SYSCTL:-/proc/sys/kernel/apparmor_restrict_unprivileged_userns}
profile_dir=${ZB_APPARMOR_DIR:-/etc/apparmor.d}
parser=${ZB_APPARMOR_PARSER:-apparmor_parser}

restricted() {
	[ -r "$sysctl_file" ] && [ "$(cat "$sysctl_file")" = 1 ]
}

find_helper() {
	if [ -n "${1:-}" ]; then
		echo "$1"
	elif [ -x "$top/build/zonebox-sandbox" ]; then
		echo "$top/build/zonebox-sandbox"
	elif command -v zonebox-sandbox >/dev/null 2>&1; then
		command -v zonebox-sandbox
	else
		echo "zonebox-sandbox not found: build zonebox first (./run) or give its path" >&2
		return 1
	fi
}

profile() {
	cat <<EOP
# Written by zonebox's clients/apparmor/install.sh for $1
abi <abi/4.0>,
include <tunables/global>

profile zonebox-sandbox $1 flags=(unconfined) {
  userns,

  include if exists <local/zonebox-sandbox>
}
EOP
}

case "${1:-}" in
--check)
	if restricted; then
		echo "AppArmor restricts unprivileged user namespaces here: run 'sudo $0'"
		exit 1
	fi
	echo "AppArmor does not restrict user namespaces here: nothing to install"
	exit 0
	;;
--print)
	helper=$(find_helper "${2:-}")
	profile "$(readlink -f "$helper")"
	exit 0
	;;
-h | --help)
	sed -n '2,12p' "$0"
	exit 0
	;;
esac

helper=$(find_helper "${1:-}")
helper=$(readlink -f "$helper")
[ -x "$helper" ] || { echo "$helper is not an executable" >&2; exit 1; }
case "$helper" in
*[!A-Za-z0-9_./+-]*)
	# AppArmor paths are globs; keep the profile exact and unsurprising.
	echo "the path $helper has characters an AppArmor profile would treat as a pattern;" \
		"install zonebox-sandbox under a plain path (e.g. /usr/local/bin)" >&2
	exit 1
	;;
esac
if [ "$(id -u)" -ne 0 ] && [ -z "${ZB_APPARMOR_DIR:-}" ]; then
	echo "loading an AppArmor profile needs root: sudo $0 $helper" >&2
	exit 1
fi
if ! command -v "$parser" >/dev/null 2>&1; then
	echo "apparmor_parser is missing: sudo apt-get install apparmor" >&2
	exit 1
fi
target="$profile_dir/zonebox-sandbox"
tmp="$target.tmp.$$"
profile "$helper" >"$tmp"
mv "$tmp" "$target"
"$parser" -r "$target"
echo "installed and loaded $target for $helper"
