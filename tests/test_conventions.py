"""The conventions of a Python tool: --version, completion, settings in one place, JSON from the
report commands, logging set once, and one message naming the extra a command needs."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cpe


def test_version_matches_the_package():
    from importlib.metadata import version

    r = run_cpe("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cpe {version('cpe')}"


def test_shell_completion_is_offered():
    r = run_cpe("--help")
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


def test_config_shows_every_setting_and_its_source():
    from engine.settings import SPECS

    r = run_cpe("config", "--format", "json", env={"CPE_REVIEW_WINDOW_DAYS": "30", "CPE_API_TOKENS": "a:b:c"})
    assert r.returncode == 0, r.stderr
    rows = {row["variable"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {f"CPE_{n.upper()}" for n in SPECS}
    assert rows["CPE_REVIEW_WINDOW_DAYS"] == {**rows["CPE_REVIEW_WINDOW_DAYS"], "value": 30, "source": "environment"}
    assert rows["CPE_SIGNAL_THRESHOLD"]["source"] == "default"
    assert rows["CPE_API_TOKENS"]["value"] == "********"  # secrets never printed


@pytest.mark.parametrize("value", ["soon", "0", "-3"])
def test_a_bad_setting_is_bad_input_naming_the_variable(value):
    r = run_cpe("config", env={"CPE_REVIEW_WINDOW_DAYS": value})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "CPE_REVIEW_WINDOW_DAYS" in r.stderr


def test_every_cpe_variable_is_read_through_settings():
    """No module but engine/settings.py reads the environment for a CPE_ variable."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "engine").rglob("*.py")
                 if p.name != "settings.py" and "os.environ" in p.read_text() and "CPE_" in p.read_text()]
    assert offenders == []


def test_lint_and_test_report_as_json():
    r = run_cpe("lint", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert {"errors", "warnings", "findings"} <= set(json.loads(r.stdout))
    r = run_cpe("test", "--format", "json")
    data = json.loads(r.stdout)
    assert r.returncode == 0 and data["failed"] == 0 and data["passed"] > 200
    assert all({"id", "cases", "coverage"} <= set(p) for p in data["policies"])


def test_report_command_errors_are_json_too_and_still_one_line_on_stderr():
    r = run_cpe("test", "no-such-policy", "--format", "json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["error"]["problems"][0]["code"] == "unknown-policy"
    assert r.stderr.count("\n") == 1


def test_output_flag_is_the_same_everywhere():
    for group in (["formulary", "export"], ["formulary", "import"], ["report", "policy"], ["diff"],
                  ["cohort", "generate"], ["register", "export"]):
        r = run_cpe(*group, "--help")
        assert "--output" in r.stdout and "-o" in r.stdout, group


@pytest.mark.parametrize("module,extra,args", [
    ("numpy", "cohort", ["cohort", "generate", "--n", "5", "-o", "x.csv"]),
    ("weasyprint", "pdf", ["report", "policy", "breast-implant-replacement", "--format", "pdf", "-o", "x.pdf"]),
    ("fastapi", "service", ["serve"]),
    ("sqlalchemy", "register", ["case", "list"]),
])
def test_a_missing_extra_is_named_in_one_line(tmp_path, module, extra, args):
    """As if the extra were not installed (the module blocked): exit 2, one line naming the extra.
    scripts/check-wheel proves the same with a real core-only install."""
    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['cpe', *{args!r}]; "
            "from engine.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CPE_DATABASE_URL": f"sqlite:///{tmp_path}/r.db",
                            "CPE_CACHE_DIR": str(tmp_path / "cache")}, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (f"cpe: this needs the optional '{extra}' part of cpe, which is not installed "
                                f"(no module {module!r}): pip install 'cpe[{extra}]'")


def test_warnings_are_logged_once_through_one_handler():
    code = ("import warnings, sys; sys.argv=['cpe','config']; from engine.cli.common import configure_logging; "
            "configure_logging(); configure_logging(); warnings.warn('careful')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.stderr.count("careful") == 1 and r.stderr.startswith("cpe: WARNING")
