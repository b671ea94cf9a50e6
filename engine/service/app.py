"""The application: one Suite shared by the API, CDS Hooks and the pages; errors in one shape."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from engine.errors import InputError
from engine.language.suite import Suite
from engine.service import errors, schemas

HERE = Path(__file__).resolve().parent


def create_app(policies: Path | None = None) -> FastAPI:
    """A fresh app over the policies folder (default: this checkout's, or $CPE_POLICIES)."""
    from engine.service import api, cds, pages, security
    from engine.service.feedback import FeedbackStore

    # /docs is served from vendored Swagger UI files (static/swagger), never from a CDN; no ReDoc.
    app = FastAPI(title="Commissioning policy engine", version=_version(), docs_url=None, redoc_url=None,
                  description="NHS commissioning policies and the medicines formulary as rules: "
                              "eligibility decisions, RAG look-up and CDS Hooks for prescribing systems.")
    app.state.suite = Suite(policies)
    app.state.feedback = FeedbackStore()  # CDS Hooks feedback, in the register database
    from engine.service.cds_auth import warn_if_development

    warn_if_development()
    # CDS Hooks clients call from the browser (the spec requires CORS); nothing here uses cookies.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["*"])
    # Defences on every response (CSP, framing, sniffing, referrer); the body limit, whose 413 and a
    # client hanging up mid-body are answered in the service's terms by the handlers below.
    app.add_middleware(security.BodyLimit, limit=security.max_body())
    app.add_middleware(security.SecurityHeaders)
    # on the CDS Hooks paths every error is an OperationOutcome (errors.cds_aware)
    from starlette.exceptions import HTTPException as StarletteHTTPException

    app.add_exception_handler(413, errors.cds_aware(security.on_body_too_large))
    app.add_exception_handler(StarletteHTTPException, errors.on_http_error)
    app.add_exception_handler(ClientDisconnect, security.on_client_disconnect)
    app.add_exception_handler(InputError, errors.cds_aware(errors.on_input_error))
    app.add_exception_handler(RequestValidationError, errors.cds_aware(errors.on_validation_error))
    app.add_exception_handler(405, errors.cds_aware(errors.on_method_not_allowed))
    app.include_router(api.router)
    app.include_router(cds.router)
    _include_register(app)
    # IFR casework pages: their router, signed-cookie session middleware and refusal pages
    from engine.service.casework import install as install_casework

    install_casework(app)
    from engine.service.workbench import install as install_workbench

    install_workbench(app)
    app.include_router(pages.router)
    app.mount("/assets", StaticFiles(directory=HERE / "static"), name="assets")
    app.add_api_route("/docs", lambda: pages.page("api_docs.html", title=app.title), include_in_schema=False)
    _document_bodies(app)
    return app


def _include_register(app: FastAPI) -> None:
    """The IFR case register's API, when that part of the engine is present."""
    try:
        from engine.service.register_api import router
    except ImportError:
        return
    app.include_router(router)


def _document_bodies(app: FastAPI) -> None:
    """Bodies read by hand (to map malformed JSON to 422) still get a schema in OpenAPI."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        comps["Patient"] = schemas.patient_schema(app.state.suite.attributes)
        comps["FhirBundle"] = schemas.FHIR_BUNDLE_SCHEMA
        comps["EvaluateBody"] = {"anyOf": [{"$ref": "#/components/schemas/Patient"},
                                           {"$ref": "#/components/schemas/FhirBundle"}]}
        from engine.service.cds import request_schemas

        comps.update(request_schemas())
        _describe_parameters(doc, app.state.suite)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_parameters(doc: dict[str, Any], suite: Suite) -> None:
    """Policy ids, version labels and dates as precisely as OpenAPI can say them."""
    shapes: dict[str, dict[str, Any]] = {"policy_id": {"type": "string", "enum": suite.ids()},
              "version": {"type": "string", "pattern": r"^(\d{4}-\d{2}-\d{2}|draft-\d{4})$"},
              "on": {"type": "string", "format": "date"}}
    for path in doc.get("paths", {}).values():
        for op in path.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("name") in shapes and param.get("in") in ("path", "query"):
                    param["schema"] = {**shapes[param["name"]], "title": param["schema"].get("title", "")}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("cpe")
    except Exception:  # not installed: running from a checkout
        return "0.0.0"


def serving_app(policies: Path | None = None) -> FastAPI:
    """The app `cpe serve` runs in each worker: create_app, the formulary's index and validated
    entries built now, and every other first-request cost paid by the lifespan's warm-up before the
    worker listens (engine/service/warm.py: cold, the first of 200 clients waited 2-3 s)."""
    from engine.formulary import lookup
    from engine.service import warm

    app = create_app(policies)
    lookup.Index.for_formulary(recheck=lookup.SERVICE_RECHECK)
    lookup.validated(recheck=lookup.SERVICE_RECHECK)
    app.router.lifespan_context = warm.lifespan
    return app
