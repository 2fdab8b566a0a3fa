"""Bugs found by review, each with the trigger that showed it."""
import json
import os
import signal
import sys
import time

CONFIG = """
sandbox:
  backend: "null"
  zones: [{name: work, mode: tmpfs, size: 1M}]
approval:
  default: %(default)s
%(approver)s
audit: {path: %(audit)s}
"""


def test_eof_then_sigterm_still_writes_every_audit_line(server_factory, tmp_path):
    # The SDKs close stdin and send SIGTERM shortly after: one stop, not two.
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config=CONFIG % {"default": "allow", "approver": "",
                                        "audit": json.dumps(str(audit))})
    s.initialize()
    for i in range(50):
        s.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": "shell.run", "arguments": {"argv": ["sleep", "5000"]}}})
    time.sleep(0.3)
    s.close_stdin()
    s.proc.send_signal(signal.SIGTERM)
    assert s.wait(timeout=10) == 0
    lines = audit.read_text().splitlines()
    assert len(lines) == 50, len(lines)


def test_one_shot_approver_answer_is_not_lost(server_factory, tmp_path):
    # An approver that answers and exits at once: its answer is still read.
    script = tmp_path / "once.py"
    script.write_text("import json, sys\nq = json.loads(sys.stdin.readline())\n"
                      "print(json.dumps({'id': q['id'], 'decision': 'allow_once'}), flush=True)\n")
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config=CONFIG % {
        "default": "ask", "audit": json.dumps(str(audit)),
        "approver": "  approver: {command: [%s, %s]}" % (json.dumps(sys.executable),
                                                       json.dumps(str(script)))})
    s.initialize()
    for i in range(8):
        r = s.call("shell.run", {"argv": ["echo", "once %d" % i]})
        assert r["result"]["isError"] is False, r["result"]["content"][0]["text"]
        time.sleep(0.2)  # its exit is noticed; the next question starts a new one


def test_null_echo_without_words(server_factory, tmp_path):
    # Was a heap overflow in the null backend (one byte too few for "\n" and its NUL).
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config=CONFIG % {"default": "allow", "approver": "",
                                        "audit": json.dumps(str(audit))})
    s.initialize()
    r = s.call("shell.run", {"argv": ["echo"]})
    assert r["result"]["structuredContent"]["stdout"] == "\n"


def test_progress_strictly_increases(server_factory, tmp_path):
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config=CONFIG % {"default": "allow", "approver": "",
                                        "audit": json.dumps(str(audit))})
    s.initialize()
    # A split UTF-8 character at the end of the first flush used to repeat a value.
    s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "shell.run", "_meta": {"progressToken": "p"},
                       "arguments": {"argv": ["hex", "41" * 100 + "e282"]}}})
    values = []
    while True:
        m = s.recv()
        if m.get("method") == "notifications/progress":
            values.append(m["params"]["progress"])
        elif m.get("id") == 1:
            break
    assert values and all(a < b for a, b in zip(values, values[1:])), values


def test_eof_seen_while_replies_wait(server_factory, tmp_path):
    # A client that stops reading (replies pile up, reading pauses) and then closes stdin:
    # the server must notice and stop, not wait forever.
    s = server_factory(config="""
sandbox:
  backend: "null"
  limits: {output: 4M}
  zones: [{name: work, mode: tmpfs, size: 1M}]
approval: {default: allow}
""")
    s.initialize()
    for i in range(10):
        s.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": "shell.run", "arguments": {"argv": ["spew", "3000000"]}}})
    time.sleep(1.0)  # replies fill the pipe; the server stops reading
    s.close_stdin()
    assert s.wait(timeout=10) == 0
