"""The diff's words: a region of patients as a condition on attribute values, or in terms of each
version's criteria where values would not read well."""
from __future__ import annotations

import math

from engine.analysis.diff.components import Atom, Component, rank2
from engine.analysis.partition import AttrPartition
from engine.language.logic import Truth
from engine.language.model.criteria import AllOf, AnyOf, Compare, Node, PolicyRef, _fmt
from engine.language.resolve import ResolvedVersion


def describe_cells(cells: set[tuple[int, ...]], parts: list[AttrPartition]) -> str | None:
    """A readable condition for a set of cells of a product of partitions (None: no condition).

    Attributes the region does not depend on are dropped; attributes constant over the region
    become a conjunction; the rest is split on one attribute and described piece by piece.
    """
    idx = list(range(len(parts)))
    cells = set(cells)
    # drop attributes the region is cylindrical in
    changed = True
    while changed:
        changed = False
        for j in list(idx):
            pos = idx.index(j)
            proj = {c[:pos] + c[pos + 1:] for c in cells}
            if len(proj) * len(parts[j].cells) == len(cells):
                cells, idx = proj, idx[:pos] + idx[pos + 1:]
                changed = True
                break
    if not idx:
        return None
    sub = [parts[j] for j in idx]
    values = [sorted({c[k] for c in cells}) for k in range(len(idx))]
    if len(cells) == math.prod(len(v) for v in values):  # a plain product: one condition per attribute
        texts = [p.describe(v) for p, v in zip(sub, values)]
        return " AND ".join(paren(t) for t in texts if t) or None
    const = [k for k, v in enumerate(values) if len(v) == 1]
    if const:
        head = [paren(sub[k].describe(values[k]) or "") for k in const]
        rest_idx = [k for k in range(len(idx)) if k not in const]
        rest = {tuple(c[k] for k in rest_idx) for c in cells}
        tail = describe_cells(rest, [sub[k] for k in rest_idx])
        return " AND ".join(head + ([paren(tail)] if tail else []))
    # split on the attribute with the fewest distinct values; merge values with the same remainder
    k = min(range(len(idx)), key=lambda i: len(values[i]))
    groups: dict[frozenset, list[int]] = {}
    for v in values[k]:
        remainder = frozenset(c[:k] + c[k + 1:] for c in cells if c[k] == v)
        groups.setdefault(remainder, []).append(v)
    others = sub[:k] + sub[k + 1:]
    alts = []
    for remainder, vs in groups.items():
        first = sub[k].describe(vs)
        tail = describe_cells(set(remainder), others)
        alts.append(" AND ".join(paren(t) for t in (first, tail) if t))
    return " OR ".join(f"({a})" if " AND " in a and len(alts) > 1 else a for a in alts)


def paren(text: str) -> str:
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        return text
    return f"({text})" if " OR " in text or " or " in text else text


def atom_phrase(atoms: list[Atom], statuses: set[Truth]) -> str | None:
    """The joint status of unchanged criteria in words."""
    if statuses == {True, None, False} or not atoms:
        return None
    names = ", ".join(a.node.id or "?" for a in atoms)
    one = len(atoms) == 1
    if statuses == {True}:
        return f"criterion {names} met" if one else f"criteria {names} all met"
    if statuses == {False}:
        return f"criterion {names} unmet" if one else f"at least one of criteria {names} unmet"
    if statuses == {None}:
        return f"criterion {names} unknown" if one else \
            f"none of criteria {names} unmet and at least one unknown"
    if statuses == {True, None}:
        return f"criterion {names} not unmet" if one else f"none of criteria {names} unmet"
    if statuses == {None, False}:
        return f"criterion {names} not met" if one else f"not all of criteria {names} met"
    return f"criterion {names} known" if one else f"criteria {names} each met or unmet (none unknown)"


def criteria_text(rv_a: ResolvedVersion, rv_b: ResolvedVersion, oa: str, ob: str,
                   coords_list: list[list[frozenset]], changed: list[Component], common_crit: list[Atom]) -> str:
    """A change in terms of each version's criteria, for regions too intricate to spell out by value.

    Exact by construction: the outcome under each version is fixed by its criteria's joint status.
    """
    seen: dict[int, set[Truth]] = {}
    for coords in coords_list:
        for comp, cells in zip(changed, coords[1:]):
            for combo in cells:
                for a, t in zip(comp.atoms, comp.truths[combo]):
                    seen.setdefault(id(a), set()).add(t)
        for _, c in coords[0]:
            for a in common_crit:
                possible: set[Truth] = {True} if c is True else {True, None} if c is None else {True, None, False}
                seen.setdefault(id(a), set()).update(possible)
    every = [a for comp in changed for a in comp.atoms] + common_crit

    def side(rv: ResolvedVersion, outcome: str, flag: str) -> str:
        atoms = [a for a in every if getattr(a, flag) and not a.scope]
        head = f"under {rv.label}"
        if rv.commissioning == "not_routinely_commissioned":
            return f"{head}: not routinely commissioned (IFR only)"
        def ids(st: Truth) -> str:
            names = [a.node.id or "?" for a in atoms if st in seen.get(id(a), ())]
            return f"criterion {names[0]}" if len(names) == 1 else f"at least one of criteria {', '.join(names)}"
        if outcome == "eligible":
            rules = met_text(atoms) or ""
            shown = rules and not rules.startswith("criteri") and len(rules) < 120
            return f"{head}: every criterion met" + (f" ({rules})" if shown else "")
        if outcome == "not_eligible":
            return f"{head}: {ids(False)} unmet"
        if outcome == "insufficient_information":
            return f"{head}: no criterion unmet, {ids(None)} unknown"
        return f"{head}: out of scope"

    return f"{side(rv_a, oa, 'in_a')}; {side(rv_b, ob, 'in_b')}"


def component_text(comp: Component, cells: set[tuple[int, ...]], la: str, lb: str) -> str | None:
    """The region within one changed component: by attribute values when that reads short,
    otherwise by the status of each version's criteria (e.g. 'under 2018-01-11: criteria A, B, C all met')."""
    by_attr = describe_cells(cells, comp.parts)
    if by_attr is None or len(by_attr) <= 100 or any(a.scope for a in comp.atoms):
        return by_attr
    sa = {comp.quad_of[c][1] for c in cells}
    sb = {comp.quad_of[c][3] for c in cells}
    if cells != {c for c, q in comp.quad_of.items() if q[1] in sa and q[3] in sb}:
        return by_attr
    side_a = [a for a in comp.atoms if a.in_a]
    side_b = [a for a in comp.atoms if a.in_b]
    texts = []
    for label, atoms, st, pos in ((la, side_a, sa, 1), (lb, side_b, sb, 3)):
        possible = {q[pos] for q in comp.quad_of.values()}
        if not atoms or st == possible:
            continue
        phrase = met_text(atoms) if st == {True} else atom_phrase(atoms, st)
        texts.append(f"under {label}: {phrase}")
    status = " AND ".join(texts)
    return status if status and len(status) < len(by_attr) else by_attr


def outcome_phrase(rv: ResolvedVersion, outcome: str) -> str:
    head = f"under {rv.label}"
    if outcome == "out_of_scope":
        return f"{head}: out of scope"
    if rv.commissioning == "not_routinely_commissioned":
        return f"{head}: not routinely commissioned (IFR only)"
    return head + ": " + {"eligible": "every criterion met", "not_eligible": "at least one criterion unmet",
                          "insufficient_information": "no criterion unmet, at least one unknown"}[outcome]


def rest_text(rkeys: frozenset, scope_atoms: list[Atom], crit_atoms: list[Atom]) -> str | None:
    scopes = {s for s, _ in rkeys}
    crits = {c for _, c in rkeys}
    if len(rkeys) != len(scopes) * len(crits):  # not a product: spell out each combination
        alts = []
        for s, c in sorted(rkeys, key=rank2):
            both = [t for t in (atom_phrase(scope_atoms, {s}), atom_phrase(crit_atoms, {c})) if t]
            alts.append(f"({' AND '.join(both)})")
        return " OR ".join(alts)
    parts = [atom_phrase(scope_atoms, scopes) if scope_atoms else None,
             met_text(crit_atoms) if crits == {True} else atom_phrase(crit_atoms, crits)]
    return " AND ".join(p for p in parts if p) or None


def met_text(atoms: list[Atom]) -> str | None:
    """All unchanged criteria met, in the rules' own terms where they are short."""
    if not atoms:
        return None
    texts = [short_rule(a.node, named=False) for a in atoms]
    if len(atoms) <= 4 and all(texts):
        return " AND ".join(paren(t) for t in texts)  # type: ignore[arg-type]
    return atom_phrase(atoms, {True})


def short_rule(n: Node, named: bool = True) -> str | None:
    """A one-line rule for a simple criterion ('implant_original_funding = nhs'), else None."""
    if isinstance(n, Compare):
        if n.op == "between":
            lo, hi = _fmt(n.min), _fmt(n.max)
            left = "≤" if n.inclusive in ("both", "min") else "<"
            right = "≤" if n.inclusive in ("both", "max") else "<"
            return f"{lo} {left} {n.attr} {right} {hi}"
        if n.op == "in":
            return f"{n.attr} in {{{', '.join(_fmt(v) for v in n.value)}}}"  # type: ignore[union-attr]
        op = {"<=": "≤", ">=": "≥", "!=": "≠"}.get(n.op, n.op)
        return f"{n.attr} {op} {_fmt(n.value)}"
    if isinstance(n, PolicyRef):
        return f"eligible under {n.policy}" + (f" {n.version}" if n.version else "")
    if isinstance(n, (AllOf, AnyOf)):
        kids = [short_rule(c) for c in n.children()]
        if all(kids) and len(kids) <= 3 and all(isinstance(c, Compare) for c in n.children()):
            joiner = " AND " if isinstance(n, AllOf) else " OR "
            return joiner.join(kids)  # type: ignore[arg-type]
    if n.id and named:
        return f"criterion {n.id} met"
    return None
