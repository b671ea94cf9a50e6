"""CDS Hooks 2.0 for prescribing systems: discovery, the order-select / order-sign services, feedback.

A call is answered in this order (docs/service.md has the conformance table, rule by rule):

1. the body is read by the strict JSON reader and checked: `hook`, `hookInstance`, `context`, the
   hook's REQUIRED context fields (order-select: userId, patientId, selections, draftOrders;
   order-sign: userId, patientId, draftOrders), `fhirAuthorization` only with `fhirServer` (400);
2. the caller's signed JWT is verified (engine.service.cds_auth; 401);
3. the prefetch templates the request did not satisfy are fetched from `fhirServer`
   (engine.service.cds_prefetch), or the answer is 412; a prefetched Patient that is not
   `context.patientId` is refused (400), data about another patient is left out;
4. order-select looks only at the orders named in `context.selections`; each MedicationRequest is
   looked up in the formulary and turned into cards (engine.service.cards).

Every error on these paths is a FHIR OperationOutcome (engine.service.errors), with the CORS
headers of the app's middleware, an unexpected fault included (500, logged).
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal, Optional

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InputError
from engine.service import schemas
from engine.service.cds_prefetch import PREFETCH
from engine.service.errors import cds_error, cds_input_error, read_json
from engine.service.pools import on_cds

log = logging.getLogger("cpe.cds")
router = APIRouter(tags=["cds-hooks"])

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
#: REQUIRED context fields of each hook (cds-hooks.hl7.org hooks/order-select, hooks/order-sign) and their JSON type
REQUIRED_CONTEXT: dict[str, dict[str, type]] = {
    "order-select": {"userId": str, "patientId": str, "selections": list, "draftOrders": dict},
    "order-sign": {"userId": str, "patientId": str, "draftOrders": dict},
}
OPTIONAL_CONTEXT: dict[str, type] = {"encounterId": str}


class OperationOutcomeIssue(BaseModel):
    severity: str
    code: str
    diagnostics: Optional[str] = None
    details: Optional[dict[str, Any]] = None


class OperationOutcome(BaseModel):
    """A FHIR R4 OperationOutcome: every error of the CDS Hooks paths."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue] = Field(min_length=1)


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OperationOutcome, "description": "Malformed CDS Hooks request"},
    401: {"model": OperationOutcome, "description": "No trusted CDS client's signed JWT"},
    404: {"model": OperationOutcome, "description": "No such CDS service"},
    422: {"model": OperationOutcome, "description": "Invalid path"},
    500: {"model": OperationOutcome, "description": "Fault of the service (logged)"},
}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class HookRequest(_Loose):
    """A CDS Hooks v2 service request (only what this service reads is checked)."""

    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    context: dict[str, Any]
    prefetch: Optional[dict[str, Any]] = None
    fhirServer: Optional[str] = None
    fhirAuthorization: Optional[dict[str, Any]] = None
    extension: Optional[dict[str, Any]] = Field(None, description="`<reverse domain>.patient-facts` (or the older "
                                                "`cpe.patient-facts`): attribute name to value, for facts FHIR "
                                                "prefetch cannot carry")


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
    card: str = Field(min_length=1, max_length=100)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: Optional[list[Suggestion]] = None
    overrideReason: Optional[OverrideReason] = None
    outcomeTimestamp: str = Field(min_length=1, max_length=40)


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


def _validation_message(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(x) for x in e.get("loc", ())) or "body"
    return f"{where}: {e.get('msg')}"


def public_base(request: Request) -> str:
    """The service's address: CPE_PUBLIC_URL, else the request's own (links, JWT audience)."""
    from engine.settings import setting

    return (setting("public_url") or str(request.base_url)).rstrip("/")


@router.get("/cds-services", response_model=schemas.CdsDiscoveryOut)
def discovery() -> dict[str, Any]:
    """CDS Hooks discovery: the services, their hooks and the prefetch templates they use."""
    return {"services": [{"id": sid, **svc, "prefetch": PREFETCH} for sid, svc in SERVICES.items()]}


async def _body_of(request: Request, service_id: str, model: Any) -> Any:
    """The validated body of a trusted call to one of our services, or the error response to send instead."""
    read = await _read(request, service_id)
    if isinstance(read, JSONResponse):
        return read
    trusted = await on_cds(_trusted, read, request.headers.get("authorization"), _audience(request, service_id), model)
    if isinstance(trusted, JSONResponse):
        return trusted
    request.state.caller, hook = trusted
    return hook


async def _read(request: Request, service_id: str) -> Any:
    """The parsed body of a call to one of our services, or the error response (404, 400)."""
    if service_id not in SERVICES:
        return cds_error(404, f"no CDS service {service_id!r}", "unknown-service")
    try:
        return await read_json(request)
    except InputError as exc:
        return cds_input_error(exc)


def _audience(request: Request, service_id: str) -> list[str]:
    """The URLs the caller's JWT may name as its audience."""
    audience = [f"{public_base(request)}/cds-services/{service_id}"]
    if request.url.path.endswith("/feedback"):  # the feedback endpoint, or the service it reports on
        audience.insert(0, audience[0] + "/feedback")
    return audience


def _trusted(body: Any, authorization: str | None, audience: list[str], model: Any) -> Any:
    """(caller, validated body) of a call whose JWT verifies, or the error response (401, 400)."""
    from engine.service.cds_auth import Untrusted, verify_call

    try:
        caller = verify_call(authorization, audience)
    except Untrusted as exc:
        log.info("CDS call refused: %s", exc)
        return cds_error(401, str(exc), "untrusted-cds-client",
                         {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    try:
        return caller, model.model_validate(body)
    except ValidationError as exc:
        return cds_error(400, _validation_message(exc), "bad-cds-request")


def context_problem(hook: str, context: dict[str, Any]) -> str | None:
    """What is wrong with a hook's context (a REQUIRED field missing or of the wrong type), or None."""
    for name, kind in {**REQUIRED_CONTEXT.get(hook, {})}.items():
        if name not in context:
            return f"context.{name} is REQUIRED for the {hook} hook"
        if not isinstance(context[name], kind) or not context[name]:
            return f"context.{name} must be a non-empty {'string' if kind is str else kind.__name__}"
    for name, kind in OPTIONAL_CONTEXT.items():
        if name in context and not (isinstance(context[name], kind) and context[name]):
            return f"context.{name} must be a non-empty string when given"
    orders = context.get("draftOrders")
    if isinstance(orders, dict) and orders.get("resourceType") != "Bundle":
        return "context.draftOrders must be a FHIR Bundle"
    if hook == "order-select" and not all(isinstance(s, str) and s for s in context["selections"]):
        return "context.selections must list references such as 'MedicationRequest/103'"
    return None


# the request resources of FHIR R4 an order-select draft can hold (the ones `selections` chooses among)
ORDER_TYPES = {"MedicationRequest", "ServiceRequest", "NutritionOrder", "VisionPrescription", "DeviceRequest",
               "SupplyRequest", "CommunicationRequest"}


def selected(hook: str, context: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The context to judge: for order-select, draftOrders cut to the orders in `selections` (the
    others were chosen earlier and are not being ordered now). (context, problem)."""
    from engine.fhir.facts import resources_in

    ctx = dict(context)   # this request's own parsed body: its orders are normalised in place (a deep copy
    # of every request's orders on the event loop was a twentieth of a worker's time under load)
    resources = list(resources_in(ctx.get("draftOrders")))
    for r in resources:  # the sandbox sends reasonCode as one CodeableConcept where FHIR R4 says a list
        if r.get("resourceType") == "MedicationRequest" and "reasonCode" in r:
            reason = r["reasonCode"]
            if isinstance(reason, dict):
                r["reasonCode"] = [reason]
            elif not isinstance(reason, list):
                del r["reasonCode"]  # neither: no reason can be read from it
    if hook != "order-select":
        return ctx, None
    refs = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources if isinstance(r.get("id"), str)}
    unknown = [s for s in ctx["selections"] if s not in refs]
    if unknown:
        return ctx, f"context.selections names {unknown[0]!r}, which is not in context.draftOrders"
    chosen = set(ctx["selections"])
    entries = ctx["draftOrders"].get("entry") if isinstance(ctx["draftOrders"].get("entry"), list) else None
    if entries is None:   # not a Bundle of entries: the selected orders alone
        kept = [{"resource": refs[s]} for s in dict.fromkeys(ctx["selections"])]
    else:   # the selected orders, and every resource that is not an order (a Medication they refer to)
        kept = [e for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                and (e["resource"].get("resourceType") not in ORDER_TYPES
                     or f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}" in chosen)]
    ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": kept}
    return ctx, None


@router.post("/cds-services/{service_id}", response_model=None, openapi_extra=_body("HookRequest"),
             responses={200: {"model": schemas.CdsResponseOut, "description": "Cards (none: no guidance)"},
                        412: {"model": OperationOutcome, "description": "The FHIR data needed could be had "
                              "neither from prefetch nor from fhirServer"}, **ERRORS})
async def call_service(request: Request, service_id: str) -> JSONResponse:
    """A CDS Hooks call: cards for the MedicationRequests in `context.draftOrders` (order-select: the selected ones)."""
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    try:
        return await _call(request, service_id)
    except (HTTPException, ClientDisconnect):  # the body limit's 413, a client gone: the app's handlers answer
        raise
    except Exception:  # a fault: logged, and still an OperationOutcome with CORS headers
        log.exception("CDS Hooks call to %s failed", service_id)
        return cds_error(500, "the CDS service failed; the fault is logged", "engine-fault")


async def _call(request: Request, service_id: str) -> JSONResponse:
    """One trip to the CDS lane when the request carries its prefetch (the usual case); a second, for
    the cards, only when the prefetch must first be fetched from fhirServer."""
    from engine.service.cds_auth import development
    from engine.service.cds_prefetch import Unavailable, complete

    read = await _read(request, service_id)
    if isinstance(read, JSONResponse):
        return read
    call = _Call(service_id, request.app.state.suite, public_base(request), request.app.state.feedback)
    judged = await on_cds(call.judge, read, request.headers.get("authorization"), _audience(request, service_id))
    if isinstance(judged, JSONResponse):
        return judged
    hook, context = judged
    try:
        prefetch = await complete(hook.prefetch, context, hook.fhirServer, hook.fhirAuthorization, development())
    except Unavailable as exc:
        return cds_error(412, str(exc), "prefetch-unavailable")
    return await on_cds(call.cards, hook, context, prefetch)


class _Call:
    """A CDS Hooks call's work off the event loop, in the order of the module docstring."""

    def __init__(self, service_id: str, suite: Any, base: str, feedback: Any):
        self.service_id, self.suite, self.base, self.feedback = service_id, suite, base, feedback

    def judge(self, body: Any, authorization: str | None, audience: list[str]) -> Any:
        """The answer, or (hook, context) when the prefetch must be fetched first."""
        from engine.service.cds_prefetch import check_authorization, present

        trusted = _trusted(body, authorization, audience, HookRequest)
        if isinstance(trusted, JSONResponse):
            return trusted
        hook = trusted[1]
        want = SERVICES[self.service_id]["hook"]
        if hook.hook != want:
            return cds_error(400, f"service {self.service_id!r} answers the {want!r} hook, not {hook.hook!r}",
                             "wrong-hook")
        problem = context_problem(want, hook.context) or check_authorization(hook.fhirServer, hook.fhirAuthorization)
        context, unselected = selected(want, hook.context) if problem is None else (hook.context, None)
        if problem or unselected:
            return cds_error(400, problem or unselected or "", "bad-cds-context")
        prefetch, missing = present(hook.prefetch)
        if missing:
            return hook, context
        return self.cards(hook, context, prefetch)

    def cards(self, hook: HookRequest, context: dict[str, Any], prefetch: dict[str, Any]) -> JSONResponse:
        from engine.service.cards import cards_for
        from engine.service.cds_prefetch import for_patient

        prefetch, _, wrong = for_patient(prefetch, context["patientId"])
        if wrong:
            return cds_error(400, wrong, "wrong-patient")
        try:
            cards = cards_for(context, prefetch, self.suite, self.base, dt.date.today(), hook.extension)
        except InputError as exc:
            return cds_input_error(exc)
        for c in cards:
            self.feedback.issued(self.service_id, c)
        return JSONResponse({"cards": cards})


@router.post("/cds-services/{service_id}/feedback", response_model=None, openapi_extra=_body("FeedbackBody"),
             responses={200: {"model": schemas.FeedbackOut, "description": "Feedback recorded"},
                        503: {"model": OperationOutcome, "description": "The register database is unavailable"},
                        **ERRORS})
async def feedback(request: Request, service_id: str) -> JSONResponse:
    """Record whether the prescriber accepted or overrode each card, with the override reason (in the register)."""
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from engine.service.pools import on_writer

    try:
        fb = await _body_of(request, service_id, FeedbackBody)
        if isinstance(fb, JSONResponse):
            return fb
        caller = getattr(request.state, "caller", None)
        items = [item.model_dump(exclude_none=True) for item in fb.feedback]
        await on_writer(request.app.state.feedback.record, service_id, items, getattr(caller, "iss", None))
        return JSONResponse({"recorded": len(fb.feedback)})
    except InputError as exc:  # the register cannot be opened
        return cds_error(503 if exc.problems and exc.problems[0].code == "database-unavailable" else 400,
                         str(exc), exc.problems[0].code if exc.problems else None)
    except (HTTPException, ClientDisconnect):
        raise
    except Exception:
        log.exception("CDS Hooks feedback to %s failed", service_id)
        return cds_error(500, "the CDS service failed to store the feedback; the fault is logged", "engine-fault")
