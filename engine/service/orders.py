"""Draft orders in a CDS Hooks context: which medicine, and for what, each MedicationRequest asks for.

The medicine comes from `medicationCodeableConcept` (dm+d/SNOMED codes the formulary's
terminology knows, then the text and coding displays) or from `medicationReference` to a
Medication that is contained in the request, an entry of the draftOrders Bundle, or a prefetched
resource (matched by `Medication/id`, `#id` or a Bundle entry's fullUrl). The indication comes
from `reasonCode` (a list, or a single CodeableConcept as some systems send) and from
`reasonReference` to a Condition found the same way. Codes become the concept's preferred name,
so everything is then looked up by the one resolver (engine.formulary.resolver). An order whose
medicine cannot be identified is kept, with the reason, so the card can say so: never a silent
green.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CODE_SYSTEMS = ("snomed", "dmd", "nhs.uk")   # dm+d ids are SNOMED CT ids; UK systems send either URI


def _resources(obj: Any) -> list[Mapping[str, Any]]:
    from engine.fhir.facts import resources_in

    return list(resources_in(obj))


def _referenced(ref: Any, pool: dict[str, Mapping[str, Any]], contained: dict[str, Mapping[str, Any]]
                ) -> Mapping[str, Any] | None:
    if not isinstance(ref, Mapping) or not isinstance(ref.get("reference"), str):
        return None
    r = ref["reference"]
    if r.startswith("#"):
        return contained.get(r[1:])
    parts = r.rstrip("/").split("/")
    return pool.get(r) or pool.get("/".join(parts[-2:]))


def _pool(*objs: Any) -> dict[str, Mapping[str, Any]]:
    """Resources by `Type/id` and by Bundle fullUrl."""
    out: dict[str, Mapping[str, Any]] = {}
    for obj in objs:
        for bundle in (obj if isinstance(obj, list) else [obj]):
            if isinstance(bundle, Mapping) and bundle.get("resourceType") == "Bundle":
                entries = bundle.get("entry")
                for e in entries if isinstance(entries, list) else []:
                    if isinstance(e, Mapping) and isinstance(e.get("fullUrl"), str) \
                            and isinstance(e.get("resource"), Mapping):
                        out[e["fullUrl"]] = e["resource"]
        for r in _resources(obj):
            if isinstance(r.get("id"), str):
                out[f"{r.get('resourceType')}/{r['id']}"] = r
    return out


def _codes(cc: Any) -> list[str]:
    if not isinstance(cc, Mapping) or not isinstance(cc.get("coding"), list):
        return []
    return [str(c["code"]) for c in cc["coding"] if isinstance(c, Mapping) and c.get("code") is not None
            and any(s in str(c.get("system", "")).casefold() for s in CODE_SYSTEMS)]


def _named(cc: Any, kind: str) -> tuple[list[str], list[dict[str, str]]]:
    """(names for the resolver, how each code was read). A medicine's own text comes first (it names
    the product: 'Colonis 1mg/ml oral solution'), the substance of a known code after it; for an
    indication the code's concept comes first (more exact than the text)."""
    from engine.service.medicines import index

    idx = index()
    coded: list[str] = []
    how: list[dict[str, str]] = []
    for code in _codes(cc):
        hit = idx.by_code(code)
        if hit and hit[0] == kind and hit[1] not in coded:
            coded.append(hit[1])
            how.append({"code": code, "concept": hit[1]})
    texts = concept_texts(cc)
    first, then = (texts, coded) if kind == "medicine" else (coded, texts)
    return list(dict.fromkeys([*first, *then])), how


def _medication(r: Mapping[str, Any], pool: dict[str, Mapping[str, Any]],
                contained: dict[str, Mapping[str, Any]]) -> tuple[list[str], list[dict[str, str]], str | None]:
    """(medicine names, how identified, why not) for one MedicationRequest."""
    names, how = _named(r.get("medicationCodeableConcept"), "medicine")
    ref = r.get("medicationReference")
    if isinstance(ref, Mapping):
        med = _referenced(ref, pool, contained)
        if med is not None and med.get("resourceType") == "Medication":
            more, more_how = _named(med.get("code"), "medicine")
            names += [n for n in more if n not in names]
            how += [{**h, "via": "medicationReference"} for h in more_how]
        if isinstance(ref.get("display"), str) and ref["display"].strip() and ref["display"] not in names:
            names.append(ref["display"])
        if not names:
            return [], how, (f"medicationReference {ref.get('reference')!r} is not a Medication in the request, "
                             "its Bundle or the prefetch, and gives no display text")
    if not names:
        return [], how, "the order carries no medication code or text the formulary knows"
    return names, how, None


def _reasons(r: Mapping[str, Any], pool: dict[str, Mapping[str, Any]],
             contained: dict[str, Mapping[str, Any]]) -> list[str]:
    rc = r.get("reasonCode")
    out: list[str] = []
    for cc in (rc if isinstance(rc, list) else [rc] if isinstance(rc, Mapping) else []):
        out += [t for t in _named(cc, "indication")[0] if t not in out]
    rr = r.get("reasonReference")
    for ref in (rr if isinstance(rr, list) else [rr] if isinstance(rr, Mapping) else []):
        cond = _referenced(ref, pool, contained)
        if cond is not None and cond.get("resourceType") == "Condition":
            out += [t for t in _named(cond.get("code"), "indication")[0] if t not in out]
        elif isinstance(ref, Mapping) and isinstance(ref.get("display"), str) and ref["display"] not in out:
            out.append(ref["display"])
    return out


def draft_medications(context: Mapping[str, Any], prefetch: Mapping[str, Any] | None = None
                      ) -> list[dict[str, Any]]:
    """(id, medicine names, indication texts, how identified) of each MedicationRequest in
    context.draftOrders; an order whose medicine is not identified has `names` [] and `unidentified`."""
    orders = context.get("draftOrders")
    pool = _pool(orders, list((prefetch or {}).values()))
    out = []
    for r in _resources(orders):
        if r.get("resourceType") != "MedicationRequest":
            continue
        contained = {c["id"]: c for c in r.get("contained") or [] if isinstance(c, Mapping)
                     and isinstance(c.get("id"), str)} if isinstance(r.get("contained"), list) else {}
        names, how, why = _medication(r, pool, contained)
        order: dict[str, Any] = {"id": r.get("id"), "names": names, "indications": _reasons(r, pool, contained),
                                 "identified_by": how}
        if why:
            order["unidentified"] = why
        out.append(order)
    return out


def concept_texts(cc: Any) -> list[str]:
    """A CodeableConcept's text, then its codings' displays, without repeats."""
    if not isinstance(cc, Mapping):
        return []
    texts: list[str] = []
    if isinstance(cc.get("text"), str):
        texts.append(cc["text"])
    for c in cc.get("coding") or [] if isinstance(cc.get("coding"), list) else []:
        if isinstance(c, Mapping) and isinstance(c.get("display"), str) and c["display"] not in texts:
            texts.append(c["display"])
    return [t for t in texts if t.strip()]
