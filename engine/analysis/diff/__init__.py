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

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from engine.language.decide import BRANCHES, branch, decide
from engine.language.evaluate import evaluate
from engine.language.logic import Truth, k_and
from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef, _fmt, walk
from engine.analysis.partition import AttrPartition, partition
from engine.language.resolve import ResolvedVersion

MAX_DESCRIPTION = 250          # longer conditions are stated per criterion instead (regions keep the detail)
MAX_COMPONENT_CELLS = 200_000   # above this a component is checked with z3 instead of enumerated
ORDER = {True: 0, None: 1, False: 2}


@dataclass
class Region:
    description: str
    example: dict[str, Any]


@dataclass
class Change:
    from_outcome: str
    to_outcome: str
    description: str
    example: dict[str, Any]
    regions: list[Region] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"from_outcome": self.from_outcome, "to_outcome": self.to_outcome, "example": self.example,
                "description": self.description,
                "regions": [{"description": r.description, "example": r.example} for r in self.regions]}


@dataclass
class DiffResult:
    policy: str
    from_label: str
    to_label: str
    equivalent: bool
    method: str
    changes: list[Change]
    attributes: list[str]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "from": self.from_label, "to": self.to_label,
                "equivalent": self.equivalent, "method": self.method,
                "changes": [c.to_json() for c in self.changes],
                "attributes": self.attributes, "notes": self.notes}


# -- atoms: top-level criteria, compared by their logic only ------------------------------------

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


def attributes_of(node: Node, refs: dict[str, ResolvedVersion]) -> set[str]:
    """Every attribute a node depends on, through referenced policies too."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, Compare):
            out.add(n.attr)
        elif isinstance(n, PolicyRef):
            ref = refs[n.policy]
            for top in (*ref.scope_criteria, *ref.criteria):
                out |= attributes_of(top, ref.refs)
    return out


def compares_of(nodes: Iterable[Node], refs: dict[str, ResolvedVersion]) -> list[Compare]:
    out: list[Compare] = []
    for top in nodes:
        for n in walk(top):
            if isinstance(n, Compare):
                out.append(n)
            elif isinstance(n, PolicyRef):
                ref = refs[n.policy]
                out += compares_of((*ref.scope_criteria, *ref.criteria), ref.refs)
    return out


def outcome_of(commissioning: str, in_scope: Truth, met: Truth) -> str:
    """The outcome from the two Kleene conjunctions, by decide.py's own rules."""
    return BRANCHES[branch(commissioning, in_scope, met)][0]


# -- components ---------------------------------------------------------------------------------

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


def _truth_fn() -> Callable[[Atom, dict], Truth]:
    """An atom's truth for a patient, by the reference evaluator (memoised on the facts it reads)."""
    memo: dict[tuple, Truth] = {}

    def truth(atom: Atom, patient: dict) -> Truth:
        k = (atom.key, tuple(sorted((a, patient[a]) for a in atom.attrs if a in patient)))
        if k not in memo:
            memo[k] = evaluate(atom.node, patient, lambda r: decide(atom.refs[r.policy], patient)).truth
        return memo[k]
    return truth


def _enumerate(comp: Component, truth: Callable[[Atom, dict], Truth]) -> int:
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


# -- describing regions -------------------------------------------------------------------------

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
        return " AND ".join(_paren(t) for t in texts if t) or None
    const = [k for k, v in enumerate(values) if len(v) == 1]
    if const:
        head = [_paren(sub[k].describe(values[k]) or "") for k in const]
        rest_idx = [k for k in range(len(idx)) if k not in const]
        rest = {tuple(c[k] for k in rest_idx) for c in cells}
        tail = describe_cells(rest, [sub[k] for k in rest_idx])
        return " AND ".join(head + ([_paren(tail)] if tail else []))
    # split on the attribute with the fewest distinct values; merge values with the same remainder
    k = min(range(len(idx)), key=lambda i: len(values[i]))
    groups: dict[frozenset, list[int]] = {}
    for v in values[k]:
        rest = frozenset(c[:k] + c[k + 1:] for c in cells if c[k] == v)
        groups.setdefault(rest, []).append(v)
    others = sub[:k] + sub[k + 1:]
    alts = []
    for rest, vs in groups.items():
        head = sub[k].describe(vs)
        tail = describe_cells(set(rest), others)
        alts.append(" AND ".join(_paren(t) for t in (head, tail) if t))
    return " OR ".join(f"({a})" if " AND " in a and len(alts) > 1 else a for a in alts)


def _paren(text: str) -> str:
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


# -- the diff -----------------------------------------------------------------------------------

def diff(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary,
         check: bool = True, method: str = "auto") -> DiffResult:
    """Every change of outcome between two versions, with a condition and a checked example each.

    `method`: "partition" enumerates, "z3" asks the SMT solver, "auto" enumerates unless a group
    of criteria spans more than MAX_COMPONENT_CELLS cells.
    """
    if method == "z3":
        return smt_diff(rv_a, rv_b, attrs, check)
    atoms: dict[tuple[bool, str], Atom] = {}
    for rv, side in ((rv_a, "a"), (rv_b, "b")):
        for scope, nodes in ((True, rv.scope_criteria), (False, rv.criteria)):
            for n in nodes:
                key = logic_key(n, rv.refs)
                atom = atoms.setdefault((scope, key), Atom(n, scope, key, attrs=frozenset(attributes_of(n, rv.refs)),
                                                               refs=rv.refs))
                setattr(atom, f"in_{side}", True)
    atom_list = list(atoms.values())
    # components: atoms joined by shared attributes
    comps: list[list[Atom]] = []
    for atom in atom_list:
        joined = [c for c in comps if any(a.attrs & atom.attrs for a in c)]
        merged = sorted([atom] + [a for c in joined for a in c], key=lambda a: atom_list.index(a))
        comps = [c for c in comps if c not in joined] + [merged]
    refs = {**rv_b.refs, **rv_a.refs}
    truth = _truth_fn()
    components: list[Component] = []
    total_cells = 0
    full_product = 1
    all_attrs: list[str] = []
    for group in comps:
        names = sorted(set().union(*(a.attrs for a in group)))
        nodes = [a.node for a in group]
        cmp_by_attr: dict[str, list[Compare]] = {n: [] for n in names}
        for c in compares_of(nodes, refs):
            cmp_by_attr.setdefault(c.attr, []).append(c)
        parts = [partition(n, attrs[n], cmp_by_attr[n]) for n in names]
        size = math.prod(len(p.cells) for p in parts)
        if size > MAX_COMPONENT_CELLS and method == "auto":
            return smt_diff(rv_a, rv_b, attrs, check,
                            f"criteria {', '.join(a.node.id or '?' for a in group)} span {size:,} cells")
        comp = Component(group, parts)
        total_cells += _enumerate(comp, truth)
        full_product *= size
        all_attrs += names
        components.append(comp)

    common = [c for c in components if not c.changed]
    changed = [c for c in components if c.changed]
    # fold the unchanged components into one summary: (scope, criteria) status -> an example
    rest: dict[tuple[Truth, Truth], dict[str, Any]] = {(True, True): {}}
    for comp in common:
        nxt: dict[tuple[Truth, Truth], dict[str, Any]] = {}
        for (s, c), ex in rest.items():
            for quad, combos in sorted(comp.cells.items(), key=lambda kv: _rank(kv[0])):
                key = (k_and([s, quad[0]]), k_and([c, quad[1]]))
                if key not in nxt:
                    nxt[key] = {**ex, **comp.patient(min(combos, key=lambda x: _combo_rank(comp, x)))}
        rest = nxt
    # fold the changed components in, one at a time, keeping regions merged per combined status
    state: dict[Quad, list[list[frozenset]]] = {}
    for rkey in rest:
        state.setdefault((rkey[0], rkey[1], rkey[0], rkey[1]), []).append([frozenset([rkey])])
    for comp in changed:
        nxt_state: dict[Quad, list[list[frozenset]]] = {}
        for q, plist in state.items():
            for cq, combos in comp.cells.items():
                nq: Quad = tuple(k_and([x, y]) for x, y in zip(q, cq))  # type: ignore[assignment]
                nxt_state.setdefault(nq, []).extend(p + [frozenset(combos)] for p in plist)
        state = {q: _merge_paths(pl) for q, pl in nxt_state.items()}
    by_pair: dict[tuple[str, str], list[list[frozenset]]] = {}
    for q, plist in state.items():
        oa = outcome_of(rv_a.commissioning, q[0], q[1])
        ob = outcome_of(rv_b.commissioning, q[2], q[3])
        if oa != ob:
            by_pair.setdefault((oa, ob), []).extend(plist)

    common_crit = [a for c in common for a in c.atoms if not a.scope]
    common_scope = [a for c in common for a in c.atoms if a.scope]
    changes: list[Change] = []
    for (oa, ob), coords_list in sorted(by_pair.items(), key=lambda kv: _pair_rank(kv[0])):
        regions = []
        for coords in _merge_paths(coords_list):
            rkeys = coords[0]
            texts = []
            st = _rest_text(rkeys, common_scope, common_crit)
            if st:
                texts.append(st)
            example: dict[str, Any] = dict(rest[min(rkeys, key=_rank2)])
            for comp, cells in zip(changed, coords[1:]):
                t = _component_text(comp, set(cells), rv_a.label, rv_b.label)
                if t:
                    texts.append(_paren(t))
                example.update(comp.patient(min(cells, key=lambda c: _combo_rank(comp, c))))
            if check:
                _verify(rv_a, rv_b, attrs, example, oa, ob)
            regions.append(Region(" AND ".join(texts) or "every patient", _ordered(example, all_attrs)))
        desc = regions[0].description if len(regions) == 1 else " OR ".join(f"({r.description})" for r in regions)
        if len(desc) > MAX_DESCRIPTION or desc.count("under ") > 1:
            desc = _criteria_text(rv_a, rv_b, oa, ob, coords_list, changed, common_crit)
        changes.append(Change(oa, ob, desc, regions[0].example, regions))

    method = (f"exhaustive partition over {len(all_attrs)} attributes, {total_cells:,} cells "
              f"({len(components)} independent groups enumerated separately; "
              f"{full_product:,} cells in the full product)")
    notes = []
    if rv_a.route_when_eligible != rv_b.route_when_eligible:
        notes.append(f"eligible patients' route changes from {rv_a.route_when_eligible} to "
                     f"{rv_b.route_when_eligible}")
    return DiffResult(rv_a.id, rv_a.label, rv_b.label, not changes, method, changes, all_attrs, notes)


def _criteria_text(rv_a: ResolvedVersion, rv_b: ResolvedVersion, oa: str, ob: str,
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
                seen.setdefault(id(a), set()).update({True: {True}, None: {True, None}}.get(c, {True, None, False}))
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
            rules = _met_text(atoms) or ""
            shown = rules and not rules.startswith("criteri") and len(rules) < 120
            return f"{head}: every criterion met" + (f" ({rules})" if shown else "")
        if outcome == "not_eligible":
            return f"{head}: {ids(False)} unmet"
        if outcome == "insufficient_information":
            return f"{head}: no criterion unmet, {ids(None)} unknown"
        return f"{head}: out of scope"

    return f"{side(rv_a, oa, 'in_a')}; {side(rv_b, ob, 'in_b')}"


def _component_text(comp: Component, cells: set[tuple[int, ...]], la: str, lb: str) -> str | None:
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
        phrase = _met_text(atoms) if st == {True} else atom_phrase(atoms, st)
        texts.append(f"under {label}: {phrase}")
    status = " AND ".join(texts)
    return status if status and len(status) < len(by_attr) else by_attr


def smt_diff(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary, check: bool = True,
             why: str | None = None) -> DiffResult:
    """The diff by SMT: one change per pair of outcomes z3 finds a patient for; none is a proof."""
    from engine.analysis.diff.smt import smt_changes

    names: list[str] = []
    for rv in (rv_a, rv_b):
        for top in (*rv.scope_criteria, *rv.criteria):
            names += [a for a in sorted(attributes_of(top, rv.refs)) if a not in names]
    changes = []
    for oa, ob, example in sorted(smt_changes(rv_a, rv_b, attrs), key=lambda t: _pair_rank(t[:2])):
        if check:
            _verify(rv_a, rv_b, attrs, example, oa, ob)
        desc = f"{_outcome_phrase(rv_a, oa)}; {_outcome_phrase(rv_b, ob)}"
        ex = _ordered(example, names)
        changes.append(Change(oa, ob, desc, ex, [Region(desc, ex)]))
    method = f"z3 SMT check over {len(names)} attributes" + (f" ({why}: too many to enumerate)" if why else "")
    notes = []
    if rv_a.route_when_eligible != rv_b.route_when_eligible:
        notes.append(f"eligible patients' route changes from {rv_a.route_when_eligible} to "
                     f"{rv_b.route_when_eligible}")
    return DiffResult(rv_a.id, rv_a.label, rv_b.label, not changes, method, changes, names, notes)


def _outcome_phrase(rv: ResolvedVersion, outcome: str) -> str:
    head = f"under {rv.label}"
    if outcome == "out_of_scope":
        return f"{head}: out of scope"
    if rv.commissioning == "not_routinely_commissioned":
        return f"{head}: not routinely commissioned (IFR only)"
    return head + ": " + {"eligible": "every criterion met", "not_eligible": "at least one criterion unmet",
                          "insufficient_information": "no criterion unmet, at least one unknown"}[outcome]


def _rank(quad: tuple) -> tuple:
    return tuple(ORDER[x] for x in quad)


def _rank2(key: tuple) -> tuple:
    return tuple(ORDER[x] for x in key)


def _combo_rank(comp: Component, combo: tuple[int, ...]) -> tuple:
    """Prefer short examples: as few known facts as the region allows."""
    return (-sum(comp.parts[k].cells[i].unknown for k, i in enumerate(combo)), combo)


def _pair_rank(pair: tuple[str, str]) -> tuple:
    order = {"eligible": 0, "not_eligible": 1, "insufficient_information": 2, "out_of_scope": 3}
    return (order[pair[0]], order[pair[1]])


def _merge_paths(paths: list[list[frozenset]]) -> list[list[frozenset]]:
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


def _rest_text(rkeys: frozenset, scope_atoms: list[Atom], crit_atoms: list[Atom]) -> str | None:
    scopes = {s for s, _ in rkeys}
    crits = {c for _, c in rkeys}
    if len(rkeys) != len(scopes) * len(crits):  # not a product: spell out each combination
        alts = []
        for s, c in sorted(rkeys, key=_rank2):
            both = [t for t in (atom_phrase(scope_atoms, {s}), atom_phrase(crit_atoms, {c})) if t]
            alts.append(f"({' AND '.join(both)})")
        return " OR ".join(alts)
    parts = [atom_phrase(scope_atoms, scopes) if scope_atoms else None,
             _met_text(crit_atoms) if crits == {True} else atom_phrase(crit_atoms, crits)]
    return " AND ".join(p for p in parts if p) or None


def _met_text(atoms: list[Atom]) -> str | None:
    """All unchanged criteria met, in the rules' own terms where they are short."""
    if not atoms:
        return None
    texts = [short_rule(a.node, named=False) for a in atoms]
    if len(atoms) <= 4 and all(texts):
        return " AND ".join(_paren(t) for t in texts)  # type: ignore[arg-type]
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

