"""SECURITY-CASES 30 and 33: attacks on the approval layer.

30. Commands that hide a second command behind an allowed one (`ls; rm -rf /work`,
    `ls && curl x`, `ls | sh`, substitutions, `find -exec`, `env rm`, `git -c`, newlines, ...):
    each sub-command is judged, and none slips through an `ls` allow rule or the built-in
    read-only allowlist.
33. The approver crashes, hangs or answers garbage: the call is denied and the server goes on.

"Refused" means: an isError result, no structuredContent (nothing ran), the audit log saying
deny, and the server still serving. These run on the null backend (the approval layer is the
same for every backend); when the namespace sandbox is usable, the case-30 table also runs
against it with a canary file in the zone that must survive."""
import importlib.util
import json
import os
import shutil
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "zb_integration_conftest_approval", os.path.join(HERE, "..", "integration", "conftest.py"))
zbc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zbc)
server_factory = zbc.server_factory  # the fixture

# Each must be refused under a config that allows `ls` (and the built-in allowlist).
ATTACKS = [
    "ls; rm -rf /work",
    "ls;rm -rf /work",
    "ls && curl x",
    "ls || curl x",
    "ls & rm -rf /work",
    "ls | sh",
    "ls | bash",
    "echo rm -rf /work | sh",
    "ls | xargs rm -rf",
    "ls $(rm -rf /work)",
    "ls \"$(rm -rf /work)\"",
    "ls `rm -rf /work`",
    "ls $(echo $(rm -rf /work))",
    "ls <(rm -rf /work)",
    "ls >(rm -rf /work)",
    "ls ${x[$(rm -rf /work)]}",
    "echo ${x@P}",
    "echo $((x[$(id)]))",
    "find . -exec rm -rf {} \\;",
    "find . -exec rm -rf {} +",
    "find . -execdir sh -c 'rm -rf /work' \\;",
    "find . -delete",
    "find / -fprint /work/x",
    "env rm -rf /work",
    "env -S 'rm -rf /work'",
    "env -u $E ls rm -rf /work",
    "env -i -- - rm -rf /work",
    "timeout [0-9]* ls rm -rf /work",
    "nice -n $N ls rm -rf /work",
    "stdbuf -o $M ls rm -rf /work",
    "env PATH=/work ls",
    "env LD_PRELOAD=/work/x.so ls",
    "LD_PRELOAD=/work/x.so ls",
    "PATH=/work:$PATH ls",
    "BASH_ENV=/work/x ls",
    "git -c core.pager='rm -rf /work' log",
    "git -c core.fsmonitor='rm -rf /work' status",
    "git --exec-path=/work diff",
    "git diff --output=/work/x",
    "git log --ext-diff",
    "git log --output /work/x",
    "ls\nrm -rf /work",
    "ls\r\nrm -rf /work",
    "ls\n\n\nrm -rf /work",
    "ls \\\n; rm -rf /work",
    "ls # \nrm -rf /work",
    "ls\\;rm -rf /work",
    "ls ';' ; rm -rf /work",
    "l\\s; rm -rf /work",
    "ls\u00a0-la",
    "l\u0455",
    "ls\u202e",
    "sort -o /work/x /etc/passwd",
    "sort /etc/passwd -o/work/x",
    "sort -uo /work/x /etc/passwd",
    "sort --compress-program=sh /etc/passwd",
    "sort $OPTS /etc/passwd",
    "tree -o /work/x",
    "uniq /etc/passwd /work/x",
    "rg --pre 'rm -rf /work' x",
    "timeout 1 rm -rf /work",
    "nice -n 1 rm -rf /work",
    "nohup rm -rf /work &",
    "command rm -rf /work",
    "exec rm -rf /work",
    "setsid rm -rf /work",
    "stdbuf -oL rm -rf /work",
    "timeout 5 nice env nohup rm -rf /work",
    "cat /etc/passwd > /work/x",
    "ls > /work/x",
    "ls >> /work/x",
    "echo x >| /work/x",
    "ls 1<>/work/x",
    "ls &> /work/x",
    "eval 'rm -rf /work'",
    ". /work/x.sh",
    "source /work/x.sh",
    "trap 'rm -rf /work' EXIT",
    "alias ls='rm -rf /work'; ls",
    "export PATH=/work; ls",
    "PATH=/work; ls",
    "set -a; ls",
    "ls(){ rm -rf /work; }; ls",
    "{ rm -rf /work; }",
    "(rm -rf /work)",
    "( ls )",
    "if true; then rm -rf /work; fi",
    "for f in /work/*; do rm -rf $f; done",
    "[[ -f x ]] && rm -rf /work",
    "/work/ls",
    "./ls",
    "/tmp/ls",
    "/usr/bin/../../work/ls",
    "$X",
    "$X -la",
    "${PATH:0:1}bin/rm -rf /work",
    "{ls,-la}",
    "\"/bin/sh\" -c 'rm -rf /work'",
    "sh -c ls",
    "busybox rm -rf /work",
    "python3 -c 'import shutil; shutil.rmtree(\"/work\")'",
    "perl -e 'unlink glob \"/work/*\"'",
    "awk 'BEGIN{system(\"rm -rf /work\")}'",
    "awk 'BEGIN{print \"x\" > \"/work/x\"}'",
    "cat <<EOF\n$(rm -rf /work)\nEOF",
    "cat <<EOF\nx\nEOF\nrm -rf /work",
    "cat <<< x",
    "ls |& rm -rf /work",
    "ls 'unterminated; rm -rf /work",
    "ls \"unterminated; rm -rf /work",
    "; rm -rf /work",
    "ls && ",
    "ls " + "a " * 50000 + "; rm -rf /work",
    "ls; " * 2000 + "rm -rf /work",
]

# Refused argv calls.
ARGV_ATTACKS = [
    ["sh", "-c", "rm -rf /work"],
    ["bash", "-c", "ls"],
    ["env", "rm", "-rf", "/work"],
    ["timeout", "1", "rm", "-rf", "/work"],
    ["find", ".", "-exec", "rm", "{}", ";"],
    ["git", "-c", "core.pager=x", "log"],
    ["sort", "-o", "/work/x", "/etc/passwd"],
    ["/work/ls"],
    ["ls;rm"],
    ["ls\u0000", "x"],
]

# Still allowed: the splitter does not refuse what only looks dangerous.
HARMLESS = [
    "ls",
    "ls -la /work",
    "ls ';' rm -rf /work",
    "ls \"&&\" curl x",
    "ls '$(rm -rf /work)'",
    "ls \\$\\(rm\\)",
    "ls # ; rm -rf /work",
    "ls 2>&1",
    "ls 2>/dev/null >/dev/null",
    "timeout 5 ls",
    "env ls",
    "/bin/ls",
    "cat <<'EOF'\n$(rm -rf /work)\nEOF",
    "git log --oneline",
    "sort -k2 /etc/passwd",
    "find . -name '*.c'",
    "set -e; ls",
    "cd /work && ls",
]


def refused(r):
    res = r["result"]
    return res["isError"] is True and "structuredContent" not in res


@pytest.fixture
def default_server(server_factory):
    """The built-in configuration (its read-only allowlist, default ask, no approver)."""
    s = server_factory(args=("--backend", "null"))
    s.initialize()
    return s


@pytest.fixture
def ls_server(server_factory, tmp_path):
    """Only `ls` allowed, an audit log; nothing else may run."""
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config="""
sandbox:
  backend: "null"
  zones: [{name: work, mode: tmpfs, size: 1M}]
approval:
  default: ask
  rules: [{allow: [ls]}]
audit: {path: %s}
""" % json.dumps(str(audit)))
    s.initialize()
    s.audit = audit
    return s


def audit_tail(path, n, timeout=5.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        if path.exists():
            # A line still being written has no newline yet: not counted.
            lines = [json.loads(l) for l in path.read_text().splitlines(keepends=True)
                     if l.endswith("\n") and l.strip()]
            if len(lines) >= n:
                break
        time.sleep(0.02)
    assert len(lines) >= n
    return lines


def test_case30_built_in_allowlist(default_server):
    s = default_server
    slipped = []
    for cmd in ATTACKS:
        r = s.call("shell.run", {"command": cmd})
        if not refused(r):
            slipped.append(cmd)
    assert not slipped, "allowed: %r" % slipped
    for argv in ARGV_ATTACKS:
        assert refused(s.call("shell.run", {"argv": argv})), argv
    for cmd in HARMLESS:
        r = s.call("shell.run", {"command": cmd})
        assert r["result"]["isError"] is False or "structuredContent" in r["result"], (cmd, r)
    assert s.request("ping")["result"] == {}


def test_case30_ls_rule_with_audit(ls_server):
    s = ls_server
    for cmd in ATTACKS:
        assert refused(s.call("shell.run", {"command": cmd})), cmd
    lines = audit_tail(s.audit, len(ATTACKS))
    assert all(a["decision"] == "deny" and a["exit_code"] is None for a in lines)
    assert s.call("shell.run", {"command": "ls -la"})["result"]["isError"] is False


def test_case30_explain_names_the_hidden_command(tmp_path):
    import subprocess
    cfg = tmp_path / "z.yaml"
    cfg.write_text("sandbox: {zones: [{name: work, mode: tmpfs}]}\n"
                   "approval: {rules: [{allow: [ls]}, {deny: [rm]}]}\n")
    out = subprocess.run([zbc.BIN, "--config", str(cfg), "--explain",
                          "ls $(rm -rf /work) | xargs rm"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0
    assert "inside (checked for deny rules): rm -rf /work" in out.stdout
    assert "judged as: rm … (and arguments from its input)" in out.stdout
    assert "verdict: deny" in out.stdout


def namespace_usable(server_factory, work, prefix=()):
    s = server_factory(config=NS_CONFIG % {"work": work}, prefix=prefix)
    s.initialize()
    r = s.call("shell.run", {"argv": ["ls", "/work"]})
    if r["result"]["isError"]:
        pytest.skip("the namespace sandbox is not usable here: %s"
                    % r["result"]["content"][0]["text"][:200])
    return s


NS_CONFIG = """
sandbox:
  backend: namespace
  limits: {timeout: 10s}
  zones: [{name: work, mode: rw, hostPath: %(work)s}]
approval:
  default: ask
  rules: [{allow: [ls, "ls *"]}]
"""


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_case30_in_the_namespace_sandbox(server_factory, user):
    prefix = ()
    if user == "nobody":
        if os.getuid() != 0 or not shutil.which("setpriv"):
            pytest.skip("running as uid 65534 needs root and setpriv")
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    work = tempfile.mkdtemp(prefix="zb-approval-canary-")
    try:
        canary = os.path.join(work, "canary")
        with open(canary, "w") as f:
            f.write("still here")
        os.chmod(work, 0o777)
        s = namespace_usable(server_factory, work, prefix)
        for cmd in ATTACKS[:60]:
            assert refused(s.call("shell.run", {"command": cmd})), cmd
        assert open(canary).read() == "still here"
        assert sorted(os.listdir(work)) == ["canary"]
        r = s.call("shell.run", {"command": "ls /work"})
        assert r["result"]["structuredContent"]["stdout"] == "canary\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- case 33

BAD_APPROVER = r'''#!/usr/bin/python3
import json, os, signal, sys, time
mode = sys.argv[1]
if mode == "exit-at-once":
    sys.exit(0)
if mode == "close-stdout":
    os.close(1)
    time.sleep(60)
for line in sys.stdin:
    q = json.loads(line)
    if "cancel" in q:
        continue
    out = {
        "crash": None, "segv": None, "hang": None,
        "garbage": "allow_once please\n",
        "huge": "x" * (2 << 20),
        "number-id": json.dumps({"id": 1, "decision": "allow_once"}) + "\n",
        "duplicate-keys": '{"id": "%s", "decision": "deny", "decision": "allow_once"}\n' % q["id"],
        "array": json.dumps([q["id"], "allow_once"]) + "\n",
        "extra-key": json.dumps({"id": q["id"], "decision": "allow_once", "run": "rm"}) + "\n",
        "upper": json.dumps({"id": q["id"], "decision": "ALLOW_ONCE"}) + "\n",
        "null": json.dumps({"id": q["id"], "decision": None}) + "\n",
        "nul-byte": '{"id": "%s", "decision": "allow_once\\u0000"}\n' % q["id"],
        "stderr-only": None,
    }[mode]
    if mode == "crash":
        os._exit(1)
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "stderr-only":
        sys.stderr.write("thinking...\n")
        continue
    if out is None:
        continue
    sys.stdout.write(out)
    sys.stdout.flush()
'''

BAD_MODES = ["exit-at-once", "close-stdout", "crash", "segv", "hang", "garbage", "huge",
             "number-id", "duplicate-keys", "array", "extra-key", "upper", "null", "nul-byte",
             "stderr-only"]


@pytest.mark.parametrize("mode", BAD_MODES)
def test_case33_bad_approver_denies(server_factory, tmp_path, mode):
    script = tmp_path / "bad.py"
    script.write_text(BAD_APPROVER)
    script.chmod(0o755)
    audit = tmp_path / "audit.jsonl"
    s = server_factory(config="""
sandbox:
  backend: "null"
  zones: [{name: work, mode: tmpfs, size: 1M}]
approval:
  default: ask
  timeout: 1s
  rules: [{allow: [sleep]}]
  approver: {command: [%s, %s]}
audit: {path: %s}
""" % (json.dumps(str(script)), json.dumps(mode), json.dumps(str(audit))))
    s.initialize()
    t = time.monotonic()
    for i in range(2):
        r = s.call("shell.run", {"command": "echo %d" % i})
        assert refused(r), (mode, r)
        assert "was not run" in r["result"]["content"][0]["text"] or \
            "it was denied and not run" in r["result"]["content"][0]["text"]
    assert time.monotonic() - t < 8
    # The server goes on: protocol, and calls the rules allow.
    assert s.request("ping")["result"] == {}
    assert s.call("shell.run", {"argv": ["sleep", "1"]})["result"]["isError"] is False
    lines = audit_tail(audit, 3)
    assert [a["decision"] for a in lines] == ["deny", "deny", "allow"]
    assert lines[0]["decided_by"] == "none" and lines[2]["decided_by"] == "rule"


def test_case33_elicitation_garbage(server_factory):
    s = server_factory(config="""
sandbox:
  backend: "null"
  zones: [{name: work, mode: tmpfs, size: 1M}]
approval:
  default: ask
  timeout: 1s
  approver: elicitation
""")
    r = s.request("initialize", {"protocolVersion": "2025-11-25",
                                 "capabilities": {"elicitation": {}},
                                 "clientInfo": {"name": "evil", "version": "1"}})
    assert "result" in r
    answers = [{"result": "allow_once"}, {"result": {"action": "allow_once"}},
               {"result": {"action": "accept", "content": "allow_once"}},
               {"result": {"action": "accept", "content": {"decision": ["allow_once"]}}},
               {"error": {"code": 1, "message": "x"}}, None]
    for i, answer in enumerate(answers):
        s.send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": "shell.run", "arguments": {"command": "echo x"}}})
        while True:
            m = s.recv(timeout=10)
            if m.get("method") == "elicitation/create":
                if answer is not None:
                    msg = {"jsonrpc": "2.0", "id": m["id"]}
                    msg.update(answer)
                    s.send(msg)
            elif m.get("id") == i:
                assert refused(m), (answer, m)
                break
    assert s.request("ping")["result"] == {}
