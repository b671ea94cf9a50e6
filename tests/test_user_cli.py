"""`cpe user add/list/disable` as an administrator runs them, in a script and without a terminal."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def cpe(*args: str, db: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "CPE_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([str(Path(sys.executable).parent / "cpe"), *args], input=stdin if stdin is not None else "",
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_add_list_and_disable_from_a_script(tmp_path):
    db = tmp_path / "r.sqlite3"
    r = cpe("user", "add", "ada", "--role", "admin", "--name", "Ada Lovelace", "--password-stdin", db=db,
            stdin="a long enough password\n")
    assert r.returncode == 0, r.stderr
    assert "ada" in r.stdout
    listed = json.loads(cpe("user", "list", "--format", "json", db=db).stdout)
    assert [(u["username"], u["role"]) for u in listed] == [("ada", "admin")]
    assert cpe("user", "disable", "ada", db=db).returncode == 0
    assert json.loads(cpe("user", "list", "--format", "json", db=db).stdout)[0]["disabled"] is True


def test_without_a_terminal_the_password_prompt_says_how(tmp_path):
    r = cpe("user", "add", "ada", "--role", "admin", db=tmp_path / "r.sqlite3", stdin="")
    assert r.returncode == 2 and r.stdout == ""
    assert "no terminal" in r.stderr and "--password-stdin" in r.stderr and r.stderr.count("\n") == 1


def test_a_bad_role_or_no_password_is_bad_input(tmp_path):
    db = tmp_path / "r.sqlite3"
    r = cpe("user", "add", "ada", "--role", "wizard", "--password-stdin", db=db, stdin="a long enough password\n")
    assert r.returncode == 2 and "wizard" in r.stderr
    r = cpe("user", "add", "ada", "--role", "admin", "--password-stdin", db=db, stdin="\n")
    assert r.returncode == 2 and "password" in r.stderr
