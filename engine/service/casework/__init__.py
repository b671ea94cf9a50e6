"""IFR casework in the browser: sign-in with roles, the request form, queues, the case page,
the panel pack, letters and the register check, on the NHS.UK-styled pages.

Every write goes through engine.register.store.Register (the same calls as `cpe case …` and
the API); this package only reads, checks who may act, and renders. Modules: `session`
(sign-in, signed-cookie sessions, CSRF), `actions` (what a role may do now, and why not),
`queue`, `intake` (new requests), `case`, `letters` (letters and the panel pack), `admin`.
Templates: engine/service/templates/casework/ (no inline script or style: CSP-friendly).
"""
from __future__ import annotations

from fastapi import FastAPI, Request


def install(app: FastAPI) -> None:
    """Add the casework pages, their session middleware and their refusal pages to the app."""
    from starlette.middleware.sessions import SessionMiddleware

    from engine.service.casework import admin, case, intake, letters, queue, session

    app.add_middleware(SessionMiddleware, **session.middleware_options())

    async def on_refusal(request: Request, exc: Exception):  # noqa: ANN202
        return session.refusal_page(request, exc)  # type: ignore[arg-type]

    app.add_exception_handler(session.Refusal, on_refusal)
    for module in (session, queue, intake, case, letters, admin):
        app.include_router(module.router)
