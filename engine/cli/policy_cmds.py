"""`cpe policies`, `cpe evaluate`, `cpe explain`: the core questions about policies."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from engine.cli.common import Format, FormatOpt, PoliciesOpt, app, parse_on, print_json, print_lines, suite


@app.command("policies")
def policies_cmd(fmt: Format = FormatOpt, policies: Optional[Path] = PoliciesOpt) -> None:
    """List every policy and its versions."""
    s = suite(policies, cached=True)
    rows = []
    for p in s.policies():
        rows.append({"id": p.id, "title": p.title, "commissioning": p.commissioning, "versions": [
            {"version": v.version, "status": v.status,
             "effective_from": v.effective_from.isoformat() if v.effective_from else None,
             "effective_to": v.effective_to.isoformat() if v.effective_to else None} for v in p.versions]})
    if fmt == Format.json:
        print_json(rows)
        return
    lines: list[tuple[str, str]] = []
    for r in rows:
        lines.append(("bold", f"{r['id']}: {r['title']}"))
        for v in r["versions"]:
            span = f"from {v['effective_from']}" if v["effective_from"] else "not in force"
            if v["effective_to"]:
                span += f" to {v['effective_to']}"
            lines.append(("", f"    {v['version']:<12} {v['status']:<9} {span}"))
    print_lines(lines)


@app.command("evaluate")
def evaluate_cmd(
    policy_id: str = typer.Argument(..., help="policy id, e.g. assisted-conception"),
    patient: Optional[Path] = typer.Option(None, "--patient", "-p",
                                           help="patient facts: a JSON or YAML mapping of attribute to value"),
    fhir: Optional[Path] = typer.Option(None, "--fhir", help="patient facts from a FHIR R4 Bundle (JSON): "
                                                             "age, BMI, smoking status; the rest unknown"),
    on: Optional[str] = typer.Option(None, "--on", help="referral date (YYYY-MM-DD): picks the ratified "
                                                        "version in force then"),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="a version label (drafts only this way)"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Decide one patient under one policy version: outcome, route, each criterion, what is missing."""
    from engine.errors import InputError
    from engine.language.decide import decide
    from engine.language.patient import read_patient

    if (patient is None) == (fhir is None):
        raise InputError.of("bad-option", "give the patient's facts with --patient FILE or --fhir BUNDLE.json "
                                          "(one of them)")
    s = suite(policies, cached=True)
    day = parse_on(on)
    rv = s.select(policy_id, version=version, on=day)
    mapped = None
    if fhir is not None:
        from engine.fhir.facts import load_bundle
        from engine.language.patient import validate_patient
        from engine.language.source import display_path

        mapped = load_bundle(fhir, day, s.attributes)  # each fact checked alone
        facts = validate_patient(mapped.facts, s.attributes, display_path(fhir))
    else:
        facts = read_patient(patient, s.attributes)  # type: ignore[arg-type]
    d = decide(rv, facts, day)
    if fmt == Format.json:
        print_json({**d.to_json(), "fhir": mapped.to_json()} if mapped else d.to_json())
    else:
        from engine.language.explain import decision_text, value_text

        lines = decision_text(d)
        if mapped is not None:  # where the FHIR facts came from, and what could not be read
            lines += [("", ""), ("bold", "From the FHIR Bundle")]
            lines += [("", f"  {k} = {value_text(v)}  ({mapped.sources[k]})") for k, v in mapped.facts.items()]
            lines += [("dim", f"  {n}") for n in mapped.notes]
        print_lines(lines)


@app.command("explain")
def explain_cmd(
    policy_id: str = typer.Argument(..., help="policy id"),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="a version label"),
    on: Optional[str] = typer.Option(None, "--on", help="the version in force on this date"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Show a policy version's criteria as readable text: wording, logic and source of each."""
    s = suite(policies, cached=True)
    rv = s.select(policy_id, version=version, on=parse_on(on))
    if fmt == Format.json:
        from engine.language.resolve import canonical

        print_json({**canonical(rv), "digest": rv.digest})
        return
    from engine.language.explain import policy_text

    print_lines(policy_text(rv))


@app.command("config")
def config_cmd(fmt: Format = FormatOpt) -> None:
    """The effective settings: each CPE_* variable, its value (secrets masked) and where it came from."""
    from engine.settings import effective

    rows = effective()
    if fmt == Format.json:
        print_json(rows)
        return
    print_lines([("bold" if r["source"] == "environment" else "",
                  f"{r['variable']:<24} {r['value']!s:<28} ({r['source']}) — {r['help']}") for r in rows])
