"""Hypothesis strategies for patients that hit every threshold a policy uses (shared by the
compiled-evaluator, columnar and Spark differential tests)."""
from __future__ import annotations

from hypothesis import strategies as st

from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.model.criteria import Compare, walk
from engine.language.resolve import ResolvedVersion

ABSENT = object()


def thresholds(rvs: list[ResolvedVersion]) -> dict[str, set]:
    """Every constant each attribute is compared with, over the given versions and their references."""
    out: dict[str, set] = {}
    seen: set[str] = set()

    def visit(rv: ResolvedVersion) -> None:
        if rv.digest in seen:
            return
        seen.add(rv.digest)
        for top in (*rv.scope_criteria, *rv.criteria):
            for n in walk(top):
                if isinstance(n, Compare):
                    vals = out.setdefault(n.attr, set())
                    if n.op == "between":
                        vals |= {n.min, n.max}
                    elif isinstance(n.value, tuple):
                        vals |= set(n.value)
                    else:
                        vals.add(n.value)
        for r in rv.refs.values():
            visit(r)

    for rv in rvs:
        visit(rv)
    return out


def value_strategy(a: Attribute, cuts: set) -> st.SearchStrategy:
    """Known values of one attribute: at and either side of each threshold, and anywhere in range."""
    if a.type == "boolean":
        return st.booleans()
    if a.type == "enum":
        return st.sampled_from(list(a.values or ()))
    if a.type == "string":
        return st.sampled_from(sorted({str(c) for c in cuts} | {"other"}))
    lo = a.min if a.min is not None else -1e6
    hi = a.max if a.max is not None else 1e6
    near = set()
    for c in cuts:
        if isinstance(c, bool) or not isinstance(c, (int, float)):
            continue
        for d in ((-1, 0, 1) if a.type == "integer" else (-1, -0.5, -0.01, 0, 0.01, 0.5, 1)):
            x = c + d
            if lo <= x <= hi:
                near.add(int(x) if a.type == "integer" and float(x).is_integer() else x)
    near |= {int(lo) if a.type == "integer" else lo, int(hi) if a.type == "integer" else hi}
    if a.type == "integer":
        near = {x for x in near if float(x).is_integer()}
        anywhere = st.integers(int(lo), int(hi))
    else:
        anywhere = st.floats(lo, hi, allow_nan=False)
    return st.one_of(st.sampled_from(sorted(near)), anywhere)


def patients(attrs: AttributeDictionary, names: list[str], cuts: dict[str, set],
             unknown_rate: bool = True) -> st.SearchStrategy[dict]:
    """A patient over `names`: each attribute absent or None (both unknown) or a value near a threshold."""
    fields = {}
    for n in names:
        known = value_strategy(attrs[n], cuts.get(n, set()))
        fields[n] = st.one_of(st.just(ABSENT), st.just(None), known) if unknown_rate else known
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not ABSENT})
