"""The IFR workflow: a durable-rules statechart rebuilt from the register's recorded events;
events it does not allow are rejected (never parked), every transition is audited."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.register import workflow
from engine.register.verify import verify
from tests.register_db import db_url, register  # noqa: F401

PATIENT = {"age": 40, "hip_osteoarthritis": False}
NO_GUARD = {"working_days_open": 0, "days_since_decision": 0, "reviews": 0}


def _new(reg, policy="hip-arthroscopy"):
    return reg.new_case(policy, {}, actor="officer-1", grounds="young athlete")["ref"]


def test_a_request_goes_the_whole_way_and_every_step_is_audited(register):
    ref = _new(register)
    for action in ("screen", "refer"):
        register.transition(ref, action, actor="officer-1", note=f"{action} ok")
    out = register.transition(ref, "decide", actor="panel-1", outcome="declined", reason="not exceptional")
    assert out["state"] == "decided" and out["event"]["late"] is False
    register.transition(ref, "request_review", actor="officer-1", note="new evidence")
    register.transition(ref, "decide", actor="panel-2", outcome="approved", reason="review: exceptional")
    register.transition(ref, "close", actor="officer-1")
    c = register.show(ref)
    assert c["state"] == "closed" and c["allowed"] == []
    assert [h["action"] for h in c["history"]] == ["submit", "screen", "refer", "decide", "request_review",
                                                   "decide", "close"]
    assert [h["to"] for h in c["history"]][-1] == "closed"
    assert [p["outcome"] for p in c["panel_decisions"]] == ["declined", "approved"]
    assert c["panel_decision"] == "approved"
    assert [a["action"] for a in c["audit"]] == ["case.created"] + ["case.transition"] * 6
    assert verify(register).ok


def test_an_event_not_allowed_now_is_rejected_and_nothing_is_recorded(register):
    ref = _new(register)
    before = verify(register).entries
    with pytest.raises(InputError, match=r"is submitted: 'decide' is not allowed now .*allowed: screen, withdraw"):
        register.transition(ref, "decide", actor="panel-1", outcome="approved", reason="x")
    with pytest.raises(InputError, match="'refer' is not allowed now"):
        register.transition(ref, "refer", actor="officer-1")
    with pytest.raises(InputError, match="no workflow action 'approve'"):
        register.transition(ref, "approve", actor="officer-1")
    assert verify(register).entries == before
    # had durable-rules parked the early 'refer', it would fire on reaching screening; it does not
    register.transition(ref, "screen", actor="officer-1")
    assert register.show(ref)["state"] == "screening"


def test_a_guard_that_refuses_is_a_rejection_not_a_parked_event(register):
    ref = _new(register)
    register.transition(ref, "decide", actor="panel-1", outcome="declined", reason="r", advance=True)
    register.transition(ref, "request_review", actor="officer-1")
    register.transition(ref, "decide", actor="panel-1", outcome="declined", reason="upheld")
    with pytest.raises(InputError, match="refused by the workflow's rule .*once"):
        register.transition(ref, "request_review", actor="officer-1")
    assert register.show(ref)["state"] == "decided"
    register.transition(ref, "close", actor="officer-1")


def test_panel_decision_needs_an_outcome_and_reasons(register):
    ref = _new(register)
    with pytest.raises(InputError, match="approved or declined"):
        register.transition(ref, "decide", actor="p", outcome="maybe", reason="r", advance=True)
    with pytest.raises(InputError, match="reasons"):
        register.transition(ref, "decide", actor="p", outcome="approved", reason="  ", advance=True)
    with pytest.raises(InputError, match="no case 'IFR-999999'"):
        register.transition("IFR-999999", "screen", actor="p")
    assert register.show(ref)["state"] == "submitted"


def test_the_decision_deadline_is_data_checked_on_the_event():
    history = [("screen", "screening", NO_GUARD), ("refer", "panel", NO_GUARD)]
    on_time = workflow.run(history, "decide", {**NO_GUARD, "working_days_open": 40})
    late = workflow.run(history, "decide", {**NO_GUARD, "working_days_open": 41})
    assert (on_time.target, dict(on_time.flags)) == ("decided", {"late": False})
    assert (late.target, dict(late.flags)) == ("decided", {"late": True})


def test_review_window():
    history = [("screen", "screening", NO_GUARD), ("refer", "panel", NO_GUARD), ("decide", "decided", NO_GUARD)]
    w = workflow.review_window_days()
    assert workflow.run(history, "request_review", {**NO_GUARD, "days_since_decision": w}).target == "review"
    with pytest.raises(workflow.Rejected, match=f"within {w} days"):
        workflow.run(history, "request_review", {**NO_GUARD, "days_since_decision": w + 1})


@pytest.mark.parametrize("bad", [True, "12", 12.0, None])
def test_guard_values_are_type_checked_before_posting(bad):
    """durable-rules compares numeric strings as text; nothing but an int reaches it."""
    with pytest.raises(TypeError, match="must be an int"):
        workflow.run([("screen", "screening", NO_GUARD)], "refer", {**NO_GUARD, "working_days_open": bad})


def test_a_history_that_does_not_replay_is_an_error_not_a_guess():
    with pytest.raises(RuntimeError, match="does not replay"):
        workflow.run([("screen", "panel", NO_GUARD)], "refer", NO_GUARD, "IFR-1")
    with pytest.raises(RuntimeError, match="does not replay"):
        workflow.run([("refer", "panel", NO_GUARD)], "decide", NO_GUARD, "IFR-1")


def test_every_state_is_reachable_and_closed_is_final():
    targets = {t.target for t in workflow.TRANSITIONS}
    assert set(workflow.STATES) - targets == {"submitted"}  # the chart's one start state
    assert workflow.allowed("closed") == []


def test_working_days():
    mon = dt.date(2026, 11, 23)
    assert mon.weekday() == 0
    assert workflow.working_days(mon, mon) == 0
    assert workflow.working_days(mon, mon + dt.timedelta(days=4)) == 4      # to Friday
    assert workflow.working_days(mon, mon + dt.timedelta(days=7)) == 5      # next Monday
    assert workflow.working_days(dt.date(2026, 11, 28), dt.date(2026, 11, 30)) == 1  # Sat → Mon
    due = workflow.decision_due(mon)
    # 8 weeks of weekdays, plus Christmas Day, Boxing Day (observed Monday 28) and New Year's Day
    assert due == dt.date(2027, 1, 21) and workflow.working_days(mon, due) == 40
    assert workflow.working_days(dt.date(2026, 12, 24), dt.date(2026, 12, 29)) == 1  # Thu → Tue over Christmas
    spring = dt.date(2026, 3, 2)  # Good Friday (3 April) and Easter Monday (6 April) fall in these 8 weeks
    assert workflow.decision_due(spring) == spring + dt.timedelta(weeks=8, days=2)


def test_service_development_signal(register, monkeypatch):
    monkeypatch.setenv("CPE_SIGNAL_THRESHOLD", "2")
    assert _signals(register, "hip-arthroscopy") == []
    assert _signals(register, "hip-arthroscopy") == []
    raised = _signals(register, "hip-arthroscopy")
    assert len(raised) == 1 and raised[0]["requests"] == 3 and raised[0]["policy_id"] == "hip-arthroscopy"
    assert _signals(register, "hip-arthroscopy") == []          # once per window
    assert _signals(register, "breast-implant-removal") == []   # another intervention counts apart
    assert [s["case_ref"] for s in register.signals()] == ["IFR-000003"]
    assert verify(register).ok


def _signals(reg, policy):
    return reg.new_case(policy, {}, actor="officer-1")["signals"]


OPS = {"<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "==": lambda a, b: a == b}


def _expected(state, action, guard):
    return [t for t in workflow.TRANSITIONS if t.source == state and t.action == action
            and all(OPS[op](guard[f], v) for f, op, v in t.guard)]



@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(workflow.ACTIONS), st.integers(0, 60), st.integers(0, 40),
                          st.integers(0, 2)), max_size=10))
def test_the_durable_chart_agrees_with_the_transition_table(steps):
    """Any sequence of events, allowed or not: durable-rules moves exactly as the table says, and
    a rejected event never fires later (it was not parked)."""
    history, state = [], "submitted"
    for action, wd, dsd, reviews in steps:
        guard = {"working_days_open": wd, "days_since_decision": dsd, "reviews": reviews}
        expected = _expected(state, action, guard)
        try:
            t = workflow.run(history, action, guard)
        except workflow.Rejected:
            assert expected == []
            continue
        assert expected == [t]
        history.append((action, t.target, guard))
        state = t.target
