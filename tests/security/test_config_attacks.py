"""Zone layouts that would let a command pick what a later sandbox mounts.

Attack: zones work (rw, ./proj) and data (ro, ./proj/data). A command runs
`rmdir /work/data && ln -s /etc /work/data`; the next sandbox would mount the host's /etc as
/data (or `/`, read-write, through a second rw zone). zonebox refuses such a configuration
before anything starts, as root and as uid 65534, whatever spelling the paths use."""
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "zb_integration_conftest", os.path.join(HERE, "..", "integration", "conftest.py"))
zbc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zbc)

LAYOUTS = {
    "ro zone inside rw zone": ("./proj", "ro", "./proj/data"),
    "rw zone inside rw zone": ("./proj", "rw", "./proj/out"),
    "same folder through a symlink": ("./proj", "ro", "./alias"),
    "inner path spelled with ..": ("./proj", "ro", "./proj/data/../data"),
}


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_zone_inside_rw_zone_refused(user, layout):
    outer, inner_mode, inner = LAYOUTS[layout]
    # Under /tmp itself: pytest's own folders are closed to uid 65534.
    tmp_path = Path(tempfile.mkdtemp(prefix="zb-nest-"))
    try:
        check_refused(tmp_path, user, outer, inner_mode, inner)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def check_refused(tmp_path, user, outer, inner_mode, inner):
    prefix = []
    if user == "nobody":
        if os.getuid() != 0 or not shutil.which("setpriv"):
            pytest.skip("running as uid 65534 needs root and setpriv")
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    for d in ("proj/data", "proj/out"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "alias").symlink_to(tmp_path / "proj")
    os.chmod(tmp_path, 0o755)
    cfg = tmp_path / "zonebox.yaml"
    cfg.write_text("sandbox:\n  zones:\n"
                   "    - {name: work, mode: rw, hostPath: %s}\n"
                   "    - {name: data, mode: %s, hostPath: %s}\n" % (outer, inner_mode, inner))
    os.chmod(cfg, 0o644)
    p = subprocess.run([*prefix, zbc.BIN, "--config", str(cfg)], capture_output=True, text=True,
                       input='{"jsonrpc":"2.0","id":1,"method":"ping"}\n', timeout=10)
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""  # nothing started: not even a ping answered
    assert "zone work, which is read-write" in p.stderr
