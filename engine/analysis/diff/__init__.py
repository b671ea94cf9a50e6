"""The exact difference between two resolved versions: every region of patients whose outcome
changes, each described as a condition and shown by an example patient.

How it stays exact and fast: the outcome depends only on the Kleene AND of the scope criteria
and of the criteria (see decide.py). Top-level criteria are grouped into components that share
no attribute (following references to other policies), so each component can be enumerated on
its own over the partition of its attributes (partition.py, 'unknown' included), and the
components' results are folded together with Kleene AND. That covers the full product of cells
without visiting it. Components whose criteria are the same in both versions are summarised by
their status (all met / some unknown / some unmet). Every example is re-decided with the
reference `decide` before it is reported.
"""
from __future__ import annotations

import math
from typing import Any

from engine.analysis.diff.components import (
    Atom,
    Component,
    Quad,
    combo_rank,
    enumerate_component,
    logic_key,
    merge_paths,
    outcome_of,
    pair_rank,
    rank,
    rank2,
    truth_fn,
)
from engine.analysis.diff.result import DiffResult, OutcomeChange, Region
from engine.analysis.diff.wording import component_text, criteria_text, outcome_phrase, paren, rest_text
from engine.analysis.partition import partition
from engine.language.decide import decide
from engine.language.logic import Truth, k_and
from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import Compare
from engine.language.reads import attributes_read, compares_read
from engine.language.resolve import ResolvedVersion

__all__ = ["OutcomeChange", "DiffResult", "Region", "diff", "smt_diff"]

MAX_DESCRIPTION = 250          # longer conditions are stated per criterion instead (regions keep the detail)
MAX_COMPONENT_CELLS = 200_000   # above this a component is checked with z3 instead of enumerated


def diff(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary,
         check: bool = True, method: str = "auto") -> DiffResult:
    """Every change of outcome between two versions, with a condition and a checked example each.

    `method`: "partition" enumerates, "z3" asks the SMT solver, "auto" enumerates unless a group
    of criteria spans more than MAX_COMPONENT_CELLS cells.
    """
    if method == "z3":
        return smt_diff(rv_a, rv_b, attrs, check)
    refs = {**rv_b.refs, **rv_a.refs}
    truth = truth_fn()
    components: list[Component] = []
    total_cells, full_product = 0, 1
    all_attrs: list[str] = []
    for group in _groups(_atoms(rv_a, rv_b)):
        comp = _component(group, refs, attrs)
        size = math.prod(len(p.cells) for p in comp.parts)
        if size > MAX_COMPONENT_CELLS and method == "auto":
            return smt_diff(rv_a, rv_b, attrs, check,
                            f"criteria {', '.join(a.node.id or '?' for a in group)} span {size:,} cells")
        total_cells += enumerate_component(comp, truth)
        full_product *= size
        all_attrs += [p.name for p in comp.parts]
        components.append(comp)
    common = [c for c in components if not c.changed]
    changed = [c for c in components if c.changed]
    rest = _fold_unchanged(common)
    by_pair = _outcome_pairs(rv_a, rv_b, _fold_changed(rest, changed))
    common_crit = [a for c in common for a in c.atoms if not a.scope]
    common_scope = [a for c in common for a in c.atoms if a.scope]
    changes = [_change(rv_a, rv_b, attrs, oa, ob, coords_list, rest, changed, common_scope, common_crit,
                       all_attrs, check)
               for (oa, ob), coords_list in sorted(by_pair.items(), key=lambda kv: pair_rank(kv[0]))]
    method = (f"exhaustive partition over {len(all_attrs)} attributes, {total_cells:,} cells "
              f"({len(components)} independent groups enumerated separately; "
              f"{full_product:,} cells in the full product)")
    return DiffResult(rv_a.id, rv_a.label, rv_b.label, not changes, method, changes, all_attrs,
                      _route_notes(rv_a, rv_b))


def _atoms(rv_a: ResolvedVersion, rv_b: ResolvedVersion) -> list[Atom]:
    """The top-level criteria of both versions, one atom per distinct logic, marked by side."""
    atoms: dict[tuple[bool, str], Atom] = {}
    for rv, side in ((rv_a, "a"), (rv_b, "b")):
        for scope, nodes in ((True, rv.scope_criteria), (False, rv.criteria)):
            for n in nodes:
                key = logic_key(n, rv.refs)
                atom = atoms.setdefault((scope, key), Atom(n, scope, key, attrs=frozenset(attributes_read([n], rv.refs)),
                                                               refs=rv.refs))
                setattr(atom, f"in_{side}", True)
    return list(atoms.values())


def _groups(atom_list: list[Atom]) -> list[list[Atom]]:
    """Atoms joined by shared attributes: each group can be enumerated on its own."""
    comps: list[list[Atom]] = []
    for atom in atom_list:
        joined = [c for c in comps if any(a.attrs & atom.attrs for a in c)]
        merged = sorted([atom] + [a for c in joined for a in c], key=lambda a: atom_list.index(a))
        comps = [c for c in comps if c not in joined] + [merged]
    return comps


def _component(group: list[Atom], refs: dict[str, ResolvedVersion], attrs: AttributeDictionary) -> Component:
    names = sorted(set().union(*(a.attrs for a in group)))
    cmp_by_attr: dict[str, list[Compare]] = {n: [] for n in names}
    for c in compares_read([a.node for a in group], refs):
        cmp_by_attr.setdefault(c.attr, []).append(c)
    return Component(group, [partition(n, attrs[n], cmp_by_attr[n]) for n in names])


def _fold_unchanged(common: list[Component]) -> dict[tuple[Truth, Truth], dict[str, Any]]:
    """The unchanged components as one summary: (scope, criteria) status -> an example."""
    rest: dict[tuple[Truth, Truth], dict[str, Any]] = {(True, True): {}}
    for comp in common:
        nxt: dict[tuple[Truth, Truth], dict[str, Any]] = {}
        for (s, c), ex in rest.items():
            for quad, combos in sorted(comp.cells.items(), key=lambda kv: rank(kv[0])):
                key = (k_and([s, quad[0]]), k_and([c, quad[1]]))
                if key not in nxt:
                    nxt[key] = {**ex, **comp.patient(min(combos, key=lambda x: combo_rank(comp, x)))}
        rest = nxt
    return rest


def _fold_changed(rest: dict[tuple[Truth, Truth], dict[str, Any]],
                  changed: list[Component]) -> dict[Quad, list[list[frozenset]]]:
    """The changed components folded in one at a time, regions merged per combined status."""
    state: dict[Quad, list[list[frozenset]]] = {}
    for rkey in rest:
        state.setdefault((rkey[0], rkey[1], rkey[0], rkey[1]), []).append([frozenset([rkey])])
    for comp in changed:
        nxt_state: dict[Quad, list[list[frozenset]]] = {}
        for q, plist in state.items():
            for cq, combos in comp.cells.items():
                nq: Quad = tuple(k_and([x, y]) for x, y in zip(q, cq))  # type: ignore[assignment]
                nxt_state.setdefault(nq, []).extend(p + [frozenset(combos)] for p in plist)
        state = {q: merge_paths(pl) for q, pl in nxt_state.items()}
    return state


def _outcome_pairs(rv_a: ResolvedVersion, rv_b: ResolvedVersion,
                   state: dict[Quad, list[list[frozenset]]]) -> dict[tuple[str, str], list[list[frozenset]]]:
    by_pair: dict[tuple[str, str], list[list[frozenset]]] = {}
    for q, plist in state.items():
        oa = outcome_of(rv_a.commissioning, q[0], q[1])
        ob = outcome_of(rv_b.commissioning, q[2], q[3])
        if oa != ob:
            by_pair.setdefault((oa, ob), []).extend(plist)
    return by_pair


def _change(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary, oa: str, ob: str,
            coords_list: list[list[frozenset]], rest: dict[tuple[Truth, Truth], dict[str, Any]],
            changed: list[Component], common_scope: list[Atom], common_crit: list[Atom],
            all_attrs: list[str], check: bool) -> OutcomeChange:
    """One change of outcome: its regions in words, each with a (re-decided) example patient."""
    regions = []
    for coords in merge_paths(coords_list):
        rkeys = coords[0]
        texts = []
        st = rest_text(rkeys, common_scope, common_crit)
        if st:
            texts.append(st)
        example: dict[str, Any] = dict(rest[min(rkeys, key=rank2)])
        for comp, cells in zip(changed, coords[1:]):
            t = component_text(comp, set(cells), rv_a.label, rv_b.label)
            if t:
                texts.append(paren(t))
            example.update(comp.patient(min(cells, key=lambda c: combo_rank(comp, c))))
        if check:
            _verify(rv_a, rv_b, attrs, example, oa, ob)
        regions.append(Region(" AND ".join(texts) or "every patient", _ordered(example, all_attrs)))
    desc = regions[0].description if len(regions) == 1 else " OR ".join(f"({r.description})" for r in regions)
    if len(desc) > MAX_DESCRIPTION or desc.count("under ") > 1:
        desc = criteria_text(rv_a, rv_b, oa, ob, coords_list, changed, common_crit)
    return OutcomeChange(oa, ob, desc, regions[0].example, regions)


def _route_notes(rv_a: ResolvedVersion, rv_b: ResolvedVersion) -> list[str]:
    if rv_a.route_when_eligible == rv_b.route_when_eligible:
        return []
    return [f"eligible patients' route changes from {rv_a.route_when_eligible} to {rv_b.route_when_eligible}"]


def smt_diff(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary, check: bool = True,
             why: str | None = None) -> DiffResult:
    """The diff by SMT: one change per pair of outcomes z3 finds a patient for; none is a proof."""
    from engine.analysis.diff.smt import smt_changes

    names: list[str] = []
    for rv in (rv_a, rv_b):
        for top in (*rv.scope_criteria, *rv.criteria):
            names += [a for a in sorted(attributes_read([top], rv.refs)) if a not in names]
    changes = []
    for oa, ob, example in sorted(smt_changes(rv_a, rv_b, attrs), key=lambda t: pair_rank(t[:2])):
        if check:
            _verify(rv_a, rv_b, attrs, example, oa, ob)
        desc = f"{outcome_phrase(rv_a, oa)}; {outcome_phrase(rv_b, ob)}"
        ex = _ordered(example, names)
        changes.append(OutcomeChange(oa, ob, desc, ex, [Region(desc, ex)]))
    method = f"z3 SMT check over {len(names)} attributes" + (f" ({why}: too many to enumerate)" if why else "")
    return DiffResult(rv_a.id, rv_a.label, rv_b.label, not changes, method, changes, names, _route_notes(rv_a, rv_b))


def _ordered(example: dict[str, Any], order: list[str]) -> dict[str, Any]:
    return {k: example[k] for k in sorted(example, key=lambda k: order.index(k) if k in order else len(order))}


def _verify(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary,
            example: dict[str, Any], oa: str, ob: str) -> None:
    """An example must really get the two outcomes it is shown for."""
    from engine.language.patient import validate_patient

    facts = validate_patient(example, attrs)
    got = (decide(rv_a, facts).outcome, decide(rv_b, facts).outcome)
    if got != (oa, ob):
        raise AssertionError(f"diff example {example} gives {got}, not {(oa, ob)}")

