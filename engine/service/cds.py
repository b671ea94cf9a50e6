"""CDS Hooks v2 for prescribing systems: discovery, the order-select / order-sign services, feedback.

Each MedicationRequest in `context.draftOrders` is looked up in the formulary (medicine from
`medicationCodeableConcept` text or coding display, indication from `reasonCode`) and turned
into cards by engine.service.cards. Prefetched Patient, Condition and Observation resources
become patient facts (engine.fhir.facts), so a patient-dependent restriction is judged for this patient.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InputError
from engine.service import schemas
from engine.service.errors import error_body, read_json
from engine.service.pools import on_cpu

router = APIRouter(tags=["cds-hooks"])

PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "observations": "Observation?patient={{context.patientId}}&code=http://loinc.org|39156-5,"
                    "http://loinc.org|72166-2&_sort=-date",
}
SERVICES: dict[str, dict[str, Any]] = {
    "formulary-order-select": {
        "hook": "order-select", "title": "Formulary RAG status on selecting a medicine",
        "description": "Shows the local formulary status (red, amber, green, black) of each medicine being "
                       "ordered, and whether this patient meets a medicine's restriction."},
    "formulary-order-sign": {
        "hook": "order-sign", "title": "Formulary RAG status before signing",
        "description": "Checks each medicine on the order against the local formulary before it is signed: "
                       "black (IFR only), red (specialist only), amber (shared care), green restricted."},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.ErrorBody, "description": "Malformed CDS Hooks request"},
    404: {"model": schemas.ErrorBody, "description": "No such CDS service"},
    422: {"model": schemas.ErrorBody, "description": "Invalid path"},
}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class HookRequest(_Loose):
    """A CDS Hooks v2 service request (only what this service reads is checked)."""

    hook: str
    hookInstance: str
    context: dict[str, Any]
    prefetch: Optional[dict[str, Any]] = None
    fhirServer: Optional[str] = None
    fhirAuthorization: Optional[dict[str, Any]] = None
    extension: Optional[dict[str, Any]] = Field(None, description="`cpe.patient-facts`: attribute name to "
                                                "value, for facts FHIR prefetch cannot carry")


class Coding(_Loose):
    system: Optional[str] = None
    code: Optional[str] = None
    display: Optional[str] = None


class OverrideReason(_Loose):
    reason: Optional[Coding] = None
    userComment: Optional[str] = None


class Suggestion(_Loose):
    id: str


class FeedbackItem(_Loose):
    card: str
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: Optional[list[Suggestion]] = None
    overrideReason: Optional[OverrideReason] = None
    outcomeTimestamp: str


class FeedbackBody(_Loose):
    feedback: list[FeedbackItem] = Field(min_length=1)


def request_schemas() -> dict[str, Any]:
    """JSON Schemas of the request bodies, for OpenAPI components."""
    from pydantic.json_schema import models_json_schema

    top, defs = models_json_schema([(HookRequest, "validation"), (FeedbackBody, "validation")],
                                   ref_template="#/components/schemas/{model}")
    return defs.get("$defs", {})


def _body(name: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}"}}}}}


def _bad(message: str, status: int = 400, code: str = "bad-cds-request") -> JSONResponse:
    return JSONResponse(error_body(InputError.of(code, message)), status_code=status)


def _validation_message(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(x) for x in e.get("loc", ())) or "body"
    return f"{where}: {e.get('msg')}"


@router.get("/cds-services", response_model=schemas.CdsDiscoveryOut)
def discovery() -> dict[str, Any]:
    """CDS Hooks discovery: the services, their hooks and the prefetch templates they use."""
    return {"services": [{"id": sid, **svc, "prefetch": PREFETCH} for sid, svc in SERVICES.items()]}


async def _body_of(request: Request, service_id: str, model: Any) -> Any:
    """The validated body of a call to one of our services, or the error response to send instead."""
    if service_id not in SERVICES:
        return _bad(f"no CDS service {service_id!r}", 404, "unknown-service")
    try:
        body = await read_json(request)
    except InputError as exc:
        return JSONResponse(error_body(exc), status_code=400)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return _bad(_validation_message(exc))


@router.post("/cds-services/{service_id}", response_model=None, openapi_extra=_body("HookRequest"),
             responses={200: {"model": schemas.CdsResponseOut, "description": "Cards (none: no guidance)"},
                        **ERRORS})
async def call_service(request: Request, service_id: str) -> JSONResponse:
    """A CDS Hooks call: cards for the MedicationRequests in `context.draftOrders`."""
    hook = await _body_of(request, service_id, HookRequest)
    if isinstance(hook, JSONResponse):
        return hook
    if hook.hook != SERVICES[service_id]["hook"]:
        return _bad(f"service {service_id!r} answers the {SERVICES[service_id]['hook']!r} hook, not {hook.hook!r}")
    from engine.service.cards import cards_for

    base = str(request.base_url).rstrip("/")
    cards = await on_cpu(cards_for, hook.context, hook.prefetch or {}, request.app.state.suite, base,
                         dt.date.today(), hook.extension)
    for c in cards:
        request.app.state.feedback.issued(service_id, c)
    return JSONResponse({"cards": cards})


@router.post("/cds-services/{service_id}/feedback", response_model=None, openapi_extra=_body("FeedbackBody"),
             responses={200: {"model": schemas.FeedbackOut, "description": "Feedback recorded"}, **ERRORS})
async def feedback(request: Request, service_id: str) -> JSONResponse:
    """Record whether the prescriber accepted or overrode each card, with the override reason."""
    fb = await _body_of(request, service_id, FeedbackBody)
    if isinstance(fb, JSONResponse):
        return fb
    for item in fb.feedback:
        request.app.state.feedback.record(service_id, item.model_dump(exclude_none=True))
    return JSONResponse({"recorded": len(fb.feedback)})
