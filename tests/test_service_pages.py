"""The web pages without a browser: every page renders, unknown things are 404 pages, bad answers 422."""
from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient

from engine.service.app import create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def test_every_policy_form_renders_with_a_field_for_each_attribute_it_tests(client, suite):
    from engine.language.model.criteria import Compare, walk

    for pid in suite.ids():
        r = client.get(f"/eligibility/{pid}")
        assert r.status_code == 200, pid
        rv = suite.select(pid, version=suite.policy(pid).versions[-1].version)
        r = client.get(f"/eligibility/{pid}", params={"version": rv.label})
        for top in (*rv.scope_criteria, *rv.criteria):
            for n in walk(top):
                if isinstance(n, Compare):
                    assert f'name="{n.attr}"' in r.text, (pid, n.attr)


def test_policy_documents_render_for_every_version(client, suite):
    for p in suite.policies():
        for v in p.versions:
            r = client.get(f"/policies/{p.id}/{v.version}")
            assert r.status_code == 200 and p.title in r.text


@pytest.mark.parametrize("path", ["/eligibility/no-such-policy", "/medicines/no-such-entry",
                                  "/policies/no-such-policy/2020-01-01", "/policies/assisted-conception/1999-01-01"])
def test_unknown_things_are_404_pages(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "Page not found" in r.text


def test_results_fragment_for_search_as_you_type(client):
    r = client.get("/medicines/results", params={"q": "circadin"})
    assert r.status_code == 200 and "<html" not in r.text
    assert 'data-entry="melatonin-circadin-asd-sms"' in r.text


def test_bad_answers_give_422_and_no_decision(client):
    r = client.post("/eligibility/assisted-conception", data={"age": "200", "smoker": "maybe"})
    assert r.status_code == 422
    assert 'id="decision"' not in r.text and "There is a problem" in r.text
    assert r.text.count("nhsuk-error-message") == 2


def test_form_answers_decide_as_the_api(client):
    facts = {"age": 50, "implant_rupture": True}
    api = client.post("/api/policies/breast-implant-removal/evaluate", json=facts).json()
    r = client.post("/eligibility/breast-implant-removal", data={"age": "50", "implant_rupture": "true"})
    assert r.status_code == 200 and f'data-outcome="{api["outcome"]}"' in r.text


def test_a_date_with_no_version_in_force_is_an_error_on_the_date(client):
    r = client.post("/eligibility/assisted-conception", data={"on": "2001-01-01"})
    assert r.status_code == 422 and "no ratified version in force" in r.text


def test_restriction_check_on_a_medicine_page_as_cpe_rag_patient(client, cpe, tmp_path):
    import json

    for facts, form in [({"neuropathic_pain_prior_agents_tried": 2}, {"neuropathic_pain_prior_agents_tried": "2"}),
                        ({"neuropathic_pain_prior_agents_tried": 1}, {"neuropathic_pain_prior_agents_tried": "1"}),
                        ({}, {})]:
        p = tmp_path / "p.json"
        p.write_text(json.dumps(facts))
        out = json.loads(cpe("rag", "nortriptyline", "--patient", str(p), "--format", "json").stdout)
        expected = out["matches"][0]["patient"]["restriction"]
        r = client.post("/medicines/nortriptyline-neuropathic-pain", data=form)
        assert r.status_code == 200 and f'data-restriction="{expected}"' in r.text


def test_restriction_check_refuses_a_bad_answer(client):
    r = client.post("/medicines/nortriptyline-neuropathic-pain", data={"neuropathic_pain_prior_agents_tried": "99"})
    assert r.status_code == 422 and "data-restriction" not in r.text and "There is a problem" in r.text
