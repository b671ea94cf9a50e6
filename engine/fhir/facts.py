"""FHIR R4 input: patient facts from a Bundle (or CDS Hooks prefetch resources).

Real records are messy (Synthea bundles carry schema faults), so the read is tolerant: only
the few elements mapped here are looked at, and anything that cannot be mapped stays
unknown, with a note saying why, rather than failing the whole request. What is mapped:

- `age`: whole years from `Patient.birthDate` to the referral date;
- `bmi`: the latest Observation LOINC 39156-5 on or before the referral date, in kg/m2;
- `smoker`: the latest Observation LOINC 72166-2 (tobacco smoking status) on or before it.

Facts are as of the referral date: later observations are ignored. Only input that is not a
FHIR Bundle at all is refused (InputError, exit 2).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from engine.errors import InputError

LOINC = "http://loinc.org"
BMI_LOINC = "39156-5"
SMOKING_LOINC = "72166-2"
BMI_UNITS = {"kg/m2", "kg/m^2", "kg/m²"}

# SNOMED CT answers to LOINC 72166-2 (the US Core / Synthea value set), as `smoker`.
SMOKING_SNOMED: dict[str, bool | None] = {
    "449868002": True,          # current every day smoker
    "428041000124106": True,    # current some day smoker
    "77176002": True,           # smoker, current status unknown
    "428071000124103": True,    # current heavy tobacco smoker
    "428061000124105": True,    # current light tobacco smoker
    "65568007": True,           # cigarette smoker
    "8517006": False,           # ex-smoker
    "266919005": False,         # never smoked
    "405746006": False,         # current non-smoker
    "266927001": None,          # unknown if ever smoked
}
_EXCLUDED_STATUS = {"entered-in-error", "cancelled"}


@dataclass(frozen=True)
class Mapped:
    """Facts read from FHIR, where each came from, and what could not be used."""

    facts: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    on: dt.date | None = None

    def to_json(self) -> dict[str, Any]:
        return {"facts": dict(self.facts), "sources": dict(self.sources), "notes": list(self.notes),
                "on": self.on.isoformat() if self.on else None}


def load_bundle(path: Path, on: dt.date | None = None) -> Mapped:
    """Read a Bundle file; InputError (not a traceback) when it is not readable JSON."""
    from engine.language.source import display_path, parse_json, read_text

    name = display_path(path)
    return from_bundle(parse_json(read_text(path), name), on, name)


def from_bundle(data: Any, on: dt.date | None = None, file: str | None = None) -> Mapped:
    """Facts from one FHIR R4 Bundle as parsed JSON."""
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, Mapping) else type(data).__name__
        raise InputError.of("not-fhir-bundle", f"expected a FHIR R4 Bundle (resourceType 'Bundle'), got {kind!r}",
                            file)
    entries = data.get("entry", [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise InputError.of("not-fhir-bundle", "Bundle.entry must be a list of entries", file)
    return from_resources(resources_in(data), on)


def resources_in(obj: Any) -> Iterator[dict]:
    """Every resource in a resource, Bundle (nested or not) or list of either."""
    if isinstance(obj, list):
        for x in obj:
            yield from resources_in(x)
        return
    if not isinstance(obj, Mapping):
        return
    if obj.get("resourceType") == "Bundle":
        for e in obj.get("entry") or []:
            if isinstance(e, Mapping):
                yield from resources_in(e.get("resource"))
        return
    if isinstance(obj.get("resourceType"), str):
        yield obj  # type: ignore[misc]


def from_resources(resources: Iterable[Mapping[str, Any]], on: dt.date | None = None) -> Mapped:
    """Facts as of the referral date `on` (default today) from loose FHIR resources."""
    day = on or dt.date.today()
    facts: dict[str, Any] = {}
    sources: dict[str, str] = {}
    notes: list[str] = []
    patients: list[Mapping[str, Any]] = []
    bmi: list[tuple[str, Any, str]] = []
    smoking: list[tuple[str, Any, str]] = []
    for r in resources:
        kind = r.get("resourceType")
        if kind == "Patient":
            patients.append(r)
        elif kind == "Observation" and r.get("status") not in _EXCLUDED_STATUS:
            codes = _loinc_codes(r.get("code"))
            if BMI_LOINC in codes or SMOKING_LOINC in codes:
                when = _effective(r)
                if when is not None and when > day.isoformat():
                    continue  # recorded after the referral date: not a fact at referral
                (bmi if BMI_LOINC in codes else smoking).append((when or "", r, _ref(r)))

    if patients:
        p = patients[0]
        if len(patients) > 1:
            notes.append(f"{len(patients)} Patient resources; used {_ref(p)}")
        age, why = _age(p.get("birthDate"), day)
        if age is not None:
            facts["age"] = age
            sources["age"] = f"{_ref(p)} birthDate {p.get('birthDate')} at {day.isoformat()}"
        else:
            notes.append(f"age unknown: {why}")
    else:
        notes.append("age unknown: no Patient resource")

    for when, obs, ref in sorted(bmi, key=lambda t: t[0], reverse=True):
        value, why = _bmi_value(obs)
        if value is not None:
            facts["bmi"] = value
            sources["bmi"] = f"{ref} (LOINC {BMI_LOINC}) {when or 'undated'}".strip()
            break
        notes.append(f"{ref}: BMI not used: {why}")
    else:
        notes.append(f"bmi unknown: no usable Observation LOINC {BMI_LOINC} on or before {day.isoformat()}")

    for when, obs, ref in sorted(smoking, key=lambda t: t[0], reverse=True):
        value, why = _smoker_value(obs)
        if why is None:
            if value is not None:
                facts["smoker"] = value
                sources["smoker"] = f"{ref} (LOINC {SMOKING_LOINC}) {when or 'undated'}".strip()
            else:
                notes.append(f"smoker unknown: {ref} records the smoking status as unknown")
            break
        notes.append(f"{ref}: smoking status not used: {why}")
    else:
        notes.append(f"smoker unknown: no usable Observation LOINC {SMOKING_LOINC} on or before {day.isoformat()}")
    return Mapped(facts, sources, tuple(notes), day)


# -- elements ---------------------------------------------------------------------------------
def _ref(r: Mapping[str, Any]) -> str:
    rid = r.get("id")
    return f"{r.get('resourceType')}/{rid}" if isinstance(rid, str) else str(r.get("resourceType"))


def _codings(cc: Any) -> list[Mapping[str, Any]]:
    if not isinstance(cc, Mapping) or not isinstance(cc.get("coding"), list):
        return []
    return [c for c in cc["coding"] if isinstance(c, Mapping)]


def _loinc_codes(cc: Any) -> set[str]:
    return {c.get("code") for c in _codings(cc) if c.get("system") in (LOINC, None)}  # type: ignore[misc]


def _effective(r: Mapping[str, Any]) -> str | None:
    """The observation's clinical date as YYYY-MM-DD (string order is date order), or None."""
    for key in ("effectiveDateTime", "effectiveInstant", "issued"):
        v = r.get(key)
        if isinstance(v, str) and len(v) >= 4:
            return v[:10]
    period = r.get("effectivePeriod")
    if isinstance(period, Mapping) and isinstance(period.get("start"), str):
        return period["start"][:10]
    return None


def _age(birth: Any, on: dt.date) -> tuple[int | None, str]:
    """Whole years at `on`; a partial date (YYYY or YYYY-MM) counts only when it settles the age."""
    if not isinstance(birth, str):
        return None, "Patient.birthDate is missing"
    parts = birth.split("-")
    try:
        y = int(parts[0])
        if len(parts) >= 3:
            earliest = latest = dt.date.fromisoformat(birth[:10])
        elif len(parts) == 2:
            m = int(parts[1])
            earliest = dt.date(y, m, 1)
            latest = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
        else:
            earliest, latest = dt.date(y, 1, 1), dt.date(y, 12, 31)
    except (ValueError, IndexError):
        return None, f"Patient.birthDate {birth!r} is not a FHIR date"
    if earliest > on:
        return None, f"Patient.birthDate {birth} is after the referral date {on.isoformat()}"
    oldest, youngest = _years(earliest, on), _years(min(latest, on), on)
    if oldest != youngest:
        return None, f"Patient.birthDate {birth} is too imprecise to settle the age at {on.isoformat()}"
    return oldest, ""


def _years(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _bmi_value(obs: Mapping[str, Any]) -> tuple[float | None, str]:
    q = obs.get("valueQuantity")
    if not isinstance(q, Mapping):
        return None, "no valueQuantity"
    value = q.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"value {value!r} is not a number"
    unit = q.get("code") or q.get("unit")
    if unit is not None and unit not in BMI_UNITS:
        return None, f"unit {unit!r} is not kg/m2"
    return float(value), ""


def _smoker_value(obs: Mapping[str, Any]) -> tuple[bool | None, str | None]:
    """(smoker, None) when the answer is understood (smoker may be None: recorded as unknown)."""
    cc = obs.get("valueCodeableConcept")
    for c in _codings(cc):
        if c.get("code") in SMOKING_SNOMED:
            return SMOKING_SNOMED[c["code"]], None
    text = " ".join(str(x) for x in [cc.get("text") if isinstance(cc, Mapping) else None]
                    + [c.get("display") for c in _codings(cc)] if x).lower()
    if "never" in text or "former" in text or "ex-smoker" in text or "non-smoker" in text:
        return False, None
    if "current" in text or "every day" in text or "some day" in text:
        return True, None
    return None, "the answer is not a known smoking status code"
