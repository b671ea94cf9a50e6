"""Lint: findings about policy files that load but may not say what their authors meant.

Each check is a small function returning findings (engine.errors.Problem; the level is the
code's, from the registry engine.problems.LINT); `lint` runs them all. Errors (exit 2) are
things no correct policy does: a criterion no patient can meet, an attribute missing from the
dictionary, a threshold outside the attribute's range, ratified versions in force at once, a
criterion without provenance, a partly encoded version without a remainder criterion, a
superseded version without an end date (engine.analysis.encoding). Warnings are worth a look: a
criterion that can never change any outcome, one that is met whenever it is known.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.analysis import encoding
from engine.errors import InputError, Location, Problem
from engine.language.evaluate import evaluate
from engine.language.model.criteria import Compare, Node, walk
from engine.language.model.policy import Policy
from engine.language.resolve import ResolvedVersion
from engine.language.versions import ends

MAX_CELLS = 50_000


@dataclass
class Ctx:
    """One policy as lint sees it: the model (every node with its span) and its file."""

    suite: Any
    policy: Policy
    file: str

    def at(self, node: Any = None, key: str | None = None) -> Location:
        """Where a node (or one of its keys) was written: file:line:column from its span."""
        span = getattr(node, "span", None)
        return span.at(*(key,) if key else ()) if span is not None else Location(self.file)


def written_nodes(policy: Policy) -> Iterable[tuple[str, Node]]:
    """(version label, top-level node) for every criterion as written, including those in changes."""
    for v in policy.versions:
        for n in (*(v.scope_criteria or ()), *(v.criteria or ())):
            yield v.version, n
        for ch in v.changes:
            if ch.replace is not None:
                yield v.version, ch.replace.with_
            if ch.add is not None:
                yield v.version, ch.add.criterion


# -- checks on the file as written ---------------------------------------------------------------

def unknown_attributes(ctx: Ctx) -> list[Problem]:
    attrs = ctx.suite.attributes
    out = []
    for label, top in written_nodes(ctx.policy):
        for n in walk(top):
            if isinstance(n, Compare) and n.attr not in attrs:
                from engine.errors import did_you_mean

                hint = did_you_mean(n.attr, attrs.names())
                out.append(Problem("unknown-attribute",
                                   f"{ctx.policy.id} {label}: attribute {n.attr!r} is not in the dictionary"
                                   + (f" ({hint})" if hint else ""), ctx.at(n, "attr")))
    return out


def missing_provenance(ctx: Ctx) -> list[Problem]:
    out = []
    for label, top in written_nodes(ctx.policy):
        def visit(n: Node, prov: str | None, cit: str | None, label: str = label) -> None:
            prov, cit = n.provenance or prov, n.citation or cit
            if n.id is not None and (prov is None or cit is None):
                missing = " and ".join(x for x, v in (("provenance", prov), ("citation", cit)) if v is None)
                out.append(Problem("missing-provenance",
                                   f"{ctx.policy.id} {label}: criterion {n.id!r} has no {missing}", ctx.at(n)))
            for c in n.children():
                visit(c, prov, cit)
        visit(top, None, None)
    return out


def provenance_without_source(ctx: Ctx) -> list[Problem]:
    """A criterion says its wording is 'seed' (say) but the policy lists no source of that kind."""
    kinds = {s.kind for s in ctx.policy.sources}
    out = []
    for label, top in written_nodes(ctx.policy):
        for n in walk(top):
            if n.provenance and n.provenance not in kinds:
                out.append(Problem("provenance-without-source",
                                   f"{ctx.policy.id} {label}: criterion {n.id or '(unnamed)'} is {n.provenance!r} "
                                   f"but the policy lists no {n.provenance} source", ctx.at(n)))
    return out


def thresholds_out_of_range(ctx: Ctx) -> list[Problem]:
    attrs = ctx.suite.attributes
    out = []
    for label, top in written_nodes(ctx.policy):
        for n in walk(top):
            if not isinstance(n, Compare) or n.attr not in attrs:
                continue
            a = attrs[n.attr]
            if a.type not in ("integer", "number"):
                continue
            values = [n.min, n.max] if n.op == "between" else \
                list(n.value) if isinstance(n.value, tuple) else [n.value]
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if (a.min is not None and v < a.min) or (a.max is not None and v > a.max):
                    out.append(Problem("threshold-out-of-range",
                                       f"{ctx.policy.id} {label}: {n.attr} {n.threshold_text()}: "
                                       f"{v:g} is outside the attribute's range ({a.range_text()})",
                                       ctx.at(n, "value" if n.op != "between" else "min")))
    return out


def overlapping_versions(ctx: Ctx) -> list[Problem]:
    """Two ratified versions in force on the same day: the referral date could not choose."""
    p = ctx.policy
    ratified = sorted((v for v in p.versions if v.status == "ratified" and v.effective_from),
                      key=lambda v: v.effective_from)  # type: ignore[arg-type,return-value]
    out = []
    for v, w in itertools.combinations(ratified, 2):
        end = ends(p, v)
        if end is None or end >= w.effective_from:  # type: ignore[operator]
            if v.effective_to is None:
                continue  # open-ended: the later version takes over (versions.ends)
            out.append(Problem("overlapping-versions",
                               f"{p.id}: ratified versions {v.version} (to {v.effective_to}) and {w.version} "
                               f"(from {w.effective_from}) are both in force on {w.effective_from}",
                               ctx.at(w)))
    return out


# -- checks on the resolved rules ------------------------------------------------------------

def _truths(nodes: list[Node], rv: ResolvedVersion, attrs: Any) -> list[tuple[Any, ...]] | None:
    """Each node's truth over every cell of the partition of the attributes they read (None: too big)."""
    from engine.analysis.partition import partition
    from engine.language.decide import decide
    from engine.language.reads import attributes_read, compares_read

    names = sorted(attributes_read(nodes, rv.refs))
    by_attr: dict[str, list[Compare]] = {a: [] for a in names}
    for c in compares_read(nodes, rv.refs):
        by_attr.setdefault(c.attr, []).append(c)
    parts = [partition(a, attrs[a], by_attr[a]) for a in names if a in attrs]
    if len(parts) != len(names) or math.prod(len(p.cells) for p in parts) > MAX_CELLS:
        return None
    out = []
    for combo in itertools.product(*[p.cells for p in parts]):
        patient = {p.name: c.value for p, c in zip(parts, combo) if c.value is not None}
        def ref(r: Any, patient: dict[str, Any] = patient) -> Any:
            return decide(rv.refs[r.policy], patient)

        out.append(tuple(evaluate(n, patient, ref).truth for n in nodes))
    return out


def never_met(ctx: Ctx, rv: ResolvedVersion) -> list[Problem]:
    """Criteria (and parts of criteria) no patient can meet, and ones met whenever known."""
    out: list[Problem] = []

    def visit(n: Node) -> bool:
        """True when a finding was made at or below n."""
        below = any([visit(c) for c in n.children()])
        if below or isinstance(n, Compare):
            return below
        truths = _truths([n], rv, ctx.suite.attributes)
        if truths is None:
            return False
        seen = {t[0] for t in truths}
        name = f"criterion {n.id!r}" if n.id else "a part of a criterion"
        if True not in seen:
            out.append(Problem("unsatisfiable",
                               f"{rv.id} {rv.label}: {name} can never be met: no combination of "
                               f"{', '.join(sorted(_names(n, rv)))} satisfies it", ctx.at(n)))
            return True
        if False not in seen and n.id:
            out.append(Problem("always-met",
                               f"{rv.id} {rv.label}: {name} is met whenever its facts are known", ctx.at(n)))
            return True
        return False

    for top in (*rv.scope_criteria, *rv.criteria):
        visit(top)
    return out


def _names(n: Node, rv: ResolvedVersion) -> set[str]:
    from engine.language.reads import attributes_read

    return set(attributes_read([n], rv.refs))


def contradictory_criteria(ctx: Ctx, rv: ResolvedVersion) -> list[Problem]:
    """Criteria each satisfiable alone that no patient can meet together (e.g. age ≥ 40 and age < 23)."""
    nodes = list(rv.criteria)
    groups: list[list[Node]] = []
    for n in nodes:
        a = _names(n, rv)
        joined = [g for g in groups if any(_names(m, rv) & a for m in g)]
        groups = [g for g in groups if g not in joined] + [[n] + [m for g in joined for m in g]]
    out = []
    for g in groups:
        if len(g) < 2:
            continue
        g.sort(key=lambda n: [m is n for m in nodes].index(True))
        truths = _truths(g, rv, ctx.suite.attributes)
        if truths is None:
            continue
        alone = [any(t[i] is True for t in truths) for i in range(len(g))]
        if all(alone) and not any(all(x is True for x in t) for t in truths):
            ids = ", ".join(n.id or "?" for n in g)
            out.append(Problem("contradiction",
                               f"{rv.id} {rv.label}: criteria {ids} contradict each other: no patient can meet "
                               "them all, so no patient can be eligible", ctx.at(g[0])))
    return out


def never_changes_outcome(ctx: Ctx, rv: ResolvedVersion) -> list[Problem]:
    """A top-level criterion whose removal changes no decision (unknown facts included) is dead wording."""
    from engine.analysis.diff import diff

    if rv.commissioning == "not_routinely_commissioned" and rv.criteria:
        ids = ", ".join(n.id or "?" for n in rv.criteria)
        return [Problem("never-changes-outcome",
                        f"{rv.id} {rv.label}: not routinely commissioned, so its criteria ({ids}) never change "
                        "an outcome", ctx.at(rv.criteria[0]))]
    if rv.commissioning != "criteria_based" or len(rv.criteria) < 2:
        return []
    out = []
    for n in rv.criteria:
        without = dataclasses.replace(rv, criteria=tuple(m for m in rv.criteria if m is not n))
        try:
            same = diff(rv, without, ctx.suite.attributes, check=False).equivalent
        except InputError:
            continue
        if same:
            out.append(Problem("never-changes-outcome",
                               f"{rv.id} {rv.label}: criterion {n.id!r} never changes an outcome: the other "
                               "criteria already decide every patient it would", ctx.at(n)))
    return out


FILE_CHECKS = (unknown_attributes, missing_provenance, provenance_without_source, thresholds_out_of_range,
               overlapping_versions, encoding.superseded_without_end, encoding.assumed_without_note)
SEEN_BY_FILE_CHECKS = {"unknown-attribute", "missing-provenance"}
RULE_CHECKS = (never_met, contradictory_criteria, never_changes_outcome, encoding.incomplete_encoding)


def lint_policy(suite: Any, policy_id: str) -> list[Problem]:
    try:
        policy = suite.policy(policy_id)
        file = suite.file_of(policy_id)
    except InputError as exc:
        return list(exc.problems)
    ctx = Ctx(suite, policy, file)
    findings: list[Problem] = []
    for check in FILE_CHECKS:
        findings += check(ctx)
    for v in policy.versions:
        try:
            rv = suite.resolved(policy_id, v.version)
        except InputError as exc:  # already reported above, or another load problem: report it once
            for f in exc.problems:
                if not any(x.code == f.code and (x.location == f.location or f.code in SEEN_BY_FILE_CHECKS)
                           for x in findings):
                    findings.append(f)
            continue
        for rule_check in RULE_CHECKS:
            for f in rule_check(ctx, rv):
                # a criterion shared by later versions is reported once, at its first version
                if not any(x.code == f.code and x.location == f.location and x.location.line for x in findings):
                    findings.append(f)
    return findings


def lint(suite: Any, files: list[Path] | None = None) -> list[Problem]:
    """Every finding for the given policy files (default: every policy in the suite)."""
    findings: list[Problem] = []
    try:
        _ = suite.attributes
    except InputError as exc:
        return list(exc.problems)
    if files:
        ids = []
        for f in files:
            try:
                ids.append(suite.add_file(f).id)
            except InputError as exc:
                findings += list(exc.problems)
    else:
        ids = suite.ids()
    for pid in ids:
        findings += lint_policy(suite, pid)
    return findings
