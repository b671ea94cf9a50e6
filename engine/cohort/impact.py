"""Cohort impact of a policy change: who moves between outcomes from one version to another.

Runs on embedded DuckDB: both versions are compiled to SQL (engine.compile.to_sql) and
evaluated side by side over the checked cohort, in chunks so a long run can report progress.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.cohort.files import Cohort
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

CHUNK = 200_000


@dataclass
class Impact:
    policy: str
    old: ResolvedVersion
    new: ResolvedVersion
    cohort: str
    rows: int
    moves: Counter = field(default_factory=Counter)            # (old outcome, new outcome) -> rows
    flipped: list[tuple[str, str, str]] = field(default_factory=list)  # (id, old, new), in file order

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "from": {"version": self.old.label, "digest": self.old.digest},
            "to": {"version": self.new.label, "digest": self.new.digest},
            "cohort": self.cohort, "rows": self.rows,
            "changed": len(self.flipped),
            "transitions": [{"from_outcome": a, "to_outcome": b, "count": n}
                            for (a, b), n in sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0]))],
            "flipped": [{"id": i, "from_outcome": a, "to_outcome": b} for i, a, b in self.flipped],
        }


def impact(old: ResolvedVersion, new: ResolvedVersion, cohort: Cohort,
           progress: Callable[[int], None] | None = None, chunk: int = CHUNK) -> Impact:
    """Outcome transitions of every cohort row from `old` to `new`; `progress(rows_done)` per chunk."""
    from engine.compile.to_sql import lowered

    needed = list(dict.fromkeys(program(old).attributes() + program(new).attributes()))
    lo, ln = lowered(old), lowered(new)
    inner = (f"SELECT __row, id, {lo.code} AS __bo, {ln.code} AS __bn "
             f"FROM {cohort.source_sql(needed)} WHERE __row > ? AND __row <= ?")
    sql = (f"SELECT __row, id, {lo.outcome_of('__bo')} AS o, {ln.outcome_of('__bn')} AS n FROM ({inner})")
    counts_sql = f"SELECT o, n, count(*) FROM ({sql}) GROUP BY o, n"
    flipped_sql = f"SELECT id, o, n FROM ({sql}) WHERE o <> n ORDER BY __row"
    result = Impact(old.id, old, new, str(cohort.path), cohort.rows)
    done = 0
    while done < cohort.rows:
        hi = done + chunk
        for o, n, k in cohort.con.execute(counts_sql, [done, hi]).fetchall():
            result.moves[(o, n)] += k
        result.flipped += cohort.con.execute(flipped_sql, [done, hi]).fetchall()
        done = min(hi, cohort.rows)
        if progress:
            progress(done)
    return result
