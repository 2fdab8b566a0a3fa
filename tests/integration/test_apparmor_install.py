"""clients/apparmor/install.sh: the fix for Ubuntu's user-namespace restriction. The real
apparmor_parser and an AppArmor kernel are not on this machine (Debian 12's parser predates
the `userns` rule), so the parser is a recording stub; the profile text is checked here."""
import os
import stat
import subprocess

from conftest import TOP

SCRIPT = os.path.join(TOP, "clients", "apparmor", "install.sh")


def run(args, tmp_path, restricted="1"):
    sysctl = tmp_path / "restrict"
    sysctl.write_text(restricted + "\n")
    parser = tmp_path / "apparmor_parser"
    parser.write_text("#!/bin/sh\necho \"$@\" > %s/parser-args\n" % tmp_path)
    parser.chmod(0o755)
    helper = tmp_path / "zonebox-sandbox"
    helper.write_text("#!/bin/sh\n")
    helper.chmod(0o755)
    (tmp_path / "apparmor.d").mkdir(exist_ok=True)
    env = dict(os.environ, ZB_APPARMOR_SYSCTL=str(sysctl), ZB_APPARMOR_DIR=str(tmp_path / "apparmor.d"),
               ZB_APPARMOR_PARSER=str(parser))
    return subprocess.run([SCRIPT, *[a.replace("HELPER", str(helper)) for a in args]],
                          capture_output=True, text=True, env=env), helper


def test_check_reports_restriction(tmp_path):
    p, _ = run(["--check"], tmp_path, "1")
    assert p.returncode == 1 and "sudo" in p.stdout
    p, _ = run(["--check"], tmp_path, "0")
    assert p.returncode == 0


def test_install_writes_exact_profile_and_loads_it(tmp_path):
    p, helper = run(["HELPER"], tmp_path)
    assert p.returncode == 0, p.stderr
    prof = (tmp_path / "apparmor.d" / "zonebox-sandbox").read_text()
    assert "profile zonebox-sandbox %s flags=(unconfined)" % helper in prof
    assert "  userns,\n" in prof and "abi <abi/4.0>" in prof
    assert (tmp_path / "parser-args").read_text().split() == [
        "-r", str(tmp_path / "apparmor.d" / "zonebox-sandbox")]


def test_refuses_glob_characters_in_path(tmp_path):
    odd = tmp_path / "we{ird"
    odd.mkdir()
    h = odd / "zonebox-sandbox"
    h.write_text("#!/bin/sh\n")
    h.chmod(0o755)
    p, _ = run([str(h)], tmp_path)
    assert p.returncode == 1 and "pattern" in p.stderr


def test_print_changes_nothing(tmp_path):
    p, helper = run(["--print", "HELPER"], tmp_path)
    assert p.returncode == 0 and str(helper) in p.stdout
    assert not (tmp_path / "apparmor.d" / "zonebox-sandbox").exists()
