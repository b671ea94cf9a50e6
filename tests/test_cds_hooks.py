"""CDS Hooks v2: discovery, order-select / order-sign cards from the formulary, feedback.

Requests are built from the specification's own examples (tests/fixtures/cds-hooks), with the
MedicationRequest's medicine swapped for ones the formulary decides on.
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient

from engine.service.app import create_app

SPEC = Path(__file__).resolve().parent / "fixtures" / "cds-hooks"
SELECT, SIGN = "formulary-order-select", "formulary-order-sign"


def spec(name: str) -> dict:
    return json.loads((SPEC / name).read_text())


#: what an EHR that satisfies every prefetch template sends when it knows nothing more of the patient
EMPTY_PREFETCH = {"patient": {"resourceType": "Patient", "id": "1288992"},
                  "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": []},
                  "observations": {"resourceType": "Bundle", "type": "searchset", "entry": []}}


def ext(card: dict, name: str) -> object:
    return card["extension"][f"invalid.cpe.{name}"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    # unsigned calls (development mode: the JWT checks are in test_cds_trust.py); feedback to a fresh register
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CPE_CDS_DEVELOPMENT", "1")
        mp.setenv("CPE_DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('cds') / 'register.sqlite3'}")
        yield create_app()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def request(context_file: str, hook: str, medicine: str | None = None, reason: str | None = None,
            prefetch: dict | None = None, facts: dict | None = None, text: bool = True) -> dict:
    """A hook request from a spec example context, optionally ordering another medicine."""
    ctx = copy.deepcopy(spec(context_file)["context"])
    for e in ctx["draftOrders"]["entry"]:
        r = e["resource"]
        if r["resourceType"] == "MedicationRequest" and medicine:
            r["medicationCodeableConcept"] = ({"text": medicine} if text else
                                              {"coding": [{"system": "http://example.org", "code": "x",
                                                           "display": medicine}]})
            if reason:
                r["reasonCode"] = [{"text": reason}]
    body = {"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "hook": hook,
            "fhirServer": "http://hooks.smarthealthit.org:9080", "context": ctx}
    body["prefetch"] = {**EMPTY_PREFETCH, **(prefetch or {})}
    if facts:
        body["extension"] = {"invalid.cpe.patient-facts": facts}
    return body


def cards(client, service, body) -> list[dict]:
    r = client.post(f"/cds-services/{service}", json=body)
    assert r.status_code == 200, r.text
    out = r.json()["cards"]
    for c in out:  # the spec's rules for a card
        assert len(c["summary"]) < 140
        assert c["indicator"] in ("info", "warning", "critical")
        assert c["source"]["label"]
        for link in c.get("links", []):
            assert link["type"] == "absolute" and link["url"].startswith("http")
    return out


def test_discovery_lists_order_select_and_order_sign_with_prefetch(client):
    services = client.get("/cds-services").json()["services"]
    by_hook = {s["hook"]: s for s in services}
    assert set(by_hook) == {"order-select", "order-sign"}
    example = spec("spec-01-discovery.json")["services"][1]  # the spec's order-select service
    for s in services:
        assert set(example) <= set(s)  # hook, title, description, id, prefetch
        templates = " ".join(s["prefetch"].values())
        for resource in ("Patient/{{context.patientId}}", "Condition?patient={{context.patientId}}",
                         "Observation?patient={{context.patientId}}"):
            assert resource in templates


@pytest.mark.parametrize("context,service,hook", [
    ("order-select-01-context.json", SELECT, "order-select"), ("order-select-02-context.json", SELECT, "order-select"),
    ("order-sign-01-context.json", SIGN, "order-sign"), ("order-sign-02-context.json", SIGN, "order-sign")])
def test_spec_examples_as_sent_give_no_guidance(client, context, service, hook):
    # amoxicillin/clavulanate is not among the formulary's decisions: an empty list, as in the spec
    assert cards(client, service, request(context, hook)) == spec("spec-10-response.json")["cards"]


def test_black_is_critical_and_names_no_ifr_route_the_decision_does_not_give(client):
    # seed 001 §3.6: "No significant risks were identified as alternative melatonin preparations are
    # available"; an IFR route is named only for octreotide/lanreotide in orthostatic intolerance (§3.2)
    [c] = cards(client, SIGN, request("order-sign-01-context.json", "order-sign", "Colonis 1mg/ml oral solution"))
    assert c["indicator"] == "critical"
    assert "individual funding request" not in c["summary"] and "alternative" in c["summary"]
    assert "Route: individual funding request" not in c["detail"]
    assert "decision" in c["source"]["label"]
    assert c["links"][0]["url"].endswith("/medicines/melatonin-colonis-oral-solution")
    assert c["overrideReasons"]


def test_red_is_a_warning_specialist_only(client):
    [c] = cards(client, SELECT, request("order-select-01-context.json", "order-select", "Epidyolex 100 mg/ml"))
    assert c["indicator"] == "warning" and "specialist" in c["summary"] and "Red" in c["summary"]


def test_amber_is_info_and_green_gives_no_card(client):
    body = request("order-select-02-context.json", "order-select", "Hydralazine 25 MG Oral Tablet",
                   reason="Heart failure")
    [c] = cards(client, SELECT, body)
    assert c["indicator"] == "info" and "Amber" in c["summary"] and "specialist" in c["summary"]
    body = request("order-select-02-context.json", "order-select", "Hydralazine 25 MG Oral Tablet",
                   reason="Hypertension")
    assert cards(client, SELECT, body) == []


def test_shared_care_amber(client):
    [c] = cards(client, SIGN, request("order-sign-02-context.json", "order-sign", "Methotrexate 2.5 MG Oral Tablet"))
    assert c["indicator"] == "info" and "shared care" in c["summary"]


def test_medicine_from_coding_display_when_there_is_no_text(client):
    [c] = cards(client, SELECT, request("order-select-01-context.json", "order-select", "Epidyolex", text=False))
    assert c["indicator"] == "warning"


def test_green_restricted_depends_on_the_patient(client):
    name = "Nortriptyline 10 MG Oral Tablet"
    [c] = cards(client, SELECT, request("order-select-01-context.json", "order-select", name))
    assert c["indicator"] == "info" and "restriction" in c["summary"]
    assert "Third line" in c["detail"]  # the restriction itself
    [c] = cards(client, SELECT, request("order-select-01-context.json", "order-select", name,
                                        facts={"neuropathic_pain_prior_agents_tried": 1}))
    assert "does not meet" in c["summary"]
    # this patient meets the restriction: no card
    assert cards(client, SELECT, request("order-select-01-context.json", "order-select", name,
                                         facts={"neuropathic_pain_prior_agents_tried": 2})) == []


def _patient(birth: str) -> dict:
    return {"patient": {"resourceType": "Patient", "id": "1288992", "birthDate": birth}}


def test_prefetched_patient_changes_the_card(client):
    name = "Circadin 2 mg modified-release tablets"  # Slenyto's access is not restricted (seed 001 §5.3)
    adult = cards(client, SELECT, request("order-select-01-context.json", "order-select", name,
                                          prefetch=_patient("1970-01-01")))
    child = cards(client, SELECT, request("order-select-01-context.json", "order-select", name,
                                          prefetch=_patient("2019-01-01")))
    assert ext(adult[0], "restriction") == "unmet" and "not met" in adult[0]["detail"]
    assert ext(child[0], "restriction") == "unknown"


def test_indication_from_prefetched_conditions_when_the_order_has_none(client):
    conditions = {"conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [
        {"resource": {"resourceType": "Condition", "code": {"text": "Essential hypertension (disorder)"}}}]}}
    body = request("order-sign-01-context.json", "order-sign", "Hydralazine 25 MG Oral Tablet", prefetch=conditions)
    assert cards(client, SIGN, body) == []  # green for hypertension


def test_bad_requests(client):
    body = request("order-sign-01-context.json", "order-sign")
    assert client.post("/cds-services/nope", json=body).status_code == 404
    wrong_hook = spec("spec-02-request.json")  # a patient-view request
    assert client.post(f"/cds-services/{SELECT}", json=wrong_hook).status_code == 400
    body = request("order-select-01-context.json", "order-select")
    del body["hookInstance"]
    r = client.post(f"/cds-services/{SELECT}", json=body)
    assert r.status_code == 400 and "hookInstance" in r.json()["issue"][0]["diagnostics"]
    assert r.json()["resourceType"] == "OperationOutcome"
    r = client.post(f"/cds-services/{SELECT}", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_feedback_records_accepted_and_overridden_with_reason(client, app):
    [c] = cards(client, SIGN, request("order-sign-01-context.json", "order-sign", "Colonis 1mg/ml oral solution"))
    reason = c["overrideReasons"][0]
    fb = {"feedback": [{"card": c["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z",
                        "overrideReason": {"reason": reason, "userComment": "IFR panel approved on 1 Nov"}}]}
    r = client.post(f"/cds-services/{SIGN}/feedback", json=fb)
    assert r.status_code == 200 and r.json() == {"recorded": 1}
    rec = app.state.feedback.all()[-1]
    assert rec["outcome"] == "overridden" and rec["override_code"] == reason["code"]
    assert rec["user_comment"] == "IFR panel approved on 1 Nov"
    assert rec["shown"]["indicator"] == "critical"
    ok = {"feedback": [{"card": c["uuid"], "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:01:00Z"}]}
    assert client.post(f"/cds-services/{SIGN}/feedback", json=ok).status_code == 200
    assert app.state.feedback.all()[-1]["outcome"] == "accepted"
    bad = {"feedback": [{"card": c["uuid"], "outcome": "ignored", "outcomeTimestamp": "2026-11-23T10:01:00Z"}]}
    assert client.post(f"/cds-services/{SIGN}/feedback", json=bad).status_code == 400


def test_the_spec_prefetch_example_is_read(client):
    # spec-08: a Patient born 1974 and an HbA1c search bundle with snipped fields, and a bare "user"
    prefetch = spec("spec-08-example.json")["prefetch"]
    [c] = cards(client, SELECT, request("order-select-01-context.json", "order-select", "Circadin",
                                        prefetch=prefetch))
    assert ext(c, "restriction") == "unmet"  # an adult: outside the 2-18 population of the decision


def test_the_older_facts_extension_name_is_still_read(client):
    body = request("order-select-01-context.json", "order-select", "Nortriptyline 10 MG Oral Tablet")
    body["extension"] = {"cpe.patient-facts": {"neuropathic_pain_prior_agents_tried": 2}}
    assert cards(client, SELECT, body) == []  # met: no card
    body["extension"] = {"cpe.patient-facts": {"neuropathic_pain_prior_agents_tried": "many"}}
    [c] = cards(client, SELECT, body)  # a fact that fails its check is dropped, not fatal
    assert ext(c, "restriction") == "unknown"
