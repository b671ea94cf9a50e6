"""Draft orders in a CDS Hooks context: which medicine, and for what, each MedicationRequest asks for."""
from __future__ import annotations

from typing import Any, Mapping


def draft_medications(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """(id, medicine text, indication texts) of each MedicationRequest in context.draftOrders."""
    from engine.fhir.facts import resources_in

    out = []
    for r in resources_in(context.get("draftOrders")):
        if r.get("resourceType") != "MedicationRequest":
            continue
        names = concept_texts(r.get("medicationCodeableConcept"))
        ref = r.get("medicationReference")
        if not names and isinstance(ref, Mapping) and isinstance(ref.get("display"), str):
            names = [ref["display"]]
        reasons = [t for cc in (r.get("reasonCode") or []) if isinstance(r.get("reasonCode"), list)
                   for t in concept_texts(cc)]
        if names:
            out.append({"id": r.get("id"), "names": names, "indications": reasons})
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
