"""Cohort impact of a policy change: who moves between outcomes from one version to another.

Runs on embedded DuckDB over the file itself: both versions are compiled to SQL
(engine.compile.to_sql) and one streaming pass checks every value, evaluates both versions and
counts the rows per (old code, new code) pair with GROUP BY, keeping the first `sample` row
ids of each changing pair (a bounded top-N per group). Memory is DuckDB's limit, whatever
the cohort's size. Every changed patient can be written to a file (`out`) in a second pass.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.cohort.files import Cohort, Progress, copy_to
from engine.compile.columns import Lowered
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

SAMPLE = 100   # example ids kept per transition, the first in file order


@dataclass
class Impact:
    policy: str
    old: ResolvedVersion
    new: ResolvedVersion
    cohort: str
    rows: int
    moves: Counter = field(default_factory=Counter)            # (old outcome, new outcome) -> rows
    flipped: list[tuple[str, str, str]] = field(default_factory=list)  # (id, old, new): the samples, in file order
    sample: int = SAMPLE
    output: str | None = None

    @property
    def changed(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if a != b)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "from": {"version": self.old.label, "digest": self.old.digest},
            "to": {"version": self.new.label, "digest": self.new.digest},
            "cohort": self.cohort, "rows": self.rows,
            "changed": self.changed,
            "transitions": [{"from_outcome": a, "to_outcome": b, "count": n}
                            for (a, b), n in sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0]))],
            "sample": self.sample,
            "flipped": [{"id": i, "from_outcome": a, "to_outcome": b} for i, a, b in self.flipped],
            "output": self.output,
        }


def outcomes_by_code(low: Lowered) -> list[str]:
    """The outcome of each of the nine codes (engine.compile.columns)."""
    rows = low.prog.branch_table()
    return [rows[b][0] for b in low.table]


def impact(old: ResolvedVersion, new: ResolvedVersion, cohort: Cohort, progress: Progress | None = None,
           sample: int = SAMPLE, out: Path | None = None) -> Impact:
    """Outcome transitions of every cohort row from `old` to `new` (InputError on a bad value)."""
    from engine.compile.to_sql import lowered

    needed = list(dict.fromkeys(program(old).attributes() + program(new).attributes()))
    lo, ln = lowered(old), lowered(new)
    oo, on = outcomes_by_code(lo), outcomes_by_code(ln)
    changing = [9 * a + b for a in range(9) for b in range(9) if oo[a] != on[b]]
    coded = f"SELECT *, {lo.code} AS __a, {ln.code} AS __b FROM {cohort.source_sql(needed)}"
    aggs = ["__a", "__b", "count(*)"]
    if sample > 0 and changing:
        aggs.append(f"min_by(__row, __row, {int(sample)}) "
                    f"FILTER (WHERE 9 * __a + __b IN ({', '.join(map(str, changing))}))")
    else:
        aggs.append("NULL")
    aggs += cohort.check_aggregates(needed)
    groups = cohort.execute(f"SELECT {', '.join(aggs)} FROM ({coded}) GROUP BY __a, __b", progress).fetchall()
    checks = [min((g[4 + k] for g in groups if g[4 + k] is not None), default=None)
              for k in range(len(cohort.checked(needed)))]
    cohort.raise_first_bad(checks, needed)
    cohort.rows = sum(g[2] for g in groups)
    result = Impact(old.id, old, new, str(cohort.path), cohort.rows, sample=sample)
    examples: dict[tuple[str, str], list[int]] = {}
    for a, b, n, picked, *_ in groups:
        result.moves[(oo[a], on[b])] += n
        if picked:
            examples.setdefault((oo[a], on[b]), []).extend(picked)
    # several code pairs can make one transition: its first `sample` rows over all of them
    firsts = sorted((r, a, b) for (a, b), rows in examples.items() for r in sorted(rows)[:sample])
    ids = cohort.ids_of([r for r, _, _ in firsts])
    result.flipped = [(ids[r], a, b) for r, a, b in firsts]
    if out is not None:
        lookup = lambda low, code: low.alg.lookup(code, outcomes_by_code(low), "str")  # noqa: E731
        moved = (f"SELECT id, {lookup(lo, '__a')} AS from_outcome, {lookup(ln, '__b')} AS to_outcome "
                 f"FROM ({coded}) WHERE 9 * __a + __b IN ({', '.join(map(str, changing)) or 'NULL'})")
        copy_to(cohort, moved, out, progress)
        result.output = str(out)
    return result
