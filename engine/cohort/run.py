"""Evaluate one policy version over a whole cohort with a columnar backend.

All three backends print the same compiled form (engine.compile.columns); the result is the
same whichever runs it: counts per outcome and per criterion status, and optionally one
row per patient (id, each criterion's status, outcome, route).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.cohort.files import Cohort, _q
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

ENGINES = ("duckdb", "polars", "spark")
OUTCOMES = ("eligible", "not_eligible", "insufficient_information", "out_of_scope")


@dataclass
class CohortResult:
    rows: int
    outcomes: dict[str, int]
    criteria: dict[str, dict[str, int]]
    table: Any = None   # pyarrow Table of per-row results, when asked for
    criterion_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "outcomes": self.outcomes, "criteria": self.criteria}


def criterion_ids(rv: ResolvedVersion) -> list[str]:
    from engine.compile.to_sql import lowered

    return [cid for cid, _ in lowered(rv).criteria]


def evaluate_cohort(rv: ResolvedVersion, cohort: Cohort, engine: str = "duckdb", rows: bool = False,
                    spark: Any = None) -> CohortResult:
    """Counts (and per-row results when `rows`) of `rv` over `cohort` on `engine`."""
    needed = program(rv).attributes()
    ids = criterion_ids(rv)
    if engine == "duckdb":
        table = _duckdb(rv, cohort, needed)
    elif engine == "polars":
        table = _polars(rv, cohort, needed)
    elif engine == "spark":
        table = _spark(rv, cohort, needed, spark)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    return _summarise(cohort, table, ids, rows)


def _summarise(cohort: Cohort, table: Any, ids: list[str], rows: bool) -> CohortResult:
    """Counts from the per-row results (an Arrow table with Boolean criterion columns)."""
    con = cohort.con
    con.register("__result", table)
    try:
        outcomes = {o: 0 for o in OUTCOMES}
        for o, n in con.execute("SELECT outcome, count(*) FROM __result GROUP BY outcome").fetchall():
            outcomes[o] = n
        criteria: dict[str, dict[str, int]] = {}
        if ids:
            sel = ", ".join(f"count(*) FILTER (WHERE {_q(c)}), count(*) FILTER (WHERE NOT {_q(c)}), "
                            f"count(*) FILTER (WHERE {_q(c)} IS NULL)" for c in ids)
            counts = con.execute(f"SELECT {sel} FROM __result").fetchall()[0]
            for k, c in enumerate(ids):
                criteria[c] = dict(zip(("met", "unmet", "unknown"), counts[3 * k:3 * k + 3]))
        out = None
        if rows:
            status = ", ".join(f"CASE WHEN {_q(c)} THEN 'met' WHEN NOT {_q(c)} THEN 'unmet' ELSE 'unknown' END "
                               f"AS {_q(c)}" for c in ids)
            out = con.sql(f"SELECT id, {status + ', ' if status else ''}outcome, route FROM __result "
                              "ORDER BY __row").to_arrow_table()
    finally:
        con.unregister("__result")
    return CohortResult(cohort.rows, outcomes, criteria, out, ids)


def _duckdb(rv: ResolvedVersion, cohort: Cohort, needed: list[str]) -> Any:
    from engine.compile.to_sql import select_sql

    sql = select_sql(rv, cohort.source_sql(needed), keep=("__row", "id"))
    return cohort.con.sql(sql).to_arrow_table()


def _polars(rv: ResolvedVersion, cohort: Cohort, needed: list[str]) -> Any:
    import polars as pl

    from engine.compile.to_polars import evaluate_frame

    frame = pl.from_arrow(cohort.arrow(needed))
    keep = ["__row", "id"] + criterion_ids(rv) + ["outcome", "route"]
    return evaluate_frame(rv, frame.lazy()).select(keep).collect().to_arrow()  # type: ignore[union-attr]


def _spark(rv: ResolvedVersion, cohort: Cohort, needed: list[str], spark: Any) -> Any:
    from engine.compile.to_spark import evaluate_frame

    own = spark is None
    if own:
        spark = local_spark()
    try:
        df = spark.createDataFrame(cohort.arrow(needed))
        keep = ["__row", "id"] + criterion_ids(rv) + ["outcome", "route"]
        return evaluate_frame(rv, df).select(*[f"`{k}`" for k in keep]).toArrow()
    finally:
        if own:
            spark.stop()


def local_spark(cores: int = 2) -> Any:
    """A quiet local Spark session (no UI, loopback only)."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{cores}]").appName("cpe")
             .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "2").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
