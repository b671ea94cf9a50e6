"""`cpe cohort evaluate`, `cpe cohort generate`, `cpe impact`: many patients at once, columnar."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

import typer

from engine.cli.common import (
    Format,
    FormatOpt,
    PoliciesOpt,
    app,
    check_output,
    parse_on,
    print_json,
    print_lines,
    suite,
)

cohort_app = typer.Typer(no_args_is_help=True,
                         help="Cohorts (CSV or Parquet, one row per patient): evaluate a policy over them, "
                              "or write a synthetic one.")
app.add_typer(cohort_app, name="cohort")


class Engine(enum.StrEnum):
    duckdb = "duckdb"
    polars = "polars"
    spark = "spark"


CohortOpt = typer.Option(..., "--cohort", "-c", help="CSV or Parquet file: one row per patient, a column per "
                                                    "attribute, blanks unknown, optional id column")
MemoryOpt = typer.Option("1GB", "--memory", "-m", help="DuckDB's memory limit (e.g. 500MB, 4GB): what bounds "
                                                       "peak memory, whatever the cohort's size")
ThreadsOpt = typer.Option(None, "--threads", help="DuckDB worker threads (default: the CPU count)", min=1)


def _stamp(rv: Any) -> dict[str, Any]:
    return {"id": rv.id, "version": rv.label, "status": rv.version.status, "digest": rv.digest}


def _check_output(out: Optional[Path]) -> None:
    from engine.errors import InputError

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError.of("bad-option", f"{out}: the output must be a .csv or .parquet file")
    check_output(out)


@cohort_app.command("evaluate")
def cohort_evaluate_cmd(
    policy_id: str = typer.Argument(..., help="policy id, e.g. assisted-conception"),
    cohort: Path = CohortOpt,
    version: Optional[str] = typer.Option(None, "--version", "-v", help="a version label (drafts only this way)"),
    on: Optional[str] = typer.Option(None, "--on", help="referral date (YYYY-MM-DD): the version in force then"),
    engine: Engine = typer.Option(Engine.duckdb, "--engine", "-e", help="columnar engine that runs the rules"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="also write one row per patient "
                                                                   "(.csv or .parquet): id, each criterion, outcome, route"),
    memory: str = MemoryOpt,
    threads: Optional[int] = ThreadsOpt,
    spark_master: Optional[str] = typer.Option(None, "--spark-master", help="Spark's spark.master for --engine "
                                               "spark (default: $CPE_SPARK_MASTER, else local[2])"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Evaluate every patient of a cohort: counts per outcome and per criterion status."""
    from engine.cohort.files import open_cohort
    from engine.cohort.run import evaluate_cohort
    from engine.errors import InputError

    if version and on:
        raise InputError.of("bad-option", "give --version or --on, not both")
    _check_output(out)
    s = suite(policies)
    rv = s.select(policy_id, version=version, on=parse_on(on))
    data = open_cohort(cohort, s.attributes, memory, threads)
    if engine == Engine.spark:
        _need_spark()
        from engine.cohort.spark import evaluate_spark

        result = _with_progress("evaluate", lambda tick: evaluate_spark(rv, data, out, tick, master=spark_master))
    else:
        result = _with_progress("evaluate", lambda tick: evaluate_cohort(rv, data, engine.value, out, tick))
    doc = {"policy": _stamp(rv), "cohort": str(cohort), "engine": engine.value, **result.to_json(),
           "output": str(out) if out else None}
    if fmt == Format.json:
        print_json(doc)
        return
    lines: list[tuple[str, str]] = [("bold", f"{rv.id} {rv.label}: {result.rows} patients ({engine.value})")]
    for o, n in result.outcomes.items():
        lines.append(("", f"  {o:<26} {n:>9}  {_pct(n, result.rows)}"))
    w = max([len(c) for c in result.criteria] + [8])
    lines.append(("bold", f"  {'criterion':<{w}} {'met':>9} {'unmet':>9} {'unknown':>9}"))
    for cid, by in result.criteria.items():
        lines.append(("", f"  {cid:<{w}} {by['met']:>9} {by['unmet']:>9} {by['unknown']:>9}"))
    if out:
        lines.append(("dim", f"one row per patient written to {out}"))
    print_lines(lines)


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f} %" if total else ""


def _need_spark() -> None:
    import importlib.util
    import shutil

    from engine.errors import InputError

    if importlib.util.find_spec("pyspark") is None:
        raise InputError.of("bad-option", "--engine spark needs PySpark: pip install 'cpe[spark]'")
    if shutil.which("java") is None:
        raise InputError.of("bad-option", "--engine spark needs Java 17 on the PATH")


@cohort_app.command("generate")
def cohort_generate_cmd(
    n: int = typer.Option(1000, "--n", "-n", help="how many patients"),
    seed: int = typer.Option(0, "--seed", help="random seed: the same seed gives the same file"),
    out: Path = typer.Option(..., "--output", "-o", help="the file to write (.csv or .parquet)"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Write a SYNTHETIC cohort (documented distributions, docs/cohorts.md); not real patients."""
    from engine.cohort.generate import generate, write

    check_output(out)
    s = suite(policies)
    write(generate(s.attributes, n, seed), out)
    typer.echo(f"wrote {n} synthetic patients (seed {seed}) to {out}")


@app.command("impact")
def impact_cmd(
    policy_id: str = typer.Argument(..., help="policy id"),
    old: str = typer.Option(..., "--from", help="the version label before the change"),
    new: str = typer.Option(..., "--to", help="the version label after the change"),
    cohort: Path = CohortOpt,
    sample: int = typer.Option(100, "--sample", "-n", min=0, help="example ids kept per transition "
                                                                  "(the first in file order)"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="also write every patient whose outcome "
                                                                   "changes (.csv or .parquet): id, from, to"),
    memory: str = MemoryOpt,
    threads: Optional[int] = ThreadsOpt,
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Who moves between outcomes when a policy changes version: counts per (old → new), with examples."""
    from engine.cohort.files import open_cohort
    from engine.cohort.impact import impact

    _check_output(out)
    s = suite(policies)
    rv_old = s.select(policy_id, version=old)
    rv_new = s.select(policy_id, version=new)
    data = open_cohort(cohort, s.attributes, memory, threads)
    result = _with_progress("impact", lambda tick: impact(rv_old, rv_new, data, tick, sample, out))
    doc = result.to_json()
    if fmt == Format.json:
        print_json(doc)
        return
    lines: list[tuple[str, str]] = [
        ("bold", f"{policy_id}: {old} → {new} over {doc['rows']} patients of {cohort}"),
        ("", f"{doc['changed']} change outcome"),
    ]
    for t in doc["transitions"]:
        mark = "  " if t["from_outcome"] == t["to_outcome"] else "→ "
        lines.append(("" if mark == "  " else "bold",
                      f"  {mark}{t['from_outcome']:<26} → {t['to_outcome']:<26} {t['count']:>9}"))
    if doc["flipped"]:
        shown = doc["flipped"][:20]
        more = doc["changed"] - len(shown)
        lines.append(("", "changed, for example: " + ", ".join(f["id"] for f in shown)
                      + (f" … and {more} more" if more > 0 else "")))
    if out:
        lines.append(("dim", f"every changed patient written to {out}"))
    print_lines(lines)


def _with_progress(label: str, run: Any) -> Any:
    """Run `run(tick)`, tick(share done), under a progress bar on stderr, only on a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return run(None)
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        return run(lambda done: bar.update(task, completed=done))
