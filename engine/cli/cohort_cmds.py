"""`cpe cohort evaluate`, `cpe cohort generate`, `cpe impact`: many patients at once, columnar."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

import typer

from engine.cli.common import (Format, FormatOpt, PoliciesOpt, app, check_output, parse_on, print_json, print_lines,
                               suite)

cohort_app = typer.Typer(no_args_is_help=True,
                         help="Cohorts (CSV or Parquet, one row per patient): evaluate a policy over them, "
                              "or write a synthetic one.")
app.add_typer(cohort_app, name="cohort")


class Engine(str, enum.Enum):
    duckdb = "duckdb"
    polars = "polars"
    spark = "spark"


CohortOpt = typer.Option(..., "--cohort", "-c", help="CSV or Parquet file: one row per patient, a column per "
                                                    "attribute, blanks unknown, optional id column")


def _stamp(rv: Any) -> dict[str, Any]:
    return {"id": rv.id, "version": rv.label, "status": rv.version.status, "digest": rv.digest}


@cohort_app.command("evaluate")
def cohort_evaluate_cmd(
    policy_id: str = typer.Argument(..., help="policy id, e.g. assisted-conception"),
    cohort: Path = CohortOpt,
    version: Optional[str] = typer.Option(None, "--version", "-v", help="a version label (drafts only this way)"),
    on: Optional[str] = typer.Option(None, "--on", help="referral date (YYYY-MM-DD): the version in force then"),
    engine: Engine = typer.Option(Engine.duckdb, "--engine", "-e", help="columnar engine that runs the rules"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="also write one row per patient "
                                                                   "(.csv or .parquet): id, each criterion, outcome, route"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Evaluate every patient of a cohort: counts per outcome and per criterion status."""
    from engine.cohort.files import read_cohort
    from engine.cohort.run import evaluate_cohort
    from engine.language.errors import InputError

    if version and on:
        raise InputError.of("bad-option", "give --version or --on, not both")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError.of("bad-option", f"{out}: the output must be a .csv or .parquet file")
    check_output(out)
    s = suite(policies)
    rv = s.select(policy_id, version=version, on=parse_on(on))
    data = read_cohort(cohort, s.attributes)
    if engine == Engine.spark:
        _need_spark()
    result = evaluate_cohort(rv, data, engine.value, rows=out is not None)
    if out is not None:
        from engine.cohort.generate import write

        write(result.table, out)
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

    from engine.language.errors import InputError

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
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Who moves between outcomes when a policy changes version: counts per (old → new) and the ids."""
    from engine.cohort.files import read_cohort
    from engine.cohort.impact import impact

    s = suite(policies)
    rv_old = s.select(policy_id, version=old)
    rv_new = s.select(policy_id, version=new)
    data = read_cohort(cohort, s.attributes)
    result = _with_progress(data.rows, lambda tick: impact(rv_old, rv_new, data, tick))
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
        lines.append(("", "changed: " + ", ".join(f["id"] for f in shown)
                      + (f" … and {len(doc['flipped']) - 20} more (--format json lists all)"
                         if len(doc["flipped"]) > 20 else "")))
    print_lines(lines)


def _with_progress(total: int, run: Any) -> Any:
    """Run `run(tick)` under a progress bar on stderr (shown only on a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn("impact"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("rows", total=total)
        return run(lambda done: bar.update(task, completed=done))
