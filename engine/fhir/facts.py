"""FHIR R4 input: patient facts from a Bundle (or CDS Hooks prefetch resources).

Real records are messy (Synthea bundles carry schema faults, EHRs send single objects where FHIR
says list), so the read is tolerant: only the few elements mapped here are looked at, and anything
that cannot be mapped stays unknown, with a note saying why, rather than failing the whole
request. One bad Observation drops that fact, never the record. What is mapped:

- `age`: whole years from `Patient.birthDate` to the referral date; a Patient recorded as
  deceased (on or before the referral date) is refused: no decision is made for them;
- `bmi`: an Observation LOINC 39156-5 or SNOMED CT 60621009 (UK Core), in kg/m2;
- `smoker`: LOINC 72166-2 answered by a SNOMED CT finding (US Core), a SNOMED CT smoking finding
  as the Observation's own code (UK GP records: 77176002 Smoker, 8517006 Ex-smoker, 266919005
  Never smoked tobacco ...), or a UK Core tobacco consumption with a quantity (230058003 ...).

The Observation used is chosen by status (final/amended/corrected before preliminary), then by
effective time, latest first (engine.fhir.observations); facts are as of the referral date (later
observations are ignored) and, with `CPE_FHIR_MAX_FACT_AGE_DAYS`, no older than that. Each fact's
source names the Observation and its date. The codes, with their sources: engine.fhir.codes.
A file may be FHIR JSON or FHIR XML (engine.fhir.xml). Input that is not a FHIR Bundle at all, or
a deceased patient, is refused (InputError, exit 2).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.fhir.codes import BMI_LOINC, LOINC, SMOKING_LOINC, SNOMED  # noqa: F401  (re-exported)
from engine.fhir.observations import bmi_value, candidate, ref, smoker_value

READERS = {"bmi": bmi_value, "smoker": smoker_value}


@dataclass(frozen=True)
class Mapped:
    """Facts read from FHIR, where each came from, and what could not be used."""

    facts: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    on: dt.date | None = None
    dates: dict[str, str] = field(default_factory=dict)  # fact -> the date it was recorded
    deceased: str | None = None                          # why the patient is taken to have died

    def to_json(self) -> dict[str, Any]:
        out = {"facts": dict(self.facts), "sources": dict(self.sources), "notes": list(self.notes),
               "on": self.on.isoformat() if self.on else None}
        if self.dates:
            out["dates"] = dict(self.dates)
        return out

    def checked(self, attributes: Any) -> Mapped:
        """Each fact checked on its own against the attribute dictionary: one that fails (a BMI out
        of range) is dropped with a note; the others stand."""
        from engine.language.patient import validate_patient

        facts: dict[str, Any] = {}
        notes = list(self.notes)
        for name, value in self.facts.items():
            try:
                facts.update(validate_patient({name: value}, attributes))
            except InputError as exc:
                notes.append(f"{name} not used: {self.sources.get(name, 'FHIR')}: {exc.problems[0].message}")
        sources = {k: v for k, v in self.sources.items() if k in facts}
        return replace(self, facts=facts, sources=sources, notes=tuple(notes),
                       dates={k: v for k, v in self.dates.items() if k in facts})


def load_bundle(path: Path, on: dt.date | None = None, attributes: Any = None) -> Mapped:
    """Read a Bundle file, FHIR JSON or FHIR XML (engine.fhir.xml); InputError (not a traceback) otherwise."""
    from engine.fhir import xml
    from engine.language.source import display_path, parse_json, read_text

    name = display_path(path)
    text = read_text(path)
    data = xml.parse(text, name) if xml.is_xml(text) else parse_json(text, name)
    mapped = from_bundle(data, on, name)
    return mapped.checked(attributes) if attributes is not None else mapped


def from_bundle(data: Any, on: dt.date | None = None, file: str | None = None) -> Mapped:
    """Facts from one FHIR R4 Bundle as parsed JSON; a deceased patient is refused."""
    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, Mapping) else type(data).__name__
        raise InputError.of("not-fhir-bundle", f"expected a FHIR R4 Bundle (resourceType 'Bundle'), got {kind!r}",
                            file)
    entries = data.get("entry", [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise InputError.of("not-fhir-bundle", "Bundle.entry must be a list of entries", file)
    try:
        mapped = from_resources(resources_in(data), on)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a shape the tolerant read missed
        raise InputError.of("malformed-fhir", f"the Bundle could not be read as FHIR R4: {exc}", file) from None
    if mapped.deceased:
        raise InputError.of("patient-deceased", f"the record says this patient has died ({mapped.deceased}); "
                            "no decision is made for a deceased patient", file)
    return mapped


def resources_in(obj: Any) -> Iterator[dict]:
    """Every resource in a resource, Bundle (nested or not) or list of either."""
    if isinstance(obj, list):
        for x in obj:
            yield from resources_in(x)
        return
    if not isinstance(obj, Mapping):
        return
    if obj.get("resourceType") == "Bundle":
        entries = obj.get("entry")
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, Mapping):
                yield from resources_in(e.get("resource"))
        return
    if isinstance(obj.get("resourceType"), str):
        yield obj  # type: ignore[misc]


def max_fact_age() -> int | None:
    """`CPE_FHIR_MAX_FACT_AGE_DAYS` (0, the default: no limit)."""
    from engine.settings import setting

    days = setting("fhir_max_fact_age_days")
    return int(days) if days else None


def from_resources(resources: Iterable[Mapping[str, Any]], on: dt.date | None = None,
                   max_age_days: int | None = -1) -> Mapped:
    """Facts as of the referral date `on` (default today) from loose FHIR resources.

    `max_age_days`: the oldest a fact may be (None: no limit; the default reads the setting).
    """
    day = on or dt.date.today()
    limit = max_fact_age() if max_age_days == -1 else max_age_days
    facts: dict[str, Any] = {}
    sources: dict[str, str] = {}
    dates: dict[str, str] = {}
    notes: list[str] = []
    patients: list[Mapping[str, Any]] = []
    found: dict[str, list[Any]] = {"bmi": [], "smoker": []}
    for r in resources:
        kind = r.get("resourceType")
        if kind == "Patient":
            patients.append(r)
        elif kind == "Observation":
            c = candidate(r, day, limit, notes)
            if c is not None:
                found[c.fact].append(c)

    if patients:
        p = patients[0]
        if len(patients) > 1:
            notes.append(f"{len(patients)} Patient resources; used {ref(p)}")
        dead = deceased(p, day)
        if dead:
            return Mapped({}, {}, (f"{ref(p)}: {dead}",), day, {}, dead)
        age, why = _age(p.get("birthDate"), day)
        if age is not None:
            facts["age"] = age
            sources["age"] = f"{ref(p)} birthDate {p.get('birthDate')} at {day.isoformat()}"
        else:
            notes.append(f"age unknown: {why}")
    else:
        notes.append("age unknown: no Patient resource")

    for fact, codes_said in (("bmi", f"LOINC {BMI_LOINC} or SNOMED CT 60621009"),
                             ("smoker", f"LOINC {SMOKING_LOINC} or a SNOMED CT smoking finding")):
        _pick(fact, found[fact], facts, sources, dates, notes, codes_said, day)
    return Mapped(facts, sources, tuple(notes), day, dates)


def _pick(fact: str, found: list[Any], facts: dict[str, Any], sources: dict[str, str], dates: dict[str, str],
          notes: list[str], codes_said: str, day: dt.date) -> None:
    """The first candidate (status, then latest) whose value reads gives the fact."""
    for c in sorted(found, key=lambda c: c.key()):
        value, why = READERS[fact](c.obs)
        if fact == "smoker" and why is None and value is None:
            notes.append(f"smoker unknown: {c.ref} records the smoking status as unknown")
            return
        if value is not None:
            facts[fact] = value
            status = c.obs.get("status")
            sources[fact] = f"{c.ref} ({c.how}, {status}) {c.day or 'undated'}"
            if c.day:
                dates[fact] = c.day
            return
        notes.append(f"{c.ref}: {'BMI' if fact == 'bmi' else 'smoking status'} not used: {why}")
    notes.append(f"{fact} unknown: no usable Observation {codes_said} on or before {day.isoformat()}")


def deceased(p: Mapping[str, Any], on: dt.date) -> str | None:
    """Why the Patient is taken to have died by `on`, or None (alive, or died after the referral date)."""
    flag, when = p.get("deceasedBoolean"), p.get("deceasedDateTime")
    if flag is True:
        return "Patient.deceasedBoolean is true"
    if isinstance(when, str) and when[:10] <= on.isoformat():
        return f"Patient.deceasedDateTime {when}"
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
