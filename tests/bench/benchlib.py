"""What the benchmarks share: where the binaries are, and how the CPUs are split between the
client and the servers."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
ZB_BIN = os.path.abspath(os.environ.get("ZONEBOX_BIN", os.path.join(TOP, "build", "zonebox")))
FS_PKG = os.path.join(HERE, "node_modules", "@modelcontextprotocol", "server-filesystem")
FS_JS = os.path.join(FS_PKG, "dist", "index.js")

# With two or more CPUs, the client runs on the first one and every server on the others, so
# each process pair is measured the same way: otherwise whether the scheduler puts both on one
# CPU or not swings a sequential round trip by 5x. ZB_BENCH_PIN=0 turns this off.
ALL_CPUS = sorted(os.sched_getaffinity(0))
if len(ALL_CPUS) >= 2 and os.environ.get("ZB_BENCH_PIN", "1") != "0":
    CLIENT_CPUS, SERVER_CPUS = {ALL_CPUS[0]}, set(ALL_CPUS[1:])
else:
    CLIENT_CPUS = SERVER_CPUS = set(ALL_CPUS)
