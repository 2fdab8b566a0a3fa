#!/usr/bin/env bash
# tests/bench/run.sh — install the reference server if it is missing, then run the core
# benchmark (zonebox next to @modelcontextprotocol/server-filesystem). Prints a Markdown table.
# ZONEBOX_BIN selects the binary (default: build/zonebox at the top of the repository).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ZONEBOX_BIN="$(realpath -m "${ZONEBOX_BIN:-$here/../../build/zonebox}")"
export ZONEBOX_BIN
if [[ ! -x "$ZONEBOX_BIN" ]]; then
	echo "bench: no zonebox binary at $ZONEBOX_BIN (build it, or set ZONEBOX_BIN)" >&2
	exit 1
fi

pkg="$here/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
if [[ ! -f $pkg ]]; then
	if command -v npm >/dev/null; then
		echo "bench: installing @modelcontextprotocol/server-filesystem into tests/bench/node_modules" >&2
		(cd "$here" && if [[ -f package-lock.json ]]; then
			npm ci --no-audit --no-fund --loglevel=error
		else
			npm install --no-audit --no-fund --loglevel=error
		fi) >/dev/null
	else
		echo "bench: npm not found; benchmarking zonebox alone" >&2
	fi
fi

exec /usr/bin/python3 "$here/core_bench.py" "$@"
