"""The workbench pages: choose a policy and version, edit its criteria, see the analysis.

`GET /workbench/{policy}/{version}` shows the editor (`?start=LABEL` starts from another
version's criteria, e.g. the 2020 wording against the 2018 base). `POST .../analyse` analyses
the form's YAML view: a whole page without script, the analysis alone as JSON with
`?fragment=1` (what workbench.js asks for as you type). `POST /workbench/api/{policy}/{version}/check`
checks a criteria list (JSON from the structure editor, or the YAML view) and answers the
messages, the YAML view and the criteria as data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.analysis import drafts
from engine.analysis.proposal import Proposal, analyse
from engine.errors import InputError, Problem
from engine.language.explain import OUTCOME_WORDS
from engine.language.suite import Suite
from engine.reports.diff import moves_svg
from engine.reports.render import example_text
from engine.service.workbench import cohorts

router = APIRouter(include_in_schema=False)


@dataclass
class Fields:
    """What the workbench form sends (every field optional but the YAML view)."""

    yaml: str = ""
    label: str = ""
    summary: str = ""
    purpose: str = ""
    rationale: str = ""
    cohort: str = "synthetic"      # none | synthetic | upload
    n: int = 10000
    seed: int = 1
    upload_name: str = ""
    upload: bytes = b""
    fmt: str = "html"


async def read_fields(request: Request, data: Any = None) -> Fields:
    data = data if data is not None else await request.form()
    f = Fields()
    for k in ("yaml", "label", "summary", "purpose", "rationale"):
        setattr(f, k, str(data.get(k) or ""))
    f.cohort = str(data.get("cohort") or "synthetic")
    f.fmt = str(data.get("format") or "html")
    for key, default in (("n", 10000), ("seed", 1)):
        try:
            setattr(f, key, int(str(data.get(key) or default)))
        except ValueError:
            raise InputError.of("bad-option", f"{key} must be a whole number, not {data.get(key)!r}") from None
    upload = data.get("cohort_file")
    if f.cohort == "upload" and upload is not None and hasattr(upload, "read"):
        f.upload_name, f.upload = upload.filename or "", await upload.read()
    return f


def suite_of(request: Request) -> Suite:
    return request.app.state.suite


def run(suite: Suite, policy_id: str, label: str, f: Fields) -> tuple[Proposal | None, list[Problem]]:
    """The draft of the form's YAML view, analysed; the problems when it cannot be."""
    policy = suite.policy(policy_id)
    wanted = f.label.strip()
    use = wanted if wanted and drafts.label_problem(policy, wanted) is None else None
    try:
        draft = drafts.build(suite, policy_id, label, f.yaml, label=use, summary=f.summary or None)
        proposal = analyse(draft)
    except InputError as exc:
        return None, exc.problems
    try:
        if f.cohort == "synthetic":
            path = cohorts.synthetic(suite.attributes, f.n, f.seed)
            cohorts.count(proposal, path, f"synthetic cohort ({f.n:,} patients, seed {f.seed})")
            proposal.cohort_note = cohorts.SYNTHETIC_NOTE
        elif f.cohort == "upload" and f.upload:
            kept = cohorts.uploaded(f.upload_name, f.upload)
            try:
                cohorts.count(proposal, kept, f.upload_name)
            finally:
                kept.unlink(missing_ok=True)  # an upload is counted, never kept
    except InputError as exc:
        return proposal, [Problem("bad-cohort", p.message, p.location, p.hint) for p in exc.problems]
    return proposal, []


def analysis_context(proposal: Proposal | None, problems: list[Problem]) -> dict[str, Any]:
    readings = []
    if proposal is not None:
        for r in proposal.readings:
            moves = proposal.cohort.get(r.reading.label)
            readings.append({"r": r, "d": r.result, "cohort": moves, "chart": moves_svg(moves) if moves else None})
    return {"proposal": proposal, "problems": [_problem(p) for p in problems], "readings": readings,
            "example_text": example_text, "outcome_words": OUTCOME_WORDS}


def _problem(p: Problem) -> dict[str, Any]:
    return {"code": p.code, "message": p.message, "line": p.location.line, "hint": p.hint,
            "text": str(p)}


def editor(request: Request, policy_id: str, label: str, f: Fields, status: int = 200,
           analysis: dict[str, Any] | None = None, notice: str = "", error: str = "",
           start: str = "") -> HTMLResponse:
    from engine.service.casework.session import csrf_token, current
    from engine.service.pages import page

    s = suite_of(request)
    policy = s.policy(policy_id)
    base = s.resolved(policy_id, label)
    attrs = s.attributes
    dictionary = {n: {"type": attrs[n].type, "values": list(attrs[n].values or ())} for n in attrs.names()}
    return page("workbench/editor.html", status, title=f"Workbench: {policy.title}", section="workbench",
                policy=policy, base=base, f=f, analysis=analysis or analysis_context(None, []),
                label_default=drafts.default_label(policy), account=current(request), csrf=csrf_token(request),
                dictionary=dictionary, policy_ids=s.ids(), notice=notice, error=error,
                versions=[v.version for v in policy.versions], start=start or label)


@router.get("/workbench", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    from engine.service.pages import page

    rows = [{"id": p.id, "title": p.title, "versions": [(v.version, v.status) for v in p.versions]}
            for p in suite_of(request).policies()]
    return page("workbench/index.html", title="Policy workbench", section="workbench", policies=rows)


@router.get("/workbench/{policy_id}/{label}", response_class=HTMLResponse)
def editor_page(request: Request, policy_id: str, label: str, start: str = "", saved: str = "") -> Response:
    s = suite_of(request)
    try:
        base = s.resolved(policy_id, label)
        source = s.resolved(policy_id, start) if start else base
    except InputError as exc:
        from engine.service.pages import page

        return page("not_found.html", 404, title="Page not found", message=exc.problems[0].message,
                    section="workbench")
    f = Fields(yaml=drafts.criteria_yaml(source.criteria), label=drafts.default_label(s.policy(policy_id)))
    notice = f"Saved {saved} in {s.path_of(policy_id).name}: `cpe policies` lists it." if saved else ""
    return editor(request, policy_id, label, f, notice=notice, start=start)


@router.post("/workbench/{policy_id}/{label}/analyse", response_class=HTMLResponse)
async def analyse_page(request: Request, policy_id: str, label: str, fragment: int = 0) -> Response:
    f = await read_fields(request)
    s = suite_of(request)
    s.resolved(policy_id, label)  # an unknown policy or version: the service's 404/422
    proposal, problems = await run_in_threadpool(run, s, policy_id, label, f)  # CPU work off the event loop
    ctx = analysis_context(proposal, problems)
    if fragment:
        from engine.service.pages import environment

        html = environment().get_template("workbench/_analysis.html").render(analysis=ctx)
        return JSONResponse({"ok": not problems, "html": html, "problems": ctx["problems"],
                             "analysis": proposal.to_json() if proposal else None})
    return editor(request, policy_id, label, f, 200 if not problems else 422, analysis=ctx)


@router.post("/workbench/api/{policy_id}/{label}/check")
async def check(request: Request, policy_id: str, label: str) -> JSONResponse:
    """Check a criteria list: {"criteria": [...]} (the structure editor) or {"yaml": "criteria: ..."}."""
    from engine.language.source import parse_json

    body = parse_json(await request.body(), "request body")
    if not isinstance(body, dict) or not ({"criteria", "yaml"} & set(body)):
        raise InputError.of("invalid-draft", "send {\"criteria\": [...]} or {\"yaml\": \"criteria: ...\"}")
    s = suite_of(request)
    text = drafts.json_to_yaml(body["criteria"]) if "criteria" in body else str(body["yaml"])
    try:
        d = await run_in_threadpool(drafts.build, s, policy_id, label, text)
    except InputError as exc:
        return JSONResponse({"ok": False, "problems": [_problem(p) for p in exc.problems], "yaml": text})
    return JSONResponse({"ok": True, "problems": [], "yaml": text, "draft": d.version.version,
                         "criteria": [n.model_dump(mode="json", by_alias=True, exclude_none=True) for n in d.criteria],
                         "changes": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in d.changes]})
