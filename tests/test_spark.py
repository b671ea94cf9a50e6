"""The PySpark backend in local mode agrees with the reference engine row by row.

One Spark session for the module (local[1], no UI, loopback), tiny cohorts."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from cohort_strategies import thresholds
from test_columnar import check_engine, write_csv

from engine.cohort.files import read_cohort
from engine.compile.ir import program
from engine.language.suite import Suite

if shutil.which("java") is None:  # a missing JVM is a broken setup, not a reason to skip
    pytest.fail("the Spark tests need Java 17: run scripts/system-deps", pytrace=False)

SUITE = Suite()
KINDS = Suite(Path(__file__).parent / "fixtures" / "all_kinds")   # every node kind (see test_compile_python)


@pytest.fixture(scope="module")
def spark():
    from engine.cohort.spark import spark_session

    s = spark_session("local[1]")
    yield s
    s.stop()


def random_rows(suite, rv, n: int, seed: int) -> list[dict]:
    """Rows with every value near a threshold or unknown (seeded, so failures reproduce)."""
    rnd = random.Random(seed)
    attrs = suite.attributes
    cuts_of = thresholds(suite.all_versions())
    rows = []
    for _ in range(n):
        row = {}
        for name in program(rv).attributes():
            a = attrs[name]
            if rnd.random() < 0.25:
                continue
            cuts = sorted(c for c in cuts_of.get(name, ()) if isinstance(c, (int, float)) and not isinstance(c, bool))
            if a.type == "boolean":
                row[name] = rnd.random() < 0.5
            elif a.type == "enum":
                row[name] = rnd.choice(a.values)
            elif a.type == "integer":
                base = rnd.choice(cuts) if cuts else a.min or 0
                row[name] = int(min(max(base + rnd.choice((-1, 0, 1)), a.min), a.max))
            else:
                base = rnd.choice(cuts) if cuts else a.min or 0
                row[name] = min(max(base + rnd.choice((-0.5, -0.01, 0, 0.01, 0.5)), a.min), a.max)
        rows.append(row)
    return rows


@pytest.mark.parametrize("suite", [SUITE, KINDS], ids=["shipped", "all-kinds"])
def test_spark_equals_reference_for_every_version(spark, tmp_path, suite):
    """All versions of a suite over one shared cohort in a single Spark job (one column set per version)."""
    from engine.cohort.run import criterion_ids
    from engine.compile.to_spark import evaluate_frame
    from engine.language.decide import decide

    versions = suite.all_versions()
    names = sorted({a for rv in versions for a in program(rv).attributes()})
    rows = []
    for k, rv in enumerate(versions):
        rows += random_rows(suite, rv, 25, seed=k)
    write_csv(tmp_path / "c.csv", rows, names)
    cohort = read_cohort(tmp_path / "c.csv", suite.attributes)
    df = spark.createDataFrame(cohort.arrow(names))
    keep = ["__row"]
    for k, rv in enumerate(versions):
        df = evaluate_frame(rv, df, prefix=f"{k}:")
        keep += [f"{k}:{c}" for c in criterion_ids(rv) + ["outcome", "route"]]
    got = df.select(*[f"`{c}`" for c in keep]).toArrow().to_pylist()
    got.sort(key=lambda r: r["__row"])
    status = {True: "met", False: "unmet", None: "unknown"}
    for k, rv in enumerate(versions):
        for row, g in zip(rows, got):
            d = decide(rv, row)
            want = {"outcome": d.outcome, "route": d.route, **{c.id: c.status for c in d.criteria}}
            have = {c: (g[f"{k}:{c}"] if c in ("outcome", "route") else status[g[f"{k}:{c}"]]) for c in want}
            assert have == want, f"{rv.id} {rv.label}: {row}"


def test_spark_with_a_column_missing_from_the_file(spark, tmp_path):
    rv = SUITE.select("assisted-conception", version="2020-03-05")
    rows = [{"age": 30, "bmi": 25.0}, {"age": 45}, {}]
    write_csv(tmp_path / "c.csv", rows, ["age", "bmi"])
    check_engine(rv, read_cohort(tmp_path / "c.csv", SUITE.attributes), rows, "spark", spark=spark)
