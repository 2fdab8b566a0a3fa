"""The MCP lifecycle and JSON-RPC framing, over the real binary's stdio."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, Server


@pytest.mark.parametrize("asked,answered", [
    ("2025-11-25", "2025-11-25"),
    ("2025-06-18", "2025-06-18"),
    ("2025-03-26", "2025-03-26"),
    ("2024-11-05", "2024-11-05"),
    ("2099-01-01", "2025-11-25"),
])
def test_handshake_each_version(server, asked, answered):
    res = server.initialize(asked)
    assert res["protocolVersion"] == answered
    assert res["serverInfo"]["name"] == "zonebox"
    assert "tools" in res["capabilities"] and "logging" in res["capabilities"]
    assert server.request("ping")["result"] == {}


def test_initialize_twice_refused(ready):
    r = ready.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                     "clientInfo": {"name": "x", "version": "1"}})
    assert r["error"]["code"] == -32600
    assert "already initialized" in r["error"]["message"]


def test_initialize_without_version(server):
    r = server.request("initialize", {"capabilities": {}})
    assert r["error"]["code"] == -32602
    assert "protocolVersion" in r["error"]["message"]


def test_requests_before_initialize_refused(server):
    assert server.request("ping")["result"] == {}
    r = server.request("tools/list")
    assert r["error"]["code"] == -32600
    assert "initialize" in r["error"]["message"]


def test_malformed_json(ready):
    ready.send_raw(b'{"jsonrpc": "2.0", "id": 1, "method": \n')
    r = ready.recv()
    assert r["error"]["code"] == -32700 and r["id"] is None
    ready.send_raw(b"\xff\xfe garbage\n")
    r = ready.recv()
    assert r["error"]["code"] == -32700
    assert ready.request("ping")["result"] == {}


def test_duplicate_keys_rejected(ready):
    ready.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"shell.run",'
                   b'"arguments":{"command":"ls","command":"rm -rf /"}}}\n')
    r = ready.recv()
    assert r["error"]["code"] == -32700
    assert "duplicate" in r["error"]["message"]


@pytest.mark.parametrize("msg,code", [
    ([], -32600),
    ("just a string", -32600),
    (42, -32600),
    ({"id": 1, "method": "ping"}, -32600),
    ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": 5}, -32600),
    ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "no/such"}, -32601),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 3}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
      "params": {"name": "nope", "arguments": {}}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
      "params": {"name": "fs.read", "arguments": {"pth": "x"}}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
      "params": {"name": "shell.run", "arguments": {"command": 5}}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
      "params": {"name": "shell.run", "arguments": []}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "bogus"}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": {"level": "loud"}},
     -32602),
])
def test_bad_requests(ready, msg, code):
    ready.send(msg)
    r = ready.recv()
    assert r["error"]["code"] == code, r
    assert len(r["error"]["message"]) > 20  # says what is wrong
    assert ready.request("ping")["result"] == {}


def test_unknown_tool_lists_tools(ready):
    r = ready.call("shell.execute")
    assert r["error"]["code"] == -32602
    assert "shell.run" in r["error"]["message"]


def test_schema_error_names_field(ready):
    r = ready.call("fs.read", {"pth": "/work/x"})
    assert r["error"]["code"] == -32602
    assert "pth" in r["error"]["message"]
    r = ready.call("shell.run", {"command": "ls", "timeout_ms": "soon"})
    assert "timeout_ms" in r["error"]["message"]


def test_notifications_get_no_response(ready):
    ready.notify("notifications/initialized")
    ready.notify("notifications/cancelled", {"requestId": 12345})
    ready.notify("notifications/whatever", {"x": 1})
    ready.send({"jsonrpc": "2.0", "method": "no/such/method"})
    r = ready.request("ping")
    assert r["id"] is not None and r["result"] == {}


def test_client_response_is_ignored(ready):
    ready.send({"jsonrpc": "2.0", "id": 99, "result": {}})
    assert ready.request("ping")["result"] == {}


def test_string_and_integer_ids_echoed(ready):
    ready.send({"jsonrpc": "2.0", "id": "abc", "method": "ping"})
    assert ready.recv()["id"] == "abc"
    ready.send({"jsonrpc": "2.0", "id": 0, "method": "ping"})
    assert ready.recv()["id"] == 0


def test_partial_and_merged_lines(ready):
    a = json.dumps({"jsonrpc": "2.0", "id": 101, "method": "ping"}).encode()
    b = json.dumps({"jsonrpc": "2.0", "id": 102, "method": "ping"}).encode()
    ready.send_raw(a[:5])
    time.sleep(0.05)
    ready.send_raw(a[5:] + b"\n" + b + b"\r\n\n   \n")
    ids = {ready.recv()["id"], ready.recv()["id"]}
    assert ids == {101, 102}


def test_20mib_line_rejected_then_continues(ready):
    big = b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"' + b"a" * (20 << 20) + b'"}}\n'
    ready.send_raw(big)
    r = ready.recv(timeout=30)
    assert r["error"]["code"] == -32600 and r["id"] is None
    assert "longer than" in r["error"]["message"]
    assert ready.request("ping")["result"] == {}


def test_max_message_flag(server_factory):
    s = server_factory(args=["--max-message", "2k"])
    s.initialize()
    s.send_raw(b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"' + b"a" * 4000 + b'"}}\n')
    assert s.recv()["error"]["code"] == -32600
    assert s.request("ping")["result"] == {}


def test_10000_pipelined_pings(ready):
    n = 10000
    payload = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}).encode() + b"\n"
                       for i in range(n))
    ready.send_raw(payload)
    seen = set()
    for _ in range(n):
        r = ready.recv(timeout=30)
        assert r["result"] == {}
        seen.add(r["id"])
    assert seen == set(range(n))


def test_tools_list_stable_and_complete(ready):
    names = ["shell.run", "fs.read", "fs.write", "fs.edit", "fs.list", "fs.stat", "fs.mkdir",
             "fs.move", "fs.delete", "fs.search", "fs.zones"]
    r1 = ready.request("tools/list")["result"]
    r2 = ready.request("tools/list")["result"]
    assert r1 == r2
    assert [t["name"] for t in r1["tools"]] == names
    for t in r1["tools"]:
        for key in ("title", "description", "inputSchema", "outputSchema", "annotations"):
            assert key in t, (t["name"], key)
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert isinstance(t["annotations"][hint], bool)
    assert "nextCursor" not in r1


def test_tools_list_served_verbatim_from_schemas(ready):
    from conftest import TOP
    tools = ready.request("tools/list")["result"]["tools"]
    for t in tools:
        with open(os.path.join(TOP, "schemas", "tools", t["name"] + ".json")) as f:
            assert json.load(f) == t


def test_tools_list_pagination(server_factory):
    s = server_factory(config=PAGED_CONFIG)
    s.initialize()
    names, cursor, pages = [], None, 0
    while True:
        r = s.request("tools/list", {"cursor": cursor} if cursor else {})["result"]
        names += [t["name"] for t in r["tools"]]
        pages += 1
        cursor = r.get("nextCursor")
        if not cursor:
            break
    assert pages == 3 and len(names) == 11 and len(set(names)) == 11
    assert s.request("tools/list", {"cursor": "zb1:999"})["error"]["code"] == -32602


PAGED_CONFIG = """
sandbox:
  backend: "null"
  zones:
    - {name: work, mode: tmpfs, size: 1M}
server: {tools_page_size: 5}
"""


def test_underscore_names(server_factory):
    s = server_factory(args=["--tool-names", "underscore", "--backend", "null"])
    s.initialize()
    tools = s.request("tools/list")["result"]["tools"]
    assert tools[0]["name"] == "shell_run"
    assert all("." not in t["name"] for t in tools)
    # Both spellings are accepted for calls in either mode.
    for name in ("fs_zones", "fs.zones"):
        r = s.call(name)
        assert "result" in r


def test_logging_set_level(ready):
    assert ready.request("logging/setLevel", {"level": "debug"})["result"] == {}
    # A debug message is produced for an ignored notification.
    ready.notify("notifications/whatever")
    m = ready.recv()
    assert m["method"] == "notifications/message"
    assert m["params"]["level"] == "debug" and m["params"]["logger"] == "zonebox"


def test_batch_refused_unless_2025_03_26(ready):
    ready.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
    r = ready.recv()
    assert r["error"]["code"] == -32600 and "batch" in r["error"]["message"]


def test_batch_with_2025_03_26(server):
    server.initialize("2025-03-26")
    server.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"},
                 {"jsonrpc": "2.0", "method": "notifications/initialized"},
                 {"jsonrpc": "2.0", "id": 2, "method": "no/such"}])
    r = server.recv()
    assert isinstance(r, list) and len(r) == 2
    by_id = {m["id"]: m for m in r}
    assert by_id[1]["result"] == {} and by_id[2]["error"]["code"] == -32601
    server.send([{"jsonrpc": "2.0", "method": "notifications/initialized"}])
    server.send([])
    r = server.recv()
    assert r["error"]["code"] == -32600  # the empty batch; the notification batch got nothing


def test_stdout_is_protocol_only(server):
    server.initialize()
    server.request("tools/list")
    server.close_stdin()
    assert server.wait() == 0
    rest = server.proc.stdout.read()
    for line in (server.buf + rest).splitlines():
        json.loads(line)


def test_eof_exits_zero(server):
    server.initialize()
    server.close_stdin()
    assert server.wait() == 0


def test_sigterm_and_sigint_exit_zero(server_factory):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = server_factory()
        s.initialize()
        s.proc.send_signal(sig)
        assert s.wait() == 0


def test_stdin_closed_at_start():
    p = subprocess.run([BIN], stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
    assert p.returncode == 0 and p.stdout == b""


def test_stdin_from_file(tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "file", "version": "1"}}}) + "\n"
        + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
    with open(f) as fin:
        p = subprocess.run([BIN], stdin=fin, capture_output=True, timeout=10)
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert p.returncode == 0 and [m["id"] for m in lines] == [1, 2]


def test_help_and_version():
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--config" in p.stdout and "--zone" in p.stdout
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("zonebox ")


def test_bad_flags_exit_2():
    for args in (["--frobnicate"], ["--tool-names", "camel"], ["--config"], ["extra"],
                 ["--log-level", "loud"], ["--max-message", "huge"]):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert p.returncode == 2, args
        assert "zonebox:" in p.stderr
