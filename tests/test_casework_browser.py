"""IFR casework in a real browser (Debian's Chromium through Playwright): an IFR officer and a
panel member, each in their own browser context, walk a request from submission to a sent
decision letter. On the way: a panel member cannot screen, an officer cannot decide, a form
posted without its CSRF token is refused, and axe finds no serious or critical violation on
any page the walk visits."""
from __future__ import annotations

import pytest

from tests.loopback import serving
from tests.test_browser import CHROMIUM, browser_type_launch_args, serious  # noqa: F401

USERS = {"olive": ("ifr_officer", "officer password 1", "Olive Officer"),
         "pat": ("panel", "panel password 12", "Pat Panel"),
         "ada": ("admin", "admin password 12", "Ada Admin")}


@pytest.fixture(scope="module")
def casework(tmp_path_factory):
    """The app under uvicorn on a free local port, with a fresh register and two accounts."""

    from engine.register.store import Register
    from engine.register.users import add_user
    from engine.service.app import create_app

    app = create_app()
    reg = app.state.register = Register(f"sqlite:///{tmp_path_factory.mktemp('cw') / 'r.sqlite3'}",
                                        suite=app.state.suite)
    for name, (role, password, full) in USERS.items():
        add_user(reg, name, role, password, full_name=full, actor="test:setup")
    with serving(app) as base:
        yield base, reg
    reg.close()


def signed_in(browser, base: str, who: str):
    """A fresh browser context (its own cookies) signed in as `who`; nothing loads from outside."""
    context = browser.new_context()
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("http://127.0.0.1")
                  else route.continue_())
    page = context.new_page()
    page.goto(f"{base}/casework")
    assert "/casework/sign-in" in page.url
    assert serious(page) == []
    page.fill("#username", who)
    page.fill("#password", USERS[who][1])
    page.click("#sign-in")
    page.locator("#signed-in-as").wait_for()
    assert page.locator("#signed-in-as").inner_text() == USERS[who][2]
    return context, page


def test_a_request_from_submission_to_a_sent_letter_with_two_roles(browser, casework):
    base, reg = casework
    officer_ctx, officer = signed_in(browser, base, "olive")
    panel_ctx, panel = signed_in(browser, base, "pat")
    assert serious(officer) == []  # the queue

    # the officer records a request from the eligibility checker's form
    officer.click("text=New request")
    assert serious(officer) == []
    officer.click("[data-policy='hip-arthroscopy']")
    officer.fill("#on", "2025-06-01")
    officer.fill("#requester", "Dr Jones")
    officer.fill("#grounds", "The patient is a carer for her mother. She wants to return to work soon.")
    officer.check("#osteoarthritis-2")  # No
    assert serious(officer) == []
    officer.click("#check")  # the eligibility checker's decision first; nothing recorded yet
    officer.locator("#decision").wait_for()
    assert reg.list_cases() == [] and officer.input_value("#grounds").startswith("The patient is a carer")
    assert serious(officer) == []
    officer.click("#record-request")
    officer.locator("#notice").wait_for()
    ref = officer.locator("h1").inner_text().split()[1]
    assert officer.locator("#state").get_attribute("data-state") == "submitted"
    assert officer.locator("#grounds tr[data-flagged='true'] td").first.inner_text() == \
        "She wants to return to work soon."  # the sentence stays, its flag beside it
    assert serious(officer) == []

    # a form posted without its CSRF token is refused, and nothing is recorded
    officer.locator("form[data-action='screen'] input[name='csrf_token']").evaluate("el => el.remove()")
    officer.click("#action-screen")
    officer.locator("#refusal").wait_for()
    assert "security token" in officer.locator("#refusal").inner_text()
    assert reg.show(ref)["state"] == "submitted"
    assert serious(officer) == []

    # a panel member cannot screen: not offered, says why, and a forged post is refused
    panel.goto(f"{base}/casework/cases/{ref}")
    assert panel.locator("#action-screen").count() == 0
    assert "Only an IFR officer may do this" in panel.locator("[data-refused='screen']").inner_text()
    token = panel.locator("input[name='csrf_token']").first.get_attribute("value")
    r = panel_ctx.request.post(f"{base}/casework/cases/{ref}/actions/screen", form={"csrf_token": token})
    assert r.status == 403 and reg.show(ref)["state"] == "submitted"
    assert serious(panel) == []

    # the officer screens and refers; the officer cannot decide
    officer.goto(f"{base}/casework/cases/{ref}")
    officer.click("#action-screen")
    officer.locator("#notice[data-done='screen']").wait_for()
    officer.click("#action-refer")
    officer.locator("#notice[data-done='refer']").wait_for()
    assert officer.locator("#action-decide").count() == 0
    assert "Only a panel member may do this" in officer.locator("[data-refused='decide']").inner_text()
    token = officer.locator("input[name='csrf_token']").first.get_attribute("value")
    r = officer_ctx.request.post(f"{base}/casework/cases/{ref}/actions/decide",
                                 form={"csrf_token": token, "outcome": "approved", "reason": "forged"})
    assert r.status == 403 and reg.show(ref)["state"] == "panel"
    assert serious(officer) == []

    # the panel's agenda and pack, then its decision with reasons
    panel.click("text=Panel agenda")
    assert panel.locator(f"#ref-{ref}").is_checked()
    assert serious(panel) == []
    token = panel.locator("input[name='csrf_token']").first.get_attribute("value")
    pack = panel_ctx.request.post(f"{base}/casework/panel/pack",
                                  form={"csrf_token": token, "ref": ref, "meeting": "2025-07-01"})
    assert pack.status == 200 and pack.body().startswith(b"%PDF")
    panel.goto(f"{base}/casework/cases/{ref}")
    panel.check("#outcome")  # Approved
    panel.click("#action-decide")  # no reasons: refused with an error summary
    panel.locator(".nhsuk-error-summary").wait_for()
    assert serious(panel) == []
    panel.check("#outcome")
    panel.fill("#reason", "Exceptional clinical circumstances were shown.")
    panel.click("#action-decide")
    panel.locator("#notice[data-done='decide']").wait_for()
    assert panel.locator("#state").get_attribute("data-state") == "decided"
    assert panel.locator("#send-decision").count() == 0  # sending letters is the officer's
    assert serious(panel) == []

    # the officer reads the decision letter and records it as sent
    officer.goto(f"{base}/casework/cases/{ref}")
    assert "review may be asked for until" in officer.locator("#review-window").inner_text()
    letter = officer_ctx.request.get(base + officer.locator("#letter-decision").get_attribute("href"))
    assert letter.status == 200 and letter.headers["content-type"] == "application/pdf"
    officer.click("#send-decision")
    officer.locator("#letters-sent li[data-kind='decision']").wait_for()
    officer.click("#action-close")
    officer.locator("#notice[data-done='close']").wait_for()
    assert [h["action"] for h in reg.show(ref)["history"]] == ["submit", "screen", "refer", "decide", "close"]
    assert [e["kind"] for e in reg.entries(("letter.sent",), case_ref=ref)] == ["decision"]
    assert serious(officer) == []

    officer.click("#sign-out")
    officer.locator("#sign-in").wait_for()
    officer_ctx.close()
    panel_ctx.close()

    # an administrator checks the register from the page: intact, with the case's audit entries
    admin_ctx, admin = signed_in(browser, base, "ada")
    admin.click("text=Check the register")
    admin.click("#verify")
    admin.locator("#verify-report").wait_for()
    assert admin.locator("#verify-report").get_attribute("data-ok") == "true"
    assert serious(admin) == []
    admin.goto(f"{base}/casework/cases/{ref}")
    assert admin.locator("#audit tr[data-action='letter.sent']").count() == 1
    assert serious(admin) == []
    admin_ctx.close()
