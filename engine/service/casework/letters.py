"""Letters and the panel pack, as PDF.

A letter is a covering page (the panel's decision and reasons, or what is asked of the
clinician, with the review window) followed by the engine's decision letter from the existing
report templates (engine.reports.render), printed together by WeasyPrint. The decision is
re-derived from the recorded facts under the recorded policy version and must equal the
recorded JSON, or no letter is produced (`register verify` then says what changed).
Recording a letter as sent is an audit entry (`letter.sent`) holding the letter's SHA-256.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.language.canonical import canonical_json
from engine.register import workflow
from engine.service.casework import actions
from engine.service.casework.case import LETTER_SENT, available_letters, load
from engine.service.casework.session import Refusal, form, need, register, render

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "casework" / "print"
KINDS = {"decision": "Decision letter", "more_information": "Request for more information"}
SEND = ("ifr_officer",)
PACK = ("ifr_officer", "panel")


def _env() -> jinja2.Environment:
    """The reports' HTML environment (its filters, report.css, _base.html.j2), plus these templates."""
    from engine.reports.render import environment

    base = environment("html")
    return base.overlay(loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES), *([base.loader] if base.loader else [])]))


def _engine_decision(request: Request, c: dict[str, Any]) -> Any:
    """The recorded decision as the engine's Decision object, re-derived and checked equal."""
    from engine.language.decide import decide

    ev = c["evaluations"][-1]
    suite = request.app.state.suite
    rv = suite.resolved(ev["policy_id"], ev["version"])
    on = dt.date.fromisoformat(ev["on"]) if ev["on"] else None
    d = decide(rv, c["patient"], on)
    if rv.digest != ev["digest"] or canonical_json(json.loads(json.dumps(d.to_json()))) != canonical_json(c["decision"]):
        raise Refusal(409, "Letter not produced", f"The recorded decision of {c['ref']} no longer reproduces under "
                                                  "its policy version: an administrator should run the register check.")
    return d


def letter_html(request: Request, c: dict[str, Any], kind: str) -> list[str]:
    """[covering page, engine decision letter] as HTML."""
    from engine.ifr.routing import plan
    from engine.ifr.screening import screen
    from engine.reports.render import render_decision

    d = _engine_decision(request, c)
    p = plan(d, request.app.state.suite.attributes, ccg=c["patient"].get("registered_ccg"))
    head = register(request).head()
    attrs = request.app.state.suite.attributes
    asked = [h for h in c["history"] if h["action"] == "request_information"]
    cover = _env().get_template("letter_cover.html.j2").render(
        c=c, p=d.policy, kind=kind, kind_words=KINDS[kind], issued=dt.date.today(), audit_head=head,
        panel=c["panel_decisions"][-1] if c["panel_decisions"] else None, review_until=actions.review_until(c),
        review_days=workflow.review_window_days(), asked=asked[-1] if asked else None,
        missing=[attrs[a].description if a in attrs.names() else a for a in c["decision"]["missing"]],
        title=f"{KINDS[kind]}: {c['ref']}", footer_id=c["ref"], digest=c["decision"]["policy"]["digest"])
    enclosure = render_decision(d, p, "html", ref=c["ref"], screening=screen(c["grounds"] or ""), audit_head=head)
    return [cover, enclosure.decode("utf-8")]


def pdf(htmls: list[str]) -> bytes:
    """Several HTML documents printed as one PDF (each starts on a new page)."""
    import logging

    from weasyprint import HTML

    from engine.reports.render import REPORTS_DIR

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    docs = [HTML(string=h, base_url=str(REPORTS_DIR)).render() for h in htmls]
    return docs[0].copy([pg for doc in docs for pg in doc.pages]).write_pdf()


def _letter(request: Request, ref: str, kind: str) -> tuple[dict[str, Any], list[str]]:
    c = load(request, ref)
    if kind not in KINDS or kind not in available_letters(c):
        raise Refusal(409, "No letter now", f"There is no {KINDS.get(kind, kind).lower()} for {ref} in its "
                                            f"present state ({c['state'].replace('_', ' ')}).")
    return c, letter_html(request, c, kind)


@router.get("/casework/cases/{ref}/letters/{kind}.pdf")
def letter_pdf(request: Request, ref: str, kind: str) -> Response:
    need(request)
    _, htmls = _letter(request, ref, kind)
    return Response(pdf(htmls), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{ref}-{kind}.pdf"'})


@router.post("/casework/cases/{ref}/letters/{kind}/sent", response_class=HTMLResponse)
async def letter_sent(request: Request, ref: str, kind: str) -> Response:
    await form(request)
    account = need(request, SEND, "record that a letter was sent")
    c, htmls = _letter(request, ref, kind)
    digest = "sha256:" + hashlib.sha256("".join(htmls).encode("utf-8")).hexdigest()
    payload = {"kind": kind, "letter_sha256": digest, "state": c["state"],
               "panel_decision": c["panel_decision"], "policy_digest": c["decision"]["policy"]["digest"]}
    register(request).record(account.actor, LETTER_SENT, payload, case_ref=ref)
    return RedirectResponse(f"/casework/cases/{ref}?done=letter_sent", status_code=303)


# -- the panel ---------------------------------------------------------------------------
def _agenda_cases(request: Request) -> list[dict[str, Any]]:
    return [c for c in register(request).list_cases() if c["state"] in ("panel", "review")]


@router.get("/casework/panel", response_class=HTMLResponse)
def panel_page(request: Request) -> HTMLResponse:
    account = need(request, PACK, "prepare a panel pack")
    return render(request, "panel.html", account=account, title="Panel agenda", cases=_agenda_cases(request),
                  today=dt.date.today().isoformat())


@router.post("/casework/panel/pack")
async def panel_pack(request: Request) -> Response:
    data = await form(request)
    account = need(request, PACK, "prepare a panel pack")
    refs = [str(r) for r in data.getlist("ref")]
    on_agenda = {c["ref"] for c in _agenda_cases(request)}
    chosen = [r for r in refs if r in on_agenda]
    if not chosen:
        return render(request, "panel.html", 422, account, title="Panel agenda", cases=_agenda_cases(request),
                      today=str(data.get("meeting", "")), error="Choose at least one case for the agenda",
                      error_count=1)
    return Response(pdf(pack_html(request, chosen, str(data.get("meeting", "")))), media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="panel-pack.pdf"'})


def pack_html(request: Request, refs: list[str], meeting: str) -> list[str]:
    """An agenda page, then each case's panel summary (engine.reports.render.render_panel)."""
    from engine.ifr.routing import plan
    from engine.ifr.screening import screen
    from engine.reports.render import render_panel

    cases = [load(request, r) for r in refs]
    head = register(request).head()
    agenda = _env().get_template("panel_agenda.html.j2").render(
        cases=cases, titles={c["policy_id"]: request.app.state.suite.policy(c["policy_id"]).title for c in cases},
        meeting=meeting, issued=dt.date.today(), audit_head=head, title="IFR panel pack",
        footer_id="IFR panel pack", digest=head)
    out = [agenda]
    for c in cases:
        d = _engine_decision(request, c)
        p = plan(d, request.app.state.suite.attributes, ccg=c["patient"].get("registered_ccg"))
        out.append(render_panel(d, p, screen(c["grounds"] or ""), "html",
                                ref=c["ref"]).decode("utf-8"))
    return out
