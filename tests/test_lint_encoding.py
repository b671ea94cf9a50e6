"""`cpe lint` on what a version says of its sources (issue 16): a partly encoded version must name
a remainder criterion a person answers; a superseded version states its end; an assumed date says
what the sources do say. Every shipped policy passes."""
from __future__ import annotations

from engine.analysis.lint import lint
from engine.language.suite import Suite
from tests.conftest import ROOT, run_cpe

HEAD = """id: {pid}
title: t
intervention: x
scope: x
commissioning: criteria_based
sources: [{{id: f, kind: public, title: t}}, {{id: c, kind: comparator, title: t}}]
versions:
"""
BMI = '      - {id: bmi, text: BMI no more than 27., provenance: comparator, citation: c, attr: bmi, op: "<=", value: 27}\n'
REST = ('      - {id: remainder, text: "Meets the remaining criteria of the full policy, section 4.", provenance: public,'
        ' citation: "the full policy (not held)", attr: abdominoplasty_remaining_criteria_met, op: "=", value: true}\n')


def findings(tmp_path, text, pid="enc-test"):
    f = tmp_path / f"{pid}.yaml"
    f.write_text(HEAD.format(pid=pid) + text)
    return [x for x in lint(Suite(ROOT / "policies"), [f]) if x.code not in ("always-met", "never-changes-outcome")]


def version(extra="", criteria=BMI):
    return ('  - version: "2020-01-01"\n    status: ratified\n    effective_from: "2020-01-01"\n' + extra
            + "    criteria:\n" + criteria)


def test_stand_ins_without_an_encoding_statement_are_an_error(tmp_path):
    [f] = findings(tmp_path, version())
    assert (f.level, f.code) == ("error", "incomplete-encoding")
    assert "bmi" in f.message and "remainder" in f.message and f.location.file.endswith("enc-test.yaml")


def test_incomplete_without_a_remainder_is_an_error(tmp_path):
    enc = "    encoding: {complete: false, encoded: BMI only}\n"
    [f] = findings(tmp_path, version(enc))
    assert (f.level, f.code) == ("error", "incomplete-encoding")
    assert "would count as met" in f.message


def test_a_named_remainder_passes(tmp_path):
    enc = "    encoding: {complete: false, encoded: BMI only, remainder: remainder}\n"
    assert findings(tmp_path, version(enc, BMI + REST)) == []


def test_a_remainder_that_is_not_a_fact_a_person_answers_is_an_error(tmp_path):
    enc = "    encoding: {complete: false, encoded: BMI only, remainder: bmi}\n"
    [f] = findings(tmp_path, version(enc))
    assert f.code == "bad-remainder" and "one fact a person answers" in f.message
    enc = "    encoding: {complete: false, encoded: BMI only, remainder: rest}\n"
    [f] = findings(tmp_path, version(enc))
    assert f.code == "bad-remainder" and "'rest'" in f.message


def test_held_by_contract_is_reported_as_a_warning(tmp_path):
    enc = "    encoding: {complete: false, encoded: BMI only, held_by_contract: the contract fixes the rule}\n"
    [f] = findings(tmp_path, version(enc))
    assert (f.level, f.code) == ("warning", "remainder-held-by-contract")


def test_a_superseded_version_without_an_end_is_an_error(tmp_path):
    enc = "    encoding: {complete: true, encoded: all}\n"
    crit = '      - {id: adult, text: t, provenance: public, citation: c, attr: age, op: ">=", value: 18}\n'
    later = ('  - version: "2021-01-01"\n    status: ratified\n    effective_from: "2021-01-01"\n'
             '    based_on: "2020-01-01"\n')
    codes = [x.code for x in findings(tmp_path, version(enc, crit) + later)]
    assert codes == ["superseded-without-end"]
    fixed = version('    effective_to: "2020-12-31"\n' + enc, crit) + later
    assert findings(tmp_path, fixed) == []


def test_an_assumed_date_needs_a_note(tmp_path):
    enc = "    encoding: {complete: true, encoded: all}\n    assumed: [effective_from]\n"
    crit = '      - {id: adult, text: t, provenance: public, citation: c, attr: age, op: ">=", value: 18}\n'
    assert [x.code for x in findings(tmp_path, version(enc, crit))] == ["assumed-without-note"]
    assert findings(tmp_path, version(enc + '    dates_note: "The paper gives the month only."\n', crit)) == []


def test_every_shipped_policy_passes_and_the_contract_held_versions_are_reported():
    p = run_cpe("lint")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1].startswith("0 errors")
    held = [x for x in p.stdout.splitlines() if "remainder-held-by-contract" in x]
    assert len(held) == 3 and any("breast-implant-removal 2018-07-01" in x for x in held)
    s = Suite(ROOT / "policies")
    for pid in s.ids():
        for v in s.policy(pid).versions:
            assert s.policy(pid).encoding_of(v.version) is not None, (pid, v.version)
