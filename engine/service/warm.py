"""Each worker ready before it accepts its first connection.

A worker's first request of each kind used to pay for work done once: the register's database
opened and its schema checked (a quarter of a second), the pages' templates compiled (nearly half a
second for the look-up page), a policy's compiled rules, the CDS clients' keys, pydantic's
validators. When 200 clients connected to a fresh server at once, every one of them queued behind
that — and several threads compiled the same template side by side — so the first requests took
2–3 s (benchmarks/load.py, docs/performance.md). uvicorn runs the app's lifespan start-up before the
worker listens, so doing that work here costs no request anything.

The warm-up only reads: one in-process request of each read-only kind through the app itself (no
socket; the full middleware stack), and the CDS Hooks card path called directly (a CDS request
needs a trusted JWT, which the service cannot make for itself). A part that fails is logged and
left to happen on the first request, as before; it never stops the service from starting.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI

log = logging.getLogger("cpe.serve")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The serving app's lifespan: CPU work bounded, warm, then serve."""
    from engine.service.pools import bound_cpu_threads

    bound_cpu_threads()
    await warm(app)
    yield


async def warm(app: FastAPI) -> dict[str, float]:
    """Do each first-request cost now; {part: seconds}, each part's failure logged, never raised."""
    from engine.service.pools import on_cpu, on_writer

    timings: dict[str, float] = {}
    medicine = _sample_medicine()
    parts: list[tuple[str, Callable[[], Any], bool]] = [
        ("register", lambda: _open_register(app), True),
        ("templates", _compile_templates, False),
        ("cds", lambda: _cds_parts(app, medicine), False),
    ]
    for name, fn, writes in parts:
        t = time.perf_counter()
        try:
            await (on_writer(fn) if writes else on_cpu(fn))
        except Exception as exc:  # left for the first request, which reports it in the service's terms
            log.warning("warm-up: %s not prepared (%s: %s); the first request will do it", name,
                        type(exc).__name__, exc)
        timings[name] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        await _requests(app, medicine or "paracetamol")
    except Exception as exc:
        log.warning("warm-up requests failed (%s: %s)", type(exc).__name__, exc)
    timings["requests"] = time.perf_counter() - t
    log.info("worker warmed in %.2f s (%s)", sum(timings.values()),
             ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    return timings


def _open_register(app: FastAPI) -> None:
    """The register's engine made and its schema checked, as the register API would on its first call."""
    try:
        from engine.service.register_api import register_of
    except ImportError:   # the register extra is not installed: its API is not mounted either
        return
    from sqlalchemy.orm import configure_mappers

    register_of(app)
    configure_mappers()


def _compile_templates() -> None:
    """Every page template compiled into the pages' environment (its cache keeps them: auto_reload is off)."""
    from engine.service import pages

    env = pages.environment()
    for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
        env.get_template(name)


def _sample_medicine() -> str | None:
    """The formulary's first medicine, to look up and order in the warm-up (None: an empty formulary)."""
    from engine.formulary.lookup import SERVICE_RECHECK, Index

    entries = Index.for_formulary(recheck=SERVICE_RECHECK).entries
    return str(entries[0]["medicine"]) if entries else None


def _cds_parts(app: FastAPI, medicine: str | None) -> None:
    """What a CDS call does after its JWT is verified, on a sample order; and the trusted keys built."""
    from engine.service import cds_auth
    from engine.service.cards import cards_for
    from engine.service.cds import HookRequest

    cds_auth.prepare_keys()
    if medicine is None:   # an empty formulary: no order to judge
        return
    context = {"userId": "Practitioner/warm", "patientId": "warm", "draftOrders": {
        "resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": "MedicationRequest", "id": "warm", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"text": medicine}, "subject": {"reference": "Patient/warm"}}}]}}
    HookRequest.model_validate({"hook": "order-sign", "hookInstance": "warm", "context": context})
    cards_for(context, {"patient": {"resourceType": "Patient", "id": "warm"}}, app.state.suite,
              "http://127.0.0.1", dt.date.today(), None)


async def _requests(app: FastAPI, medicine: str) -> None:
    """One request of each read-only kind, in process: the pages, the medicine look-up, each policy's
    evaluation (its compiled rules) and discovery. Not a CDS call: without a trusted JWT it would be
    refused, or in development mode logged as accepted without one (its parts are warmed directly)."""
    import httpx

    gets = ["/", "/policies", f"/medicines?q={medicine}", f"/api/medicines?q={medicine}", "/api/policies",
            "/cds-services"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://warm.invalid") as client:
        for path in gets:
            await client.get(path)
        for policy_id in app.state.suite.ids():
            await client.post(f"/api/policies/{policy_id}/evaluate", json={})
