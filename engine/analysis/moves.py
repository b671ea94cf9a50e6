"""How many patients of a cohort move between outcomes when a policy changes version: the result
that `engine.cohort.diff_counts` counts and the diff report shows (data only, no counting here)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CohortMoves:
    file: str
    rows: int
    moves: Counter = field(default_factory=Counter)   # (from, to) -> patients
    moved_ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if a != b)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "changed": self.changed,
                "moves": [{"from_outcome": a, "to_outcome": b, "count": n,
                           **({"ids": self.moved_ids.get((a, b), [])[:100]} if a != b else {})}
                          for (a, b), n in sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0]))]}
