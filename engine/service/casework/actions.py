"""What a role may do to a case now: the workflow's transitions from the case's state, each
either offered or refused with the reason (the role, a guard such as the review window).

The same rules decide a posted action (so a button hidden from a role is also refused when
its form is forged): the role here, then the statechart itself in Register.transition.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine.register import workflow
from engine.register.users import ROLE_NOUNS, Account

LABELS = {
    "screen": "Start screening",
    "refer": "Refer to the IFR panel",
    "screen_out": "Screen out",
    "request_information": "Ask the clinician for more information",
    "information_received": "Record that the information arrived",
    "withdraw": "Record that the request was withdrawn",
    "decide": "Record the panel's decision",
    "request_review": "Record a request for review",
    "close": "Close the case",
}
#: Actions whose form asks for a note, and what the note is for.
NOTES = {
    "screen_out": "Why it is not for the panel",
    "request_information": "What is asked of the clinician (goes in the letter)",
    "information_received": "What arrived",
    "withdraw": "Who withdrew it and when",
    "request_review": "Who asked for the review and on what grounds",
}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    allowed: bool
    why: str | None = None
    note: str | None = None


def _roles(state: str, action: str) -> set[str]:
    return {r for t in workflow.TRANSITIONS if t.source == state and t.action == action for r in t.roles}


def review_until(case: dict[str, Any]) -> dt.date | None:
    """The last day a review may be asked for, after the case's latest panel decision."""
    if not case["panel_decisions"]:
        return None
    decided = dt.datetime.fromisoformat(case["panel_decisions"][-1]["decided_at"]).date()
    return decided + dt.timedelta(days=workflow.review_window_days())


def _guard_refusal(case: dict[str, Any], action: str, today: dt.date) -> str | None:
    if action != "request_review":
        return None
    if any(h["action"] == "request_review" for h in case["history"]):
        return "A review has already been held for this case: the workflow allows one."
    until = review_until(case)
    if until is not None and today > until:
        return f"The review window closed on {until:%-d %B %Y} ({workflow.review_window_days()} days after " \
               "the decision)."
    return None


def for_case(case: dict[str, Any], account: Account, today: dt.date | None = None) -> list[Action]:
    """Every action the case's state offers, offered to this account or refused with why."""
    today = today or dt.date.today()
    out = []
    for name in workflow.allowed(case["state"]):
        roles = _roles(case["state"], name)
        label = LABELS.get(name, name.replace("_", " "))
        if account.role not in roles:
            who = " or ".join(sorted(ROLE_NOUNS[r] for r in roles))
            out.append(Action(name, label, False, f"Only {who} may do this; you are signed in as "
                                                  f"{ROLE_NOUNS[account.role]}."))
            continue
        why = _guard_refusal(case, name, today)
        out.append(Action(name, label, why is None, why, NOTES.get(name)))
    return out


def refusal(case: dict[str, Any], account: Account, action: str) -> str | None:
    """Why this account may not post `action` now (None: let the workflow try it)."""
    for a in for_case(case, account):
        if a.name == action:
            return a.why
    if action not in workflow.ACTIONS:
        return f"There is no action {action!r}."
    return f"The case is {case['state'].replace('_', ' ')}: {LABELS.get(action, action)} is not possible now."
