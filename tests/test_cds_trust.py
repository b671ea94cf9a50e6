"""Trusting CDS clients (CDS Hooks 2.0 "Trusting CDS Clients"): real ES384 and RS384 keys, a JWK Set
served on loopback (jku) or configured, the iss allow-list, aud, exp, jti replay; the sandbox's
own published key; development mode for unsigned calls, said loudly."""
from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from engine.service.app import create_app
from tests.loopback import LoopbackServer

HERE = Path(__file__).resolve().parent
SANDBOX = HERE / "fixtures" / "cds-hooks-sandbox"
SPEC = HERE / "fixtures" / "cds-hooks"
SERVICE = "formulary-order-select"
AUD = f"http://testserver/cds-services/{SERVICE}"
EHR = "https://ehr.example.nhs.uk"


def body() -> dict:
    ctx = json.loads((SPEC / "order-select-01-context.json").read_text())["context"]
    return {"hook": "order-select", "hookInstance": str(uuid.uuid4()), "context": ctx,
            "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992"},
                         "conditions": {"resourceType": "Bundle", "type": "searchset"},
                         "observations": {"resourceType": "Bundle", "type": "searchset"}}}


def public_jwk(key, kid: str, alg: str) -> dict:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()) if alg.startswith("ES")
                     else jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def token(key, alg: str, kid: str, *, iss: str = EHR, aud: str | list = AUD, jku: str | None = None,
          exp: float | None = None, jti: str | None = None, **extra) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": aud, "iat": now, "exp": exp if exp is not None else now + 300,
              "jti": jti or str(uuid.uuid4()), **extra}
    headers = {"kid": kid, "typ": "JWT", **({"jku": jku} if jku else {})}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


@pytest.fixture(scope="module")
def keys():
    return {"ES384": ec.generate_private_key(ec.SECP384R1()),
            "RS384": rsa.generate_private_key(public_exponent=65537, key_size=2048)}


@pytest.fixture
def client(tmp_path, monkeypatch, keys):
    jwks = {"keys": [public_jwk(keys["RS384"], "rs-1", "RS384")]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    monkeypatch.setenv("CPE_CDS_TRUSTED_ISSUERS", f"{EHR},https://sandbox.cds-hooks.org")
    monkeypatch.setenv("CPE_CDS_JWKS_FILE", str(tmp_path / "jwks.json"))
    monkeypatch.setenv("CPE_DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite3'}")
    monkeypatch.delenv("CPE_CDS_DEVELOPMENT", raising=False)
    with TestClient(create_app()) as c:
        yield c


def call(client, tok: str | None, path: str = f"/cds-services/{SERVICE}", json_body: dict | None = None):
    headers = {"Origin": "https://ehr.example.nhs.uk"}
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    return client.post(path, json=json_body or body(), headers=headers)


def refused(r, words: str) -> None:
    assert r.status_code == 401, r.text
    out = r.json()
    assert out["resourceType"] == "OperationOutcome" and out["issue"][0]["code"] == "login"
    assert words in out["issue"][0]["diagnostics"], out["issue"][0]["diagnostics"]
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_es384_with_its_jwk_set_at_a_trusted_jku(client, keys, monkeypatch):
    jwks = {"keys": [public_jwk(keys["ES384"], "es-1", "ES384")]}
    with LoopbackServer({"/jwks.json": jwks}) as srv:
        monkeypatch.setenv("CPE_CDS_TRUSTED_JKU", f"{srv.url}/jwks.json")
        r = call(client, token(keys["ES384"], "ES384", "es-1", jku=f"{srv.url}/jwks.json"))
        assert r.status_code == 200, r.text
        assert call(client, token(keys["ES384"], "ES384", "es-1", jku=f"{srv.url}/jwks.json")).status_code == 200
        assert len(srv.requests) == 1  # the key set is kept, not fetched on every call
        monkeypatch.setenv("CPE_CDS_TRUSTED_JKU", "https://other.example/jwks.json")
        refused(call(client, token(keys["ES384"], "ES384", "es-1", jku=f"{srv.url}/jwks.json")),
                "not a trusted JWK Set URL")


def test_rs384_with_configured_keys(client, keys):
    assert call(client, token(keys["RS384"], "RS384", "rs-1")).status_code == 200


def test_the_sandbox_signs_as_the_sandbox_does(client, monkeypatch):
    # the sandbox's published key pair; its JWK Set configured (no network here), its jku on the allow-list
    monkeypatch.setenv("CPE_CDS_JWKS_FILE", str(SANDBOX / "jwks.json"))
    monkeypatch.setenv("CPE_CDS_TRUSTED_JKU", "https://sandbox.cds-hooks.org/.well-known/jwks.json")
    private = (SANDBOX / "ecprivkey.pem").read_bytes()
    tok = token(private, "ES384", "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", iss="https://sandbox.cds-hooks.org",
                jku="https://sandbox.cds-hooks.org/.well-known/jwks.json")
    assert call(client, tok).status_code == 200


def test_unsigned_calls_are_refused_unless_in_development_mode(client, monkeypatch, caplog):
    refused(call(client, None), "signed JWT")
    refused(call(client, "not-a-jwt"), "not a JWT")
    monkeypatch.setenv("CPE_CDS_DEVELOPMENT", "1")
    with caplog.at_level(logging.WARNING, logger="cpe.cds.auth"):
        assert call(client, None).status_code == 200
        assert call(client, "not-a-jwt").status_code == 200  # e.g. the sandbox's own key, not configured
    assert any("WITHOUT a signed JWT" in r.message and r.levelno == logging.WARNING for r in caplog.records)
    assert any("NOT trusted (the bearer token is not a JWT" in r.message for r in caplog.records)


def test_development_mode_is_announced_at_start_up(monkeypatch, caplog):
    monkeypatch.setenv("CPE_CDS_DEVELOPMENT", "1")
    with caplog.at_level(logging.WARNING, logger="cpe.cds.auth"):
        create_app()
    assert any("CPE_CDS_DEVELOPMENT=1" in r.message for r in caplog.records)


def test_issuer_audience_expiry_and_claims(client, keys):
    k = keys["RS384"]
    refused(call(client, token(k, "RS384", "rs-1", iss="https://stranger.example")), "not a trusted CDS client")
    refused(call(client, token(k, "RS384", "rs-1", aud="https://elsewhere.example/cds-services/x")), "not valid")
    refused(call(client, token(k, "RS384", "rs-1", exp=time.time() - 3600)), "expired")
    assert call(client, token(k, "RS384", "rs-1", aud=[AUD, "https://other.example"])).status_code == 200
    refused(call(client, token(k, "RS384", "rs-2")), "no key 'rs-2'")
    no_jti = jwt.encode({"iss": EHR, "aud": AUD, "iat": int(time.time()), "exp": int(time.time()) + 60}, k,
                        algorithm="RS384", headers={"kid": "rs-1"})
    refused(call(client, no_jti), "jti")
    no_typ = jwt.encode({"iss": EHR, "aud": AUD, "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": "t"},
                        k, algorithm="RS384", headers={"kid": "rs-1", "typ": "JOSE"})
    refused(call(client, no_typ), "typ 'JOSE'")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused(call(client, token(other, "RS384", "rs-1")), "Signature verification failed")


def test_a_replayed_jti_is_refused(client, keys):
    tok = token(keys["RS384"], "RS384", "rs-1")
    assert call(client, tok).status_code == 200
    refused(call(client, tok), "replay")


def test_none_and_symmetric_algorithms_are_refused(client):
    unsigned = jwt.encode({"iss": EHR, "aud": AUD, "iat": 1, "exp": time.time() + 60, "jti": "x"}, None,
                          algorithm="none", headers={"kid": "rs-1"})
    refused(call(client, unsigned), "alg 'none'")
    hmac = jwt.encode({"iss": EHR, "aud": AUD, "iat": 1, "exp": time.time() + 60, "jti": "y"}, "secret" * 6,
                      algorithm="HS256", headers={"kid": "rs-1"})
    refused(call(client, hmac), "alg 'HS256'")


def test_feedback_needs_the_token_too_and_records_the_caller(client, keys):
    fb = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"}]}
    path = f"/cds-services/{SERVICE}/feedback"
    refused(call(client, None, path, fb), "signed JWT")
    r = call(client, token(keys["RS384"], "RS384", "rs-1", aud=AUD + "/feedback"), path, fb)
    assert r.status_code == 200, r.text
    assert client.app.state.feedback.all()[-1]["caller"] == EHR


def test_public_url_sets_the_audience(client, keys, monkeypatch):
    monkeypatch.setenv("CPE_PUBLIC_URL", "https://cds.example.nhs.uk")
    refused(call(client, token(keys["RS384"], "RS384", "rs-1")), "not valid")  # aud of the Host: not ours
    ok = token(keys["RS384"], "RS384", "rs-1", aud=f"https://cds.example.nhs.uk/cds-services/{SERVICE}")
    assert call(client, ok).status_code == 200
