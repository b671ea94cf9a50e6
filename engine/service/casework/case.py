"""One case: the engine's decision criterion by criterion, what is missing, the grounds with
their screening flags beside the sentences they flag, panel decisions and the review window,
letters sent, the history, the audit entries, and the actions this role may take now.

Every action is Register.transition, the same call as `cpe case event` and the API.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.errors import InputError
from engine.register import workflow
from engine.service.casework import actions
from engine.service.casework.queue import STATE_COLOURS, STATE_WORDS
from engine.service.casework.session import Refusal, form, need, register, render

router = APIRouter(include_in_schema=False)
LETTER_SENT = "letter.sent"


def load(request: Request, ref: str) -> dict[str, Any]:
    try:
        return register(request).show(ref)
    except InputError:
        raise Refusal(404, "Case not found", f"There is no case {ref!r} in the register.") from None


def grounds_with_flags(grounds: str | None) -> list[dict[str, Any]]:
    """Each sentence of the grounds with the screening flags that point at it (the sentence is
    always shown: a flag explains, it never hides what the clinician wrote)."""
    from engine.ifr.screening import screen

    if not grounds or not grounds.strip():
        return []
    sc = screen(grounds)
    out = []
    for r in sc.readings:
        sd = [r.service_development] if r.service_development else []
        out.append({"sentence": r.sentence, "flags": list(r.flags) + sd, "grounds": list(r.grounds),
                    "service_development": sd})
    return out


def labels(request: Request) -> dict[str, str]:
    attrs = request.app.state.suite.attributes
    return {n: attrs[n].description for n in attrs.names()}


def letters_sent(request: Request, ref: str) -> list[dict[str, Any]]:
    return register(request).entries((LETTER_SENT,), case_ref=ref)


def with_depth(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded criteria with their nesting depth (the JSON names each one's parent)."""
    depth: dict[Any, int] = {}
    out = []
    for x in criteria:
        depth[x["id"]] = depth.get(x.get("parent"), -1) + 1 if x.get("parent") else 0
        out.append({**x, "depth": depth[x["id"]]})
    return out


def case_page(request: Request, ref: str, account: Any, status: int = 200, **extra: Any) -> HTMLResponse:
    c = load(request, ref)
    d = {**c["decision"], "criteria": with_depth(c["decision"]["criteria"])}
    counts = {s: sum(1 for x in d["criteria"] if x["status"] == s) for s in ("met", "unmet", "unknown")}
    asked = [h for h in c["history"] if h["action"] == "request_information"]
    return render(request, "case.html", status, account, title=f"Case {ref}", c=c, d=d, counts=counts,
                  policy_title=request.app.state.suite.policy(c["policy_id"]).title,
                  labels=labels(request), grounds=grounds_with_flags(c["grounds"]),
                  actions=actions.for_case(c, account), review_until=actions.review_until(c),
                  letters=letters_sent(request, ref), letter_kinds=available_letters(c),
                  asked=asked[-1] if asked else None, state_words=STATE_WORDS, state_colours=STATE_COLOURS,
                  open=c["state"] in workflow.OPEN_STATES, **extra)


def available_letters(c: dict[str, Any]) -> list[str]:
    """Which letters can be produced now: after a panel decision, and while information is asked."""
    kinds = []
    if c["panel_decisions"] and c["state"] in ("decided", "closed", "review"):
        kinds.append("decision")
    if c["state"] == "more_information":
        kinds.append("more_information")
    return kinds


@router.get("/casework/cases/{ref}", response_class=HTMLResponse)
def show(request: Request, ref: str) -> HTMLResponse:
    account = need(request)
    return case_page(request, ref, account, created=request.query_params.get("created") == "1",
                     done=request.query_params.get("done"))


@router.post("/casework/cases/{ref}/actions/{action}", response_class=HTMLResponse)
async def act(request: Request, ref: str, action: str) -> Response:
    data = await form(request)
    account = need(request)
    c = load(request, ref)
    why = actions.refusal(c, account, action)
    if why is not None:
        return case_page(request, ref, account, 403, refused={"action": action, "why": why})
    note = str(data.get("note", "")).strip() or None
    outcome = reason = None
    if action == "decide":
        outcome, reason = str(data.get("outcome", "")), str(data.get("reason", "")).strip()
        errors = {}
        if outcome not in ("approved", "declined"):
            errors["outcome"] = "Choose the panel's decision: approved or declined"
        if not reason:
            errors["reason"] = "Enter the panel's reasons for the decision"
        if errors:
            return case_page(request, ref, account, 422, decide_errors=errors, reason_value=reason,
                             error_list=[{"text": v, "href": f"#{k}"} for k, v in errors.items()],
                             error_count=len(errors))
    if action == "request_information" and not note:
        return case_page(request, ref, account, 422, note_error={"action": action,
                         "text": "Say what is asked of the clinician: it goes in the letter"},
                         error_list=[{"text": "Say what is asked of the clinician", "href": f"#note-{action}"}],
                         error_count=1)
    try:
        register(request).transition(ref, action, actor=account.actor, note=note, outcome=outcome, reason=reason)
    except workflow.Rejected as exc:
        return case_page(request, ref, account, 409, refused={"action": action, "why": str(exc.problems[0].message)})
    return RedirectResponse(f"/casework/cases/{ref}?done={action}", status_code=303)
