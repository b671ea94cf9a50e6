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
