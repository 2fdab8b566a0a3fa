// zonebox driven by the official MCP TypeScript SDK (Client + StdioClientTransport), the way an
// agent framework or an IDE would start and use it.
//
// ZONEBOX_BIN selects the binary (default: build/zonebox at the top of the repository).
// Run: node --test sdk.test.mjs   (tests/e2e/run.sh installs the dependencies first)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ErrorCode, InitializeResultSchema, LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ZONEBOX_BIN ? path.resolve(process.env.ZONEBOX_BIN)
	: path.resolve(HERE, '../../build/zonebox');

const TOOLS = ['shell.run', 'fs.read', 'fs.write', 'fs.edit', 'fs.list', 'fs.stat', 'fs.mkdir',
	'fs.move', 'fs.delete', 'fs.search', 'fs.zones'];

const CONFIG = `sandbox:
  backend: "null"
  zones:
    - {name: work, mode: tmpfs, size: 1M}
approval:
  default: allow
`;

/** A JSON Schema validator that records what the SDK's Client asked it to validate. */
class SpyValidator {
	constructor() {
		this.inner = new AjvJsonSchemaValidator();
		this.checks = []; // {schema, input, valid}
	}
	getValidator(schema) {
		const validate = this.inner.getValidator(schema);
		return (input) => {
			const r = validate(input);
			this.checks.push({ schema, input, valid: r.valid });
			return r;
		};
	}
}

/**
 * Starts zonebox through the SDK. Returns the connected client, its transport, the child
 * process (to see how it exits) and its stderr so far (for failure messages).
 * The server is closed when the test ends.
 */
async function start(t, { args = [], validator, tamper } = {}) {
	assert.ok(fs.existsSync(BIN), `zonebox binary not found at ${BIN}; build it or set ZONEBOX_BIN`);
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zb-e2e-'));
	const config = path.join(tmp, 'zonebox.yaml');
	fs.writeFileSync(config, CONFIG);
	const transport = new StdioClientTransport({
		command: BIN,
		args: ['--backend', 'null', '--config', config, '--log-level', 'warning', ...args],
		cwd: tmp,
		stderr: 'pipe',
	});
	let stderr = '';
	transport.stderr.on('data', (d) => { stderr += d; });
	const client = new Client({ name: 'zonebox-e2e', version: '1.0.0' },
		{ capabilities: {}, ...(validator ? { jsonSchemaValidator: validator } : {}) });
	const raw = []; // every message zonebox sent after initialize
	let version = null;
	// The Client tells the transport the negotiated version through this optional hook.
	transport.setProtocolVersion = (v) => { version = v; };
	t.after(async () => {
		await client.close().catch(() => {});
		fs.rmSync(tmp, { recursive: true, force: true });
	});
	try {
		await client.connect(transport);
	} catch (e) {
		e.message += `\nzonebox stderr:\n${stderr}`;
		throw e;
	}
	const child = transport._process; // the ChildProcess; the SDK keeps it private
	assert.ok(child && child.pid, 'the transport started no process');
	const exited = new Promise((resolve) => {
		if (child.exitCode !== null || child.signalCode !== null)
			resolve({ code: child.exitCode, signal: child.signalCode });
		else
			child.once('exit', (code, signal) => resolve({ code, signal }));
	});
	const deliver = transport.onmessage;
	transport.onmessage = (msg, extra) => {
		raw.push(msg);
		if (tamper)
			tamper(msg);
		deliver(msg, extra);
	};
	return { client, transport, child, exited, raw, negotiated: () => version,
		stderr: () => stderr };
}

test('initialize negotiates the SDK\'s latest protocol version', async (t) => {
	const { client, negotiated } = await start(t);
	// The Client refuses a version it does not support; zonebox must pick the newest one.
	assert.equal(negotiated(), LATEST_PROTOCOL_VERSION);
	const info = client.getServerVersion();
	assert.equal(info.name, 'zonebox');
	assert.match(info.version, /^\d+\.\d+\.\d+/);
	const caps = client.getServerCapabilities();
	assert.ok(caps.tools, 'tools capability');
	assert.ok(caps.logging, 'logging capability');
	assert.equal(typeof client.getInstructions(), 'string');
	assert.deepEqual(await client.ping(), {});
	// One initialize per session: a second one is refused, and the session goes on.
	await assert.rejects(
		client.request({ method: 'initialize', params: {
			protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {},
			clientInfo: { name: 'again', version: '1' } } }, InitializeResultSchema),
		(e) => e instanceof McpError && e.code === ErrorCode.InvalidRequest);
	assert.deepEqual(await client.ping(), {});
});

test('tools/list returns the 11 tools with input and output schemas', async (t) => {
	const { client } = await start(t);
	const { tools, nextCursor } = await client.listTools();
	assert.equal(nextCursor, undefined);
	assert.deepEqual(tools.map((x) => x.name), TOOLS);
	const ajv = new AjvJsonSchemaValidator();
	for (const tool of tools) {
		assert.equal(typeof tool.title, 'string', tool.name);
		assert.ok(tool.description.length > 40, `${tool.name}: description`);
		assert.equal(tool.inputSchema.type, 'object', `${tool.name}: inputSchema`);
		assert.equal(tool.outputSchema?.type, 'object', `${tool.name}: outputSchema`);
		for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
			assert.equal(typeof tool.annotations[hint], 'boolean', `${tool.name}: ${hint}`);
		// Both schemas compile (the output ones were already compiled by listTools()).
		ajv.getValidator(tool.inputSchema);
		ajv.getValidator(tool.outputSchema);
	}
});

test('shell.run result is validated by the SDK against outputSchema', async (t) => {
	const spy = new SpyValidator();
	const { client } = await start(t, { validator: spy });
	const { tools } = await client.listTools(); // the Client caches output validators here
	const schema = tools.find((x) => x.name === 'shell.run').outputSchema;

	const res = await client.callTool({ name: 'shell.run', arguments: { argv: ['echo', 'hi'] } });
	assert.equal(res.isError, false);
	assert.deepEqual(
		{ ...res.structuredContent, duration_ms: 0 },
		{ exit_code: 0, signal: null, stdout: 'hi\n', stderr: '', stdout_truncated: false,
		  stderr_truncated: false, timed_out: false, duration_ms: 0 });
	assert.equal(res.content[0].type, 'text');
	assert.deepEqual(JSON.parse(res.content[0].text.split('\n').at(-1)), res.structuredContent);
	// The SDK really ran the shell.run output validator on this result, and it passed.
	const checks = spy.checks.filter((c) => c.schema === schema);
	assert.equal(checks.length, 1, 'the SDK validated the structured result once');
	assert.deepEqual(checks[0].input, res.structuredContent);
	assert.equal(checks[0].valid, true);

	// Non-zero exit and a timeout: both validated too; a timeout is a tool error with data.
	const three = await client.callTool({ name: 'shell.run', arguments: { argv: ['exit', '3'] } });
	assert.equal(three.isError, false);
	assert.equal(three.structuredContent.exit_code, 3);
	const slow = await client.callTool({ name: 'shell.run',
		arguments: { argv: ['sleep', '5000'], timeout_ms: 50 } });
	assert.equal(slow.isError, true);
	assert.equal(slow.structuredContent.timed_out, true);
	assert.equal(spy.checks.filter((c) => c.schema === schema && c.valid).length, 3);
});

test('negative control: the SDK rejects a result that does not fit outputSchema', async (t) => {
	// Same call, but the client is shown a shell.run outputSchema that demands a field zonebox
	// does not return. The Client must reject the result: this proves the test above would
	// fail if zonebox's structuredContent did not fit its schema.
	const tamper = (msg) => {
		const tool = msg.result?.tools?.find((x) => x.name === 'shell.run');
		if (tool)
			tool.outputSchema = { ...tool.outputSchema,
				required: [...tool.outputSchema.required, 'not_returned_by_zonebox'] };
	};
	const { client } = await start(t, { tamper });
	await client.listTools();
	await assert.rejects(
		client.callTool({ name: 'shell.run', arguments: { argv: ['echo', 'hi'] } }),
		(e) => e instanceof McpError && e.code === ErrorCode.InvalidParams &&
			/output schema/.test(e.message) && /not_returned_by_zonebox/.test(e.message));
});

test('bad arguments are rejected with McpError -32602', async (t) => {
	const { client } = await start(t);
	await client.listTools();
	const cases = [
		[{ name: 'shell.run', arguments: { argv: 5 } }, /argv/],
		[{ name: 'shell.run', arguments: { command: 'echo hi', argv: ['echo'] } }, /./],
		[{ name: 'shell.run', arguments: { argv: ['echo'], timeout_ms: 'soon' } }, /timeout_ms/],
		[{ name: 'shell.run', arguments: { argv: ['echo'], bogus: 1 } }, /bogus/],
		[{ name: 'fs.read', arguments: { pth: '/work/x' } }, /pth/],
		[{ name: 'shell.execute', arguments: {} }, /shell\.run/],
	];
	for (const [params, says] of cases) {
		await assert.rejects(client.callTool(params), (e) => {
			assert.ok(e instanceof McpError, `${JSON.stringify(params)}: ${e}`);
			assert.equal(e.code, ErrorCode.InvalidParams, JSON.stringify(params));
			assert.equal(e.code, -32602);
			assert.match(e.message, says, JSON.stringify(params));
			return true;
		});
	}
	assert.deepEqual(await client.ping(), {});
});

test('a call with a progress token gets progress notifications', async (t) => {
	const { client, raw } = await start(t);
	const errors = [];
	client.onerror = (e) => errors.push(String(e));

	// Output that takes more than one pipe read to deliver: zonebox streams it as progress
	// before the result, and the SDK hands the notes to onprogress.
	const notes = [];
	const big = await client.callTool({ name: 'shell.run', arguments: { argv: ['spew', '200000'] } },
		undefined, { onprogress: (p) => notes.push(p) });
	assert.equal(big.structuredContent.stdout.length, 200000);
	assert.ok(notes.length >= 1, `no progress notification reached onprogress; client errors: ${errors}`);
	for (const n of notes) {
		assert.equal(typeof n.progress, 'number');
		assert.ok(n.progress > 0 && n.progress <= 200000, `progress ${n.progress}`);
		assert.match(n.message, /^(y\n)+y?$/);
	}
	for (let i = 1; i < notes.length; i++)
		assert.ok(notes[i].progress > notes[i - 1].progress, 'progress must increase');

	// A short command: its output goes out as one progress note just before the result.
	// On the wire it carries the token the SDK chose and precedes the response. (SDK 1.x
	// dispatches notifications a microtask later than responses, so when both arrive in one
	// read the SDK may drop the note as "unknown token": typescript-sdk issue #2580. That is
	// the SDK's race; zonebox's part is checked on the wire.)
	const sent = [];
	const send = client.transport.send.bind(client.transport);
	client.transport.send = (msg, opts) => { sent.push(msg); return send(msg, opts); };
	const small = [];
	const res = await client.callTool(
		{ name: 'shell.run', arguments: { argv: ['echo', 'streamed-marker'] } },
		undefined, { onprogress: (p) => small.push(p) });
	assert.equal(res.structuredContent.stdout, 'streamed-marker\n');
	const req = sent.find((m) => m.method === 'tools/call');
	const token = req.params._meta.progressToken;
	assert.notEqual(token, undefined, 'the SDK put no progressToken in _meta');
	const wire = raw.filter((m) => m.method === 'notifications/progress' &&
		m.params.progressToken === token);
	assert.equal(wire.length, 1, 'zonebox sent no progress note for the short command');
	assert.equal(wire[0].params.message, 'streamed-marker\n');
	assert.ok(raw.indexOf(wire[0]) < raw.findIndex((m) => m.id === req.id), 'progress after the result');
	if (small.length === 0)
		t.diagnostic('SDK dropped the final progress note that arrived with the result (typescript-sdk#2580)');
	else
		assert.equal(small[0].message, 'streamed-marker\n');
});

test('an aborted request is cancelled and the server stays alive', async (t) => {
	const { client, raw, child } = await start(t);
	const ac = new AbortController();
	const sent = [];
	const send = client.transport.send.bind(client.transport);
	client.transport.send = (msg, opts) => { sent.push(msg); return send(msg, opts); };

	const t0 = Date.now();
	const call = client.callTool({ name: 'shell.run', arguments: { argv: ['sleep', '1500'] } },
		undefined, { signal: ac.signal });
	setTimeout(() => ac.abort(), 150);
	await assert.rejects(call, (e) => {
		assert.ok(e instanceof McpError, String(e));
		assert.match(e.message, /AbortError|aborted/);
		return true;
	});
	assert.ok(Date.now() - t0 < 1000, 'the abort did not reject promptly');
	const req = sent.find((m) => m.method === 'tools/call');
	const cancel = sent.find((m) => m.method === 'notifications/cancelled');
	assert.ok(cancel, 'the SDK sent no notifications/cancelled');
	assert.equal(cancel.params.requestId, req.id);

	// The server is alive and not blocked by the cancelled call.
	const p0 = Date.now();
	assert.deepEqual(await client.ping(), {});
	assert.ok(Date.now() - p0 < 500, 'ping waited for the cancelled call');
	const res = await client.callTool({ name: 'shell.run', arguments: { argv: ['echo', 'after'] } });
	assert.equal(res.structuredContent.stdout, 'after\n');
	// zonebox sends nothing for a cancelled request, even after its command would have ended.
	await new Promise((r) => setTimeout(r, Math.max(0, t0 + 2000 - Date.now())));
	assert.equal(raw.filter((m) => m.id === req.id).length, 0, 'a response to the cancelled request');
	assert.equal(child.exitCode, null);
	assert.deepEqual(await client.ping(), {});
});

test('--tool-names underscore advertises shell_run; both spellings are callable', async (t) => {
	const { client } = await start(t, { args: ['--tool-names', 'underscore'] });
	const { tools } = await client.listTools();
	assert.deepEqual(tools.map((x) => x.name), TOOLS.map((n) => n.replace('.', '_')));
	for (const name of ['shell_run', 'shell.run']) {
		const res = await client.callTool({ name, arguments: { argv: ['echo', name] } });
		assert.equal(res.structuredContent.stdout, `${name}\n`);
	}
});

test('client.close() makes the server exit 0', async (t) => {
	const { client, exited, stderr } = await start(t);
	assert.deepEqual(await client.ping(), {});
	const t0 = Date.now();
	await client.close();
	const { code, signal } = await exited;
	assert.equal(signal, null, `killed by ${signal}; stderr:\n${stderr()}`);
	assert.equal(code, 0, `exit ${code}; stderr:\n${stderr()}`);
	// The SDK closes stdin and waits 2 s before SIGTERM: zonebox must leave on EOF alone.
	assert.ok(Date.now() - t0 < 1900, 'zonebox did not exit on end of input');
});
