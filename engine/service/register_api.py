"""The register over HTTP: a FastAPI router the service includes (engine.service.app).

Paths: /api/cases…, /api/register/…; every call needs `Authorization: Bearer TOKEN` (see
engine.register.auth). Errors have the service's shape, {"detail", "problems"}: 401 no or
unknown token, 403 role not allowed, 404 unknown case, 409 workflow refused the event, 422
bad input. Logs carry case refs, actions and the caller's name only: never patient facts,
patient references or grounds.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any, Optional

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from engine.errors import InputError
from engine.register import auth, workflow
from engine.service.errors import input_error_response
from engine.service.pools import on_writer

log = logging.getLogger("cpe.register.api")
router = APIRouter(tags=["register"])


class CaseIn(BaseModel):
    policy_id: str = Field(description="policy id, e.g. hip-arthroscopy")
    patient: dict[str, Any] = Field(default_factory=dict, description="attribute name → value (absent = unknown)")
    on: Optional[str] = Field(None, description="referral date YYYY-MM-DD: picks the version in force")
    version: Optional[str] = Field(None, description="a version label instead of `on`")
    grounds: Optional[str] = Field(None, description="the stated grounds for exceptionality")
    requester: Optional[str] = Field(None, description="the requesting clinician (default: the caller)")
    patient_ref: Optional[str] = Field(None, description="a local patient reference; stored, never logged")


class CaseOut(BaseModel):
    ref: str
    decision: dict[str, Any]
    signals: list[dict[str, Any]] = []


class ProblemOut(BaseModel):
    code: str
    message: str
    file: Optional[str] = None
    line: Optional[int] = None
    hint: Optional[str] = None


class ErrorOut(BaseModel):
    detail: str
    problems: list[ProblemOut] = []


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Every refusal an endpoint can give, in one documented shape (400 and 422 on every endpoint:
    a body that does not parse, and query or body values the checks refuse)."""
    what = {400: "The request body could not be parsed", 401: "No valid bearer token",
            403: "The caller's role may not do this", 404: "No such case",
            409: "The workflow does not allow this event now", 422: "Bad input: the CLI's message"}
    return {c: {"model": ErrorOut, "description": what[c]} for c in sorted({400, 401, 403, 422, *codes})}


class EventIn(BaseModel):
    action: str = Field(description="screen, refer, screen_out, request_information, information_received, withdraw, request_review or close")
    note: Optional[str] = None


class DecisionIn(BaseModel):
    outcome: str = Field(description="approved or declined")
    reason: str = Field(description="the panel's reasons")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return input_error_response(InputError.of(code, message), status)


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        self.response = _error(status, code, message)


def _input_error(exc: InputError) -> JSONResponse:
    status = 422
    codes = {p.code for p in exc.problems}
    if isinstance(exc, workflow.Rejected) and "unknown-action" not in codes:
        status = 409
    elif "unknown-case" in codes:
        status = 404
    return input_error_response(exc, status)


def _tokens(request: Request) -> auth.Tokens:
    tokens = getattr(request.app.state, "register_tokens", None)
    if tokens is None:
        tokens = request.app.state.register_tokens = auth.load_tokens()
    return tokens


def principal(request: Request) -> auth.Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = _tokens(request).lookup(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if who is None:
        log.info("register api refused: no valid token path=%s", request.url.path)
        raise Refused(401, "unauthorised", "a valid bearer token is required")
    return who


def _register(request: Request):
    return register_of(request.app)


def register_of(app: Any):
    """The app's one Register, opened on first use (or by the serving app's warm-up, engine/service/warm.py)."""
    reg = getattr(app.state, "register", None)
    if reg is None:
        from engine.register.store import Register

        reg = app.state.register = Register(suite=getattr(app.state, "suite", None))
    return reg


def _need(who: auth.Principal, roles: frozenset[str] | set[str], what: str) -> None:
    if who.role not in roles:
        log.info("register api refused: role=%s may not %s", who.role, what)
        raise Refused(403, "forbidden", f"role {who.role} may not {what} (needs {' or '.join(sorted(roles))})")


def _guarded(request: Request, roles: frozenset[str] | set[str] | None, what: str, fn) -> Any:
    """Authenticate, authorise, run; refusals and bad input become JSON responses."""
    try:
        who = principal(request)
        if roles is not None:
            _need(who, roles, what)
        return fn(who)
    except Refused as r:
        return r.response
    except InputError as exc:
        return _input_error(exc)


# The body is read by hand (the strict reader), so its schema is stated here for OpenAPI.
_CASE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": CaseIn.model_json_schema()}}}}


@router.post("/api/cases", status_code=201, responses={**_errors(422), 201: {"model": CaseOut,
             "description": "The case created (or, for a repeated Idempotency-Key, the case it created)"}},
             openapi_extra=_CASE_BODY, summary="Record an IFR and the engine's decision (ifr_officer)")
async def create_case(request: Request, idempotency_key: Optional[str] = Header(
        None, description="a key of the client's own: the same key again returns the case it created "
                          "(header Idempotent-Replayed: true) instead of creating another")) -> Any:

    raw = await request.body()

    def go(who: auth.Principal) -> Any:
        body = _case_in(raw)
        out = _register(request).new_case(body.policy_id, body.patient, on=_date(body.on), version=body.version,
                                          grounds=body.grounds, requester=body.requester or who.name,
                                          actor=who.actor, patient_ref=body.patient_ref,
                                          idempotency_key=idempotency_key)
        replayed = out.pop("replayed", False)
        log.info("register api: %s %s %s", who.name, "replayed" if replayed else "created", out["ref"])
        return JSONResponse(out, status_code=201, headers={"Idempotent-Replayed": "true"} if replayed else None)
    return await on_writer(_guarded, request, auth.CREATE, "create cases", go)


def _case_in(raw: bytes) -> CaseIn:
    """The body read by the engine's strict reader (duplicate keys, NaN, long numbers refused), then checked."""
    from pydantic import ValidationError

    from engine.language.load import problems_from
    from engine.language.source import parse_json

    if not raw.strip():
        raise InputError.of("invalid-json", "the request body is empty; send a JSON object")
    data = parse_json(raw)
    try:
        return CaseIn.model_validate(data)
    except ValidationError as exc:
        raise InputError([p for p in problems_from(exc, data, None, "bad-request")]) from None


@router.get("/api/cases", responses=_errors(422), summary="List cases (any role)")
def list_cases(request: Request, policy: Optional[str] = Query(None), state: Optional[str] = Query(None)) -> Any:
    return _guarded(request, auth.READ, "read cases", lambda who: _register(request).list_cases(policy, state))


@router.get("/api/cases/{ref}", responses=_errors(404, 422), summary="A case with its decision and history (any role)")
def show_case(ref: str, request: Request) -> Any:
    return _guarded(request, auth.READ, "read cases", lambda who: _register(request).show(ref))


@router.post("/api/cases/{ref}/events", responses=_errors(404, 409, 422), summary="Move a case through the workflow (ifr_officer)")
async def post_event(ref: str, body: EventIn, request: Request) -> Any:
    def go(who: auth.Principal) -> Any:
        if body.action == "decide":
            raise InputError.of("bad-request", "post panel decisions to /api/cases/{ref}/decision")
        if body.action in workflow.ACTIONS:
            _need(who, workflow.roles_for(body.action), body.action.replace("_", " "))
        out = _register(request).transition(ref, body.action, actor=who.actor, note=body.note)
        log.info("register api: %s %s %s", who.name, body.action, ref)
        return out
    return await on_writer(_guarded, request, None, "", go)


@router.post("/api/cases/{ref}/decision", responses=_errors(404, 409, 422), summary="Record the panel's decision (panel)")
async def post_decision(ref: str, body: DecisionIn, request: Request) -> Any:
    def go(who: auth.Principal) -> Any:
        out = _register(request).transition(ref, "decide", actor=who.actor, outcome=body.outcome, reason=body.reason)
        log.info("register api: %s decided %s", who.name, ref)
        return out
    return await on_writer(_guarded, request, workflow.roles_for("decide"), "record panel decisions", go)


@router.get("/api/register/verify", responses=_errors(), summary="Verify the audit chain and re-evaluate every decision (admin)")
def verify_register(request: Request) -> Any:
    from engine.register.verify import verify

    return _guarded(request, auth.MANAGE, "verify the register", lambda who: verify(_register(request)).to_json())


@router.get("/api/register/signals", responses=_errors(), summary="Service development signals (admin)")
def signals(request: Request) -> Any:
    return _guarded(request, auth.MANAGE, "read signals", lambda who: _register(request).signals())


@router.get("/api/register/export", responses=_errors(), summary="The audit trail as JSON lines (admin)")
def export(request: Request, fhir: bool = Query(False, description="FHIR R4 AuditEvent resources")) -> Any:
    from engine.register.export import entries, fhir_audit_event

    def go(who: auth.Principal) -> Any:
        reg = _register(request)

        def lines() -> Iterator[str]:
            for e in entries(reg):
                yield json.dumps(fhir_audit_event(e) if fhir else e, ensure_ascii=False, sort_keys=True) + "\n"
        return StreamingResponse(lines(), media_type="application/x-ndjson")
    return _guarded(request, auth.MANAGE, "export the audit trail", go)


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    from engine.language.versions import parse_date

    return parse_date(text, "on")
