"""Response shapes for OpenAPI. Handlers return the CLI's own JSON; these only describe it,
and the schemathesis test holds the two together."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.language.model.attributes import AttributeDictionary
from engine.language.vocabulary import CriterionStatus, Outcome, Route, VersionStatus


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemBody(BaseModel):
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None


class ErrorBody(BaseModel):
    """Bad input: `detail` is the CLI's one-line message (what `cpe` prints on stderr)."""

    detail: str
    problems: list[ProblemBody]


class VersionOut(_Open):
    version: str
    status: VersionStatus
    effective_from: str | None
    effective_to: str | None


class PolicyOut(_Open):
    id: str
    title: str
    versions: list[VersionOut]


class StampOut(_Open):
    id: str
    version: str
    status: VersionStatus
    digest: str


class FactOut(_Open):
    attribute: str
    value: Any = None
    expected: str
    status: CriterionStatus


class CriterionOut(_Open):
    id: str
    text: str | None = None
    status: CriterionStatus
    provenance: str | None = None
    citation: str | None = None
    parent: str | None = None
    scope: bool | None = None
    facts: list[FactOut] | None = None


class FhirOut(_Open):
    """Present when the patient came as a FHIR Bundle: the facts read, their sources, what was not."""

    facts: dict[str, Any]
    sources: dict[str, str]
    notes: list[str]
    on: str | None = None


class DecisionOut(_Open):
    policy: StampOut
    outcome: Outcome
    route: Route
    criteria: list[CriterionOut]
    missing: list[str]
    reason: str | None = None
    commissioning: str | None = None
    on: str | None = None
    fhir: FhirOut | None = None


class MatchOut(_Open):
    medicine: str
    brands: list[str]
    formulation: str | None = None
    indication: str | None = None
    status: str
    status_label: str
    meaning: str | None = None
    prior_approval: bool | None = None
    ifr_available: bool | None = None
    notes: str | None = None


class MedicinesOut(_Open):
    query: str
    matches: list[MatchOut]


class HealthOut(BaseModel):
    status: Literal["ok"]
    policies: int


# -- CDS Hooks (v2) ---------------------------------------------------------------------------
class CdsServiceOut(_Open):
    hook: str
    id: str
    title: str | None = None
    description: str
    prefetch: dict[str, str] | None = None


class CdsDiscoveryOut(BaseModel):
    services: list[CdsServiceOut]


class CdsSourceOut(_Open):
    label: str
    url: str | None = None
    topic: dict[str, Any] | None = None


class CdsLinkOut(_Open):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class CdsCardOut(_Open):
    uuid: str | None = None
    summary: str = Field(max_length=140)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: CdsSourceOut
    links: list[CdsLinkOut] | None = None
    overrideReasons: list[dict[str, Any]] | None = None


class CdsResponseOut(BaseModel):
    cards: list[CdsCardOut]


class FeedbackOut(BaseModel):
    recorded: int


def patient_schema(attrs: AttributeDictionary) -> dict[str, Any]:
    """JSON Schema of a patient mapping, from the attribute dictionary: absent or null is unknown."""
    props: dict[str, Any] = {}
    for name in attrs.names():
        a = attrs[name]
        s: dict[str, Any] = {"description": a.description + (f" ({a.unit})" if a.unit else "")}
        if a.type == "enum":
            s["enum"] = [*a.values, None]  # type: ignore[misc]
        else:
            s["type"] = [a.type if a.type != "string" else "string", "null"]
        if a.min is not None:
            s["minimum"] = a.min
        if a.max is not None:
            s["maximum"] = a.max
        props[name] = s
    return {"type": "object", "title": "Patient", "properties": props, "additionalProperties": False,
            "description": "Patient facts: attribute name to value (policies/attributes.yaml). "
                           "An absent or null attribute is unknown."}


FHIR_BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "FHIR R4 Bundle", "required": ["resourceType"],
    "properties": {"resourceType": {"const": "Bundle"}, "type": {"type": "string"},
                   "entry": {"type": "array", "items": {"type": "object"}}},
    "description": "A FHIR R4 Bundle: age from Patient.birthDate at the referral date, BMI from "
                   "Observation LOINC 39156-5, smoking from LOINC 72166-2; the rest stays unknown.",
}
