"""Everything the policy group asks of a draft against its base: the exact diff under each
reading (with the method that proves it), the lint findings of the draft, and the base's example
cases that the draft now decides differently. Cohort counts are added by the caller
(engine.cohort counts; this layer may not import it), one per reading.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.drafts import Draft
from engine.analysis.examples import ExampleRun, policy_cases, run_case
from engine.analysis.lint import RULE_CHECKS, Ctx, thresholds_out_of_range
from engine.analysis.moves import CohortMoves
from engine.analysis.readings import ReadingDiff, diff_by_reading
from engine.errors import InputError, Problem


@dataclass
class Proposal:
    draft: Draft
    readings: list[ReadingDiff]
    lint: list[Problem]
    cases: list[ExampleRun]            # the base's cases, re-run on the draft
    cohort: dict[str, CohortMoves] = field(default_factory=dict)   # reading label -> moves
    cohort_note: str = ""

    @property
    def failing(self) -> list[ExampleRun]:
        return [r for r in self.cases if not r.passed]

    @property
    def encoded(self) -> ReadingDiff:
        return next(r for r in self.readings if r.encoded)

    def to_json(self) -> dict[str, Any]:
        d = self.draft
        return {
            "policy": d.policy.id, "base": d.base.label, "draft": d.version.version,
            "changes": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in d.changes],
            "readings": [{**r.to_json(), **({"cohort": self.cohort[r.reading.label].to_json()}
                                            if r.reading.label in self.cohort else {})} for r in self.readings],
            "lint": [{"level": f.level, "code": f.code, "message": f.message, "line": f.location.line}
                     for f in self.lint],
            "cases": {"run": len(self.cases),
                      "failing": [{"name": r.case.name, "failures": r.failures,
                                   "line": r.location.line, "file": r.location.file} for r in self.failing]},
            "cohort_note": self.cohort_note,
        }


_DONE: dict[tuple[str, str, str, str], tuple[list[ReadingDiff], list[Problem]]] = {}
_LOCK = threading.Lock()
KEEP = 32  # analyses kept: the workbench asks again for the same draft when only the cohort changes


def analyse(draft: Draft, method: str = "auto") -> Proposal:
    """The diff per reading and lint (kept by the digests of base and draft and the draft's text,
    which lint's lines refer to), and the base's example cases run on the draft."""
    key = (draft.base.digest, draft.rv.digest, method, draft.text)
    done = _DONE.get(key)
    if done is None:
        done = (diff_by_reading(draft.base, draft.rv, draft.suite.attributes, method=method), lint_draft(draft))
        with _LOCK:
            while len(_DONE) >= KEEP:
                _DONE.pop(next(iter(_DONE)))
            _DONE[key] = done
    readings, lint = done
    return Proposal(draft, list(readings), list(lint), base_cases_on_draft(draft))


def lint_draft(draft: Draft) -> list[Problem]:
    """`cpe lint`'s checks of the draft: thresholds outside an attribute's range in what it changes,
    and the rule checks (never met, contradictions, criteria that never change an outcome)."""
    from engine.analysis.drafts import VIEW

    ctx = Ctx(draft.suite, draft.policy, VIEW)
    only = Ctx(draft.suite, draft.policy.model_copy(update={"versions": (draft.version,)}), VIEW)
    return thresholds_out_of_range(only) + [f for check in RULE_CHECKS for f in check(ctx, draft.rv)]


def base_cases_on_draft(draft: Draft) -> list[ExampleRun]:
    """The policy's example cases that run on the base version, decided again under the draft."""
    suite, pid, base = draft.suite, draft.policy.id, draft.base.label
    runs = []
    ids = {n.id for n in draft.rv.criterion_nodes()}
    for case, where in policy_cases(suite, pid):
        try:
            label = suite.select(pid, version=case.version, on=case.referral_date).label
        except InputError:
            continue
        if label != base:
            continue
        # expectations about criteria the draft no longer has are not the draft's to meet
        kept = {cid: st for cid, st in case.expect.criteria.items() if cid in ids}
        moved = case.model_copy(update={"version": draft.version.version, "referral_date": None,
                                        "expect": case.expect.model_copy(update={"version": None, "criteria": kept})})
        runs.append(run_case(suite, pid, moved, where))
    return runs
