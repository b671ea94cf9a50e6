"""CDS Hooks requests shaped as UK systems send them (issue 11): dm+d codings (SNOMED CT URI or the
dm+d URI), a MedicationRequest naming its medicine only by code, through `medicationReference` to a
contained Medication, a Bundle entry or a prefetched resource, a coded `reasonCode` sent as one
object, and `reasonReference` to a Condition. The requests are the project's own, written to the
UK Core conventions (dm+d concept ids are SNOMED CT ids; VTM ids from the NHSBSA release 3010419
extract in tests/fixtures/dmd); none was captured from a live EHR.
"""
from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from engine.service.app import create_app

SCT, DMD = "http://snomed.info/sct", "https://dmd.nhs.uk"
SELECT, SIGN = "formulary-order-select", "formulary-order-sign"
MELATONIN_VTM, OCTREOTIDE_VTM, HYDRALAZINE_VTM = "116523008", "126155003", "22696000"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # unsigned calls (development mode: the JWT checks are in test_cds_trust.py); feedback to a fresh register
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CPE_CDS_DEVELOPMENT", "1")
        mp.setenv("CPE_DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('cds-uk') / 'register.sqlite3'}")
        with TestClient(create_app()) as c:
            yield c


def order(med: dict | None = None, **extra) -> dict:
    r = {"resourceType": "MedicationRequest", "id": "mr-1", "status": "draft", "intent": "order",
         "subject": {"reference": "Patient/9000000009"}, **extra}
    if med is not None:
        r["medicationCodeableConcept"] = med
    return r


def body(hook: str, *resources: dict, prefetch: dict | None = None) -> dict:
    b = {"hook": hook, "hookInstance": "6d2b2c4e-5a3f-4b8e-9c1d-2f3e4a5b6c7d",
         "context": {"userId": "PractitionerRole/ABC123", "patientId": "9000000009",
                     "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                     "entry": [{"fullUrl": f"urn:uuid:{i:08d}-0000-4000-8000-000000000000",
                                                "resource": r} for i, r in enumerate(resources)]}}}
    if hook == "order-select":   # every draft order selected (CDS Hooks: selections is required)
        b["context"]["selections"] = [f"MedicationRequest/{r['id']}" for r in resources
                                      if r.get("resourceType") == "MedicationRequest"]
    # the service's three prefetch keys, as an EHR fills them (an empty record unless the test says)
    b["prefetch"] = {"patient": {"resourceType": "Patient", "id": "9000000009"},
                     "conditions": {"resourceType": "Bundle", "type": "searchset"},
                     "observations": {"resourceType": "Bundle", "type": "searchset"}, **(prefetch or {})}
    return b


def cards(client, service: str, b: dict) -> list[dict]:
    r = client.post(f"/cds-services/{service}", json=b)
    assert r.status_code == 200, r.text
    return r.json()["cards"]


def coded(code: str, display: str | None = None, system: str = SCT) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def test_a_code_only_order_is_identified_by_its_dmd_vtm(client):
    # no text, no display: the dm+d VTM id alone names octreotide; the coded reason is POTS (text)
    b = body("order-sign", order(coded(OCTREOTIDE_VTM), reasonCode=[{"text": "Postural tachycardia syndrome"}]))
    [c] = cards(client, SIGN, b)
    assert c["indicator"] == "critical" and c["extension"]["invalid.cpe.formulary-entry"] == "octreotide-orthostatic-intolerance"


def test_dmd_uri_and_a_single_reason_object_with_a_snomed_code(client):
    # reasonCode sent as one CodeableConcept (not a list), coded heart failure (SNOMED 84114007)
    b = body("order-select", order(coded(HYDRALAZINE_VTM, "Hydralazine", DMD),
                                   reasonCode={"coding": [{"system": SCT, "code": "84114007"}]}))
    [c] = cards(client, SELECT, b)
    assert c["extension"]["invalid.cpe.formulary-entry"] == "hydralazine-tablets-heart-failure"
    assert c["indicator"] == "info" and "Amber" in c["summary"]
    b = body("order-select", order(coded(HYDRALAZINE_VTM, "Hydralazine", DMD),
                                   reasonCode={"coding": [{"system": SCT, "code": "38341003"}]}))
    assert cards(client, SELECT, b) == []   # Green for hypertension: no guidance needed


def test_medication_reference_to_a_contained_medication(client):
    med = {"resourceType": "Medication", "id": "med1",
           "code": {"coding": [{"system": SCT, "code": "00000000000", "display": "Colonis 1mg/ml oral solution"}]}}
    b = body("order-sign", order(None, contained=[med], medicationReference={"reference": "#med1"}))
    [c] = cards(client, SIGN, b)
    assert c["indicator"] == "critical" and c["extension"]["invalid.cpe.formulary-entry"] == "melatonin-colonis-oral-solution"


def test_medication_reference_to_a_bundle_entry_by_full_url_and_reason_reference(client):
    med = {"resourceType": "Medication", "id": "m2", "code": {"text": "Slenyto 5mg prolonged-release tablets"}}
    cond = {"resourceType": "Condition", "id": "c1",
            "code": {"coding": [{"system": SCT, "code": "35919005", "display": "Autism spectrum disorder"}]}}
    o = order(None, medicationReference={"reference": "urn:uuid:00000001-0000-4000-8000-000000000000"},
              reasonReference=[{"reference": "Condition/c1"}])
    [c] = cards(client, SELECT, body("order-select", o, med, cond))
    assert c["extension"]["invalid.cpe.formulary-entry"] == "melatonin-slenyto-asd-sms"


def test_medication_reference_to_a_prefetched_medication(client):
    pre = {"medication": {"resourceType": "Medication", "id": "p9",
                          "code": {"coding": [{"system": SCT, "code": MELATONIN_VTM}], "text": "Circadin 2mg MR tablets"}}}
    o = order(None, medicationReference={"reference": "Medication/p9"})
    [c] = cards(client, SELECT, body("order-select", o, prefetch=pre))
    assert c["extension"]["invalid.cpe.formulary-entry"] == "melatonin-circadin-asd-sms"


@pytest.mark.parametrize("o", [
    order(coded("99999999999")),                                    # a code the formulary does not know, no text
    order(None, medicationReference={"reference": "Medication/absent"}),   # a reference nobody sent
    order(None),                                                    # nothing at all
])
def test_an_order_that_cannot_be_identified_says_so(client, o):
    [c] = cards(client, SIGN, body("order-sign", o))
    assert c["indicator"] == "info" and "not identified" in c["summary"]
    assert "not a green" in c["detail"] and c["extension"]["invalid.cpe.status"] == "unknown"


def test_excluded_indication_from_a_coded_reason_gives_no_match_for_it(client):
    # OPEP for cystic fibrosis (SNOMED 190905008): the Black decision is for non-CF bronchiectasis only
    o = order({"text": "Oscillating positive expiratory pressure device"},
              reasonCode=[{"coding": [{"system": SCT, "code": "190905008", "display": "Cystic fibrosis"}]}])
    out = client.get("/api/medicines", params={"q": "OPEP", "indication": "cystic fibrosis"}).json()
    assert out["matches"] == [] and out["indication_excluded"][0]["status"] == "black"
    [c] = cards(client, SIGN, body("order-sign", o))
    # not the Black card of the excluded decision, and not a green: no decision covers this order,
    # and the card names the decision's own indication so the prescriber sees why
    assert c["indicator"] == "warning" and "No formulary decision" in c["summary"]
    assert c["extension"]["invalid.cpe.status"] == "no-decision"
    assert c["extension"]["invalid.cpe.excluded-by"] == "oscillating-pep-device-bronchiectasis"
    assert "non-cystic fibrosis bronchiectasis" in c["detail"] and "not a green" in c["detail"]
