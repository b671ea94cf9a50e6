"""`cpe cohort generate`, `cpe cohort evaluate` and `cpe impact`, end to end through the CLI,
checked against the reference engine row by row."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cohort.files import read_cohort
from engine.cohort.generate import generate, write
from engine.language.decide import decide
from engine.language.patient import validate_patient
from engine.language.suite import Suite

SUITE = Suite()
_NEXT_TO_PYTHON = Path(sys.executable).with_name("cpe")
CPE = [str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else (shutil.which("cpe") or "cpe")]


def cpe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CPE + list(args), capture_output=True, text=True, timeout=300)


def rows_of(path: Path) -> list[tuple[str, dict]]:
    """(id, checked facts) for every CSV row, read without the columnar code under test."""
    out = []
    attrs = SUITE.attributes
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            facts = {}
            for k, v in r.items():
                if k == "id" or v == "":
                    continue
                t = attrs[k].type
                facts[k] = (v == "true") if t == "boolean" else int(v) if t == "integer" else \
                    float(v) if t == "number" else v
            out.append((r["id"], validate_patient(facts, attrs)))
    return out


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "synthetic.csv"
    r = cpe("cohort", "generate", "--n", "400", "--seed", "7", "-o", str(path))
    assert r.returncode == 0, r.stderr
    assert "synthetic" in r.stdout
    return path


def test_generate_is_deterministic_and_fits_the_dictionary(tmp_path):
    a, b, c = (generate(SUITE.attributes, 300, s) for s in (1, 1, 2))
    assert a.equals(b) and not a.equals(c)
    assert a.column_names == ["id"] + SUITE.attributes.names()
    for suffix in (".csv", ".parquet"):
        write(a, tmp_path / f"g{suffix}")
        assert read_cohort(tmp_path / f"g{suffix}", SUITE.attributes).rows == 300  # every value fits
    d = a.to_pydict()
    for k in range(300):   # partner facts only for couples
        if d["has_partner"][k] is not True:
            assert d["partner_smoker"][k] is None and d["partner_living_children"][k] is None


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(0, 50))
def test_generated_cohorts_always_validate(seed, n):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        write(generate(SUITE.attributes, n, seed), Path(d) / "g.csv")
        assert read_cohort(Path(d) / "g.csv", SUITE.attributes).rows == n


def test_cohort_evaluate_counts_and_rows_match_the_reference(cohort_csv, tmp_path):
    rv = SUITE.select("breast-implant-replacement", version="2020-03-05")
    out = tmp_path / "rows.csv"
    r = cpe("cohort", "evaluate", rv.id, "--cohort", str(cohort_csv), "--version", rv.label,
            "-o", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["policy"]["digest"] == rv.digest and doc["rows"] == 400
    decisions = [(i, decide(rv, facts)) for i, facts in rows_of(cohort_csv)]
    for o, n in doc["outcomes"].items():
        assert n == sum(d.outcome == o for _, d in decisions)
    with out.open(newline="") as f:
        got = list(csv.DictReader(f))
    assert [g["id"] for g in got] == [i for i, _ in decisions]
    for g, (_, d) in zip(got, decisions):
        assert (g["outcome"], g["route"]) == (d.outcome, d.route)
        assert {c.id: c.status for c in d.criteria} == {k: v for k, v in g.items()
                                                         if k not in ("id", "outcome", "route")}
    p = cpe("cohort", "evaluate", rv.id, "--cohort", str(cohort_csv), "--version", rv.label,
            "--engine", "polars", "--format", "json")
    assert {k: v for k, v in json.loads(p.stdout).items() if k not in ("engine", "output")} == \
        {k: v for k, v in doc.items() if k not in ("engine", "output")}


@pytest.mark.parametrize("policy, old, new", [("breast-implant-replacement", "2018-07-01", "2020-03-05"),
                                              ("assisted-conception", "2018-11-01", "2020-03-05")])
def test_impact_matches_the_reference(cohort_csv, policy, old, new, tmp_path):
    out = tmp_path / "changed.parquet"
    r = cpe("impact", policy, "--from", old, "--to", new, "--cohort", str(cohort_csv), "--format", "json",
            "--sample", "1000", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""       # no progress bar when stderr is not a terminal
    doc = json.loads(r.stdout)
    a, b = SUITE.select(policy, version=old), SUITE.select(policy, version=new)
    moves: dict = {}
    flipped = []
    for i, facts in rows_of(cohort_csv):
        o, n = decide(a, facts).outcome, decide(b, facts).outcome
        moves[(o, n)] = moves.get((o, n), 0) + 1
        if o != n:
            flipped.append({"id": i, "from_outcome": o, "to_outcome": n})
    assert {(t["from_outcome"], t["to_outcome"]): t["count"] for t in doc["transitions"]} == moves
    assert doc["flipped"] == flipped and doc["changed"] == len(flipped)
    import pyarrow.parquet as pq

    assert pq.read_table(out).to_pylist() == flipped     # every changed patient, in file order
    assert doc["from"]["digest"] == a.digest and doc["to"]["digest"] == b.digest
    text = cpe("impact", policy, "--from", old, "--to", new, "--cohort", str(cohort_csv))
    assert text.returncode == 0 and f"{len(flipped)} change outcome" in text.stdout


def expected_flips(path: Path, a, b) -> list[tuple[str, str, str]]:
    out = []
    for i, facts in rows_of(path):
        o, n = decide(a, facts).outcome, decide(b, facts).outcome
        if o != n:
            out.append((i, o, n))
    return out


@pytest.mark.parametrize("sample", [0, 1, 3])
def test_impact_keeps_the_first_examples_of_each_transition(cohort_csv, sample):
    from engine.cohort.impact import impact

    a = SUITE.select("breast-implant-replacement", version="2018-07-01")
    b = SUITE.select("breast-implant-replacement", version="2020-03-05")
    seen = []
    got = impact(a, b, read_cohort(cohort_csv, SUITE.attributes), progress=seen.append, sample=sample)
    every = expected_flips(cohort_csv, a, b)
    want, per = [], {}
    for i, o, n in every:                      # the first `sample` of each transition, in file order
        per[(o, n)] = per.get((o, n), 0) + 1
        if per[(o, n)] <= sample:
            want.append((i, o, n))
    assert got.flipped == want and got.changed == len(every)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_impact_over_parquet_equals_csv(cohort_csv, tmp_path):
    import duckdb

    pq_path = tmp_path / "c.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{cohort_csv}', all_varchar=true)) TO '{pq_path}' (FORMAT parquet)")
    args = ["impact", "assisted-conception", "--from", "2018-11-01", "--to", "2020-03-05", "--format", "json",
            "--memory", "200MB", "--threads", "1"]
    a, b = cpe(*args, "--cohort", str(cohort_csv)), cpe(*args, "--cohort", str(pq_path))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    drop = lambda d: {k: v for k, v in d.items() if k != "cohort"}  # noqa: E731
    assert drop(json.loads(a.stdout)) == drop(json.loads(b.stdout))


def test_bad_memory_setting_is_bad_input(cohort_csv):
    r = cpe("impact", "assisted-conception", "--from", "2018-11-01", "--to", "2020-03-05",
            "--cohort", str(cohort_csv), "--memory", "lots")
    assert r.returncode == 2 and "--memory 'lots'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_bad_value_deep_in_a_file_names_its_row(tmp_path):
    """DuckDB guesses a typed column from the first rows; a later bad value is still named."""
    p = tmp_path / "c.csv"
    p.write_text("id,age\n" + "".join(f"p{k},30\n" for k in range(30000)) + "p30000,3x\n")
    r = cpe("impact", "assisted-conception", "--from", "2018-11-01", "--to", "2020-03-05", "--cohort", str(p))
    assert r.returncode == 2, r.stderr
    assert "c.csv:30002: bad-value: row 30001, column 'age': '3x' is not an integer" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["impact", "assisted-conception", "--from", "2018-11-01", "--to", "2030-01-01"], "no version '2030-01-01'"),
    (["impact", "nope", "--from", "2018-11-01", "--to", "2020-03-05"], "no policy 'nope'"),
    (["cohort", "evaluate", "assisted-conception", "--on", "2019-01-01", "--version", "2020-03-05"], "not both"),
])
def test_bad_options_exit_2_with_one_line(cohort_csv, args, message):
    r = cpe(*args, "--cohort", str(cohort_csv))
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_cohort_column_exits_2_naming_it(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,bmii\n1,30\n")
    r = cpe("impact", "assisted-conception", "--from", "2018-11-01", "--to", "2020-03-05", "--cohort", str(p))
    assert r.returncode == 2 and "'bmii'" in r.stderr and "did you mean 'bmi'" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cpe("cohort", "evaluate", "assisted-conception", "--cohort", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "no cohort file" in r.stderr


@pytest.mark.parametrize("engine", ["duckdb", "polars"])
def test_a_command_checks_the_columns_it_reads(tmp_path, engine):
    """A bad value in a column the policy never reads cannot change its answer, so it does not
    stop the run; the same value in a column the policy reads is refused with its row."""
    p = tmp_path / "c.csv"
    p.write_text("id,age,baker_grade\np1,30,9x\np2,40,2\n")   # baker_grade: read by breast implants only
    ok = cpe("cohort", "evaluate", "assisted-conception", "--engine", engine, "--cohort", str(p), "-f", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows"] == 2
    bad = cpe("cohort", "evaluate", "breast-implant-replacement", "--engine", engine, "--cohort", str(p))
    assert bad.returncode == 2 and "row 1, column 'baker_grade': '9x'" in bad.stderr
    imp = cpe("impact", "breast-implant-replacement", "--from", "2018-07-01", "--to", "2020-03-05", "--cohort", str(p))
    assert imp.returncode == 2 and "row 1, column 'baker_grade'" in imp.stderr
    imp = cpe("impact", "assisted-conception", "--from", "2018-11-01", "--to", "2020-03-05", "--cohort", str(p))
    assert imp.returncode == 0, imp.stderr
