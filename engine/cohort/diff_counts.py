"""How many patients of a cohort file move between outcomes when a policy changes version,
shaped for the diff report. The counting is `cpe impact`'s (engine.cohort.impact on DuckDB, which checks the
cohort in the same pass), so the report and `cpe impact` can never disagree.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.language.model.attributes import AttributeDictionary
from engine.language.resolve import ResolvedVersion
from engine.language.source import display_path


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


def cohort_moves(path: Path, rv_a: ResolvedVersion, rv_b: ResolvedVersion,
                 attrs: AttributeDictionary) -> CohortMoves:
    from engine.cohort.files import open_cohort
    from engine.cohort.impact import impact

    result = impact(rv_a, rv_b, open_cohort(Path(path), attrs), sample=100)   # checks as it counts
    moves = CohortMoves(display_path(Path(path)), result.rows, Counter(result.moves))
    for rid, a, b in result.flipped:
        moves.moved_ids.setdefault((a, b), []).append(rid)
    return moves
