"""Compile a policy version to generated Python source: the fast single-patient evaluator.

Each version becomes two functions, printed once per digest and `exec`-ed:

- `evaluate(p) -> (outcome, route, truths, missing)`: `truths` holds the three-valued
  result (True / False / None) of every criterion of the version, in tree order
  (`criterion_ids`). When every attribute it reads is known it runs plain boolean code
  with no unknown-handling at all; otherwise it falls back to the Kleene version.
- `kleene(p) -> (branch, node_truths, missing, ref_results)`: every node's truth, for
  turning a result into the reference engine's `Decision` (`decision()`).

The reference evaluator (engine/language/evaluate.py, engine/language/decide.py) is the oracle; the
differential tests in tests/test_compile_python.py hold the two together.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from engine.compile.ir import Program, Step, program, ref_truth
from engine.language.decide import branch
from engine.language.decision import Decision
from engine.language.logic import Truth
from engine.language.resolve import ResolvedVersion
from engine.language.vocabulary import Outcome, Route


def _lit(v: Any) -> str:
    return repr(tuple(v)) if isinstance(v, (tuple, list)) else repr(v)


def _num(x: Any) -> str:
    """A threshold literal; an integral float prints as an int (Python compares int and
    float exactly, so the result is the same and the int comparison is faster)."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 2 ** 53:
        return str(int(x))
    return repr(x)


def _cmp_expr(s: Step, v: str) -> str:
    """The comparison as the reference evaluator writes it, on a known value `v`."""
    if s.op == "between":
        lo = f"{_num(s.lo)} {'<=' if s.lo_incl else '<'} "
        hi = f" {'<=' if s.hi_incl else '<'} {_num(s.hi)}"
        return f"({lo}{v}{hi})"
    op = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in"}[s.op]  # type: ignore[index]
    lit = _num(s.value) if isinstance(s.value, float) else _lit(s.value)
    return f"({v} {op} {lit})"


class CompiledPython:
    """A version compiled to Python; `evaluate` is the hot path, `decision` the drop-in."""

    def __init__(self, prog: Program):
        self.program = prog
        self.refs = {pid: compiled(r.rv) for pid, r in prog.refs.items()}
        self.criterion_steps = prog.criteria()
        self.criterion_ids = [prog.steps[i].cid for i in self.criterion_steps]
        self.source = self._source()
        by_outcome = ref_truth()
        # branch number → truth of a reference to a policy that ends in that branch (a branch
        # means the same outcome in every version, so this version's table serves)
        ns: dict[str, Any] = {"REF_TRUTH": tuple(by_outcome[row[0]] for row in prog.branch_table()),
                              "REF_OUT": by_outcome}
        for k, c in enumerate(self.refs.values()):
            ns[f"_ref_fast_{k}"] = c.evaluate
            ns[f"_ref_kleene_{k}"] = c.kleene
        code = compile(self.source, f"<cpe {prog.rv.id} {prog.rv.label}>", "exec")
        exec(code, ns)  # noqa: S102 - source printed above from the validated criteria tree
        self.evaluate: Callable[[Mapping[str, Any]], tuple] = ns["evaluate"]
        self.kleene: Callable[[Mapping[str, Any]], tuple] = ns["kleene"]

    # -- source ---------------------------------------------------------------------------
    def _source(self) -> str:
        prog = self.program
        attrs = sorted({s.attr for s in prog.steps if s.kind == "cmp" and s.attr is not None})
        var = {a: f"v{k}" for k, a in enumerate(attrs)}
        refk = {pid: k for k, pid in enumerate(self.refs)}
        table = prog.branch_table()
        lines = ["def kleene(p):", "    g = p.get"]
        lines += [f"    {var[a]} = g({a!r})" for a in attrs]
        lines += self._kleene_body(var, refk)
        lines += self._fast(var, refk, table)
        return "\n".join(lines) + "\n"

    def _kleene_body(self, var: dict[str, str], refk: dict[str, int]) -> list[str]:
        prog = self.program
        out: list[str] = []
        # children come after their parent in preorder, so assign in reverse
        for i in reversed(range(len(prog.steps))):
            s = prog.steps[i]
            t = [f"t{k}" for k in s.kids]
            if s.kind == "cmp":
                v = var[s.attr]  # type: ignore[index]
                e = f"None if {v} is None else {_cmp_expr(s, v)}"
            elif s.kind == "all":
                e = (f"False if ({' or '.join(x + ' is False' for x in t)}) else "
                     f"(None if ({' or '.join(x + ' is None' for x in t)}) else True)")
            elif s.kind == "any":
                e = (f"True if ({' or '.join(x + ' is True' for x in t)}) else "
                     f"(None if ({' or '.join(x + ' is None' for x in t)}) else False)")
            elif s.kind == "not":
                e = f"None if {t[0]} is None else (not {t[0]})"
            elif s.kind == "if":
                a, b = t
                e = (f"True if ({a} is False or {b} is True) else "
                     f"(None if ({a} is None or {b} is None) else False)")
            else:
                out.append(f"    r{i} = _ref_kleene_{refk[s.ref]}(p)")  # type: ignore[index]
                e = f"REF_TRUTH[r{i}[0]]"
            out.append(f"    t{i} = {e}")
        out += self._branch("    ", [f"t{i}" for i in prog.scope_tops], [f"t{i}" for i in prog.crit_tops],
                            kleene=True)
        out.append("    m = []")
        for top in prog.scope_tops + prog.crit_tops:
            out += self._missing(top, var, "    ")
        refs = [i for i, s in enumerate(prog.steps) if s.kind == "ref"]
        truths = "".join(f"t{i}, " for i in range(len(prog.steps)))
        out.append(f"    return (b, ({truths}), tuple(m), {{{', '.join(f'{i}: r{i}' for i in refs)}}})")
        return out

    def _missing(self, i: int, var: dict[str, str], ind: str) -> list[str]:
        """settling_attributes(): attributes under unknown nodes, through unknown nodes only."""
        s = self.program.steps[i]
        body: list[str] = []
        if s.kind == "cmp":
            body.append(f"{ind}    if {s.attr!r} not in m: m.append({s.attr!r})")
        elif s.kind == "ref":
            body.append(f"{ind}    for a in r{i}[2]:")
            body.append(f"{ind}        if a not in m: m.append(a)")
        for k in s.kids:
            body += self._missing(k, var, ind + "    ")
        return [f"{ind}if t{i} is None:"] + body if body else []

    def _branch(self, ind: str, scope: list[str], crit: list[str], kleene: bool) -> list[str]:
        """decide()'s outcome rules as code that sets the branch number `b`: the constants are
        engine.language.decide.branch's own answers for each truth of (scope, criteria), so the
        rules are stated once and only the dispatch is generated."""
        c = self.program.commissioning
        truths: tuple[Truth, ...] = (True, False, None) if kleene else (True, False)

        def k_and(xs: list[str]) -> str:
            if not xs:
                return "True"
            if not kleene:
                return "(" + " and ".join(xs) + ")"
            return (f"(False if ({' or '.join(x + ' is False' for x in xs)}) else "
                    f"(None if ({' or '.join(x + ' is None' for x in xs)}) else True))")

        def pick(var: str, by: dict[Truth, str]) -> str:
            """`by[var]` as a conditional expression (collapsed where every truth gives the same)."""
            if len(set(by.values())) == 1:
                return next(iter(by.values()))
            if not kleene:
                return f"({by[True]} if {var} else {by[False]})"
            return f"({by[True]} if {var} is True else ({by[False]} if {var} is False else {by[None]}))"

        by_scope = {st: pick("c_", {ct: str(branch(c, st, ct)) for ct in truths}) for st in truths}
        return [f"{ind}s_ = {k_and(scope)}", f"{ind}c_ = {k_and(crit)}", f"{ind}b = {pick('s_', by_scope)}"]

    def _fast(self, var: dict[str, str], refk: dict[str, int], table: list) -> list[str]:
        """evaluate(): plain booleans when every attribute read is known, else kleene()."""
        prog = self.program
        attrs = sorted(var)
        crit = self.criterion_steps
        named = set(crit) | set(prog.scope_tops) | set(prog.crit_tops)
        out = ["", f"OUT = {[r[0] for r in table]!r}", f"ROUTE = {[r[1] for r in table]!r}", "",
               "def _slow(p):", "    b, t, m, _ = kleene(p)",
               f"    return (OUT[b], ROUTE[b], ({''.join(f't[{i}], ' for i in crit)}), m)", "",
               "def evaluate(p):"]
        if attrs:
            out.append("    try:")
            out += [f"        {var[a]} = p[{a!r}]" for a in attrs]
            out += ["    except KeyError:", "        return _slow(p)",
                    f"    if {' or '.join(var[a] + ' is None' for a in attrs)}:", "        return _slow(p)"]
        expr: dict[int, str] = {}
        body: list[str] = []
        for i in reversed(range(len(prog.steps))):
            s = prog.steps[i]
            t = [expr[k] for k in s.kids]
            if s.kind == "cmp":
                e = _cmp_expr(s, var[s.attr])  # type: ignore[index]
            elif s.kind == "all":
                e = "(" + " and ".join(t) + ")"
            elif s.kind == "any":
                e = "(" + " or ".join(t) + ")"
            elif s.kind == "not":
                e = f"(not {t[0]})"
            elif s.kind == "if":
                e = f"((not {t[0]}) or {t[1]})"
            else:
                body.append(f"    t{i} = REF_OUT.get(_ref_fast_{refk[s.ref]}(p)[0])")  # type: ignore[index]
                body.append(f"    if t{i} is None: return _slow(p)")
                e = f"t{i}"
            if i in named and s.kind != "ref":
                body.append(f"    t{i} = {e}")
                e = f"t{i}"
            expr[i] = e
        # named nodes were emitted child-first because of the reversed walk; keep that order
        out += body
        tup = f"({''.join(f't{i}, ' for i in crit)})"
        ret = lambda b: f"return ({table[b][0]!r}, {table[b][1]!r}, {tup}, ())"  # noqa: E731
        scope = " and ".join(expr[i] for i in prog.scope_tops)
        met = " and ".join(expr[i] for i in prog.crit_tops) or "True"
        c = prog.commissioning

        def by_met(ind: str, in_scope: bool) -> list[str]:
            """Return the branch decide.branch gives, testing the criteria only where it matters."""
            b_met, b_unmet = branch(c, in_scope, True), branch(c, in_scope, False)
            if b_met == b_unmet:
                return [f"{ind}{ret(b_met)}"]
            return [f"{ind}if {met}: {ret(b_met)}", f"{ind}{ret(b_unmet)}"]

        if scope:
            out += [f"    if not ({scope}):", *by_met("        ", False)]
        out += by_met("    ", True)
        return out

    # -- the drop-in ----------------------------------------------------------------------
    def decision(self, patient: Mapping[str, Any], on: dt.date | None = None) -> Decision:
        """The same Decision the reference decide() returns, built from the compiled truths."""
        from engine.language.decide import _flatten, stamp
        from engine.language.evaluate import Result

        prog = self.program
        b, truths, missing, refres = self.kleene(patient)
        outcome, route, reason = prog.branch_table()[b]

        def result(i: int) -> Result:
            s = prog.steps[i]
            if s.kind == "cmp":
                return Result(s.node, truths[i], value=patient.get(s.attr))  # type: ignore[arg-type]
            if s.kind == "ref":
                return Result(s.node, truths[i], ref=self.refs[s.ref].decision(patient, on))  # type: ignore[index]
            return Result(s.node, truths[i], tuple(result(k) for k in s.kids))

        rv = prog.rv
        criteria = (tuple(_flatten([result(i) for i in prog.scope_tops], scope=True))
                    + tuple(_flatten([result(i) for i in prog.crit_tops])))
        return Decision(policy=stamp(rv), outcome=Outcome(outcome), route=Route(route), criteria=criteria,
                        missing=missing, commissioning=rv.commissioning,
                        on=on.isoformat() if on else None, reason=reason,
                        referenced=tuple(stamp(r) for r in rv.refs.values()))


_CACHE: dict[str, CompiledPython] = {}


def compiled(rv: ResolvedVersion) -> CompiledPython:
    """The compiled evaluator of a version, built once per digest."""
    hit = _CACHE.get(rv.digest)
    if hit is None:
        hit = _CACHE[rv.digest] = CompiledPython(program(rv))
    return hit


def decide_compiled(rv: ResolvedVersion, patient: Mapping[str, Any], on: dt.date | None = None) -> Decision:
    """Drop-in for engine.language.decide.decide, through the compiled code."""
    return compiled(rv).decision(patient, on)
