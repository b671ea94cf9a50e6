"""The diff's enumeration: top-level criteria as atoms compared by their logic, grouped into
components that share no attribute, each enumerated over the partition of its attributes.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.partition import AttrPartition
from engine.language.decide import BRANCHES, branch, decide
from engine.language.evaluate import evaluate
from engine.language.logic import Truth, k_and
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef
from engine.language.resolve import ResolvedVersion

ORDER = {True: 0, None: 1, False: 2}


@dataclass
class Atom:
    node: Node
    scope: bool
    key: str
    in_a: bool = False
    in_b: bool = False
    attrs: frozenset[str] = frozenset()
    refs: dict[str, ResolvedVersion] = field(default_factory=dict)


def logic_key(node: Node, refs: dict[str, ResolvedVersion]) -> str:
    """The node's logic without its wording, so a reworded but identical rule counts as unchanged."""
    def strip(n: Node) -> Any:
        if isinstance(n, Compare):
            v = list(n.value) if isinstance(n.value, tuple) else n.value
            return ["cmp", n.attr, n.op, v, n.min, n.max, n.inclusive if n.op == "between" else None]
        if isinstance(n, PolicyRef):
            return ["ref", n.policy, refs[n.policy].digest]
        if isinstance(n, AllOf):
            return ["all", [strip(c) for c in n.all]]
        if isinstance(n, AnyOf):
            return ["any", [strip(c) for c in n.any]]
        if isinstance(n, Not):
            return ["not", strip(n.not_)]
        if isinstance(n, IfThen):
            return ["if", strip(n.if_), strip(n.then)]
        raise TypeError(type(n).__name__)
    return json.dumps(strip(node), sort_keys=True)


def outcome_of(commissioning: str, in_scope: Truth, met: Truth) -> str:
    """The outcome from the two Kleene conjunctions, by decide.py's own rules."""
    return BRANCHES[branch(commissioning, in_scope, met)][0]


Quad = tuple[Truth, Truth, Truth, Truth]   # (scope A, criteria A, scope B, criteria B)


@dataclass
class Component:
    atoms: list[Atom]
    parts: list[AttrPartition]
    cells: dict[Quad, list[tuple[int, ...]]] = field(default_factory=dict)
    quad_of: dict[tuple[int, ...], Quad] = field(default_factory=dict)
    truths: dict[tuple[int, ...], tuple[Truth, ...]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(not (a.in_a and a.in_b) for a in self.atoms)

    def patient(self, combo: tuple[int, ...]) -> dict[str, Any]:
        out = {}
        for p, i in zip(self.parts, combo):
            v = p.cells[i].value
            if v is not None:
                out[p.name] = v
        return out


def truth_fn() -> Callable[[Atom, dict], Truth]:
    """An atom's truth for a patient, by the reference evaluator (memoised on the facts it reads)."""
    memo: dict[tuple, Truth] = {}

    def truth(atom: Atom, patient: dict) -> Truth:
        k = (atom.key, tuple(sorted((a, patient[a]) for a in atom.attrs if a in patient)))
        if k not in memo:
            memo[k] = evaluate(atom.node, patient, lambda r: decide(atom.refs[r.policy], patient)).truth
        return memo[k]
    return truth


def enumerate_component(comp: Component, truth: Callable[[Atom, dict], Truth]) -> int:
    sizes = [range(len(p.cells)) for p in comp.parts]
    n = 0
    for combo in itertools.product(*sizes):
        patient = comp.patient(combo)
        t = {id(a): truth(a, patient) for a in comp.atoms}
        quad = (k_and(t[id(a)] for a in comp.atoms if a.in_a and a.scope),
                k_and(t[id(a)] for a in comp.atoms if a.in_a and not a.scope),
                k_and(t[id(a)] for a in comp.atoms if a.in_b and a.scope),
                k_and(t[id(a)] for a in comp.atoms if a.in_b and not a.scope))
        comp.cells.setdefault(quad, []).append(combo)
        comp.quad_of[combo] = quad
        comp.truths[combo] = tuple(t[id(a)] for a in comp.atoms)
        n += 1
    return n


def rank(quad: tuple) -> tuple:
    return tuple(ORDER[x] for x in quad)


def rank2(key: tuple) -> tuple:
    return tuple(ORDER[x] for x in key)


def combo_rank(comp: Component, combo: tuple[int, ...]) -> tuple:
    """Prefer short examples: as few known facts as the region allows."""
    return (-sum(comp.parts[k].cells[i].unknown for k, i in enumerate(combo)), combo)


def pair_rank(pair: tuple[str, str]) -> tuple:
    order = {"eligible": 0, "not_eligible": 1, "insufficient_information": 2, "out_of_scope": 3}
    return (order[pair[0]], order[pair[1]])


def merge_paths(paths: list[list[frozenset]]) -> list[list[frozenset]]:
    """Join regions that differ in one coordinate only (a union of products stays exact)."""
    paths = [list(p) for p in paths]
    if not paths:
        return paths
    width = len(paths[0])
    changed = True
    while changed:
        changed = False
        for k in range(width):
            groups: dict[tuple, list] = {}
            for p in paths:
                key = tuple(p[:k] + p[k + 1:])
                if key in groups:
                    groups[key][k] = groups[key][k] | p[k]
                    changed = True
                else:
                    groups[key] = list(p)
            paths = list(groups.values())
    return paths
