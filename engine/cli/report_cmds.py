"""`cpe report …` (decision letters, IFR panel summaries, policy documents, formulary listings)
and `cpe route` (the route and next steps for one patient, with IFR screening of stated grounds)."""
from __future__ import annotations

import datetime as dt
import enum
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from engine.cli.common import Format, FormatOpt, PoliciesOpt, app, parse_on, print_json, print_lines, suite

report_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Reports for people: decision letters, IFR panel summaries, policy documents, "
                              "formulary listings (HTML, Markdown or PDF).")
app.add_typer(report_app, name="report")


class ReportFormat(enum.StrEnum):
    html = "html"
    md = "md"
    pdf = "pdf"


ReportFormatOpt = typer.Option(None, "--format", "-f",
                               help="html, md or pdf (default: from the -o file's extension, else html)")
OutOpt = typer.Option(None, "--output", "-o", help="file to write; '-' or none writes HTML/Markdown to stdout")
PatientOpt = typer.Option(None, "--patient", "-p", help="patient facts: a JSON or YAML mapping of attribute to value")
OnOpt = typer.Option(None, "--on", help="referral date (YYYY-MM-DD): picks the ratified version in force then")
VersionOpt = typer.Option(None, "--version", "-v", help="a version label (drafts only this way)")
GroundsOpt = typer.Option(None, "--grounds", help="the stated grounds of an IFR request (free text)")
GroundsFileOpt = typer.Option(None, "--grounds-file", help="read the stated grounds from a text file")
RefOpt = typer.Option(None, "--ref", help="a case or request reference to print on the report")
DateOpt = typer.Option(None, "--date", help="the date printed on the report (YYYY-MM-DD; default today)")


def _format(fmt: Optional[ReportFormat], out: Optional[str]) -> str:
    if fmt is not None:
        return fmt.value
    suffix = Path(out).suffix.lower().lstrip(".") if out and out != "-" else ""
    return {"htm": "html", "html": "html", "md": "md", "markdown": "md", "pdf": "pdf"}.get(suffix, "html")


def _write(data: bytes, fmt: str, out: Optional[str]) -> None:
    from engine.errors import InputError

    if out is None or out == "-":
        if fmt == "pdf" and out is None and sys.stdout.isatty():
            raise InputError.of("bad-option", "a PDF is not written to a terminal: give -o FILE (or -o - to pipe it)")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from engine.cli.common import check_output

    check_output(out)
    path = Path(out)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError.of("unwritable-file", f"cannot write {out}: {exc.strerror or exc}") from None


def _grounds(grounds: Optional[str], grounds_file: Optional[Path]) -> Optional[str]:
    from engine.errors import InputError
    from engine.language.source import read_text

    if grounds is not None and grounds_file is not None:
        raise InputError.of("bad-option", "give --grounds or --grounds-file, not both")
    return read_text(grounds_file) if grounds_file is not None else grounds


def _decided(policy_id: str, patient: Optional[Path], on: Optional[str], version: Optional[str],
             grounds: Optional[str], policies: Optional[Path]) -> tuple[Any, Any, Any]:
    """(decision, route plan, screening or None) for one patient: the shared first half of every command."""
    from engine.errors import InputError
    from engine.ifr.routing import load_routing, plan
    from engine.ifr.screening import load_screening, screen
    from engine.language.decide import decide
    from engine.language.patient import read_patient

    if patient is None:
        raise InputError.of("bad-option", "give the patient's facts with --patient FILE")
    s = suite(policies)
    day = parse_on(on)
    rv = s.select(policy_id, version=version, on=day)
    facts = read_patient(patient, s.attributes)
    d = decide(rv, facts, day)
    sc = screen(grounds, load_screening(s.root / "ifr-screening.yaml")) if grounds is not None else None
    rules = load_routing(s.root / "routing.yaml", known_policies=s.ids())
    return d, plan(d, s.attributes, rules, sc, ccg=facts.get("registered_ccg")), sc


def _date(text: Optional[str]) -> Optional[dt.date]:
    from engine.language.versions import parse_date

    return parse_date(text, "--date") if text else None


@report_app.command("decision")
def report_decision(
    policy_id: str = typer.Argument(..., help="policy id, e.g. breast-implant-replacement"),
    patient: Optional[Path] = PatientOpt, on: Optional[str] = OnOpt, version: Optional[str] = VersionOpt,
    grounds: Optional[str] = GroundsOpt, grounds_file: Optional[Path] = GroundsFileOpt,
    ref: Optional[str] = RefOpt, date: Optional[str] = DateOpt,
    fmt: Optional[ReportFormat] = ReportFormatOpt, out: Optional[str] = OutOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """A decision letter for one patient: outcome, route and next steps, criteria with the values used."""
    from engine.reports.render import render_decision

    kind = _format(fmt, out)
    issued = _date(date)
    d, pl, sc = _decided(policy_id, patient, on, version, _grounds(grounds, grounds_file), policies)
    _write(render_decision(d, pl, kind, issued=issued, ref=ref, screening=sc), kind, out)  # type: ignore[arg-type]


@report_app.command("panel")
def report_panel(
    policy_id: str = typer.Argument(..., help="policy id"),
    patient: Optional[Path] = PatientOpt, on: Optional[str] = OnOpt, version: Optional[str] = VersionOpt,
    grounds: Optional[str] = GroundsOpt, grounds_file: Optional[Path] = GroundsFileOpt,
    ref: Optional[str] = RefOpt, date: Optional[str] = DateOpt,
    fmt: Optional[ReportFormat] = ReportFormatOpt, out: Optional[str] = OutOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """An IFR panel summary for one request: the decision, the screening of its grounds, the test applied."""
    from engine.errors import InputError
    from engine.reports.render import render_panel

    kind = _format(fmt, out)
    issued = _date(date)
    text = _grounds(grounds, grounds_file)
    if text is None:
        raise InputError.of("bad-option", "an IFR panel summary needs the request's stated grounds: "
                                          "give --grounds TEXT or --grounds-file FILE")
    d, pl, sc = _decided(policy_id, patient, on, version, text, policies)
    _write(render_panel(d, pl, sc, kind, issued=issued, ref=ref), kind, out)  # type: ignore[arg-type]


@report_app.command("policy")
def report_policy(
    policy_id: str = typer.Argument(..., help="policy id"),
    version: Optional[str] = VersionOpt, on: Optional[str] = typer.Option(None, "--on", help="the version in force "
                                                                                           "on this date"),
    fmt: Optional[ReportFormat] = ReportFormatOpt, out: Optional[str] = OutOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """The policy document, rendered from the same rules the engine runs: scope, criteria, provenance, history."""
    from engine.reports.render import render_policy

    kind = _format(fmt, out)
    s = suite(policies)
    rv = s.select(policy_id, version=version, on=parse_on(on))
    _write(render_policy(rv, kind, ifr=_ifr(s)), kind, out)  # type: ignore[arg-type]


@report_app.command("paper")
def paper_cmd(
    policy_id: str = typer.Argument(..., help="policy id, e.g. breast-implant-replacement"),
    from_: str = typer.Option(..., "--from", help="the existing version (the base)"),
    to: str = typer.Option(..., "--to", help="the proposed version (e.g. a draft saved from the workbench)"),
    cohort: Optional[Path] = typer.Option(None, "--cohort", help="CSV or Parquet of patients: count who moves"),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="the purpose paragraph (default: a standard one)"),
    rationale: Optional[str] = typer.Option(None, "--rationale", help="the rationale for the amendment"),
    fmt: Optional[ReportFormat] = ReportFormatOpt,
    out: Optional[str] = OutOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """The committee paper for a change from one version to another, as the workbench exports it:
    purpose, the wording side by side, what changes for whom (under each reading), cohort impact,
    what the engine proved."""
    from engine.analysis.drafts import existing
    from engine.analysis.proposal import analyse
    from engine.reports.paper import render_paper

    s = suite(policies)
    proposal = analyse(existing(s, policy_id, from_, to))
    if cohort is not None:
        from engine.analysis.readings import read_as
        from engine.cohort.diff_counts import cohort_moves

        for r in proposal.readings:
            picked = dict(r.reading.choice)
            proposal.cohort[r.reading.label] = cohort_moves(cohort, read_as(proposal.draft.base, picked, strict=False),
                                                            read_as(proposal.draft.rv, picked, strict=False),
                                                            s.attributes)
    kind = _format(fmt, out)
    _write(render_paper(proposal, kind, purpose=purpose, rationale=rationale), kind, out)  # type: ignore[arg-type]


@report_app.command("formulary")
def report_formulary(
    formulary: Optional[str] = typer.Option(None, "--formulary", envvar="CPE_FORMULARY",
                                            help="formulary folder, or a name under policies/formulary/ "
                                                 "(default: lsc)"),
    date: Optional[str] = DateOpt,
    fmt: Optional[ReportFormat] = ReportFormatOpt, out: Optional[str] = OutOpt,
) -> None:
    """The formulary listing: every decision by status (with its meaning and next step) and by indication."""
    from engine.formulary.entries import load_formulary
    from engine.reports.render import render_formulary

    kind = _format(fmt, out)
    issued = _date(date)
    _write(render_formulary(load_formulary(formulary), kind, issued=issued), kind, out)  # type: ignore[arg-type]


def _ifr(s: Any) -> dict[str, Any]:
    from engine.ifr.routing import load_routing
    from engine.ifr.screening import load_screening

    sc = load_screening(s.root / "ifr-screening.yaml")
    return {"exceptionality": load_routing(s.root / "routing.yaml").exceptionality,
            "non_qualifying": sc.non_qualifying, "screening_source": sc.source}


@app.command("route")
def route_cmd(
    policy_id: str = typer.Argument(..., help="policy id"),
    patient: Optional[Path] = PatientOpt, on: Optional[str] = OnOpt, version: Optional[str] = VersionOpt,
    grounds: Optional[str] = GroundsOpt, grounds_file: Optional[Path] = GroundsFileOpt,
    fmt: Format = FormatOpt, policies: Optional[Path] = PoliciesOpt,
) -> None:
    """The route a request takes and the concrete next steps; with --grounds, IFR screening of the grounds."""
    d, pl, sc = _decided(policy_id, patient, on, version, _grounds(grounds, grounds_file), policies)
    if fmt == Format.json:
        print_json({"policy": d.to_json()["policy"], "outcome": d.outcome, **pl.to_json()})
        return
    print_lines(route_text(d, pl))


def route_text(d: Any, pl: Any) -> list[tuple[str, str]]:
    """The route plan as (style, line) pairs for the terminal."""
    from engine.language.explain import OUTCOME_WORDS

    p = d.policy
    out = [("bold", f"{p.title} ({p.id}) {p.version}: {OUTCOME_WORDS[d.outcome]}"),
           ("bold", f"Route: {pl.title}"), ("", pl.summary), ("", "")]
    out += [("", f"  {i}. {s}") for i, s in enumerate(pl.steps, 1)]
    if pl.missing and pl.route == "more_information":
        out += [("", ""), ("bold", "Facts to supply")]
        out += [("yellow", f"  - {m.attribute}: {m.description}" + (f" ({m.unit})" if m.unit else "") +
                 f"; {m.allowed}" + (f"; settles {', '.join(m.criteria)}" if m.criteria else "")) for m in pl.missing]
    if pl.unmet:
        out += [("", ""), ("bold", "Criteria not met" if pl.route == "ifr" else "Outside the policy because")]
        out += [("red", f"  - {c.id}: {c.text}") for c in pl.unmet]
    if pl.must_show:
        out += [("", ""), ("bold", "An exceptionality case must show")] + [("", f"  - {s}") for s in pl.must_show]
    if pl.exceptionality:
        out += [("dim", f"  Test: {pl.exceptionality.test} ({pl.exceptionality.source})")]
    if pl.submit:
        out += [("", ""), ("bold", "Submit")] + [("", f"  - {s}") for s in pl.submit]
    if pl.out_of_scope:
        out += [("", ""), ("", pl.out_of_scope)]
    if pl.commissioner:
        out += [("", f"Responsible commissioner: {pl.commissioner.name}: {pl.commissioner.covers} {pl.commissioner.how}")]
    for c in pl.to_check:
        out += [("", f"Also check: {c.name}: {c.covers}")]
    sc = pl.screening
    if sc is not None:
        out += [("", ""), ("bold", "IFR screening of the stated grounds"), ("", sc.summary)]
        for r in sc.readings:  # every sentence goes to the panel, with what screening noticed
            out += [("", f"  · “{r.sentence}”")]
            out += [("green", f"      ? possible ground to weigh: {g.label}") for g in r.grounds]
            out += [("yellow", f"      ✗ {f.label}: {f.explanation}") for f in r.flags]
            if r.service_development:
                out += [("magenta", "      ! service development")]
    if pl.service_development:
        out += [("", ""), ("bold", pl.service_development.title), ("", pl.service_development.summary)]
        out += [("", f"  - {s}") for s in pl.service_development.steps]
    for n in pl.notes:
        out += [("dim", f"Note: {n}")]
    return out
