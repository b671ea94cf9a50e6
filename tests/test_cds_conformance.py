"""CDS Hooks 2.0 conformance, rule by rule (docs/service.md, "Conformance"), on three shapes of request:

- the specification's own examples (tests/fixtures/cds-hooks, -conformance);
- requests built as the reference sandbox builds them (tests/fixtures/cds-hooks-sandbox/README.md):
  signed with the sandbox's published ES384 key, `reasonCode` as one object, no prefetch but a
  `fhirServer` (a FHIR server on loopback started here) and `fhirAuthorization`;
- NHS England's UK Core examples (tests/fixtures/uk-core, FHIR XML read by engine.fhir.xml).

Done when each shape gets the same card `cpe rag` gives for that medicine and indication.
"""
from __future__ import annotations

import copy
import json
import re
import time
import uuid
import warnings
from pathlib import Path

import jwt
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from engine.fhir import xml
from engine.service.app import create_app
from tests.loopback import LoopbackServer

FIX = Path(__file__).resolve().parent / "fixtures"
SELECT, SIGN = "formulary-order-select", "formulary-order-sign"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
ORIGIN = {"Origin": "https://sandbox.cds-hooks.org"}


def spec(name: str) -> dict:
    return json.loads((FIX / "cds-hooks" / name).read_text())


def uk(name: str) -> dict:
    return xml.parse((FIX / "uk-core" / f"UKCore-{name}-Example.xml").read_text())


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


# The one patient of every shape: NHS England's UK Core example adult, with BMI and smoking observations.
PATIENT = uk("Patient-RichardSmith")
PREFETCH = {"patient": PATIENT, "conditions": searchset(uk("Condition-HipReplacement")),
            "observations": searchset(uk("Observation-VitalSigns-BMI"), uk("Observation-PipeSmoker"))}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """Production mode: JWTs required; the sandbox trusted with its own published JWK Set."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CPE_CDS_DEVELOPMENT", raising=False)
        mp.setenv("CPE_CDS_TRUSTED_ISSUERS", SANDBOX_ISS)
        mp.setenv("CPE_CDS_TRUSTED_JKU", SANDBOX_JKU)
        mp.setenv("CPE_CDS_JWKS_FILE", str(FIX / "cds-hooks-sandbox" / "jwks.json"))
        mp.setenv("CPE_DATABASE_URL", f"sqlite:///{tmp_path_factory.mktemp('conf') / 'register.sqlite3'}")
        yield create_app()


@pytest.fixture(scope="module")
def client(app):
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"CPE_CDS_TRUSTED_ISSUERS": SANDBOX_ISS, "CPE_CDS_TRUSTED_JKU": SANDBOX_JKU,
                     "CPE_CDS_JWKS_FILE": str(FIX / "cds-hooks-sandbox" / "jwks.json")}.items():
            mp.setenv(k, v)
        mp.delenv("CPE_CDS_DEVELOPMENT", raising=False)
        with TestClient(app) as c:
            yield c


def sandbox_jwt(url: str) -> str:
    """As the sandbox's jwt-generator.js: ES384, its kid and jku; iss, aud, exp +300 s, iat, jti."""
    now = round(time.time())
    return jwt.encode({"iss": SANDBOX_ISS, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())},
                      (FIX / "cds-hooks-sandbox" / "ecprivkey.pem").read_bytes(), algorithm="ES384",
                      headers={"alg": "ES384", "typ": "JWT", "kid": SANDBOX_KID, "jku": SANDBOX_JKU})


def post(client, service: str, body, *, signed: bool = True, suffix: str = "", host: str = "testserver"):
    path = f"/cds-services/{service}{suffix}"
    headers = {**ORIGIN, "Host": host,
               **({"Authorization": f"Bearer {sandbox_jwt(f'http://{host}{path}')}"} if signed else {})}
    if isinstance(body, (bytes, str)):
        return client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    return client.post(path, json=body, headers=headers)


def outcome(r, status: int, words: str = "") -> dict:
    """An error as the rules want it: the status, a FHIR OperationOutcome, the CORS header."""
    assert r.status_code == status, (r.status_code, r.text)
    out = r.json()
    assert out["resourceType"] == "OperationOutcome" and out["issue"][0]["severity"] == "error", out
    assert words in out["issue"][0]["diagnostics"], out
    assert r.headers.get("access-control-allow-origin") == "*", dict(r.headers)
    return out


# -- the three shapes --------------------------------------------------------------------------
def spec_shape(display: str, reason: str | None) -> dict:
    """The specification's order-select example (a NutritionOrder and a MedicationRequest, both selected)."""
    ctx = copy.deepcopy(spec("order-select-01-context.json")["context"])
    ctx["patientId"] = PATIENT["id"]  # the patient of the prefetch (a Patient not in context is refused)
    for e in ctx["draftOrders"]["entry"]:
        if e["resource"]["resourceType"] == "MedicationRequest":
            e["resource"]["medicationCodeableConcept"] = {"text": display}
            e["resource"].pop("reasonCode", None)
            if reason:
                e["resource"]["reasonCode"] = [{"text": reason}]
    return {"hookInstance": str(uuid.uuid4()), "hook": "order-select", "fhirServer": "http://fhir.example.org:9080",
            "context": ctx, "prefetch": PREFETCH}


SANDBOX_RXNORM = {"Hydralazine Hydrochloride 50 MG": "905216",            # src/assets/medication-list.js
                  "Methotrexate 2.5 MG Oral Tablet [Rheumatrex]": "579782"}


def sandbox_shape(display: str, reason: str | None, fhir_server: str) -> dict:
    """As the sandbox's callServices + createFhirResource: no prefetch sent (the service fetches it)."""
    coding = {"display": display, "system": "http://www.nlm.nih.gov/research/umls/rxnorm"}
    if display in SANDBOX_RXNORM:
        coding["code"] = SANDBOX_RXNORM[display]
    resource = {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft",
                "subject": {"reference": "Patient/UKCore-Patient-RichardSmith-Example"}, "authoredOn": "2026-12-02",
                "medicationCodeableConcept": {"text": display, "coding": [coding]}}
    if reason:
        resource["reasonCode"] = {"text": reason}  # the chosen Condition's code: ONE CodeableConcept
    return {"hookInstance": str(uuid.uuid4()), "hook": "order-select", "fhirServer": fhir_server,
            "context": {"patientId": "UKCore-Patient-RichardSmith-Example", "userId": "Practitioner/COREPRACTITIONER1",
                        "selections": ["MedicationRequest/request-123"],
                        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": resource}]}},
            "fhirAuthorization": {"access_token": "sandbox-access-token", "token_type": "Bearer", "expires_in": 300,
                                  "scope": "patient/*.* user/*.* launch openid profile online_access",
                                  "subject": "48163c5e-88b5-4cb3-92d3-23b800caa927"}}


def uk_core_shape(display: str, reason: str | None) -> dict:
    """An order-sign call carrying a UK Core MedicationRequest (the Amoxicillin example's structure, its
    dm+d coding's display set to the medicine ordered and its code removed: no dm+d code for these
    medicines is known to this project; status draft, intent order, as an unsigned order is)."""
    mr = uk("MedicationRequest-Amoxicillin")
    mr.update(status="draft", intent="order", id="uk-order-1")
    mr["medicationCodeableConcept"] = {"coding": [{"system": "https://dmd.nhs.uk", "display": display}]}
    if reason:
        mr["reasonCode"] = [{"text": reason}]
    return {"hookInstance": str(uuid.uuid4()), "hook": "order-sign", "fhirServer": "https://fhir.example.nhs.uk/R4",
            "context": {"patientId": "UKCore-Patient-RichardSmith-Example",
                        "userId": "Practitioner/UKCore-Practitioner-ConsultantSandraGose-Example",
                        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": mr}]}},
            "prefetch": PREFETCH}


def fhir_routes(seen_auth: list[str] | None = None) -> dict:
    """The sandbox's FHIR server, on loopback: the patient's resources for the prefetch templates."""
    def search(kind: str):
        def answer(path, query):
            assert "patient=UKCore-Patient-RichardSmith-Example" in query, query
            return 200, PREFETCH[kind]
        return answer
    return {"/Patient/UKCore-Patient-RichardSmith-Example": PATIENT, "/Condition": search("conditions"),
            "/Observation": search("observations")}


CASES = [  # (order text in the EHR, sandbox's text, indication, `cpe rag` query, `--indication`)
    ("Hydralazine 25 MG Oral Tablet", "Hydralazine Hydrochloride 50 MG", "Heart failure", "hydralazine",
     "heart failure"),
    ("Hydralazine 25 MG Oral Tablet", "Hydralazine Hydrochloride 50 MG", "Essential hypertension (disorder)",
     "hydralazine", "hypertension"),
    ("Methotrexate 2.5 MG Oral Tablet", "Methotrexate 2.5 MG Oral Tablet [Rheumatrex]", None, "methotrexate", None),
    ("Epidyolex 100 mg/ml oral solution", "Epidyolex 100 mg/ml oral solution", None, "epidyolex", None),
    ("Colonis 1mg/ml oral solution", "Colonis 1mg/ml oral solution", None, "Colonis 1mg/ml oral solution", None),
    ("Nortriptyline 10 MG Oral Tablet", "Nortriptyline 10 MG Oral Tablet", None, "nortriptyline", None),
]


def _same(card: dict) -> dict:
    """A card without what differs by call (uuid) and by request (the MedicationRequest's id)."""
    out = {k: v for k, v in card.items() if k != "uuid"}
    out["extension"] = {k: v for k, v in card["extension"].items() if not k.endswith(".medication-request")}
    return out


@pytest.mark.parametrize("ehr,sandbox,reason,query,indication", CASES)
def test_each_ehr_shape_gets_the_card_cpe_rag_gives(client, cpe, ehr, sandbox, reason, query, indication):
    rag = json.loads(cpe("rag", query, *(["--indication", indication] if indication else []), "--format", "json")
                     .stdout)["matches"][0]
    seen: list = []
    with LoopbackServer(fhir_routes()) as fhir:
        shapes = {"spec": post(client, SELECT, spec_shape(ehr, reason)),
                  "sandbox": post(client, SELECT, sandbox_shape(sandbox, reason, fhir.url)),
                  "uk-core": post(client, SIGN, uk_core_shape(ehr, reason))}
        seen = fhir.requests
    for name, r in shapes.items():
        assert r.status_code == 200, (name, r.text)
    cards = {name: r.json()["cards"] for name, r in shapes.items()}
    if rag["status"] == "green":  # plain green: no guidance, for every shape
        assert cards == {"spec": [], "sandbox": [], "uk-core": []}
    else:
        for name, cs in cards.items():
            assert len(cs) == 1, (name, cs)
            c = cs[0]
            assert c["extension"]["invalid.cpe.formulary-entry"] == rag["id"], name
            assert c["extension"]["invalid.cpe.status"] == rag["status"], name
            assert rag["status_label"] in c["summary"] and rag["meaning"] in c["detail"], name
        assert _same(cards["spec"][0]) == _same(cards["sandbox"][0]) == _same(cards["uk-core"][0])
    # the sandbox sent no prefetch: the three templates were fetched, with its access token
    assert len(seen) == 3 and all(h["authorization"] == "Bearer sandbox-access-token" for _, _, h in seen)


def test_the_record_s_facts_reach_the_card_with_their_dates(client):
    [c] = post(client, SIGN, uk_core_shape("Circadin 2 mg modified-release tablets", None)).json()["cards"]
    assert c["extension"]["invalid.cpe.restriction"] == "unmet"  # an adult: outside the 2-18 of the Circadin decision
    assert "From the record: age" in c["detail"] and "bmi 46" in c["detail"] and "(Observation/" in c["detail"]
    assert "2023-08-10" in c["detail"]


# -- rule by rule ---------------------------------------------------------------------------------
def test_discovery_is_the_spec_shape_and_its_templates_use_context_tokens_only(client):
    services = client.get("/cds-services").json()["services"]
    for s in services:
        assert set(spec("spec-01-discovery.json")["services"][1]) <= set(s)
        for template in s["prefetch"].values():
            tokens = re.findall(r"\{\{([^}]*)\}\}", template)
            assert tokens and all(t.startswith("context.") for t in tokens)
            assert "?" not in template or template.split("?")[0] in ("Condition", "Observation")


@pytest.mark.parametrize("hook,service,field", [
    ("order-select", SELECT, "userId"), ("order-select", SELECT, "patientId"),
    ("order-select", SELECT, "selections"), ("order-select", SELECT, "draftOrders"),
    ("order-sign", SIGN, "userId"), ("order-sign", SIGN, "patientId"), ("order-sign", SIGN, "draftOrders")])
def test_required_context_of_each_hook(client, hook, service, field):
    body = spec_shape("Epidyolex", None) if hook == "order-select" else uk_core_shape("Epidyolex", None)
    del body["context"][field]
    outcome(post(client, service, body), 400, f"context.{field} is REQUIRED for the {hook} hook")
    body = spec_shape("Epidyolex", None) if hook == "order-select" else uk_core_shape("Epidyolex", None)
    body["context"][field] = 7
    outcome(post(client, service, body), 400, f"context.{field} must be")


def test_order_select_judges_only_the_selected_orders(client):
    body = spec_shape("Epidyolex 100 mg/ml oral solution", None)
    entries = body["context"]["draftOrders"]["entry"]
    earlier = copy.deepcopy(next(e for e in entries if e["resource"]["resourceType"] == "MedicationRequest"))
    earlier["resource"].update(id="earlier-1", medicationCodeableConcept={"text": "Colonis 1mg/ml oral solution"})
    entries.append(earlier)
    [c] = post(client, SELECT, body).json()["cards"]  # Colonis (black) was not selected: no card for it
    assert c["extension"]["invalid.cpe.formulary-entry"] == "cannabidiol"
    body["context"]["selections"].append("MedicationRequest/earlier-1")
    assert len(post(client, SELECT, body).json()["cards"]) == 2
    body["context"]["selections"] = ["MedicationRequest/nowhere"]
    outcome(post(client, SELECT, body), 400, "not in context.draftOrders")
    # order-sign has no selections: every draft order is judged
    sign = uk_core_shape("Epidyolex 100 mg/ml oral solution", None)
    other = copy.deepcopy(sign["context"]["draftOrders"]["entry"][0])
    other["resource"].update(id="uk-order-2", medicationCodeableConcept={"text": "Colonis 1mg/ml oral solution"})
    sign["context"]["draftOrders"]["entry"].append(other)
    assert len(post(client, SIGN, sign).json()["cards"]) == 2


def test_missing_prefetch_without_a_reachable_fhir_server_is_412(client):
    body = spec_shape("Epidyolex", None)
    del body["prefetch"]
    del body["fhirServer"]
    outcome(post(client, SELECT, body), 412, "no fhirServer")
    body = spec_shape("Epidyolex", None)
    body["prefetch"] = {**PREFETCH, "observations": {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "timeout"}]}}  # the EHR could not prefetch this key
    body["fhirServer"] = "https://fhir.example.org"
    with LoopbackServer({}) as dead:
        port = dead.url
    body["fhirServer"] = port  # nothing listens there any more
    outcome(post(client, SELECT, body), 412, "could not be reached")
    with LoopbackServer({f"/Patient/{PATIENT['id']}": PATIENT}, status=500) as fhir:
        body = spec_shape("Epidyolex", None)
        del body["prefetch"]
        body["fhirServer"] = fhir.url
        outcome(post(client, SELECT, body), 412, "answered 500")
    body["fhirServer"] = "http://fhir.example.org:9080"  # production data only over https
    outcome(post(client, SELECT, body), 412, "not https")


def test_only_the_missing_keys_are_fetched(client):
    with LoopbackServer(fhir_routes()) as fhir:
        body = sandbox_shape("Hydralazine Hydrochloride 50 MG", "Heart failure", fhir.url)
        body["prefetch"] = {"patient": PATIENT}
        assert post(client, SELECT, body).status_code == 200
        assert sorted(p.split("?")[0] for _, p, _ in fhir.requests) == ["/Condition", "/Observation"]


def test_another_patient_s_data_never_decides(client):
    body = uk_core_shape("Circadin 2 mg modified-release tablets", None)
    body["context"]["patientId"] = "someone-else"
    outcome(post(client, SIGN, body), 400, "not the patient in context")
    body = uk_core_shape("Circadin 2 mg modified-release tablets", None)
    stranger = {**uk("Observation-VitalSigns-BMI"), "id": "stranger-bmi", "effectiveDateTime": "2023-09-01",
                "subject": {"reference": "Patient/someone-else"}, "valueQuantity": {"value": 19, "code": "kg/m2"}}
    ours = [e["resource"] for e in PREFETCH["observations"]["entry"]]
    body["prefetch"] = {**PREFETCH, "observations": searchset(*ours, stranger)}
    [c] = post(client, SIGN, body).json()["cards"]
    assert "bmi 46" in c["detail"] and "stranger-bmi" not in c["detail"]  # the later BMI is another patient's


def test_fhir_authorization_needs_fhir_server_and_a_bearer_token(client):
    body = sandbox_shape("Epidyolex", None, "https://fhir.example.org")
    del body["fhirServer"]
    outcome(post(client, SELECT, body), 400, "fhirServer is then REQUIRED")
    body = sandbox_shape("Epidyolex", None, "https://fhir.example.org")
    body["fhirAuthorization"]["token_type"] = "MAC"
    outcome(post(client, SELECT, body), 400, "token_type must be 'Bearer'")


def test_every_error_is_an_operation_outcome_with_cors(client, app):
    outcome(post(client, "no-such-service", spec_shape("x", None)), 404, "no CDS service")
    outcome(post(client, SELECT, b"{"), 400)
    outcome(post(client, SELECT, "<Bundle xmlns='http://hl7.org/fhir'/>"), 400, "XML")
    outcome(post(client, SELECT, spec("spec-02-request.json")), 400, "answers the 'order-select' hook")
    outcome(post(client, SELECT, spec_shape("x", None), signed=False), 401, "signed JWT")
    outcome(client.delete(f"/cds-services/{SELECT}", headers=ORIGIN), 405)
    outcome(client.get(f"/cds-services/{SELECT}/feedback/extra", headers=ORIGIN), 404)
    bad = spec_shape("x", None)
    bad["context"]["draftOrders"]["entry"][1]["resource"]["status"] = ["draft"]  # malformed FHIR: no 500
    assert post(client, SELECT, bad).status_code == 200
    suite, app.state.suite = app.state.suite, None  # a fault inside the service
    try:
        outcome(post(client, SELECT, spec_shape("Epidyolex", None)), 500, "the fault is logged")
    finally:
        app.state.suite = suite


def test_no_card_has_null_or_empty_json(client):
    def walk(x, where="card"):
        assert x not in (None, "", [], {}), where
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{where}.{k}")
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")

    for ehr, *_ in CASES:
        body = uk_core_shape(ehr, None)
        del body["context"]["draftOrders"]["entry"][0]["resource"]["id"]  # no id: leave it out, never null
        for c in post(client, SIGN, body).json()["cards"]:
            walk(c)
            assert not any(k.endswith("medication-request") for k in c["extension"])


def test_extension_names_are_reverse_domain_and_code_systems_come_from_configuration(client, monkeypatch):
    [a] = post(client, SELECT, spec_shape("Epidyolex", None), host="cds.one.example").json()["cards"]
    [b] = post(client, SELECT, spec_shape("Epidyolex", None), host="10.0.0.7:8000").json()["cards"]
    assert a["source"]["topic"]["system"] == b["source"]["topic"]["system"] == "https://cpe.invalid/cds/formulary-entry"
    assert {o["system"] for o in a["overrideReasons"]} == {"https://cpe.invalid/cds/override-reason"}
    assert all(re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", k) for k in a["extension"])
    assert all(o["display"] for o in a["overrideReasons"])  # a display for each reason (MUST)
    monkeypatch.setenv("CPE_CDS_DOMAIN", "formulary.lsc.nhs.uk")
    [c] = post(client, SELECT, spec_shape("Epidyolex", None)).json()["cards"]
    assert c["extension"]["uk.nhs.lsc.formulary.formulary-entry"] == "cannabidiol"
    assert c["source"]["topic"]["system"] == "https://formulary.lsc.nhs.uk/cds/formulary-entry"


def test_the_spec_s_feedback_examples_are_stored_in_the_register(client, app, tmp_path):
    for name in ("accepted", "overridden", "override-reason"):
        body = json.loads((FIX / "cds-hooks-conformance" / f"spec-feedback-{name}.json").read_text())
        r = post(client, SELECT, body, suffix="/feedback")
        assert r.status_code == 200 and r.json() == {"recorded": 1}, r.text
    rows = app.state.feedback.all()[-3:]
    assert [r["outcome"] for r in rows] == ["accepted", "overridden", "overridden"]
    assert rows[0]["accepted_suggestions"] == ["e56e1945-20b3-4393-8503-a1a20fd73152"]
    assert rows[2]["override_code"] == "d7ecf885" and rows[2]["user_comment"] == "A comment entered by the clinician."
    assert rows[2]["caller"] == SANDBOX_ISS
    outcome(post(client, SELECT, {"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "t"}]},
                 suffix="/feedback"), 400, "outcome")


def test_feedback_outlives_the_process(tmp_path, monkeypatch):
    from engine.service.feedback import FeedbackStore

    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    first = FeedbackStore(url)
    first.record(SELECT, [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
                           "overrideReason": {"reason": {"code": "ifr-approved", "display": "IFR approved"}}}])
    first.close()
    later = FeedbackStore(url)  # a new process on the same register
    [row] = later.all()
    assert row["card"] == "c1" and row["override_code"] == "ifr-approved" and row["override_reason"] == "IFR approved"
    later.close()


def test_feedback_on_postgresql():
    from engine.service.feedback import FeedbackStore
    from tests.register_db import fresh_postgres

    store = FeedbackStore(fresh_postgres())
    store.record(SIGN, [{"card": "pg-1", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}])
    assert [r["card"] for r in store.all()] == ["pg-1"]
    store.close()


def _mutations():
    from hypothesis import strategies as st

    junk = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    return st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), junk), min_size=1, max_size=4)


def _paths(x, where=()):
    yield where
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*where, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, (*where, i))


@pytest.mark.parametrize("shape", ["uk-core", "sandbox"])
def test_no_shape_of_json_gets_a_server_error(client, shape):
    """Any element of a real request replaced by junk: a 200 or an OperationOutcome 4xx, never a 5xx
    (the issue measured a 500 in text/plain for Observation.status as a list)."""
    from hypothesis import HealthCheck, given, settings

    if shape == "uk-core":
        service, base = SIGN, uk_core_shape("Nortriptyline 10 MG Oral Tablet", "Chronic neuropathic pain")
    else:  # with the prefetch the sandbox fetched itself, so no FHIR server is needed
        service = SELECT
        base = {**sandbox_shape("Hydralazine Hydrochloride 50 MG", "Heart failure", "https://fhir.example.org"),
                "prefetch": PREFETCH}
    paths = [p for p in _paths(base) if p]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations())
    def run(changes):
        body = copy.deepcopy(base)
        for n, junk in changes:
            path = paths[n % len(paths)]
            node = body
            try:
                for step in path[:-1]:
                    node = node[step]
                node[path[-1]] = junk
            except (KeyError, IndexError, TypeError):
                continue
        r = post(client, service, body)
        assert r.status_code in (200, 400, 412), (r.status_code, r.text[:300])
        if r.status_code != 200:
            assert r.json()["resourceType"] == "OperationOutcome"

    run()
