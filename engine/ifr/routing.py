"""From a decision to what happens next: the route's steps, what to submit, which facts to
supply, what an exceptionality case must show, and who else may commission.

The words come from `policies/routing.yaml` (shared by every policy, with per-policy
additions there); this module only selects and fills them from the Decision.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location, Problem
from engine.ifr.routing_model import Commissioner, Exceptionality, IfrService, RouteRule, RoutingRules
from engine.ifr.screening import Screening, _stamp
from engine.language.decision import CriterionResult, Decision
from engine.language.load import validate
from engine.language.model.attributes import AttributeDictionary
from engine.language.source import display_path, load_file
from engine.language.span import place


@dataclass(frozen=True)
class MissingFact:
    """A fact to supply: the dictionary's description, unit and allowed values, and what it settles."""

    attribute: str
    description: str
    unit: str | None
    allowed: str
    criteria: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "criteria": list(self.criteria)}


@dataclass(frozen=True)
class RoutePlan:
    """The route a decision takes and the concrete next steps, ready for a letter or JSON."""

    route: str
    title: str
    summary: str
    steps: tuple[str, ...]
    source: str
    provenance: str
    submit: tuple[str, ...] = ()
    must_show: tuple[str, ...] = ()
    missing: tuple[MissingFact, ...] = ()
    unmet: tuple[CriterionResult, ...] = ()
    met: tuple[CriterionResult, ...] = ()
    exceptionality: Exceptionality | None = None
    commissioner: Commissioner | None = None
    to_check: tuple[Commissioner, ...] = ()
    out_of_scope: str | None = None
    other_policy: str | None = None
    ifr_services: tuple[IfrService, ...] = ()
    notes: tuple[str, ...] = ()
    service_development: RouteRule | None = None
    screening: Screening | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"route": self.route, "title": self.title, "summary": self.summary,
                               "steps": list(self.steps), "source": self.source, "provenance": self.provenance}
        if self.submit:
            out["submit"] = list(self.submit)
        if self.must_show:
            out["must_show"] = list(self.must_show)
        if self.missing:
            out["missing"] = [m.to_json() for m in self.missing]
        if self.unmet:
            out["unmet_criteria"] = [{"id": c.id, "text": c.text} for c in self.unmet]
        if self.route == "prior_approval":
            out["evidence_for"] = [{"id": c.id, "text": c.text} for c in self.met]
        if self.exceptionality:
            out["exceptionality"] = self.exceptionality.model_dump(exclude_none=True)
        if self.commissioner:
            out["commissioner"] = self.commissioner.model_dump()
        if self.to_check:
            out["commissioners_to_check"] = [c.model_dump() for c in self.to_check]
        if self.out_of_scope:
            out["out_of_scope"] = self.out_of_scope
        if self.other_policy:
            out["other_policy"] = self.other_policy
        if self.ifr_services:
            out["ifr_services"] = [x.model_dump() for x in self.ifr_services]
        if self.notes:
            out["notes"] = list(self.notes)
        if self.service_development:
            out["service_development"] = {"title": self.service_development.title,
                                          "summary": self.service_development.summary,
                                          "steps": list(self.service_development.steps)}
        if self.screening is not None:
            out["screening"] = self.screening.to_json()
        return out


def missing_facts(d: Decision, attrs: AttributeDictionary) -> tuple[MissingFact, ...]:
    """The decision's `missing`, each with its dictionary entry and the unknown criteria it would settle."""
    out = []
    for name in d.missing:
        a = attrs.attributes.get(name)
        settles = tuple(c.id for c in d.criteria
                        if c.status == "unknown" and any(f.attribute == name for f in c.facts))
        if a is None:  # the dictionary always has it for a checked policy; be plain if not
            out.append(MissingFact(name, name, None, "", settles))
        else:
            out.append(MissingFact(name, a.description, a.unit, a.range_text(), settles))
    return tuple(out)


def plan(d: Decision, attrs: AttributeDictionary, rules: RoutingRules | None = None,
         screening: Screening | None = None, ccg: str | None = None) -> RoutePlan:
    """The next steps for a decision; with `screening`, an IFR also says what screening found.
    `ccg` (the patient's `registered_ccg`) picks the IFR service; unknown, every service is listed."""
    rules = rules or load_routing()
    rule = rules.routes[d.route]  # type: ignore[index]
    mine = rules.policies.get(d.policy.id)
    top = [c for c in d.criteria if c.depth == 0]
    kw: dict[str, Any] = {}
    if d.missing:
        kw["missing"] = missing_facts(d, attrs)
    if d.route == "ifr":
        kw["exceptionality"] = rules.exceptionality
        kw["unmet"] = tuple(c for c in top if c.status == "unmet")
        kw["ifr_services"] = rules.ifr_services_for(ccg)
        if screening is not None and screening.is_service_development:
            kw["service_development"] = rules.service_development
    if d.route == "prior_approval":
        kw["met"] = tuple(top)
    if d.route == "other_commissioner":
        kw["unmet"] = tuple(c for c in d.criteria if c.scope and c.status == "unmet")
        if mine and mine.out_of_scope:
            kw["out_of_scope"] = mine.out_of_scope
        cid = mine.commissioner if mine and mine.commissioner else None
        if mine and mine.other_policy:
            kw["other_policy"] = mine.other_policy
        if cid:
            kw["commissioner"] = rules.commissioner(cid)
        elif not (mine and mine.other_policy):  # the policy names no one: list those to check, claim none
            kw["to_check"] = rules.commissioners
    return RoutePlan(route=d.route, title=rule.title, summary=rule.summary, steps=rule.steps,
                     source=rule.source, provenance=rule.provenance, submit=rule.submit,
                     must_show=rule.must_show, notes=mine.notes if mine else (),
                     screening=screening, **kw)


def default_path() -> Path:
    from engine.language.suite import default_policies_dir

    return default_policies_dir() / "routing.yaml"


def load_routing(path: Path | None = None, known_policies: list[str] | None = None) -> RoutingRules:
    """The routing rules, validated; with `known_policies`, an unknown policy id is an error at its line."""
    path = path or default_path()
    rules, data = _load(path, _stamp(path))
    file = display_path(path)
    ids = {c.id for c in rules.commissioners}
    lines = data.get("policies", {}) if isinstance(data, dict) else {}
    for pid, pr in rules.policies.items():
        where = Location(file, *place(lines, pid))
        if known_policies is not None and pid not in known_policies:
            raise InputError(Problem("invalid-routing", f"policies.{pid}: no such policy", where))
        if pr.commissioner and pr.commissioner not in ids:
            raise InputError(Problem("invalid-routing", f"policies.{pid}.commissioner: {pr.commissioner!r} is not "
                                                        f"one of the commissioners ({', '.join(sorted(ids))})", where))
    return rules


@lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int]) -> tuple[RoutingRules, Any]:
    data = load_file(path)
    return validate(RoutingRules, data, display_path(path)), data
