"""The two groups the wording analysis missed (issue 16), found by `cpe diff` against the
proposed readings in docs/wording-changes/ and shown by the shipped cases.

- assisted conception: a partner who is not being treated (donor gametes, the non-treated woman of a
  same-sex couple) is outside the 2018 words "the patient/s" read literally, inside the 2020 words;
- breast implants: "the replacement of breast implants following previous implant removal" (seed 001
  §5.2) needs the facts of the earlier removal.
"""
from __future__ import annotations

import json

from engine.language.decide import decide
from tests.conftest import ROOT, run_cpe

DOCS = ROOT / "docs" / "wording-changes"
IVF_PATIENT = {"age": 34, "bmi": 25, "smoker": False, "has_partner": True, "partner_receiving_treatment": False,
               "partner_smoker": False, "infertility_years": 3, "previous_sterilisation": False,
               "previous_nhs_ivf_units": 0, "patient_living_children": 0, "partner_living_children": 1}


def _diff(*args):
    p = run_cpe("diff", *args, "--format", "json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_literal_2018_reading_against_2020_finds_the_partner_not_being_treated():
    d = _diff(str(DOCS / "assisted-conception-2018-patients-treated.yaml"),
              str(ROOT / "policies" / "assisted-conception" / "policy.yaml"), "--from", "2018-11-01", "--to", "2020-03-05")
    assert d["equivalent"] is False
    lost = next(c for c in d["changes"] if (c["from_outcome"], c["to_outcome"]) == ("eligible", "not_eligible"))
    assert lost["example"]["partner_receiving_treatment"] is False
    assert lost["example"]["partner_living_children"] > 0 and lost["example"]["has_partner"] is True


def test_shipped_versions_both_count_the_untreated_partners_children(suite):
    for label in ("2018-11-01", "2020-03-05"):
        d = decide(suite.resolved("assisted-conception", label), IVF_PATIENT)
        assert (d.outcome, d.status_of("childless")) == ("not_eligible", "unmet"), label


def test_replacement_after_previous_removal_is_found_by_the_earlier_removal_reading():
    d = _diff(str(ROOT / "policies" / "breast-implant-replacement" / "policy.yaml"),
              str(DOCS / "breast-implant-replacement-2020-previous-removal.yaml"),
              "--from", "2020-03-05", "--to", "2020-03-05")
    moves = {(c["from_outcome"], c["to_outcome"]): c["example"] for c in d["changes"]}
    gained = moves[("insufficient_information", "eligible")]
    assert gained["replacement_after_previous_removal"] is True and gained["previous_removal_met_policy"] is True
    assert "implant_rupture" not in gained and "bia_alcl" not in gained  # no present symptoms needed
    assert moves[("not_eligible", "eligible")]["replacement_after_previous_removal"] is True


def test_shipped_2020_rule_waits_on_present_symptoms_for_a_previous_removal(suite):
    rv = suite.resolved("breast-implant-replacement", "2020-03-05")
    d = decide(rv, {"implant_original_funding": "nhs", "replacement_after_previous_removal": True,
                    "previous_removal_met_policy": True, "previous_removal_nhs_funded": True,
                    "previous_removal_date": "2019-05-14"})
    assert d.outcome == "insufficient_information" and d.status_of("b") == "unknown"
    assert "implant_rupture" in d.missing and "previous_removal_met_policy" not in d.missing


def test_wording_changes_doc_reports_both_groups():
    text = (ROOT / "docs" / "wording-changes.md").read_text()
    assert "## 6. The people the wording analysis missed" in text
    assert "assisted-conception-2018-patients-treated.yaml" in text
    assert "breast-implant-replacement-2020-previous-removal.yaml" in text
    assert "partner_receiving_treatment = false" in text and "previous_removal_met_policy = true" in text
