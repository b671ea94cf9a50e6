"""The register over HTTP: tokens, roles, the workflow's refusals as 409, bad input as 422,
and no patient identifiers in the logs. The app is built here around the router, as the
service builds it."""
from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.register.auth import load_tokens
from tests.register_db import db_url, register  # noqa: F401

TOKENS = {"prescriber": "prescriber-token-0001", "ifr_officer": "officer-token-000001",
          "panel": "panel-token-00000001", "admin": "admin-token-00000001"}
NHS_NUMBER = "9434765919"
BODY = {"policy_id": "hip-arthroscopy", "patient": {"age": 37, "fai_diagnosis_confirmed": True},
        "on": "2019-06-01", "grounds": "elite athlete; Mr Example Person", "patient_ref": NHS_NUMBER}


@pytest.fixture
def client(register, monkeypatch):
    from engine.service.register_api import router

    monkeypatch.setenv("CPE_API_TOKENS", ",".join(f"{r}:{r}-person:{t}" for r, t in TOKENS.items()))
    app = FastAPI()
    app.state.register = register
    app.include_router(router)
    with TestClient(app) as c:
        yield c


def h(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def test_the_whole_request_over_http(client, suite):
    r = client.post("/api/cases", json=BODY, headers=h("ifr_officer"))
    assert r.status_code == 201, r.text
    ref = r.json()["ref"]
    assert r.json()["decision"]["outcome"] == "not_eligible" and r.json()["decision"]["route"] == "ifr"
    assert r.json()["decision"]["policy"]["version"] == "2018-03-01"
    for action in ("screen", "refer"):
        r = client.post(f"/api/cases/{ref}/events", json={"action": action}, headers=h("ifr_officer"))
        assert r.status_code == 200, r.text
    r = client.post(f"/api/cases/{ref}/decision", json={"outcome": "approved", "reason": "exceptional"},
                    headers=h("panel"))
    assert r.status_code == 200 and r.json()["state"] == "decided"
    case = client.get(f"/api/cases/{ref}", headers=h("prescriber")).json()
    assert case["state"] == "decided" and case["panel_decision"] == "approved"
    assert case["history"][-1]["actor"] == "panel:panel-person"
    assert case["requester"] == "ifr_officer-person"
    assert [c["ref"] for c in client.get("/api/cases", headers=h("panel")).json()] == [ref]
    v = client.get("/api/register/verify", headers=h("admin")).json()
    assert v["ok"] and v["audit_entries"] == 4
    lines = client.get("/api/register/export", headers=h("admin")).text.splitlines()
    assert len(lines) == 4
    fhir = client.get("/api/register/export?fhir=true", headers=h("admin")).text.splitlines()
    assert '"resourceType": "AuditEvent"' in fhir[0]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"},
                                     {"Authorization": TOKENS["admin"]}, {"Authorization": "Basic abc"}])
def test_no_valid_token_is_401(client, headers):
    r = client.get("/api/cases", headers=headers)
    assert r.status_code == 401 and r.json()["problems"][0]["code"] == "unauthorised"


def test_roles(client):
    assert client.post("/api/cases", json=BODY, headers=h("prescriber")).status_code == 403
    assert client.post("/api/cases", json=BODY, headers=h("panel")).status_code == 403
    assert client.post("/api/cases", json=BODY, headers=h("admin")).status_code == 403
    ref = client.post("/api/cases", json=BODY, headers=h("ifr_officer")).json()["ref"]
    assert client.post(f"/api/cases/{ref}/events", json={"action": "screen"}, headers=h("panel")).status_code == 403
    assert client.post(f"/api/cases/{ref}/events", json={"action": "screen"},
                       headers=h("prescriber")).status_code == 403
    client.post(f"/api/cases/{ref}/events", json={"action": "screen"}, headers=h("ifr_officer"))
    client.post(f"/api/cases/{ref}/events", json={"action": "refer"}, headers=h("ifr_officer"))
    decision = {"outcome": "declined", "reason": "not exceptional"}
    for role in ("ifr_officer", "prescriber", "admin"):
        assert client.post(f"/api/cases/{ref}/decision", json=decision, headers=h(role)).status_code == 403
    assert client.post(f"/api/cases/{ref}/decision", json=decision, headers=h("panel")).status_code == 200
    for role in ("prescriber", "ifr_officer", "panel"):
        assert client.get("/api/register/verify", headers=h(role)).status_code == 403
        assert client.get("/api/register/export", headers=h(role)).status_code == 403
    for role in TOKENS:
        assert client.get(f"/api/cases/{ref}", headers=h(role)).status_code == 200


def test_refusals_and_bad_input(client):
    ref = client.post("/api/cases", json=BODY, headers=h("ifr_officer")).json()["ref"]
    r = client.post(f"/api/cases/{ref}/decision", json={"outcome": "approved", "reason": "x"}, headers=h("panel"))
    assert r.status_code == 409 and "is submitted" in r.json()["detail"]
    r = client.post(f"/api/cases/{ref}/events", json={"action": "refer"}, headers=h("ifr_officer"))
    assert r.status_code == 409 and "allowed: screen, withdraw" in r.json()["detail"]
    assert client.post(f"/api/cases/{ref}/events", json={"action": "fly"},
                       headers=h("ifr_officer")).status_code == 422
    assert client.get("/api/cases/IFR-424242", headers=h("panel")).status_code == 404
    bad = client.post("/api/cases", json={**BODY, "patient": {"age": 300}}, headers=h("ifr_officer"))
    assert bad.status_code == 422 and "age" in bad.json()["detail"]
    assert client.post("/api/cases", json={**BODY, "policy_id": "nope"}, headers=h("ifr_officer")).status_code == 422
    assert client.post("/api/cases", json={**BODY, "on": "01/06/2019"}, headers=h("ifr_officer")).status_code == 422
    assert len(client.get("/api/cases", headers=h("admin")).json()) == 1  # bad input recorded nothing


def test_no_patient_identifiers_or_facts_in_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    ref = client.post("/api/cases", json=BODY, headers=h("ifr_officer")).json()["ref"]
    client.post(f"/api/cases/{ref}/decision", json={"outcome": "approved", "reason": "x"}, headers=h("panel"))
    client.get(f"/api/cases/{ref}", headers=h("prescriber"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert ref in text  # the logs do say what happened to which case
    for secret in (NHS_NUMBER, "Example Person", "elite athlete", *TOKENS.values()):
        assert secret not in text


def test_token_file_with_hashes(tmp_path, monkeypatch):
    import hashlib

    f = tmp_path / "tokens.yaml"
    f.write_text(f"- {{name: ann, role: panel, token_sha256: {hashlib.sha256(b'a-long-secret-token').hexdigest()}}}\n"
                 "- {name: bob, role: admin, token: another-long-secret}\n")
    monkeypatch.delenv("CPE_API_TOKENS", raising=False)
    monkeypatch.setenv("CPE_API_TOKENS_FILE", str(f))
    t = load_tokens()
    assert t.lookup("a-long-secret-token").actor == "panel:ann"
    assert t.lookup("another-long-secret").role == "admin"
    assert t.lookup("a-long-secret-tokem") is None
    f.write_text("- {name: eve, role: root, token: another-long-secret}\n")
    with pytest.raises(Exception, match="role 'root'"):
        load_tokens()
