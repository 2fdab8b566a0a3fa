#!/usr/bin/python3
"""Core protocol costs of zonebox next to the reference MCP server, in one run.

zonebox ($ZONEBOX_BIN, default build/zonebox; started with --backend null in a fresh
temporary directory) and @modelcontextprotocol/server-filesystem (installed by
tests/bench/run.sh into tests/bench/node_modules; started on a temporary directory) are driven
the same way, over pipes, with newline-delimited JSON-RPC, by this process:

  start -> initialize response   median of 20 fresh starts: from just before the process is
                                 spawned (the initialize request is written at once) to the
                                 arrival of the complete response line
  idle RSS after initialize      VmRSS from /proc/PID/status, 0.5 s after initialize
  tools/list round trip          median of 200 sequential requests
  ping round trip, sequential    median of 1000 sequential requests
  ping, 10,000 pipelined         all written at once (by a second thread) while the replies
                                 are read; total time / 10,000
  peak RSS after pipelined run   VmHWM from /proc/PID/status

A round trip is timed to the arrival of the reply's last byte; JSON parsing by this client is
outside the clock. The client's own overhead (Python, pipes) is in every number, for both
servers alike; the floor measured with /bin/cat echoing the requests (in the notes) shows
its size.

Prints a Markdown table (progress goes to stderr). Not a pass/fail test: the target column
says whether zonebox meets each target. Python 3 standard library only.
"""
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import HERE, TOP, ZB_BIN, FS_PKG, FS_JS, ALL_CPUS, CLIENT_CPUS, SERVER_CPUS  # noqa: E402


STARTS = 20
LIST_N = 200
PING_N = 1000
PIPE_N = 10000
TIMEOUT = 30.0


INIT = {"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "zonebox-core-bench", "version": "1"}}


def line_of(msg):
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Peer:
    """One server process on pipes. Lines are read with their arrival time."""

    def __init__(self, argv, cwd, first=b""):
        self.stderr = tempfile.TemporaryFile()
        os.sched_setaffinity(0, SERVER_CPUS)  # inherited by the child
        self.t0 = time.perf_counter_ns()
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.stderr, cwd=cwd, bufsize=0)
        finally:
            os.sched_setaffinity(0, CLIENT_CPUS)
        self.fin = self.proc.stdin.fileno()
        self.fout = self.proc.stdout.fileno()
        self.buf = bytearray()
        self.lines = []  # (bytes, arrival ns) not yet taken
        if first:
            self.write(first)

    def write(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fin, view)
            view = view[n:]

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply within %.0f s from %s; stderr:\n%s"
                               % (TIMEOUT, self.proc.args[0], self.stderr_text()))
        r, _, _ = select.select([self.fout], [], [], left)
        if not r:
            return
        chunk = os.read(self.fout, 1 << 20)
        now = time.perf_counter_ns()
        if not chunk:
            raise EOFError("%s closed its stdout; stderr:\n%s"
                           % (self.proc.args[0], self.stderr_text()))
        self.buf += chunk
        start = 0
        while True:
            nl = self.buf.find(b"\n", start)
            if nl < 0:
                break
            self.lines.append((bytes(self.buf[start:nl]), now))
            start = nl + 1
        del self.buf[:start]

    def next_line(self):
        deadline = time.monotonic() + TIMEOUT
        while not self.lines:
            self._fill(deadline)
        return self.lines.pop(0)

    def reply(self, rid):
        """The response to request rid and its arrival time; notifications are skipped."""
        while True:
            raw, at = self.next_line()
            if not raw.strip():
                continue
            msg = json.loads(raw)
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") == rid:
                if "result" not in msg:
                    raise RuntimeError("%s answered %r" % (self.proc.args[0], msg))
                return msg, at, len(raw)

    def rtt(self, rid, method, params=None):
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        data = line_of(msg)
        t = time.perf_counter_ns()
        self.write(data)
        _, at, size = self.reply(rid)
        return (at - t) / 1000.0, size

    def status(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for row in f:
                if row.startswith(key + ":"):
                    return int(row.split()[1]) / 1024.0  # kB -> MiB
        raise KeyError(key)

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                code = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        self.stderr.close()
        return code


def initialize(argv, cwd):
    """A fresh start: spawn, initialize; returns (peer, ms from spawn to the response)."""
    p = Peer(argv, cwd, first=line_of({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                       "params": INIT}))
    res, at, _ = p.reply(0)
    if "protocolVersion" not in res["result"]:
        raise RuntimeError("bad initialize result from %s: %r" % (argv[0], res))
    return p, (at - p.t0) / 1e6


def pipelined(p, n, first_id):
    data = b"".join(line_of({"jsonrpc": "2.0", "id": first_id + i, "method": "ping"})
                    for i in range(n))
    got = []
    t = time.perf_counter_ns()
    writer = threading.Thread(target=p.write, args=(data,))
    writer.start()
    deadline = time.monotonic() + TIMEOUT
    while len(got) < n:
        while not p.lines:
            p._fill(deadline)
        got.extend(p.lines)
        p.lines.clear()
    end = got[n - 1][1]
    writer.join()
    ids = set()
    for raw, _ in got:
        m = json.loads(raw)
        if "method" not in m:
            assert m.get("result") == {}, m
            ids.add(m["id"])
    if ids != set(range(first_id, first_id + n)):
        raise RuntimeError("%s: %d of %d pipelined pings answered"
                           % (p.proc.args[0], len(ids), n))
    return (end - t) / 1000.0 / n


def bench(name, argv):
    """All the measurements for one server."""
    r = {}
    with tempfile.TemporaryDirectory(prefix="zb-bench-") as tmp:
        argv = [a.replace("{TMP}", tmp) for a in argv]
        log("%s: %d starts" % (name, STARTS))
        starts, codes = [], set()
        for _ in range(STARTS):
            p, ms = initialize(argv, tmp)
            starts.append(ms)
            codes.add(p.stop())
        r["start"] = statistics.median(starts)
        r["start_exit_codes"] = codes

        p, _ = initialize(argv, tmp)
        try:
            p.write(line_of({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            time.sleep(0.5)
            r["rss"] = p.status("VmRSS")
            log("%s: tools/list x%d" % (name, LIST_N))
            rid = 1
            lists = []
            for _ in range(LIST_N):
                us, size = p.rtt(rid, "tools/list")
                lists.append(us)
                rid += 1
            r["list"] = statistics.median(lists)
            r["list_bytes"] = size
            log("%s: ping x%d sequential" % (name, PING_N))
            pings = []
            for _ in range(PING_N):
                pings.append(p.rtt(rid, "ping")[0])
                rid += 1
            r["ping"] = statistics.median(pings)
            log("%s: ping x%d pipelined" % (name, PIPE_N))
            r["pipe"] = pipelined(p, PIPE_N, rid)
            r["hwm"] = p.status("VmHWM")
        finally:
            p.stop()
    return r


def cat_baseline():
    """What this client and the pipes cost without any server: /bin/cat echoing request lines.
    Returns (median ms from spawn to the first line back, median µs of a sequential echo)."""
    cat = shutil.which("cat") or "/bin/cat"
    req = line_of({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT})
    starts = []
    for _ in range(STARTS):
        p = Peer([cat], "/", first=req)
        _, at = p.next_line()
        starts.append((at - p.t0) / 1e6)
        p.stop()
    p = Peer([cat], "/")
    echoes = []
    for i in range(PING_N):
        data = line_of({"jsonrpc": "2.0", "id": i + 1, "method": "ping"})
        t = time.perf_counter_ns()
        p.write(data)
        _, at = p.next_line()
        echoes.append((at - t) / 1000.0)
    p.stop()
    return statistics.median(starts), statistics.median(echoes)


def zonebox_build():
    """buildtype and sanitizers of the build directory holding the binary, if it is one."""
    info = os.path.join(os.path.dirname(ZB_BIN), "meson-info", "intro-buildoptions.json")
    try:
        with open(info) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError, KeyError):
        return "unknown build"
    s = opts.get("buildtype", "?")
    if opts.get("b_sanitize", "none") != "none":
        s += ", sanitize=" + opts["b_sanitize"]
    return s


def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.split("\n")[0]
    except (OSError, subprocess.SubprocessError):
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for row in f:
                if row.startswith("model name"):
                    return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main():
    os.sched_setaffinity(0, CLIENT_CPUS)
    if not os.access(ZB_BIN, os.X_OK):
        sys.exit("core_bench: no zonebox binary at %s (build it, or set ZONEBOX_BIN)" % ZB_BIN)
    node = shutil.which("node")
    fs_ok = node is not None and os.path.exists(FS_JS)

    zb = bench("zonebox", [ZB_BIN, "--backend", "null", "--log-level", "warning"])
    fs = None
    fs_version = "not installed"
    if fs_ok:
        with open(os.path.join(FS_PKG, "package.json")) as f:
            fs_version = json.load(f)["version"]
        fs = bench("server-filesystem", [node, FS_JS, "{TMP}"])
    else:
        log("server-filesystem is not installed (tests/bench/run.sh installs it); zonebox only")
    base = cat_baseline()

    rows = [
        # key, metric, unit, format, target (value, text) or None
        ("start", "start → `initialize` response (median of %d starts)" % STARTS, "ms", "%.2f",
         (5.0, "≤ 5 ms")),
        ("rss", "idle RSS after `initialize` (VmRSS)", "MiB", "%.1f", (4.0, "≤ 4 MiB")),
        ("list", "`tools/list` round trip (median of %d sequential)" % LIST_N, "µs", "%.0f", None),
        ("ping", "`ping` round trip (median of %d sequential)" % PING_N, "µs", "%.1f", None),
        ("pipe", "`ping`, %s pipelined (total ÷ %s)" % (format(PIPE_N, ","), format(PIPE_N, ",")),
         "µs/ping", "%.2f", (50.0, "≤ 50 µs")),
        ("hwm", "peak RSS after the pipelined run (VmHWM)", "MiB", "%.1f", None),
    ]

    out = []
    out.append("zonebox core benchmark — %s, %d CPUs, Linux %s, node %s"
               % (cpu_model(), os.cpu_count() or 0, platform.release(),
                  version_of([node, "--version"]) if node else "none"))
    out.append("")
    out.append("zonebox: `%s` (%s; %s), `--backend null`. server-filesystem: "
               "@modelcontextprotocol/server-filesystem %s on node."
               % (os.path.relpath(ZB_BIN, TOP) if ZB_BIN.startswith(TOP) else ZB_BIN,
                  version_of([ZB_BIN, "--version"]), zonebox_build(), fs_version))
    out.append("")
    out.append("| metric | zonebox | server-filesystem | ratio | target |")
    out.append("| --- | ---: | ---: | ---: | --- |")
    for key, metric, unit, fmt, target in rows:
        z = zb[key]
        zs = (fmt % z) + " " + unit
        if fs is not None:
            fss = (fmt % fs[key]) + " " + unit
            ratio = "%.1f×" % (fs[key] / z) if z > 0 else "—"
        else:
            fss, ratio = "n/a", "—"
        if target:
            tgt = "%s: %s" % (target[1], "met" if z <= target[0] else "**missed**")
        else:
            tgt = "—"
        out.append("| %s | %s | %s | %s | %s |" % (metric, zs, fss, ratio, tgt))
    out.append("")
    out.append("ratio = server-filesystem ÷ zonebox (every metric is lower-is-better, so "
               "above 1× zonebox is ahead).")
    notes = ["floor, measured with `/bin/cat` echoing the requests back instead of a server: "
             "%.2f ms from spawn to the first line back, %.1f µs per sequential round trip "
             "(mostly process wake-up latency on this machine)" % base,
             "CPUs: " + ("client on CPU %s, servers on CPU %s" % (
                 ",".join(map(str, sorted(CLIENT_CPUS))), ",".join(map(str, sorted(SERVER_CPUS))))
                 if CLIENT_CPUS != SERVER_CPUS else "not pinned"),
             "`tools/list` replies: zonebox %s bytes (11 tools), server-filesystem %s bytes"
             % (format(zb["list_bytes"], ","),
                format(fs["list_bytes"], ",") if fs else "n/a")]
    if zb["start_exit_codes"] != {0}:
        notes.append("zonebox exit codes on end of input during the starts: %s (expected 0)"
                     % sorted(zb["start_exit_codes"]))
    for n in notes:
        out.append("- " + n)
    print("\n".join(out))


if __name__ == "__main__":
    main()
