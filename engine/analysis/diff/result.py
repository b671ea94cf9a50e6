"""What a diff finds: the changes of outcome between two versions, each with its regions of
patients, a condition in words and an example patient."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Region:
    description: str
    example: dict[str, Any]


@dataclass
class OutcomeChange:
    from_outcome: str
    to_outcome: str
    description: str
    example: dict[str, Any]
    regions: list[Region] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"from_outcome": self.from_outcome, "to_outcome": self.to_outcome, "example": self.example,
                "description": self.description,
                "regions": [{"description": r.description, "example": r.example} for r in self.regions]}


@dataclass
class DiffResult:
    policy: str
    from_label: str
    to_label: str
    equivalent: bool
    method: str
    changes: list[OutcomeChange]
    attributes: list[str]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "from": self.from_label, "to": self.to_label,
                "equivalent": self.equivalent, "method": self.method,
                "changes": [c.to_json() for c in self.changes],
                "attributes": self.attributes, "notes": self.notes}
