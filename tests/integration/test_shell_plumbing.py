"""shell.run's server-side plumbing (timeouts, output caps, cancellation, progress,
concurrency, approval refusals), exercised with the null backend so that it runs anywhere."""
import json
import time

import pytest

NULL_CONFIG = """
sandbox:
  backend: "null"
  limits: {timeout: 5s, output: %(output)s}
  zones:
    - {name: work, mode: tmpfs, size: 1M}
    - {name: other, mode: tmpfs, size: 1M}
approval:
  default: %(default)s
  rules:
    - {deny: ["rm"]}
    - {allow: ["echo", "sleep", "spew", "hex", "cat", "env", "pwd", "crash", "exit", "stderr"]}
    # Call env variables count as assignments in front of the command: only a rule that
    # names them allows it.
    - {allow: ["FOO=bar env"]}
"""


@pytest.fixture
def nullsrv(server_factory):
    def make(output="1M", default="ask"):
        s = server_factory(config=NULL_CONFIG % {"output": output, "default": default})
        s.initialize()
        return s
    return make


def structured(r):
    res = r["result"]
    assert json.loads(res["content"][0]["text"].splitlines()[-1]) == res["structuredContent"]
    return res["structuredContent"]


def test_argv_and_fields(nullsrv):
    s = nullsrv()
    r = s.call("shell.run", {"argv": ["echo", "hello", "world"]})
    out = structured(r)
    assert r["result"]["isError"] is False
    assert out["stdout"] == "hello world\n" and out["stderr"] == ""
    assert out["exit_code"] == 0 and out["signal"] is None and out["timed_out"] is False
    assert out["stdout_truncated"] is False and isinstance(out["duration_ms"], int)


def test_nonzero_exit_is_data(nullsrv):
    r = nullsrv().call("shell.run", {"argv": ["exit", "3"]})
    assert r["result"]["isError"] is False and structured(r)["exit_code"] == 3


def test_stdin_cwd_env(nullsrv):
    s = nullsrv()
    assert structured(s.call("shell.run", {"argv": ["cat"], "stdin": "abc\u00e9"}))["stdout"] == "abc\u00e9"
    assert structured(s.call("shell.run", {"argv": ["pwd"]}))["stdout"] == "/work\n"
    assert structured(s.call("shell.run", {"argv": ["pwd"], "cwd": "sub"}))["stdout"] == "/work/sub\n"
    assert structured(s.call("shell.run", {"argv": ["pwd"], "cwd": "/other/x"}))["stdout"] == "/other/x\n"
    r = s.call("shell.run", {"argv": ["pwd"], "cwd": "/etc"})
    assert r["result"]["isError"] and "outside every zone" in r["result"]["content"][0]["text"]
    env = structured(s.call("shell.run", {"argv": ["env"], "env": {"FOO": "bar"}}))["stdout"]
    lines = env.splitlines()
    assert "FOO=bar" in lines and "LANG=C.UTF-8" in lines and "HOME=/work" in lines
    assert not any(l.startswith("ZONEBOX_BIN=") or l.startswith("PYTHONPATH=") for l in lines)
    r = s.call("shell.run", {"argv": ["env"], "env": {"BAD-NAME": "x"}})
    assert r["result"]["isError"]


def test_command_and_argv_exclusive(nullsrv):
    r = nullsrv().call("shell.run", {"command": "echo hi", "argv": ["echo"]})
    assert r["error"]["code"] == -32602


def test_output_cap_keeps_head_and_tail(nullsrv):
    s = nullsrv(output="64k")
    out = structured(s.call("shell.run", {"argv": ["spew", "1000000"]}))
    assert out["stdout_truncated"] is True
    assert "bytes omitted" in out["stdout"]
    assert len(out["stdout"]) < 70000
    assert out["stdout"].startswith("y\ny\n") and out["stdout"].endswith("y\n")


def test_invalid_utf8_repaired(nullsrv):
    out = structured(nullsrv().call("shell.run", {"argv": ["hex", "41ff42c3"]}))
    assert out["stdout"] == "A\ufffdB\ufffd"


def test_timeout_is_error_with_data(nullsrv):
    s = nullsrv()
    t = time.monotonic()
    r = s.call("shell.run", {"argv": ["sleep", "10000"], "timeout_ms": 200})
    assert time.monotonic() - t < 3
    res = r["result"]
    assert res["isError"] is True and "timed out after 200 ms" in res["content"][0]["text"]
    assert res["structuredContent"]["timed_out"] is True


def test_config_caps_timeout(nullsrv):
    r = nullsrv().call("shell.run", {"argv": ["sleep", "60000"], "timeout_ms": 600000}, timeout=20)
    assert r["result"]["structuredContent"]["timed_out"] is True
    assert "5000 ms" in r["result"]["content"][0]["text"]


def test_cancel_sends_no_response(nullsrv):
    s = nullsrv()
    s.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"argv": ["sleep", "3000"]}}})
    time.sleep(0.1)
    s.notify("notifications/cancelled", {"requestId": "slow", "reason": "test"})
    r = s.request("ping")
    assert r["result"] == {}
    # Nothing for "slow" arrives, even after its sleep would have ended.
    s.send({"jsonrpc": "2.0", "id": "late", "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"argv": ["sleep", "3500"]}}})
    m = s.recv_response(timeout=10)
    assert m["id"] == "late"


def test_progress_streams_output(nullsrv):
    s = nullsrv()
    s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"argv": ["echo", "streamed"]},
                       "_meta": {"progressToken": "tok"}}})
    notes = []
    while True:
        m = s.recv()
        if m.get("method") == "notifications/progress":
            notes.append(m["params"])
        elif m.get("id") == 1:
            break
    assert notes and notes[0]["progressToken"] == "tok"
    assert "streamed" in "".join(n.get("message", "") for n in notes)


def test_50_parallel_calls_answered_out_of_order(nullsrv):
    s = nullsrv()
    for i in range(50):
        s.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": "shell.run",
                           "arguments": {"argv": ["sleep", str(500 - i * 10)]}}})
    t = time.monotonic()
    order = [s.recv_response()["id"] for _ in range(50)]
    assert time.monotonic() - t < 2.5  # concurrent, not 50 x sleep
    assert sorted(order) == list(range(50)) and order != list(range(50))


def test_duplicate_inflight_id_refused(nullsrv):
    s = nullsrv()
    call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"argv": ["sleep", "300"]}}}
    s.send(call)
    s.send(call)
    first = s.recv_response()
    assert first["error"]["code"] == -32600 and "already in use" in first["error"]["message"]
    assert s.recv_response()["result"]["isError"] is False


def test_crashed_sandbox_reported_and_rebuilt(nullsrv):
    s = nullsrv()
    r = s.call("shell.run", {"argv": ["crash"]})
    assert r["result"]["isError"] and "sandbox failed" in r["result"]["content"][0]["text"]
    assert structured(s.call("shell.run", {"argv": ["echo", "again"]}))["stdout"] == "again\n"


def test_approval_refusals(nullsrv):
    s = nullsrv()
    r = s.call("shell.run", {"argv": ["rm", "-rf", "/work"]})
    assert r["result"]["isError"] and "denied" in r["result"]["content"][0]["text"]
    # Each simple command is judged: the denied one denies the whole call.
    r = s.call("shell.run", {"command": "echo hi; rm -rf /work"})
    text = r["result"]["content"][0]["text"]
    assert r["result"]["isError"] and "denied" in text and "`rm -rf /work`" in text
    r = s.call("shell.run", {"argv": ["unknown-cmd"]})
    text = r["result"]["content"][0]["text"]
    assert r["result"]["isError"] and "no allow rule matches" in text
    assert "approval.default is ask" in text and "no approver is configured" in text
    assert structured(s.call("shell.run", {"command": "echo plain words"}))["stdout"] == "plain words\n"


def test_default_allow_still_honours_deny(nullsrv):
    s = nullsrv(default="allow")
    assert s.call("shell.run", {"argv": ["rm", "x"]})["result"]["isError"]
    # Unjudgeable shell text may hide the denied command: refused too.
    assert s.call("shell.run", {"command": "echo x | rm y"})["result"]["isError"]


def test_eof_mid_call_exits_cleanly(nullsrv):
    s = nullsrv()
    s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "shell.run", "arguments": {"argv": ["sleep", "30000"]}}})
    time.sleep(0.1)
    s.close_stdin()
    assert s.wait(timeout=5) == 0


def test_fs_tools_refuse_tmpfs_zone(nullsrv):
    r = nullsrv().call("fs.read", {"path": "/work/x"})
    assert r["result"]["isError"] and "tmpfs" in r["result"]["content"][0]["text"]
