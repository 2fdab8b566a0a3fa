#!/usr/bin/python3
"""zonebox's fs.* tools next to @modelcontextprotocol/server-filesystem, in one run, on the same
folder, through the same client.

zonebox ($ZONEBOX_BIN, default build/zonebox; backend "null", one rw zone on the folder) and
the reference server (tests/bench/node_modules, installed by tests/bench/run.sh or
`npm install --prefix tests/bench`; started with the folder as its allowed directory) are
driven by this process over pipes with newline-delimited JSON-RPC. Each row is the median of
several sequential calls, timed from just before the request is written to the arrival of
the reply's last byte:

  read a 1 MiB text file      zonebox fs.read {path, limit} (a line window, so the whole MiB
                              comes back rather than the default 256 KiB); node read_text_file
  list a 10,000-entry tree    zonebox fs.list {depth: 20, details: false}; node
                              directory_tree (100 folders of 99 files): both return each
                              entry's name and type, nothing more
  the same with details       zonebox fs.list {depth: 20}, which also stats every entry for
                              its size, mtime and mode; node has no such call (its row is
                              directory_tree again), so this row has no target
  search a string, 1,000 files  zonebox fs.search {content}; node has no content search, so
                              the nearest it offers: read_multiple_files on all 1,000 files
                              (the client would grep the reply; that grep is not timed)
  search names, 1,000 files   zonebox fs.search {pattern}; node search_files (a glob)
  1,000 small reads           1,000 different 1-2 KiB files read one after another; the
                              median of one read (the total is in the notes)
  RSS                         VmRSS after everything above (and VmHWM, the peak)

  floor (a column)            the same round trip with a server that only writes a canned
                              reply as long as zonebox's: what the pipes, the wake-ups and
                              this client's reading cost any server, before it does anything

Both servers are measured in three CPU layouts, one table each: "split" (client on the first
CPU, servers on the others: every request and reply wakes the other CPU, which on a VM costs
an inter-processor interrupt, ~35 us each way here), "shared" (client and servers on the
first CPU only: a reply wakes the client on the CPU the server leaves) and "unpinned" (as
clients really start servers: the scheduler decides, and a pipe's synchronous wake-up tends
to keep the pair on one CPU). The split layout is the worst case for short calls, where the
wake-up floor is a large part of what is measured.

Prints Markdown tables (progress on stderr). The ratio column is node / zonebox (how many
times faster, or how many times less memory). Python 3 standard library only."""
import fcntl
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import HERE, TOP, ZB_BIN, FS_JS, ALL_CPUS  # noqa: E402

# The layout in use: (client CPUs, server CPUs); set by main() for each table.
LAYOUT = [set(ALL_CPUS), set(ALL_CPUS)]

TIMEOUT = 120.0
F_SETPIPE_SZ = 1031



def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Peer:
    def __init__(self, argv, cwd):
        self.stderr = tempfile.TemporaryFile()
        os.sched_setaffinity(0, LAYOUT[1])
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.stderr, cwd=cwd, bufsize=0)
        finally:
            os.sched_setaffinity(0, LAYOUT[0])
        # Large pipes both ways, for both servers alike: a multi-MiB reply then crosses in a
        # few writes instead of one 64 KiB pipe buffer at a time, which otherwise dominates
        # the big rows with context switches that are the client's cost, not the server's.
        for fd in (self.proc.stdout.fileno(), self.proc.stdin.fileno()):
            for size in (1 << 24, 1 << 20):
                try:
                    fcntl.fcntl(fd, F_SETPIPE_SZ, size)
                    break
                except OSError:
                    pass
        # Replies are read into one buffer kept across calls (no allocation, no copy, no
        # fresh pages per reply), and the clock stops when the newline arrives, before the
        # line is copied out: the client's own work stays out of the servers' numbers.
        self.buf = bytearray(8 << 20)
        self.start = self.end = 0  # the bytes not handed out yet: buf[start:end]
        self.next_id = 1
        self.name = os.path.basename(argv[0])

    def _line(self, deadline):
        fd = self.proc.stdout.fileno()
        scanned = self.start  # no newline before here: a long reply is not rescanned
        while True:
            nl = self.buf.find(b"\n", scanned, self.end)
            if nl >= 0:
                at = time.perf_counter_ns()
                line = bytes(memoryview(self.buf)[self.start:nl])
                self.start = nl + 1
                self.last_size = len(line) + 1
                return line, at
            scanned = self.end
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from %s; stderr:\n%s" % (self.name, self.err()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            if self.end == len(self.buf):
                # Full: move what is pending to the front, or make room.
                pending = self.end - self.start
                if self.start > 0:
                    self.buf[:pending] = self.buf[self.start:self.end]
                    scanned -= self.start
                    self.start, self.end = 0, pending
                else:
                    self.buf.extend(bytes(len(self.buf)))
            n = os.readv(fd, [memoryview(self.buf)[self.end:]])
            if not n:
                raise EOFError("%s closed stdout; stderr:\n%s" % (self.name, self.err()))
            self.end += n

    def request(self, method, params):
        """(result, microseconds from write to the last byte of the reply)."""
        rid = self.next_id
        self.next_id += 1
        data = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method,
                           "params": params}).encode() + b"\n"
        t = time.perf_counter_ns()
        view = memoryview(data)
        while view:
            view = view[os.write(self.proc.stdin.fileno(), view):]
        deadline = time.monotonic() + TIMEOUT
        while True:
            raw, at = self._line(deadline)
            msg = json.loads(raw)
            if msg.get("id") == rid and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (self.name, msg["error"]))
                return msg["result"], (at - t) / 1000.0

    def initialize(self):
        self.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "fs-bench", "version": "1"}})
        data = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
        os.write(self.proc.stdin.fileno(), data)

    def call(self, name, args):
        res, us = self.request("tools/call", {"name": name, "arguments": args})
        if res.get("isError"):
            raise RuntimeError("%s %s failed: %s" % (self.name, name,
                                                    res["content"][0].get("text", "")[:300]))
        return res, us

    def status_mib(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for row in f:
                if row.startswith(key + ":"):
                    return int(row.split()[1]) / 1024.0
        return float("nan")

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_folder(root):
    """The shared folder: big.txt (1 MiB of text), tree/ (10,000 entries), search/ (1,000
    small text files, a tenth of them with the needle)."""
    line = "The quick brown fox jumps over the lazy dog; %06d lorem ipsum dolor sit amet.\n"
    with open(os.path.join(root, "big.txt"), "w") as f:
        text = "".join(line % i for i in range(20000))
        f.write(text[:1024 * 1024 - 1] + "\n")
    for d in range(100):
        dd = os.path.join(root, "tree", "d%03d" % d)
        os.makedirs(dd)
        for i in range(99):
            with open(os.path.join(dd, "f%03d.txt" % i), "w") as f:
                f.write("x\n")
    small = []
    for d in range(10):
        dd = os.path.join(root, "search", "s%d" % d)
        os.makedirs(dd)
        for i in range(100):
            p = os.path.join(dd, "file%03d.txt" % i)
            body = "".join("line %d of file %d/%d: nothing to see here\n" % (k, d, i)
                           for k in range(30))
            if i % 10 == 3:
                body += "here is the NEEDLE_7f3a we look for\n"
            with open(p, "w") as f:
                f.write(body)
            small.append(os.path.relpath(p, root))
    return small


def median_us(fn, n):
    times = []
    for _ in range(n):
        times.append(fn())
    return statistics.median(times)


def run_zonebox(root, small, reps):
    cfg = os.path.join(tempfile.mkdtemp(prefix="zb-bench-cfg-"), "zonebox.yaml")
    with open(cfg, "w") as f:
        f.write('sandbox:\n  backend: "null"\n  zones:\n    - {name: bench, mode: rw, '
                'hostPath: %s}\napproval: {default: allow}\n' % root)
    p = Peer([ZB_BIN, "--log-level", "warning", "--config", cfg], os.path.dirname(cfg))
    p.initialize()
    out = {}
    try:
        res, _ = p.call("fs.read", {"path": "/bench/big.txt", "limit": 1000000})
        sc = res["structuredContent"]
        assert sc["truncated"] is False and len(sc["content"]) == 1024 * 1024, sc["size"]
        out["read_bytes"] = p.last_size
        out["read"] = median_us(lambda: p.call("fs.read", {"path": "/bench/big.txt",
                                                           "limit": 1000000})[1], reps)
        for key, args in (("list", {"path": "/bench/tree", "depth": 20, "details": False}),
                          ("list_details", {"path": "/bench/tree", "depth": 20})):
            res, _ = p.call("fs.list", args)
            assert len(res["structuredContent"]["entries"]) == 10000
            assert res["structuredContent"]["truncated"] is False
            out[key + "_bytes"] = p.last_size
            out[key] = median_us(lambda: p.call("fs.list", args)[1], reps)
        args = {"path": "/bench/search", "content": "NEEDLE_7f3a", "max_results": 1000}
        res, _ = p.call("fs.search", args)
        assert len(res["structuredContent"]["matches"]) == 100
        assert res["structuredContent"]["files_scanned"] == 1000
        out["search"] = median_us(lambda: p.call("fs.search", args)[1], reps)
        nargs = {"path": "/bench/search", "pattern": "file00*.txt", "max_results": 1000}
        assert len(p.call("fs.search", nargs)[0]["structuredContent"]["matches"]) == 100
        out["names"] = median_us(lambda: p.call("fs.search", nargs)[1], reps)
        times = [p.call("fs.read", {"path": "/bench/" + rel})[1] for rel in small]
        out["small"] = statistics.median(times)
        out["small_bytes"] = p.last_size
        out["small_total"] = sum(times) / 1000.0
        out["rss"] = p.status_mib("VmRSS")
        out["hwm"] = p.status_mib("VmHWM")
    finally:
        p.stop()
        shutil.rmtree(os.path.dirname(cfg))
    return out


def run_node(root, small, reps):
    p = Peer(["node", FS_JS, root], root)
    p.initialize()
    out = {}
    try:
        big = os.path.join(root, "big.txt")
        res, _ = p.call("read_text_file", {"path": big})
        assert len(res["content"][0]["text"]) == 1024 * 1024
        out["read"] = median_us(lambda: p.call("read_text_file", {"path": big})[1], reps)
        tree = os.path.join(root, "tree")
        res, _ = p.call("directory_tree", {"path": tree})
        assert sum(1 + len(d["children"]) for d in json.loads(res["content"][0]["text"])) \
            == 10000
        out["list"] = median_us(lambda: p.call("directory_tree", {"path": tree})[1], reps)
        out["list_details"] = out["list"]
        paths = [os.path.join(root, rel) for rel in small]
        res, _ = p.call("read_multiple_files", {"paths": paths})
        assert res["content"][0]["text"].count("NEEDLE_7f3a") == 100
        out["search"] = median_us(lambda: p.call("read_multiple_files",
                                                 {"paths": paths})[1], reps)
        sdir = os.path.join(root, "search")
        res, _ = p.call("search_files", {"path": sdir, "pattern": "**/file00*.txt"})
        assert len(res["content"][0]["text"].splitlines()) == 100, res
        out["names"] = median_us(lambda: p.call("search_files", {
            "path": sdir, "pattern": "**/file00*.txt"})[1], reps)
        times = [p.call("read_text_file", {"path": os.path.join(root, rel)})[1]
                 for rel in small]
        out["small"] = statistics.median(times)
        out["small_total"] = sum(times) / 1000.0
        out["rss"] = p.status_mib("VmRSS")
        out["hwm"] = p.status_mib("VmHWM")
    finally:
        p.stop()
    return out


# A server that does nothing but answer each line with a reply prepared in advance.
CANNED = r"""
import os, sys
reply = b'{"jsonrpc":"2.0","id":1,"result":"' + b"x" * int(sys.argv[1]) + b'"}\n'
buf = b""
while True:
    d = os.read(0, 1 << 16)
    if not d:
        break
    buf += d
    for _ in range(buf.count(b"\n")):
        v = memoryview(reply)
        while v:
            v = v[os.write(1, v):]
    buf = buf[buf.rfind(b"\n") + 1:]
"""


def floor_us(size, n):
    """Median round trip of a request answered by a canned reply of `size` bytes: what the
    pipes, the wake-ups and this client's reading cost any server, before it does anything."""
    p = Peer([sys.executable, "-c", CANNED, str(max(size - 40, 0))], "/")
    try:
        times = []
        for _ in range(n):
            t = time.perf_counter_ns()
            os.write(p.proc.stdin.fileno(), b"{}\n")
            _, at = p._line(time.monotonic() + TIMEOUT)
            times.append((at - t) / 1000.0)
        return statistics.median(times)
    finally:
        p.stop()


def fmt_us(us):
    return "%.2f ms" % (us / 1000.0) if us >= 1000 else "%.0f µs" % us


def main():
    reps = int(os.environ.get("ZB_BENCH_REPS", "15"))
    if not os.access(ZB_BIN, os.X_OK):
        sys.exit("fs_bench: no zonebox binary at %s (build it, or set ZONEBOX_BIN)" % ZB_BIN)
    have_node = os.path.exists(FS_JS) and shutil.which("node")
    layouts = [("split", {ALL_CPUS[0]}, set(ALL_CPUS[1:])), ("shared", {ALL_CPUS[0]}, {ALL_CPUS[0]}),
               ("unpinned", set(ALL_CPUS), set(ALL_CPUS))]
    if len(ALL_CPUS) < 2:
        layouts = [("one CPU", set(ALL_CPUS), set(ALL_CPUS))]
    only = os.environ.get("ZB_BENCH_LAYOUT")
    layouts = [l for l in layouts if not only or l[0] == only]
    root = os.path.realpath(tempfile.mkdtemp(prefix="zb-fs-bench-"))
    results = []
    try:
        log("fs_bench: making the folder in", root)
        small = make_folder(root)
        for name, client, server in layouts:
            LAYOUT[0], LAYOUT[1] = client, server
            os.sched_setaffinity(0, client)
            log("fs_bench [%s]: zonebox" % name)
            zb = run_zonebox(root, small, reps)
            nd = None
            if have_node:
                log("fs_bench [%s]: @modelcontextprotocol/server-filesystem" % name)
                nd = run_node(root, small, reps)
            else:
                log("fs_bench: the reference server is not installed (npm install --prefix "
                    "tests/bench @modelcontextprotocol/server-filesystem); zonebox alone")
            floors = {k: floor_us(zb[k + "_bytes"], 1000 if k == "small" else reps)
                      for k in ("read", "list", "list_details", "small")}
            results.append((name, client, server, zb, nd, floors))
    finally:
        shutil.rmtree(root)
        os.sched_setaffinity(0, set(ALL_CPUS))

    rows = [("read a 1 MiB text file", "read", True),
            ("list a 10,000-entry tree (names and types)", "list", True),
            ("the same with size, mtime, mode (node: no such call)", "list_details", None),
            ("search a string in 1,000 files", "search", True),
            ("search names in 1,000 files", "names", True),
            ("1,000 small reads (median of one)", "small", True),
            ("server RSS after the run", "rss", False),
            ("server peak RSS (VmHWM)", "hwm", False)]
    for name, client, server, zb, nd, floors in results:
        print("CPU layout \"%s\": client on %s, servers on %s" % (name, sorted(client),
                                                                  sorted(server)))
        print()
        print("| operation | zonebox | server-filesystem | ratio (node / zonebox) | target "
              "| floor |")
        print("| --- | ---: | ---: | ---: | --- | ---: |")
        for label, key, is_time in rows:
            z = zb[key]
            zs = fmt_us(z) if is_time is not False else "%.1f MiB" % z
            floor = floors.get(key)
            fs = fmt_us(floor) if floor else ""
            if nd is None:
                print("| %s | %s | – | – | – | %s |" % (label, zs, fs))
                continue
            n = nd[key]
            ns = fmt_us(n) if is_time is not False else "%.1f MiB" % n
            ratio = n / z if z else float("inf")
            if is_time:
                target = ">= 5x: %s" % ("met" if ratio >= 5 else "NOT met")
                if ratio < 5 and floor and n / 5 < floor:
                    target += " (5x is under the floor)"
            elif key == "rss":
                target = "<= 1/10: %s" % ("met" if ratio >= 10 else "NOT met")
            else:
                target = ""
            print("| %s | %s | %s | %.1fx | %s | %s |" % (label, zs, ns, ratio, target, fs))
        print()
        print("Notes: medians of %d calls (1,000 for the small reads). 1,000 small reads in "
              "total: zonebox %.0f ms%s. server-filesystem has no content search: its row is "
              "read_multiple_files on the 1,000 files, which is what a client would have to "
              "do. floor: the same round trip with a server that only answers with a reply "
              "prepared in advance, as long as zonebox's (%s bytes for the 1 MiB read): the "
              "pipes, the wake-ups and this client's reading, which no server can go under."
              % (reps, zb["small_total"],
                 ", server-filesystem %.0f ms" % nd["small_total"] if nd else "",
                 "{:,}".format(zb["read_bytes"])))
        print()


if __name__ == "__main__":
    main()
