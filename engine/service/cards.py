"""CDS Hooks cards from formulary decisions: what a prescriber sees while ordering.

Black → critical (not commissioned: IFR is the route); Red → warning (specialist only);
Amber → info (specialist recommendation or shared care); Green restricted → info with the
restriction, or no card when this patient is known to meet it; plain Green → no card. A
decision that gives no colour → info with what it did say, unless the patient meets its
criteria. Patient facts come from prefetched FHIR resources and, for facts FHIR cannot carry,
the request extension `cpe.patient-facts` (attribute name → value, as in `cpe evaluate`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Mapping

from engine.formulary.lookup import Match
from engine.language.suite import Suite

FACTS_EXTENSION = "cpe.patient-facts"
OVERRIDES = {
    "specialist": ("specialist-recommended", "Recommended or started by the specialist team"),
    "shared-care": ("shared-care-agreed", "Shared care agreement in place"),
    "ifr": ("ifr-approved", "Individual funding request approved"),
    "restriction": ("restriction-met", "Patient meets the restriction (not recorded in the record)"),
    "continuing": ("continuing-treatment", "Continuing established treatment"),
}


def patient_facts(prefetch: Mapping[str, Any], extension: Any, suite: Suite, on: dt.date
                  ) -> tuple[dict[str, Any], list[str]]:
    """Facts from prefetched resources and the facts extension; a fact that fails its check is dropped."""
    from engine.errors import InputError
    from engine.fhir.facts import from_resources, resources_in
    from engine.language.patient import validate_patient

    raw: dict[str, Any] = {}
    notes: list[str] = []
    resources = list(resources_in(list(prefetch.values())))
    if resources:
        mapped = from_resources(resources, on)
        raw.update(mapped.facts)
    if isinstance(extension, Mapping) and isinstance(extension.get(FACTS_EXTENSION), Mapping):
        raw.update(extension[FACTS_EXTENSION])
    facts: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            facts.update(validate_patient({name: value}, suite.attributes))
        except InputError as exc:
            notes.append(str(exc))
    return facts, notes


def conditions(prefetch: Mapping[str, Any]) -> list[str]:
    """Texts of the patient's prefetched conditions (a fallback indication)."""
    from engine.fhir.facts import resources_in
    from engine.service.orders import concept_texts

    out: list[str] = []
    for r in resources_in(list(prefetch.values())):
        if r.get("resourceType") == "Condition":
            out += [t for t in concept_texts(r.get("code")) if t not in out]
    return out


def _strip_tag(text: str) -> str:
    """'Essential hypertension (disorder)' → 'Essential hypertension'."""
    return text.split(" (")[0].strip() if text.endswith(")") else text


def _indication_tries(text: str) -> list[str]:
    """The indication as given, without its SNOMED tag, then word by word ('Essential hypertension'
    → 'hypertension'), since every word of an indication must match the formulary's wording."""
    words = [w for w in _strip_tag(text).split() if len(w) >= 5]
    return list(dict.fromkeys([text, _strip_tag(text), *words]))


def matches_for(order: Mapping[str, Any], patient_conditions: list[str]) -> tuple[list[Match], str | None]:
    """(formulary matches for one draft order, the indication they were narrowed by)."""
    from engine.service.medicines import find_medication

    for name in order["names"]:
        for ind in [*order["indications"], *patient_conditions]:
            for text in _indication_tries(ind):
                found = find_medication(name, text)
                if found:
                    return found, text
        found = find_medication(name)
        if found:
            return found, None
    return [], None


def cards_for(context: Mapping[str, Any], prefetch: Mapping[str, Any], suite: Suite, base_url: str,
              on: dt.date, extension: Any = None) -> list[dict[str, Any]]:
    """Cards for every MedicationRequest in context.draftOrders; [] means no guidance."""
    from engine.formulary.lookup import patient_check
    from engine.service.orders import draft_medications

    facts, _ = patient_facts(prefetch, extension, suite, on)
    conds = conditions(prefetch)
    cards: list[dict[str, Any]] = []
    seen: set[str] = set()
    for order in draft_medications(context):
        found, indication = matches_for(order, conds)
        found = [m for m in found if m.id not in seen]
        seen.update(m.id for m in found)
        if any(m.entry.get("criteria_ids") for m in found):
            found = patient_check(found, facts)
        for m in found:
            card = card_for(m, order, indication, bool(facts), base_url)
            if card:
                cards.append(card)
    return cards


def _restriction(m: Match) -> str:
    """'met', 'unmet', 'unknown' or 'none' for this patient."""
    r = (m.patient or {}).get("restriction", "unknown" if m.entry.get("criteria_ids") else "none")
    return r if isinstance(r, str) else "none"


def _unmet(m: Match) -> list[str]:
    return [c.get("text") or c["id"] for c in (m.patient or {}).get("criteria", [])
            if c.get("status") == "unmet" and not c.get("parent")]


def _black_route(m: Match) -> str:
    """A not-commissioned decision's way on: IFR only where the decision keeps that route."""
    return "only via an individual funding request" if m.ifr_available else "use an alternative"


def _ifr_detail(m: Match, indicator: str) -> list[str]:
    if indicator == "critical" and m.ifr_available:
        return ["Route: individual funding request (IFR), for exceptional clinical circumstances only."]
    return []


def card_for(m: Match, order: Mapping[str, Any], indication: str | None, have_facts: bool,
             base_url: str) -> dict[str, Any] | None:
    """One card, or None when the prescriber needs no guidance (plain Green; restriction met)."""
    e, s = m.entry, m.status
    sid, label = e["status"], s["label"]
    flags = s.get("flags", {})
    restriction = _restriction(m)
    name = e["medicine"][:1].upper() + e["medicine"][1:] + (f" ({', '.join(e['brands'])})" if e["brands"] else "")
    for_what = f" for {e['indication']}" if e.get("indication") else ""
    overrides: list[str] = []
    if flags.get("commissioned") is False or sid == "black":
        indicator = "critical"
        summary = f"{name} is {label}: not commissioned here; {_black_route(m)}"
        overrides = ["ifr", "continuing"]
    elif flags.get("specialist_only") or sid == "red":
        indicator = "warning"
        summary = f"{name} is {label}: specialist prescribing only"
        overrides = ["specialist", "continuing"]
    elif sid.startswith("amber"):
        indicator = "info"
        how = "shared care with the specialist" if flags.get("shared_care") else \
            "primary care after a specialist recommends or starts it"
        summary = f"{name} is {label}: {how}"
        overrides = ["shared-care" if flags.get("shared_care") else "specialist", "continuing"]
    elif flags.get("criteria_apply") or sid == "green_restricted":
        if restriction == "met":
            return None
        indicator = "info"
        summary = f"{name} is {label}: " + ("this patient does not meet the restriction" if restriction == "unmet"
                                          else "check the restriction")
        overrides = ["restriction", "continuing"]
    elif sid == "green":
        return None
    else:  # a decision without a colour
        if restriction == "met":
            return None
        indicator = "info"
        summary = f"{name}: the formulary decision states no colour; " + (
            "this patient does not meet its criteria" if restriction == "unmet" else "check its criteria"
            if restriction == "unknown" else "read the decision")
        overrides = ["restriction", "continuing"]

    detail = [f"**{label}**{for_what}: {s['meaning']}", f"Next step: {s['next_step']}"]
    detail += _ifr_detail(m, indicator)
    if e.get("restrictions"):
        detail.append(f"Restriction: {e['restrictions']}")
    if e.get("prior_approval"):
        detail.append("Prior approval is required before treatment starts.")
    if restriction in ("met", "unmet", "unknown") and e.get("criteria_ids"):
        if restriction == "unmet":
            detail.append("For this patient, not met: " + "; ".join(_unmet(m)))
        elif restriction == "unknown":
            missing = (m.patient or {}).get("missing") or []
            detail.append("For this patient the restriction cannot be checked yet"
                          + (f" (missing: {', '.join(missing)})" if missing else "") + ".")
        else:
            detail.append("This patient meets the restriction criteria.")
    if e.get("status_note"):
        detail.append(e["status_note"])
    if e.get("notes"):
        detail.append(e["notes"])
    if indication is None and e.get("indication"):
        detail.append("The order gives no indication this formulary entry could be matched to.")

    page = f"{base_url}/medicines/{e['id']}"
    when = f", {e['decision_date']}" if e.get("decision_date") else ""
    body = e.get("decision_body") or m.formulary.get("decision_body") or m.formulary.get("name")
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary if len(summary) < 140 else summary[:136] + "…",
        "indicator": indicator,
        "detail": "\n\n".join(detail),
        "source": {"label": f"{m.formulary.get('name', 'Formulary')} decision{when}"[:200],
                   "url": page,
                   "topic": {"system": f"{base_url}/medicines", "code": e["id"],
                             "display": f"{e['medicine']}{for_what}: {label}"}},
        "links": [{"label": f"Formulary entry: {name}", "url": page, "type": "absolute"}],
        "overrideReasons": [{"system": f"{base_url}/cds-services/override-reasons", "code": OVERRIDES[k][0],
                             "display": OVERRIDES[k][1]}
                            for k in overrides],
        "extension": {"cpe.formulary-entry": e["id"], "cpe.status": sid, "cpe.restriction": restriction,
                      "cpe.medication-request": order.get("id"), "cpe.decision-body": body},
    }
