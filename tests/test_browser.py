"""The web pages in a real browser (Debian's Chromium through Playwright): look-up by brand, the
eligibility form against `cpe evaluate`, keyboard-only use, and an axe accessibility scan."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.loopback import serving

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():  # a missing browser is a broken setup, not a reason to skip
    pytest.fail("the browser tests need Debian's Chromium at /usr/bin/chromium: run scripts/system-deps",
                pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="module")
def server():
    """The app under uvicorn on a free local port, in a background thread."""

    from engine.service.app import create_app

    with serving(create_app()) as base:
        yield base


@pytest.fixture
def page(page):
    """Pages load nothing from outside (the NHS font falls back to Arial)."""
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("http://127.0.0.1")
               else route.continue_())
    return page


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has focus, as a keyboard user would."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} never received focus from the keyboard")


# -- medicine look-up ----------------------------------------------------------------------
def test_search_by_brand_as_you_type_finds_the_status(page, server):
    page.goto(f"{server}/medicines")
    page.fill("#q", "Epidyolex")  # no submit: search as you type
    result = page.locator("#result-list li[data-entry='cannabidiol']")
    result.wait_for()
    assert result.get_attribute("data-status") == "red"
    assert result.locator(".cpe-status").inner_text() == "Red"
    assert "Cannabidiol (Epidyolex)" in result.inner_text()


def test_search_without_script_and_with_the_keyboard_alone(page, server):
    page.goto(f"{server}/medicines")
    tab_to(page, "#q")
    page.keyboard.type("slenyto")
    page.keyboard.press("Enter")  # the form submits (works without script too)
    page.wait_for_url("**/medicines?q=slenyto*")
    tab_to(page, "#result-list a")
    page.keyboard.press("Enter")
    page.wait_for_url("**/medicines/melatonin-slenyto-asd-sms")
    assert page.locator("#status").inner_text() == "Colour not stated"
    assert page.locator("#status").get_attribute("data-status") == "not_stated"


def test_indication_filter_narrows_the_results(page, server):
    page.goto(f"{server}/medicines?q=hydralazine&indication=heart+failure")
    statuses = page.locator("#result-list li").evaluate_all("els => els.map(e => e.dataset.status)")
    assert statuses == ["amber_0"]
    page.goto(f"{server}/medicines?q=hydralazine")
    assert page.locator("#result-list li").count() == 3


# -- eligibility checker ---------------------------------------------------------------------
PATIENTS = [
    ("assisted-conception", {"age": 34, "bmi": 24.5, "smoker": False, "has_partner": False,
                             "infertility_years": 3, "infertility_diagnosed_cause": False,
                             "previous_sterilisation": False, "previous_nhs_ivf_units": 0,
                             "patient_living_children": 0}),
    ("assisted-conception", {"age": 40, "bmi": 31}),
    ("breast-implant-removal", {"age": 50, "baker_grade": 4, "contracture_confirmed_by_specialist": True}),
    ("facial-nerve-rehabilitation", {"house_brackmann_grade": 6, "facial_palsy_cause": "bells_palsy",
                                     "palsy_duration_months": 14}),
]


def fill(page, facts: dict) -> None:
    for name, value in facts.items():
        if isinstance(value, bool) or isinstance(value, str):
            text = {True: "true", False: "false"}.get(value, value) if isinstance(value, bool) else value
            page.check(f"input[name='{name}'][value='{text}']")
        else:
            page.fill(f"#{name}", str(value))


@pytest.mark.parametrize("policy,facts", PATIENTS)
def test_eligibility_form_gives_the_same_decision_as_cpe_evaluate(page, server, cpe, tmp_path, policy, facts):
    p = tmp_path / "patient.json"
    p.write_text(json.dumps(facts))
    r = cpe("evaluate", policy, "--patient", str(p), "--format", "json")
    assert r.returncode == 0, r.stderr
    expected = json.loads(r.stdout)

    page.goto(f"{server}/eligibility/{policy}")
    fill(page, facts)
    page.click("#check")
    page.locator("#decision").wait_for()
    assert page.locator("#outcome").get_attribute("data-outcome") == expected["outcome"]
    assert page.locator("#route").get_attribute("data-route") == expected["route"]
    shown = page.locator("#criteria tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.criterion, r.dataset.status])")
    assert shown == [[c["id"], c["status"]] for c in expected["criteria"]]
    missing = page.locator("#missing li").evaluate_all("els => els.map(e => e.dataset.attribute)")
    assert missing == expected["missing"]
    for name, value in facts.items():  # the answers stay in the form for changing
        if not isinstance(value, (bool, str)):
            assert float(page.input_value(f"#{name}")) == value


def test_eligibility_by_keyboard_alone(page, server):
    page.goto(f"{server}/")
    tab_to(page, "#maincontent a[href='/eligibility']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/eligibility")
    tab_to(page, "#policy-list a[href='/eligibility/breast-implant-removal']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/eligibility/breast-implant-removal")
    tab_to(page, "#age")
    page.keyboard.type("45")
    tab_to(page, "input[name='implant_rupture'][value='']")  # a radio group: Tab reaches the checked one
    page.keyboard.press("ArrowUp")  # 'No'
    page.keyboard.press("ArrowUp")  # 'Yes'
    assert page.locator("input[name='implant_rupture'][value='true']").is_checked()
    tab_to(page, "#check")
    page.keyboard.press("Enter")
    page.locator("#decision").wait_for()
    assert page.locator("#outcome").get_attribute("data-outcome") == "eligible"


def test_bad_answers_are_shown_beside_their_fields(page, server):
    page.goto(f"{server}/eligibility/assisted-conception")
    page.fill("#age", "thirty")
    page.fill("#bmi", "95")
    page.click("#check")
    summary = page.locator(".nhsuk-error-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert "whole number" in text and "from 10 to 90" in text
    assert page.locator("#decision").count() == 0  # bad input never produces a decision
    summary.locator("a[href='#age']").click()
    assert page.locator("#age").evaluate("el => el === document.activeElement")


def test_decision_letter_link(page, server):
    page.goto(f"{server}/eligibility/breast-implant-removal")
    fill(page, {"age": 45, "implant_rupture": True})
    page.click("#check")
    with page.context.expect_page() as new:
        page.click("#letter")
    letter = new.value
    letter.wait_for_load_state()
    assert "breast-implant-removal" in letter.content() or "Breast implant removal" in letter.content()


# -- accessibility ---------------------------------------------------------------------------
PAGES = ["/", "/medicines", "/medicines?q=melatonin", "/medicines/cannabidiol",
         "/medicines/melatonin-slenyto-asd-sms", "/eligibility",
         "/eligibility/assisted-conception", "/eligibility/facial-nerve-rehabilitation", "/policies"]


def serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]


@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_violation(page, server, path):
    page.goto(f"{server}{path}")
    assert serious(page) == []


def test_axe_on_a_decision_and_on_errors(page, server):
    page.goto(f"{server}/eligibility/assisted-conception")
    fill(page, {"age": 34, "bmi": 24.5})
    page.click("#check")
    page.locator("#decision").wait_for()
    assert serious(page) == []
    page.fill("#age", "x")
    page.click("#check")
    page.locator(".nhsuk-error-summary").wait_for()
    assert serious(page) == []


def test_axe_on_a_restriction_check(page, server):
    # Circadin: Slenyto's access is not restricted (seed 001 §5.3), so it has no check to run
    page.goto(f"{server}/medicines/melatonin-circadin-asd-sms")
    page.fill("#age", "9")
    page.click("#check")
    page.locator("#check-result").wait_for()
    assert page.locator("#check-result").get_attribute("data-restriction") == "unknown"
    assert serious(page) == []


# -- offline ---------------------------------------------------------------------------------
def test_the_pages_and_api_docs_ask_nothing_of_the_internet(page, server):
    """Every request a page makes goes to the service itself; /docs renders from vendored files."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    for path in ("/", "/medicines", "/eligibility", "/policies"):
        page.goto(f"{server}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{server}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Commissioning policy engine" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/policies").first.wait_for()
    assert outside == []
