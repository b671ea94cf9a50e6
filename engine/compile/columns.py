"""Lower the compiled form to column expressions of any columnar engine.

A backend supplies an `Algebra` (how to write a column, a comparison, Kleene AND/OR/NOT,
a truth's code and a table look-up); this module walks the steps once and gives, for a
whole cohort at a time,

- one three-valued column per criterion, named as in the Decision (`b/a` for criterion
  `a` of the policy that criterion `b` refers to), where null is unknown, and
- a small integer `code` = 3 × (scope truth) + (criteria truth), each truth coded
  0 unmet / 1 met / 2 unknown, from which the outcome and route are looked up.

decide()'s outcome rules are applied once per version in Python to the nine codes
(`code_table`), so the columns never branch: the rules live in one place and the
columnar side is arithmetic and a look-up, which is fast in every engine.
SQL, polars and Spark treat null as Kleene's unknown in AND, OR and NOT and in
comparisons, so the criterion expressions carry the three-valued logic themselves.
"""
from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from engine.compile.ir import Program, Step, ref_truth
from engine.language.decide import branch
from engine.language.logic import Truth

E = TypeVar("E")
TRUTHS: tuple[Truth, Truth, Truth] = (False, True, None)   # the code of a truth is its index here


class Algebra(Protocol[E]):
    def col(self, name: str) -> E: ...
    def lit(self, value: Any) -> E: ...
    def compare(self, op: str, x: E, value: Any) -> E: ...
    def isin(self, x: E, values: tuple) -> E: ...
    def and_(self, xs: list[E]) -> E: ...
    def or_(self, xs: list[E]) -> E: ...
    def not_(self, x: E) -> E: ...
    def code(self, scope: E | None, met: E) -> E:
        """3 × code(scope) + code(met), with code False 0, True 1, null 2 (scope None: always True)."""
    def lookup(self, code: E, values: list[Any], kind: str) -> E:
        """values[code]; kind is 'bool', 'int' or 'str' (values may hold None)."""


def branch_of(prog: Program, in_scope: Truth, met: Truth) -> int:
    """decide()'s outcome rules, as the branch number of engine.language.decide.BRANCHES."""
    return branch(prog.commissioning, in_scope, met)


def code_table(prog: Program) -> list[int]:
    """Branch number for each of the nine (scope, criteria) codes."""
    return [branch_of(prog, s, m) for s in TRUTHS for m in TRUTHS]


class Lowered(Generic[E]):
    """Column expressions for one program: `criteria` [(id, expr)] and `code`; the outcome
    and route are looked up from a column holding the code (`outcome_of`, `route_of`)."""

    def __init__(self, prog: Program, alg: Algebra[E]):
        self.prog, self.alg = prog, alg
        self.criteria: list[tuple[str, E]] = []
        self._expr: dict[int, E] = {}
        self._refs: dict[int, Lowered[E]] = {}
        for i in reversed(range(len(prog.steps))):
            self._expr[i] = self._step(i)
        met = alg.and_([self._expr[i] for i in prog.crit_tops]) if prog.crit_tops else alg.lit(True)
        scope = alg.and_([self._expr[i] for i in prog.scope_tops]) if prog.scope_tops else None
        self.code = alg.code(scope, met)
        self.table = code_table(prog)
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
        # the reference evaluator's truth for each outcome of the referenced policy
        truth = ref_truth()
        rows = low.prog.branch_table()
        return a.lookup(low.code, [truth[rows[b][0]] for b in low.table], "bool")

    def code_from(self, column: Any) -> E:
        """The code again, from the criterion columns already computed (`column(id)` names one),
        so an engine evaluates each criterion once; the expressions when a top has no id."""
        p, a = self.prog, self.alg
        if any(p.steps[i].cid is None for i in p.scope_tops + p.crit_tops):
            return self.code
        met = a.and_([column(p.steps[i].cid) for i in p.crit_tops]) if p.crit_tops else a.lit(True)
        scope = a.and_([column(p.steps[i].cid) for i in p.scope_tops]) if p.scope_tops else None
        return a.code(scope, met)

    def route_by_outcome(self) -> dict[str, str]:
        """The route of each reachable outcome: within a version the route follows from the outcome."""
        rows = self.prog.branch_table()
        out: dict[str, str] = {}
        for b in set(self.table):
            outcome, route, _ = rows[b]
            if out.setdefault(outcome, route) != route:
                raise AssertionError(f"{self.prog.rv.id}: outcome {outcome} has two routes")
        return out

    def branch_of(self, code: E) -> E:
        return self.alg.lookup(code, self.table, "int")

    def outcome_of(self, code: E) -> E:
        rows = self.prog.branch_table()
        return self.alg.lookup(code, [rows[b][0] for b in self.table], "str")

    def route_of(self, code: E) -> E:
        rows = self.prog.branch_table()
        return self.alg.lookup(code, [rows[b][1] for b in self.table], "str")


def num(v: Any) -> Any:
    """An integral float threshold as an int: the comparison is exact either way, and an
    integer column then needs no cast to float."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        return int(v)
    return v


def _compare(a: Algebra[E], s: Step) -> E:
    x = a.col(s.attr)  # type: ignore[arg-type]
    if s.op == "between":
        return a.and_([a.compare(">=" if s.lo_incl else ">", x, num(s.lo)),
                       a.compare("<=" if s.hi_incl else "<", x, num(s.hi))])
    if s.op == "in":
        return a.isin(x, tuple(num(v) for v in s.value))
    return a.compare(str(s.op), x, num(s.value))


def lower(prog: Program, alg: Algebra[E]) -> Lowered[E]:
    return Lowered(prog, alg)
