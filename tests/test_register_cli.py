"""The register's rows of the contract, through the `cpe` command as a user runs it, on SQLite and
PostgreSQL: case new / show / decide / list, register verify / export, and bad input (exit 2,
one line, nothing recorded)."""
from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import FIXTURES, ROOT, run_cpe  # noqa: F401
from tests.register_db import db_url, without_triggers  # noqa: F401


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch, capsys):
    """`cpe` in this process through its entry point (engine.cli.main): the same code and exit
    statuses as the installed command, without a second of interpreter start-up per call."""
    from engine.cli import main

    monkeypatch.setenv("CPE_DATABASE_URL", db_url)
    monkeypatch.setenv("CPE_ACTOR", "tester")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("CPE_POLICIES", raising=False)

    def run(*args: str) -> Ran:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["cpe", *args])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"age": 34, "implant_rupture": True}))
    run.patient = str(patient)
    return run


def test_the_installed_command(db_url, tmp_path):
    """Two calls through the real `cpe` executable, so the entry point itself is covered."""
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps({"age": 34, "implant_rupture": True}))
    env = {"CPE_DATABASE_URL": db_url}
    new = run_cpe("case", "new", "breast-implant-removal", "--patient", str(patient), "--format", "json", env=env)
    assert new.returncode == 0, new.stderr
    assert json.loads(new.stdout)["ref"] == "IFR-000001"
    ver = run_cpe("register", "verify", env=env)
    assert ver.returncode == 0 and "intact" in ver.stdout


def test_case_new_show_decide_verify(cli):
    new = cli("case", "new", "breast-implant-removal", "--patient", cli.patient, "--on", "2019-06-01",
              "--grounds", "ruptured implant", "--format", "json")
    assert new.returncode == 0, new.stderr
    out = json.loads(new.stdout)
    assert set(out) == {"ref", "decision"}
    ev = cli("evaluate", "breast-implant-removal", "--patient", cli.patient, "--on", "2019-06-01", "--format", "json")
    assert out["decision"] == json.loads(ev.stdout)  # the contract's evaluate JSON, exactly
    ref = out["ref"]

    show = json.loads(cli("case", "show", ref, "--format", "json").stdout)
    assert show["ref"] == ref and show["decision"] == out["decision"] and show["grounds"] == "ruptured implant"
    assert show["state"] == "submitted" and [h["action"] for h in show["history"]] == ["submit"]

    dec = cli("case", "decide", ref, "--outcome", "approved", "--reason", "meets the policy")
    assert dec.returncode == 0, dec.stderr
    show = json.loads(cli("case", "show", ref, "--format", "json").stdout)
    assert show["state"] == "decided" and show["panel_decisions"][0]["reason"] == "meets the policy"
    assert show["panel_decisions"][0]["decided_by"] == "tester"
    assert [h["action"] for h in show["history"]] == ["submit", "screen", "refer", "decide"]

    again = cli("case", "decide", ref, "--outcome", "declined", "--reason", "changed our minds")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "not allowed" in again.stderr

    listed = json.loads(cli("case", "list", "--format", "json").stdout)
    assert [(c["ref"], c["state"], c["panel_decision"]) for c in listed] == [(ref, "decided", "approved")]

    ver = cli("register", "verify")
    assert ver.returncode == 0, ver.stdout + ver.stderr
    assert "intact" in ver.stdout
    rep = json.loads(cli("register", "verify", "--format", "json").stdout)
    assert rep["ok"] and rep["audit_entries"] == 4 and rep["evaluations_checked"] == 1
    assert cli("register", "verify", "--head", rep["head"]).returncode == 0

    lines = cli("register", "export").stdout.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2, 3, 4]
    assert json.loads(lines[1])["prev_hash"] == json.loads(lines[0])["hash"]
    assert "implant_rupture" not in "".join(lines)  # no patient facts in the export
    fhir = [json.loads(x) for x in cli("register", "export", "--fhir").stdout.splitlines()]
    assert {f["resourceType"] for f in fhir} == {"AuditEvent"}

    text = cli("case", "show", ref)
    assert text.returncode == 0 and ref in text.stdout and "approved" in text.stdout


def test_verify_fails_naming_the_first_bad_record(cli, db_url, suite):
    from engine.register.store import Register

    for _ in range(2):
        assert cli("case", "new", "breast-implant-removal", "--patient", cli.patient).returncode == 0
    reg = Register(db_url, suite=suite)
    without_triggers(reg, "evaluations", "UPDATE evaluations SET outcome = 'not_eligible' WHERE id = 2")
    reg.close()
    ver = cli("register", "verify")
    assert ver.returncode == 3
    assert "first bad record: evaluations row 2 (case IFR-000002)" in ver.stdout
    rep = json.loads(cli("register", "verify", "--format", "json").stdout)
    assert not rep["ok"] and rep["first_bad_record"].startswith("evaluations row 2")
    gone = cli("register", "verify", "--head", "f" * 64)
    assert gone.returncode == 3 and "no longer in the chain" in gone.stdout


@pytest.mark.parametrize("args, message", [
    (("case", "new", "no-such-policy", "--patient", "{patient}"), "unknown-policy"),
    (("case", "new", "breast-implant-removal", "--patient", "{bad}"), "age"),
    (("case", "new", "breast-implant-removal", "--patient", "/nonexistent.json"), "nonexistent"),
    (("case", "new", "breast-implant-removal", "--patient", "{patient}", "--on", "June"), "bad-date"),
    (("case", "new", "breast-implant-removal"), "--patient"),
    (("case", "show", "IFR-999999"), "no case 'IFR-999999'"),
    (("case", "decide", "IFR-999999", "--outcome", "approved", "--reason", "r"), "no case"),
    (("case", "event", "IFR-999999", "screen"), "no case"),
])
def test_bad_input_exits_2_with_one_line_and_records_nothing(cli, tmp_path, args, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"age": 300}))
    r = cli(*(a.format(patient=cli.patient, bad=bad) for a in args))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert json.loads(cli("case", "list", "--format", "json").stdout) == []


def test_bad_outcome_is_bad_input(cli):
    ref = json.loads(cli("case", "new", "hip-arthroscopy", "--patient", cli.patient, "--format", "json").stdout)["ref"]
    r = cli("case", "decide", ref, "--outcome", "maybe", "--reason", "r")
    assert r.returncode == 2 and "approved or declined" in r.stderr
    assert json.loads(cli("case", "show", ref, "--format", "json").stdout)["state"] == "submitted"


def test_unreachable_or_bad_database_is_one_line_exit_2(tmp_path):
    for url in ("postgresql+psycopg://nobody:secret@127.0.0.1:1/none", "notadb://x"):
        r = run_cpe("case", "list", env={"CPE_DATABASE_URL": url})
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "secret" not in r.stderr


def test_default_database_is_a_file_in_the_user_data_dir(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    patient = tmp_path / "p.json"
    patient.write_text("{}")
    import os
    full = {k: v for k, v in os.environ.items() if k != "CPE_DATABASE_URL"}
    import subprocess
    import sys
    from pathlib import Path
    r = subprocess.run([str(Path(sys.executable).parent / "cpe"), "case", "new", "hip-arthroscopy", "--patient",
                        str(patient), "--format", "json"], capture_output=True, text=True, cwd=ROOT,
                       env={**full, **env}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "cpe" / "register.sqlite3").exists()


def test_workflow_events_and_signals_from_the_command_line(cli, monkeypatch):
    monkeypatch.setenv("CPE_SIGNAL_THRESHOLD", "1")
    refs = [json.loads(cli("case", "new", "hip-arthroscopy", "--patient", cli.patient, "--version", "draft-2025",
                           "--format", "json").stdout)["ref"] for _ in range(2)]
    shown = json.loads(cli("case", "show", refs[0], "--format", "json").stdout)
    assert shown["decision"]["policy"]["version"] == "draft-2025"
    assert cli("case", "event", refs[0], "screen", "--note", "complete").returncode == 0
    r = cli("case", "event", refs[0], "screen")
    assert r.returncode == 2 and "is screening: 'screen' is not allowed now (allowed: refer, request_information, screen_out, withdraw)" \
        in r.stderr
    assert cli("case", "event", refs[0], "screen_out", "--note", "service development").returncode == 0
    assert json.loads(cli("case", "show", refs[0], "--format", "json").stdout)["history"][-1]["note"] == \
        "service development"
    assert [c["ref"] for c in json.loads(cli("case", "list", "--state", "closed", "--format", "json").stdout)] \
        == [refs[0]]
    sig = json.loads(cli("register", "signals", "--format", "json").stdout)
    assert [(s["policy_id"], s["case_ref"]) for s in sig] == [("hip-arthroscopy", refs[1])]
    assert cli("register", "verify").returncode == 0
