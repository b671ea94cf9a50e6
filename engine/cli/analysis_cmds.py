"""`cpe diff`, `cpe test`, `cpe lint`: what a wording change does, and whether the policies and
their examples hold together.

Exit status: 0 when the command did its job (a diff that finds changes, a lint with warnings
only); 2 for bad input, which includes failing example cases and lint errors: the policy or
cases files are what is wrong.
"""
from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from engine.cli.common import PoliciesOpt, app, print_json, print_lines, suite


class DiffFormat(str, enum.Enum):
    text = "text"
    json = "json"
    html = "html"


def _is_file(arg: str) -> bool:
    return arg.lower().endswith((".yaml", ".yml", ".json")) or Path(arg).is_file()


@app.command("diff")
def diff_cmd(
    target: str = typer.Argument(..., help="a policy id, or the OLD policy file of a proposed edit"),
    new: Optional[str] = typer.Argument(None, help="the NEW policy file, when TARGET is a file"),
    from_: Optional[str] = typer.Option(None, "--from", help="version label to compare from"),
    to: Optional[str] = typer.Option(None, "--to", help="version label to compare to"),
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text, json or html"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
    cohort: Optional[Path] = typer.Option(None, "--cohort", help="CSV or Parquet of patients (columns are "
                                                                 "attributes, blank is unknown): count who moves"),
    method: str = typer.Option("auto", "--method", help="auto (partition, or z3 when too large), partition or z3"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Compare two versions exactly: every kind of patient whose outcome changes, with an example.

    `cpe diff POLICY_ID --from LABEL --to LABEL`, or `cpe diff OLD.yaml NEW.yaml` for a proposed
    edit kept outside policies/ (each side defaults to the last version in its file).
    """
    from engine.analysis.diff import diff
    from engine.language.errors import InputError

    if _is_file(target):
        if new is None:
            raise InputError.of("bad-option", "give two policy files: cpe diff OLD.yaml NEW.yaml")
        sa, sb = suite(policies), suite(policies)
        pa, pb = sa.add_file(Path(target)), sb.add_file(Path(new))
        la = from_ or pa.versions[-1].version
        lb = to or pb.versions[-1].version
        rv_a, rv_b = sa.resolved(pa.id, la), sb.resolved(pb.id, lb)
        attrs = sa.attributes
    else:
        if new is not None:
            raise InputError.of("bad-option", f"unexpected argument {new!r}: give --from and --to for a policy id")
        if not from_ or not to:
            raise InputError.of("bad-option", "give the two versions to compare: --from LABEL --to LABEL",
                                hint="run `cpe policies` to list the versions")
        s = suite(policies)
        rv_a, rv_b = s.resolved(target, from_), s.resolved(target, to)
        attrs = s.attributes
    if method not in ("auto", "partition", "z3"):
        raise InputError.of("bad-option", f"--method {method!r}: use auto, partition or z3")
    result = diff(rv_a, rv_b, attrs, method=method)
    if rv_a.id != rv_b.id:
        result.notes.append(f"the two files are different policies: {rv_a.id} and {rv_b.id}")
    moves = None
    if cohort is not None:
        from engine.cohort.diff_counts import cohort_moves

        moves = cohort_moves(cohort, rv_a, rv_b, attrs)
    if fmt == DiffFormat.json:
        data = result.to_json()
        if moves is not None:
            data["cohort"] = moves.to_json()
        _emit_json(data, out)
    elif fmt == DiffFormat.html:
        from engine.reports.diff import render_html

        _emit_text(render_html(result, rv_a, rv_b, moves), out)
    else:
        from engine.reports.diff import diff_lines

        if out is not None:
            _emit_text("\n".join(t for _, t in diff_lines(result, moves)) + "\n", out)
        else:
            print_lines(diff_lines(result, moves))


def _emit_json(data: object, out: Optional[Path]) -> None:
    if out is None:
        print_json(data)
        return
    import json

    _emit_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", out)


def _emit_text(text: str, out: Optional[Path]) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    from engine.language.errors import InputError

    from engine.cli.common import check_output

    check_output(out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError.of("unwritable-file", f"cannot write {out}: {exc.strerror or exc}") from None


@app.command("test")
def test_cmd(
    policy_id: Optional[str] = typer.Argument(None, help="one policy id (default: every policy)"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Run every policy's example cases (policies/<id>/cases.yaml) and report criteria coverage.

    The last line is `N passed, N failed`; the exit status is 2 when any case fails.
    """
    from engine.analysis.examples import run_policy_cases
    from engine.analysis.coverage import coverage
    from engine.language.errors import InputError

    s = suite(policies)
    ids = [policy_id] if policy_id else s.ids()
    if policy_id:
        s.policy(policy_id)  # unknown id: exit 2 with a hint
    passed = failed = 0
    lines: list[tuple[str, str]] = []
    cover: list[tuple[str, list]] = []
    for pid in ids:
        try:
            runs = run_policy_cases(s, pid)
            versions = [v.version for v in s.policy(pid).versions]
        except InputError as exc:
            failed += 1
            lines.append(("red", f"FAIL {pid}: cannot run its cases: {exc}"))
            continue
        for r in runs:
            if r.passed:
                passed += 1
            else:
                failed += 1
                lines.append(("red", f"FAIL {r.location}: {pid}: {r.case.name}: {'; '.join(r.failures)}"))
        ok = sum(r.passed for r in runs)
        lines.append(("green" if ok == len(runs) and runs else "yellow" if not runs else "red",
                      f"{pid}: {ok} of {len(runs)} example cases pass" if runs else f"{pid}: no example cases"))
        cover.append((pid, coverage(pid, runs, versions)))
    lines += [("", ""), ("bold", "Coverage: criteria the examples never saw both met and unmet")]
    for pid, vcs in cover:
        for vc in vcs:
            if vc.cases == 0:
                lines.append(("yellow", f"  {pid} {vc.version}: no example cases"))
                continue
            gaps = vc.gaps
            head = f"  {pid} {vc.version}: {vc.covered} of {len(vc.seen)} criteria seen both met and unmet"
            lines.append(("" if not gaps else "yellow", head))
            for cid, never in gaps.items():
                lines.append(("dim", f"      {cid}: never {' or '.join(never)}"))
    lines += [("", ""), ("bold" if not failed else "red bold", f"{passed} passed, {failed} failed")]
    print_lines(lines)
    if failed:
        raise typer.Exit(2)


@app.command("lint")
def lint_cmd(
    files: Optional[list[Path]] = typer.Argument(None, help="policy files (default: every policy in policies/)"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Check policies: contradictions, dead criteria, unknown attributes, out-of-range thresholds, overlaps.

    Also criteria without provenance (seed, public or comparator, and a citation).

    Exit status 2 when there is an error; warnings alone exit 0.
    """
    from engine.analysis.lint import lint

    s = suite(policies)
    findings = lint(s, files or None)
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    lines = [("red" if f.level == "error" else "yellow", str(f)) for f in findings]
    lines.append(("bold" if not errors else "red bold",
                  f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"))
    print_lines(lines)
    if errors:
        raise typer.Exit(2)
