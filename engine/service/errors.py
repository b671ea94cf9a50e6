"""Errors over HTTP: the CLI's one-line InputError message, as JSON, with the problems listed.

Bad input is 422 (the contract), malformed JSON included, so every client error has one shape
that OpenAPI documents and schemathesis can check.
"""
from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.errors import InputError, Problem


def problem_json(p: Problem) -> dict[str, Any]:
    return {"code": p.code, "message": p.message, "file": p.location.file, "line": p.location.line,
            "hint": p.hint}


def error_body(exc: InputError) -> dict[str, Any]:
    return {"detail": str(exc), "problems": [problem_json(p) for p in exc.problems]}


def input_error_response(exc: InputError, status: int = 422) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=status)


async def on_input_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return input_error_response(exc)


async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own request checks (query parameters) in the same shape as InputError."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
        kind = e.get("loc", ("request",))[0]
        problems.append(Problem("bad-request", f"{kind} parameter {where!r}: {e.get('msg', 'invalid')}"))
    return input_error_response(InputError(problems or [Problem("bad-request", "invalid request")]))


async def read_json(request: Request) -> Any:
    """The request body as JSON, read by the engine's one strict reader (engine.language.source:
    duplicate keys, NaN, over-long numbers, deep nesting refused); InputError (422) otherwise."""
    from engine.language.source import parse_json

    raw = await request.body()
    if not raw.strip():
        raise InputError.of("invalid-json", "the request body is empty; send a JSON object")
    if raw.lstrip()[:1] == b"<":
        raise InputError.of("invalid-json", "the request body is XML; this service takes JSON "
                            "(FHIR resources as FHIR JSON)")
    return parse_json(raw)


async def on_method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 with an `Allow` header naming every method the OpenAPI documents for the path, not just
    one route's (a path served by two routes, such as GET and POST /api/cases, would name one)."""
    import re

    methods: set[str] = set()
    for template, ops in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in ops if m != "parameters"}
    allow = ", ".join(sorted(methods)) or getattr(exc, "headers", {}).get("Allow", "")
    return JSONResponse({"detail": f"method {request.method} is not allowed here; use {allow}"},
                        status_code=405, headers={"Allow": allow})


# -- CDS Hooks routes: every error an OperationOutcome (FHIR R4) -----------------------------------
CDS_PREFIX = "/cds-services"
#: HTTP status -> FHIR IssueType (hl7.org/fhir/R4/valueset-issue-type.html)
ISSUE_TYPE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
              412: "incomplete", 413: "too-long", 415: "not-supported", 422: "invalid", 500: "exception"}


def operation_outcome(message: str, status: int, problem: str | None = None) -> dict[str, Any]:
    """A FHIR R4 OperationOutcome with one error issue; `problem` (the engine's code) as its details."""
    from engine.settings import setting

    issue: dict[str, Any] = {"severity": "error", "code": ISSUE_TYPE.get(status, "processing"),
                             "diagnostics": message or "error"}
    if problem:
        issue["details"] = {"coding": [{"system": f"https://{setting('cds_domain')}/cds/problem", "code": problem}],
                            "text": message or problem}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def cds_error(status: int, message: str, problem: str | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(operation_outcome(message, status, problem), status_code=status, headers=headers)


def cds_input_error(exc: InputError, status: int = 400) -> JSONResponse:
    first = exc.problems[0] if exc.problems else None
    return cds_error(status, str(exc), first.code if first else None)


def cds_aware(handler: Any) -> Any:
    """An exception handler that answers on CDS Hooks paths with an OperationOutcome (same status and
    headers, the message kept), and elsewhere as before."""
    import json

    async def handle(request: Request, exc: Exception) -> Any:
        response = await handler(request, exc)
        if not request.url.path.startswith(CDS_PREFIX):
            return response
        try:
            body = json.loads(bytes(response.body))
        except (ValueError, AttributeError):
            body = {}
        problems = body.get("problems") if isinstance(body, dict) else None
        code = problems[0].get("code") if isinstance(problems, list) and problems else None
        message = body.get("detail") if isinstance(body, dict) and isinstance(body.get("detail"), str) else \
            getattr(exc, "detail", None) or str(exc) or "error"
        keep = {k: v for k, v in response.headers.items() if k.lower() in ("allow", "connection", "www-authenticate")}
        return cds_error(response.status_code, str(message), code, keep)

    return handle


async def on_http_error(request: Request, exc: Exception) -> Any:
    """Starlette's HTTPException (an unknown path, ...): FastAPI's answer, or an OperationOutcome on CDS paths."""
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    return await cds_aware(http_exception_handler)(request, exc)
