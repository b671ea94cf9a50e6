"""Evaluate one policy version over a whole cohort with a columnar backend.

All three backends print the same compiled form (engine.compile.columns); the result is the
same whichever runs it: counts per outcome and per criterion status, and optionally one
row per patient (id, each criterion's status, outcome, route) written to a file as it is
computed, never held whole.

- duckdb: one streaming pass checks the values and counts (GROUP BY the outcome code);
  with an output file, a second pass writes the rows (COPY … TO, Parquet row groups).
- polars: after the checking pass, the checked rows stream from DuckDB in Arrow batches;
  polars evaluates each batch, the counts are summed and the rows appended to the file.
- spark: see engine.cohort.spark (the cluster reads a staged Parquet copy itself).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.cohort.files import Cohort, Progress, _q, copy_to
from engine.cohort.result import ENGINES, OUTCOMES, STATUSES, CohortResult, criterion_ids  # noqa: F401
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

BATCH = 1 << 20     # rows per Arrow batch handed to polars
STATUS_ENUM = "ENUM(" + ", ".join(f"'{s}'" for s in STATUSES) + ")"


def evaluate_cohort(rv: ResolvedVersion, cohort: Cohort, engine: str = "duckdb", out: Path | None = None,
                    progress: Progress | None = None, spark: Any = None) -> CohortResult:
    """Counts of `rv` over `cohort` on `engine`; with `out`, one row per patient written there."""
    if engine == "duckdb":
        return _duckdb(rv, cohort, out, progress)
    if engine == "polars":
        return _polars(rv, cohort, out, progress)
    if engine == "spark":
        from engine.cohort.spark import evaluate_spark

        return evaluate_spark(rv, cohort, out, progress, spark)
    raise ValueError(f"unknown engine {engine!r}")


def status_sql(cid: str) -> str:
    c = _q(cid)   # an ENUM: written as a dictionary of three strings, cheaper than text per row
    return f"CAST(CASE WHEN {c} THEN 'met' WHEN NOT {c} THEN 'unmet' ELSE 'unknown' END AS {STATUS_ENUM}) AS {c}"


def _duckdb(rv: ResolvedVersion, cohort: Cohort, out: Path | None, progress: Progress | None) -> CohortResult:
    from engine.compile.to_sql import lowered, select_sql

    low = lowered(rv)
    ids = [cid for cid, _ in low.criteria]
    crit = [f"{e} AS {_q(cid)}" for cid, e in low.criteria]
    code = low.code_from(lambda cid: _q(cid))
    needed = program(rv).attributes()
    src = cohort.source_sql(needed)
    flags = [f"__bad__{n}" for n in cohort.checked(needed)]
    inner = f"SELECT {', '.join(['__row'] + crit + [_q(f) for f in flags])} FROM {src}"
    coded = f"SELECT *, {code} AS __code FROM ({inner})"
    aggs = ["__code", "count(*)"]
    for cid in ids:   # met, and known (met + unmet): two plain aggregates, not three filtered ones
        aggs += [f"sum(CAST({_q(cid)} AS INTEGER))", f"count({_q(cid)})"]
    aggs += cohort.check_aggregates(needed)
    groups = cohort.execute(f"SELECT {', '.join(aggs)} FROM ({coded}) GROUP BY __code", progress).fetchall()
    k = 2 + 2 * len(ids)
    cohort.raise_first_bad([min((g[k + j] for g in groups if g[k + j] is not None), default=None)
                            for j in range(len(flags))], needed)
    outcomes = _outcomes(low)
    result = CohortResult.empty(ids)
    for g in groups:
        n, per = g[1], [(g[2 + 2 * j] or 0, g[3 + 2 * j]) for j in range(len(ids))]
        result.add(outcomes[g[0]], n, [(met, known - met, n - known) for met, known in per])
    cohort.rows = result.rows
    if out is not None:
        rows = select_sql(rv, src, keep=("id",))
        cols = ", ".join(["id"] + [status_sql(c) for c in ids] + ["outcome", "route"])
        copy_to(cohort, f"SELECT {cols} FROM ({rows})", out, progress)
        result.output = str(out)
    return result


def _outcomes(low: Any) -> list[str]:
    rows = low.prog.branch_table()
    return [rows[b][0] for b in low.table]


def _polars(rv: ResolvedVersion, cohort: Cohort, out: Path | None, progress: Progress | None) -> CohortResult:
    import polars as pl

    from engine.compile.to_polars import evaluate_frame

    needed = program(rv).attributes()
    cohort.check(progress, needed)
    ids = criterion_ids(rv)
    cols = ", ".join(["id"] + [_q(a) for a in needed])
    # checked above, so the scan is settled: stream it (a DB-API result would copy every row)
    reader = cohort.con.sql(f"SELECT {cols} FROM {cohort.source_sql(needed)}").to_arrow_reader(BATCH)
    result = CohortResult.empty(ids)
    status = [pl.when(pl.col(c)).then(pl.lit("met")).when(~pl.col(c)).then(pl.lit("unmet"))
              .otherwise(pl.lit("unknown")).alias(c) for c in ids]
    sink = _Sink(out) if out is not None else None
    try:
        for batch in _batches(reader):
            frame = evaluate_frame(rv, pl.from_arrow(batch).lazy()).collect()   # type: ignore[union-attr]
            counts = frame.group_by("outcome").agg(
                pl.len().alias("__n"),
                *[e for c in ids for e in (pl.col(c).sum().alias(f"{c}:m"), (~pl.col(c)).sum().alias(f"{c}:u"),
                                           pl.col(c).is_null().sum().alias(f"{c}:k"))])
            for r in counts.iter_rows(named=True):
                result.add(str(r["outcome"]), r["__n"],
                           [(r[f"{c}:m"] or 0, r[f"{c}:u"] or 0, r[f"{c}:k"] or 0) for c in ids])
            if sink is not None:
                rows = frame.select(pl.col("id"), *status, pl.col("outcome").cast(pl.String),
                                    pl.col("route").cast(pl.String))
                sink.write(rows.to_arrow())
            if progress and cohort.rows:
                progress(result.rows / cohort.rows)
    finally:
        if sink is not None:
            sink.close()
    result.output = str(out) if out is not None else None
    return result


def _batches(reader: Any) -> Any:
    """The reader's batches, or one empty batch for an empty cohort (so the output has a header)."""
    import pyarrow as pa

    empty = True
    for b in reader:
        empty = False
        yield b
    if empty:
        yield pa.RecordBatch.from_pylist([], schema=reader.schema)


class _Sink:
    """Appends Arrow batches to a Parquet file (one row group each) or a CSV file."""

    def __init__(self, path: Path):
        self.path = path
        self.writer: Any = None  # a pyarrow ParquetWriter or CSVWriter, made from the first batch's schema

    def write(self, table: Any) -> None:
        if self.writer is None:
            if self.path.suffix.lower() in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            else:
                import pyarrow.csv as pcsv

                self.writer = pcsv.CSVWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
