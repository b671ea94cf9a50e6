"""CDS Hooks prefetch: the templates this service asks for, what a request satisfied, and the fetch of
the rest from the EHR's `fhirServer` (CDS Hooks 2.0, "Providing FHIR Resources to a CDS Service").

A prefetch key is satisfied when the request carries a FHIR resource for it (an OperationOutcome, or
nothing, is not). Each unsatisfied key is fetched from `fhirServer` with the template's tokens
filled from the context, presenting `fhirAuthorization.access_token` as a bearer token. When the
data cannot be had — no `fhirServer`, a token that cannot be filled, a fetch that fails — the
service answers 412 Precondition Failed, as the specification requires (`Unavailable`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.fhir import codes

# Observation codes read by engine.fhir (engine.fhir.codes): BMI and smoking, LOINC and SNOMED CT.
_OBS_CODES = ([f"{codes.LOINC}|{codes.BMI_LOINC}", f"{codes.LOINC}|{codes.SMOKING_LOINC}",
               f"{codes.SNOMED}|{codes.BMI_SNOMED}"]
              + [f"{codes.SNOMED}|{c}" for c in codes.SMOKING_FINDINGS]
              + [f"{codes.SNOMED}|{c}" for c in codes.SMOKED_TOBACCO_CONSUMPTION])
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "observations": "Observation?patient={{context.patientId}}&code=" + ",".join(_OBS_CODES),
}
TIMEOUT = 5.0
_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z0-9_]+)\s*\}\}")


class Unavailable(Exception):
    """The FHIR data the service needs can be had neither from prefetch nor from the FHIR server (412)."""


def satisfied(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("resourceType"), str) \
        and value.get("resourceType") != "OperationOutcome"


def fill(template: str, context: Mapping[str, Any]) -> str:
    """The template with its `{{context.x}}` tokens filled; Unavailable when one cannot be."""
    from urllib.parse import quote

    def one(m: re.Match[str]) -> str:
        v = context.get(m.group(1))
        if isinstance(v, bool) or not isinstance(v, (str, int, float)) or str(v) == "":
            raise Unavailable(f"prefetch token {m.group(0)} cannot be filled from the context")
        return quote(str(v), safe="")

    return _TOKEN.sub(one, template)


def check_authorization(fhir_server: Any, auth: Any) -> str | None:
    """What is wrong with `fhirServer` / `fhirAuthorization` as sent (a 400), or None."""
    if auth is not None:
        if not fhir_server:
            return "fhirAuthorization is given without fhirServer (fhirServer is then REQUIRED)"
        if not isinstance(auth, Mapping) or not isinstance(auth.get("access_token"), str) \
                or not auth.get("access_token"):
            return "fhirAuthorization.access_token must be a string"
        if str(auth.get("token_type", "")).lower() != "bearer":
            return "fhirAuthorization.token_type must be 'Bearer'"
    if fhir_server is not None and not re.match(r"^https?://[^\s/]+", str(fhir_server)):
        return f"fhirServer {fhir_server!r} is not an http(s) URL"
    return None


def _about(r: Mapping[str, Any]) -> str | None:
    """The id of the Patient a resource is about (its `subject` or `patient` reference), or None."""
    for key in ("subject", "patient"):
        ref = r.get(key)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            m = re.search(r"(?:^|/)Patient/([^/]+)$", ref["reference"])
            if m:
                return m.group(1)
    return None


def for_patient(prefetch: Mapping[str, Any], patient_id: str) -> tuple[dict[str, Any], list[str], str | None]:
    """The prefetch with only the context patient's data: (prefetch, notes, problem).

    A `patient` that is another Patient is a problem (400): its facts must never decide for this
    patient. A Condition or Observation about another patient is left out, with a note."""
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in prefetch.items():
        if not isinstance(value, Mapping):
            continue
        if value.get("resourceType") == "Patient":
            if isinstance(value.get("id"), str) and value["id"] != patient_id:
                return {}, notes, (f"prefetch.{key} is Patient/{value['id']}, not the patient in context "
                                   f"(context.patientId {patient_id})")
            out[key] = value
        elif value.get("resourceType") == "Bundle" and isinstance(value.get("entry"), list):
            kept = []
            for e in value["entry"]:
                r = e.get("resource") if isinstance(e, Mapping) else None
                other = _about(r) if isinstance(r, Mapping) else None
                if isinstance(r, Mapping) and other is not None and other != patient_id:
                    notes.append(f"{r.get('resourceType')}/{r.get('id')} is about Patient/{other}: not used")
                    continue
                kept.append(e)
            out[key] = {**value, "entry": kept}
        else:
            other = _about(value)
            if other is None or other == patient_id:
                out[key] = value
    return out, notes, None


def _loopback(url: str) -> bool:
    """http to this machine (an EHR's local proxy, a test's FHIR server) carries nothing over a network."""
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def present(prefetch: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """(the resources the request sent, the template keys it did not satisfy): the templates' keys,
    plus any other resource the EHR chose to send (a Medication an order refers to)."""
    have = {k: v for k, v in (prefetch or {}).items() if satisfied(v)}
    return have, [k for k in PREFETCH if k not in have]


async def complete(prefetch: Mapping[str, Any] | None, context: Mapping[str, Any], fhir_server: str | None,
                   auth: Mapping[str, Any] | None, development: bool) -> dict[str, Any]:
    """Every prefetch key this service asks for, from the request or fetched; Unavailable otherwise."""
    have, missing = present(prefetch)
    if not missing:
        return have
    if not fhir_server:
        raise Unavailable(f"prefetch {', '.join(missing)} not sent and no fhirServer to fetch it from")
    if not development and not str(fhir_server).startswith("https://") and not _loopback(str(fhir_server)):
        raise Unavailable(f"fhirServer {fhir_server} is not https; production data is fetched over https only")
    import httpx

    headers = {"Accept": "application/fhir+json, application/json"}
    if auth and auth.get("access_token"):
        headers["Authorization"] = f"Bearer {auth['access_token']}"
    base = str(fhir_server).rstrip("/")
    async with httpx.AsyncClient(timeout=TIMEOUT, headers=headers, follow_redirects=False) as client:
        for key in missing:
            url = f"{base}/{fill(PREFETCH[key], context)}"
            try:
                r = await client.get(url)
            except httpx.HTTPError as exc:
                raise Unavailable(f"prefetch {key}: the FHIR server could not be reached: {type(exc).__name__}") \
                    from None
            if r.status_code != 200:
                raise Unavailable(f"prefetch {key}: the FHIR server answered {r.status_code}")
            try:
                data = r.json()
            except ValueError:
                raise Unavailable(f"prefetch {key}: the FHIR server's answer is not JSON") from None
            if not satisfied(data):
                raise Unavailable(f"prefetch {key}: the FHIR server's answer is not a FHIR resource")
            have[key] = data
    return have
