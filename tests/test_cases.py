"""The example cases beside each policy (`policies/<id>/cases.yaml`), run as tests.

- every case of every policy is one test, failing with the case's file:line and what differed;
- every policy has a cases file;
- every criterion of every version is seen met, unmet and unknown somewhere in its policy's cases;
- a case chosen by referral date is judged under the ratified version in force on that date.
"""
from __future__ import annotations

from collections import defaultdict
from functools import cache, lru_cache
from pathlib import Path

import pytest

from engine.analysis.examples import ExampleRun, load_cases, run_case
from engine.errors import InputError, Location
from engine.language.source import LDict, display_path
from engine.language.suite import Suite

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
STATUSES = ("met", "unmet", "unknown")


@lru_cache(maxsize=1)
def suite() -> Suite:
    return Suite(POLICIES)


def policy_ids() -> list[str]:
    return suite().ids()


def cases_path(pid: str) -> Path:
    return suite().root / pid / "cases.yaml"


@cache
def loaded(pid: str):
    """(cases, file, lines) of one policy's cases file; InputError if it cannot be read."""
    path = cases_path(pid)
    cf, data = load_cases(path)
    lines = data["cases"].item_lines if isinstance(data, LDict) else [None] * len(cf.cases)
    return cf.cases, display_path(path), lines


def _params():
    out = []
    for pid in policy_ids():
        if not cases_path(pid).exists():
            continue  # reported by test_every_policy_has_a_cases_file
        try:
            cases, _, _ = loaded(pid)
        except InputError as exc:
            out.append(pytest.param(pid, str(exc), id=f"{pid}::<unreadable cases.yaml>"))
            continue
        out += [pytest.param(pid, i, id=f"{pid}::{c.name}") for i, c in enumerate(cases)]
    return out


@cache
def run(pid: str, i: int) -> ExampleRun:
    cases, file, lines = loaded(pid)
    return run_case(suite(), pid, cases[i], Location(file, lines[i]))


def runs_of(pid: str) -> list[ExampleRun]:
    cases, _, _ = loaded(pid)
    return [run(pid, i) for i in range(len(cases))]


@pytest.mark.parametrize("pid,index", _params())
def test_case(pid, index):
    if isinstance(index, str):  # the file itself could not be read
        pytest.fail(index, pytrace=False)
    r = run(pid, index)
    if not r.passed:
        pytest.fail(f"{r.location}: {pid}: {r.case.name}\n  " + "\n  ".join(r.failures), pytrace=False)


@pytest.mark.parametrize("pid", policy_ids())
def test_every_policy_has_a_cases_file(pid):
    path = cases_path(pid)
    assert path.exists(), f"{display_path(path)}: missing: every policy needs example cases"


@pytest.mark.parametrize("pid", policy_ids())
def test_every_criterion_is_seen_met_unmet_and_unknown(pid):
    """Coverage: across the policy's cases, each criterion id (nested ones included) of each version
    takes each of the three statuses at least once (judged on the decisions the engine made)."""
    if not cases_path(pid).exists():
        pytest.skip("no cases file (reported by test_every_policy_has_a_cases_file)")
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in runs_of(pid):
        if r.decision is None:
            continue
        for c in r.decision.criteria:
            seen[r.decision.policy.version][c.id].add(c.status)
    gaps = []
    for v in suite().policy(pid).versions:
        rv = suite().resolved(pid, v.version)
        for cid in dict.fromkeys(n.id for n in rv.criterion_nodes()):
            lacking = [s for s in STATUSES if s not in seen[v.version][cid]]
            if lacking:
                gaps.append(f"{pid} {v.version}: criterion {cid!r} never seen {' / '.join(lacking)}")
    if gaps:
        pytest.fail(f"{display_path(cases_path(pid))}: coverage gaps (add cases that show these):\n  "
                    + "\n  ".join(gaps), pytrace=False)


@pytest.mark.parametrize("pid", policy_ids())
def test_referral_date_cases_use_the_version_in_force(pid):
    """cases.yaml cannot state the version it expects, so check the choice here: the ratified
    version that started most recently on or before the referral date (drafts never)."""
    if not cases_path(pid).exists():
        pytest.skip("no cases file")
    policy = suite().policy(pid)
    wrong = []
    for r in runs_of(pid):
        day = r.case.referral_date
        if day is None or r.decision is None:
            continue
        live = [v for v in policy.versions if v.status == "ratified" and v.effective_from
                and v.effective_from <= day and (v.effective_to is None or day <= v.effective_to)]
        want = max(live, key=lambda v: v.effective_from).version if live else None
        if r.decision.policy.version != want:
            wrong.append(f"{r.location}: {r.case.name}: referral {day} was judged under "
                         f"{r.decision.policy.version}, expected {want}")
    if wrong:
        pytest.fail("\n".join(wrong), pytrace=False)
