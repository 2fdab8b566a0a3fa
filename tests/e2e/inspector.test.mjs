// zonebox driven by the MCP Inspector's CLI mode (npx @modelcontextprotocol/inspector --cli),
// the tool people reach for first to poke at an MCP server.
//
// If the Inspector cannot run here (not installed, or it fails against a trivial server built
// with the SDK as well), every test is skipped with the reason; a failure that only happens
// with zonebox is a failure.
//
// ZONEBOX_BIN selects the binary (default: build/zonebox at the top of the repository).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ZONEBOX_BIN ? path.resolve(process.env.ZONEBOX_BIN)
	: path.resolve(HERE, '../../build/zonebox');
const INSPECTOR = '@modelcontextprotocol/inspector';

const TOOLS = ['shell.run', 'fs.read', 'fs.write', 'fs.edit', 'fs.list', 'fs.stat', 'fs.mkdir',
	'fs.move', 'fs.delete', 'fs.search', 'fs.zones'];

const CONFIG = `sandbox:
  backend: "null"
  zones:
    - {name: work, mode: tmpfs, size: 1M}
approval:
  default: allow
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zb-e2e-inspector-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const zbConfig = path.join(tmp, 'zonebox.yaml');
fs.writeFileSync(zbConfig, CONFIG);

/** Runs `npx --no -- @modelcontextprotocol/inspector --cli ARGS` (never downloads). */
function inspector(args, { timeout = 60000 } = {}) {
	return new Promise((resolve) => {
		execFile('npx', ['--no', '--', INSPECTOR, '--cli', ...args],
			{ cwd: HERE, timeout, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } },
			(err, stdout, stderr) => {
				const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
				resolve({ code, signal: err?.signal ?? null, stdout, stderr,
					timedOut: Boolean(err?.killed) });
			});
	});
}

/** The Inspector's CLI against zonebox, given on the command line after `--`.
 * `--` matters: without it the Inspector takes `--config` as its own servers file. Even after
 * `--`, its CLI stage parses the whole command line again, so server flags that share a name
 * with one of its own (`--log-level`, `--transport`, `--header`, `--method`, ...) never reach
 * the server: zonebox is started without them here. */
function onZonebox(zbArgs, method, methodArgs = []) {
	return inspector(['--', BIN, '--backend', 'null', '--config', zbConfig,
		...zbArgs, '--method', method, ...methodArgs]);
}

function json(r) {
	assert.equal(r.code, 0, `inspector exited ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
	try {
		return JSON.parse(r.stdout);
	} catch (e) {
		assert.fail(`inspector printed no JSON (${e.message}); stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
	}
}

/** Why the Inspector cannot be used here, or null when it can. Checked once. */
let usable;
function whyNotUsable() {
	usable ??= (async () => {
		let pkg;
		try {
			pkg = JSON.parse(fs.readFileSync(
				path.join(HERE, 'node_modules', INSPECTOR, 'package.json'), 'utf8'));
		} catch {
			return `${INSPECTOR} is not installed in tests/e2e (run tests/e2e/run.sh)`;
		}
		// A control server built with the SDK: if the Inspector fails against it too, the
		// Inspector itself does not run here.
		let sdk;
		try {
			sdk = (m) => import.meta.resolve(`@modelcontextprotocol/sdk/${m}`);
			sdk('types.js');
		} catch {
			return '@modelcontextprotocol/sdk is not installed in tests/e2e (run tests/e2e/run.sh)';
		}
		const control = path.join(tmp, 'control-server.mjs');
		fs.writeFileSync(control, `
import { Server } from ${JSON.stringify(sdk('server/index.js'))};
import { StdioServerTransport } from ${JSON.stringify(sdk('server/stdio.js'))};
import { ListToolsRequestSchema } from ${JSON.stringify(sdk('types.js'))};
const s = new Server({ name: 'control', version: '1.0.0' }, { capabilities: { tools: {} } });
s.setRequestHandler(ListToolsRequestSchema, async () =>
	({ tools: [{ name: 'noop', inputSchema: { type: 'object' } }] }));
await s.connect(new StdioServerTransport());
`);
		const r = await inspector(['--', process.execPath, control, '--method', 'tools/list']);
		let ok = false;
		try {
			ok = r.code === 0 && JSON.parse(r.stdout).tools[0].name === 'noop';
		} catch { /* not JSON */ }
		if (!ok) {
			const why = (r.stderr || r.stdout).trim().split('\n').slice(0, 5).join(' | ');
			return `the ${INSPECTOR}@${pkg.version} CLI does not run on node ${process.version} ` +
				`here (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${why}`;
		}
		return null;
	})();
	return usable;
}

/** A test that is skipped, with the reason, when the Inspector cannot run here. */
function itest(name, fn) {
	test(name, async (t) => {
		const why = await whyNotUsable();
		if (why) {
			t.skip(why);
			return;
		}
		assert.ok(fs.existsSync(BIN), `zonebox binary not found at ${BIN}; build it or set ZONEBOX_BIN`);
		await fn(t);
	});
}

itest('tools/list lists the 11 tools', async () => {
	const res = json(await onZonebox([], 'tools/list'));
	assert.deepEqual(res.tools.map((x) => x.name), TOOLS);
	for (const tool of res.tools) {
		assert.equal(tool.inputSchema.type, 'object', tool.name);
		assert.equal(tool.outputSchema.type, 'object', tool.name);
		assert.equal(typeof tool.annotations.readOnlyHint, 'boolean', tool.name);
	}
});

itest('tools/call shell.run with argv returns structured content', async () => {
	const res = json(await onZonebox([], 'tools/call',
		['--tool-name', 'shell.run', '--tool-arg', 'argv=["echo","hi"]']));
	assert.equal(res.isError, false);
	assert.equal(res.structuredContent.stdout, 'hi\n');
	assert.equal(res.structuredContent.exit_code, 0);
	assert.equal(res.structuredContent.timed_out, false);
	assert.deepEqual(JSON.parse(res.content[0].text.split('\n').at(-1)), res.structuredContent);
});

itest('tools/call shell.run with a command line and a numeric argument', async () => {
	const res = json(await onZonebox([], 'tools/call',
		['--tool-name', 'shell.run', '--tool-arg', 'command=echo from inspector', 'timeout_ms=5000']));
	assert.equal(res.isError, false);
	assert.equal(res.structuredContent.stdout, 'from inspector\n');
});

itest('a non-zero exit is a result, not an error', async () => {
	const res = json(await onZonebox([], 'tools/call',
		['--tool-name', 'shell.run', '--tool-arg', 'argv=["exit","3"]']));
	assert.equal(res.isError, false);
	assert.equal(res.structuredContent.exit_code, 3);
});

itest('an Inspector servers file (mcpServers) with --tool-names underscore', async () => {
	const servers = path.join(tmp, 'mcp.json');
	fs.writeFileSync(servers, JSON.stringify({ mcpServers: { zonebox: {
		command: BIN,
		args: ['--backend', 'null', '--config', zbConfig, '--tool-names', 'underscore'],
	} } }));
	const list = json(await inspector(['--config', servers, '--server', 'zonebox',
		'--method', 'tools/list']));
	assert.deepEqual(list.tools.map((x) => x.name), TOOLS.map((n) => n.replace('.', '_')));
	const res = json(await inspector(['--config', servers, '--server', 'zonebox',
		'--method', 'tools/call', '--tool-name', 'shell_run', '--tool-arg', 'argv=["echo","underscored"]']));
	assert.equal(res.structuredContent.stdout, 'underscored\n');
});

itest('unknown tools and bad arguments fail with -32602 and say why', async () => {
	const unknown = await onZonebox([], 'tools/call', ['--tool-name', 'shell.execute']);
	assert.notEqual(unknown.code, 0);
	assert.match(unknown.stderr, /-32602/);
	assert.match(unknown.stderr, /shell\.run/);
	const bad = await onZonebox([], 'tools/call',
		['--tool-name', 'shell.run', '--tool-arg', 'argv=["echo"]', 'timeout_ms=soon']);
	assert.notEqual(bad.code, 0);
	assert.match(bad.stderr, /-32602/);
	assert.match(bad.stderr, /timeout_ms/);
});

itest('logging/setLevel', async () => {
	assert.deepEqual(json(await onZonebox([], 'logging/setLevel', ['--log-level', 'debug'])), {});
});
