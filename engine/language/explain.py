"""Decisions and policies in words. Everything here reads data; nothing decides."""
from __future__ import annotations

from engine.language.decision import Decision
from engine.language.model.criteria import AllOf, AnyOf, Compare, IfThen, Node, Not, PolicyRef, _fmt
from engine.language.resolve import ResolvedVersion

MARK = {"met": "✓", "unmet": "✗", "unknown": "?"}
OUTCOME_WORDS = {"eligible": "Eligible", "not_eligible": "Not eligible",
                 "insufficient_information": "Insufficient information", "out_of_scope": "Out of scope"}
ROUTE_WORDS = {"routine": "routine referral: no approval step",
               "prior_approval": "prior approval: the provider must obtain approval before treating",
               "ifr": "individual funding request: funding only if exceptional clinical circumstances are shown",
               "more_information": "more information needed before a decision",
               "other_commissioner": "another commissioner or policy governs this request"}


def value_text(v: object) -> str:
    return "not given" if v is None else _fmt(v)


def decision_text(d: Decision) -> list[tuple[str, str]]:
    """(style, line) pairs: the decision as a screening officer reads it."""
    p = d.policy
    out = [("bold", f"{p.title} ({p.id}), version {p.version} [{p.status}]"),
           ("dim", f"digest {p.digest}" + (f" · referral date {d.on}" if d.on else "")),
           ("", ""),
           (_style(d.outcome), f"Outcome: {OUTCOME_WORDS[d.outcome]}"),
           ("", f"Route:   {ROUTE_WORDS[d.route]}"),
           ("", f"         {d.reason}"), ("", "")]
    if d.criteria:
        out.append(("bold", "Criteria"))
    for c in d.criteria:
        out += criterion_lines(c.to_json(), "  " * (c.depth + 1))
        if c.written_at:
            out.append(("dim", f"{'  ' * (c.depth + 1)}    written at {c.written_at}"))
    if d.missing:
        out += [("", ""), ("bold", "Missing information"),
                *[("yellow", f"  - {a}") for a in d.missing]]
    return out


def criterion_lines(c: dict, pad: str) -> list[tuple[str, str]]:
    """One criterion (as in the decision JSON) with a mark per fact: shared by every text view."""
    prov = f" [{c['provenance']}]" if c.get("provenance") else ""
    scope = " (scope)" if c.get("scope") else ""
    out = [(_style(c["status"]), f"{pad}{MARK[c['status']]} {c['id']}{scope}: {c.get('text') or '(see below)'}{prov}")]
    for f in c.get("facts", []):
        out.append(("dim", f"{pad}    {MARK[f['status']]} {f['attribute']} = {value_text(f['value'])}"
                           f"   (rule: {f['attribute']} {f['expected']})"))
    r = c.get("policy_ref")
    if r:
        out.append(("dim", f"{pad}    under {r['policy']} {r['version']}: {OUTCOME_WORDS[r['outcome']]}"))
    return out


def _style(status: str) -> str:
    return {"met": "green", "eligible": "green bold", "unmet": "red", "not_eligible": "red bold",
            "unknown": "yellow", "insufficient_information": "yellow bold", "out_of_scope": "magenta bold"
            }.get(status, "")


def node_text(n: Node) -> str:
    """A criterion's logic in words, e.g. 'age between 18 and 42 (inclusive)'."""
    if isinstance(n, Compare):
        return f"{n.attr} {n.threshold_text()}"
    if isinstance(n, AllOf):
        return "all of (" + "; ".join(_child(c) for c in n.all) + ")"
    if isinstance(n, AnyOf):
        return "any of (" + "; ".join(_child(c) for c in n.any) + ")"
    if isinstance(n, Not):
        return f"not ({_child(n.not_)})"
    if isinstance(n, IfThen):
        return f"if {_child(n.if_)} then {_child(n.then)}"
    if isinstance(n, PolicyRef):
        return f"eligible under policy {n.policy}" + (f" {n.version}" if n.version else "")
    raise TypeError(type(n).__name__)


def _child(n: Node) -> str:
    return f"[{n.id}] {node_text(n)}" if n.id else node_text(n)


COMMISSIONING_WORDS = {"routinely_commissioned": "Routinely commissioned.",
                       "criteria_based": "Commissioned when the criteria below are met.",
                       "not_routinely_commissioned": "Not routinely commissioned: individual funding request only."}


def policy_text(rv: ResolvedVersion) -> list[tuple[str, str]]:
    """The resolved version as numbered criteria in the policy's own words, with the logic beside them."""
    v, p = rv.version, rv.policy
    span = f"in force {v.effective_from}" + (f" to {v.effective_to}" if v.effective_to else "") \
        if v.effective_from else "not in force"
    out = [("bold", f"{p.title} ({p.id}), version {v.version} [{v.status}, {span}]"),
           ("dim", f"digest {rv.digest}"), ("", f"Intervention: {p.intervention}"), ("", f"Scope: {rv.scope}"),
           ("", COMMISSIONING_WORDS[rv.commissioning] +
            (" Eligible requests need prior approval." if rv.route_when_eligible == "prior_approval" else ""))]
    if v.summary:
        out.append(("", f"This version: {v.summary}"))
    for title, nodes in (("Scope criteria", rv.scope_criteria), ("Criteria (all must be met)", rv.criteria)):
        if not nodes:
            continue
        out += [("", ""), ("bold", title)]
        for i, n in enumerate(nodes, 1):
            out += _criterion_lines(n, f"{i}.", 1)
    return out


def _criterion_lines(n: Node, number: str, depth: int) -> list[tuple[str, str]]:
    pad = "  " * depth
    lines = [("", f"{pad}{number} [{n.id}] {n.text or ''}".rstrip()),
             ("dim", f"{pad}   rule: {node_text(n)}")]
    if n.provenance or n.citation:
        lines.append(("dim", f"{pad}   source: {n.provenance or ''} — {n.citation or ''}"))
    if n.note:
        lines.append(("dim", f"{pad}   note: {n.note}"))
    if n.span:
        lines.append(("dim", f"{pad}   written at {n.span}"))
    return lines
