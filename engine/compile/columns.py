"""Lower the compiled form to column expressions of any columnar engine.

A backend supplies an `Algebra` (how to write a column, a comparison, Kleene AND/OR/NOT
and a CASE); this module walks the steps once and gives, for a whole cohort at a time,

- one three-valued column per criterion, named as in the Decision (`b/a` for criterion
  `a` of the policy that criterion `b` refers to), where null is unknown, and
- the branch number of decide()'s outcome rules, mapped to `outcome` and `route`.

SQL, polars and Spark all treat null as Kleene's unknown in AND, OR and NOT and null in a
comparison as unknown, so the expressions carry the three-valued logic themselves.
"""
from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from engine.compile.ir import Program, Step

E = TypeVar("E")


class Algebra(Protocol[E]):
    def col(self, name: str) -> E: ...
    def lit(self, value: Any) -> E: ...
    def null_bool(self) -> E: ...
    def null_str(self) -> E: ...
    def compare(self, op: str, x: E, value: Any) -> E: ...
    def isin(self, x: E, values: tuple) -> E: ...
    def and_(self, xs: list[E]) -> E: ...
    def or_(self, xs: list[E]) -> E: ...
    def not_(self, x: E) -> E: ...
    def is_true(self, x: E) -> E: ...
    def is_false(self, x: E) -> E: ...
    def is_in_ints(self, x: E, values: tuple[int, ...]) -> E: ...
    def case(self, whens: list[tuple[E, E]], default: E) -> E: ...


class Lowered(Generic[E]):
    """Column expressions for one program: `criteria` [(id, expr)] and `branch`; the outcome
and route come from the branch column (`outcome_of`, `route_of`)."""

    def __init__(self, prog: Program, alg: Algebra[E]):
        self.prog, self.alg = prog, alg
        self.criteria: list[tuple[str, E]] = []
        self._expr: dict[int, E] = {}
        self._refs: dict[int, Lowered[E]] = {}
        for i in reversed(range(len(prog.steps))):
            self._expr[i] = self._step(i)
        self.branch = self._branch()
        for i, s in enumerate(prog.steps):
            if s.cid is None:
                continue
            self.criteria.append((s.cid, self._expr[i]))
            if s.kind == "ref":
                self.criteria += [(f"{s.cid}/{c}", e) for c, e in self._refs[i].criteria]

    def _step(self, i: int) -> E:
        a, s = self.alg, self.prog.steps[i]
        kids = [self._expr[k] for k in s.kids]
        if s.kind == "cmp":
            return _compare(a, s)
        if s.kind == "all":
            return a.and_(kids)
        if s.kind == "any":
            return a.or_(kids)
        if s.kind == "not":
            return a.not_(kids[0])
        if s.kind == "if":
            return a.or_([a.not_(kids[0]), kids[1]])
        low = self._refs[i] = Lowered(self.prog.refs[s.ref], a)  # type: ignore[index]
        # met when eligible under the referenced policy, unmet when not eligible, else unknown
        return low.decide([a.null_bool(), a.lit(False), a.lit(True), a.lit(True), a.lit(False), a.null_bool()])

    def _branch(self) -> E:
        return self.decide([self.alg.lit(b) for b in range(6)])

    def decide(self, values: list[E]) -> E:
        """decide()'s outcome rules as one CASE giving values[branch number]."""
        a, p = self.alg, self.prog
        met = a.and_([self._expr[i] for i in p.crit_tops]) if p.crit_tops else a.lit(True)
        whens: list[tuple[E, E]] = []
        scope = None
        if p.scope_tops:
            scope = a.and_([self._expr[i] for i in p.scope_tops])
            whens.append((a.is_false(scope), values[0]))
        if p.commissioning == "not_routinely_commissioned":
            return a.case(whens, values[1]) if whens else values[1]
        if p.commissioning == "routinely_commissioned":
            if scope is None:
                return values[2]
            whens.append((a.is_true(scope), values[2]))
        whens += [(a.is_true(a.and_([scope, met]) if scope is not None else met), values[3]),
                  (a.is_false(met), values[4])]
        return a.case(whens, values[5])

    def outcome_of(self, branch: E) -> E:
        """The outcome, from a column holding the branch number (computed once, used twice)."""
        return self._by_branch(branch, [r[0] for r in self.prog.branch_table()])

    def route_of(self, branch: E) -> E:
        return self._by_branch(branch, [r[1] for r in self.prog.branch_table()])

    def _by_branch(self, branch: E, names: list[str]) -> E:
        a = self.alg
        groups: dict[str, list[int]] = {}
        for b, n in enumerate(names):
            groups.setdefault(n, []).append(b)
        return a.case([(a.is_in_ints(branch, tuple(bs)), a.lit(n)) for n, bs in groups.items()], a.null_str())


def _compare(a: Algebra[E], s: Step) -> E:
    x = a.col(s.attr)  # type: ignore[arg-type]
    if s.op == "between":
        return a.and_([a.compare(">=" if s.lo_incl else ">", x, s.lo), a.compare("<=" if s.hi_incl else "<", x, s.hi)])
    if s.op == "in":
        return a.isin(x, tuple(s.value))
    return a.compare(s.op, x, s.value)  # type: ignore[arg-type]


def lower(prog: Program, alg: Algebra[E]) -> Lowered[E]:
    return Lowered(prog, alg)
