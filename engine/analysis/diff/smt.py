"""The diff as an SMT question (z3): for each pair of different outcomes, is there a patient who
gets the first under one version and the second under the other?

Used when the partition is too large to enumerate, and to cross-check enumeration in tests.
Kleene logic is encoded two-rail: every node has a 'met' and an 'unmet' formula, never both
true; neither true is 'unknown'. Each attribute has a 'known' flag, so absent facts are covered.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef
from engine.language.resolve import ResolvedVersion
from engine.language.vocabulary import Outcome

OUTCOMES = tuple(str(o) for o in Outcome)


class _Encoder:
    def __init__(self, attrs: AttributeDictionary):
        import z3

        self.z3 = z3
        self.attrs = attrs
        self.vars: dict[str, tuple[Any, Any]] = {}   # name -> (known, value)
        self.domain: list[Any] = []

    def var(self, name: str) -> tuple[Any, Any]:
        z3 = self.z3
        if name not in self.vars:
            a = self.attrs[name]
            known = z3.Bool(f"known:{name}")
            if a.type == "boolean":
                v = z3.Bool(name)
            elif a.type == "integer":
                v = z3.Int(name)
            elif a.type == "number":
                v = z3.Real(name)
            elif a.type == "enum":
                v = z3.Int(name)
                self.domain.append(z3.And(v >= 0, v < len(a.values or ())))
            else:
                v = z3.String(name)
            if a.type in ("integer", "number"):
                if a.min is not None:
                    self.domain.append(v >= self.num(a.min))
                if a.max is not None:
                    self.domain.append(v <= self.num(a.max))
            self.vars[name] = (known, v)
        return self.vars[name]

    def num(self, x: Any) -> Any:
        return self.z3.RealVal(Fraction(str(x))) if isinstance(x, float) and not x.is_integer() else int(x)

    def const(self, name: str, x: Any) -> Any:
        a = self.attrs[name]
        if a.type == "boolean":
            return self.z3.BoolVal(bool(x))
        if a.type == "enum":
            return (a.values or ()).index(x) if x in (a.values or ()) else -1
        if a.type == "string":
            return self.z3.StringVal(str(x))
        return self.num(x)

    def compare(self, n: Compare) -> Any:
        z3 = self.z3
        _, v = self.var(n.attr)
        c = lambda x: self.const(n.attr, x)  # noqa: E731
        op = n.op
        if op == "=":
            return v == c(n.value)
        if op == "!=":
            return v != c(n.value)
        if op == "in":
            return z3.Or([v == c(x) for x in n.value])  # type: ignore[union-attr]
        if op in ("<", "<=", ">", ">="):
            return {"<": v < c(n.value), "<=": v <= c(n.value), ">": v > c(n.value), ">=": v >= c(n.value)}[op]
        lo = v >= c(n.min) if n.inclusive in ("both", "min") else v > c(n.min)
        hi = v <= c(n.max) if n.inclusive in ("both", "max") else v < c(n.max)
        return z3.And(lo, hi)

    def node(self, n: Node, refs: dict[str, ResolvedVersion]) -> tuple[Any, Any]:
        """(met, unmet) formulas of a node."""
        z3 = self.z3
        if isinstance(n, Compare):
            known, _ = self.var(n.attr)
            test = self.compare(n)
            return z3.And(known, test), z3.And(known, z3.Not(test))
        if isinstance(n, AllOf):
            kids = [self.node(c, refs) for c in n.all]
            return z3.And([t for t, _ in kids]), z3.Or([f for _, f in kids])
        if isinstance(n, AnyOf):
            kids = [self.node(c, refs) for c in n.any]
            return z3.Or([t for t, _ in kids]), z3.And([f for _, f in kids])
        if isinstance(n, Not):
            t, f = self.node(n.not_, refs)
            return f, t
        if isinstance(n, IfThen):
            at, af = self.node(n.if_, refs)
            bt, bf = self.node(n.then, refs)
            return z3.Or(af, bt), z3.And(at, bf)
        if isinstance(n, PolicyRef):
            out = self.outcomes(refs[n.policy])
            return out["eligible"], out["not_eligible"]
        raise TypeError(type(n).__name__)

    def conj(self, nodes: tuple[Node, ...], refs: dict[str, ResolvedVersion]) -> tuple[Any, Any]:
        z3 = self.z3
        kids = [self.node(n, refs) for n in nodes]
        return (z3.And([t for t, _ in kids]) if kids else z3.BoolVal(True),
                z3.Or([f for _, f in kids]) if kids else z3.BoolVal(False))

    def outcomes(self, rv: ResolvedVersion) -> dict[str, Any]:
        """Each outcome as a formula, following decide.py's order of tests."""
        z3 = self.z3
        st, sf = self.conj(rv.scope_criteria, rv.refs)
        ct, cf = self.conj(rv.criteria, rv.refs)
        false = z3.BoolVal(False)
        if rv.commissioning == "not_routinely_commissioned":
            return {"out_of_scope": sf, "not_eligible": z3.Not(sf), "eligible": false,
                    "insufficient_information": false}
        routine_in = z3.And(st) if rv.commissioning == "routinely_commissioned" else false
        all_met = z3.And(st, ct)
        rest = z3.And(z3.Not(sf), z3.Not(routine_in), z3.Not(all_met))
        return {"out_of_scope": sf, "eligible": z3.And(z3.Not(sf), z3.Or(routine_in, all_met)),
                "not_eligible": z3.And(rest, cf), "insufficient_information": z3.And(rest, z3.Not(cf))}

    def patient(self, model: Any) -> dict[str, Any]:
        z3 = self.z3
        out: dict[str, Any] = {}
        for name, (known, v) in self.vars.items():
            if not z3.is_true(model.eval(known, model_completion=True)):
                continue
            val = model.eval(v, model_completion=True)
            a = self.attrs[name]
            if a.type == "boolean":
                out[name] = z3.is_true(val)
            elif a.type == "integer":
                out[name] = val.as_long()
            elif a.type == "enum":
                out[name] = (a.values or ())[val.as_long()]
            elif a.type == "number":
                fr = val.as_fraction()
                out[name] = int(fr) if fr.denominator == 1 else float(fr)
            else:
                out[name] = val.as_string()
        return out


def smt_changes(rv_a: ResolvedVersion, rv_b: ResolvedVersion,
                attrs: AttributeDictionary) -> list[tuple[str, str, dict[str, Any]]]:
    """(from, to, example) for every pair of outcomes some patient gets; [] proves equivalence."""
    enc = _Encoder(attrs)
    oa, ob = enc.outcomes(rv_a), enc.outcomes(rv_b)
    found = []
    for x in OUTCOMES:
        for y in OUTCOMES:
            if x == y:
                continue
            s = enc.z3.Solver()
            s.add(*enc.domain, oa[x], ob[y])
            if s.check() == enc.z3.sat:
                found.append((x, y, enc.patient(s.model())))
    return found
