"""The pages defend themselves: security headers on every response, a Content-Security-Policy
that the pages' own scripts and styles satisfy in a real browser (no violation reported, the
scripts ran, the status colours applied), no server banner, and 413 for an oversized body."""
from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from engine.service.app import create_app
from tests.test_browser import browser_type_launch_args, page, server  # noqa: F401

PAGES = ["/", "/medicines", "/medicines?q=hydralazine", "/eligibility", "/eligibility/hip-arthroscopy",
         "/policies"]
HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.mark.parametrize("path", PAGES + ["/health", "/api/policies", "/cds-services", "/assets/app.css",
                                          "/docs", "/no-such-page", "/api/medicines"])
def test_every_response_carries_the_headers(client, path):
    r = client.get(path)
    for k, v in HEADERS.items():
        assert r.headers.get(k) == v, (path, k)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    if path not in ("/docs",):
        assert "unsafe-inline" not in csp or "style-src 'unsafe-inline'" in csp


def test_pages_have_no_inline_script_or_style_but_the_template_one(client):
    import re

    for path in PAGES:
        html = client.get(path).text
        assert " style=" not in html, path
        inline = [m for m in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) if m[1].strip()]
        assert [body for _, body in inline] == [
            "document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? "
            "' nhsuk-frontend-supported' : '');"], path


def test_documents_run_no_script(client):
    r = client.get("/policies")
    import re

    link = re.search(r'href="(/policies/[^/"]+/[^/"]+)"', r.text).group(1)
    doc = client.get(link)
    assert doc.status_code == 200
    assert "script-src" not in doc.headers["content-security-policy"]
    assert doc.headers["content-security-policy"].startswith("default-src 'none'")


def test_oversized_bodies_get_413_in_the_error_shape(monkeypatch):
    monkeypatch.setenv("CPE_MAX_BODY_BYTES", "1000")
    client = TestClient(create_app())
    big = b'{"age": 30, "pad": "' + b"x" * 2000 + b'"}'

    def chunks():
        yield big[:600]
        yield big[600:]

    for path in ("/api/policies/hip-arthroscopy/evaluate", "/cds-services/formulary-order-select", "/api/cases",
                 "/eligibility/hip-arthroscopy"):
        for body in (big, chunks()):  # declared by Content-Length, and found while reading chunks
            ctype = "application/x-www-form-urlencoded" if path.startswith("/eligibility") else "application/json"
            r = client.post(path, content=body, headers={"content-type": ctype, "origin": "https://ehr.example.nhs.uk"})
            assert r.status_code == 413, (path, r.status_code, r.text)
            if path.startswith("/cds-services"):  # CDS Hooks paths answer with a FHIR OperationOutcome, with CORS
                assert r.headers["access-control-allow-origin"] == "*"
                issue = r.json()["issue"][0]
                assert issue["details"]["coding"][0]["code"] == "body-too-large"
                assert "1000 bytes" in issue["diagnostics"]
            else:
                assert r.json()["problems"][0]["code"] == "body-too-large"
                assert "1000 bytes" in r.json()["detail"]
    assert client.post("/api/policies/hip-arthroscopy/evaluate", json={"age": 30}).status_code == 200


def test_the_browser_reports_no_policy_violation(page, server):  # noqa: F811
    page.add_init_script("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                         "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    for path in PAGES + ["/medicines/" + _an_entry()]:
        page.goto(server + path)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__csp") == [], path
        assert page.evaluate("document.body.classList.contains('js-enabled')"), path  # the hashed inline script ran
    assert refused == []
    page.goto(f"{server}/medicines?q=hydralazine")  # the status colours come from the stylesheet, not inline
    colour = page.locator(".cpe-status").first.evaluate("el => getComputedStyle(el).borderColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)")
    page.fill("#medicine-search input[name=q]", "nortriptyline")  # app.js: search as you type still works
    page.wait_for_selector("text=Nortriptyline", timeout=10_000)
    assert page.evaluate("window.__csp") == []


def _an_entry() -> str:
    from engine.service.medicines import index

    return index().entries[0]["id"]


def test_cpe_serve_sends_no_server_banner(live_server):
    import httpx

    r = httpx.get(f"{live_server}/health", timeout=10)
    assert r.status_code == 200 and "server" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.fixture(scope="module")
def live_server():
    from tests.test_service_faults import running_server

    with running_server(workers=1) as url:
        yield url
