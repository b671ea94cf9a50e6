"""Lint checks on what a version says about its own sources: which parts of its text are encoded,
and which of its dates are the sources' and which are assumed.

- A version whose text is only partly known (`encoding.complete: false`, or criteria that are
  comparator stand-ins) must carry a *remainder* criterion: a fact a person answers ("meets the
  remaining criteria of the full policy ..."), so the unencoded rest is unknown, never met, and
  Kleene logic gives not_eligible only when a known criterion fails. Where the outside contract
  fixes the version's rule, `held_by_contract` says so and lint reports it as a warning.
- A ratified version followed by a later ratified one states its `effective_to`.
- A date marked `assumed` says, in `dates_note`, what the sources do say.

Each finding is an engine.errors.Problem; its level is its code's (engine.problems.LINT).
"""
from __future__ import annotations

from typing import Any

from engine.errors import Location, Problem
from engine.language.model.criteria import Compare
from engine.language.resolve import ResolvedVersion


def _version_line(ctx: Any, label: str) -> Location:
    """Where a version is written (its span), else its file."""
    v = next((v for v in ctx.policy.versions if v.version == label), None)
    return ctx.at(v)


def _stand_ins(rv: ResolvedVersion) -> list[str]:
    """Ids of criteria whose wording is a comparator stand-in (inherited provenance included)."""
    out: list[str] = []

    def visit(n: Any, prov: str | None) -> None:
        prov = n.provenance or prov
        if n.id and prov == "comparator":
            out.append(n.id)
        for c in n.children():
            visit(c, prov)

    for top in (*rv.scope_criteria, *rv.criteria):
        visit(top, None)
    return out


def remainder_problem(rv: ResolvedVersion, remainder: str, attrs: Any) -> str | None:
    """Why `remainder` is not a usable remainder criterion of the resolved version, or None."""
    top = next((n for n in rv.criteria if n.id == remainder), None)
    if top is None:
        ids = ", ".join(n.id or "?" for n in rv.criteria) or "none"
        return f"names remainder criterion {remainder!r}, which is not one of its criteria ({ids})"
    if not isinstance(top, Compare) or top.op != "=" or top.value is not True:
        return (f"remainder criterion {remainder!r} must be one fact a person answers: "
                "`attr: <boolean>, op: \"=\", value: true`")
    if top.attr in attrs and attrs[top.attr].type != "boolean":
        return f"remainder criterion {remainder!r} reads {top.attr!r}, which is not a boolean attribute"
    if not top.text or not top.citation:
        return f"remainder criterion {remainder!r} needs the policy's words (`text`) naming what to check, and a citation"
    return None


def incomplete_encoding(ctx: Any, rv: ResolvedVersion) -> list[Problem]:
    """A partly encoded version must name its remainder criterion (or say the contract holds it)."""
    enc = rv.policy.encoding_of(rv.label)
    where = _version_line(ctx, rv.label)
    stand_ins = _stand_ins(rv)
    if enc is None:
        if stand_ins and rv.commissioning == "criteria_based":
            return [Problem("incomplete-encoding",
                             f"{rv.id} {rv.label}: criteria {', '.join(stand_ins)} are comparator stand-ins, but the "
                             "version does not say which parts of its text are encoded: add `encoding` with a "
                             "remainder criterion for the rest", where)]
        return []
    if enc.remainder:
        problem = remainder_problem(rv, enc.remainder, ctx.suite.attributes)
        return [Problem("bad-remainder", f"{rv.id} {rv.label}: {problem}", where)] if problem else []
    if enc.complete and not stand_ins:
        return []
    why = "is marked incomplete" if not enc.complete else f"has comparator stand-ins ({', '.join(stand_ins)})"
    if enc.held_by_contract:
        return [Problem("remainder-held-by-contract",
                         f"{rv.id} {rv.label}: {why} and has no remainder criterion, because the outside "
                         "contract fixes its rule: its unencoded text cannot make an answer unknown", where)]
    return [Problem("incomplete-encoding",
                     f"{rv.id} {rv.label}: {why} but names no remainder criterion: an unencoded part of the "
                     "policy would count as met. Add a criterion a person answers (\"meets the remaining "
                     "criteria of the full policy, section ...\") and name it in `encoding.remainder`", where)]


def superseded_without_end(ctx: Any) -> list[Problem]:
    """A ratified version that a later ratified version replaces must say when it stopped."""
    ratified = sorted((v for v in ctx.policy.versions if v.status == "ratified" and v.effective_from),
                      key=lambda v: v.effective_from)
    out = []
    for v, w in zip(ratified, ratified[1:]):
        if v.effective_to is None:
            out.append(Problem("superseded-without-end",
                                f"{ctx.policy.id}: ratified version {v.version} is superseded by {w.version} "
                                f"(from {w.effective_from}) but states no effective_to", _version_line(ctx, v.version)))
    return out


def assumed_without_note(ctx: Any) -> list[Problem]:
    """A date or status marked `assumed` must say what the sources do say (`dates_note`)."""
    return [Problem("assumed-without-note",
                     f"{ctx.policy.id} {v.version}: {', '.join(v.assumed)} marked assumed, but no dates_note says "
                     "what the sources state", _version_line(ctx, v.version))
            for v in ctx.policy.versions if v.assumed and not v.dates_note]

