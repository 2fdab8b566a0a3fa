"""Mount propagation: nothing mounted for a sandbox may reach the host, or another sandbox.

On systemd hosts / is a shared mount. A zone cloned from such a mount, if left shared, is a
peer of the host's: the sandbox's own mounts under it (protect: binds, the binds of the folders
above a protected path) then propagate back into the host's mount table and into every earlier
sandbox, doubling with each per-call sandbox until the host's mount table is full, and mounts
made on the host under a zone appear inside running sandboxes with their own flags (a
read-write mount inside a ro zone). This machine's / is private, so each case runs zonebox
inside a mount namespace whose / is made rshared first, as on such a host, and then counts
the mounts under the zone's host path in that namespace and the shared mounts a sandbox sees.
Root only (per-call sandboxes as root use the per-session mount template)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "..", "integration")

DRIVER = r"""
import json, os, sys
sys.path.insert(0, %(integration)r)
from conftest import Server
root, session = sys.argv[1], sys.argv[2]
work = os.path.join(root, "work")
cfg = os.path.join(root, "z.yaml")
with open(cfg, "w") as f:
    f.write("sandbox:\n  backend: namespace\n  session: %%s\n"
            "  limits: {timeout: 20s, memory: 256M, pids: 256}\n"
            "  zones:\n    - {name: work, mode: rw, hostPath: %%s, protect: [.git/hooks]}\n"
            "approval:\n  default: allow\n" %% (session, work))
s = Server(args=["--config", cfg], cwd=root)
s.initialize()
shared = []
for _ in range(4):
    r = s.call("shell.run", {"command": "grep -c ' shared:' /proc/self/mountinfo; true"},
               timeout=30)
    sc = r["result"].get("structuredContent") or {}
    shared.append(sc.get("stdout", "?").strip())
leaked = [l.strip() for l in open("/proc/self/mountinfo") if work in l]
problem = s.stop()
print(json.dumps({"shared": shared, "leaked": leaked, "problem": problem}))
"""


@pytest.mark.parametrize("session", ["per-call", "persistent"])
def test_no_mount_reaches_the_host_or_another_sandbox(session):
    if os.geteuid() != 0:
        pytest.skip("needs root (a mount namespace with a shared / stands in for the host)")
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) from util-linux")
    root = tempfile.mkdtemp(prefix="zb-prop-")
    try:
        os.chmod(root, 0o755)
        os.makedirs(os.path.join(root, "work", ".git", "hooks"))
        script = DRIVER % {"integration": os.path.abspath(INTEGRATION)}
        p = subprocess.run(
            ["unshare", "-m", "--propagation", "unchanged", "sh", "-c",
             'mount --make-rshared / && exec "$0" -c "$1" "$2" "$3"',
             sys.executable, script, root, session],
            capture_output=True, text=True, timeout=120, env=dict(os.environ))
        assert p.returncode == 0, p.stderr[-3000:]
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["problem"] is None, out["problem"]
        assert out["leaked"] == [], "mounts of the sandboxes reached the host:\n" + \
            "\n".join(out["leaked"][:20])
        assert out["shared"] == ["0"] * 4, "a sandbox has shared mounts: %s" % out["shared"]
    finally:
        subprocess.run(["rm", "-rf", root])
