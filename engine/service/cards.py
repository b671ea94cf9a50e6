"""CDS Hooks cards from formulary decisions: what a prescriber sees while ordering.

Black → critical (not commissioned: an IFR where the decision keeps that route, else the alternatives); Red → warning (specialist only);
Amber → info (specialist recommendation or shared care); Green restricted → info with the
restriction, or no card when this patient is known to meet it; plain Green → no card. A
decision that gives no colour → info with what it did say, unless the patient meets its
criteria. Patient facts come from prefetched FHIR resources (each shown with the date it was
recorded) and, for facts FHIR cannot carry, the request extension `<namespace>.patient-facts`
(attribute name → value, as in `cpe evaluate`; the older `cpe.patient-facts` is still read). A
patient the record says has died gets one warning card and no formulary decision.

Extension names are reverse-domain (`invalid.cpe.status` for the default CPE_CDS_DOMAIN
`cpe.invalid`) and code systems `https://DOMAIN/cds/...`: from configuration, so they do not change
with the address a request came in on. No card carries a null or empty value (`clean`).
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from engine.formulary.lookup import Match
from engine.language.suite import Suite

LEGACY_FACTS_EXTENSION = "cpe.patient-facts"
OVERRIDES = {
    "specialist": ("specialist-recommended", "Recommended or started by the specialist team"),
    "shared-care": ("shared-care-agreed", "Shared care agreement in place"),
    "ifr": ("ifr-approved", "Individual funding request approved"),
    "restriction": ("restriction-met", "Patient meets the restriction (not recorded in the record)"),
    "continuing": ("continuing-treatment", "Continuing established treatment"),
}


def namespace() -> str:
    """Reverse-domain prefix of this service's extension names, from CPE_CDS_DOMAIN ('cpe.invalid' →
    'invalid.cpe'): stable, whatever address a request came in on."""
    from engine.settings import setting

    return ".".join(reversed(str(setting("cds_domain")).split(".")))


def system(name: str) -> str:
    """A code system of this service (https://DOMAIN/cds/NAME), from configuration, never the Host header."""
    from engine.settings import setting

    return f"https://{setting('cds_domain')}/cds/{name}"


def ext(name: str) -> str:
    return f"{namespace()}.{name}"


def clean(obj: Any) -> Any:
    """Without null or empty values at any depth (CDS Hooks: JSON elements SHALL NOT be null or empty)."""
    if isinstance(obj, dict):
        out = {k: clean(v) for k, v in obj.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(obj, list):
        return [x for x in (clean(v) for v in obj) if x not in (None, "", [], {})]
    return obj


def patient_facts(prefetch: Mapping[str, Any], extension: Any, suite: Suite, on: dt.date
                  ) -> tuple[dict[str, Any], list[str], Any]:
    """(facts, notes, the FHIR mapping) from prefetched resources and the facts extension; a fact that
    fails its check is dropped with a note, the others stand."""
    from engine.fhir.facts import Mapped, from_resources, resources_in

    resources = list(resources_in(list(prefetch.values())))
    mapped = from_resources(resources, on) if resources else Mapped({}, on=on)
    if mapped.deceased:
        return {}, list(mapped.notes), mapped
    mapped = mapped.checked(suite.attributes)
    facts = dict(mapped.facts)
    notes = list(mapped.notes)
    given = None
    if isinstance(extension, Mapping):
        given = extension.get(ext("patient-facts"), extension.get(LEGACY_FACTS_EXTENSION))
    if isinstance(given, Mapping):
        from engine.fhir.facts import Mapped as M

        told = M(dict(given), {k: "the request's patient-facts extension" for k in given}).checked(suite.attributes)
        facts.update(told.facts)
        notes += [n for n in told.notes if n not in notes]
    return facts, notes, mapped


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
    """(formulary matches for one draft order, the indication they were narrowed by).

    When the order's own indication is one a decision for this medicine explicitly excludes (OPEP
    for cystic fibrosis, where the decision is for non-cystic fibrosis bronchiectasis), there is no
    falling back to the medicine alone: the excluding decisions go in order["excluded"] and no match
    is returned, so the card says no decision covers the order rather than showing the excluded one."""
    from engine.service.medicines import find_medication, index

    for name in order["names"]:
        for ind in [*order["indications"], *patient_conditions]:
            for text in _indication_tries(ind):
                found = find_medication(name, text)
                if found:
                    return found, text
        excluded = [m for ind in order["indications"] for m in index().resolve(name, ind).excluded]
        if excluded:
            order["excluded"] = {"indication": order["indications"][0], "matches": excluded}  # type: ignore[index]
            return [], None
        found = find_medication(name)
        if found:
            return found, None
    return [], None


def cards_for(context: Mapping[str, Any], prefetch: Mapping[str, Any], suite: Suite, base_url: str,
              on: dt.date, extension: Any = None) -> list[dict[str, Any]]:
    """Cards for every MedicationRequest in context.draftOrders; [] means no guidance."""
    from engine.formulary.lookup import SERVICE_RECHECK, patient_check
    from engine.service.orders import draft_medications

    facts, _, mapped = patient_facts(prefetch, extension, suite, on)
    if mapped.deceased:
        return [deceased_card(mapped.deceased)]
    conds = conditions(prefetch)
    cards: list[dict[str, Any]] = []
    seen: set[str] = set()
    for order in draft_medications(context, prefetch):
        found, indication = matches_for(order, conds)
        if not found and order.get("excluded"):   # the decision excludes what this order is for
            cards.append(excluded_card(order, base_url))
            continue
        if not found and order.get("unidentified"):  # issue 11: an unidentified order says so, never silent
            cards.append(unidentified_card(order, base_url))
            continue
        found = [m for m in found if m.id not in seen]
        seen.update(m.id for m in found)
        if any(m.entry.get("criteria_ids") for m in found):
            found = patient_check(found, facts, recheck=SERVICE_RECHECK)
        for m in found:
            card = card_for(m, order, indication, bool(facts), base_url, _dated(mapped))
            if card:
                cards.append(card)
    return cards


def _dated(mapped: Any) -> list[str]:
    """'bmi 31 (Observation/b1, 2024-06-01)': each FHIR fact with the date it was recorded."""
    out = []
    for k, v in mapped.facts.items():
        src = mapped.sources.get(k, "")
        ref = src.split(" ", 1)[0] if src else "the record"
        out.append(f"{k} {v} ({ref}, {mapped.dates[k]})" if k in mapped.dates else f"{k} {v} ({ref})")
    return out


def deceased_card(why: str) -> dict[str, Any]:
    """The one card for a patient the record says has died: no formulary decision is made."""
    return {"uuid": str(uuid.uuid4()), "indicator": "warning",
            "summary": "The record says this patient has died: no formulary check made",
            "detail": f"The record says this patient has died ({why}). No formulary decision is given for a "
                      "deceased patient; check the patient in context.",
            "source": {"label": "Formulary check", "topic": {"system": system("topic"), "code": "patient-deceased",
                                                             "display": "Patient recorded as deceased"}},
            "extension": {ext("status"): "not-checked", ext("reason"): "patient-deceased"}}


def _restriction(m: Match) -> str:
    """'met', 'unmet', 'unknown' or 'none' for this patient."""
    r = (m.patient or {}).get("restriction", "unknown" if m.entry.get("criteria_ids") else "none")
    return r if isinstance(r, str) else "none"


def _unmet(m: Match) -> list[str]:
    return [c.get("text") or c["id"] for c in (m.patient or {}).get("criteria", [])
            if c.get("status") == "unmet" and not c.get("parent")]


def _for_this_patient(m: Match, restriction: str, dated: list[str] | None) -> list[str]:
    """What the restriction says for this patient, and the dated facts from the record it read."""
    if restriction == "unmet":
        out = ["For this patient, not met: " + "; ".join(_unmet(m))]
    elif restriction == "unknown":
        missing = (m.patient or {}).get("missing") or []
        out = ["For this patient the restriction cannot be checked yet"
               + (f" (missing: {', '.join(missing)})" if missing else "") + "."]
    else:
        out = ["This patient meets the restriction criteria."]
    if dated:
        out.append("From the record: " + "; ".join(dated) + ".")
    return out


def _black_route(m: Match) -> str:
    """A not-commissioned decision's way on: IFR only where the decision keeps that route."""
    return "only via an individual funding request" if m.ifr_available else "use an alternative"


def _ifr_detail(m: Match, indicator: str) -> list[str]:
    if indicator == "critical" and m.ifr_available:
        return ["Route: individual funding request (IFR), for exceptional clinical circumstances only."]
    return []


def card_for(m: Match, order: Mapping[str, Any], indication: str | None, have_facts: bool,
             base_url: str, dated: list[str] | None = None) -> dict[str, Any] | None:
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
        detail += _for_this_patient(m, restriction, dated)
    if e.get("status_note"):
        detail.append(e["status_note"])
    if e.get("notes"):
        detail.append(e["notes"])
    if indication is None and e.get("indication"):
        detail.append("The order gives no indication this formulary entry could be matched to.")

    page = f"{base_url}/medicines/{e['id']}"
    when = f", {e['decision_date']}" if e.get("decision_date") else ""
    body = e.get("decision_body") or m.formulary.get("decision_body") or m.formulary.get("name")
    return clean({
        "uuid": str(uuid.uuid4()),
        "summary": summary if len(summary) < 140 else summary[:136] + "…",
        "indicator": indicator,
        "detail": "\n\n".join(detail),
        "source": {"label": f"{m.formulary.get('name', 'Formulary')} decision{when}"[:200],
                   "url": page,
                   "topic": {"system": system("formulary-entry"), "code": e["id"],
                             "display": f"{e['medicine']}{for_what}: {label}"}},
        "links": [{"label": f"Formulary entry: {name}", "url": page, "type": "absolute"}],
        "overrideReasons": [{"system": system("override-reason"), "code": OVERRIDES[k][0],
                             "display": OVERRIDES[k][1]}
                            for k in overrides],
        "extension": {ext("formulary-entry"): e["id"], ext("status"): sid, ext("restriction"): restriction,
                      ext("medication-request"): order.get("id"), ext("decision-body"): body},
    })


def unidentified_card(order: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The card for an order whose medicine the formulary cannot identify: it says so (not a green)."""
    what = ", ".join(order.get("names") or []) or "this order's medicine"
    why = order.get("unidentified") or f"no formulary entry matches {what}"
    return _not_a_green(f"Formulary status unknown: {what[:80]} not identified in the local formulary", "info",
                        f"The formulary check could not identify {what}: {why}. This is not a green: check the "
                        "medicine's status in the local formulary before prescribing.", base_url,
                        {ext("status"): "unknown", ext("medication-request"): order.get("id"),
                         ext("unidentified"): why})


def _not_a_green(summary: str, indicator: str, detail: str, base_url: str, extension: dict[str, Any]
                 ) -> dict[str, Any]:
    """A card that says the formulary cannot vouch for this order, with a link to search it."""
    return {
        "uuid": str(uuid.uuid4()), "summary": summary, "indicator": indicator, "detail": detail,
        "source": {"label": "Local formulary look-up", "url": f"{base_url}/medicines"},
        "links": [{"label": "Search the formulary", "url": f"{base_url}/medicines", "type": "absolute"}],
        "extension": clean(extension),
    }


def excluded_card(order: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """The card for an order whose indication the medicine's decisions explicitly exclude: no local
    decision covers it (neither the excluded decision's colour nor a green)."""
    ex = order["excluded"]
    m = ex["matches"][0]
    return _not_a_green(f"No formulary decision for {m.medicine} for {ex['indication'][:60]}"[:140], "warning",
                        f"The local decision for {m.medicine} is for {m.entry['indication']}, which excludes "
                        f"{ex['indication']}: no formulary decision covers this order. This is not a green: "
                        "check with the formulary team or the specialist before prescribing.", base_url,
                        {ext("status"): "no-decision", ext("medication-request"): order.get("id"),
                         ext("excluded-by"): m.id})
