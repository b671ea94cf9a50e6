"""From criterion results to the outcome and route, per the contract:

- not routinely commissioned → not_eligible, route ifr, whatever the facts;
- scope criteria unmet → out_of_scope, route other_commissioner;
- any criterion unmet → not_eligible, route ifr (missing facts still listed);
- unknown with nothing unmet → insufficient_information, route more_information;
- all met → eligible, by the policy's route (routine or prior approval).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from engine.language.decision import CriterionResult, Decision, Fact, PolicyStamp
from engine.language.evaluate import Result, evaluate, settling_attributes
from engine.language.logic import STATUS, Truth, k_and
from engine.language.model.criteria import Compare, PolicyRef
from engine.language.resolve import ResolvedVersion
from engine.language.vocabulary import Outcome, Route

# The six ways a decision can conclude, in the order they are tested (index = branch number):
# (outcome, route, reason); route None is the policy's own route when eligible.
BRANCHES: tuple[tuple[Outcome, Route | None, str], ...] = (
    (Outcome.out_of_scope, Route.other_commissioner, "The request is outside the scope of this policy."),
    (Outcome.not_eligible, Route.ifr, "This intervention is not routinely commissioned; funding is only possible "
                                      "through an individual funding request showing exceptional clinical circumstances."),
    (Outcome.eligible, Route.routine, "This intervention is routinely commissioned."),
    (Outcome.eligible, None, "Every criterion is met."),
    (Outcome.not_eligible, Route.ifr, "At least one criterion is not met."),
    (Outcome.insufficient_information, Route.more_information,
     "Some criteria cannot be decided without more information; none is unmet."),
)


def branch(commissioning: str, in_scope: Truth, met: Truth) -> int:
    """Which of BRANCHES applies, from the Kleene conjunctions of the scope criteria and the
    criteria. The one statement of the outcome rules: the compiled and columnar engines and the
    diff all call it.

    >>> branch("criteria_based", True, None), branch("criteria_based", None, False), branch("not_routinely_commissioned", True, True)
    (5, 4, 1)
    """
    if in_scope is False:
        return 0
    if commissioning == "not_routinely_commissioned":
        return 1
    if commissioning == "routinely_commissioned" and in_scope is True:
        return 2
    if k_and([in_scope, met]) is True:
        return 3
    return 4 if met is False else 5


def conclusion(b: int, route_when_eligible: str) -> tuple[Outcome, Route, str]:
    """(outcome, route, reason) of a branch."""
    outcome, route, reason = BRANCHES[b]
    return outcome, route or Route(route_when_eligible), reason


def stamp(rv: ResolvedVersion) -> PolicyStamp:
    v = rv.version
    enc = rv.policy.encoding_of(v.version) if rv.policy.versions else None
    return PolicyStamp(id=rv.id, title=rv.policy.title, version=v.version, status=v.status, digest=rv.digest,
                       effective_from=v.effective_from.isoformat() if v.effective_from else None,
                       effective_to=v.effective_to.isoformat() if v.effective_to else None,
                       encoding_complete=enc.complete if enc else None,
                       encoded=enc.encoded if enc else None, not_encoded=enc.not_encoded if enc else None)


def decide(rv: ResolvedVersion, patient: Mapping[str, Any], on: dt.date | None = None) -> Decision:
    """The decision for one patient under one resolved version: a pure function of both."""
    decide_ref = lambda ref: decide(rv.refs[ref.policy], patient, on)  # noqa: E731
    scope = [evaluate(n, patient, decide_ref) for n in rv.scope_criteria]
    results = [evaluate(n, patient, decide_ref) for n in rv.criteria]
    in_scope = k_and(r.truth for r in scope)
    met = k_and(r.truth for r in results)
    missing: list[str] = []
    for r in scope + results:
        for a in settling_attributes(r):
            if a not in missing:
                missing.append(a)

    outcome, route, reason = conclusion(branch(rv.commissioning, in_scope, met), rv.route_when_eligible)

    criteria = tuple(_flatten(scope, scope=True)) + tuple(_flatten(results))
    refs = tuple(stamp(r) for r in rv.refs.values())
    return Decision(policy=stamp(rv), outcome=outcome, route=route, criteria=criteria,
                    missing=tuple(missing), commissioning=rv.commissioning,
                    on=on.isoformat() if on else None, reason=reason, referenced=refs)


def _facts(r: Result) -> list[Fact]:
    """Anonymous comparisons under a criterion, as (attribute, value, threshold, status)."""
    out: list[Fact] = []
    if isinstance(r.node, Compare):
        out.append(Fact(r.node.attr, r.value, r.node.threshold_text(), STATUS[r.truth]))
    for k in r.children:
        if k.node.id is None:
            out.extend(_facts(k))
    return out


def _flatten(results: list[Result], parent: str | None = None, depth: int = 0, prefix: str = "",
             scope: bool = False, inherited: tuple[str | None, str | None] = (None, None)):
    """Criteria (nodes with an id) in tree order; anonymous nodes fold into their criterion."""
    for r in results:
        n = r.node
        prov, cit = n.provenance or inherited[0], n.citation or inherited[1]
        if n.id is None:
            yield from _flatten(list(r.children), parent, depth, prefix, scope, (prov, cit))
            continue
        cid = prefix + n.id
        ref = None
        if isinstance(n, PolicyRef):
            d = r.ref
            ref = {"policy": d.policy.id, "version": d.policy.version, "digest": d.policy.digest,
                   "outcome": d.outcome}
        yield CriterionResult(id=cid, text=n.text, status=STATUS[r.truth], provenance=prov,
                              citation=cit, parent=parent, depth=depth,
                              facts=tuple(_facts(r)), policy_ref=ref, scope=scope,
                              written_at=str(n.span) if n.span else None)
        if isinstance(n, PolicyRef):
            for c in r.ref.criteria:
                yield CriterionResult(**{**c.__dict__, "id": f"{cid}/{c.id}",
                                         "parent": f"{cid}/{c.parent}" if c.parent else cid,
                                         "depth": depth + 1 + c.depth})
        else:
            yield from _flatten(list(r.children), cid, depth + 1, prefix, scope, (prov, cit))
