"""A commissioning policy and its versions, as written in `policies/<id>/policy.yaml`.

A later version names the version it is `based_on` and states only its `changes`
(remove / replace / add a criterion), so versions share what did not change.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.language.model.criteria import Node
from engine.language.span import Spanned
from engine.language.vocabulary import Commissioning, Provenance, VersionStatus

EligibleRoute = Literal["routine", "prior_approval"]  # the two routes of an eligible decision (vocabulary.Route)

_LABEL = re.compile(r"^(\d{4}-\d{2}-\d{2}|draft-\d{4})$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Source(Spanned):
    """Where the policy's wording comes from (a seed paper, a public document, a comparator)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str
    kind: Provenance
    title: str
    reference: str | None = None


class Replace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    id: str
    with_: Node = Field(alias="with")


class Add(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    criterion: Node
    after: str | None = None


class Change(Spanned):
    """One edit of the base version's top-level criteria; exactly one of remove / replace / add."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    remove: str | None = None
    replace: Replace | None = None
    add: Add | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Change:
        if sum(x is not None for x in (self.remove, self.replace, self.add)) != 1:
            raise ValueError("a change is exactly one of 'remove', 'replace' or 'add'")
        return self


class Encoding(BaseModel):
    """Which parts of a version's text the criteria encode, in words for documents and letters.

    A version whose text is only partly known is `complete: false` and names its `remainder`:
    the criterion (a fact a person answers, e.g. "meets the remaining criteria of the full
    policy, section ...") that stands for the unencoded rest, so an unknown rest is unknown,
    never met. `held_by_contract` says why a partial version has no remainder criterion: the
    outside contract fixes its rule (`cpe lint` reports it; docs/wording-changes.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    complete: bool
    encoded: str
    not_encoded: str | None = None
    remainder: str | None = None
    held_by_contract: str | None = None


class Version(Spanned):
    """One dated version as written; `based_on` versions hold only their changes."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    version: str
    status: VersionStatus
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    ratified_by: str | None = None
    ratified_on: dt.date | None = None
    summary: str | None = None
    based_on: str | None = None
    changes: tuple[Change, ...] = ()
    criteria: tuple[Node, ...] | None = None
    scope_criteria: tuple[Node, ...] | None = None
    commissioning: Commissioning | None = None
    route_when_eligible: EligibleRoute | None = None
    scope: str | None = None
    notes: str | None = None
    encoding: Encoding | None = None
    assumed: tuple[Literal["effective_from", "effective_to", "ratified_on", "status"], ...] = ()
    dates_note: str | None = None

    @field_validator("version")
    @classmethod
    def _label(cls, v: str) -> str:
        if not _LABEL.match(v):
            raise ValueError(f"version label {v!r} must be the effective date YYYY-MM-DD or draft-YYYY")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Version:
        if self.status == "ratified":
            if self.effective_from is None:
                raise ValueError("a ratified version needs 'effective_from'")
            if self.version != self.effective_from.isoformat():
                raise ValueError(f"a ratified version's label must be its effective_from date "
                                 f"({self.effective_from.isoformat()}), not {self.version!r}")
        elif not self.version.startswith("draft-"):
            raise ValueError(f"a draft's label must be draft-YYYY, not {self.version!r}")
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.based_on is None and self.changes:
            raise ValueError("'changes' need 'based_on': the version they change")
        if self.based_on is not None and self.criteria is not None:
            raise ValueError("a version 'based_on' another states only its 'changes', not a full 'criteria' list")
        return self


class Policy(Spanned):
    """A policy file: metadata shared by every version, and the versions."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str
    title: str
    intervention: str
    part_of: str | None = None
    scope: str
    commissioning: Commissioning
    route_when_eligible: EligibleRoute = "routine"
    commissioner: str = "Lancashire and South Cumbria ICB (formerly the eight CCGs, through the JCCCGs)"
    sources: tuple[Source, ...] = Field(min_length=1)
    notes: str | None = None
    versions: tuple[Version, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"policy id {v!r} must be kebab-case (lower-case words joined by '-')")
        return v

    @model_validator(mode="after")
    def _versions(self) -> Policy:
        labels = [v.version for v in self.versions]
        dupes = {x for x in labels if labels.count(x) > 1}
        if dupes:
            raise ValueError(f"duplicate version label(s): {', '.join(sorted(dupes))}")
        for v in self.versions:
            if v.based_on is not None and v.based_on not in labels:
                raise ValueError(f"version {v.version} is based_on {v.based_on!r}, which is not a version of this "
                                 f"policy (versions: {', '.join(labels)})")
        return self

    def encoding_of(self, label: str) -> Encoding | None:
        """A version's encoding statement: its own, else that of the version it is based on."""
        seen: set[str] = set()
        v = next((x for x in self.versions if x.version == label), None)
        while v is not None and v.version not in seen:
            if v.encoding is not None:
                return v.encoding
            seen.add(v.version)
            v = next((x for x in self.versions if x.version == v.based_on), None) if v.based_on else None
        return None
