"""The life of a request as a durable-rules statechart:

    submitted → screening → panel → decided → (review → decided) → closed
                    ↕ more_information (asked of the clinician, back to screening)

The register is the single source of truth. For every new event the chart is rebuilt by
replaying the case's recorded events into a fresh session, then the new event is posted.
durable-rules parks an event that no rule in the current state accepts (it would fire later
if the chart ever reached a state that takes it); here such an event is REJECTED instead:
unknown actions and wrong states are refused before posting, and an event that no guard
accepts is detected after posting (no action ran) and its session is discarded.

durable-rules is used with care (see research/engine-perf-anchors.md): one statechart
defined once per process under a versioned name (the registry is process-global), single
events only (never post_batch), a unique id per event, guard values checked to be real
ints before posting (it compares numeric strings as text), and no `-m.attr` rules (they hang).

Deadlines are data, not timers: durable-rules timers live in one process's memory and a CLI
process lives for a second, so the 40-working-day decision deadline (NHS England IFR SOP) and
the review window are computed from recorded timestamps and posted with each event. Working
days leave out weekends and the England and Wales bank holidays (the `holidays` package,
subdivision ENG, which tracks the proclamations; never a hand-kept list).
"""
from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.errors import InputError

CHART = "cpe_ifr_workflow_v2"  # v2: the more_information state
STATES = ("submitted", "screening", "more_information", "panel", "decided", "review", "closed")
OPEN_STATES = ("submitted", "screening", "more_information", "panel", "review")
DECISION_WORKING_DAYS = 40


def review_window_days() -> int:
    """Calendar days after a decision within which a review may be asked for (a local choice)."""
    from engine.settings import setting

    return int(setting("review_window_days"))


@dataclass(frozen=True)
class Transition:
    source: str
    action: str
    target: str
    roles: tuple[str, ...]
    guard: tuple[tuple[str, str, int], ...] = ()
    flags: tuple[tuple[str, Any], ...] = ()
    meaning: str = ""


def _transitions() -> tuple[Transition, ...]:
    w = review_window_days()
    officer, panel = ("ifr_officer",), ("panel",)
    return (
        Transition("submitted", "screen", "screening", officer, meaning="an IFR officer starts screening"),
        Transition("submitted", "withdraw", "closed", officer, meaning="the requester withdraws"),
        Transition("screening", "refer", "panel", officer, meaning="screened in: goes to the IFR panel"),
        Transition("screening", "screen_out", "closed", officer,
                   meaning="not for the panel (routinely commissioned, another commissioner, service development)"),
        Transition("screening", "withdraw", "closed", officer, meaning="the requester withdraws"),
        Transition("screening", "request_information", "more_information", officer,
                   meaning="something the decision needs is missing: it is asked of the clinician"),
        Transition("more_information", "information_received", "screening", officer,
                   meaning="the clinician's answer arrived: screening resumes"),
        Transition("more_information", "withdraw", "closed", officer, meaning="the requester withdraws"),
        Transition("panel", "decide", "decided", panel, (("working_days_open", "<=", DECISION_WORKING_DAYS),),
                   (("late", False),), "the panel decides within 40 working days"),
        Transition("panel", "decide", "decided", panel, (("working_days_open", ">", DECISION_WORKING_DAYS),),
                   (("late", True),), "the panel decides after the 40-working-day deadline"),
        Transition("panel", "withdraw", "closed", officer, meaning="the requester withdraws"),
        Transition("decided", "request_review", "review", officer,
                   (("days_since_decision", "<=", w), ("reviews", "==", 0)),
                   meaning=f"a review is asked for within {w} days of the decision (once)"),
        Transition("decided", "close", "closed", officer, meaning="the case is closed"),
        Transition("review", "decide", "decided", panel, meaning="the review panel decides"),
    )


TRANSITIONS = _transitions()
ACTIONS = tuple(sorted({t.action for t in TRANSITIONS}))
GUARD_FIELDS = ("working_days_open", "days_since_decision", "reviews")


class Rejected(InputError):
    """An event the workflow does not allow now; nothing is recorded."""


def allowed(state: str) -> list[str]:
    return sorted({t.action for t in TRANSITIONS if t.source == state})


def roles_for(action: str) -> set[str]:
    return {r for t in TRANSITIONS if t.action == action for r in t.roles}


def _bank_holidays(years: Iterable[int]) -> Any:
    """England and Wales bank holidays (substitute days included) from the `holidays` package."""
    return _bank_holidays_in(tuple(years))


@lru_cache(maxsize=32)
def _bank_holidays_in(years: tuple[int, ...]) -> Any:
    import holidays

    return holidays.country_holidays("GB", subdiv="ENG", years=list(years))


def is_working_day(day: dt.date, bank: Any = None) -> bool:
    bank = bank if bank is not None else _bank_holidays([day.year])
    return day.weekday() < 5 and day not in bank


def working_days(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end`: weekdays that are not England and
    Wales bank holidays."""
    if end <= start:
        return 0
    bank = _bank_holidays(range(start.year, end.year + 1))
    return sum(1 for i in range(1, (end - start).days + 1)
               if is_working_day(start + dt.timedelta(days=i), bank))


def decision_due(submitted: dt.date) -> dt.date:
    """The day the 40th working day after submission falls on."""
    bank = _bank_holidays(range(submitted.year, submitted.year + 2))
    day, n = submitted, 0
    while n < DECISION_WORKING_DAYS:
        day += dt.timedelta(days=1)
        if is_working_day(day, bank):
            n += 1
    return day


# -- durable-rules ------------------------------------------------------------------------
_lock = threading.Lock()
_defined = False
_fired: dict[str, Transition] = {}


def _define() -> None:
    """Build the statechart from TRANSITIONS, once per process (the registry is global)."""
    global _defined
    if _defined:
        return
    from durable.lang import m, state, statechart, to, when_all

    ops = {"<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "==": lambda a, b: a == b}

    def action_for(t: Transition):
        # exactly one parameter: durable-rules treats a two-argument action as asynchronous
        def act(c) -> None:  # noqa: ANN001
            _fired[c.m.sid] = t
        return act

    with statechart(CHART):
        for s in STATES:
            with state(s):
                for t in TRANSITIONS:
                    if t.source != s:
                        continue
                    cond = m.action == t.action
                    for name, op, value in t.guard:
                        cond = cond & ops[op](getattr(m, name), value)
                    to(t.target)(when_all(cond)(action_for(t)))
    _defined = True


def _message(sid: str, n: int, action: str, guard: dict[str, int]) -> dict[str, Any]:
    if action not in ACTIONS:
        raise Rejected.of("unknown-action", f"no workflow action {action!r}", hint="actions: " + ", ".join(ACTIONS))
    msg: dict[str, Any] = {"sid": sid, "id": f"{sid}-{n}", "action": action}
    for name in GUARD_FIELDS:
        v = guard.get(name, 0)
        if type(v) is not int:  # bool and "12" are refused: durable-rules would compare them wrongly
            raise TypeError(f"workflow guard {name} must be an int, not {type(v).__name__}")
        msg[name] = v
    return msg


def _post(sid: str, n: int, action: str, guard: dict[str, int]) -> Transition | None:
    from durable.engine import MessageNotHandledException
    from durable.lang import post

    msg = _message(sid, n, action, guard)
    try:
        post(CHART, msg)
    except MessageNotHandledException:  # no rule anywhere could take it: the same as parked, for us
        pass
    return _fired.pop(sid, None)


def run(history: Iterable[tuple[str, str, dict[str, int]]], action: str, guard: dict[str, int],
        ref: str = "") -> Transition:
    """Replay (action, recorded to_state, guard) events, then apply `action`: its Transition,
    or Rejected naming the state and what is allowed there."""
    with _lock:
        _define()
        from durable.lang import delete_state

        sid = uuid.uuid4().hex
        try:
            current, n = "submitted", 0
            for n, (past, recorded, past_guard) in enumerate(history, start=1):
                t = _post(sid, n, past, past_guard)
                if t is None or t.target != recorded:
                    raise RuntimeError(f"case {ref}: recorded event {n} ({past} → {recorded}) does not replay "
                                       f"on the workflow (got {t.target if t else 'nothing'})")
                current = t.target
            if action not in [t.action for t in TRANSITIONS if t.source == current]:
                if action not in ACTIONS:
                    _message(sid, n + 1, action, guard)  # raises the unknown-action message
                ok = allowed(current)
                raise Rejected.of("not-allowed", f"case {ref} is {current}: {action!r} is not allowed now",
                                  hint=("allowed: " + ", ".join(ok)) if ok else "the case is closed")
            t = _post(sid, n + 1, action, guard)
            if t is None:  # parked by durable-rules: no guard accepted it
                why = "; ".join(x.meaning for x in TRANSITIONS if x.source == current and x.action == action)
                raise Rejected.of("not-allowed", f"case {ref} is {current}: {action!r} refused by the workflow's "
                                  f"rule ({why})")
            return t
        finally:
            _fired.pop(sid, None)
            try:
                delete_state(CHART, sid)
            except Exception:  # a session that never started has no state to delete
                pass
