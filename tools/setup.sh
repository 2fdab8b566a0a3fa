# Shared by ./run and ./test: install what is missing, then configure and build.
# Sourced, not executed. Messages go to stderr: ./run's stdout is the MCP stream.

ZB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

zb_say() { printf 'zonebox: %s\n' "$*" >&2; }

# Debian packages the build needs; $ZB_EXTRA_PACKAGES adds the test suite's own.
zb_packages="gcc meson ninja-build pkg-config libjansson-dev libyaml-dev libseccomp-dev \
libuv1-dev libcmocka-dev"

zb_install() {
	local missing=()
	for p in $zb_packages ${ZB_EXTRA_PACKAGES:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		zb_say "missing Debian packages: ${missing[*]}"
		zb_say "install them with:  sudo apt-get install -y ${missing[*]}"
		return 1
	fi
	zb_say "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
		apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
	fi
}

# zb_build DIR [meson options...]
zb_build() {
	local dir=$1
	shift
	if [ ! -f "$ZB_TOP/$dir/build.ninja" ]; then
		meson setup "$ZB_TOP/$dir" "$ZB_TOP" "$@" >&2 || return 1
	fi
	ninja -C "$ZB_TOP/$dir" >&2
}
