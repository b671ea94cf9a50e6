"""`cpe policies` and `cpe evaluate` as the contract describes them: JSON, exit codes, messages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT


def test_policies_json_lists_every_contract_policy_and_version(cpe):
    r = cpe("policies", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    ids = {p["id"] for p in data}
    assert ids >= {"assisted-conception", "breast-implant-removal", "breast-implant-replacement",
                   "facial-nerve-rehabilitation", "hip-arthroscopy", "abdominoplasty", "eswt-tendinopathy",
                   "complementary-therapies", "dilatation-and-curettage", "hysteroscopy"}
    versions = {p["id"]: {v["version"]: v for v in p["versions"]} for p in data}
    for pid, labels in {"assisted-conception": ["2018-11-01", "2020-03-05"],
                        "breast-implant-removal": ["2018-07-01"],
                        "breast-implant-replacement": ["2018-07-01", "2020-03-05"],
                        "facial-nerve-rehabilitation": ["2018-01-11", "draft-2022"],
                        "hip-arthroscopy": ["2018-03-01", "draft-2025"], "abdominoplasty": ["draft-2025"]}.items():
        for label in labels:
            v = versions[pid][label]
            assert v["status"] == ("draft" if label.startswith("draft") else "ratified")
            assert set(v) >= {"version", "status", "effective_from", "effective_to"}
    for p in data:
        assert set(p) >= {"id", "title", "versions"}


def write(tmp_path: Path, data, name="p.yaml") -> Path:
    f = tmp_path / name
    f.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return f


def test_evaluate_json_shape(cpe, tmp_path):
    f = write(tmp_path, {"implant_original_funding": "nhs", "age": 30, "implant_rupture": True})
    r = cpe("evaluate", "breast-implant-replacement", "--patient", str(f), "--version", "2020-03-05",
            "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["policy"]["id"] == "breast-implant-replacement" and d["policy"]["version"] == "2020-03-05"
    assert d["policy"]["status"] == "ratified" and d["policy"]["digest"].startswith("sha256:")
    assert d["outcome"] == "eligible" and d["route"] == "routine" and d["missing"] == []
    ids = [c["id"] for c in d["criteria"]]
    assert ids[:2] == ["a", "b"]
    for c in d["criteria"]:
        assert c["status"] in ("met", "unmet", "unknown") and c["provenance"] in ("seed", "public", "comparator")


def test_on_date_picks_the_version_in_force(cpe, tmp_path):
    f = write(tmp_path, {"age": 30})
    r = cpe("evaluate", "assisted-conception", "--patient", str(f), "--on", "2019-06-01", "--format", "json")
    assert json.loads(r.stdout)["policy"]["version"] == "2018-11-01"
    r = cpe("evaluate", "assisted-conception", "--patient", str(f), "--on", "2020-03-05", "--format", "json")
    assert json.loads(r.stdout)["policy"]["version"] == "2020-03-05"
    r = cpe("evaluate", "assisted-conception", "--patient", str(f), "--format", "json")  # today
    assert json.loads(r.stdout)["policy"]["version"] == "2020-03-05"


def test_not_eligible_exits_zero_and_drafts_only_by_label(cpe, tmp_path):
    f = write(tmp_path, {"fai_diagnosis_confirmed": True, "conservative_treatment_failed": True,
                         "osteoarthritis": False, "experienced_surgeon": True})
    r = cpe("evaluate", "hip-arthroscopy", "--patient", str(f), "--format", "json")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["outcome"] == "not_eligible" and d["route"] == "ifr"
    assert d["policy"]["version"] == "2018-03-01"
    r = cpe("evaluate", "hip-arthroscopy", "--patient", str(f), "--version", "draft-2025", "--format", "json")
    d = json.loads(r.stdout)
    assert d["outcome"] == "eligible" and d["policy"]["status"] == "draft"
    r = cpe("evaluate", "abdominoplasty", "--patient", str(f), "--version", "draft-2025", "--format", "json")
    assert r.returncode == 0


BAD = [
    # (patient file text, extra args, words the one-line message must contain)
    ("age: 34\nbmii: 24\n", [], ["bmii", "did you mean 'bmi'", ":2"]),
    ('age: "34"\n', [], ["age", "integer", ":1"]),
    ("age: 300\n", [], ["age", "300", "0 to 130"]),
    ("bmi: 9.5\n", [], ["bmi", "9.5", "10 to 90"]),
    ("smoker: 1\n", [], ["smoker", "true or false"]),
    ("bmi: .nan\n", [], ["bmi", "finite"]),
    ("age: .inf\n", [], ["age", "integer"]),
    ("implant_original_funding: nhs-ish\n", [], ["implant_original_funding", "nhs, private"]),
    ("age: [1\n", [], ["invalid-yaml", ":2"]),
    ("- 1\n- 2\n", [], ["mapping"]),
    ("age: 30\n", ["--version", "2019-01-01"], ["2019-01-01", "2018-11-01"]),
    ("age: 30\n", ["--on", "2019-02-30"], ["2019-02-30", "ISO date"]),
    ("age: 30\n", ["--on", "2010-01-01"], ["no ratified version in force on 2010-01-01"]),
    ("age: 30\n", ["--on", "2019-01-01", "--version", "2020-03-05"], ["not both"]),
]


@pytest.mark.parametrize("text,args,words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_exits_2_with_one_line(cpe, tmp_path, text, args, words):
    f = write(tmp_path, text)
    r = cpe("evaluate", "assisted-conception", "--patient", str(f), *args, "--format", "json")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == ""  # bad input never produces a decision
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_unknown_policy_and_missing_file(cpe, tmp_path):
    r = cpe("evaluate", "assisted-conceptoin", "--patient", "examples/patient.yaml")
    assert r.returncode == 2 and "did you mean 'assisted-conception'" in r.stderr
    r = cpe("evaluate", "assisted-conception", "--patient", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "nope.yaml" in r.stderr
    r = cpe("evaluate", "assisted-conception", "--patient", str(tmp_path))
    assert r.returncode == 2 and "directory" in r.stderr


def test_json_patient_file_and_text_view(cpe, tmp_path):
    f = write(tmp_path, json.dumps({"age": 34, "bmi": 31}), "p.json")
    r = cpe("evaluate", "assisted-conception", "--patient", str(f), "--version", "2020-03-05")
    assert r.returncode == 0
    out = r.stdout
    assert "Not eligible" in out and "✗ bmi" in out and "✓ age" in out and "? " in out
    assert "Missing information" in out and "smoker" in out


def test_explain_shows_wording_logic_and_source(cpe):
    r = cpe("explain", "breast-implant-replacement", "--version", "2018-07-01")
    assert r.returncode == 0
    assert "same procedure as the removal" in r.stdout and "Seed 001 Table 2" in r.stdout
    assert "eligible under policy breast-implant-removal" in r.stdout
    r2 = cpe("explain", "breast-implant-replacement", "--version", "2020-03-05")
    assert "same procedure" not in r2.stdout


def test_readme_example_runs(cpe):
    r = cpe("evaluate", "assisted-conception", "--patient", "examples/patient.yaml", "--on", "2019-06-01")
    assert r.returncode == 0 and "partner_living_children" in r.stdout


def test_attribute_dictionary_contains_the_contract_unchanged():
    contract = yaml.safe_load((ROOT.parent / "shared" / "contract" / "attributes.yaml").read_text()) \
        if (ROOT.parent / "shared").exists() else None
    ours = yaml.safe_load((ROOT / "policies" / "attributes.yaml").read_text())
    if contract is None:  # a checkout without shared/: compare with the copy kept in the tests
        contract = yaml.safe_load((ROOT / "tests" / "fixtures" / "contract-attributes.yaml").read_text())
    for name, spec in contract.items():
        assert ours.get(name) == spec, name


def test_a_reader_that_stops_early_is_not_an_engine_fault():
    """`cpe evaluate … | head -1`: no 'internal error', no traceback; ends like cat would. The
    reader is gone before the command writes, so every write meets a closed pipe."""
    import os
    import subprocess
    import sys

    cpe = Path(sys.executable).parent / "cpe"
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.Popen([str(cpe), "evaluate", "assisted-conception", "--patient", "examples/patient.yaml",
                             "--on", "2019-06-01"], cwd=ROOT, stdout=w, stderr=subprocess.PIPE,
                            env={**os.environ, "NO_COLOR": "1"})
    os.close(w)
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert code == -13, (code, err)  # ended by SIGPIPE, as `cat file | head` ends cat
    assert "internal error" not in err and "Traceback" not in err
