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
from typing import Any, Optional

import typer

from engine.cli.common import Format, FormatOpt, PoliciesOpt, app, print_json, print_lines, suite


class DiffFormat(enum.StrEnum):
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
    by_reading: bool = typer.Option(False, "--by-reading", help="the diff under every reading the versions' "
                                                                "criteria declare (text or json)"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Compare two versions exactly: every kind of patient whose outcome changes, with an example.

    `cpe diff POLICY_ID --from LABEL --to LABEL`, or `cpe diff OLD.yaml NEW.yaml` for a proposed
    edit kept outside policies/ (each side defaults to the last version in its file).
    """
    from engine.analysis.diff import diff
    from engine.errors import InputError

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
    if by_reading:
        _diff_by_reading(rv_a, rv_b, attrs, method, fmt, out)
        return
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


def _diff_by_reading(rv_a: Any, rv_b: Any, attrs: Any, method: str, fmt: DiffFormat, out: Optional[Path]) -> None:
    """`cpe diff --by-reading`: one diff per combination of readings, the encoded one first."""
    from engine.analysis.readings import diff_by_reading
    from engine.errors import InputError
    from engine.reports.diff import diff_lines

    if fmt == DiffFormat.html:
        raise InputError.of("bad-option", "--by-reading gives text or json; the workbench shows readings in HTML")
    per = diff_by_reading(rv_a, rv_b, attrs, method=method)
    if fmt == DiffFormat.json:
        _emit_json({"policy": rv_a.id, "from": rv_a.label, "to": rv_b.label,
                    "readings": [r.to_json() for r in per]}, out)
        return
    lines: list[tuple[str, str]] = []
    for r in per:
        lines += [("bold", f"Reading {r.reading.label}" + (" (encoded)" if r.encoded else "")),
                  *[("dim", f"  {k}: {m}") for k, m in r.reading.meanings], *diff_lines(r.result), ("", "")]
    if out is not None:
        _emit_text("\n".join(t for _, t in lines), out)
    else:
        print_lines(lines)


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
    from engine.cli.common import check_output
    from engine.errors import InputError

    check_output(out)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError.of("unwritable-file", f"cannot write {out}: {exc.strerror or exc}") from None


@app.command("test")
def test_cmd(
    policy_id: Optional[str] = typer.Argument(None, help="one policy id (default: every policy)"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Run every policy's example cases (policies/<id>/cases.yaml) and report criteria coverage.

    The last line is `N passed, N failed`; the exit status is 2 when any case fails.
    """
    from engine.analysis.coverage import coverage
    from engine.analysis.examples import run_policy_cases
    from engine.errors import InputError

    s = suite(policies)
    ids = [policy_id] if policy_id else s.ids()
    if policy_id:
        s.policy(policy_id)  # unknown id: exit 2 with a hint
    report: list[dict[str, Any]] = []
    for pid in ids:
        try:
            runs = run_policy_cases(s, pid)
            versions = [v.version for v in s.policy(pid).versions]
        except InputError as exc:
            report.append({"id": pid, "error": exc.to_json()["error"], "cases": [], "coverage": []})
            continue
        report.append({"id": pid, "cases": [{"name": r.case.name, "location": str(r.location), "passed": r.passed,
                                             "failures": list(r.failures)} for r in runs],
                       "coverage": [{"version": vc.version, "cases": vc.cases, "covered": vc.covered,
                                     "criteria": len(vc.seen), "gaps": {k: list(v) for k, v in vc.gaps.items()}}
                                    for vc in coverage(pid, runs, versions)]})
    passed = sum(c["passed"] for p in report for c in p["cases"])
    failed = sum(not c["passed"] for p in report for c in p["cases"]) + sum("error" in p for p in report)
    if fmt == Format.json:
        print_json({"passed": passed, "failed": failed, "policies": report})
    else:
        print_lines(_test_lines(report, passed, failed))
    if failed:
        raise typer.Exit(2)


def _test_lines(report: list[dict[str, Any]], passed: int, failed: int) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for p in report:
        pid, cases = p["id"], p["cases"]
        if "error" in p:
            lines.append(("red", f"FAIL {pid}: cannot run its cases: {p['error']['detail']}"))
            continue
        lines += [("red", f"FAIL {c['location']}: {pid}: {c['name']}: {'; '.join(c['failures'])}")
                  for c in cases if not c["passed"]]
        ok = sum(c["passed"] for c in cases)
        lines.append(("green" if ok == len(cases) and cases else "yellow" if not cases else "red",
                      f"{pid}: {ok} of {len(cases)} example cases pass" if cases else f"{pid}: no example cases"))
    lines += [("", ""), ("bold", "Coverage: criteria the examples never saw both met and unmet")]
    for p in report:
        for vc in p["coverage"]:
            if vc["cases"] == 0:
                lines.append(("yellow", f"  {p['id']} {vc['version']}: no example cases"))
                continue
            head = f"  {p['id']} {vc['version']}: {vc['covered']} of {vc['criteria']} criteria seen both met and unmet"
            lines.append(("" if not vc["gaps"] else "yellow", head))
            lines += [("dim", f"      {cid}: never {' or '.join(never)}") for cid, never in vc["gaps"].items()]
    lines += [("", ""), ("bold" if not failed else "red bold", f"{passed} passed, {failed} failed")]
    return lines


@app.command("lint")
def lint_cmd(
    files: Optional[list[Path]] = typer.Argument(None, help="policy files (default: every policy in policies/)"),
    fmt: Format = FormatOpt,
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
    if fmt == Format.json:
        print_json({"errors": errors, "warnings": warnings,
                    "findings": [{"level": f.level, "code": f.code, "message": f.message,
                                  "file": f.location.file, "line": f.location.line, "column": f.location.column}
                                 for f in findings]})
        if errors:
            raise typer.Exit(2)
        return
    lines = [("red" if f.level == "error" else "yellow", f.text(level=True)) for f in findings]
    lines.append(("bold" if not errors else "red bold",
                  f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"))
    print_lines(lines)
    if errors:
        raise typer.Exit(2)
