"""Configuration through the binary: a bad file exits 2 with file:line:column and nothing
started; --check-config validates without starting; --zone adds zones."""
import os
import re
import subprocess

import pytest

from conftest import BIN


def run(args, cwd=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=10)


def write(tmp_path, text):
    p = tmp_path / "zonebox.yaml"
    p.write_text(text)
    return str(p)


DESIGN_EXAMPLE = """\
sandbox:
  backend: namespace          # namespace | docker | wasm
  image: alpine:latest        # docker only
  runtime: wasmtime           # wasm only: wasmtime, or node (Node.js WASI)
  network: none               # none | host | allow: [domains]  (allow = through a filtering proxy)
  session: persistent         # persistent: one sandbox per MCP session; per-call: fresh each call
  limits: {timeout: 30s, memory: 512M, pids: 256, cpu: 1.0, output: 1M}
  zones:
    - {name: input,   mode: ro,    hostPath: ./data}
    - {name: output,  mode: rw,    hostPath: ./output, protect: [.git/hooks]}
    - {name: scratch, mode: tmpfs, size: 64M}
approval:
  default: ask                # allow | ask | deny, for commands that no rule matches
  rules:
    - {allow: ["ls", "cat", "git status", "git diff *"]}
    - {deny:  ["curl *", "wget *"]}
  approver: {command: ["zonebox-approve"]}   # or: elicitation
tools: {names: dotted}        # dotted (shell.run) | underscore (shell_run)
audit: {path: ./zonebox-audit.jsonl}
"""


def test_design_example_loads_as_written(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "output").mkdir()
    path = write(tmp_path, DESIGN_EXAMPLE)
    p = run(["--check-config", path])
    assert p.returncode == 0, p.stderr
    assert "ok" in p.stdout and "3 zones" in p.stdout


@pytest.mark.parametrize("text,line,col,phrase", [
    ("sandbox:\n  zonez: []\n", 2, 3, "zonez"),
    ("sandbox:\n  limits: {timeout: soon}\n", 2, 21, "timeout"),
    ("sandbox:\n  zones:\n    - {name: a, mode: rw, hostPath: /nonexistent/zb}\n", 3, None,
     "/nonexistent/zb"),
    ("sandbox:\n  zones:\n    - {name: a, mode: tmpfs}\n    - {name: a, mode: tmpfs}\n", 4,
     None, "already used"),
    ("sandbox:\n  zones:\n    - {name: a, mode: sideways, hostPath: .}\n", 3, None, "mode"),
    ("sandbox: [1, 2]\n", 1, 10, "sandbox"),
    ("sandbox:\n  backend: [x]\n", 2, 12, "backend"),
    ("approval:\n  default: perhaps\n", 2, 12, "default"),
    ("key: [unclosed\n", None, None, ""),
])
def test_bad_config_exits_2_with_position(tmp_path, text, line, col, phrase):
    path = write(tmp_path, text)
    for args in (["--config", path], ["--check-config", path]):
        p = run(args, cwd=str(tmp_path))
        assert p.returncode == 2, (args, p.stderr)
        assert p.stdout == ""  # nothing started: no protocol output
        m = re.search(re.escape(path) + r":(\d+):(\d+): ", p.stderr)
        assert m, p.stderr
        if line is not None:
            assert int(m.group(1)) == line, p.stderr
        if col is not None:
            assert int(m.group(2)) == col, p.stderr
        assert phrase in p.stderr


def test_missing_config_file(tmp_path):
    p = run(["--config", str(tmp_path / "nope.yaml")])
    assert p.returncode == 2 and "nope.yaml" in p.stderr


def test_zone_flag(tmp_path):
    (tmp_path / "a").mkdir()
    p = run(["--check-config", write(tmp_path, "sandbox:\n  zones:\n    - {name: s, mode: tmpfs}\n"),
             "--zone", "extra=%s:ro" % (tmp_path / "a")])
    assert p.returncode == 0 and "2 zones" in p.stdout, p.stderr
    for bad in ("noequals", "=/tmp", "x=/nonexistent/zb", "Bad Name=/tmp"):
        p = run(["--zone", bad])
        assert p.returncode == 2, bad
        assert "zone" in p.stderr


def test_zone_flag_replaces_default_work(tmp_path, server_factory):
    (tmp_path / "proj").mkdir()
    s = server_factory(args=["--zone", "proj=%s" % (tmp_path / "proj"), "--backend", "null"])
    s.initialize()
    # fs.zones is not implemented yet, but shell.run's cwd check knows the zones.
    r = s.call("shell.run", {"argv": ["pwd"], "cwd": "/work"})
    assert r["result"]["isError"] and "/proj" in r["result"]["content"][0]["text"]


@pytest.mark.parametrize("outer_mode,inner_mode,refused", [
    ("rw", "ro", True), ("rw", "rw", True), ("ro", "ro", False), ("ro", "rw", False),
])
def test_zone_inside_rw_zone_refused(tmp_path, outer_mode, inner_mode, refused):
    (tmp_path / "proj" / "data").mkdir(parents=True)
    path = write(tmp_path, "sandbox:\n  zones:\n"
                 "    - {name: work, mode: %s, hostPath: ./proj}\n"
                 "    - {name: data, mode: %s, hostPath: ./proj/data}\n" % (outer_mode, inner_mode))
    p = run(["--check-config", path])
    if refused:
        assert p.returncode == 2 and "inside zone work, which is read-write" in p.stderr
        assert ":4:" in p.stderr  # points at the inner zone's hostPath
    else:
        assert p.returncode == 0, p.stderr


def test_same_folder_twice_and_symlinked_path_refused(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "proj")
    path = write(tmp_path, "sandbox:\n  zones:\n"
                 "    - {name: work, mode: rw, hostPath: ./proj}\n"
                 "    - {name: other, mode: ro, hostPath: ./alias}\n")
    p = run(["--check-config", path])
    assert p.returncode == 2 and "the same folder as zone work" in p.stderr
