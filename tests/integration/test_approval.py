"""The approval layer end to end, on the null backend: approvers over a pipe (a scripted one
that allows, denies, says always, crashes, hangs or answers garbage, and the bundled
zonebox-approve on a pseudo-terminal), MCP elicitation with a client that answers
elicitation/create, no approver at all; the learned file, --explain, and the audit log after
each."""
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from conftest import BIN

APPROVER = r'''#!/usr/bin/python3
# A scripted approver: MODE says how it answers; every line it gets is appended to LOG
# together with its pid.
import json, os, sys, time
mode, log = sys.argv[1], sys.argv[2]
held = []
for line in sys.stdin:
    with open(log, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "msg": json.loads(line)}) + "\n")
    q = json.loads(line)
    if "cancel" in q:
        continue
    if mode == "crash-once" and not os.path.exists(log + ".crashed"):
        open(log + ".crashed", "w").close()
        os._exit(3)
    if mode in ("crash",):
        os._exit(3)
    if mode == "hang":
        continue
    if mode == "garbage":
        print("this is not json", flush=True)
        continue
    if mode == "partial-json":
        print(json.dumps({"id": q["id"], "decision": "allow_once", "extra": 1}), flush=True)
        continue
    if mode == "wrong-id":
        print(json.dumps({"id": "nope", "decision": "allow_once"}), flush=True)
        continue
    if mode == "bad-decision":
        print(json.dumps({"id": q["id"], "decision": "yes please"}), flush=True)
        continue
    if mode == "reverse":
        held.append(q)
        if len(held) < 2:
            continue
        for h in reversed(held):
            d = "allow_once" if "first" in (h.get("command") or "") else "deny"
            print(json.dumps({"id": h["id"], "decision": d, "reason": "reverse"}), flush=True)
        held = []
        continue
    decision = {"allow": "allow_once", "deny": "deny", "always": "allow_always",
                "crash-once": "allow_once"}[mode]
    print(json.dumps({"id": q["id"], "decision": decision, "reason": "scripted " + mode}),
          flush=True)
'''

CONFIG = """
sandbox:
  backend: "null"
  limits: {timeout: 5s}
  zones:
    - {name: work, mode: tmpfs, size: 1M}
    - {name: data, mode: tmpfs, size: 1M}
approval:
  default: %(default)s
  timeout: %(timeout)s
  rules:
    - {allow: ["sleep", "pwd"]}
    - {deny: ["rm"]}
%(extra)s
audit: {path: %(audit)s}
"""

APPROVE_BIN = os.path.join(os.path.dirname(BIN), "zonebox-approve")


class Env:
    def __init__(self, tmp_path, server_factory):
        self.tmp = tmp_path
        self.factory = server_factory
        self.audit = str(tmp_path / "audit.jsonl")
        self.learned = str(tmp_path / "learned.yaml")
        self.log = str(tmp_path / "approver.log")
        self.script = str(tmp_path / "approver.py")
        with open(self.script, "w") as f:
            f.write(APPROVER)
        os.chmod(self.script, 0o755)
        self.n_audit = 0

    def approver(self, mode):
        return "  approver: {command: [%s, %s, %s]}" % (
            json.dumps(self.script), mode, json.dumps(self.log))

    def server(self, extra="", timeout="2s", init=True, capabilities=None, learned=True,
               default="ask"):
        if learned:
            extra += "\n  learned: %s" % json.dumps(self.learned)
        cfg = CONFIG % {"timeout": timeout, "extra": extra, "audit": json.dumps(self.audit),
                        "default": default}
        s = self.factory(config=cfg)
        if init:
            initialize(s, capabilities or {})
        return s

    def questions(self):
        """What the scripted approver was sent: (pid, message) pairs."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [(e["pid"], e["msg"]) for e in map(json.loads, f)]

    def audit_lines(self, n=None, timeout=5.0):
        """The audit log once it holds the lines of n more calls (default: one more)."""
        want = self.n_audit + (1 if n is None else n)
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            if os.path.exists(self.audit):
                with open(self.audit) as f:
                    # A line still being written has no newline yet: not counted.
                    lines = [json.loads(l) for l in f if l.endswith("\n") and l.strip()]
                if len(lines) >= want:
                    break
            time.sleep(0.02)
        assert len(lines) == want, lines
        self.n_audit = want
        return lines

    def last_audit(self):
        return self.audit_lines()[-1]


def initialize(s, capabilities):
    r = s.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": capabilities,
                                 "clientInfo": {"name": "pytest", "version": "1"}})
    assert "result" in r, r
    s.notify("notifications/initialized")


def text(r):
    return r["result"]["content"][0]["text"]


@pytest.fixture
def env(tmp_path, server_factory):
    return Env(tmp_path, server_factory)


def check_audit_line(a, tool="shell.run"):
    assert a["tool"] == tool
    assert a["time"].endswith("Z") and "T" in a["time"]
    assert isinstance(a["duration_ms"], int) and isinstance(a["bytes_out"], int)
    assert a["decision"] in ("allow", "deny")
    assert a["decided_by"] in ("rule", "default", "approver", "elicitation", "none")


# ---------------------------------------------------------------- a scripted approver

def test_allow_once(env):
    s = env.server(env.approver("allow"))
    r = s.call("shell.run", {"command": "echo approved", "cwd": "/data"})
    assert r["result"]["isError"] is False, r
    assert r["result"]["structuredContent"]["stdout"] == "approved\n"
    (pid, q), = env.questions()
    assert q["tool"] == "shell.run" and q["command"] == "echo approved" and q["argv"] is None
    assert q["cwd"] == "/data" and q["network"] == "none"
    assert [z["name"] for z in q["zones"]] == ["work", "data"]
    assert q["zones"][0] == {"name": "work", "path": "/work", "mode": "tmpfs"}
    assert "no allow rule matches" in q["rule"]
    assert q["asks"] == [{"command": "echo approved",
                          "why": "asks: no allow rule matches it, and approval.default is ask"}]
    assert q["always_possible"] is True and q["timeout_ms"] == 2000
    a = env.last_audit()
    check_audit_line(a)
    assert a["decision"] == "allow" and a["decided_by"] == "approver"
    assert a["approver"] == "approver.py" and a["reason"] == "scripted allow"
    assert a["rule"] == "allowed once by approver.py"
    assert a["exit_code"] == 0 and a["is_error"] is False
    assert a["arguments"] == {"command": "echo approved", "cwd": "/data"}
    # Rules still decide without asking: the approver sees nothing more.
    assert s.call("shell.run", {"argv": ["sleep", "1"]})["result"]["isError"] is False
    a = env.last_audit()
    assert a["decided_by"] == "rule" and "allow \"sleep\"" in a["rule"]
    r = s.call("shell.run", {"command": "rm -rf /work"})
    assert r["result"]["isError"] and "denied by the approval rules" in text(r)
    a = env.last_audit()
    assert a["decision"] == "deny" and a["decided_by"] == "rule" and a["exit_code"] is None
    assert len(env.questions()) == 1


def test_deny(env):
    s = env.server(env.approver("deny"))
    r = s.call("shell.run", {"command": "echo nope"})
    assert r["result"]["isError"] is True
    assert "the user (asked through approver.py) denied this call: scripted deny" in text(r)
    assert "Do not retry it unchanged" in text(r)
    a = env.last_audit()
    assert a["decision"] == "deny" and a["decided_by"] == "approver"
    assert a["approver"] == "approver.py" and a["exit_code"] is None and a["is_error"]


def test_one_process_for_many_questions(env):
    s = env.server(env.approver("allow"))
    for i in range(3):
        assert s.call("shell.run", {"argv": ["echo", str(i)]})["result"]["isError"] is False
    pids = {pid for pid, _ in env.questions()}
    assert len(pids) == 1
    assert all(a["decided_by"] == "approver" for a in env.audit_lines(3))


def test_always_is_learned_and_used(env):
    s = env.server(env.approver("always"))
    r = s.call("shell.run", {"argv": ["echo", "a b"]})
    assert r["result"]["isError"] is False and r["result"]["structuredContent"]["stdout"] == "a b\n"
    a = env.last_audit()
    assert a["decided_by"] == "approver" and "learned \"echo 'a b' $\"" in a["rule"]
    # Used at once, for the same argv however it is written: no second question.
    assert s.call("shell.run", {"command": "echo 'a b'"})["result"]["isError"] is False
    assert env.last_audit()["decided_by"] == "rule"
    assert len(env.questions()) == 1
    # Anchored: more arguments ask again.
    s.call("shell.run", {"command": "echo 'a b' c"})
    assert len(env.questions()) == 2
    env.audit_lines()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "echo 'a b' c" not in open(env.learned).read():
        time.sleep(0.05)
    learned = open(env.learned).read()
    assert "approval:\n  rules:\n" in learned
    assert '- allow: ["echo \'a b\' $"]' in learned
    assert not [f for f in os.listdir(env.tmp) if f.startswith(".learned.yaml.")]
    s.stop()

    # A new server loads the learned file: it allows without asking even a denying approver.
    s2 = env.server(env.approver("deny"))
    assert s2.call("shell.run", {"command": "echo 'a b'"})["result"]["isError"] is False
    a = env.last_audit()
    assert a["decided_by"] == "rule" and "learned approval.rules[0]" in a["rule"]
    assert "learned.yaml:6:7" in a["rule"]
    assert len(env.questions()) == 2
    # zonebox --explain sees the learned rules too.
    cfg = os.path.join(s2.tmp.name, "zonebox.yaml")
    out = subprocess.run([BIN, "--config", cfg, "--explain", "echo 'a b'"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "learned approval.rules[0]" in out.stdout
    assert "verdict: allow" in out.stdout


def test_always_for_an_expanding_command_saves_nothing(env):
    s = env.server(env.approver("always"))
    r = s.call("shell.run", {"command": "echo $(pwd)"})
    assert r["result"]["isError"] is False
    a = env.last_audit()
    assert "saved nothing" in a["rule"]
    assert not os.path.exists(env.learned)


def test_argv_call_and_env_in_the_question(env):
    s = env.server(env.approver("always"))
    r = s.call("shell.run", {"argv": ["env"], "env": {"GITHUB_TOKEN": "s3cret", "FOO": "bar"}})
    assert r["result"]["isError"] is False
    out = r["result"]["structuredContent"]["stdout"]
    assert "GITHUB_TOKEN=s3cret" in out.splitlines()
    (_, q), = env.questions()
    assert q["argv"] == ["env"] and q["command"] is None
    assert q["env"] == {"GITHUB_TOKEN": "***", "FOO": "bar"}
    assert q["asks"][0]["command"] == "GITHUB_TOKEN=*** FOO=bar env"
    assert "s3cret" not in json.dumps(q)
    a = env.last_audit()
    assert a["arguments"]["env"] == {"GITHUB_TOKEN": "***", "FOO": "bar"}
    assert "s3cret" not in json.dumps(a)
    # A rule would hold the secret: "always" saves nothing, so the same call asks again.
    assert "saved nothing" in a["rule"]
    s.call("shell.run", {"argv": ["env"], "env": {"GITHUB_TOKEN": "s3cret", "FOO": "bar"}})
    assert len(env.questions()) == 2
    env.last_audit()
    # Without a secret, the assignments are part of what was learned: the same call runs,
    # a different value asks.
    assert s.call("shell.run", {"argv": ["env"], "env": {"FOO": "bar"}})["result"]["isError"] is False
    assert s.call("shell.run", {"argv": ["env"], "env": {"FOO": "bar"}})["result"]["isError"] is False
    assert len(env.questions()) == 3
    s.call("shell.run", {"argv": ["env"], "env": {"FOO": "baz"}})
    assert len(env.questions()) == 4
    env.audit_lines(3)
    assert not os.path.exists(env.learned) or "s3cret" not in open(env.learned).read()


def test_crash_denies_and_restarts(env):
    s = env.server(env.approver("crash-once"))
    r = s.call("shell.run", {"command": "echo one"})
    assert r["result"]["isError"] is True
    assert "the approver approver.py failed: it exited with status 3 before answering" in text(r)
    a = env.last_audit()
    assert a["decision"] == "deny" and a["decided_by"] == "none"
    assert "exited with status 3" in a["reason"]
    assert s.request("ping")["result"] == {}
    # The next question starts it again.
    r = s.call("shell.run", {"command": "echo two"})
    assert r["result"]["isError"] is False, r
    pids = [pid for pid, _ in env.questions()]
    assert len(pids) == 2 and pids[0] != pids[1]
    assert env.last_audit()["decision"] == "allow"


def test_hang_times_out(env):
    s = env.server(env.approver("hang"), timeout="1s")
    t = time.monotonic()
    s.send({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": "echo wait"},
                       "_meta": {"progressToken": "p1"}}})
    notes = []
    while True:
        m = s.recv(timeout=10)
        if m.get("method") == "notifications/progress":
            notes.append(m["params"])
        elif m.get("id") == 7:
            break
    assert 0.9 < time.monotonic() - t < 4
    assert m["result"]["isError"] is True
    assert "gave no answer within 1 s, so it was denied" in text(m)
    assert "approval: {rules: [{allow: [\"echo wait\"]}]}" in text(m)
    assert notes and notes[0]["progressToken"] == "p1"
    assert "waiting for approval" in notes[0]["message"] and notes[0]["progress"] > 0
    a = env.last_audit()
    assert a["decided_by"] == "none" and a["reason"] == "no answer within 1000 ms"
    # The approver is told that the question is withdrawn.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(env.questions()) < 2:
        time.sleep(0.05)
    msgs = [m for _, m in env.questions()]
    assert msgs[1] == {"id": msgs[0]["id"], "cancel": "timeout"}
    assert s.request("ping")["result"] == {}


def test_progress_keeps_the_request_alive(env):
    s = env.server(env.approver("hang"), timeout="6s")
    s.send({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": "echo wait"},
                       "_meta": {"progressToken": 99}}})
    notes = []
    while True:
        m = s.recv(timeout=15)
        if m.get("method") == "notifications/progress":
            notes.append(m["params"])
        elif m.get("id") == 8:
            break
    assert len(notes) >= 2 and all(n["progressToken"] == 99 for n in notes)
    progress = [n["progress"] for n in notes]
    assert progress == sorted(set(progress))
    assert notes[1]["message"].startswith("waiting for approval (5 s)")
    assert m["result"]["isError"]
    env.last_audit()


@pytest.mark.parametrize("mode,message", [
    ("garbage", "it answered \"this is not json\", which is not {\"id\""),
    ("partial-json", "which is not {\"id\""),
    ("bad-decision", "it answered the decision \"yes please\", which is not allow_once"),
])
def test_garbage_denies(env, mode, message):
    s = env.server(env.approver(mode))
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] is True and message in text(r), text(r)
    a = env.last_audit()
    assert a["decision"] == "deny" and a["decided_by"] == "none"
    r = s.call("shell.run", {"command": "echo y"})
    assert r["result"]["isError"] is True
    env.audit_lines()
    pids = [pid for pid, _ in env.questions()]
    if mode != "bad-decision":
        assert pids[0] != pids[1]  # a process that spoke garbage was replaced
    assert s.request("ping")["result"] == {}


def test_answer_for_another_id_is_ignored(env):
    s = env.server(env.approver("wrong-id"), timeout="1s")
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] is True and "gave no answer within 1 s" in text(r)
    env.last_audit()


def test_cancel_while_waiting(env):
    s = env.server(env.approver("hang"), timeout="30s")
    s.send({"jsonrpc": "2.0", "id": "c1", "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": "echo wait"}}})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not env.questions():
        time.sleep(0.02)
    s.notify("notifications/cancelled", {"requestId": "c1", "reason": "test"})
    assert s.request("ping")["result"] == {}
    a = env.last_audit()
    assert a["decision"] == "deny" and "cancelled" in a["reason"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(env.questions()) < 2:
        time.sleep(0.05)
    assert env.questions()[1][1] == {"id": env.questions()[0][1]["id"], "cancel": "cancelled"}
    # No reply for c1 ever comes; the next call is served.
    assert s.call("shell.run", {"argv": ["sleep", "1"]})["id"] != "c1"
    env.last_audit()


def test_questions_answered_out_of_order(env):
    s = env.server(env.approver("reverse"))
    for rid, cmd in (("a", "echo first"), ("b", "echo second")):
        s.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": "shell.run", "arguments": {"command": cmd}}})
    got = {}
    while len(got) < 2:
        m = s.recv_response()
        got[m["id"]] = m
    assert got["a"]["result"]["isError"] is False
    assert got["b"]["result"]["isError"] is True and "reverse" in text(got["b"])
    env.audit_lines(2)


def test_eof_while_waiting_exits_cleanly(env):
    s = env.server(env.approver("hang"), timeout="30s")
    s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": "echo wait"}}})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not env.questions():
        time.sleep(0.02)
    s.close_stdin()
    assert s.wait(timeout=5) == 0
    a = env.last_audit()
    assert a["decision"] == "deny"


# ---------------------------------------------------------------- no approver, bad approvers

def test_no_approver(env):
    s = env.server()
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] is True
    t = text(r)
    assert "needs approval, and no approver is configured (approval.approver)" in t
    assert "no allow rule matches it, and approval.default is ask" in t
    assert "approval: {rules: [{allow: [\"echo x\"]}]}" in t
    a = env.last_audit()
    assert a["decision"] == "deny" and a["decided_by"] == "none"
    assert a["reason"] == "no approver is configured (approval.approver)"


def test_approver_that_cannot_start(env):
    s = env.server("  approver: {command: [/nonexistent/approver]}")
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] and "the approver /nonexistent/approver cannot be started" in text(r)
    env.last_audit()


def test_first_available_approver_answers(env):
    extra = "  approver: [{command: [/nonexistent/approver]}, elicitation, {command: [%s, allow, %s]}]" % (
        json.dumps(env.script), json.dumps(env.log))
    s = env.server(extra)
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] is False, r
    assert env.last_audit()["approver"] == "approver.py"


# ---------------------------------------------------------------- elicitation

ELICIT = {"elicitation": {}}


def call_and_elicit(s, arguments, answer):
    """Calls shell.run; answers the elicitation/create request with answer(params)."""
    s.send({"jsonrpc": "2.0", "id": "call", "method": "tools/call",
            "params": {"name": "shell.run", "arguments": arguments}})
    asked = None
    while True:
        m = s.recv()
        if m.get("method") == "elicitation/create":
            asked = m
            reply = answer(m["params"])
            msg = {"jsonrpc": "2.0", "id": m["id"]}
            msg.update(reply)
            s.send(msg)
        elif m.get("id") == "call":
            return asked, m


@pytest.mark.parametrize("answer,allowed,reason", [
    ({"result": {"action": "accept", "content": {"decision": "allow_once"}}}, True, None),
    ({"result": {"action": "accept", "content": {"decision": "deny"}}}, False,
     "the user chose deny"),
    ({"result": {"action": "decline"}}, False, "the user declined"),
    ({"result": {"action": "cancel"}}, False, "the user dismissed the question"),
    ({"result": {"action": "accept", "content": {"decision": "maybe"}}}, False,
     "not one of the choices"),
    ({"result": {"action": "accept"}}, False, "has no decision"),
    ({"error": {"code": -1, "message": "no UI"}}, False, "could not ask its user (no UI)"),
])
def test_elicitation(env, answer, allowed, reason):
    s = env.server("  approver: elicitation", capabilities=ELICIT)
    asked, r = call_and_elicit(s, {"command": "echo \u202eelicited\r"}, lambda p: answer)
    p = asked["params"]
    assert p["requestedSchema"] == {
        "type": "object",
        "properties": {"decision": {
            "type": "string", "title": "Decision", "description": p["requestedSchema"]
            ["properties"]["decision"]["description"],
            "enum": ["allow_once", "allow_always", "deny"],
            "enumNames": ["Allow once", "Allow always", "Deny"]}},
        "required": ["decision"]}
    # What the person reads shows the invisible characters.
    assert "echo \\u{202e}elicited\\x0d" in p["message"]
    assert "It can reach: /work (tmpfs), /data (tmpfs); network: none" in p["message"]
    assert r["result"]["isError"] is (not allowed)
    a = env.last_audit()
    # A client that answers nothing usable is a failed approver: nobody decided.
    failed = reason and ("choices" in reason or "no decision" in reason or "could not" in reason)
    assert a["decided_by"] == ("none" if failed else "elicitation")
    assert a["approver"] == "the client's user (elicitation)"
    assert a["decision"] == ("allow" if allowed else "deny")
    if reason:
        assert reason in text(r) and reason in a["reason"]


def test_elicitation_always(env):
    s = env.server("  approver: elicitation", capabilities=ELICIT)
    answer = {"result": {"action": "accept", "content": {"decision": "allow_always"}}}
    _, r = call_and_elicit(s, {"command": "echo learned"}, lambda p: answer)
    assert r["result"]["isError"] is False
    env.last_audit()
    r = s.call("shell.run", {"command": "echo learned"})
    assert r["result"]["isError"] is False
    assert env.last_audit()["decided_by"] == "rule"


def test_elicitation_needs_the_capability(env):
    s = env.server("  approver: elicitation")
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] and "the client did not declare the elicitation capability" in text(r)
    env.last_audit()


def test_elicitation_timeout_then_late_answer(env):
    s = env.server("  approver: elicitation", capabilities=ELICIT, timeout="1s")
    s.send({"jsonrpc": "2.0", "id": "call", "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": "echo x"}}})
    asked, cancels = None, []
    while True:
        m = s.recv()
        if m.get("method") == "elicitation/create":
            asked = m
        elif m.get("method") == "notifications/cancelled":
            cancels.append(m["params"]["requestId"])
        elif m.get("id") == "call":
            break
    assert m["result"]["isError"] and "gave no answer within 1 s" in text(m)
    # The client was told to take the question away (it came before the result).
    assert cancels == [asked["id"]]
    # The late answer is dropped; nothing runs.
    s.send({"jsonrpc": "2.0", "id": asked["id"],
            "result": {"action": "accept", "content": {"decision": "allow_once"}}})
    assert s.request("ping")["result"] == {}
    a = env.last_audit()
    assert a["decision"] == "deny"


# ---------------------------------------------------------------- fs tools, tool rules

def test_tool_rules_apply_to_fs_tools(env):
    s = env.server("  tools: {fs.read: deny, fs.write: ask}\n" + env.approver("deny"))
    r = s.call("fs.read", {"path": "/work/x"})
    assert r["result"]["isError"] and "approval.tools.fs.read: deny" in text(r)
    a = env.last_audit()
    assert a["tool"] == "fs.read" and a["decision"] == "deny" and a["decided_by"] == "rule"
    r = s.call("fs.write", {"path": "/work/x", "content": "secret text"})
    assert r["result"]["isError"] and "denied this call" in text(r)
    (_, q), = env.questions()
    assert q["tool"] == "fs.write" and q["arguments"]["path"] == "/work/x"
    assert "secret text" not in json.dumps(q)
    a = env.last_audit()
    assert a["tool"] == "fs.write" and a["decided_by"] == "approver"
    # fs tools without an entry are not asked about.
    s.call("fs.zones", {})
    a = env.last_audit()
    assert a["decision"] == "allow" and a["decided_by"] == "default"
    assert len(env.questions()) == 1


def test_shell_tool_rule(env):
    s = env.server("  tools: {shell.run: deny}")
    r = s.call("shell.run", {"argv": ["sleep", "1"]})
    assert r["result"]["isError"] and "approval.tools.shell.run: deny" in text(r)
    env.last_audit()


# ---------------------------------------------------------------- the audit log

def test_audit_appends_and_records_everything(env):
    with open(env.audit, "w") as f:
        f.write('{"earlier": true}\n')
    env.n_audit = 1
    s = env.server(default="allow", learned=False)
    s.call("shell.run", {"argv": ["echo", "hello"], "stdin": "x" * 10000})
    a = env.last_audit()
    check_audit_line(a)
    assert a["decision"] == "allow" and a["decided_by"] == "default"
    assert a["exit_code"] == 0 and a["bytes_out"] > 0
    assert a["arguments"]["argv"] == ["echo", "hello"]
    assert a["arguments"]["stdin"].endswith("(10000 bytes in all)")
    s.call("shell.run", {"argv": ["exit", "4"]})
    assert env.last_audit()["exit_code"] == 4
    s.call("shell.run", {"argv": ["rm", "x"]})
    a = env.last_audit()
    assert a["decision"] == "deny" and "error" in a and a["is_error"] is True
    with open(env.audit) as f:
        assert f.readline() == '{"earlier": true}\n'
    assert os.stat(env.audit).st_mode & 0o777 in (0o600, 0o644)


def test_audit_unwritable_refuses_calls(env, tmp_path):
    env.audit = str(tmp_path / "missing-dir" / "audit.jsonl")
    s = env.server(default="allow", learned=False)
    r = s.call("shell.run", {"argv": ["echo", "x"]})
    assert r["result"]["isError"]
    assert "cannot be opened" in text(r) and "does not run" in text(r)
    assert s.request("ping")["result"] == {}


def test_nothing_on_stdout_but_protocol(env):
    s = env.server(env.approver("allow"))
    s.call("shell.run", {"command": "echo x"})
    # Every line the server wrote was JSON-RPC (recv would have failed otherwise); the
    # approver's stdout is its own pipe.
    assert s.request("ping")["result"] == {}
    env.last_audit()


# ---------------------------------------------------------------- --explain

def test_explain_cli(tmp_path):
    cfg = tmp_path / "z.yaml"
    cfg.write_text("sandbox: {zones: [{name: work, mode: tmpfs}]}\n"
                   "approval:\n  default: ask\n  rules:\n    - allow: [ls]\n    - deny: [rm]\n")
    out = subprocess.run([BIN, "--config", str(cfg), "--explain",
                          "ls -la; rm -rf /work && echo $(id) > /work/x"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    t = out.stdout
    assert "1. command: ls -la\n     allowed by approval.rules[0] (%s:5:7): allow \"ls\"" % cfg in t, t
    assert "2. command: rm -rf /work\n     denied by approval.rules[1]" in t
    assert "not understood: $(id)" in t and "redirection: >/work/x" in t
    assert t.rstrip().endswith("verdict: deny")
    out = subprocess.run([BIN, "--explain", "ls"], capture_output=True, text=True, timeout=10,
                         cwd=tmp_path)
    assert out.returncode == 0 and "verdict: allow" in out.stdout


# ---------------------------------------------------------------- zonebox-approve

def approve_config(env):
    return "  approver: {command: [%s]}" % json.dumps(APPROVE_BIN)


def test_zonebox_approve_without_a_terminal(env, monkeypatch):
    # start_new_session: no controlling terminal for the server, so none for its approver.
    orig = subprocess.Popen

    def popen(*a, **kw):
        kw["start_new_session"] = True
        return orig(*a, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    s = env.server(approve_config(env))
    monkeypatch.setattr(subprocess, "Popen", orig)
    r = s.call("shell.run", {"command": "echo x"})
    assert r["result"]["isError"] and "no terminal" in text(r)
    a = env.last_audit()
    assert a["approver"] == "zonebox-approve" and "no terminal" in a["reason"]


class Pty:
    def __init__(self):
        self.master, self.slave = pty.openpty()
        self.name = os.ttyname(self.slave)
        self.buf = b""

    def preexec(self):
        os.setsid()
        fd = os.open(self.name, os.O_RDWR)  # the first tty a session leader opens is its own
        os.close(fd)

    def read_until(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no %r on the terminal; it shows:\n%s" % (marker, self.buf.decode(errors="replace"))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                self.buf += os.read(self.master, 65536)
        shown = self.buf.decode(errors="replace")
        self.buf = b""
        return shown

    def type(self, s):
        os.write(self.master, s.encode())


@pytest.fixture
def tty_server(env, monkeypatch):
    if not os.access(APPROVE_BIN, os.X_OK):
        pytest.skip("zonebox-approve is not built next to %s" % BIN)
    t = Pty()
    orig = subprocess.Popen

    def popen(*a, **kw):
        kw["preexec_fn"] = t.preexec
        return orig(*a, **kw)
    monkeypatch.setattr(subprocess, "Popen", popen)
    s = env.server(approve_config(env), timeout="20s")
    monkeypatch.setattr(subprocess, "Popen", orig)
    yield s, t
    # The server goes before its terminal, which would hang it up.
    assert s.stop() is None
    os.close(t.master)
    os.close(t.slave)


def start_call(s, rid, command):
    s.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"command": command}}})


def test_zonebox_approve_on_a_terminal(env, tty_server):
    s, t = tty_server
    start_call(s, 1, "echo from-tty\r")
    shown = t.read_until("Allow?")
    assert "zonebox: approval needed" in shown
    lines = shown.split("\r\n")
    assert "  command:   echo from-tty\\x0d" in lines
    assert "reaches:   /work (tmpfs), /data (tmpfs); network: none" in shown
    assert "[a] always" in shown
    t.type("y\n")
    r = s.recv_response()
    assert r["id"] == 1 and r["result"]["isError"] is False
    a = env.last_audit()
    assert a["approver"] == "zonebox-approve" and a["reason"] == "allowed at the terminal"

    start_call(s, 2, "echo again")
    t.read_until("Allow?")
    t.type("what\n")
    t.read_until("Please answer y, a or n")
    t.type("n\n")
    r = s.recv_response()
    assert r["id"] == 2 and r["result"]["isError"] and "denied at the terminal" in text(r)
    env.last_audit()

    start_call(s, 3, "echo always")
    t.read_until("Allow?")
    t.type("a\n")
    assert s.recv_response()["result"]["isError"] is False
    env.last_audit()
    assert s.call("shell.run", {"command": "echo always"})["result"]["isError"] is False
    assert env.last_audit()["decided_by"] == "rule"


def test_zonebox_approve_withdrawn_question(env, tty_server):
    s, t = tty_server
    start_call(s, 1, "echo slow")
    t.read_until("Allow?")
    s.notify("notifications/cancelled", {"requestId": 1})
    t.read_until("withdrew this question: cancelled)")
    env.last_audit()
    # The next question is asked normally.
    start_call(s, 2, "echo next")
    t.read_until("Allow?")
    t.type("y\n")
    assert s.recv_response()["result"]["isError"] is False
    env.last_audit()
