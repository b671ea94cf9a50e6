"""What every response carries to defend the pages, and the request body limit.

`SecurityHeaders` adds a Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
Referrer-Policy and Cross-Origin-Opener-Policy to every response. The policy depends on what
the page is:

- the service's pages: scripts and styles from this origin only (no inline script but the
  NHS.UK template's one-line `js-enabled` script, allowed by its hash), fonts also from
  here (the NHS font is not loaded: NOTICE.md), no frames, forms post here only;
- printable documents (policy documents, decision letters: engine.reports) are self-contained,
  with their stylesheet inline: no script at all, inline styles only;
- the OpenAPI page (/docs) runs the vendored Swagger UI (static/swagger, started by its own
  init.js): scripts from here only; inline styles, which Swagger UI sets, allowed.

Request bodies over `CPE_MAX_BODY_BYTES` (default 5 MiB: a FHIR Bundle of a patient's whole record
is well under 1 MiB) are refused by Starlette's body limit (FastAPI `max_body_size`), whether the
size is declared (Content-Length) or only found while reading a chunked body; `on_body_too_large`
gives that 413 the service's error shape.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from starlette.exceptions import HTTPException

from engine.settings import setting

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DOCUMENT_PATHS = re.compile(r"^/(policies/[^/]+/[^/]+|eligibility/[^/]+/letter)/?$")
OPENAPI_PATHS = ("/docs",)
COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
          "cross-origin-opener-policy": "same-origin"}


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def template_script_hashes() -> tuple[str, ...]:
    """CSP hashes of the inline scripts the NHS.UK page template writes (their text is fixed)."""
    from engine.service.pages import environment

    env = environment()
    source, _, _ = env.loader.get_source(env, "nhsuk/template.jinja")  # type: ignore[union-attr]
    bodies = re.findall(r"<script[^>]*>(.*?)</script>", source, re.S)
    return tuple(_hash(b) for b in bodies if b and "{{" not in b and "{%" not in b)


def page_policy() -> str:
    scripts = " ".join(template_script_hashes())
    return ("default-src 'self'; script-src 'self' " + scripts + "; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


DOCUMENT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'self'; "
                   "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
OPENAPI_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                  "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                  "object-src 'none'")


def policy_for(path: str) -> str:
    if path in OPENAPI_PATHS:
        return OPENAPI_POLICY
    if DOCUMENT_PATHS.match(path):
        return DOCUMENT_POLICY
    return page_policy()


class SecurityHeaders:
    """Pure ASGI (no buffering): headers added as the response starts, unless already set."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**COMMON, "content-security-policy": policy_for(scope.get("path", ""))}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def max_body() -> int:
    return int(setting("max_body_bytes"))


class BodyTooLarge(HTTPException):
    """Raised from a request's receive once its body passes the limit (declared or counted): an
    HTTP 413, so the app's handler for 413 answers it, as the CDS paths' fault guard expects."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Content Too Large")


class BodyLimit:
    """Request bodies over `limit` bytes are refused with 413 in the service's own shape (an
    OperationOutcome with CORS on the CDS Hooks paths), whether the size is declared by
    Content-Length or found while reading chunks. (Starlette's own limit answered a declared
    oversize with plain text, replacing whatever the app said.) The body is never read past the
    limit: the app's read fails, and its 413 handler answers."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), None)
        over = declared is not None and declared.isdigit() and int(declared) > self.limit
        total = 0

        async def limited() -> Message:
            nonlocal total
            if over:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited, send)


async def on_body_too_large(_request: Any, exc: Exception) -> Any:
    """A body over the limit (BodyLimit) is refused with 413, in the service's shape."""
    from fastapi.responses import JSONResponse

    from engine.errors import InputError
    from engine.service.errors import error_body

    limit = max_body()
    err = InputError.of("body-too-large", f"the request body is larger than the limit of {limit} bytes",
                        hint="send a smaller body; CPE_MAX_BODY_BYTES sets the limit")
    return JSONResponse(error_body(err), status_code=413, headers={"connection": "close"})


async def on_client_disconnect(_request: Any, _exc: Exception) -> Any:
    """The client hung up while sending its body: nobody to answer, and nothing to log as a fault."""
    from fastapi.responses import Response

    return Response(status_code=400)
