"""The evaluator and the decision rules of the contract, on the real suite."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.language.decide import decide
from engine.language.model.criteria import Compare, walk
from engine.language.patient import validate_patient

VERSIONS = [("assisted-conception", "2018-11-01"), ("assisted-conception", "2020-03-05"),
            ("breast-implant-removal", "2018-07-01"), ("breast-implant-replacement", "2018-07-01"),
            ("breast-implant-replacement", "2020-03-05"), ("facial-nerve-rehabilitation", "2018-01-11"),
            ("facial-nerve-rehabilitation", "draft-2022"), ("hip-arthroscopy", "2018-03-01"),
            ("hip-arthroscopy", "draft-2025"), ("abdominoplasty", "draft-2025")]


def attrs_of(rv):
    out = []
    for n in rv.criterion_nodes() + [x for top in rv.criteria for x in walk(top)]:
        if isinstance(n, Compare) and n.attr not in out:
            out.append(n.attr)
    for ref in rv.refs.values():
        for a in attrs_of(ref):
            if a not in out:
                out.append(a)
    return out


def value_strategy(a):
    if a.type == "boolean":
        return st.booleans()
    if a.type == "enum":
        return st.sampled_from(a.values)
    lo, hi = a.min if a.min is not None else 0, a.max if a.max is not None else 1000
    if a.type == "integer":
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False).map(lambda x: round(x, 1))


@st.composite
def patients(draw, suite, rv, known_prob=0.75):
    facts = {}
    for name in attrs_of(rv):
        if draw(st.floats(0, 1)) < known_prob:
            facts[name] = draw(value_strategy(suite.attributes[name]))
    return facts


@pytest.mark.parametrize("pid,label", VERSIONS)
def test_learning_a_fact_never_overturns_a_settled_outcome(suite, pid, label):
    """Kleene monotonicity: an eligible or not_eligible decision stays so when an unknown becomes known."""
    rv = suite.resolved(pid, label)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data):
        p = data.draw(patients(suite, rv))
        d = decide(rv, p)
        unknown = [a for a in attrs_of(rv) if a not in p]
        if not unknown:
            return
        name = data.draw(st.sampled_from(unknown))
        p2 = {**p, name: data.draw(value_strategy(suite.attributes[name]))}
        d2 = decide(rv, p2)
        if d.outcome in ("eligible", "not_eligible"):
            assert d2.outcome == d.outcome, (p, name, p2)
        # criteria that were settled stay settled the same way
        for c in d.criteria:
            if c.status != "unknown":
                assert d2.status_of(c.id) == c.status, (c.id, p, p2)
        # only attributes listed as missing can settle a top-level criterion
        if name not in d.missing:
            top = lambda x: [c.status for c in x.criteria if c.parent is None]  # noqa: E731
            assert top(d2) == top(d)

    check()


@pytest.mark.parametrize("pid,label", VERSIONS)
def test_decision_is_a_pure_function_of_patient_and_version(suite, pid, label):
    rv = suite.resolved(pid, label)

    @settings(max_examples=60, deadline=None)
    @given(data=st.data())
    def check(data):
        p = data.draw(patients(suite, rv))
        shuffled = dict(reversed(list(p.items())))
        assert decide(rv, p).to_json() == decide(rv, shuffled).to_json()
        assert decide(rv, p).to_json() == decide(suite.resolved(pid, label), dict(p)).to_json()

    check()


@pytest.mark.parametrize("pid,label", VERSIONS)
def test_outcome_follows_the_contract_from_criterion_statuses(suite, pid, label):
    rv = suite.resolved(pid, label)

    @settings(max_examples=100, deadline=None)
    @given(data=st.data())
    def check(data):
        d = decide(rv, data.draw(patients(suite, rv, known_prob=0.6)))
        top = [c.status for c in d.criteria if c.parent is None]
        if rv.commissioning == "not_routinely_commissioned":
            assert (d.outcome, d.route) == ("not_eligible", "ifr")
        elif "unmet" in top:
            assert (d.outcome, d.route) == ("not_eligible", "ifr")
        elif "unknown" in top:
            assert (d.outcome, d.route) == ("insufficient_information", "more_information")
            assert d.missing
        else:
            assert d.outcome == "eligible" and d.route in ("routine", "prior_approval")
        if all(s != "unknown" for s in top):
            # nothing unknown at top level: nothing missing unless an unmet criterion hides it
            assert not d.missing or "unmet" in top or rv.commissioning == "not_routinely_commissioned"

    check()


def test_not_eligible_still_lists_missing(suite):
    rv = suite.resolved("assisted-conception", "2020-03-05")
    d = decide(rv, {"age": 50})
    assert d.outcome == "not_eligible" and d.route == "ifr"
    assert "bmi" in d.missing and "age" not in d.missing


def test_referral_date_picks_the_version(suite):
    assert suite.select("assisted-conception", on=dt.date(2019, 6, 1)).label == "2018-11-01"
    assert suite.select("assisted-conception", on=dt.date(2020, 3, 4)).label == "2018-11-01"
    assert suite.select("assisted-conception", on=dt.date(2020, 3, 5)).label == "2020-03-05"
    assert suite.select("hip-arthroscopy", on=dt.date(2026, 1, 1)).label == "2018-03-01"  # drafts never by date


def test_digest_differs_between_versions_and_is_stable(suite):
    a = suite.resolved("breast-implant-replacement", "2018-07-01").digest
    b = suite.resolved("breast-implant-replacement", "2020-03-05").digest
    assert a != b and a.startswith("sha256:") and len(a) == 7 + 64
    from engine.language.suite import Suite

    assert Suite(suite.root).resolved("breast-implant-replacement", "2018-07-01").digest == a


def test_policy_reference_carries_the_removal_decision(suite):
    rv = suite.resolved("breast-implant-replacement", "2020-03-05")
    p = validate_patient({"implant_original_funding": "nhs", "age": 40, "implant_rupture": True}, suite.attributes)
    d = decide(rv, p)
    assert d.outcome == "eligible"
    b = next(c for c in d.criteria if c.id == "b")
    assert b.policy_ref["policy"] == "breast-implant-removal" and b.policy_ref["outcome"] == "eligible"
    assert any(c.id == "b/symptoms" for c in d.criteria)
    assert d.referenced[0].id == "breast-implant-removal"


SCOPED = """\
id: demo
title: Demo
intervention: Demo
scope: Adults with condition X only
commissioning: criteria_based
route_when_eligible: prior_approval
sources:
  - {id: s, kind: comparator, title: "A test policy, not a clinical one"}
versions:
  - version: "2020-01-01"
    status: ratified
    effective_from: "2020-01-01"
    scope_criteria:
      - {id: in_scope, text: Adults., provenance: comparator, citation: test, attr: age, op: ">=", value: 18}
    criteria:
      - {id: bmi, text: BMI under 30., provenance: comparator, citation: test, attr: bmi, op: "<", value: 30}
"""


def test_scope_and_prior_approval_routes(tmp_path):
    import shutil

    from engine.language.suite import Suite
    from tests.conftest import ROOT

    shutil.copy(ROOT / "policies" / "attributes.yaml", tmp_path / "attributes.yaml")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "policy.yaml").write_text(SCOPED)
    rv = Suite(tmp_path).resolved("demo", "2020-01-01")
    assert (decide(rv, {"age": 40, "bmi": 25}).outcome, decide(rv, {"age": 40, "bmi": 25}).route) == \
        ("eligible", "prior_approval")
    d = decide(rv, {"age": 12, "bmi": 25})
    assert (d.outcome, d.route) == ("out_of_scope", "other_commissioner")
    assert d.criteria[0].scope and d.criteria[0].status == "unmet"
    d = decide(rv, {"bmi": 25})
    assert (d.outcome, d.route, d.missing) == ("insufficient_information", "more_information", ("age",))
    d = decide(rv, {"bmi": 35})
    assert (d.outcome, d.route) == ("not_eligible", "ifr")
