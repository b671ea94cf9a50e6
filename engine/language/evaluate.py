"""The reference evaluator: walks the criteria tree with Kleene logic and keeps every step.

It is the oracle the compiled evaluators are tested against, so it stays simple.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.language.logic import Truth, k_and, k_implies, k_not, k_or
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef
from engine.language.vocabulary import Outcome


@dataclass(frozen=True)
class Result:
    """The truth value of one node and how it was reached."""

    node: Node
    truth: Truth
    children: tuple[Result, ...] = ()
    value: Any = None
    ref: Any = None  # the referenced policy's Decision, for PolicyRef nodes


# A policy reference ("eligible under policy X") by the referenced decision's outcome. Out of that
# policy's scope is not "in accordance with" it: unmet, not unknown. The compiled engines read it too.
REF_TRUTH: dict[Outcome, Truth] = {Outcome.eligible: True, Outcome.not_eligible: False,
                                   Outcome.insufficient_information: None, Outcome.out_of_scope: False}


def compare(n: Compare, value: Any) -> Truth:
    if value is None:
        return None
    op = n.op
    if op == "=":
        return value == n.value
    if op == "!=":
        return value != n.value
    if op == "<":
        return value < n.value
    if op == "<=":
        return value <= n.value
    if op == ">":
        return value > n.value
    if op == ">=":
        return value >= n.value
    if op == "in":
        return value in n.value  # type: ignore[operator]
    lo_ok = value >= n.min if n.inclusive in ("both", "min") else value > n.min
    hi_ok = value <= n.max if n.inclusive in ("both", "max") else value < n.max
    return lo_ok and hi_ok


def evaluate(node: Node, patient: Mapping[str, Any],
             decide_ref: Callable[[PolicyRef], Any] | None = None) -> Result:
    """Evaluate one node. `decide_ref` decides a referenced policy for the same patient."""
    if isinstance(node, Compare):
        value = patient.get(node.attr)
        return Result(node, compare(node, value), value=value)
    if isinstance(node, AllOf):
        kids = tuple(evaluate(c, patient, decide_ref) for c in node.all)
        return Result(node, k_and(k.truth for k in kids), kids)
    if isinstance(node, AnyOf):
        kids = tuple(evaluate(c, patient, decide_ref) for c in node.any)
        return Result(node, k_or(k.truth for k in kids), kids)
    if isinstance(node, Not):
        kid = evaluate(node.not_, patient, decide_ref)
        return Result(node, k_not(kid.truth), (kid,))
    if isinstance(node, IfThen):
        a = evaluate(node.if_, patient, decide_ref)
        b = evaluate(node.then, patient, decide_ref)
        return Result(node, k_implies(a.truth, b.truth), (a, b))
    if isinstance(node, PolicyRef):
        if decide_ref is None:
            raise ValueError(f"no way to decide referenced policy {node.policy!r}")
        decision = decide_ref(node)
        return Result(node, REF_TRUTH[decision.outcome], ref=decision)
    raise TypeError(f"unknown node {type(node).__name__}")


def settling_attributes(r: Result) -> list[str]:
    """Attributes whose values would settle an unknown result (in tree order, no repeats)."""
    out: list[str] = []

    def visit(x: Result) -> None:
        if x.truth is not None:
            return
        if isinstance(x.node, Compare):
            if x.node.attr not in out:
                out.append(x.node.attr)
        elif isinstance(x.node, PolicyRef):
            for a in x.ref.missing:
                if a not in out:
                    out.append(a)
        for k in x.children:
            visit(k)

    visit(r)
    return out
