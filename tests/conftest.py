"""Shared fixtures: the shipped suite, and running `cpe` as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def register_secrets(tmp_path_factory, monkeypatch):
    """Each test its own register key and checkpoint file (outside any database), so no test
    writes the user's and no test sees another's anchors (subprocesses inherit them)."""
    where = tmp_path_factory.mktemp("register-secrets")
    monkeypatch.setenv("CPE_REGISTER_KEY_FILE", str(where / "register.key"))
    monkeypatch.setenv("CPE_REGISTER_CHECKPOINTS", str(where / "checkpoints.jsonl"))
    monkeypatch.delenv("CPE_REGISTER_KEY", raising=False)
    return where


@pytest.fixture(scope="session")
def suite():
    from engine.language.suite import Suite

    return Suite(ROOT / "policies")


def run_cpe(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `cpe` entry point in a subprocess, as a user would."""
    cpe = Path(sys.executable).parent / "cpe"
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    full_env.pop("CPE_POLICIES", None) if not (env and "CPE_POLICIES" in env) else None
    return subprocess.run([str(cpe), *args], capture_output=True, text=True, cwd=cwd or ROOT, env=full_env,
                          timeout=120)


@pytest.fixture
def cpe():
    return run_cpe
