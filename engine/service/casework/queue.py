"""The work queue: cases by workflow state and deadline, overdue first, filtered and paged."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from engine.register import workflow
from engine.service.casework.session import need, register, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
STATE_WORDS = {"submitted": "Submitted", "screening": "Screening", "more_information": "More information asked",
               "panel": "At panel", "decided": "Decided", "review": "Under review", "closed": "Closed"}
STATE_COLOURS = {"submitted": "blue", "screening": "aqua-green", "more_information": "yellow", "panel": "purple",
                 "decided": "green", "review": "orange", "closed": "grey"}


def ordered(cases: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """Overdue open cases first, then open cases by due date, then the rest newest first."""
    def key(c: dict[str, Any]) -> tuple:
        is_open = c["state"] in workflow.OPEN_STATES
        return (not c["overdue"], not is_open, c["decision_due"] if is_open else "",
                -int(c["ref"].split("-")[-1]))
    out = []
    for c in sorted(cases, key=key):
        due = dt.date.fromisoformat(c["decision_due"])
        left = workflow.working_days(today, due) if due >= today else -workflow.working_days(due, today)
        out.append({**c, "working_days_left": left, "open": c["state"] in workflow.OPEN_STATES})
    return out


@router.get("/casework", response_class=HTMLResponse)
def queue(request: Request, policy: Optional[str] = None, state: Optional[str] = None,
          page: int = 1) -> HTMLResponse:
    account = need(request)
    policy = policy or None
    state = state if state in workflow.STATES else None
    every = register(request).list_cases()
    counts = {s: sum(1 for c in every if c["state"] == s) for s in workflow.STATES}
    chosen = [c for c in every if (policy is None or c["policy_id"] == policy) and (state is None or c["state"] == state)]
    rows = ordered(chosen, dt.date.today())
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    policies = sorted({c["policy_id"] for c in every} | set(request.app.state.suite.ids()))

    def link(n: int) -> str:
        from urllib.parse import urlencode

        q = {k: v for k, v in (("policy", policy), ("state", state), ("page", n)) if v}
        return "/casework?" + urlencode(q)

    return render(request, "queue.html", account=account, title="IFR casework", cases=shown, total=len(rows),
                  counts=counts, states=workflow.STATES, state_words=STATE_WORDS, state_colours=STATE_COLOURS,
                  policies=policies, policy=policy or "", state=state or "", page=page, pages=pages,
                  prev_link=link(page - 1) if page > 1 else None, next_link=link(page + 1) if page < pages else None)
