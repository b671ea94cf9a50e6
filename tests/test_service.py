"""The HTTP API against the contract: the same JSON as the CLI, and bad input as 422 with its message."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from fastapi.testclient import TestClient

from engine.service.app import create_app

FHIR = Path(__file__).resolve().parent / "fixtures" / "fhir"
JOHNNIE = FHIR / "Johnnie679_Hermiston71_2cd30bd6-3a87-4191-af90-6daa70f58f55.json"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def cli_json(cpe, *args):
    r = cpe(*args, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_policies_as_the_cli(client, cpe):
    assert client.get("/api/policies").json() == cli_json(cpe, "policies")


CASES = [
    ("assisted-conception", {"age": 34, "bmi": 24.5, "smoker": False, "has_partner": False,
                             "infertility_years": 3, "previous_sterilisation": False,
                             "previous_nhs_ivf_units": 0, "patient_living_children": 0}, {}),
    ("assisted-conception", {"age": 44}, {"on": "2019-06-01"}),
    ("assisted-conception", {"age": 30, "patient_living_children": 0, "has_partner": True,
                             "partner_living_children": 1}, {"version": "2018-11-01"}),
    ("breast-implant-replacement", {"implant_original_funding": "nhs", "age": 40, "implant_rupture": True},
     {"version": "2020-03-05"}),
    ("hip-arthroscopy", {}, {"version": "draft-2025"}),
    ("hip-arthroscopy", {"fai_diagnosis_confirmed": True}, {"on": "2019-01-01"}),
]


@pytest.mark.parametrize("policy,patient,query", CASES)
def test_evaluate_as_the_cli(client, cpe, tmp_path, policy, patient, query):
    p = tmp_path / "patient.json"
    p.write_text(json.dumps(patient))
    flags = [x for k, v in query.items() for x in (f"--{k}", v)]
    expected = cli_json(cpe, "evaluate", policy, "--patient", str(p), *flags)
    r = client.post(f"/api/policies/{policy}/evaluate", params=query, json=patient)
    assert r.status_code == 200
    assert r.json() == expected


def test_fhir_bundle_body_as_cli_fhir(client, cpe):
    expected = cli_json(cpe, "evaluate", "assisted-conception", "--fhir", str(JOHNNIE), "--on", "2020-06-01")
    r = client.post("/api/policies/assisted-conception/evaluate", params={"on": "2020-06-01"},
                    content=JOHNNIE.read_bytes(), headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json() == expected
    assert r.json()["fhir"]["facts"]["age"] == 11


BAD = [
    ("assisted-conception", {"age": 300}, {}, "bad-value"),
    ("assisted-conception", {"agee": 30}, {}, "unknown-attribute"),
    ("assisted-conception", {"smoker": "yes"}, {}, "bad-value"),
    ("assisted-conception", {}, {"version": "2099-01-01"}, "unknown-version"),
    ("assisted-conception", {}, {"on": "yesterday"}, "bad-date"),
    ("assisted-conception", {}, {"on": "2000-01-01"}, "no-version-in-force"),
    ("no-such-policy", {}, {}, "unknown-policy"),
]


@pytest.mark.parametrize("policy,patient,query,code", BAD)
def test_bad_input_is_422_with_the_cli_message(client, cpe, tmp_path, policy, patient, query, code):
    p = tmp_path / "patient.json"
    p.write_text(json.dumps(patient))
    flags = [x for k, v in query.items() for x in (f"--{k}", v)]
    cli = cpe("evaluate", policy, "--patient", str(p), *flags, "--format", "json")
    assert cli.returncode == 2
    r = client.post(f"/api/policies/{policy}/evaluate", params=query, json=patient)
    assert r.status_code == 422
    body = r.json()
    assert body["problems"][0]["code"] == code
    # the CLI's line, less its "cpe: " prefix and the patient file's location, and with the
    # query parameter named as the API names it
    cli_line = re.sub(r"^\S*patient\.json(:\d+){0,2}: ", "", cli.stderr.strip().removeprefix("cpe: "))
    cli_line = cli_line.replace("--on '", "on '")
    assert body["detail"] == cli_line
    assert "outcome" not in body


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b'{"bmi": NaN}', b'{"bmi": 1e999}', b'"text"',
                                 b"[" * 100000])
def test_malformed_bodies_are_422_never_500(client, raw):
    r = client.post("/api/policies/assisted-conception/evaluate", content=raw,
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"]


def test_version_and_on_together_is_bad_input(client):
    r = client.post("/api/policies/assisted-conception/evaluate", params={"version": "2020-03-05",
                                                                          "on": "2021-01-01"}, json={})
    assert r.status_code == 422 and "not both" in r.json()["detail"]


def test_medicines_as_the_cli(client, cpe):
    for q, ind in [("Epidyolex", None), ("melatonin", None), ("melatonin", "autism"), ("nortriptilyne", None),
                   ("no such medicine", None)]:
        args = ["rag", q] + (["--indication", ind] if ind else [])
        expected = cli_json(cpe, *args)
        r = client.get("/api/medicines", params={"q": q, **({"indication": ind} if ind else {})})
        assert r.status_code == 200
        assert r.json() == expected


def test_medicines_by_brand_gives_the_status(client):
    m = client.get("/api/medicines", params={"q": "epidyolex"}).json()["matches"]
    assert [(x["medicine"], x["status"]) for x in m] == [("cannabidiol", "red")]


def test_medicines_without_query_is_422(client):
    r = client.get("/api/medicines")
    assert r.status_code == 422 and "q" in r.json()["detail"]


def test_openapi_documents_errors_and_bodies(client):
    doc = client.get("/openapi.json").json()
    ev = doc["paths"]["/api/policies/{policy_id}/evaluate"]["post"]
    assert {"200", "422"} <= set(ev["responses"])
    assert ev["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EvaluateBody"}
    patient = doc["components"]["schemas"]["Patient"]["properties"]
    assert patient["age"]["maximum"] == 130 and "null" in patient["age"]["type"]
    assert {"400", "404"} <= set(doc["paths"]["/cds-services/{service_id}"]["post"]["responses"])


def test_cors_lets_a_browser_client_call_cds_hooks(client):
    r = client.options("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org",
                                                 "Access-Control-Request-Method": "GET"})
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") in ("*", "https://sandbox.cds-hooks.org")


def test_cpe_serve_starts_the_service(tmp_path):
    """`cpe serve --host --port` as a user runs it: /health answers, then the process stops cleanly."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cpe = Path(sys.executable).parent / "cpe"
    proc = subprocess.Popen([str(cpe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(300):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        else:
            raise AssertionError("cpe serve did not answer /health")
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cpe_serve_rejects_a_bad_port(cpe):
    r = cpe("serve", "--port", "99999")
    assert r.returncode == 2
