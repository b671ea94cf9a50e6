"""The decision: what the engine concluded and why, as data. Text and letters render from it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.language.vocabulary import Outcome, Route


@dataclass(frozen=True)
class Fact:
    """One attribute test inside a criterion: the value seen against the threshold."""

    attribute: str
    value: Any
    expected: str
    status: str


@dataclass(frozen=True)
class CriterionResult:
    id: str
    text: str | None
    status: str
    provenance: str | None
    citation: str | None
    parent: str | None = None
    depth: int = 0
    facts: tuple[Fact, ...] = ()
    policy_ref: dict | None = None
    scope: bool = False
    #: where the criterion is written (file:line:column), for explanations; not part of the
    #: decision's JSON or its equality (the compiled engines do not know it)
    written_at: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "status": self.status,
                               "provenance": self.provenance, "citation": self.citation}
        if self.parent is not None:
            out["parent"] = self.parent
        if self.scope:
            out["scope"] = True
        if self.facts:
            out["facts"] = [asdict(f) for f in self.facts]
        if self.policy_ref:
            out["policy_ref"] = self.policy_ref
        return out


@dataclass(frozen=True)
class PolicyStamp:
    """Which rules made the decision, byte for byte."""

    id: str
    title: str
    version: str
    status: str
    digest: str
    effective_from: str | None = None
    effective_to: str | None = None
    encoding_complete: bool | None = None   # which parts of the text are encoded (Version.encoding);
    encoded: str | None = None              # for letters, not part of the contract's JSON
    not_encoded: str | None = None


@dataclass(frozen=True)
class Decision:
    policy: PolicyStamp
    outcome: Outcome
    route: Route
    criteria: tuple[CriterionResult, ...]
    missing: tuple[str, ...]
    commissioning: str
    on: str | None = None
    reason: str = ""
    referenced: tuple[PolicyStamp, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        p = self.policy
        out: dict[str, Any] = {
            "policy": {"id": p.id, "version": p.version, "status": p.status, "digest": p.digest},
            "outcome": self.outcome,
            "route": self.route,
            "criteria": [c.to_json() for c in self.criteria],
            "missing": list(self.missing),
            "reason": self.reason,
            "commissioning": self.commissioning,
        }
        if self.on:
            out["on"] = self.on
        if self.referenced:
            out["referenced_policies"] = [{"id": r.id, "version": r.version, "digest": r.digest}
                                          for r in self.referenced]
        return out

    def status_of(self, criterion_id: str) -> str | None:
        for c in self.criteria:
            if c.id == criterion_id:
                return c.status
        return None
