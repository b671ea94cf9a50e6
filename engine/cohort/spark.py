"""The PySpark backend: the same compiled plan (engine.compile.to_spark), run where the
cluster is (`spark.master`), on data the cluster reads itself.

The cohort is checked by DuckDB in one streaming pass (the same checks and messages as every
engine), then staged once as typed Parquet in row groups (`__row`, `id`, the attributes the
version reads). Spark reads that copy in parallel, evaluates it, and counts with aggregates;
nothing is collected to the driver but the counts. Per-patient rows are written by the
executors as Parquet parts, then merged in file order into the one output file by DuckDB
(an external sort, bounded by its memory limit).

On a cluster, the staging directory must be storage every executor can read: set
`CPE_SPARK_STAGING` (a shared path, e.g. a mounted volume), and `CPE_SPARK_MASTER` or
`--spark-master` (e.g. `spark://host:7077`, `yarn`, `k8s://…`).
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.cohort.files import Cohort, Progress, _q, _s, copy_to
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion
from engine.settings import setting

DEFAULT_MASTER = "local[2]"


def spark_session(master: str | None = None, cores: int | None = None) -> Any:
    """A quiet Spark session on `master` (else $CPE_SPARK_MASTER, else local mode): no UI."""
    from pyspark.sql import SparkSession

    master = master or setting("spark_master") or (f"local[{cores}]" if cores else DEFAULT_MASTER)
    builder = (SparkSession.builder.master(master).appName("cpe")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC"))
    if master.startswith("local"):   # loopback only, and few shuffle partitions for one machine
        builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def evaluate_spark(rv: ResolvedVersion, cohort: Cohort, out: Path | None, progress: Progress | None,
                   spark: Any = None, master: str | None = None) -> Any:
    """Counts (and rows to `out`) of `rv` over `cohort`, evaluated by Spark."""
    from pyspark.sql import functions as F

    from engine.cohort.result import CohortResult, criterion_ids
    from engine.compile.to_spark import evaluate_frame

    needed = program(rv).attributes()
    cohort.check(progress, needed)
    ids = criterion_ids(rv)
    own = spark is None
    stage = Path(tempfile.mkdtemp(prefix="cpe-spark-", dir=setting("spark_staging")))
    try:
        staged = stage / "cohort.parquet"
        cols = ", ".join(["__row", "id"] + [_q(a) for a in needed])
        copy_to(cohort, f"SELECT {cols} FROM {cohort.source_sql(needed)}", staged)
        if own:
            spark = spark_session(master)
        df = evaluate_frame(rv, spark.read.parquet(str(staged)))
        aggs = [F.count(F.lit(1)).alias("__n")]
        for k, c in enumerate(ids):
            col = F.col(f"`{c}`")
            aggs += [F.sum(F.when(col, 1).otherwise(0)).alias(f"m{k}"),
                     F.sum(F.when(~col, 1).otherwise(0)).alias(f"u{k}"),
                     F.sum(F.when(col.isNull(), 1).otherwise(0)).alias(f"k{k}")]
        result = CohortResult.empty(ids)
        for r in df.groupBy("outcome").agg(*aggs).collect():
            result.add(r["outcome"], r["__n"], [(r[f"m{k}"], r[f"u{k}"], r[f"k{k}"]) for k in range(len(ids))])
        if out is not None:
            status = [F.when(F.col(f"`{c}`"), "met").when(~F.col(f"`{c}`"), "unmet").otherwise("unknown").alias(c)
                      for c in ids]
            parts = stage / "rows"
            df.select("__row", "id", *status, "outcome", "route").write.parquet(str(parts))
            keep = ", ".join(["id"] + [_q(c) for c in ids] + ["outcome", "route"])
            glob = _s(str(parts / "*.parquet"))
            copy_to(cohort, f"SELECT {keep} FROM read_parquet({glob}) ORDER BY __row", out, progress)
            result.output = str(out)
        return result
    finally:
        if own and spark is not None:
            spark.stop()
        shutil.rmtree(stage, ignore_errors=True)
