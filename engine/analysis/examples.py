"""Example cases kept beside each policy (`policies/<id>/cases.yaml`): a patient, the version
or referral date, and the expected decision. `pytest` and `cpe test` run the same files.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import InputError, Location, Problem
from engine.language.decision import Decision
from engine.language.load import validate
from engine.language.source import display_path, load_file
from engine.language.span import place
from engine.language.vocabulary import CriterionStatus, Outcome, Route


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    route: Route | None = None
    criteria: dict[str, CriterionStatus] = Field(default_factory=dict)
    missing: tuple[str, ...] | None = None
    version: str | None = None  # the version the referral date should pick


class ExampleCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str | None = None
    referral_date: dt.date | None = None
    patient: dict[str, Any] = Field(default_factory=dict)
    expect: Expect

    @model_validator(mode="after")
    def _when(self) -> ExampleCase:
        if self.version is not None and self.referral_date is not None:
            raise ValueError("give 'version' or 'referral_date', not both")
        return self


class ExampleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cases: tuple[ExampleCase, ...] = Field(min_length=1)


@dataclass
class ExampleRun:
    """One case's result: the decision and any mismatch with what was expected."""

    policy_id: str
    case: ExampleCase
    location: Location
    decision: Decision | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def load_cases(path: Path) -> tuple[ExampleFile, Any]:
    data = load_file(path)
    return validate(ExampleFile, data, display_path(path)), data


def run_case(suite: Any, policy_id: str, case: ExampleCase, location: Location) -> ExampleRun:
    from engine.language.decide import decide
    from engine.language.patient import validate_patient

    run = ExampleRun(policy_id, case, location)
    try:
        rv = suite.select(policy_id, version=case.version, on=case.referral_date)
        facts = validate_patient(case.patient, suite.attributes, location.file)
    except InputError as exc:
        run.failures.append(str(exc))
        return run
    d = decide(rv, facts, case.referral_date)
    run.decision = d
    e = case.expect
    if e.version is not None and rv.label != e.version:
        run.failures.append(f"version: expected {e.version}, got {rv.label}")
    if d.outcome != e.outcome:
        run.failures.append(f"outcome: expected {e.outcome}, got {d.outcome}")
    if e.route is not None and d.route != e.route:
        run.failures.append(f"route: expected {e.route}, got {d.route}")
    for cid, want in e.criteria.items():
        got = d.status_of(cid)
        if got is None:
            run.failures.append(f"criterion {cid!r}: no such criterion in {rv.id} {rv.label}")
        elif got != want:
            run.failures.append(f"criterion {cid}: expected {want}, got {got}")
    if e.missing is not None and sorted(e.missing) != sorted(d.missing):
        run.failures.append(f"missing: expected {sorted(e.missing)}, got {sorted(d.missing)}")
    return run


def policy_cases(suite: Any, policy_id: str) -> list[tuple[ExampleCase, Location]]:
    """Every case of one policy's cases.yaml with where it is written; none without a cases file."""
    path = suite.root / policy_id / "cases.yaml"
    if not path.exists():
        return []
    cf, data = load_cases(path)
    file = display_path(path)
    return [(case, Location(file, *(place(data["cases"], i) if isinstance(data, dict) and "cases" in data
                                    else (None, None))))
            for i, case in enumerate(cf.cases)]


def run_policy_cases(suite: Any, policy_id: str) -> list[ExampleRun]:
    """Every case of one policy; a policy without a cases file yields nothing."""
    return [run_case(suite, policy_id, case, where) for case, where in policy_cases(suite, policy_id)]


def problems(runs: list[ExampleRun]) -> list[Problem]:
    return [Problem("case-failed", f"{r.policy_id}: {r.case.name}: {'; '.join(r.failures)}", r.location)
            for r in runs if not r.passed]
