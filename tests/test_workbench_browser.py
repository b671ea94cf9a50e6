"""The policy workbench in a real browser (Debian's Chromium through Playwright), on a copy of the
shipped policies: a policy group member removes criterion c) from breast-implant-replacement 2018
and sees what `cpe diff … --from 2018-07-01 --to 2020-03-05` reports, exports the committee paper
as PDF and saves the draft, which `cpe policies` then lists; the 2018 assisted-conception
childlessness wording, reworded as in 2020, is shown under both readings with the results of
docs/wording-changes.md §1. axe finds no serious or critical violation on the pages."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.reports.render import example_text
from tests.loopback import serving
from tests.test_browser import CHROMIUM, browser_type_launch_args, serious  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
USERS = {"polly": ("policy_group", "policy password 1", "Polly Policy"),
         "olive": ("ifr_officer", "officer password 1", "Olive Officer")}
TEXT_2020 = ("The patient, and their partner in the case of couples, must not have a living biological or "
             "adopted child from their current or any previous relationship.")


def cpe(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([str(Path(sys.executable).parent / "cpe"), *args], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The app under uvicorn on a free local port, over a copy of the policies, with two accounts."""

    from engine.register.store import Register
    from engine.register.users import add_user
    from engine.service.app import create_app

    root = tmp_path_factory.mktemp("wb") / "policies"
    shutil.copytree(ROOT / "policies", root)
    app = create_app(root)
    reg = app.state.register = Register(f"sqlite:///{root.parent / 'r.sqlite3'}", suite=app.state.suite)
    for name, (role, password, full) in USERS.items():
        add_user(reg, name, role, password, full_name=full, actor="test:setup")
    with serving(app) as base:
        yield base, root
    reg.close()


def signed_in(browser, base: str, who: str, path: str):
    """A fresh browser context signed in as `who`, landing on `path`; nothing loads from outside."""
    context = browser.new_context(accept_downloads=True)
    context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("http://127.0.0.1")
                  else route.continue_())
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/casework/sign-in?next={path}")
    page.fill("#username", who)
    page.fill("#password", USERS[who][1])
    page.click("#sign-in")
    page.wait_for_url(f"{base}{path}")
    return context, page, errors


def analysed(page) -> None:
    """Wait until the live analysis has caught up with the last edit."""
    page.wait_for_selector("#analysis[data-state='done'] #analysis-result", timeout=60_000)


def shown_changes(section) -> list[dict[str, str]]:
    return [{"from": c.get_attribute("data-from"), "to": c.get_attribute("data-to"),
             "when": c.locator(".wb-when").inner_text(), "example": c.locator(".wb-example").inner_text()}
            for c in section.locator(".wb-change").all()]


def test_removing_criterion_c_shows_the_2020_diff_exports_the_paper_and_saves_a_draft(browser, workbench):
    base, root = workbench
    path = "/workbench/breast-implant-replacement/2018-07-01"
    file = root / "breast-implant-replacement/policy.yaml"
    before = file.read_text()
    context, page, console = signed_in(browser, base, "polly", path)
    page.locator("fieldset.wb-criterion[data-id='c']").wait_for()
    analysed(page)
    assert page.locator(".wb-reading").get_attribute("data-equivalent") == "true"  # nothing edited yet
    assert "Proved by exhaustive partition" in page.locator(".wb-proof").inner_text()
    assert serious(page) == []

    page.click("[data-remove='c']")
    page.wait_for_function("() => document.querySelectorAll('#analysis[data-state=\"done\"] .wb-change').length === 3",
                           timeout=60_000)
    assert page.locator("fieldset.wb-criterion[data-id='c']").count() == 0
    assert "id: c" not in page.input_value("#yaml")
    assert page.locator("#check-problems li").count() == 0

    expected = json.loads(cpe("diff", "breast-implant-replacement", "--from", "2018-07-01", "--to", "2020-03-05",
                              "--format", "json"))
    section = page.locator(".wb-reading")
    assert section.get_attribute("data-equivalent") == "false"
    assert shown_changes(section) == [{"from": c["from_outcome"], "to": c["to_outcome"], "when": c["description"],
                                       "example": example_text(c["example"])} for c in expected["changes"]]
    assert expected["method"] in section.locator(".wb-proof").inner_text()
    # the synthetic cohort of docs/wording-changes.md (10,000 patients, seed 1): the same counts
    moves = {(r.get_attribute("data-from"), r.get_attribute("data-to")): int(r.locator(".wb-count").inner_text())
             for r in section.locator(".wb-moves tbody tr").all()}
    assert moves[("not_eligible", "eligible")] == 347 and moves[("not_eligible", "insufficient_information")] == 270
    assert moves[("insufficient_information", "eligible")] == 37
    assert section.locator("svg.wb-chart rect").count() == 3
    assert int(page.locator("#cases").get_attribute("data-failing")) > 0  # the 2018 cases that relied on c)
    assert serious(page) == []

    # the committee paper, as PDF
    page.fill("#rationale", "Evidence that immediate replacement can increase capsular contracture.")
    page.select_option("#format", "pdf")
    with page.expect_download() as dl:
        page.click("#export")
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    assert dl.value.suggested_filename.endswith("-paper.pdf")

    # saving the draft: a new draft version of only the change, based on 2018-07-01
    page.fill("#label", "draft-2031")
    page.fill("#summary", "Criterion c) removed (same procedure as removal).")
    page.click("#save")
    page.locator("#notice").wait_for()
    assert "draft-2031" in page.locator("#notice").inner_text()
    after = file.read_text()
    assert after.startswith(before)  # nothing above the new version changed: no ratified version written
    added = after[len(before):]
    assert "version: draft-2031" in added and "status: draft" in added and "based_on: '2018-07-01'" in added
    assert "- remove: c" in added and "criteria:" not in added and "replace" not in added
    listed = json.loads(cpe("policies", "--policies", str(root), "--format", "json"))
    versions = {v["version"]: v["status"] for p in listed if p["id"] == "breast-implant-replacement"
                for v in p["versions"]}
    assert versions == {"2018-07-01": "ratified", "2020-03-05": "ratified", "draft-2031": "draft"}
    assert "    draft-2031   draft     not in force" in cpe("policies", "--policies", str(root))
    assert "NOT equivalent" in cpe("diff", "breast-implant-replacement", "--from", "2018-07-01", "--to", "draft-2031",
                                   "--policies", str(root))
    # the draft is equivalent to the ratified 2020 version
    assert "equivalent: no patient" in cpe("diff", "breast-implant-replacement", "--from", "2020-03-05",
                                           "--to", "draft-2031", "--policies", str(root))
    assert console == []
    context.close()


def test_only_a_policy_group_member_may_save(browser, workbench):
    base, root = workbench
    path = "/workbench/hip-arthroscopy/2018-03-01"
    file = root / "hip-arthroscopy/policy.yaml"
    before = file.read_text()
    context, page, _ = signed_in(browser, base, "olive", path)
    analysed(page)
    page.click("#save")
    page.locator("#save-error").wait_for()
    assert "Only a policy group member may save a draft" in page.locator("#save-error").inner_text()
    assert file.read_text() == before
    assert serious(page) == []
    context.close()


def test_the_2018_childlessness_wording_reworded_as_in_2020_under_both_readings(browser, workbench):
    base, _ = workbench
    context, page, console = signed_in(browser, base, "polly", "/workbench/assisted-conception/2018-11-01")
    criterion = page.locator("fieldset.wb-criterion[data-id='childless']")
    criterion.wait_for()
    analysed(page)
    assert page.locator(".wb-reading").count() == 2  # the 2018 wording declares two readings
    criterion.locator("textarea[data-field='text']").fill(TEXT_2020)  # the 2020 wording; the rule stays as encoded
    page.click("[data-remove-readings='childless']")  # the new words are not ambiguous
    page.wait_for_function("() => document.querySelectorAll('#analysis[data-state=\"done\"] .wb-change').length === 3",
                           timeout=60_000)
    each = page.locator(".wb-reading[data-reading='childless:each_patient']")
    alone = page.locator(".wb-reading[data-reading='childless:patient_alone']")
    # docs/wording-changes.md §1: no change under "each patient"; a restrictive change under "the patient alone"
    assert each.get_attribute("data-equivalent") == "true"
    assert alone.get_attribute("data-equivalent") == "false"
    changes = shown_changes(alone)
    assert [(c["from"], c["to"]) for c in changes] == [("eligible", "not_eligible"),
                                                       ("eligible", "insufficient_information"),
                                                       ("insufficient_information", "not_eligible")]
    assert "has_partner = true AND partner_living_children > 0" in changes[0]["when"]
    assert "partner_living_children = 1" in changes[0]["example"]
    assert "patient_living_children = 0" in changes[0]["example"]
    assert serious(page) == []
    assert console == []
    context.close()


def test_a_reading_declared_in_the_structure_editor_is_analysed(browser, workbench):
    base, _ = workbench
    context, page, console = signed_in(browser, base, "polly", "/workbench/assisted-conception/2020-03-05")
    page.locator("fieldset.wb-criterion[data-id='childless']").wait_for()
    analysed(page)
    assert page.locator(".wb-reading").count() == 1  # the 2020 wording declares no readings
    page.click("[data-add-reading='childless']")
    reading = page.locator(".wb-reading-edit[data-reading='reading_2']")
    reading.locator(".wb-rule select").first.select_option("compare")  # the rule under this reading
    reading.locator(".wb-rule select").nth(1).select_option("patient_living_children")  # = 0
    page.wait_for_function("() => document.querySelectorAll('#analysis[data-state=\"done\"] .wb-reading').length === 2",
                           timeout=60_000)
    assert page.locator(".wb-reading[data-reading='childless:as_encoded']").get_attribute("data-equivalent") == "true"
    other = page.locator(".wb-reading[data-reading='childless:reading_2']")
    assert other.get_attribute("data-equivalent") == "false"
    assert ("not_eligible", "eligible") in [(c["from"], c["to"]) for c in shown_changes(other)]
    assert "readings:" in page.input_value("#yaml") and "rule: {attr: patient_living_children" in page.input_value("#yaml")
    assert serious(page) == []
    assert console == []
    context.close()
