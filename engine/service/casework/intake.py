"""A new request, starting from the eligibility checker's form for the chosen policy: the
patient's answers (or a FHIR Bundle), the referral date and the clinician's stated grounds.
Recording it is Register.new_case, the same call as `cpe case new` and POST /api/cases, which
stores the engine's decision and route under the policy digest; the screening of the grounds
is recomputed from the stored grounds wherever it is shown.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.errors import InputError
from engine.service import forms
from engine.service.casework.session import form, need, register, render

router = APIRouter(include_in_schema=False)
CREATE = ("ifr_officer",)


@router.get("/casework/new", response_class=HTMLResponse)
def choose_policy(request: Request) -> HTMLResponse:
    account = need(request, CREATE, "record a new request")
    rows = [{"id": p.id, "title": p.title} for p in request.app.state.suite.policies()]
    return render(request, "new_choose.html", account=account, title="New request", policies=rows)


def _page(request: Request, account: Any, policy_id: str, values: Mapping[str, str], errors: Mapping[str, str],
          status: int = 200, preview: Any = None) -> HTMLResponse:
    s = request.app.state.suite
    policy = s.policy(policy_id)
    try:  # the form of the version in force on the referral date, else of the newest version
        rv = s.select(policy_id, on=dt.date.fromisoformat(values.get("on", "").strip()))
    except (ValueError, InputError):
        rv = s.resolved(policy_id, policy.versions[-1].version)
    groups = forms.groups(rv, s.attributes, values, errors)
    labels = {n: s.attributes[n].description for n in s.attributes.names()}
    own = [(k, errors[k]) for k in ("on", "grounds", "bundle", "record") if k in errors]
    error_list = [{"text": msg, "href": f"#{k}"} for k, msg in own] + [
        {"text": f.error, "href": f"#{f.name}"} for g in groups for f in g.fields if f.error]
    return render(request, "new_form.html", status, account, title=f"New request: {policy.title}", policy=policy,
                  groups=groups, group_heading="h3", values=values, errors=errors, error_list=error_list,
                  error_count=len(error_list), d=preview, labels=labels, field_ids={}, letter=False)


@router.get("/casework/new/{policy_id}", response_class=HTMLResponse)
def request_form(request: Request, policy_id: str) -> Response:
    account = need(request, CREATE, "record a new request")
    if policy_id not in request.app.state.suite.ids():
        return RedirectResponse("/casework/new", status_code=303)
    return _page(request, account, policy_id, {}, {})


async def _bundle_facts(upload: Any, on: dt.date | None) -> tuple[dict[str, Any], str | None]:
    """Facts from an uploaded FHIR R4 Bundle (engine.fhir.facts), or the reason it cannot be read."""
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return {}, None
    from engine.fhir.facts import from_bundle

    raw = await upload.read()
    try:
        return dict(from_bundle(json.loads(raw.decode("utf-8")), on, upload.filename).facts), None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}, "The FHIR Bundle must be a JSON file"
    except InputError as exc:
        return {}, f"The FHIR Bundle cannot be used: {exc.problems[0].message}"


def _read(request: Request, policy_id: str, data: Any, values: dict[str, str], bundle: dict[str, Any]
          ) -> tuple[dict[str, Any], dict[str, str], dt.date | None]:
    """(facts, errors, referral date) from the form: typed answers override the Bundle's."""
    s = request.app.state.suite
    errors: dict[str, str] = {}
    on = None
    try:
        on = dt.date.fromisoformat(values.get("on", "").strip())
    except ValueError:
        errors["on"] = "Enter the referral date as year-month-day, like 2024-05-31"
    if not values.get("grounds", "").strip():
        errors["grounds"] = "Enter the clinician's stated grounds for the request"
    if on is None:
        return {}, errors, on
    try:  # the version in force on the referral date judges the request (never a draft)
        rv = s.select(policy_id, on=on)
    except InputError as exc:
        errors["on"] = exc.problems[0].message
        return {}, errors, on
    fields = [f for g in forms.groups(rv, s.attributes) for f in g.fields]
    typed, field_errors = forms.facts_from_form(values, fields, s.attributes)
    errors.update(field_errors)
    return {**bundle, **typed}, errors, on


@router.post("/casework/new/{policy_id}", response_class=HTMLResponse)
async def record_request(request: Request, policy_id: str) -> Response:
    data = await form(request)
    account = need(request, CREATE, "record a new request")
    if policy_id not in request.app.state.suite.ids():
        return RedirectResponse("/casework/new", status_code=303)
    values = {k: str(v) for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}
    on_text = values.get("on", "").strip()
    bundle, bundle_error = await _bundle_facts(data.get("bundle"), _date_or_none(on_text))
    facts, errors, on = _read(request, policy_id, data, values, bundle)
    if bundle_error:
        errors["bundle"] = bundle_error
    if "preview" in data:  # the eligibility check alone: nothing is recorded
        errors.pop("grounds", None)
        if not errors:
            return _page(request, account, policy_id, values, {}, preview=_decision(request, policy_id, facts, on))
    if errors:
        return _page(request, account, policy_id, values, errors, 422)
    try:
        out = register(request).new_case(policy_id, facts, on=on,
                                         grounds=values["grounds"].strip(),
                                         requester=values.get("requester", "").strip() or None,
                                         patient_ref=values.get("patient_ref", "").strip() or None,
                                         actor=account.actor)
    except InputError as exc:
        return _page(request, account, policy_id, values, {"record": str(exc.problems[0].message)}, 422)
    return RedirectResponse(f"/casework/cases/{out['ref']}?created=1", status_code=303)


def _decision(request: Request, policy_id: str, facts: dict[str, Any], on: dt.date | None) -> Any:
    from engine.language.decide import decide
    from engine.language.patient import validate_patient

    s = request.app.state.suite
    return decide(s.select(policy_id, on=on), validate_patient(facts, s.attributes), on)


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
