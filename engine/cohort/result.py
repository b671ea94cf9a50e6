"""What evaluating a cohort gives, whatever engine ran it: counts per outcome and per
criterion status, summed batch by batch or group by group."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.language.resolve import ResolvedVersion

ENGINES = ("duckdb", "polars", "spark")
OUTCOMES = ("eligible", "not_eligible", "insufficient_information", "out_of_scope")
STATUSES = ("met", "unmet", "unknown")


@dataclass
class CohortResult:
    rows: int
    outcomes: dict[str, int]
    criteria: dict[str, dict[str, int]]
    criterion_ids: list[str] = field(default_factory=list)
    output: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "outcomes": self.outcomes, "criteria": self.criteria}

    @classmethod
    def empty(cls, ids: list[str]) -> CohortResult:
        return cls(0, {o: 0 for o in OUTCOMES}, {c: {s: 0 for s in STATUSES} for c in ids}, ids)

    def add(self, outcome: str, n: int, statuses: list[tuple[int, int, int]]) -> None:
        """Count `n` rows with `outcome` and, per criterion, (met, unmet, unknown) among them."""
        self.rows += n
        self.outcomes[outcome] += n
        for cid, got in zip(self.criterion_ids, statuses):
            for s, k in zip(STATUSES, got):
                self.criteria[cid][s] += k


def criterion_ids(rv: ResolvedVersion) -> list[str]:
    from engine.compile.to_sql import lowered

    return [cid for cid, _ in lowered(rv).criteria]
