"""`cpe rag` and `cpe formulary` as a user runs them: contract JSON, text view, --patient, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_cpe

GM = FIXTURES / "formulary" / "gm"
CONTRACT_KEYS = {"medicine", "brands", "formulation", "indication", "status", "status_label", "meaning",
                 "prior_approval", "ifr_available", "notes"}


class Run:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cpe(tmp_path_factory, monkeypatch, capsys):
    """`cpe` in this process (fast); the exit-status contract is also checked in a subprocess below."""
    from engine.cli import main

    monkeypatch.setenv("CPE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cli-cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("CPE_FORMULARY", raising=False)

    def run(*args: str, env: dict | None = None) -> Run:
        with monkeypatch.context() as m:
            for k, v in (env or {}).items():
                m.setenv(k, v)
            m.setattr("sys.argv", ["cpe", *args])
            capsys.readouterr()
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            out, err = capsys.readouterr()
        return Run(code, out, err)
    return run


def rag(cpe, *args: str, env: dict | None = None) -> dict:
    r = cpe("rag", *args, "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_contract_example_agomelatine(cpe):
    out = rag(cpe, "agomelatine")
    assert out["query"] == "agomelatine"
    (m,) = out["matches"]
    assert CONTRACT_KEYS <= set(m)
    assert m["medicine"] == "agomelatine" and m["brands"] == [] and m["formulation"] is None
    assert m["indication"] == "major depressive episodes in adults"
    assert (m["status"], m["status_label"], m["prior_approval"], m["ifr_available"]) == ("red", "Red", True, False)
    assert isinstance(m["meaning"], str) and m["meaning"] and isinstance(m["notes"], str)


@pytest.mark.parametrize("args, status", [
    (("nortriptilyne",), "green_restricted"),
    (("Slenyto",), "not_stated"),
    (("hydralazine", "--indication", "heart failure"), "amber_0"),
    (("octreotide", "--indication", "postural orthostatic tachycardia syndrome"), "black"),
])
def test_contract_rules(cpe, args, status):
    out = rag(cpe, *args)
    assert [m["status"] for m in out["matches"]] == [status]
    for m in out["matches"]:
        assert CONTRACT_KEYS <= set(m)
        assert m["status"] in {"green", "green_restricted", "amber_0", "amber_1", "amber_2", "red", "black",
                               "not_stated"}
        assert isinstance(m["brands"], list) and isinstance(m["prior_approval"], bool)
        assert isinstance(m["ifr_available"], bool)


def test_slenyto_is_melatonin(cpe):
    (m,) = rag(cpe, "Slenyto")["matches"]
    assert m["medicine"] == "melatonin" and m["brands"] == ["Slenyto"]


def test_no_match_is_empty_and_exit_zero(cpe):
    out = rag(cpe, "paracetamol")
    assert {k: out[k] for k in ("query", "matches", "formulary")} == {"query": "paracetamol", "matches": [],
                                                                      "formulary": "lsc"}
    assert "indication" not in out  # an unknown word is no indication either
    assert rag(cpe, "agomelatine", "--indication", "heart failure")["matches"] == []


def test_text_view_names_the_status_in_words_and_what_to_do(cpe):
    r = cpe("rag", "colonis")
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith(" Black  ")] and \
        len([line for line in r.stdout.splitlines() if line.startswith(" Black  ")]) == 2
    assert "Not to be prescribed on the NHS" in r.stdout
    assert "individual funding request" in r.stdout
    r = cpe("rag", "agomelatine")
    assert "\n Red  " in r.stdout and "refer to the specialist" in r.stdout.lower()
    assert "Prior approval is required" in r.stdout
    r = cpe("rag", "paracetamol")
    assert r.returncode == 0 and "No formulary entry matches" in r.stdout


def _patient(tmp_path: Path, text: str, name: str = "patient.yaml") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_patient_restriction_met_unmet_unknown(cpe, tmp_path):
    def check(text: str) -> dict:
        (m,) = rag(cpe, "nortriptyline", "--patient", _patient(tmp_path, text))["matches"]
        return m["patient"]
    met = check("neuropathic_pain_prior_agents_tried: 2\n")
    assert (met["restriction"], met["outcome"], met["route"]) == ("met", "eligible", "routine")
    assert met["criteria"][0]["id"] == "third-line" and met["criteria"][0]["status"] == "met"
    unmet = check("neuropathic_pain_prior_agents_tried: 1\n")
    assert (unmet["restriction"], unmet["outcome"]) == ("unmet", "not_eligible")
    unknown = check("age: 50\n")
    assert unknown["restriction"] == "unknown" and unknown["missing"] == ["neuropathic_pain_prior_agents_tried"]


def test_patient_explanation_has_the_evaluate_shape(cpe, tmp_path):
    p = _patient(tmp_path, "age: 9\nautism_spectrum_disorder: true\n")
    out = rag(cpe, "melatonin", "--patient", p)
    by_id = {m["id"]: m["patient"] for m in out["matches"]}
    # Slenyto: seed 001 §5.3 "agreed not to restrict access to the licensed preparation": no criteria
    assert by_id["melatonin-slenyto-asd-sms"]["restriction"] == "none"
    circadin = by_id["melatonin-circadin-asd-sms"]  # recommended for the same population (off-label)
    assert set(circadin) >= {"policy", "outcome", "route", "criteria", "missing"}
    assert circadin["policy"]["digest"].startswith("sha256:")
    assert {c["id"]: c["status"] for c in circadin["criteria"]} == {
        "age-2-18": "met", "asd-or-sms": "met", "sleep-hygiene": "unknown"}
    assert all({"id", "text", "status", "provenance"} <= set(c) for c in circadin["criteria"])
    assert circadin["missing"] == ["sleep_hygiene_insufficient"] and circadin["restriction"] == "unknown"
    colonis = by_id["melatonin-colonis-oral-solution"]  # Black: not commissioned, IFR whatever the facts
    assert (colonis["restriction"], colonis["route"]) == ("unmet", "ifr")
    agomelatine = rag(cpe, "agomelatine", "--patient", _patient(
        tmp_path, "age: 40\nother_pharmacological_options_exhausted: true\n", "adult.yaml"))["matches"][0]["patient"]
    assert (agomelatine["outcome"], agomelatine["route"]) == ("eligible", "prior_approval")
    r = cpe("rag", "circadin", "--patient", p)
    assert "✗" not in r.stdout and "sleep_hygiene_insufficient" in r.stdout and "cannot be checked" in r.stdout


@pytest.mark.parametrize("args, message", [
    (("rag", "agomelatine", "--formulary", "nowhere"), "no formulary 'nowhere'"),
    (("rag", "agomelatine", "--patient", "missing.yaml"), "no such file: missing.yaml"),
    (("formulary", "import", "missing.csv"), "no such file: missing.csv"),
    (("formulary", "check", "--formulary", "lcs"), "did you mean 'lsc'"),
])
def test_bad_input_exits_2_with_one_line(cpe, args, message):
    r = cpe(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_exit_status_in_a_real_process(tmp_path):
    env = {"CPE_CACHE_DIR": str(tmp_path / "cache")}
    ok = run_cpe("rag", "agomelatine", "--format", "json", env=env)
    assert ok.returncode == 0 and json.loads(ok.stdout)["matches"][0]["status"] == "red"
    none = run_cpe("rag", "paracetamol", "--format", "json", env=env)
    assert none.returncode == 0 and json.loads(none.stdout)["matches"] == []
    bad = run_cpe("rag", "agomelatine", "--formulary", "nowhere", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("cpe: ") and len(bad.stderr.strip().splitlines()) == 1


def test_bad_patient_exits_2_naming_the_attribute(cpe, tmp_path):
    r = cpe("rag", "nortriptyline", "--patient", _patient(tmp_path, "neuropathic_pain_prior_agents_tried: -1\n"))
    assert r.returncode == 2 and "neuropathic_pain_prior_agents_tried" in r.stderr and "patient.yaml:1" in r.stderr


def test_second_formulary_by_option_and_env(cpe):
    out = rag(cpe, "examplozole", "--indication", "alpha", "--formulary", str(GM))
    assert out["formulary"] == "gm-test" and [m["status"] for m in out["matches"]] == ["green"]
    out = rag(cpe, "fictiva", env={"CPE_FORMULARY": str(GM)})
    assert [(m["status"], m["status_label"]) for m in out["matches"]] == [("dnp", "DNP (Do Not Prescribe)")]
    r = cpe("formulary", "check", "--formulary", str(GM))
    assert r.returncode == 0 and "5 entries" in r.stdout


def test_formulary_check_counts_statuses(cpe):
    r = cpe("formulary", "check", "--format", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["formulary"] == "lsc" and info["entries"] >= 18 and info["statuses"]["black"] == 5
