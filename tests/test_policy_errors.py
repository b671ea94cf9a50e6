"""Broken policy files: every error names the file, the line and what is wrong."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.language.suite import Suite
from tests.conftest import ROOT

GOOD = """\
id: demo
title: Demo
intervention: Demo
scope: Demo
commissioning: criteria_based
sources:
  - {id: s, kind: public, title: S}
versions:
  - version: "2020-01-01"
    status: ratified
    effective_from: "2020-01-01"
    criteria:
      - id: age
        text: Adult.
        provenance: public
        citation: S
        attr: age
        op: ">="
        value: 18
"""

# (name, (old, new) substitution in GOOD, line the error must point at, words in the message)
DEFECTS = [
    ("misspelt attribute", ("attr: age", "attr: agee"), 17, ["unknown-attribute", "'agee'", "did you mean 'age'"]),
    ("unknown operator", ('op: ">="', 'op: "=>"'), 18, ["unknown operator", "'=>'"]),
    ("wrong value type", ("value: 18", "value: adult"), 19, ["age", "integer"]),
    ("unknown key", ("citation: S\n", "citation: S\n        colour: red\n"), 17, ["colour", "unknown key"]),
    ("no provenance", ("        provenance: public\n", ""), 13, ["missing-provenance", "'age'"]),
    ("bad provenance", ("provenance: public\n        citation", "provenance: hearsay\n        citation"), 15,
     ["provenance", "seed"]),
    ("label not the date", ('version: "2020-01-01"', 'version: "2020-01-02"'), 9, ["label", "2020-01-01"]),
    ("bad date", ('effective_from: "2020-01-01"', 'effective_from: "2020-13-01"'), 11, ["effective_from", "date"]),
    ("missing title", ("title: Demo\n", ""), None, ["title", "required"]),
    ("no criterion kind", ("        attr: age\n        op: \">=\"\n        value: 18\n", ""), 13,
     ["needs one of"]),
    ("between without max", ('op: ">="\n        value: 18', "op: between\n        min: 18"), 13,
     ["'between' needs 'min' and 'max'"]),
    ("bad yaml", ("  - version:", "  -version: ["), None, ["invalid-yaml"]),
    ("based_on with full criteria", ("    criteria:\n", "    based_on: '2020-01-01'\n    criteria:\n"), 9,
     ["states only its 'changes'"]),
]


def make(tmp_path: Path, text: str) -> Suite:
    shutil.copy(ROOT / "policies" / "attributes.yaml", tmp_path / "attributes.yaml")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "policy.yaml").write_text(text)
    return Suite(tmp_path)


def test_the_good_file_loads(tmp_path):
    s = make(tmp_path, GOOD)
    assert s.select("demo", version="2020-01-01").criteria[0].id == "age"


@pytest.mark.parametrize("name,sub,line,words", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_defect_is_reported_at_its_line(tmp_path, name, sub, line, words):
    assert sub[0] in GOOD, "fixture substitution does not apply"
    s = make(tmp_path, GOOD.replace(sub[0], sub[1], 1))
    with pytest.raises(InputError) as e:
        s.select("demo", version="2020-01-01")
    msg = str(e.value)
    assert "demo/policy.yaml" in msg, msg
    if line is not None:
        assert f"policy.yaml:{line}:" in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_cli_reports_a_broken_policy_with_exit_2(tmp_path, cpe):
    make(tmp_path, GOOD.replace("attr: age", "attr: agee"))
    r = cpe("explain", "demo", "--policies", str(tmp_path))
    assert r.returncode == 2
    assert "policy.yaml:17" in r.stderr and "did you mean 'age'" in r.stderr


def test_check_all_collects_every_problem(tmp_path):
    s = make(tmp_path, GOOD.replace("attr: age", "attr: agee").replace('op: ">="', 'op: ">="'))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "policy.yaml").write_text(GOOD.replace("id: demo", "id: other").replace("Adult.", "A")
                                                    .replace("value: 18", "value: adult"))
    problems = s.check_all()
    assert len(problems) == 2 and {p.location.file.split("/")[-2] for p in problems} == {"demo", "other"}


def test_the_shipped_suite_has_no_problems(suite):
    assert suite.check_all() == []


def test_based_on_an_unknown_version(tmp_path):
    text = GOOD + """  - version: draft-2021
    status: draft
    based_on: "2019-01-01"
    changes:
      - remove: age
"""
    s = make(tmp_path, text)
    with pytest.raises(InputError) as e:
        s.policy("demo")
    assert "based_on '2019-01-01'" in str(e.value) and "versions: 2020-01-01, draft-2021" in str(e.value)


def test_change_naming_a_missing_criterion(tmp_path):
    text = GOOD + """  - version: draft-2021
    status: draft
    based_on: "2020-01-01"
    changes:
      - remove: agee
"""
    s = make(tmp_path, text)
    with pytest.raises(InputError) as e:
        s.resolved("demo", "draft-2021")
    assert "'agee'" in str(e.value) and "it has: age" in str(e.value)
