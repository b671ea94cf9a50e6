"""The web pages: medicine look-up, eligibility checker, policy documents (server-rendered, NHS.UK styles).

Every page works without JavaScript and with the keyboard alone: plain links, forms and
native controls; script only adds search-as-you-type on the look-up page.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from engine.errors import InputError
from engine.language.explain import COMMISSIONING_WORDS, OUTCOME_WORDS, ROUTE_WORDS, value_text
from engine.language.suite import Suite
from engine.service import forms

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS_WORDS = {"met": "Met", "unmet": "Not met", "unknown": "Not known"}
STATUS_COLOURS = {"met": "green", "unmet": "red", "unknown": "grey"}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES),
                                  jinja2.PackageLoader("nhsuk_frontend_jinja", "templates")])
    # auto_reload off: the templates are package data, and a stat of every template and macro file
    # on every page was a tenth of a worker's time under load
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.ChainableUndefined, auto_reload=False,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(outcome_words=OUTCOME_WORDS, route_words=ROUTE_WORDS, status_words=STATUS_WORDS,
                       status_colours=STATUS_COLOURS, value_text=value_text)
    return env


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(environment().get_template(name).render(**context), status_code=status)


def _suite(request: Request) -> Suite:
    return request.app.state.suite


def _not_found(message: str, section: str) -> HTMLResponse:
    return page("not_found.html", 404, title="Page not found", message=message, section=section)


@router.get("/", response_class=HTMLResponse)
def home() -> HTMLResponse:
    return page("home.html", title="Home", section="home")


# -- eligibility checker ---------------------------------------------------------------------
@router.get("/eligibility", response_class=HTMLResponse)
def eligibility_index(request: Request) -> HTMLResponse:
    rows = [{"id": p.id, "title": p.title, "commissioning_words": COMMISSIONING_WORDS[p.commissioning].rstrip("."),
             "versions": [v.version for v in p.versions]} for p in _suite(request).policies()]
    return page("eligibility_index.html", title="Eligibility checker", section="eligibility", policies=rows)


def _version_items(policy: Any, chosen: str) -> list[dict[str, Any]]:
    items = [{"value": "", "text": "In force on the referral date", "selected": chosen == ""}]
    for v in policy.versions:
        when = f"from {v.effective_from}" if v.effective_from else "not in force"
        items.append({"value": v.version, "text": f"{v.version} ({v.status}, {when})", "selected": chosen == v.version})
    return items


def _form_page(request: Request, policy_id: str, values: Mapping[str, str], errors: Mapping[str, str],
               version: str, on_text: str, on_error: str | None = None, decision: Any = None,
               status: int = 200) -> HTMLResponse:
    s = _suite(request)
    policy = s.policy(policy_id)
    day = dt.date.fromisoformat(on_text) if on_text and not on_error else None
    try:
        rv = s.select(policy_id, version=version or None, on=day)
    except InputError as exc:  # no version in force on that day: offer the form of the newest version
        rv = s.resolved(policy_id, policy.versions[-1].version)
        on_error = on_error or str(exc.problems[0].message)
    groups = forms.groups(rv, s.attributes, values, errors)
    error_list = ([{"text": on_error, "href": "#on"}] if on_error else []) + [
        {"text": f.error, "href": f"#{f.name}"} for g in groups for f in g.fields if f.error]
    labels = {f.name: f.label for g in groups for f in g.fields}
    labels.update({n: s.attributes[n].description for n in s.attributes.names() if n not in labels})
    letter_fields = [("version", version), ("on", on_text)] + [(k, v) for k, v in values.items() if v]
    return page("eligibility_form.html", status, title=policy.title, section="eligibility", policy=policy,
                scope=rv.scope, groups=groups, version_items=_version_items(policy, version), on_value=on_text,
                on_error=on_error, error_list=error_list, error_count=len(error_list), d=decision,
                labels=labels, field_ids={}, letter=decision is not None and _has_render(),
                letter_fields=letter_fields)


@router.get("/eligibility/{policy_id}", response_class=HTMLResponse)
def eligibility_form(request: Request, policy_id: str, version: Optional[str] = None) -> HTMLResponse:
    if policy_id not in _suite(request).ids():
        return _not_found(f"There is no policy called {policy_id!r}.", "eligibility")
    return _form_page(request, policy_id, {}, {}, version or "", "")


async def _answers(request: Request) -> tuple[dict[str, str], str, str]:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    return values, values.pop("version", "").strip(), values.pop("on", "").strip()


def _decide(request: Request, policy_id: str, values: dict[str, str], version: str, on_text: str
            ) -> tuple[Any, dict[str, str], str | None, Any]:
    """(decision or None, field errors, date error, resolved version) for the form's answers."""
    from engine.language.decide import decide

    s = _suite(request)
    on_error = None
    day = None
    if on_text:
        try:
            day = dt.date.fromisoformat(on_text)
        except ValueError:
            on_error = "Enter the referral date as year-month-day, like 2024-05-31, or leave it blank"
    try:
        rv = s.select(policy_id, version=version or None, on=day)
    except InputError as exc:
        return None, {}, on_error or exc.problems[0].message, None
    fields = [f for g in forms.groups(rv, s.attributes) for f in g.fields]
    facts, errors = forms.facts_from_form(values, fields, s.attributes)
    if errors or on_error:
        return None, errors, on_error, rv
    return decide(rv, facts, day), {}, None, rv


@router.post("/eligibility/{policy_id}", response_class=HTMLResponse)
async def eligibility_decision(request: Request, policy_id: str) -> HTMLResponse:
    if policy_id not in _suite(request).ids():
        return _not_found(f"There is no policy called {policy_id!r}.", "eligibility")
    values, version, on_text = await _answers(request)
    d, errors, on_error, _ = _decide(request, policy_id, values, version, on_text)
    return _form_page(request, policy_id, values, errors, version, on_text, on_error, d,
                      status=200 if d is not None else 422)


@router.post("/eligibility/{policy_id}/letter")
async def eligibility_letter(request: Request, policy_id: str) -> Response:
    """The decision letter (engine.reports.render) for the same answers."""
    if policy_id not in _suite(request).ids() or not _has_render():
        return _not_found("There is no decision letter for this request.", "eligibility")
    values, version, on_text = await _answers(request)
    d, errors, on_error, _ = _decide(request, policy_id, values, version, on_text)
    if d is None:
        return await eligibility_decision(request, policy_id)
    from engine.ifr.routing import plan
    from engine.reports.render import render_decision

    html = render_decision(d, plan(d, _suite(request).attributes), "html")
    return HTMLResponse(html.decode("utf-8"))


def _has_render() -> bool:
    try:
        import engine.ifr.routing  # noqa: F401
        import engine.reports.render  # noqa: F401
    except ImportError:
        return False
    return True


# -- policy documents --------------------------------------------------------------------------
@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request) -> HTMLResponse:
    rows = []
    for p in _suite(request).policies():
        rows.append({"id": p.id, "title": p.title, "commissioning": COMMISSIONING_WORDS[p.commissioning],
                     "versions": [{"version": v.version, "status": v.status, "effective_from": v.effective_from,
                                   "summary": v.summary} for v in p.versions]})
    return page("policies.html", title="Policies", section="policies", policies=rows, documents=_has_render())


@router.get("/policies/{policy_id}/{version}")
def policy_document(request: Request, policy_id: str, version: str) -> Response:
    """The policy document, rendered from the same rules the engine runs."""
    s = _suite(request)
    if policy_id not in s.ids() or not _has_render():
        return _not_found(f"There is no policy called {policy_id!r}.", "policies")
    if version not in [v.version for v in s.policy(policy_id).versions]:
        return _not_found(f"Policy {policy_id!r} has no version {version!r}.", "policies")
    from engine.reports.render import render_policy

    return HTMLResponse(render_policy(s.resolved(policy_id, version), "html").decode("utf-8"))


# -- medicine look-up --------------------------------------------------------------------------
def _results_context(q: str, indication: str) -> dict[str, Any]:
    from engine.service.medicines import lookup_json, statuses, understood_text

    by_id = {s["id"]: s for s in statuses()}
    if not q.strip():
        return {"q": "", "indication": indication, "matches": [], "unstated": []}
    out = lookup_json(q, indication or None)

    def shaped(m: dict[str, Any]) -> dict[str, Any]:
        return {**m, "status_info": by_id.get(m["status"], {})}

    return {"q": q, "indication": indication, "matches": [shaped(m) for m in out["matches"]],
            "unstated": [shaped(m) for m in out.get("indication_not_stated", [])],
            "excluded": [shaped(m) for m in out.get("indication_excluded", [])],
            "understood_text": understood_text(out.get("understood") or {})}


def _formulary_name() -> str:
    from engine.service.medicines import index

    return index().formulary.get("name", "formulary")


@router.get("/medicines", response_class=HTMLResponse)
def medicines_page(q: str = "", indication: str = "") -> HTMLResponse:
    from engine.service.medicines import badge_class, statuses

    return page("medicines.html", title=f"Medicine look-up{': ' + q if q else ''}", section="medicines",
                statuses=statuses(), badge_class=badge_class, formulary_name=_formulary_name(),
                **_results_context(q, indication))


@router.get("/medicines/results", response_class=HTMLResponse)
def medicines_results(q: str = "", indication: str = "") -> HTMLResponse:
    """The results fragment, for search as you type."""
    from engine.service.medicines import badge_class

    return page("_results.html", badge_class=badge_class, **_results_context(q, indication))


@router.get("/formulary-status.css")
def status_stylesheet() -> Response:
    """The formulary's status colours as classes (the pages carry no inline styles)."""
    from engine.service.medicines import status_css

    return Response(status_css(), media_type="text/css", headers={"cache-control": "no-cache"})


@router.get("/medicines/{entry_id}", response_class=HTMLResponse)
def medicine_page(request: Request, entry_id: str) -> HTMLResponse:
    from engine.service.medicines import entry

    m = entry(entry_id)
    if m is None:
        return _not_found(f"There is no formulary entry {entry_id!r}.", "medicines")
    return _medicine_page(request, m, _entry_rows(m))


def _as_version(e: Any) -> Any:
    """A formulary entry's criteria in the shape the form builder reads from a policy version."""
    return SimpleNamespace(scope_criteria=(), criteria=e.criteria, refs={})


def _entry_rows(m: Any) -> list[tuple[str, Any]]:
    j = m.to_json()
    e = m.entry
    src = e.get("source") or {}
    rows = [("Formulation", j.get("formulation")), ("Route", j.get("route")),
            ("Restriction", j.get("restrictions")), ("Line of therapy", j.get("line_of_therapy")),
            ("Prior approval", "Required" if j.get("prior_approval") else None),
            ("Individual funding request", f"Available ({j['ifr_basis']})" if j["ifr_available"]
             else j["ifr_basis"][:1].upper() + j["ifr_basis"][1:]),
            ("Restriction criteria", ", ".join(j.get("criteria") or []) or None),
            ("Status note", j.get("status_note")), ("Notes", j.get("notes")),
            ("NICE technology appraisal", j.get("nice_ta")), ("Commissioner", j.get("commissioner")),
            ("Decided by", j.get("decision_body")), ("Decision date", j.get("decision_date")),
            ("Reason", j.get("reason")), ("Review date", j.get("review_date")),
            ("Source", f"{src.get('citation', '')} [{src.get('provenance', '')}]" if src else None)]
    return rows


@router.post("/medicines/{entry_id}", response_class=HTMLResponse)
async def medicine_check(request: Request, entry_id: str) -> HTMLResponse:
    """Does this patient meet the entry's restriction? The same decide() as `cpe rag --patient`."""
    from engine.formulary.entries import decide_entry
    from engine.service.medicines import entry, restriction

    m, found = entry(entry_id), restriction(entry_id)
    if m is None or found is None:
        return _not_found(f"There is no formulary entry {entry_id!r}.", "medicines")
    e, vocab = found
    values = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    fields = [f for g in forms.groups(_as_version(e), _suite(request).attributes) for f in g.fields]
    facts, errors = forms.facts_from_form(values, fields, _suite(request).attributes)
    if errors:
        return _medicine_page(request, m, _entry_rows(m), values, errors, status=422)
    return _medicine_page(request, m, _entry_rows(m), values, check=decide_entry(e, vocab, facts))


def _medicine_page(request: Request, m: Any, rows: list, values: Mapping[str, str] | None = None,
                   errors: Mapping[str, str] | None = None, check: Any = None, status: int = 200) -> HTMLResponse:
    """The entry's page; with criteria, a form to check one patient against its restriction."""
    from engine.service.medicines import badge_class, restriction

    j = m.to_json()
    e, _ = restriction(m.id) or (None, None)
    groups = []
    if e is not None and e.criteria:
        groups = forms.groups(_as_version(e), _suite(request).attributes, values, errors)
    error_list = [{"text": f.error, "href": f"#{f.name}"} for g in groups for f in g.fields if f.error]
    return page("medicine.html", status, title=j["medicine"].capitalize(), section="medicines",
                badge_class=badge_class, m={**j, "status_info": m.status, "formulary": m.formulary.get("name")},
                rows=rows, groups=groups, check=check, error_list=error_list, error_count=len(error_list))
