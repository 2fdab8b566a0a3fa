"""Drives the built zonebox binary over pipes, as an MCP client would.

ZONEBOX_BIN selects the binary (default: build/zonebox). Every test gets a fresh server
process; stderr is kept for the failure report."""
import json
import os
import select
import signal
import subprocess
import tempfile
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.environ.get("ZONEBOX_BIN", os.path.join(TOP, "build", "zonebox")))
# Every result is checked against its tool's outputSchema (off by default, for speed).
os.environ.setdefault("ZONEBOX_CHECK_OUTPUT", "1")


class Server:
    def __init__(self, args=(), config=None, cwd=None, env=None, prefix=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="zb-it-")
        # Readable by the unprivileged user a `prefix` (setpriv) may switch to.
        os.chmod(self.tmp.name, 0o755)
        argv = [*prefix, BIN, "--log-level", "warning", *args]
        if config is not None:
            path = os.path.join(self.tmp.name, "zonebox.yaml")
            with open(path, "w") as f:
                f.write(config)
            argv += ["--config", path]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=cwd or self.tmp.name,
                                     env=env or os.environ.copy())
        self.buf = b""
        self.next_id = 1
        self.expect_failure = False

    # -- raw I/O
    def send_raw(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg).encode() + b"\n")

    def read_line(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from zonebox within %.1fs; stderr:\n%s"
                                   % (timeout, self.stderr_text()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise EOFError("zonebox closed stdout; stderr:\n" + self.stderr_text())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self, timeout=10.0):
        return json.loads(self.read_line(timeout))

    def recv_response(self, timeout=10.0):
        """The next message that is not a notification."""
        while True:
            m = self.recv(timeout)
            if "method" not in m:
                return m

    def request(self, method, params=None, timeout=10.0):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            m = self.recv_response(timeout)
            if m.get("id") == rid:
                return m

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize(self, version="2025-11-25"):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "pytest", "version": "1"}})
        assert "result" in r, r
        self.notify("notifications/initialized")
        return r["result"]

    def call(self, name, arguments=None, timeout=30.0, meta=None):
        params = {"name": name, "arguments": arguments or {}}
        if meta:
            params["_meta"] = meta
        return self.request("tools/call", params, timeout=timeout)

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def stop(self):
        """Ends the server by closing stdin; returns a problem description or None."""
        problem = None
        if self.proc.poll() is None:
            self.close_stdin()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = "zonebox did not exit within 10 s of end of input"
        err = self.stderr_text()
        # Sanitizer builds report leaks and undefined behaviour on stderr (and LSan makes the
        # exit code 23): every test doubles as a leak check.
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "internal error"):
            if marker in err:
                problem = "zonebox reported %r:\n%s" % (marker, err)
        if problem is None and self.proc.returncode not in (0, -signal.SIGKILL) \
                and not self.expect_failure:
            problem = "zonebox exited with %s; stderr:\n%s" % (self.proc.returncode, err)
        self.tmp.cleanup()
        return problem


@pytest.fixture
def server_factory():
    servers = []

    def make(*args, **kw):
        s = Server(*args, **kw)
        servers.append(s)
        return s

    yield make
    problems = [p for p in (s.stop() for s in servers) if p]
    assert not problems, problems[0]


@pytest.fixture
def server(server_factory):
    s = server_factory()
    return s


@pytest.fixture
def ready(server):
    server.initialize()
    return server
