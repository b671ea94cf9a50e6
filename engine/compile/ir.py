"""The compiled form every backend starts from: a criteria tree flattened into numbered steps.

One `Program` per resolved version (cached by digest). Each step is one node of the tree in
preorder (scope criteria first, then criteria), so Python source, SQL, polars and Spark
are all printed from the same list and cannot drift apart in meaning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.language.decide import BRANCHES, conclusion
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef
from engine.language.resolve import ResolvedVersion


@dataclass(frozen=True)
class Step:
    """One node: `kind` is cmp, all, any, not, if or ref; `kids` index other steps."""

    kind: str
    node: Node
    kids: tuple[int, ...] = ()
    attr: str | None = None
    op: str | None = None
    value: Any = None
    lo: float | None = None
    hi: float | None = None
    lo_incl: bool = True
    hi_incl: bool = True
    ref: str | None = None          # referenced policy id
    cid: str | None = None          # criterion id, when the node is a criterion


@dataclass(frozen=True)
class Program:
    rv: ResolvedVersion
    steps: tuple[Step, ...]
    scope_tops: tuple[int, ...]
    crit_tops: tuple[int, ...]
    refs: dict[str, Program] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return self.rv.digest

    @property
    def commissioning(self) -> str:
        return self.rv.commissioning

    def attributes(self) -> list[str]:
        """Attributes this version reads, own and referenced, in first-use order."""
        out: list[str] = []
        for s in self.steps:
            if s.kind == "cmp" and s.attr not in out:
                out.append(s.attr)  # type: ignore[arg-type]
            elif s.kind == "ref":
                out += [a for a in self.refs[s.ref].attributes() if a not in out]  # type: ignore[index]
        return out

    def criteria(self) -> list[int]:
        """Steps that are criteria (have an id), in tree order."""
        return [i for i, s in enumerate(self.steps) if s.cid is not None]

    def branch_table(self) -> list[tuple[str, str, str]]:
        """(outcome, route, reason) for each branch number of engine.language.decide.BRANCHES, as
        plain strings: generated code and SQL carry the contract's words, not enum objects."""
        return [tuple(map(str, conclusion(b, self.rv.route_when_eligible)))  # type: ignore[misc]
                for b in range(len(BRANCHES))]


def ref_truth() -> dict[str, Any]:
    """The truth of a policy reference for each outcome of the referenced policy: the reference
    evaluator's own table (engine.language.evaluate.REF_TRUTH), keyed by the plain strings."""
    from engine.language.evaluate import REF_TRUTH

    return {str(o): t for o, t in REF_TRUTH.items()}


_CACHE: dict[str, Program] = {}


def program(rv: ResolvedVersion) -> Program:
    """The compiled form of a version, built once per digest."""
    hit = _CACHE.get(rv.digest)
    if hit is not None:
        return hit
    steps: list[Step] = []

    def add(n: Node) -> int:
        i = len(steps)
        steps.append(None)  # type: ignore[arg-type]  # reserve the preorder slot
        if isinstance(n, Compare):
            if n.op == "between":
                s = Step("cmp", n, attr=n.attr, op="between", lo=n.min, hi=n.max,
                         lo_incl=n.inclusive in ("both", "min"), hi_incl=n.inclusive in ("both", "max"),
                         cid=n.id)
            else:
                s = Step("cmp", n, attr=n.attr, op=n.op, value=n.value, cid=n.id)
        elif isinstance(n, AllOf):
            s = Step("all", n, tuple(add(c) for c in n.all), cid=n.id)
        elif isinstance(n, AnyOf):
            s = Step("any", n, tuple(add(c) for c in n.any), cid=n.id)
        elif isinstance(n, Not):
            s = Step("not", n, (add(n.not_),), cid=n.id)
        elif isinstance(n, IfThen):
            a = add(n.if_)
            s = Step("if", n, (a, add(n.then)), cid=n.id)
        elif isinstance(n, PolicyRef):
            s = Step("ref", n, ref=n.policy, cid=n.id)
        else:
            raise TypeError(f"unknown node {type(n).__name__}")
        steps[i] = s
        return i

    scope = tuple(add(n) for n in rv.scope_criteria)
    crit = tuple(add(n) for n in rv.criteria)
    refs = {pid: program(r) for pid, r in rv.refs.items()}
    prog = Program(rv, tuple(steps), scope, crit, refs)
    _CACHE[rv.digest] = prog
    return prog
