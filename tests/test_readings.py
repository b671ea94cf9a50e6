"""Readings of ambiguous wording: declared on a criterion, checked like its rule, never used for a
decision, and the diff under each (docs/wording-changes.md §1 for the 2018 childlessness words)."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import engine
from engine.analysis.diff import diff
from engine.analysis.readings import choices, declared, diff_by_reading, read_as
from engine.errors import InputError
from engine.language.load import validate
from engine.language.model.criteria import AllOf, Compare
from engine.language.suite import Suite

ROOT = Path(__file__).resolve().parent.parent
PATIENT_ONLY = ROOT / "docs/wording-changes/assisted-conception-2018-patient-only.yaml"


@pytest.fixture(scope="module")
def ivf():
    s = Suite()
    return s, s.resolved("assisted-conception", "2018-11-01"), s.resolved("assisted-conception", "2020-03-05")


def test_the_2018_childlessness_wording_declares_two_readings_and_encodes_each_patient(ivf):
    _, a, b = ivf
    rs = declared(a)["childless"]
    assert [r.id for r in rs] == ["each_patient", "patient_alone"]
    assert rs[0].rule is None and rs[1].rule == Compare(attr="patient_living_children", op="=", value=0)
    assert declared(b) == {}  # the 2020 words are not ambiguous
    assert [c.label for c in choices(a, b)] == ["childless:each_patient", "childless:patient_alone"]


def test_decisions_use_the_encoded_reading(ivf):
    s, a, _ = ivf
    couple = {"age": 34, "bmi": 25, "smoker": False, "has_partner": True, "partner_smoker": False,
              "infertility_years": 3, "previous_sterilisation": False, "previous_nhs_ivf_units": 0,
              "patient_living_children": 0, "partner_living_children": 1}
    facts = engine.validate_patient(couple, s.attributes)
    assert engine.decide(a, facts, dt.date(2019, 6, 1)).outcome == "not_eligible"
    alone = read_as(a, {"childless": "patient_alone"})
    assert engine.decide(alone, facts, dt.date(2019, 6, 1)).outcome == "eligible"
    assert alone.digest != a.digest and read_as(a, {"childless": "each_patient"}) is a


def test_the_2020_change_under_both_readings_gives_the_results_of_wording_changes_md(ivf):
    s, a, b = ivf
    each, alone = diff_by_reading(a, b, s.attributes)
    assert each.encoded and each.result.equivalent  # "a point of clarity" holds under this reading
    assert not alone.encoded and not alone.result.equivalent
    assert [(c.from_outcome, c.to_outcome) for c in alone.result.changes] == [
        ("eligible", "not_eligible"), ("eligible", "insufficient_information"),
        ("insufficient_information", "not_eligible")]
    first = alone.result.changes[0]
    assert "has_partner = true AND partner_living_children > 0" in first.description
    assert first.example["partner_living_children"] == 1 and first.example["patient_living_children"] == 0
    # the same diff as the proposed-edit file the doc uses for that reading
    sf = Suite()
    sf.add_file(PATIENT_ONLY)
    by_file = diff(sf.resolved("assisted-conception", "2018-11-01"), b, s.attributes)
    assert alone.result.to_json() == by_file.to_json()


def test_a_policy_without_readings_has_one_reading_as_encoded():
    s = Suite()
    a, b = s.resolved("breast-implant-replacement", "2018-07-01"), s.resolved("breast-implant-replacement",
                                                                             "2020-03-05")
    (only,) = diff_by_reading(a, b, s.attributes)
    assert only.reading.label == "as encoded" and only.encoded and len(only.result.changes) == 3


def test_an_unknown_reading_is_refused(ivf):
    _, a, _ = ivf
    with pytest.raises(InputError, match="has no reading 'partner_only'"):
        read_as(a, {"childless": "partner_only"})


RULE = {"id": "x", "text": "Words.", "provenance": "seed", "citation": "c", "attr": "age", "op": ">=", "value": 18}


@pytest.mark.parametrize("readings, message", [
    ([{"id": "one", "meaning": "m"}], "at least two readings"),
    ([{"id": "one", "meaning": "m"}, {"id": "two", "meaning": "n"}], "exactly one reading has no 'rule'"),
    ([{"id": "one", "meaning": "m"}, {"id": "one", "meaning": "n", "rule": {"attr": "age", "op": ">", "value": 1}}],
     "reading ids must differ"),
    ([{"id": "one", "meaning": "m", "rule": {"attr": "age", "op": ">", "value": 1}},
      {"id": "two", "meaning": "n", "rule": {"attr": "age", "op": ">", "value": 2}}], "exactly one reading"),
])
def test_badly_declared_readings_are_refused_with_the_loader_message(readings, message):
    from pydantic import BaseModel

    from engine.language.model.criteria import Node  # noqa: F401

    class One(BaseModel):
        criteria: tuple[Node, ...]

    with pytest.raises(InputError, match=message):
        validate(One, {"criteria": [{**RULE, "readings": readings}]}, "x.yaml")
    with pytest.raises(InputError, match="belong to a criterion with an 'id' and 'text'"):
        validate(One, {"criteria": [{"all": [{"attr": "age", "op": ">", "value": 1, "readings": readings}]}]},
                 "x.yaml")


def test_a_reading_rule_is_checked_against_the_dictionary(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", root)
    path = root / "assisted-conception/policy.yaml"
    path.write_text(path.read_text().replace('rule: {attr: patient_living_children, op: "=", value: 0}',
                                             'rule: {attr: patient_children, op: "=", value: 0}'))
    with pytest.raises(InputError) as e:
        Suite(root).resolved("assisted-conception", "2018-11-01")
    p = e.value.problems[0]
    assert p.code == "unknown-attribute" and "reading patient_alone" in p.message
    assert p.location.file.endswith("policy.yaml") and p.location.line


def test_a_criterion_read_another_way_keeps_its_wording_and_provenance(ivf):
    s, a, _ = ivf
    node = a.criteria[-1]
    assert isinstance(node, AllOf) and node.readings
    swapped = read_as(a, {"childless": "patient_alone"}).criteria[-1]
    assert isinstance(swapped, Compare) and swapped.id == "childless" and swapped.text == node.text
    assert swapped.readings is None and swapped.provenance == "seed"


def test_a_draft_that_renames_a_reading_is_analysed_under_every_reading_either_side_declares(ivf):
    from engine.analysis import drafts

    s, a, _ = ivf
    text = drafts.criteria_yaml(a.criteria).replace("id: patient_alone", "id: patient_only")
    d = drafts.build(s, "assisted-conception", "2018-11-01", text, label="draft-2050")
    per = diff_by_reading(a, d.rv, s.attributes)
    assert [r.reading.label for r in per] == ["childless:each_patient", "childless:patient_alone",
                                              "childless:patient_only"]
    assert per[0].result.equivalent
    # each side read its own way: the base alone as "patient alone", the draft alone as "patient only"
    assert not per[1].result.equivalent and not per[2].result.equivalent


def test_the_policy_document_states_the_readings(ivf):
    from engine.reports.render import render_policy

    _, a, b = ivf
    md = render_policy(a, "md").decode()
    assert "_Reading each_patient (encoded; decisions use it):" in md
    assert "Reading patient_alone:" in md and "Rule: patient_living_children is 0." in md
    html = render_policy(a, "html").decode()
    assert "This wording can be read 2 ways" in html
    assert "Reading" not in render_policy(b, "md").decode()


def test_cpe_report_paper_sets_out_the_2020_change_under_each_reading(tmp_path):
    from typer.testing import CliRunner

    from engine.cli import app

    out = tmp_path / "paper.md"
    r = CliRunner().invoke(app, ["report", "paper", "assisted-conception", "--from", "2018-11-01",
                                 "--to", "2020-03-05", "-o", str(out)])
    assert r.exit_code == 0, r.output
    md = out.read_text()
    assert "- **Proposed version:** 2020-03-05 (ratified, based on 2018-11-01)" in md
    assert "### Reading: childless:each_patient (the reading the policy encodes)" in md
    assert "**No patient gets a different outcome: the amendment does not change access.**" in md
    assert "**The amendment changes access: 3 kinds of patient get a different outcome.**" in md
