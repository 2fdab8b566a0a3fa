#!/usr/bin/python3
"""shell.run of `true`, end to end over MCP, next to other ways of running `true`; one run.

zonebox ($ZONEBOX_BIN, default build/zonebox, with zonebox-sandbox next to it) is started
with `backend: namespace`, one rw zone (a fresh temporary folder), `approval: {default:
allow}` and `session: persistent` or `per-call`, and driven over pipes with newline-delimited
JSON-RPC by this process, as an MCP client does (tests/integration/conftest.py). Each call is
`tools/call shell.run {"argv": ["true"]}` (exec'd directly, no shell), and each response is
checked (exit_code 0, no isError).

  sequential            median and p90 of N (default 300) calls, one after the other, each
                        timed from just before the request is written to the arrival of the
                        response's last byte (parsing it is outside the clock)
  20 ms apart           the same with a 20 ms pause before each call: how an agent, which
                        thinks between calls, sees it (per-call: the spare sandbox is ready)
  16 in flight          commands per second with 16 calls outstanding at all times; for a
                        persistent session also with `limits: {cpu: 2}`, since the default
                        cpu limit of 1 (enforced through cgroups when zonebox runs as
                        root) holds one sandbox to one CPU
  MCP ping              round trip of `ping` on the same server: the client + protocol floor
                        that is in every zonebox number
  RSS                   the zonebox server's VmRSS after warming up (100 sequential calls,
                        then 1,000 with 16 in flight, which sets the high-water mark of 16
                        concurrent calls' buffers), and after 10,000 more (16 in flight),
                        persistent session

The other rows run `true` with a tiny C loop (compiled here with cc; posix_spawn, then
waitpid), timed from just before the spawn to the reaping: plain fork+exec, `bwrap
--unshare-all` with the sandbox's mounts (ro /usr and the other system folders, the zone
bound rw, /proc, /dev, tmpfs /tmp), `unshare -Urmpfn`, and `docker exec` into a running
container when a Docker daemon answers.

Not a pass/fail test: the target column says whether each target is met. Progress goes to
stderr, the Markdown table to stdout. Python 3 standard library only. No CPU pinning: the
sandboxes inherit the server's CPU set, and pinning it would halve the throughput.
Environment: ZONEBOX_BIN, ZB_BENCH_N (sequential calls, default 300), ZB_BENCH_RSS_N (default
10000), ZB_DOCKER_IMAGE (default debian:bookworm-slim; only used if already present).
"""
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
from benchlib import HERE, TOP, ZB_BIN  # noqa: E402

N = max(20, int(os.environ.get("ZB_BENCH_N", "300")))
RSS_N = int(os.environ.get("ZB_BENCH_RSS_N", "10000"))
WIDTH = 16
WARMUP = 20
TIMEOUT = 60.0
# Built here when missing, FROM scratch with the host's static busybox (no registry pulls).
DOCKER_IMAGE = os.environ.get("ZB_DOCKER_IMAGE", "zonebox-bench-busybox")
BUSYBOX = "/bin/busybox"

SPAWN_LOOP_C = r"""
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
/* spawnloop N PAUSE_US ARGV...: N timed runs (after 5 untimed), PAUSE_US before each. */
int main(int argc, char **argv)
{
	int n = atoi(argv[1]), pause_us = atoi(argv[2]);
	for (int i = -5; i < n; i++) {
		struct timespec a, b;
		pid_t pid;
		int st;
		if (pause_us)
			usleep(pause_us);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (posix_spawnp(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0)
			return 1;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 2;
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (i >= 0)
			printf("%.6f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	}
	return 0;
}
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def line_of(msg):
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def stats(times):
    s = sorted(times)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.9))]


class Zonebox:
    """One zonebox server on pipes, initialized."""

    def __init__(self, session, zone, limits=None):
        self.dir = tempfile.mkdtemp(prefix="zb-shbench-")
        cfg = os.path.join(self.dir, "zonebox.yaml")
        with open(cfg, "w") as f:
            f.write("sandbox:\n  backend: namespace\n  session: %s\n" % session)
            if limits:
                f.write("  limits: %s\n" % limits)
            f.write("  zones:\n    - {name: work, mode: rw, hostPath: %s}\n"
                    "approval:\n  default: allow\n" % zone)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([ZB_BIN, "--config", cfg, "--log-level", "warning"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=self.dir)
        self.out = self.proc.stdout.fileno()
        self.buf = b""
        self.next_id = 1
        self.failures = 0
        self.last_failure = None
        r = self.request({"method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "zonebox-shell-bench", "version": "1"}}})
        if "result" not in json.loads(r):
            raise RuntimeError("initialize failed: %s" % r[:300])
        self.write(line_of({"jsonrpc": "2.0", "method": "notifications/initialized"}))

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read_line(self):
        deadline = time.monotonic() + TIMEOUT
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.out], [], [], left)[0]:
                raise TimeoutError("no answer from zonebox; stderr:\n" + self.stderr_text())
            chunk = os.read(self.out, 1 << 20)
            if not chunk:
                raise EOFError("zonebox closed stdout; stderr:\n" + self.stderr_text())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def request(self, msg):
        rid = self.next_id
        self.next_id += 1
        self.write(line_of(dict(msg, jsonrpc="2.0", id=rid)))
        while True:
            line = self.read_line()
            if b'"method"' in line and json.loads(line).get("method"):
                continue  # a notification
            return line

    def call_msg(self, rid):
        return line_of({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                        "params": {"name": "shell.run", "arguments": {"argv": ["true"]}}})

    def check(self, line):
        m = json.loads(line)
        res = m.get("result") or {}
        sc = res.get("structuredContent") or {}
        if res.get("isError") or sc.get("exit_code") != 0:
            self.failures += 1
            self.last_failure = line[:400]

    def sequential(self, n, pause=0.0):
        times = []
        for i in range(-WARMUP, n):
            if pause:
                time.sleep(pause)
            rid = self.next_id
            self.next_id += 1
            msg = self.call_msg(rid)
            t0 = time.perf_counter()
            self.write(msg)
            line = self.read_line()
            t1 = time.perf_counter()
            self.check(line)
            if i >= 0:
                times.append((t1 - t0) * 1e3)
        return times

    def in_flight(self, n, width):
        """Commands per second with `width` calls outstanding."""
        sent = done = 0
        t0 = time.perf_counter()
        while done < n:
            while sent < n and sent - done < width:
                self.write(self.call_msg(self.next_id))
                self.next_id += 1
                sent += 1
            self.check(self.read_line())
            done += 1
        return n / (time.perf_counter() - t0)

    def ping(self, n):
        times = []
        for i in range(-WARMUP, n):
            t0 = time.perf_counter()
            self.request({"method": "ping"})
            if i >= 0:
                times.append((time.perf_counter() - t0) * 1e3)
        return times

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]

    def close(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def build_spawn_loop(tmp):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None
    src = os.path.join(tmp, "spawnloop.c")
    exe = os.path.join(tmp, "spawnloop")
    with open(src, "w") as f:
        f.write(SPAWN_LOOP_C)
    r = subprocess.run([cc, "-O2", "-o", exe, src], capture_output=True)
    return exe if r.returncode == 0 else None


def spawn_times(loop, argv, n, pause=0.0):
    """Per-run times in ms, or an error text."""
    if loop:
        r = subprocess.run([loop, str(n), str(int(pause * 1e6)), *argv], capture_output=True,
                           text=True)
        if r.returncode != 0:
            return "fails here (%s)" % (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return [float(x) for x in r.stdout.split()]
    times = []  # no C compiler: time it from Python (adds Python's own overhead)
    path = shutil.which(argv[0])
    for i in range(-5, n):
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        pid = os.posix_spawn(path, argv, os.environ)
        _, st = os.waitpid(pid, 0)
        if st != 0:
            return "fails here (exit status %d)" % st
        if i >= 0:
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def bwrap_argv(zone):
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr"]
    for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = "/" + d
        if os.path.islink(p):
            argv += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            argv += ["--ro-bind", p, p]
    argv += ["--bind", zone, "/work", "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
             "true"]
    return argv


def build_docker_image():
    """DOCKER_IMAGE FROM scratch: a static busybox as /bin/sh, true and sleep."""
    if "ZB_DOCKER_IMAGE" in os.environ or not os.path.exists(BUSYBOX):
        return False
    ctx = tempfile.mkdtemp(prefix="zb-docker-")
    try:
        os.mkdir(os.path.join(ctx, "bin"))
        shutil.copy(BUSYBOX, os.path.join(ctx, "bin", "busybox"))
        for name in ("sh", "true", "sleep"):
            os.symlink("busybox", os.path.join(ctx, "bin", name))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM scratch\nCOPY bin /bin\n")
        r = subprocess.run(["docker", "build", "-q", "-t", DOCKER_IMAGE, ctx],
                           capture_output=True, text=True, timeout=120)
        return r.returncode == 0
    finally:
        shutil.rmtree(ctx)


def docker_container():
    """A running container to exec into, or (None, why not)."""
    if not shutil.which("docker"):
        return None, "not measured: no docker client"
    try:
        r = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None, "not measured: the docker daemon does not answer"
    if r.returncode != 0:
        return None, "not measured: no docker daemon"
    r = subprocess.run(["docker", "image", "inspect", DOCKER_IMAGE], capture_output=True)
    if r.returncode != 0 and not build_docker_image():
        return None, "not measured: image %s is not present and could not be built from %s " \
            "(apt-get install busybox-static, or set ZB_DOCKER_IMAGE)" % (DOCKER_IMAGE, BUSYBOX)
    r = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", DOCKER_IMAGE,
                        "sleep", "infinity"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, "not measured: docker run failed: " + r.stderr.strip()[:100]
    return r.stdout.strip(), None


def ms(v):
    return "%.3f" % v


def main():
    if not os.access(ZB_BIN, os.X_OK):
        sys.exit("zonebox not found at %s: build it, or set ZONEBOX_BIN" % ZB_BIN)
    tmp = tempfile.mkdtemp(prefix="zb-shbench-")
    zone = os.path.join(tmp, "zone")
    os.mkdir(zone)
    os.chmod(tmp, 0o755)
    rows = []  # (what, median, p90, throughput, target, met)
    notes = []

    def row(what, med="", p90="", rate="", target="", met=""):
        rows.append((what, med, p90, rate, target, met))

    def latency_row(what, times, target=None):
        med, p90 = stats(times)
        t = "≤ %.1f ms median" % target if target else ""
        met = ("yes" if med <= target else "no") if target else ""
        row(what, ms(med), ms(p90), "", t, met)

    def rate_row(what, rate, target=None):
        t = "≥ %d/s" % target if target else ""
        met = ("yes" if rate >= target else "no") if target else ""
        row(what, "", "", "%.0f/s" % rate, t, met)

    results = {}
    for session in ("persistent", "per-call"):
        log("zonebox %s ..." % session)
        zb = Zonebox(session, zone)
        try:
            results[session] = {
                "seq": zb.sequential(N),
                "spaced": zb.sequential(max(20, N // 3), pause=0.02),
                "rate": zb.in_flight(max(N * 4, 1000), WIDTH),
            }
            if session == "persistent":
                results["ping"] = zb.ping(N)
                log("zonebox RSS over %d calls ..." % RSS_N)
                zb.sequential(100 - WARMUP)
                zb.in_flight(1000, WIDTH)
                rss0 = zb.rss_kib()
                zb.in_flight(RSS_N, WIDTH)
                rss1 = zb.rss_kib()
                results["rss"] = (rss0, rss1)
            if zb.failures:
                notes.append("%s: %d calls failed, e.g. %s" % (session, zb.failures,
                                                               zb.last_failure))
        finally:
            zb.close()

    # The default `limits.cpu` is 1: where cgroups enforce it (root), one persistent sandbox
    # gets one of the CPUs, whatever the number of calls in flight.
    log("zonebox persistent, limits.cpu 2 ...")
    zb = Zonebox("persistent", zone, limits="{cpu: 2}")
    try:
        results["rate_cpu2"] = zb.in_flight(max(N * 4, 1000), WIDTH)
    finally:
        zb.close()

    log("fork+exec, bwrap, unshare ...")
    loop = build_spawn_loop(tmp)
    if not loop:
        notes.append("no C compiler: the non-zonebox rows were timed from Python "
                     "(os.posix_spawn), which adds Python's overhead")
    others = [("plain fork+exec of `true` (posix_spawn)", spawn_times(loop, ["true"], N)),
              ("plain fork+exec of `true`, 20 ms apart",
               spawn_times(loop, ["true"], max(20, N // 3), 0.02)),
              ("`bwrap --unshare-all`, same mounts", spawn_times(loop, bwrap_argv(zone), N)
               if shutil.which("bwrap") else "not measured: no bwrap"),
              ("`unshare -Urmpfn true`", spawn_times(loop, ["unshare", "-Urmpfn", "true"], N))]
    cid, why = docker_container()
    if cid:
        try:
            others.append(("`docker exec` into a running container",
                           spawn_times(loop, ["docker", "exec", cid, "true"], max(20, N // 3))))
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    else:
        others.append(("`docker exec` into a running container", why))

    p, c = results["persistent"], results["per-call"]
    latency_row("zonebox persistent, sequential", p["seq"], 1.0)
    latency_row("zonebox persistent, 20 ms apart", p["spaced"])
    latency_row("zonebox per-call, sequential (back to back)", c["seq"], 2.5)
    latency_row("zonebox per-call, 20 ms apart (spare sandbox ready)", c["spaced"], 2.5)
    rate_row("zonebox persistent, %d in flight (default limits.cpu: 1)" % WIDTH, p["rate"],
             1000)
    rate_row("zonebox persistent, %d in flight, limits.cpu: 2" % WIDTH, results["rate_cpu2"],
             1000)
    rate_row("zonebox per-call, %d in flight" % WIDTH, c["rate"], 1000)
    latency_row("MCP `ping` round trip, same client (protocol floor)", results["ping"])
    for what, t in others:
        if isinstance(t, str):
            row(what, t)
        else:
            latency_row(what, t)
    rss0, rss1 = results["rss"]
    grew = rss1 - rss0
    row("zonebox server RSS (persistent): warmed up -> after %d more calls" % RSS_N,
        "%d KiB" % rss0, "%d KiB" % rss1, "", "flat",
        "yes" if grew <= max(256, rss0 // 20) else "no (+%d KiB)" % grew)

    uname = os.uname()
    print("`shell.run` of `true` over MCP (stdio), %d sequential calls per row; uid %d; "
          "%s %s, %d CPUs; zonebox %s\n" % (N, os.getuid(), uname.sysname, uname.release,
                                            os.cpu_count(), ZB_BIN))
    print("| what | median ms | p90 ms | commands/s | target | met |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        print("| %s |" % " | ".join(r))
    for n in notes:
        print("\n- " + n)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
