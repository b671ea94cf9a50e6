"""The web search and /api/medicines use the one resolver (issue 11): an indication alone, "X for Y",
strengths and forms, and a decision that excludes the indication asked for; in Chromium too."""
from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from engine.service.app import create_app
from tests.test_browser import browser_type_launch_args, page, server  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def ids(out: dict) -> set[str]:
    return {m["id"] for m in out["matches"]}


def test_api_reads_strengths_forms_x_for_y_and_indication_alone(client):
    get = lambda **p: client.get("/api/medicines", params=p).json()  # noqa: E731
    assert ids(get(q="agomelatine 25mg tablets")) == {"agomelatine-depression"}
    assert ids(get(q="Colonis liquid")) == {"melatonin-colonis-oral-solution"}
    assert ids(get(q="nortriptyline", indication="painful diabetic neuropathy")) == {"nortriptyline-neuropathic-pain"}
    assert ids(get(q="POTS")) == {"octreotide-orthostatic-intolerance", "lanreotide-orthostatic-intolerance"}
    out = get(q="OPEP", indication="cystic fibrosis")
    assert out["matches"] == [] and [m["id"] for m in out["indication_excluded"]] == [
        "oscillating-pep-device-bronchiectasis"]


def test_results_fragment_for_an_indication_alone_and_an_exclusion(client):
    html = client.get("/medicines/results", params={"q": "high blood pressure"}).text
    assert 'data-entry="hydralazine-tablets-hypertension"' in html and "Read as" in html
    html = client.get("/medicines/results", params={"q": "OPEP", "indication": "cystic fibrosis"}).text
    assert "0 results" in html and 'id="excluded-list"' in html and "explicitly excluded" in html
    html = client.get("/medicines/results", params={"q": "OPEP", "indication": "bronchiectasis"}).text
    assert "Check the indication:" in html   # the decision covers only non-CF bronchiectasis


def test_typing_an_indication_alone_finds_its_decisions(page, server):  # noqa: F811
    page.goto(f"{server}/medicines")
    page.fill("#q", "POTS")  # search as you type, no medicine named
    result = page.locator("#result-list li[data-entry='octreotide-orthostatic-intolerance']")
    result.wait_for()
    assert result.get_attribute("data-status") == "black"
    assert page.locator("#result-list li").count() == 2


def test_typing_a_prescription_line_finds_the_product(page, server):  # noqa: F811
    page.goto(f"{server}/medicines")
    page.fill("#q", "melatonin 1mg/ml oral solution")
    result = page.locator("#result-list li[data-entry='melatonin-colonis-oral-solution']")
    result.wait_for()
    assert page.locator("#result-list li").count() == 1 and result.get_attribute("data-status") == "black"
