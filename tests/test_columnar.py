"""Cohort files and the columnar backends (DuckDB SQL, polars): every criterion status,
outcome and route agree with the reference engine row by row, for every shipped version."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from cohort_strategies import patients, thresholds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cohort.files import read_cohort
from engine.cohort.run import criterion_ids, evaluate_cohort
from engine.compile.ir import program
from engine.errors import InputError
from engine.language.decide import decide
from engine.language.suite import Suite

SUITE = Suite()
VERSIONS = SUITE.all_versions()
KINDS = Suite(Path(__file__).parent / "fixtures" / "all_kinds")   # every node kind (see test_compile_python)
CASES = [(SUITE, rv) for rv in VERSIONS] + [(KINDS, rv) for rv in KINDS.all_versions()]
CUTS = {id(s): thresholds(s.all_versions()) for s in (SUITE, KINDS)}
IDS = [f"{rv.id}@{rv.label}" for _, rv in CASES]


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, float) else str(v)

    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id"] + columns)
        for k, r in enumerate(rows):
            w.writerow([f"p{k}"] + [cell(r.get(c)) for c in columns])


def expected(rv, rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        d = decide(rv, r)
        out.append({"outcome": d.outcome, "route": d.route, **{c.id: c.status for c in d.criteria}})
    return out


def evaluated_rows(rv, cohort, engine, **kw):
    """The counts and the per-patient rows, as written to a Parquet file."""
    import tempfile

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as d:
        res = evaluate_cohort(rv, cohort, engine, out=Path(d) / "rows.parquet", **kw)
        return res, pq.read_table(Path(d) / "rows.parquet").to_pylist()


def check_engine(rv, cohort, rows, engine, **kw):
    res, got = evaluated_rows(rv, cohort, engine, **kw)
    want = expected(rv, rows)
    assert [g["id"] for g in got] == [f"p{k}" for k in range(len(rows))]
    for k, (g, w) in enumerate(zip(got, want)):
        assert {c: g[c] for c in w} == w, f"row {k}: {rows[k]}"
    counts = {o: sum(w["outcome"] == o for w in want) for o in res.outcomes}
    assert res.outcomes == counts
    for cid, by in res.criteria.items():
        assert by == {s: sum(w[cid] == s for w in want) for s in ("met", "unmet", "unknown")}


@pytest.mark.parametrize("suite, rv", CASES, ids=IDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_columnar_equals_reference(suite, rv, data, tmp_path):
    names = program(rv).attributes()
    rows = data.draw(st.lists(patients(suite.attributes, names, CUTS[id(suite)]), min_size=1, max_size=40))
    # leave some attributes out of the file altogether: a missing column is all unknown
    columns = [n for n in names if data.draw(st.booleans()) or n == names[0]]
    rows = [{k: v for k, v in r.items() if k in columns} for r in rows]
    path = tmp_path / "cohort.csv"
    write_csv(path, rows, columns)
    cohort = read_cohort(path, suite.attributes)
    for engine in ("duckdb", "polars"):
        check_engine(rv, cohort, rows, engine)


def test_criterion_columns_follow_the_decision():
    rv = SUITE.select("breast-implant-replacement", version="2020-03-05")
    assert criterion_ids(rv) == [c.id for c in decide(rv, {}).criteria]


def test_parquet_and_csv_read_the_same(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rv = SUITE.select("assisted-conception", version="2020-03-05")
    rows = [{"age": 34, "bmi": 24.5, "smoker": False}, {"age": 50}, {}]
    write_csv(tmp_path / "c.csv", rows, ["age", "bmi", "smoker"])
    pq.write_table(pa.table({"id": ["p0", "p1", "p2"], "age": [34, 50, None], "bmi": [24.5, None, None],
                             "smoker": [False, None, None]}), tmp_path / "c.parquet")
    a = evaluated_rows(rv, read_cohort(tmp_path / "c.csv", SUITE.attributes), "duckdb")
    b = evaluated_rows(rv, read_cohort(tmp_path / "c.parquet", SUITE.attributes), "duckdb")
    assert a[0].to_json() == b[0].to_json() and a[1] == b[1]
    check_engine(rv, read_cohort(tmp_path / "c.parquet", SUITE.attributes), rows, "duckdb")


def test_blanks_are_unknown_and_ids_default_to_row_numbers(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("age,smoker,bmi\n34,,\n,  ,\n")
    c = read_cohort(p, SUITE.attributes)
    got = c.con.execute("SELECT id, age, smoker, bmi FROM cohort ORDER BY __row").fetchall()
    assert got == [("1", 34, None, None), ("2", None, None, None)]


@pytest.mark.parametrize("text, message", [
    ("id,agee\n1,34\n", "column 'agee' is not an attribute.*did you mean 'age'"),
    ("age\nabc\n", ".csv:2: bad-value: row 1, column 'age': 'abc' is not an integer from 0 to 130"),
    ("age\n30\n34.5\n", ".csv:3: bad-value: row 2, column 'age': '34.5' is not an integer"),
    ("bmi\n95\n", "column 'bmi': '95' is not a number from 10 to 90"),
    ("smoker\nmaybe\n", "column 'smoker': 'maybe' is not true or false"),
    ("bmi\nnan\n", "column 'bmi': 'nan' is not a number"),
    ("infertility_years\n3\ninf\n", "row 2.*'inf' is not a number"),
    ("implant_original_funding\nnhs\ncharity\n", "row 2.*'charity' is not one of nhs, private"),
])
def test_bad_cohorts_are_refused(tmp_path, text, message):
    p = tmp_path / "c.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        read_cohort(p, SUITE.attributes)


def test_unreadable_files_are_bad_input(tmp_path):
    with pytest.raises(InputError, match="no cohort file"):
        read_cohort(tmp_path / "nope.csv", SUITE.attributes)
    (tmp_path / "c.xlsx").write_text("x")
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        read_cohort(tmp_path / "c.xlsx", SUITE.attributes)


@pytest.mark.parametrize("suite, rv", CASES, ids=IDS)
def test_route_follows_from_outcome_within_a_version(suite, rv):
    """What lets the columnar benchmark carry the route as a per-version mapping."""
    from engine.compile.to_sql import lowered

    by = lowered(rv).route_by_outcome()
    for facts in ({}, {a: None for a in program(rv).attributes()}):
        d = decide(rv, facts)
        assert by[d.outcome] == d.route
