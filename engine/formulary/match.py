"""One look-up answer: a formulary entry, the status it carries, and why it matched (`matched_on`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONTRACT_KEYS = ("medicine", "brands", "formulation", "indication", "status", "status_label", "meaning",
                 "prior_approval", "ifr_available", "notes")


@dataclass(frozen=True)
class Match:
    """One formulary entry that answers the query, with the status it carries and why it matched."""

    entry: dict[str, Any]
    status: dict[str, Any]
    formulary: dict[str, Any]
    score: float
    matched_on: dict[str, Any]
    indication_match: str | None = None
    patient: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return self.entry["id"]

    @property
    def medicine(self) -> str:
        return self.entry["medicine"]

    @property
    def status_id(self) -> str:
        return self.entry["status"]

    @property
    def commissioned(self) -> bool | None:
        return self.status.get("flags", {}).get("commissioned")

    @property
    def ifr_available(self) -> bool:
        """As stated by the decision; otherwise IFR is the route exactly when the status is not commissioned."""
        stated = self.entry.get("ifr_available")
        return stated if stated is not None else self.commissioned is False

    @property
    def ifr_basis(self) -> str:
        if (stated := self.entry.get("ifr_available")) is not None:
            return "stated in the decision" if stated else "the decision names no IFR route (see its notes)"
        return ("the status is not commissioned, so an individual funding request is the only route"
                if self.commissioned is False else "not stated; the status is commissioned, so IFR is not the route")

    def next_steps(self) -> list[str]:
        steps = [self.status["next_step"]]
        if self.entry.get("prior_approval"):
            steps.append("Prior approval is required before treatment starts.")
        if self.entry.get("criteria_ids"):
            steps.append("Check the patient against the restriction criteria.")
        if self.entry.get("ifr_available") and self.commissioned is not False:
            steps.append("An individual funding request remains possible for exceptional clinical circumstances.")
        return steps

    def to_json(self) -> dict[str, Any]:
        e, s = self.entry, self.status
        out: dict[str, Any] = {
            "medicine": e["medicine"], "brands": list(e["brands"]), "formulation": e["formulation"],
            "indication": e["indication"], "status": e["status"], "status_label": s["label"],
            "meaning": s["meaning"], "prior_approval": bool(e["prior_approval"]),
            "ifr_available": self.ifr_available, "notes": e.get("notes") or "",
            # extra keys (allowed by the contract)
            "id": e["id"], "formulary": self.formulary["id"], "synonyms": list(e["synonyms"]),
            "route": e["route"], "all_indications": e["all_indications"], "status_note": e["status_note"],
            "status_colour": s["colour"], "status_text_colour": s.get("text_colour", "#ffffff"),
            "status_flags": s.get("flags", {}),
            "restrictions": e["restrictions"], "line_of_therapy": e["line_of_therapy"],
            "criteria": list(e.get("criteria_ids") or []), "ifr_basis": self.ifr_basis,
            "commissioner": e["commissioner"], "nice_ta": e["nice_ta"], "decision_date": e["decision_date"],
            "decision_body": e["decision_body"], "reason": e["reason"],
            "review_date": e["review_date"], "monitoring": e["monitoring"], "source": e["source"],
            "next_steps": self.next_steps(), "matched_on": self.matched_on, "score": round(self.score, 3),
        }
        if self.indication_match is not None:
            out["indication_match"] = self.indication_match
        if self.patient is not None:
            out["patient"] = self.patient
        return out
