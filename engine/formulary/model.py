"""A medicines formulary as written in `policies/formulary/<id>/`: its RAG vocabulary and entries.

The status set is data (each area has its own colours and words), and a status belongs to a
medicine *for an indication and formulation*, so an entry is keyed by all three. Patient-
dependent restrictions are criteria trees in the policy language, run by the same evaluator.
"""
from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.formulary.terminology import Terminology
from engine.language.model.criteria import Node, Provenance
from engine.language.model.values import Count, Flag

_ID = re.compile(r"^[a-z0-9]+([-_][a-z0-9]+)*$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _check_id(v: str, what: str) -> str:
    if not _ID.match(v):
        raise ValueError(f"{what} {v!r} must be lower-case words joined by '-' or '_'")
    return v


def _tidy(v: object) -> object:
    """Texts lose surrounding spaces and an empty text is 'not stated' (None), as in a CSV cell:
    one spelling for each value, so a CSV round trip gives back exactly the same entry."""
    if isinstance(v, str):
        return v.strip() or None
    return v


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Frozen):
    """Where a decision or definition comes from, and how far it can be trusted."""

    _tidy = field_validator("*", mode="before")(classmethod(lambda cls, v: _tidy(v)))

    provenance: Provenance
    citation: str
    url: str | None = None


class StatusFlags(_Frozen):
    """What a status lets primary care do; None where the definition does not say."""

    commissioned: Flag | None = None
    primary_care_initiate: Flag | None = None
    primary_care_continue: Flag | None = None
    shared_care: Flag | None = None
    specialist_only: Flag | None = None
    criteria_apply: Flag | None = None


class RagStatus(_Frozen):
    """One category of the vocabulary: its id in files, its words, its colour and what it allows."""

    id: str
    label: str
    meaning: str
    next_step: str
    colour: str = Field(description="badge background, #rrggbb")
    text_colour: str = "#ffffff"
    flags: StatusFlags = StatusFlags()
    source: SourceRef | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return _check_id(v, "status id")

    @field_validator("colour", "text_colour")
    @classmethod
    def _colour(cls, v: str) -> str:
        if not _COLOUR.match(v):
            raise ValueError(f"colour {v!r} must be #rrggbb")
        return v.lower()


class Vocabulary(_Frozen):
    """`vocabulary.yaml`: the formulary's identity and its ordered status set."""

    id: str
    name: str
    area: str
    decision_body: str | None = None
    source: SourceRef
    statuses: tuple[RagStatus, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return _check_id(v, "formulary id")

    @model_validator(mode="after")
    def _unique(self) -> Vocabulary:
        ids = [s.id for s in self.statuses]
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            raise ValueError(f"duplicate status id(s): {', '.join(dupes)}")
        return self

    def status(self, sid: str) -> RagStatus | None:
        return next((s for s in self.statuses if s.id == sid), None)


class Monitoring(_Frozen):
    """A review or monitoring point the decision set, e.g. uptake at 3 and 6 months."""

    _tidy = field_validator("*", mode="before")(classmethod(lambda cls, v: _tidy(v)))

    what: str
    after_months: Count | None = Field(None, ge=0)
    due: dt.date | None = None


class Entry(_Frozen):
    """One decision: a medicine (or device), for an indication, in a formulation, with a status."""

    id: str
    medicine: str = Field(min_length=1, description="generic name, lower case")
    brands: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    formulation: str | None = None
    route: str | None = None
    indication: str | None = Field(None, description="None: the source does not state the indication")
    all_indications: Flag = False
    indication_synonyms: tuple[str, ...] = ()
    status: str
    status_note: str | None = None
    restrictions: str | None = None
    line_of_therapy: str | None = None
    criteria: tuple[Node, ...] = Field((), description="patient criteria of the restriction or population")
    prior_approval: Flag = False
    ifr_available: Flag | None = Field(None, description="None: not stated; the status decides")
    commissioner: str | None = None
    nice_ta: str | None = None
    decision_date: dt.date | None = None
    decision_body: str | None = None
    reason: str | None = None
    review_date: dt.date | None = None
    monitoring: tuple[Monitoring, ...] = ()
    notes: str | None = None
    source: SourceRef

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        return _check_id(v, "entry id")

    @field_validator("brands", "synonyms", "indication_synonyms")
    @classmethod
    def _names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for x in v:
            if not x.strip() or x != x.strip() or ";" in x:
                raise ValueError(f"{x!r}: a name must be non-empty, without ';' or surrounding spaces")
        return v

    _blank = field_validator("*", mode="before")(classmethod(lambda cls, v: _tidy(v)))

    @field_validator("nice_ta")
    @classmethod
    def _ta(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"TA\d+", v):
            raise ValueError(f"nice_ta {v!r} must look like TA617")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Entry:
        if self.all_indications and self.indication is None:
            raise ValueError("'all_indications' needs an 'indication' text saying what it covers")
        for n in self.criteria:
            if n.id is None or n.text is None:
                raise ValueError("each top-level criterion needs an 'id' and 'text'")
        return self


class Formulary(_Frozen):
    """A vocabulary and its entries; statuses of entries must be in the vocabulary."""

    vocabulary: Vocabulary
    entries: tuple[Entry, ...]
    terminology: Terminology | None = None

    @property
    def id(self) -> str:
        return self.vocabulary.id
