"""The compiled Python evaluator agrees with the reference engine on every criterion,
outcome, route and missing list, for every shipped policy version (differential test)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cohort_strategies import patients, thresholds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.compile import BACKENDS, backend
from engine.compile.ir import program
from engine.compile.to_python import compiled, decide_compiled
from engine.language.decide import decide
from engine.language.suite import Suite

SUITE = Suite()
VERSIONS = SUITE.all_versions()
# a test-only suite using every node kind, operator, 'inclusive' choice, scope criteria and
# every kind of commissioning, which the shipped policies do not all use
KINDS = Suite(Path(__file__).parent / "fixtures" / "all_kinds")
CASES = [(SUITE, rv) for rv in VERSIONS] + [(KINDS, rv) for rv in KINDS.all_versions()]
CUTS = {id(s): thresholds(s.all_versions()) for s in (SUITE, KINDS)}
IDS = [f"{rv.id}@{rv.label}" for _, rv in CASES]


def test_every_shipped_version_compiles_and_is_cached():
    assert VERSIONS, "no shipped policies found"
    for rv in VERSIONS:
        c = compiled(rv)
        assert compiled(rv) is c
        assert program(rv).digest == rv.digest
        assert len(c.criterion_ids) == len(rv.criterion_nodes())


def test_backend_registry_is_lazy_and_names_choices():
    assert set(BACKENDS) >= {"python", "duckdb", "polars", "spark"}
    assert backend("python").compiled is compiled
    with pytest.raises(KeyError, match="duckdb"):
        backend("oracle")


def _check(rv, patient, on=None):
    ref = decide(rv, patient, on)
    c = compiled(rv)
    # the drop-in: the very same Decision, field for field
    assert decide_compiled(rv, patient, on) == ref
    # the hot path: outcome, route, every criterion's status and the missing list
    outcome, route, truths, missing = c.evaluate(patient)
    assert (outcome, route, tuple(missing)) == (ref.outcome, ref.route, ref.missing)
    status = {True: "met", False: "unmet", None: "unknown"}
    own = {cr.id: cr.status for cr in ref.criteria}
    assert [status[t] for t in truths] == [own[i] for i in c.criterion_ids]


@pytest.mark.parametrize("suite, rv", CASES, ids=IDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_equals_reference(suite, rv, data):
    names = program(rv).attributes()
    patient = data.draw(patients(suite.attributes, names, CUTS[id(suite)]))
    _check(rv, patient)


@pytest.mark.parametrize("suite, rv", CASES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_compiled_equals_reference_when_everything_is_known(suite, rv, data):
    """The plain-boolean fast path (every attribute known) is exercised on its own."""
    names = program(rv).attributes()
    patient = data.draw(patients(suite.attributes, names, CUTS[id(suite)], unknown_rate=False))
    _check(rv, patient)


def test_the_fixture_suite_covers_every_node_kind():
    kinds = {s.kind for _, rv in CASES for s in program(rv).steps}
    ops = {(s.op, s.lo_incl, s.hi_incl) if s.op == "between" else s.op
           for _, rv in CASES for s in program(rv).steps if s.kind == "cmp"}
    assert kinds == {"cmp", "all", "any", "not", "if", "ref"}
    assert {"=", "!=", "<", "<=", ">", ">=", "in"} <= ops
    assert {("between", a, b) for a in (True, False) for b in (True, False)} <= ops
    assert {rv.commissioning for _, rv in CASES} == {"criteria_based", "routinely_commissioned",
                                                    "not_routinely_commissioned"}
    assert any(rv.scope_criteria for _, rv in CASES)


@pytest.mark.parametrize("suite, rv", CASES, ids=IDS)
def test_empty_and_null_patients(suite, rv):
    _check(rv, {})
    _check(rv, {a: None for a in program(rv).attributes()}, dt.date(2021, 1, 1))
