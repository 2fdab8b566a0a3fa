"""The fs.* tools over the real binary's stdio: every argument and result field of every tool,
large, empty and binary files, non-UTF-8 names and contents, permission-denied files (as an
unprivileged server), a full disk (a small tmpfs zone), and the atomicity of writes.

The null backend is used, so this runs anywhere; the zones are temporary folders."""
import base64
import json
import os
import random
import shutil
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import conftest as zbc

NOBODY = 65534
CONFIG = """
sandbox:
  backend: "null"
  zones:
    - {name: work, mode: rw, hostPath: %(work)s, protect: [.git/hooks, locked]}
    - {name: input, mode: ro, hostPath: %(input)s}
    - {name: other, mode: rw, hostPath: %(other)s}
    - {name: scratch, mode: tmpfs, size: 1M}
approval:
  default: allow
tools: {show_host_paths: %(show)s}
"""

PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def have_setpriv():
    return shutil.which("setpriv") is not None


def wrapper_for(uid, workdir):
    """An executable that runs zonebox as uid/gid `uid` with no supplementary groups."""
    path = os.path.join(workdir, "zonebox-as-%d" % uid)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=%d --regid=%d --clear-groups %s \"$@\"\n"
                % (uid, uid, os.path.abspath(zbc.BIN)))
    os.chmod(path, 0o755)
    return path


class Fs:
    """A server with zones work (rw, protect .git/hooks and locked), input (ro), other (rw)
    and scratch (tmpfs), all in one temporary folder; `uid` runs it unprivileged."""

    def __init__(self, factory, uid=0, show_host_paths=True, extra_zones=""):
        self.base = tempfile.mkdtemp(prefix="zb-fs-")
        os.chmod(self.base, 0o755)
        self.uid = uid
        self.work = os.path.join(self.base, "work")
        self.input = os.path.join(self.base, "input")
        self.other = os.path.join(self.base, "other")
        for d in (self.work, self.input, self.other):
            os.mkdir(d)
            if uid:
                os.chown(d, uid, uid)
        with open(os.path.join(self.input, "readme.txt"), "w") as f:
            f.write("read only\n")
        cfg = CONFIG % {"work": self.work, "input": self.input, "other": self.other,
                        "show": "true" if show_host_paths else "false"}
        if extra_zones:
            cfg = cfg.replace("approval:", extra_zones + "approval:")
        self.cfg_path = os.path.join(self.base, "zonebox.yaml")
        with open(self.cfg_path, "w") as f:
            f.write(cfg)
        os.chmod(self.cfg_path, 0o644)
        old = zbc.BIN
        # The server starts in its own folder, so a relative ZONEBOX_BIN must not stay so.
        zbc.BIN = os.path.abspath(old)
        if uid:
            zbc.BIN = wrapper_for(uid, self.base)
        try:
            self.s = factory(args=["--config", self.cfg_path], cwd=self.base)
            self.s.initialize()
        except BaseException:
            self.cleanup()
            raise
        finally:
            zbc.BIN = old

    def host(self, *parts):
        return os.path.join(self.work, *parts)

    def put(self, rel, data, zone=None, mode=None):
        path = os.path.join(zone or self.work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        if mode is not None:
            os.chmod(path, mode)
        if self.uid:
            os.chown(path, self.uid, self.uid)
        return path

    def call(self, name, args, timeout=60):
        r = self.s.call(name, args, timeout=timeout)
        assert "result" in r, r
        return r["result"]

    def ok(self, name, args, timeout=60):
        res = self.call(name, args, timeout)
        assert res["isError"] is False, res["content"][0]["text"]
        assert "structuredContent" in res, res
        assert json.loads(res["content"][0]["text"]) == res["structuredContent"]
        return res["structuredContent"]

    def err(self, name, args, *words):
        res = self.call(name, args)
        assert res["isError"] is True, res
        text = res["content"][0]["text"]
        assert text.startswith(name.replace("_", ".") + ":") or text.startswith("fs."), text
        for w in words:
            assert w in text, (w, text)
        return text

    def leftovers(self, *dirs):
        """Temporary files of atomic writes that were left behind."""
        found = []
        for d in dirs or (self.work,):
            for root, _, files in os.walk(d):
                found += [f for f in files if f.startswith(".zb-")]
        return found

    def cleanup(self):
        subprocess.run(["rm", "-rf", self.base])


@pytest.fixture
def fs(server_factory):
    made = []

    def make(**kw):
        f = Fs(server_factory, **kw)
        made.append(f)
        return f
    yield make
    for f in made:
        # The server is stopped by server_factory after this; unmount anything first.
        subprocess.run(["sh", "-c", "grep -o ' %s[^ ]*' /proc/mounts | xargs -r -n1 umount -l"
                        % f.base], capture_output=True)
    for f in made:
        f.cleanup()


@pytest.fixture
def f(fs):
    return fs()


# ---------------------------------------------------------------- fs.zones

def test_zones_fields(f):
    z = f.ok("fs.zones", {})
    names = [x["name"] for x in z["zones"]]
    assert names == ["work", "input", "other", "scratch"]
    work, inp, _, scratch = z["zones"]
    assert work == {"name": "work", "mode": "rw", "path": "/work", "host_path": f.work,
                    "free_bytes": work["free_bytes"], "protect": ["/work/.git/hooks", "/work/locked"]}
    assert isinstance(work["free_bytes"], int) and work["free_bytes"] > 0
    assert inp["mode"] == "ro" and inp["protect"] == []
    assert scratch["mode"] == "tmpfs" and "host_path" not in scratch and "free_bytes" not in scratch
    assert z["backend"] == "null" and z["network"] == "none" and z["session"] == "persistent"
    lim = z["limits"]
    assert set(lim) == {"timeout_ms", "memory_bytes", "pids", "cpu", "output_bytes", "enforced"}
    # The null backend enforces nothing, and fs.zones never claims more than the backend says.
    assert lim["enforced"] == {"memory": False, "pids": False, "cpu": False}


def test_zones_hide_host_paths(fs):
    f = fs(show_host_paths=False)
    z = f.ok("fs.zones", {})
    assert all("host_path" not in x for x in z["zones"])
    assert f.base not in json.dumps(z)


def test_underscore_names_accepted(f):
    f.put("a.txt", "x\n")
    assert f.ok("fs_read", {"path": "a.txt"})["content"] == "x\n"
    assert f.ok("fs_zones", {})["backend"] == "null"


# ---------------------------------------------------------------- fs.read

def test_read_text_fields(f):
    f.put("src/main.c", "int main(void)\n{\n\treturn 0;\n}\n")
    r = f.ok("fs.read", {"path": "/work/src/main.c"})
    assert r == {"path": "/work/src/main.c", "content": "int main(void)\n{\n\treturn 0;\n}\n",
                 "encoding": "utf-8", "size": 30, "truncated": False, "total_lines": 4,
                 "mime_type": "text/x-c"}
    # Relative paths start at the first zone; "./" and doubled slashes are fine.
    assert f.ok("fs.read", {"path": "src/main.c"})["path"] == "/work/src/main.c"
    assert f.ok("fs.read", {"path": ".//src/./main.c"})["path"] == "/work/src/main.c"
    assert f.ok("fs.read", {"path": "/input/readme.txt"})["content"] == "read only\n"


def test_read_empty_file(f):
    f.put("empty", "")
    r = f.ok("fs.read", {"path": "empty"})
    assert r["content"] == "" and r["size"] == 0 and r["total_lines"] == 0
    assert r["encoding"] == "utf-8" and r["truncated"] is False
    assert f.ok("fs.read", {"path": "empty", "tail": 3})["content"] == ""
    assert f.ok("fs.read", {"path": "empty", "head": 3})["content"] == ""


def test_read_windows(f):
    f.put("n.txt", "".join("line %d\n" % i for i in range(1, 101)))
    r = f.ok("fs.read", {"path": "n.txt", "offset": 10, "limit": 3})
    assert r["content"] == "line 10\nline 11\nline 12\n" and r["total_lines"] == 100
    assert r["truncated"] is False
    assert f.ok("fs.read", {"path": "n.txt", "offset": 99})["content"] == "line 99\nline 100\n"
    assert f.ok("fs.read", {"path": "n.txt", "limit": 2})["content"] == "line 1\nline 2\n"
    assert f.ok("fs.read", {"path": "n.txt", "head": 2})["content"] == "line 1\nline 2\n"
    assert f.ok("fs.read", {"path": "n.txt", "tail": 2})["content"] == "line 99\nline 100\n"
    assert f.ok("fs.read", {"path": "n.txt", "tail": 500})["content"].startswith("line 1\n")
    r = f.ok("fs.read", {"path": "n.txt", "offset": 101})
    assert r["content"] == "" and "past the end" in r["note"] and "100 lines" in r["note"]
    # No final newline: the last line still counts.
    f.put("nonl.txt", "a\nb\nc")
    r = f.ok("fs.read", {"path": "nonl.txt", "tail": 1})
    assert r["content"] == "c" and r["total_lines"] == 3
    assert f.ok("fs.read", {"path": "nonl.txt", "offset": 2})["content"] == "b\nc"
    # CRLF lines are returned as they are.
    f.put("crlf.txt", b"a\r\nb\r\n")
    assert f.ok("fs.read", {"path": "crlf.txt", "head": 1})["content"] == "a\r\n"


def test_read_windows_across_chunks(f):
    # Lines of many lengths (some longer than the server's 1 MiB read chunk), windows that
    # start, end and cut across chunk boundaries, with and without a final newline: every
    # window is exactly Python's slice of the file's lines.
    rng = random.Random(7)
    parts = []
    for i in range(3000):
        n = rng.choice([0, 1, 5, 80, 700, 5000]) if i % 500 else 1100000
        parts.append("%d:" % i + "x" * n + "\n")
    for ending in ("\n", ""):
        text = "".join(parts)[:-1] + ending
        f.put("w.txt", text)
        lines = text.splitlines(keepends=True)
        # From the first line (read straight into the window) and from anywhere.
        cases = [(1, lim) for lim in (1, 2, 7, 100, 1000, 5000)]
        cases += [(rng.randint(1, len(lines) + 2), rng.choice([1, 2, 7, 100, 1000, 5000]))
                  for _ in range(25)]
        for offset, limit in cases:
            r = f.ok("fs.read", {"path": "w.txt", "offset": offset, "limit": limit})
            want = "".join(lines[offset - 1:offset - 1 + limit])
            assert r["total_lines"] == len(lines)
            if r["truncated"]:
                assert want.startswith(r["content"]) and len(r["content"]) <= 4 * 1024 * 1024
                assert r["next_offset"] > offset
            else:
                assert r["content"] == want, (offset, limit, ending)


def test_read_nul_after_the_sniff(f):
    # Only the first 8 KiB decide text or binary: a NUL later is text, sent as \u0000, and
    # the result still carries (and fits) its structuredContent.
    f.put("late-nul.txt", "a" * 9000 + "\0tail\n")
    r = f.ok("fs.read", {"path": "late-nul.txt"})
    assert r["encoding"] == "utf-8" and r["content"] == "a" * 9000 + "\0tail\n"


def test_read_window_arguments_exclusive(f):
    f.put("a", "x\n")
    for args in ({"head": 1, "tail": 1}, {"head": 1, "offset": 2}, {"tail": 1, "limit": 2}):
        r = f.s.call("fs.read", dict(path="a", **args))
        assert r["error"]["code"] == -32602, r
    r = f.s.call("fs.read", {"path": "a", "paths": ["a"]})
    assert r["error"]["code"] == -32602
    r = f.s.call("fs.read", {"path": "a", "offset": 0})
    assert r["error"]["code"] == -32602


def test_read_binary_and_non_utf8(f):
    data = bytes(range(256)) * 4
    f.put("bin.dat", data)
    r = f.ok("fs.read", {"path": "bin.dat"})
    assert r["encoding"] == "base64" and base64.b64decode(r["content"]) == data
    assert r["mime_type"] == "application/octet-stream" and r["size"] == 1024
    assert "total_lines" not in r
    latin1 = "caf\xe9 cr\xe8me\n".encode("latin-1")
    f.put("latin1.txt", latin1)
    r = f.ok("fs.read", {"path": "latin1.txt"})
    assert r["encoding"] == "base64" and base64.b64decode(r["content"]) == latin1
    assert "UTF-8" in r["note"]
    # Valid UTF-8 of every width stays text.
    text = "h\u00e9llo \u4e16\u754c \U0001f600\n"
    f.put("utf8.txt", text.encode())
    assert f.ok("fs.read", {"path": "utf8.txt"})["content"] == text
    f.err("fs.read", {"path": "bin.dat", "head": 1}, "not a text file", "without them")


def test_read_image_content(f):
    f.put("dot.png", PNG_1x1)
    res = f.call("fs.read", {"path": "dot.png"})
    assert res["isError"] is False
    sc = res["structuredContent"]
    assert sc["encoding"] == "base64" and sc["mime_type"] == "image/png"
    assert base64.b64decode(sc["content"]) == PNG_1x1
    assert [c["type"] for c in res["content"]] == ["text", "image"]
    img = res["content"][1]
    assert img["mimeType"] == "image/png" and base64.b64decode(img["data"]) == PNG_1x1
    for name, magic, mime in (("a.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 20, "image/jpeg"),
                              ("a.gif", b"GIF89a" + b"\0" * 20, "image/gif"),
                              ("a.webp", b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 8, "image/webp")):
        f.put(name, magic)
        res = f.call("fs.read", {"path": name})
        assert res["content"][1]["mimeType"] == mime, name
    # By magic bytes, not by name.
    f.put("fake.png", "not an image\n")
    res = f.call("fs.read", {"path": "fake.png"})
    assert len(res["content"]) == 1 and res["structuredContent"]["encoding"] == "utf-8"


def test_read_large_file_pages(f):
    line = "%07d " + "x" * 91 + "\n"  # 100 bytes a line
    n = 10 * 1024 * 1024 // 100
    f.put("big.log", "".join(line % i for i in range(1, n + 1)))
    r = f.ok("fs.read", {"path": "big.log"})
    assert r["truncated"] is True and r["size"] == n * 100 and r["total_lines"] == n
    assert len(r["content"]) <= 256 * 1024 and r["content"].endswith("\n")
    got = r["content"].count("\n")
    assert r["next_offset"] == got + 1 and "offset=%d" % (got + 1) in r["note"]
    r2 = f.ok("fs.read", {"path": "big.log", "offset": r["next_offset"], "limit": 2})
    assert r2["content"] == line % (got + 1) + line % (got + 2)
    t = f.ok("fs.read", {"path": "big.log", "tail": 3})
    assert t["content"] == "".join(line % i for i in range(n - 2, n + 1))
    # An explicit window may return more than the default cap, up to 4 MiB.
    w = f.ok("fs.read", {"path": "big.log", "limit": 30000})
    assert w["truncated"] is False and w["content"].count("\n") == 30000
    w = f.ok("fs.read", {"path": "big.log", "limit": 100000})
    assert w["truncated"] is True and len(w["content"]) <= 4 * 1024 * 1024
    t = f.ok("fs.read", {"path": "big.log", "tail": 100000})
    assert t["truncated"] is True and t["content"].endswith(line % n)
    assert t["content"].startswith("%07d " % (n - len(t["content"]) // 100 + 1))


def test_read_one_huge_line(f):
    f.put("one.txt", "y" * (600 * 1024) + "\nend\n")
    r = f.ok("fs.read", {"path": "one.txt"})
    assert r["truncated"] is True and len(r["content"]) == 256 * 1024
    assert "longer than the size limit" in r["note"] and r["next_offset"] == 2
    assert f.ok("fs.read", {"path": "one.txt", "offset": 2})["content"] == "end\n"


def test_read_many_paths(f):
    f.put("a.txt", "A\n")
    f.put("b.txt", "B\n")
    f.put("dot.png", PNG_1x1)
    res = f.call("fs.read", {"paths": ["a.txt", "/work/missing", "/etc/passwd", "b.txt",
                                       "/work/dot.png", "/input/readme.txt"]})
    assert res["isError"] is False
    files = res["structuredContent"]["files"]
    assert [x["path"] for x in files] == ["a.txt", "/work/missing", "/etc/passwd", "b.txt",
                                          "/work/dot.png", "/input/readme.txt"]
    assert files[0]["content"] == "A\n" and files[0]["encoding"] == "utf-8"
    assert "does not exist" in files[1]["error"] and "content" not in files[1]
    assert "outside every zone" in files[2]["error"]
    assert files[3]["content"] == "B\n"
    assert files[4]["mime_type"] == "image/png"
    assert files[5]["content"] == "read only\n"
    assert [c["type"] for c in res["content"]] == ["text", "image"]
    # With a window, applied to each file.
    files = f.ok("fs.read", {"paths": ["a.txt", "b.txt"], "head": 1})["files"]
    assert [x["content"] for x in files] == ["A\n", "B\n"]


def test_read_many_paths_share_a_budget(f):
    for i in range(6):
        f.put("big%d" % i, ("%d" % i) * (300 * 1024))
    files = f.ok("fs.read", {"paths": ["big%d" % i for i in range(6)]})["files"]
    total = sum(len(x["content"]) for x in files)
    assert total <= 1024 * 1024
    assert all(x["truncated"] for x in files)
    assert "read it on its own" in files[-1]["note"]
    # Images count against the budget too.
    png = PNG_1x1 + b"\0" * (700 * 1024)
    for i in range(3):
        f.put("img%d.png" % i, png)
    res = f.call("fs.read", {"paths": ["img0.png", "img1.png", "img2.png"]})
    files = res["structuredContent"]["files"]
    assert [x["truncated"] for x in files] == [False, True, True]
    assert [c["type"] for c in res["content"]] == ["text", "image"]


def test_read_refusals(f):
    os.mkdir(f.host("dir"))
    os.mkfifo(f.host("fifo"))
    f.err("fs.read", {"path": "dir"}, "is a folder", "fs.list")
    # A FIFO must not hang the tool (or the worker thread).
    f.err("fs.read", {"path": "fifo"}, "not a regular file")
    f.err("fs.read", {"path": "/work/nope.txt"}, "/work/nope.txt does not exist")
    f.err("fs.read", {"path": "/scratch/x"}, "tmpfs", "shell.run")
    f.err("fs.read", {"path": "/"}, "sandbox root", "/work (rw)")
    assert f.ok("fs.stat", {"path": "dir"})["type"] == "dir"


def test_non_utf8_names(f):
    raw = os.path.join(os.fsencode(f.work), b"caf\xe9.txt")
    with open(raw, "wb") as fh:
        fh.write(b"latin-1 name\n")
    entries = f.ok("fs.list", {"path": "/work"})["entries"]
    names = [e["name"] for e in entries]
    assert "caf\ufffd.txt" in names
    m = f.ok("fs.search", {"path": "/work", "content": "latin-1"})["matches"]
    assert m[0]["path"] == "/work/caf\ufffd.txt" and m[0]["line"] == 1
    # Such a name cannot be given back in JSON: the error says so and what to do.
    f.err("fs.read", {"path": "/work/caf\ufffd.txt"}, "not UTF-8", "rename it with shell.run")
    # A UTF-8 name round-trips.
    assert f.ok("fs.write", {"path": "na\u00efve \u4e16.txt", "content": "ok"})["created"]
    assert f.ok("fs.read", {"path": "na\u00efve \u4e16.txt"})["content"] == "ok"
    assert os.path.exists(f.host("na\u00efve \u4e16.txt"))


# ---------------------------------------------------------------- fs.write

def test_write_modes(f):
    r = f.ok("fs.write", {"path": "/work/notes/todo.md", "content": "a\n", "parents": True})
    assert r == {"path": "/work/notes/todo.md", "bytes_written": 2, "created": True}
    assert open(f.host("notes/todo.md")).read() == "a\n"
    r = f.ok("fs.write", {"path": "notes/todo.md", "content": "bb\n"})
    assert r["created"] is False and open(f.host("notes/todo.md")).read() == "bb\n"
    r = f.ok("fs.write", {"path": "notes/todo.md", "content": "cc\n", "mode": "append"})
    assert r["bytes_written"] == 3 and open(f.host("notes/todo.md")).read() == "bb\ncc\n"
    r = f.ok("fs.write", {"path": "notes/new.md", "content": "n", "mode": "append"})
    assert r["created"] is True and open(f.host("notes/new.md")).read() == "n"
    f.err("fs.write", {"path": "notes/todo.md", "content": "x", "mode": "create"},
          "already exists", "overwrite")
    assert open(f.host("notes/todo.md")).read() == "bb\ncc\n"
    r = f.ok("fs.write", {"path": "notes/c.md", "content": "", "mode": "create"})
    assert r == {"path": "/work/notes/c.md", "bytes_written": 0, "created": True}
    assert os.path.getsize(f.host("notes/c.md")) == 0
    assert f.leftovers() == []


def test_write_parents(f):
    f.err("fs.write", {"path": "a/b/c.txt", "content": "x"}, "does not exist", "parents: true")
    assert not os.path.exists(f.host("a"))
    f.ok("fs.write", {"path": "a/b/c.txt", "content": "x", "parents": True})
    assert open(f.host("a/b/c.txt")).read() == "x"


def test_write_base64(f):
    data = bytes(range(256))
    r = f.ok("fs.write", {"path": "b.bin", "content": base64.b64encode(data).decode(),
                          "encoding": "base64"})
    assert r["bytes_written"] == 256 and open(f.host("b.bin"), "rb").read() == data
    # Line-wrapped and unpadded base64 is accepted too.
    enc = base64.b64encode(b"hello world").decode().rstrip("=")
    f.ok("fs.write", {"path": "c.bin", "content": enc[:6] + "\n" + enc[6:], "encoding": "base64"})
    assert open(f.host("c.bin"), "rb").read() == b"hello world"
    f.err("fs.write", {"path": "d.bin", "content": "not base64!", "encoding": "base64"},
          "not valid base64")
    assert not os.path.exists(f.host("d.bin"))
    # A string with NUL bytes is written as it is.
    f.ok("fs.write", {"path": "nul.txt", "content": "a\u0000b"})
    assert open(f.host("nul.txt"), "rb").read() == b"a\0b"


def test_write_keeps_permissions(f):
    p = f.put("script.sh", "#!/bin/sh\n", mode=0o750)
    os.chown(p, 1234, 5678)
    ino = os.stat(p).st_ino
    f.ok("fs.write", {"path": "script.sh", "content": "#!/bin/sh\necho hi\n"})
    st = os.stat(p)
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_ino != ino  # replaced by rename, not rewritten in place
    f.ok("fs.edit", {"path": "script.sh", "edits": [{"old": "hi", "new": "ho"}]})
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o750
    # setuid and setgid never survive new content (a root server would otherwise hand out a
    # setuid program with content the agent chose).
    os.chmod(p, 0o6755)
    f.ok("fs.write", {"path": "script.sh", "content": "#!/bin/sh\n"})
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o755


def test_write_refusals(f):
    os.mkdir(f.host("d"))
    f.err("fs.write", {"path": "d", "content": "x"}, "is a folder")
    f.err("fs.write", {"path": "/work", "content": "x"}, "root of zone work")
    f.err("fs.write", {"path": "/input/new.txt", "content": "x"},
          "fs.write: /input/new.txt is in zone input, which is read-only (mode ro)",
          "write under /work instead")
    assert not os.path.exists(os.path.join(f.input, "new.txt"))
    f.err("fs.write", {"path": "/input/readme.txt", "content": "x", "mode": "append"},
          "read-only (mode ro)")
    assert open(os.path.join(f.input, "readme.txt")).read() == "read only\n"
    f.err("fs.write", {"path": "/work/.git/hooks/pre-commit", "content": "x", "parents": True},
          "is protected", "zone work (mode rw")
    assert not os.path.exists(f.host(".git"))  # refused before parents were made
    f.err("fs.write", {"path": "/scratch/x", "content": "x"}, "tmpfs")
    os.symlink("d", f.host("link"))
    f.err("fs.write", {"path": "link", "content": "x"}, "is a symlink (-> d)")
    assert os.path.islink(f.host("link"))


def test_write_large_and_concurrent_readers(f):
    """A reader never sees a half-written file while it is overwritten."""
    a = "a" * (4 * 1024 * 1024)
    b = "b" * (4 * 1024 * 1024)
    f.ok("fs.write", {"path": "big.txt", "content": a})
    stop = threading.Event()
    seen = set()

    def reader():
        while not stop.is_set():
            try:
                with open(f.host("big.txt")) as fh:
                    data = fh.read()
                seen.add((len(data), data[:1], data[-1:]))
            except FileNotFoundError:
                seen.add("missing")
    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(4):
            f.ok("fs.write", {"path": "big.txt", "content": b if i % 2 == 0 else a})
    finally:
        stop.set()
        t.join()
    assert seen <= {(len(a), "a", "a"), (len(b), "b", "b")}, seen
    assert f.leftovers() == []


def test_full_disk(fs):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs zone needs root")
    extra = "    - {name: tiny, mode: rw, hostPath: %s}\n"
    f0 = tempfile.mkdtemp(prefix="zb-tiny-")
    f = fs(extra_zones=extra % f0)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", f0],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    try:
        # The server opens zones at the first fs call, after the mount.
        f.ok("fs.write", {"path": "/tiny/keep.txt", "content": "original\n"})
        f.err("fs.write", {"path": "/tiny/keep.txt", "content": "x" * (400 * 1024)},
              "/tiny/keep.txt", "is full", "nothing was changed")
        assert open(os.path.join(f0, "keep.txt")).read() == "original\n"
        assert [n for n in os.listdir(f0) if n.startswith(".zb-")] == []
        f.err("fs.write", {"path": "/tiny/new.txt", "content": "y" * (400 * 1024)}, "is full")
        assert not os.path.exists(os.path.join(f0, "new.txt"))
        z = f.ok("fs.zones", {})
        tiny = [x for x in z["zones"] if x["name"] == "tiny"][0]
        assert tiny["free_bytes"] <= 256 * 1024
        # Moving a file onto another filesystem copies, then deletes the source.
        f.put("moved.txt", "across\n", mode=0o640)
        os.chown(f.host("moved.txt"), 1234, 5678)
        r = f.ok("fs.move", {"source": "/work/moved.txt", "destination": "/tiny/moved.txt"})
        assert r == {"source": "/work/moved.txt", "destination": "/tiny/moved.txt"}
        assert not os.path.exists(f.host("moved.txt"))
        assert open(os.path.join(f0, "moved.txt")).read() == "across\n"
        st = os.stat(os.path.join(f0, "moved.txt"))
        assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == (1234, 5678)
        # A setuid file copied by a root server must not become a setuid-root program.
        f.put("suid", "#!/bin/sh\n", mode=0o4755)
        f.ok("fs.move", {"source": "suid", "destination": "/tiny/suid"})
        assert stat.S_IMODE(os.stat(os.path.join(f0, "suid")).st_mode) == 0o755
        # A folder with a symlink in it: the link is copied as a link, never followed.
        f.put("tree/a/b.txt", "b\n")
        os.symlink("/etc/passwd", f.host("tree/a/pw"))
        f.ok("fs.move", {"source": "tree", "destination": "/tiny/tree"})
        assert os.readlink(os.path.join(f0, "tree/a/pw")) == "/etc/passwd"
        assert open(os.path.join(f0, "tree/a/b.txt")).read() == "b\n"
        assert not os.path.exists(f.host("tree"))
        # Too big to copy: the source stays, no partial copy remains.
        f.put("huge.bin", b"z" * (600 * 1024))
        f.err("fs.move", {"source": "huge.bin", "destination": "/tiny/huge.bin"})
        assert os.path.getsize(f.host("huge.bin")) == 600 * 1024
        assert not [n for n in os.listdir(f0) if n.startswith(".zb-") or n == "huge.bin"]
    finally:
        subprocess.run(["umount", "-l", f0])
        os.rmdir(f0)


# ---------------------------------------------------------------- fs.edit

def test_edit_replaces_and_diffs(f):
    f.put("m.py", "def f():\n    return 1\n\n\ndef g():\n    return 2\n")
    r = f.ok("fs.edit", {"path": "m.py", "edits": [{"old": "return 1", "new": "return 10"}]})
    assert r["applied"] is True and r["replacements"] == 1 and r["path"] == "/work/m.py"
    assert r["diff"] == ("--- /work/m.py\n+++ /work/m.py\n@@ -1,5 +1,5 @@\n def f():\n"
                         "-    return 1\n+    return 10\n \n \n def g():\n")
    assert open(f.host("m.py")).read() == "def f():\n    return 10\n\n\ndef g():\n    return 2\n"
    # The output is a diff that patch(1) accepts.
    if shutil.which("patch"):
        orig = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
        f.put("copy.py", orig)
        d = f.ok("fs.edit", {"path": "copy.py", "dry_run": True,
                             "edits": [{"old": "return 2", "new": "return 20\n    # x"},
                                       {"old": "def f", "new": "def ff"}]})["diff"]
        f.put("copy.py", orig)
        p = subprocess.run(["patch", "-s", f.host("copy.py")], input=d, text=True,
                           capture_output=True)
        assert p.returncode == 0, p.stderr + d
        assert open(f.host("copy.py")).read() == orig.replace("return 2", "return 20\n    # x") \
            .replace("def f", "def ff")


def test_edit_in_order_and_replace_all(f):
    f.put("t.txt", "foo bar foo\nfoo\n")
    r = f.ok("fs.edit", {"path": "t.txt", "edits": [
        {"old": "foo", "new": "baz", "replace_all": True},
        {"old": "baz bar", "new": "qux"}]})
    assert r["replacements"] == 4
    assert open(f.host("t.txt")).read() == "qux baz\nbaz\n"


def test_edit_failures_change_nothing(f):
    p = f.put("t.txt", "one\ntwo\none\n")
    before = os.stat(p).st_mtime_ns
    f.err("fs.edit", {"path": "t.txt", "edits": [{"old": "one", "new": "1"}]},
          "edit 1 of 1", "occurs 2 times", "lines 1 and 3", "replace_all")
    f.err("fs.edit", {"path": "t.txt", "edits": [{"old": "two", "new": "2"},
                                                 {"old": "three", "new": "3"}]},
          "edit 2 of 2", "was not found", "nothing was written")
    assert open(p).read() == "one\ntwo\none\n" and os.stat(p).st_mtime_ns == before
    f.put("crlf.txt", b"a\r\nb\r\n")
    f.err("fs.edit", {"path": "crlf.txt", "edits": [{"old": "a\nb", "new": "x"}]}, "CRLF")
    f.err("fs.edit", {"path": "nope.txt", "edits": [{"old": "a", "new": "b"}]},
          "does not exist", "fs.write")
    f.err("fs.edit", {"path": "/input/readme.txt", "edits": [{"old": "read", "new": "x"}]},
          "read-only (mode ro)")
    os.symlink("t.txt", f.host("ln"))
    f.err("fs.edit", {"path": "ln", "edits": [{"old": "one", "new": "1"}]}, "symlink")
    assert f.leftovers() == []


def test_edit_dry_run(f):
    p = f.put("t.txt", "a\nb\n")
    r = f.ok("fs.edit", {"path": "t.txt", "dry_run": True, "edits": [{"old": "b", "new": "c"}]})
    assert r["applied"] is False and r["replacements"] == 1
    assert "-b\n+c\n" in r["diff"]
    assert open(p).read() == "a\nb\n"


def test_edit_diff_no_newline_and_far_apart(f):
    lines = ["l%d\n" % i for i in range(1, 41)]
    f.put("far.txt", "".join(lines) + "end")
    r = f.ok("fs.edit", {"path": "far.txt", "edits": [{"old": "l2\n", "new": "L2\n"},
                                                      {"old": "end", "new": "END"}]})
    d = r["diff"]
    assert d.count("@@ ") == 2, d
    assert "@@ -1,5 +1,5 @@" in d and "\\ No newline at end of file" in d


# ---------------------------------------------------------------- fs.list

def make_tree(f):
    f.put("a.txt", "aaa")
    f.put("b/c.txt", "c")
    f.put("b/d/e.c", "e")
    f.put(".hidden/x", "x")
    f.put(".dot", "")
    os.symlink("a.txt", f.host("ln"))


def test_list_fields_and_depth(f):
    make_tree(f)
    r = f.ok("fs.list", {"path": "/work"})
    assert r["path"] == "/work" and r["truncated"] is False
    assert [e["path"] for e in r["entries"]] == ["/work/a.txt", "/work/b", "/work/ln"]
    a = r["entries"][0]
    assert a["name"] == "a.txt" and a["type"] == "file" and a["size"] == 3
    assert a["mode"] == "%04o" % stat.S_IMODE(os.stat(f.host("a.txt")).st_mode)
    assert time.strptime(a["mtime"], "%Y-%m-%dT%H:%M:%SZ")
    ln = r["entries"][2]
    assert ln["type"] == "symlink" and ln["target"] == "a.txt"
    assert r["entries"][1]["type"] == "dir"
    deep = [e["path"] for e in f.ok("fs.list", {"path": ".", "depth": 3})["entries"]]
    assert deep == ["/work/a.txt", "/work/b", "/work/b/c.txt", "/work/b/d", "/work/b/d/e.c",
                    "/work/ln"]
    two = [e["path"] for e in f.ok("fs.list", {"path": ".", "depth": 2})["entries"]]
    assert "/work/b/c.txt" in two and "/work/b/d/e.c" not in two
    zero = f.ok("fs.list", {"path": "/work/b", "depth": 0})["entries"]
    assert len(zero) == 1 and zero[0]["path"] == "/work/b" and zero[0]["type"] == "dir"


def test_list_hidden_and_pattern(f):
    make_tree(f)
    names = [e["path"] for e in f.ok("fs.list", {"path": "/work", "hidden": True,
                                                 "depth": 2})["entries"]]
    assert "/work/.dot" in names and "/work/.hidden/x" in names
    got = [e["path"] for e in f.ok("fs.list", {"path": "/work", "depth": 5,
                                               "pattern": "*.c"})["entries"]]
    assert got == ["/work/b/d/e.c"]  # folders not matching are still descended into


def test_list_without_details(f):
    make_tree(f)
    full = f.ok("fs.list", {"path": "/work", "depth": 3, "hidden": True})["entries"]
    r = f.ok("fs.list", {"path": "/work", "depth": 3, "hidden": True, "details": False})
    # The same entries in the same order, with only what the folders themselves list.
    assert [(e["path"], e["name"], e["type"]) for e in full] == \
        [(e["path"], e["name"], e["type"]) for e in r["entries"]]
    assert all(set(e) == {"path", "name", "type"} for e in r["entries"]), r["entries"]
    assert {e["type"] for e in r["entries"]} == {"file", "dir", "symlink"}
    got = f.ok("fs.list", {"path": "/work", "depth": 5, "pattern": "*.c", "details": False})
    assert got["entries"] == [{"path": "/work/b/d/e.c", "name": "e.c", "type": "file"}]
    bad = f.s.call("fs.list", {"path": "/work", "details": "no"})
    assert bad["error"]["code"] == -32602 and "details" in bad["error"]["message"]


def test_list_names_not_utf8_and_quotes(f):
    os.mkdir(f.host("q"))
    for name in (b'bad\xff\xfename', b'say "hi"\\back', b'tab\there'):
        open(os.path.join(f.host("q").encode(), name), "w").close()
    for details in (True, False):
        r = f.ok("fs.list", {"path": "/work/q", "details": details})
        assert [e["name"] for e in r["entries"]] == ["bad\ufffd\ufffdname", 'say "hi"\\back',
                                                     "tab\there"]
        assert r["entries"][1]["path"] == '/work/q/say "hi"\\back'


def test_list_truncated(f):
    big = f.host("many")
    os.mkdir(big)
    for i in range(10050):
        open(os.path.join(big, "f%05d" % i), "w").close()
    r = f.ok("fs.list", {"path": "/work/many"})
    assert r["truncated"] is True and len(r["entries"]) == 10000
    r = f.ok("fs.list", {"path": "/work/many", "pattern": "f0000*"})
    assert r["truncated"] is False and len(r["entries"]) == 10


def test_list_refusals(f):
    make_tree(f)
    f.err("fs.list", {"path": "a.txt"}, "is a file")
    f.err("fs.list", {"path": "nope"}, "does not exist")
    f.err("fs.list", {"path": "/nowhere"}, "outside every zone")
    # A symlink to a folder inside the zone is listed through.
    os.symlink("b", f.host("bl"))
    assert [e["name"] for e in f.ok("fs.list", {"path": "bl"})["entries"]] == ["c.txt", "d"]


# ---------------------------------------------------------------- fs.stat

def test_stat(f):
    make_tree(f)
    r = f.ok("fs.stat", {"path": "a.txt"})
    assert r == {"path": "/work/a.txt", "type": "file", "size": 3, "mtime": r["mtime"],
                 "mode": r["mode"], "zone": "work", "writable": True}
    ln = f.ok("fs.stat", {"path": "ln"})
    assert ln["type"] == "symlink" and ln["target"] == "a.txt"
    assert f.ok("fs.stat", {"path": "/work"})["type"] == "dir"
    assert f.ok("fs.stat", {"path": "/input/readme.txt"})["writable"] is False
    os.makedirs(f.host(".git/hooks"))
    assert f.ok("fs.stat", {"path": ".git/hooks"})["writable"] is False
    assert f.ok("fs.stat", {"path": ".git"})["writable"] is True
    f.err("fs.stat", {"path": "missing"}, "does not exist")
    os.mkfifo(f.host("pipe"))
    assert f.ok("fs.stat", {"path": "pipe"})["type"] == "other"


# ---------------------------------------------------------------- fs.mkdir

def test_mkdir(f):
    assert f.ok("fs.mkdir", {"path": "x"}) == {"path": "/work/x", "created": True}
    assert os.path.isdir(f.host("x"))
    assert f.ok("fs.mkdir", {"path": "x"})["created"] is False
    f.err("fs.mkdir", {"path": "p/q/r"}, "does not exist", "parents")
    assert f.ok("fs.mkdir", {"path": "p/q/r", "parents": True})["created"] is True
    assert os.path.isdir(f.host("p/q/r"))
    assert f.ok("fs.mkdir", {"path": "p/q/r", "parents": True})["created"] is False
    f.put("file", "")
    f.err("fs.mkdir", {"path": "file"}, "not a folder")
    f.err("fs.mkdir", {"path": "/input/x"}, "read-only (mode ro)")
    f.err("fs.mkdir", {"path": "/work/locked/sub", "parents": True}, "is protected")
    assert not os.path.exists(f.host("locked"))
    assert f.ok("fs.mkdir", {"path": "/work"})["created"] is False


# ---------------------------------------------------------------- fs.move

def test_move(f):
    f.put("a.txt", "A")
    f.put("b.txt", "B")
    os.mkdir(f.host("dir"))
    r = f.ok("fs.move", {"source": "a.txt", "destination": "dir/a.txt"})
    assert r == {"source": "/work/a.txt", "destination": "/work/dir/a.txt"}
    assert open(f.host("dir/a.txt")).read() == "A" and not os.path.exists(f.host("a.txt"))
    f.err("fs.move", {"source": "b.txt", "destination": "dir/a.txt"}, "already exists",
          "overwrite: true")
    assert open(f.host("dir/a.txt")).read() == "A"
    f.ok("fs.move", {"source": "b.txt", "destination": "dir/a.txt", "overwrite": True})
    assert open(f.host("dir/a.txt")).read() == "B"
    # Folders move with what is in them; a non-empty folder is never replaced.
    f.put("full/x", "x")
    f.put("src/y", "y")
    f.err("fs.move", {"source": "src", "destination": "full", "overwrite": True},
          "not empty", "never replaces")
    f.ok("fs.move", {"source": "src", "destination": "full/src"})
    assert open(f.host("full/src/y")).read() == "y"
    f.err("fs.move", {"source": "full", "destination": "full/inside/x"}, "does not exist")
    os.mkdir(f.host("full/inner"))
    f.err("fs.move", {"source": "full", "destination": "full/inner/x"}, "into itself")
    # Across zones.
    f.ok("fs.move", {"source": "/work/full", "destination": "/other/full"})
    assert open(os.path.join(f.other, "full/src/y")).read() == "y"
    # Symlinks move as links.
    os.symlink("/etc/passwd", f.host("pw"))
    f.ok("fs.move", {"source": "pw", "destination": "pw2"})
    assert os.readlink(f.host("pw2")) == "/etc/passwd"


def test_move_refusals(f):
    f.put("a.txt", "A")
    f.err("fs.move", {"source": "/input/readme.txt", "destination": "/work/r.txt"},
          "read-only (mode ro)")
    assert os.path.exists(os.path.join(f.input, "readme.txt"))
    f.err("fs.move", {"source": "a.txt", "destination": "/input/a.txt"}, "read-only (mode ro)")
    f.err("fs.move", {"source": "a.txt", "destination": "/work/.git/hooks/a"}, "is protected")
    f.err("fs.move", {"source": "/work", "destination": "/other/w"}, "root of zone work")
    f.err("fs.move", {"source": "missing", "destination": "x"}, "does not exist")
    f.err("fs.move", {"source": "a.txt", "destination": "/scratch/a"}, "tmpfs")
    os.makedirs(f.host("locked"))
    f.err("fs.move", {"source": "a.txt", "destination": "locked"}, "is protected")
    assert os.path.exists(f.host("a.txt"))


# ---------------------------------------------------------------- fs.delete

def test_delete(f):
    f.put("a.txt", "A")
    assert f.ok("fs.delete", {"path": "a.txt"}) == {"path": "/work/a.txt", "deleted": 1}
    assert not os.path.exists(f.host("a.txt"))
    os.mkdir(f.host("empty"))
    assert f.ok("fs.delete", {"path": "empty"})["deleted"] == 1
    f.put("tree/a/b/c.txt", "c")
    f.put("tree/d.txt", "d")
    f.err("fs.delete", {"path": "tree"}, "not empty", "recursive: true")
    assert os.path.exists(f.host("tree/d.txt"))
    assert f.ok("fs.delete", {"path": "tree", "recursive": True})["deleted"] == 5
    assert not os.path.exists(f.host("tree"))
    # A symlink is deleted, never what it points to.
    keep = f.put("keep/k.txt", "k")
    os.symlink("keep", f.host("ln"))
    assert f.ok("fs.delete", {"path": "ln", "recursive": True})["deleted"] == 1
    assert os.path.exists(keep)
    f.put("t2/x", "x")
    os.symlink(os.path.dirname(keep), f.host("t2/outlink"))
    f.ok("fs.delete", {"path": "t2", "recursive": True})
    assert os.path.exists(keep)


def test_delete_refusals(f):
    f.err("fs.delete", {"path": "/work"}, "root of zone work")
    f.err("fs.delete", {"path": "/input/readme.txt"}, "read-only (mode ro)")
    assert os.path.exists(os.path.join(f.input, "readme.txt"))
    f.put(".git/hooks/pre-commit", "#!/bin/sh\n")
    f.err("fs.delete", {"path": ".git/hooks/pre-commit"}, "is protected")
    f.err("fs.delete", {"path": ".git", "recursive": True}, "is protected")
    assert os.path.exists(f.host(".git/hooks/pre-commit"))
    f.err("fs.delete", {"path": "missing"}, "does not exist")


# ---------------------------------------------------------------- fs.search

def test_search(f):
    f.put("src/a.c", "int x;\n// TODO one\nint y;\n")
    f.put("src/b.py", "# TODO two\n")
    f.put("src/sub/c.c", "nothing\nTODO: three\n")
    f.put("bin.o", b"TODO\0binary")
    r = f.ok("fs.search", {"path": "/work", "content": "TODO"})
    assert r["matches"] == [
        {"path": "/work/src/a.c", "line": 2, "text": "// TODO one"},
        {"path": "/work/src/b.py", "line": 1, "text": "# TODO two"},
        {"path": "/work/src/sub/c.c", "line": 2, "text": "TODO: three"},
    ]
    assert r["truncated"] is False and r["files_scanned"] == 4
    r = f.ok("fs.search", {"path": "src", "content": "TODO", "pattern": "*.c"})
    assert [m["path"] for m in r["matches"]] == ["/work/src/a.c", "/work/src/sub/c.c"]
    r = f.ok("fs.search", {"path": ".", "pattern": "*.c"})
    assert r["matches"] == [{"path": "/work/src/a.c"}, {"path": "/work/src/sub/c.c"}]
    assert r["files_scanned"] == 4
    r = f.ok("fs.search", {"path": ".", "pattern": "s*"})  # folders match by name too
    assert r["matches"] == [{"path": "/work/src"}, {"path": "/work/src/sub"}]
    r = f.ok("fs.search", {"path": ".", "content": "^int [xy];$", "regex": True})
    assert [(m["path"], m["line"]) for m in r["matches"]] == [("/work/src/a.c", 1),
                                                              ("/work/src/a.c", 3)]
    r = f.ok("fs.search", {"path": ".", "content": "TODO", "max_results": 2})
    assert len(r["matches"]) == 2 and r["truncated"] is True
    r = f.ok("fs.search", {"path": "src/a.c", "content": "int"})
    assert [m["line"] for m in r["matches"]] == [1, 3]
    f.err("fs.search", {"path": ".", "content": "([", "regex": True}, "regular expression")
    f.err("fs.search", {"path": "."}, "pattern", "content")
    f.err("fs.search", {"path": "nope", "content": "x"}, "does not exist")
    long = "x" * 2000 + "NEEDLE"
    f.put("long.txt", long + "\n")
    m = f.ok("fs.search", {"path": ".", "content": "NEEDLE"})["matches"][0]
    assert m["text"].endswith("...") and len(m["text"]) <= 510


def test_search_in_big_tree(f):
    for i in range(200):
        f.put("t/d%02d/f%03d.txt" % (i % 10, i), "line\n" * 50 + ("needle %d\n" % i))
    r = f.ok("fs.search", {"path": "t", "content": "needle", "max_results": 1000})
    assert len(r["matches"]) == 200 and r["files_scanned"] == 200
    assert all(m["line"] == 51 for m in r["matches"])
    paths = [m["path"] for m in r["matches"]]
    assert paths == sorted(paths)


# ---------------------------------------------------------------- concurrency

def test_many_calls_in_flight(f):
    for i in range(20):
        f.put("c%d.txt" % i, "content %d\n" % i)
    ids = []
    for i in range(20):
        f.s.send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
                  "params": {"name": "fs.read", "arguments": {"path": "c%d.txt" % i}}})
        ids.append(1000 + i)
    got = {}
    while len(got) < 20:
        m = f.s.recv_response(timeout=20)
        got[m["id"]] = m["result"]["structuredContent"]["content"]
    assert got == {1000 + i: "content %d\n" % i for i in range(20)}


def big_tree(f, n=3000):
    for i in range(n):
        f.put("big/d%02d/f%04d.txt" % (i % 30, i), "some text\n" * 200)


def test_loop_not_blocked_by_a_long_walk(f):
    """A long search runs on a worker thread: a ping sent after it is answered first."""
    big_tree(f)
    f.s.send({"jsonrpc": "2.0", "id": "walk", "method": "tools/call",
              "params": {"name": "fs.search",
                         "arguments": {"path": "big", "content": "absent"}}})
    f.s.send({"jsonrpc": "2.0", "id": "ping", "method": "ping"})
    order = [f.s.recv_response(timeout=30)["id"], f.s.recv_response(timeout=30)["id"]]
    assert order == ["ping", "walk"]


def test_cancelled_search(f):
    big_tree(f)
    f.s.send({"jsonrpc": "2.0", "id": "walk", "method": "tools/call",
              "params": {"name": "fs.search",
                         "arguments": {"path": "big", "content": "absent"}}})
    f.s.notify("notifications/cancelled", {"requestId": "walk", "reason": "test"})
    assert f.s.request("ping")["result"] == {}
    # No answer for the cancelled call; the next one is served.
    assert f.ok("fs.stat", {"path": "big"})["type"] == "dir"


# ---------------------------------------------------------------- an unprivileged server

@pytest.fixture
def nobody(fs):
    if os.geteuid() != 0:
        pytest.skip("running the server as uid %d needs root to switch to it" % NOBODY)
    if not have_setpriv():
        pytest.skip("setpriv (util-linux) is missing, so the server cannot be started as "
                    "uid %d" % NOBODY)
    return fs(uid=NOBODY)


def test_permission_denied(nobody):
    f = nobody
    f.put("locked.txt", "secret\n", mode=0o000)
    f.put("ok.txt", "fine\n")
    f.err("fs.read", {"path": "locked.txt"}, "permission denied", "uid %d" % NOBODY)
    root_owned = os.path.join(f.work, "root.txt")
    with open(root_owned, "w") as fh:
        fh.write("root\n")
    os.chmod(root_owned, 0o600)
    f.err("fs.read", {"path": "root.txt"}, "permission denied")
    files = f.ok("fs.read", {"paths": ["locked.txt", "ok.txt"]})["files"]
    assert "permission denied" in files[0]["error"] and files[1]["content"] == "fine\n"
    os.mkdir(f.host("closed"))
    os.chmod(f.host("closed"), 0o700)  # root's, not readable by the server
    f.err("fs.list", {"path": "closed"}, "permission denied")
    f.err("fs.write", {"path": "closed/x", "content": "x"}, "permission denied")
    # The search goes on past what it may not read.
    r = f.ok("fs.search", {"path": ".", "content": "fine"})
    assert r["matches"] == [{"path": "/work/ok.txt", "line": 1, "text": "fine"}]
    # Writes as the server's own user work, and keep that owner.
    f.ok("fs.write", {"path": "new.txt", "content": "n"})
    assert os.stat(f.host("new.txt")).st_uid == NOBODY
