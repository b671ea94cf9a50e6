"""The public API, called as code built on the engine calls it: `import engine` and nothing else."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

import engine

ON = dt.date(2019, 6, 1)


def test_load_select_validate_decide_explain():
    suite = engine.load_suite()
    rv = suite.select("assisted-conception", on=ON)
    assert rv.version.version == "2018-11-01"
    patient = engine.validate_patient({"age": 34}, suite.attributes)
    d = engine.decide(rv, patient, ON)
    assert d.outcome is engine.Outcome.insufficient_information
    assert d.route is engine.Route.more_information
    assert {c.status for c in d.criteria} <= set(engine.CriterionStatus)
    text = engine.explain(d)
    assert "Assisted conception" in text and rv.digest in text
    assert d.to_json()["outcome"] == "insufficient_information"  # the contract's string


def test_bad_patient_is_an_input_error_naming_the_attribute():
    suite = engine.load_suite()
    with pytest.raises(engine.InputError, match="bmi"):
        engine.validate_patient({"bmi": "heavy"}, suite.attributes)


def test_diff_and_lookup():
    suite = engine.load_suite()
    a = suite.select("breast-implant-replacement", version="2018-07-01")
    b = suite.select("breast-implant-replacement", version="2020-03-05")
    result = engine.diff(a, b, suite.attributes)
    assert isinstance(result, engine.DiffResult) and result.equivalent is False and result.changes
    matches = engine.lookup("agomelatine")
    assert matches and isinstance(matches[0], engine.Match) and matches[0].status_id == "red"


def test_vocabularies_are_the_contract_strings():
    assert [o.value for o in engine.Outcome] == ["eligible", "not_eligible", "insufficient_information",
                                                 "out_of_scope"]
    assert [r.value for r in engine.Route] == ["routine", "prior_approval", "ifr", "more_information",
                                               "other_commissioner"]
    assert engine.Outcome("eligible") == "eligible"


def test_every_exported_name_exists_and_unknown_names_fail():
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    with pytest.raises(AttributeError):
        engine.no_such_thing  # noqa: B018


def test_import_engine_is_cheap():
    """`import engine` loads neither pydantic nor the policies: names load on first use."""
    out = subprocess.run([sys.executable, "-c", "import sys, engine; print('pydantic' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
