#!/usr/bin/env bash
# tests/e2e/run.sh — end-to-end tests of zonebox with real MCP clients: the official
# TypeScript SDK and the MCP Inspector's CLI mode. Installs the pinned npm packages
# (quietly), then runs node's test runner; the exit code is the test result.
# ZONEBOX_BIN selects the binary (default: build/zonebox at the top of the repository).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZONEBOX_BIN="$(realpath -m "${ZONEBOX_BIN:-$here/../../build/zonebox}")"
export ZONEBOX_BIN
cd "$here"
if [[ ! -x "$ZONEBOX_BIN" ]]; then
	echo "e2e: no zonebox binary at $ZONEBOX_BIN (build it, or set ZONEBOX_BIN)" >&2
	exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "e2e: node and npm are needed (Node.js 20 or newer)" >&2
	exit 1
fi

# Install only when package.json or the lock changed since the last install.
stamp=node_modules/.zonebox-e2e-installed
if [[ ! -f $stamp || package.json -nt $stamp || ( -f package-lock.json && package-lock.json -nt $stamp ) ]]; then
	if [[ -f package-lock.json ]]; then
		npm ci --no-audit --no-fund --loglevel=error >/dev/null
	else
		npm install --no-audit --no-fund --loglevel=error >/dev/null
	fi
	touch "$stamp"
fi

reporter=()
[[ -t 1 ]] || reporter=(--test-reporter=spec)
exec node --test "${reporter[@]}" sdk.test.mjs inspector.test.mjs
