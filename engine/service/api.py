"""The JSON API of the contract: the same answers as `cpe policies`, `cpe evaluate`, `cpe rag`."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from engine.errors import InputError
from engine.language.suite import Suite
from engine.service import schemas
from engine.service.errors import read_json
from engine.service.pools import on_cpu

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": schemas.ErrorBody, "description": "Bad input: the CLI's message"}}


def suite_of(request: Request) -> Suite:
    return request.app.state.suite


def policies_json(s: Suite) -> list[dict[str, Any]]:
    """As `cpe policies --format json`."""
    return [{"id": p.id, "title": p.title, "commissioning": p.commissioning, "versions": [
        {"version": v.version, "status": v.status,
         "effective_from": v.effective_from.isoformat() if v.effective_from else None,
         "effective_to": v.effective_to.isoformat() if v.effective_to else None} for v in p.versions]}
        for p in s.policies()]


def parse_day(on: Optional[str]) -> dt.date | None:
    from engine.language.versions import parse_date

    return parse_date(on, "on") if on is not None else None


def evaluate_json(s: Suite, policy_id: str, body: Any, version: str | None, on: dt.date | None) -> dict[str, Any]:
    """As `cpe evaluate --format json`; a FHIR Bundle body is mapped first (engine.fhir.facts)."""
    from engine.language.decide import decide
    from engine.language.patient import validate_patient

    rv = s.select(policy_id, version=version, on=on)
    if isinstance(body, Mapping) and body.get("resourceType") == "Bundle":
        from engine.fhir.facts import from_bundle

        mapped = from_bundle(body, on).checked(s.attributes)  # a bad fact is dropped alone, with a note
        facts = validate_patient(mapped.facts, s.attributes, "FHIR Bundle")
        return {**decide(rv, facts, on).to_json(), "fhir": mapped.to_json()}
    if not isinstance(body, Mapping):
        raise InputError.of("bad-patient", "a patient must be a JSON object of attribute name to value "
                                           "(or a FHIR R4 Bundle)")
    facts = validate_patient(body, s.attributes)
    return decide(rv, facts, on).to_json()


@router.get("/health", response_model=schemas.HealthOut, tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """200 when the service can read its policies."""
    return {"status": "ok", "policies": len(suite_of(request).ids())}


@router.get("/api/policies", response_model=None, tags=["policies"],
            responses={200: {"model": list[schemas.PolicyOut], "description": "Every policy and its versions"}})
def list_policies(request: Request) -> JSONResponse:
    """Every policy and its versions, as `cpe policies --format json`."""
    return JSONResponse(policies_json(suite_of(request)))


def _body_doc(request_schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}}}


@router.post("/api/policies/{policy_id}/evaluate", response_model=None, tags=["policies"],
             responses={200: {"model": schemas.DecisionOut, "description": "The decision, as `cpe evaluate`"},
                        **ERRORS},
             openapi_extra=_body_doc({"$ref": "#/components/schemas/EvaluateBody"}))
async def evaluate(request: Request, policy_id: str,
                   version: Optional[str] = Query(None, description="a version label (drafts only this way)"),
                   on: Optional[str] = Query(None, description="referral date YYYY-MM-DD: the ratified "
                                                               "version in force then")) -> JSONResponse:
    """Decide one patient (a mapping of attribute to value, or a FHIR R4 Bundle) under one policy version."""
    body = await read_json(request)
    out = await on_cpu(evaluate_json, suite_of(request), policy_id, body, version, parse_day(on))
    return JSONResponse(out)


@router.get("/api/medicines", response_model=None, tags=["medicines"],
            responses={200: {"model": schemas.MedicinesOut, "description": "Formulary matches, as `cpe rag`"},
                       **ERRORS})
def medicines(q: str = Query(..., description="generic or brand name; close misspellings match"),
              indication: Optional[str] = Query(None, description="narrow to matching indications")) -> JSONResponse:
    """Look a medicine up in the formulary, as `cpe rag QUERY --format json`."""
    from engine.service.medicines import lookup_json

    return JSONResponse(lookup_json(q, indication))
