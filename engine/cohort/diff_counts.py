"""How many patients of a cohort file move between outcomes when a policy changes version,
shaped for the diff report. The counting is `cpe impact`'s (engine.cohort.impact on DuckDB, which checks the
cohort in the same pass), so the report and `cpe impact` can never disagree.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine.analysis.moves import CohortMoves
from engine.language.model.attributes import AttributeDictionary
from engine.language.resolve import ResolvedVersion
from engine.language.source import display_path


def cohort_moves(path: Path, rv_a: ResolvedVersion, rv_b: ResolvedVersion,
                 attrs: AttributeDictionary) -> CohortMoves:
    from engine.cohort.files import open_cohort
    from engine.cohort.impact import impact

    result = impact(rv_a, rv_b, open_cohort(Path(path), attrs), sample=100)   # checks as it counts
    moves = CohortMoves(display_path(Path(path)), result.rows, Counter(result.moves))
    for rid, a, b in result.flipped:
        moves.moved_ids.setdefault((a, b), []).append(rid)
    return moves
