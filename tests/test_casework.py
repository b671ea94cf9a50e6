"""The casework pages over HTTP (FastAPI's TestClient): sign-in, lock-out, CSRF, roles, the
request form (answers and a FHIR Bundle), the case page, letters, the panel pack and the
register check. Every write must land in the register's chain, which stays intact."""
from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest

from tests.register_db import db_url  # noqa: F401

FHIR = Path(__file__).resolve().parent / "fixtures" / "fhir"
JOHNNIE = FHIR / "Johnnie679_Hermiston71_2cd30bd6-3a87-4191-af90-6daa70f58f55.json"
PASSWORDS = {"olive": "officer password 1", "pat": "panel password 12", "ada": "admin password 12",
             "rory": "reader password 1"}
ROLES = {"olive": "ifr_officer", "pat": "panel", "ada": "admin", "rory": "read_only"}
GROUNDS = "The patient is a carer for her mother. She wants to return to work soon."


@pytest.fixture
def app(db_url, suite):  # noqa: F811
    from engine.register.store import Register
    from engine.register.users import add_user
    from engine.service.app import create_app

    application = create_app()
    reg = application.state.register = Register(db_url, suite=application.state.suite)
    for name, role in ROLES.items():
        add_user(reg, name, role, PASSWORDS[name], full_name=name.title(), actor="test:setup")
    yield application
    reg.close()


def token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def client(app, who: str | None = None):
    from fastapi.testclient import TestClient

    c = TestClient(app)
    if who:
        r = c.post("/casework/sign-in", data={"username": who, "password": PASSWORDS[who], "next": "/casework",
                                              "csrf_token": token(c.get("/casework/sign-in").text)})
        assert r.status_code == 200 and str(r.url).endswith("/casework"), r.text[:500]
    return c


def new_case(c, policy: str = "hip-arthroscopy", **fields) -> str:
    t = token(c.get(f"/casework/new/{policy}").text)
    data = {"csrf_token": t, "on": "2025-06-01", "grounds": GROUNDS, "requester": "Dr Jones", **fields}
    r = c.post(f"/casework/new/{policy}", data=data)
    assert r.status_code == 200, r.text[:2000]
    return re.search(r"/casework/cases/(IFR-\d+)", str(r.url)).group(1)


def act(c, ref: str, action: str, **data) -> object:
    t = token(c.get(f"/casework/cases/{ref}").text)
    return c.post(f"/casework/cases/{ref}/actions/{action}", data={"csrf_token": t, **data})


def state(app, ref: str) -> str:
    return app.state.register.show(ref)["state"]


# -- accounts and sign-in ------------------------------------------------------------------
def test_passwords_are_argon2_hashes_and_account_changes_are_audited(app):
    from sqlalchemy import select

    from engine.register.users import User

    with app.state.register.Session() as s:
        stored = {u.username: u.password_hash for u in s.scalars(select(User))}
    assert all(h.startswith("$argon2id$") for h in stored.values())
    assert not any(PASSWORDS[n] in h for n, h in stored.items())
    added = app.state.register.entries(("user.added",))
    assert [e["username"] for e in added] == list(ROLES) and all("password" not in str(e) for e in added)


def test_pages_need_a_sign_in_and_a_wrong_password_is_refused(app):
    c = client(app)
    r = c.get("/casework/cases/IFR-000001")
    assert r.status_code == 200 and "/casework/sign-in?next=/casework/cases/IFR-000001" in str(r.url)
    t = token(r.text)
    r = c.post("/casework/sign-in", data={"username": "olive", "password": "wrong password!", "csrf_token": t})
    assert r.status_code == 401 and "The username or password is not right" in r.text
    r = c.post("/casework/sign-in", data={"username": "nobody", "password": "wrong password!", "csrf_token": t})
    assert r.status_code == 401 and "The username or password is not right" in r.text


def test_lock_out_after_repeated_failures_even_for_the_right_password(app, monkeypatch):
    monkeypatch.setenv("CPE_LOGIN_MAX_FAILURES", "3")
    c = client(app)
    t = token(c.get("/casework/sign-in").text)
    for _ in range(3):
        assert c.post("/casework/sign-in", data={"username": "pat", "password": "not it at all",
                                                 "csrf_token": t}).status_code == 401
    r = c.post("/casework/sign-in", data={"username": "pat", "password": PASSWORDS["pat"], "csrf_token": t})
    assert r.status_code == 401 and "too many refused sign-ins" in r.text.lower()
    assert [e["username"] for e in app.state.register.entries(("user.locked_out",))] == ["pat"]
    client(app, "olive")  # another account is not affected
    monkeypatch.setenv("CPE_LOGIN_LOCK_MINUTES", "0")  # the lock period over: the right password works
    client(app, "pat")


def test_a_disabled_account_loses_its_session_and_sign_out_ends_it(app):
    from engine.register.users import disable_user

    c = client(app, "rory")
    assert c.get("/casework").status_code == 200 and "Signed in as" in c.get("/casework").text
    disable_user(app.state.register, "rory", actor="test:admin")
    assert "/casework/sign-in" in str(c.get("/casework").url)
    o = client(app, "olive")
    r = o.post("/casework/sign-out", data={"csrf_token": token(o.get("/casework").text)})
    assert "/casework/sign-in" in str(r.url) and "/casework/sign-in" in str(o.get("/casework").url)


# -- CSRF and roles ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/casework/sign-out", "/casework/new/hip-arthroscopy",
                                  "/casework/cases/IFR-000001/actions/screen",
                                  "/casework/cases/IFR-000001/letters/decision/sent",
                                  "/casework/panel/pack", "/casework/admin/verify"])
def test_every_form_is_refused_without_its_csrf_token(app, path):
    c = client(app, "olive")
    ref = new_case(c)
    before = len(app.state.register.show(ref)["history"])
    for data in ({}, {"csrf_token": "forged-" + "x" * 30}):
        r = c.post(path, data={"on": "2025-06-01", "grounds": GROUNDS, "ref": ref, **data})
        assert r.status_code == 403 and "security token" in r.text
    assert len(app.state.register.show(ref)["history"]) == before
    r = client(app).post("/casework/sign-in", data={"username": "olive", "password": PASSWORDS["olive"]})
    assert r.status_code == 403  # the sign-in form too


def test_a_panel_member_cannot_screen_and_an_officer_cannot_decide(app):
    officer, panel = client(app, "olive"), client(app, "pat")
    ref = new_case(officer)
    page = panel.get(f"/casework/cases/{ref}").text
    assert 'id="action-screen"' not in page
    assert re.search(r'data-refused="screen"><strong>Start screening</strong>: Only an IFR officer may do this; '
                     r'you are signed in as a panel member', page)
    r = act(panel, ref, "screen")
    assert r.status_code == 403 and "Only an IFR officer may do this" in r.text and state(app, ref) == "submitted"
    assert act(officer, ref, "screen").status_code == 200 and act(officer, ref, "refer").status_code == 200
    page = officer.get(f"/casework/cases/{ref}").text
    assert 'id="action-decide"' not in page and 'data-refused="decide"' in page
    r = act(officer, ref, "decide", outcome="approved", reason="forged")
    assert r.status_code == 403 and "Only a panel member may do this" in r.text and state(app, ref) == "panel"
    r = act(panel, ref, "screen")  # not offered in this state at all: says so
    assert r.status_code == 403 and "is not possible now" in r.text
    reader = client(app, "rory")
    assert reader.get("/casework/new").status_code == 403
    assert reader.get("/casework/admin").status_code == 403 and officer.get("/casework/admin").status_code == 403


# -- the request form ----------------------------------------------------------------------
def test_the_request_form_stores_the_engine_decision_under_the_policy_digest(app, suite):
    from engine.language.decide import decide

    c = client(app, "olive")
    ref = new_case(c, osteoarthritis="false", patient_ref="H-123")
    shown = app.state.register.show(ref)
    rv = suite.select("hip-arthroscopy", on=dt.date(2025, 6, 1))
    assert shown["evaluations"][0]["digest"] == rv.digest and shown["referral_date"] == "2025-06-01"
    assert shown["decision"] == decide(rv, {"osteoarthritis": False}, dt.date(2025, 6, 1)).to_json()
    assert shown["grounds"] == GROUNDS and shown["requester"] == "Dr Jones" and shown["patient_ref"] == "H-123"
    assert shown["created_by"] == "ifr_officer:olive"
    page = c.get(f"/casework/cases/{ref}").text
    assert f'data-outcome="{shown["decision"]["outcome"]}"' in page and rv.digest in page


def test_the_request_form_refuses_bad_answers_and_reads_a_fhir_bundle(app, suite):
    from engine.fhir.facts import load_bundle

    c = client(app, "olive")
    t = token(c.get("/casework/new/assisted-conception").text)
    r = c.post("/casework/new/assisted-conception", data={"csrf_token": t, "on": "June", "grounds": ""})
    assert r.status_code == 422 and "Enter the referral date" in r.text and "stated grounds" in r.text
    r = c.post("/casework/new/assisted-conception", data={"csrf_token": t, "on": "2020-06-01", "grounds": GROUNDS},
               files={"bundle": ("notes.json", io.BytesIO(b"{not json"), "application/json")})
    assert r.status_code == 422 and "must be a JSON file" in r.text
    r = c.post("/casework/new/assisted-conception", data={"csrf_token": t, "on": "2020-06-01", "grounds": GROUNDS},
               files={"bundle": (JOHNNIE.name, JOHNNIE.read_bytes(), "application/fhir+json")})
    assert r.status_code == 200, r.text[:1000]
    ref = re.search(r"(IFR-\d+)", str(r.url)).group(1)
    expected = load_bundle(JOHNNIE, dt.date(2020, 6, 1)).facts
    assert expected and app.state.register.show(ref)["patient"] == expected


# -- a case from submission to a sent letter -----------------------------------------------
def test_more_information_is_asked_with_its_letter_then_screening_resumes(app):
    officer = client(app, "olive")
    ref = new_case(officer)
    assert act(officer, ref, "screen").status_code == 200
    r = act(officer, ref, "request_information")
    assert r.status_code == 422 and "Say what is asked" in r.text
    act(officer, ref, "request_information", note="Please send the hip MRI report.")
    assert state(app, ref) == "more_information"
    pdf = officer.get(f"/casework/cases/{ref}/letters/more_information.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "More information is needed" in text and "Please send the hip MRI report." in text and ref in text
    assert officer.get(f"/casework/cases/{ref}/letters/decision.pdf").status_code == 409
    act(officer, ref, "information_received", note="MRI report arrived")
    assert state(app, ref) == "screening"


def test_from_submission_to_a_sent_decision_letter_with_the_panel_pack(app):
    officer, panel, admin = client(app, "olive"), client(app, "pat"), client(app, "ada")
    ref = new_case(officer)
    page = officer.get(f"/casework/cases/{ref}").text
    rows = re.findall(r'<tr class="nhsuk-table__row" data-flagged="(true|false)">(.*?)</tr>', page, re.S)
    assert [(f, "carer" in r, "wants" in r) for f, r in rows] == [("false", True, False), ("true", False, True)]
    assert "She wants to return to work soon." in rows[1][1] and "data-reason" in rows[1][1]  # flag beside it
    act(officer, ref, "screen")
    act(officer, ref, "refer")
    t = token(panel.get("/casework/panel").text)
    r = panel.post("/casework/panel/pack", data={"csrf_token": t, "ref": [ref], "meeting": "2025-07-01"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    text = pdf_text(r.content)
    assert "Agenda" in text and ref in text and "panel" in text.lower()
    assert panel.post("/casework/panel/pack", data={"csrf_token": t}).status_code == 422
    r = act(panel, ref, "decide", outcome="approved", reason="")
    assert r.status_code == 422 and "reasons for the decision" in r.text and state(app, ref) == "panel"
    act(panel, ref, "decide", outcome="approved", reason="Exceptional clinical circumstances were shown.")
    assert state(app, ref) == "decided"
    page = officer.get(f"/casework/cases/{ref}").text
    assert 'id="review-window"' in page and 'id="send-decision"' in page
    assert 'id="send-decision"' not in panel.get(f"/casework/cases/{ref}").text
    text = pdf_text(officer.get(f"/casework/cases/{ref}/letters/decision.pdf").content)
    assert "Approved" in text and "Exceptional clinical circumstances were shown." in text and "review" in text
    r = officer.post(f"/casework/cases/{ref}/letters/decision/sent",
                     data={"csrf_token": token(officer.get(f"/casework/cases/{ref}").text)})
    assert r.status_code == 200 and 'id="letters-sent"' in r.text
    sent = app.state.register.entries(("letter.sent",), case_ref=ref)
    assert len(sent) == 1 and sent[0]["kind"] == "decision" and sent[0]["actor"] == "ifr_officer:olive"
    audit = [a["action"] for a in app.state.register.show(ref)["audit"]]
    assert audit == ["case.created"] + ["case.transition"] * 3 + ["letter.sent"]
    r = admin.post("/casework/admin/verify", data={"csrf_token": token(admin.get("/casework/admin").text)})
    assert r.status_code == 200 and 'data-ok="true"' in r.text


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


# -- the queue -----------------------------------------------------------------------------
def test_queue_puts_overdue_first_then_by_due_date():
    from engine.service.casework.queue import ordered

    def case(n: int, st: str, due: str, overdue: bool) -> dict:
        return {"ref": f"IFR-{n:06d}", "state": st, "decision_due": due, "overdue": overdue, "policy_id": "p"}

    rows = [case(1, "closed", "2025-01-01", False), case(2, "panel", "2026-03-01", False),
            case(3, "screening", "2025-02-01", True), case(4, "submitted", "2026-02-01", False),
            case(5, "more_information", "2025-03-01", True)]
    assert [r["ref"][-1] for r in ordered(rows, dt.date(2026, 1, 5))] == ["3", "5", "4", "2", "1"]
    left = {r["ref"][-1]: r["working_days_left"] for r in ordered(rows, dt.date(2026, 1, 5))}
    assert left["4"] == 19 and left["3"] < 0  # Tue 6 January to Fri 30 January


def test_queue_filters_and_pages(app, monkeypatch):
    monkeypatch.setattr("engine.service.casework.queue.PAGE_SIZE", 2)
    c = client(app, "olive")
    refs = [new_case(c) for _ in range(3)] + [new_case(c, "assisted-conception", on="2020-06-01")]
    act(c, refs[0], "screen")
    page = c.get("/casework").text
    assert "page 1 of 2" in page and 'rel="next"' in page
    assert len(re.findall(r'<tr class="nhsuk-table__row" data-ref=', c.get("/casework?page=2").text)) == 2
    shown = re.findall(r'data-ref="(IFR-\d+)"', c.get("/casework?state=screening").text)
    assert shown == [refs[0]]
    shown = re.findall(r'data-ref="(IFR-\d+)"', c.get("/casework?policy=assisted-conception").text)
    assert shown == [refs[3]]
    assert 'data-state="submitted">Submitted (3)' in page


def test_cpe_user_commands(cpe, tmp_path):
    env = {"CPE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}", "CPE_ACTOR": "cli:test"}

    def run(*args: str, stdin: str | None = None):
        import os
        import subprocess
        import sys

        exe = Path(sys.executable).parent / "cpe"
        return subprocess.run([str(exe), "user", *args], input=stdin, capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=120)

    r = run("add", "Ada", "--role", "admin", "--name", "Ada Admin", "--password-stdin", stdin="a long password\n")
    assert r.returncode == 0 and "added ada (Administrator)" in r.stdout
    for args, stdin, message in [(("add", "ada", "--role", "admin", "--password-stdin"), "another password\n",
                                  "already a user"),
                                 (("add", "bob", "--role", "boss", "--password-stdin"), "another password\n",
                                  "is not one of"),
                                 (("add", "bob", "--role", "panel", "--password-stdin"), "short\n", "at least 12"),
                                 (("disable", "nobody"), None, "no user")]:
        r = run(*args, stdin=stdin)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert run("disable", "ada").returncode == 0
    import json

    assert json.loads(run("list", "--format", "json").stdout) == [
        {"username": "ada", "full_name": "Ada Admin", "role": "admin", "disabled": True}]
    r = cpe("register", "verify", env=env)
    assert r.returncode == 0, r.stderr


def test_check_eligibility_only_shows_the_decision_and_records_nothing(app):
    c = client(app, "olive")
    t = token(c.get("/casework/new/hip-arthroscopy").text)
    r = c.post("/casework/new/hip-arthroscopy", data={"csrf_token": t, "on": "2025-06-01", "osteoarthritis": "false",
                                                      "preview": "1"})
    assert r.status_code == 200 and 'id="decision"' in r.text and 'data-outcome="' in r.text
    assert app.state.register.list_cases() == []


def test_a_refused_action_says_why_including_the_review_window():
    from engine.register.users import Account
    from engine.service.casework.actions import for_case

    officer, panel = Account("o", "O", "ifr_officer"), Account("p", "P", "panel")
    decided = {"state": "decided", "history": [{"action": "decide"}],
               "panel_decisions": [{"decided_at": "2026-01-05T10:00:00.000000Z"}]}
    by_name = {a.name: a for a in for_case(decided, officer, dt.date(2026, 2, 2))}  # 28 days: still open
    assert by_name["request_review"].allowed and by_name["close"].allowed
    late = {a.name: a for a in for_case(decided, officer, dt.date(2026, 2, 3))}["request_review"]
    assert not late.allowed and late.why == "The review window closed on 2 February 2026 (28 days after the decision)."
    once = {**decided, "history": [{"action": "request_review"}, {"action": "decide"}]}
    assert "already been held" in {a.name: a for a in for_case(once, officer, dt.date(2026, 1, 6))}["request_review"].why
    assert all(not a.allowed and "Only an IFR officer" in a.why for a in for_case(decided, panel))
