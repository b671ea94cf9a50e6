"""Which Observation gives a fact, and what it says: BMI and smoking as US Core and UK Core record them.

An Observation is a candidate for a fact when its code is one the reader knows (engine.fhir.codes),
its status is usable and it was made on or before the referral date (and, when a maximum age is
set, not longer before it than that). Candidates are taken by status (final, amended or corrected
before preliminary), then by effective time, latest first; the first whose value can be read gives
the fact. A malformed Observation is skipped with a note; it never fails the record.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.fhir import codes


@dataclass(frozen=True)
class Candidate:
    fact: str                 # "bmi" | "smoker"
    obs: Mapping[str, Any]
    ref: str
    when: dt.datetime | None  # effective time (UTC), None when undated
    day: str                  # its date as written (YYYY-MM-DD), "" when undated
    rank: int
    how: str                  # "LOINC 39156-5", "SNOMED CT 60621009", ...

    def key(self) -> tuple[int, float]:
        return self.rank, -(self.when.timestamp() if self.when else float("-inf"))


def ref(r: Mapping[str, Any]) -> str:
    rid = r.get("id")
    return f"{r.get('resourceType')}/{rid}" if isinstance(rid, str) else str(r.get("resourceType"))


def codings(cc: Any) -> list[Mapping[str, Any]]:
    """A CodeableConcept's codings (a single coding object, as some senders write it, too)."""
    if not isinstance(cc, Mapping):
        return []
    raw = cc.get("coding")
    if isinstance(raw, Mapping):
        raw = [raw]
    return [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def _codes(cc: Any, system: str) -> set[str]:
    """Codes of one system (a coding without a system counts as LOINC, as the first reader did)."""
    out = set()
    for c in codings(cc):
        sys, code = c.get("system"), c.get("code")
        if isinstance(code, str) and (sys == system or (sys is None and system == codes.LOINC)):
            out.add(code)
    return out


def kind_of(obs: Mapping[str, Any]) -> tuple[str, str] | None:
    """(fact, how it is coded) for an Observation the reader knows, else None."""
    loinc, snomed = _codes(obs.get("code"), codes.LOINC), _codes(obs.get("code"), codes.SNOMED)
    if codes.BMI_LOINC in loinc:
        return "bmi", f"LOINC {codes.BMI_LOINC}"
    if codes.BMI_SNOMED in snomed:
        return "bmi", f"SNOMED CT {codes.BMI_SNOMED}"
    if codes.SMOKING_LOINC in loinc:
        return "smoker", f"LOINC {codes.SMOKING_LOINC}"
    for code in sorted(snomed):
        if code in codes.SMOKING_FINDINGS or code in codes.SMOKED_TOBACCO_CONSUMPTION:
            return "smoker", f"SNOMED CT {code}"
    return None


def effective(r: Mapping[str, Any]) -> tuple[dt.datetime | None, str]:
    """(the observation's clinical time in UTC, its date as written) — (None, "") when undated.

    A date without a time counts as the start of that day; a time without a zone as UTC.
    """
    for key in ("effectiveDateTime", "effectiveInstant", "issued"):
        v = r.get(key)
        if isinstance(v, str) and len(v) >= 4:
            return _instant(v), v[:10]
    period = r.get("effectivePeriod")
    if isinstance(period, Mapping) and isinstance(period.get("start"), str):
        return _instant(period["start"]), period["start"][:10]
    return None, ""


def _instant(text: str) -> dt.datetime | None:
    try:
        if len(text) <= 10:
            parts = [int(p) for p in text.split("-")] + [1, 1]
            when = dt.datetime(parts[0], parts[1], parts[2])
        else:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def candidate(obs: Mapping[str, Any], on: dt.date, max_age_days: int | None, notes: list[str]
              ) -> Candidate | None:
    """The Observation as a candidate for its fact, or None (with a note when it was one of ours)."""
    kind = kind_of(obs)
    if kind is None:
        return None
    fact, how = kind
    r = ref(obs)
    status = obs.get("status")
    if not isinstance(status, str):
        notes.append(f"{r}: {fact} not used: Observation.status {status!r} is not a FHIR code")
        return None
    if status not in codes.STATUS_RANK:
        return None  # registered, cancelled, entered-in-error: no result to use
    when, day = effective(obs)
    if day and when is None:
        notes.append(f"{r}: {fact} not used: its effective date {day!r} is not a FHIR date")
        return None
    if day > on.isoformat():
        return None  # recorded after the referral date: not a fact at referral
    if max_age_days and day and dt.date.fromisoformat(day) < on - dt.timedelta(days=max_age_days):
        notes.append(f"{r}: {fact} not used: recorded {day}, more than {max_age_days} days before "
                     f"{on.isoformat()} (CPE_FHIR_MAX_FACT_AGE_DAYS)")
        return None
    return Candidate(fact, obs, r, when, day, codes.STATUS_RANK[status], how)


def bmi_value(obs: Mapping[str, Any]) -> tuple[float | None, str]:
    q = obs.get("valueQuantity")
    if not isinstance(q, Mapping):
        return None, "no valueQuantity"
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"value {value!r} is not a number"
    unit = q.get("code") or q.get("unit")
    if unit is not None and (not isinstance(unit, str) or unit not in codes.BMI_UNITS):
        return None, f"unit {unit!r} is not kg/m2"
    return float(value), ""


def smoker_value(obs: Mapping[str, Any]) -> tuple[bool | None, str | None]:
    """(smoker, None) when the record is understood (smoker None: recorded as unknown), else (None, why)."""
    own = _codes(obs.get("code"), codes.SNOMED)
    for code in sorted(own):
        if code in codes.SMOKING_FINDINGS:  # UK GP style: the finding is the Observation's code
            return codes.SMOKING_FINDINGS[code], None
    for code in sorted(own):
        if code in codes.SMOKED_TOBACCO_CONSUMPTION:
            return _consumption(obs, code)
    return _answer(obs.get("valueCodeableConcept"))


def _consumption(obs: Mapping[str, Any], code: str) -> tuple[bool | None, str | None]:
    q = obs.get("valueQuantity")
    value = q.get("value") if isinstance(q, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"{codes.SMOKED_TOBACCO_CONSUMPTION[code]} without a numeric valueQuantity"
    if value > 0:
        return True, None
    return None, f"{codes.SMOKED_TOBACCO_CONSUMPTION[code]} of 0 says only that this product is not smoked"


def _answer(cc: Any) -> tuple[bool | None, str | None]:
    answers = {**codes.SMOKING_FINDINGS, **codes.SYNTHEA_SMOKING_ANSWERS}
    for c in codings(cc):
        code = c.get("code")
        if c.get("system") in (codes.SNOMED, None) and isinstance(code, str) and code in answers:
            return answers[code], None
    text = " ".join(str(x) for x in [cc.get("text") if isinstance(cc, Mapping) else None]
                    + [c.get("display") for c in codings(cc)] if isinstance(x, str)).lower()
    if "never" in text or "former" in text or "ex-smoker" in text or "non-smoker" in text:
        return False, None
    if "current" in text or "every day" in text or "some day" in text:
        return True, None
    return None, "the answer is not a known smoking status code"
