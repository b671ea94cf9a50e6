"""`cpe case …` and `cpe register …`: the IFR case register (see docs/register.md).

The database is CPE_DATABASE_URL (an SQLAlchemy URL), else an SQLite file in the user's data
directory. `register verify` exits 0 when intact, 3 when it finds a bad record.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from engine.cli.common import Format, FormatOpt, PoliciesOpt, app, parse_on, print_json, print_lines, suite

case_app = typer.Typer(no_args_is_help=True, help="Individual funding requests: record, show, decide, list.")
register_app = typer.Typer(no_args_is_help=True, help="The register's audit trail: verify, export, signals.")
app.add_typer(case_app, name="case")
app.add_typer(register_app, name="register")

VERIFY_FAILED = 3


def _actor() -> str:
    import getpass

    from engine.settings import setting

    return setting("actor") or f"cli:{getpass.getuser()}"


def _register(policies: Optional[Path] = None):
    from engine.register.store import Register

    return Register(suite=suite(policies))


def _note(text: str) -> None:
    print(f"cpe: {text}", file=sys.stderr)


@case_app.command("new")
def case_new(
    policy_id: str = typer.Argument(..., help="policy id, e.g. hip-arthroscopy"),
    patient: Optional[Path] = typer.Option(None, "--patient", "-p", help="patient facts (JSON or YAML mapping)"),
    on: Optional[str] = typer.Option(None, "--on", help="referral date (YYYY-MM-DD): picks the version in force"),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="a version label instead of --on"),
    grounds: Optional[str] = typer.Option(None, "--grounds", help="the stated grounds for exceptionality"),
    requester: Optional[str] = typer.Option(None, "--requester", help="who asks (default: you)"),
    patient_ref: Optional[str] = typer.Option(None, "--patient-ref", help="a local patient reference (never logged)"),
    idempotency_key: Optional[str] = typer.Option(
        None, "--idempotency-key", help="a key of your own for this request: run again with the same key (after a "
                                        "crash or a timeout), it shows the case it created instead of a new one"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Record a request and the engine's decision on it; prints the case reference."""
    from engine.errors import InputError
    from engine.language.patient import read_patient

    if patient is None:
        raise InputError.of("bad-option", "give the patient's facts with --patient FILE")
    with _register(policies) as reg:
        facts = read_patient(patient, reg.suite.attributes)
        out = reg.new_case(policy_id, facts, on=parse_on(on), version=version, grounds=grounds,
                           requester=requester, actor=_actor(), patient_ref=patient_ref, validated=True,
                           idempotency_key=idempotency_key)
    if out.get("replayed"):
        _note(f"idempotency key already used: {out['ref']} was created by the first request")
    for sig in out["signals"]:
        _note("service development signal: " + sig["message"])
    if fmt == Format.json:
        print_json({"ref": out["ref"], "decision": out["decision"]})
        return
    d = out["decision"]
    print_lines([("bold", f"{out['ref']}: {d['policy']['id']} {d['policy']['version']}"),
                 ("", f"engine: {d['outcome']} (route {d['route']})"), ("", d.get("reason", ""))])


@case_app.command("show")
def case_show(ref: str = typer.Argument(..., help="case reference, e.g. IFR-000001"), fmt: Format = FormatOpt,
              policies: Optional[Path] = PoliciesOpt) -> None:
    """The case with its decision, panel decisions and history."""
    with _register(policies) as reg:
        c = reg.show(ref)
    if fmt == Format.json:
        print_json(c)
        return
    lines = [("bold", f"{c['ref']}: {c['policy_id']} ({c['state']})"),
             ("", f"requested by {c['requester']} on {c['created_at'][:10]}; decision due {c['decision_due']}"
                  + (" (OVERDUE)" if c["overdue"] else "")),
             ("", f"engine: {c['decision']['outcome']} (route {c['decision']['route']}) under "
                  f"{c['decision']['policy']['version']} {c['decision']['policy']['digest'][:19]}…")]
    if c["grounds"]:
        lines.append(("", f"grounds: {c['grounds']}"))
    for p in c["panel_decisions"]:
        lines.append(("", f"panel: {p['outcome']} by {p['decided_by']}: {p['reason']}"))
    lines.append(("bold", "history"))
    for h in c["history"]:
        lines.append(("", f"  {h['seq']:>2}. {h['at'][:19]} {h['action']:<15} → {h['to']:<10} {h['actor']}"))
    print_lines(lines)


@case_app.command("decide")
def case_decide(
    ref: str = typer.Argument(..., help="case reference"),
    outcome: str = typer.Option(..., "--outcome", help="approved or declined"),
    reason: str = typer.Option(..., "--reason", help="the panel's reasons"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Record the panel's decision (a case not yet at the panel is screened and referred first)."""
    with _register(policies) as reg:
        out = reg.transition(ref, "decide", actor=_actor(), outcome=outcome, reason=reason, advance=True)
    if fmt == Format.json:
        print_json(out)
    else:
        print_lines([("", f"{ref}: {outcome} ({out['state']})")])


@case_app.command("event")
def case_event(
    ref: str = typer.Argument(..., help="case reference"),
    action: str = typer.Argument(..., help="screen, refer, screen_out, request_information, information_received, withdraw, request_review, close"),
    note: Optional[str] = typer.Option(None, "--note", help="why (recorded with the event)"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Move a case through the workflow; refused unless the workflow allows it now."""
    from engine.errors import InputError

    if action == "decide":
        raise InputError.of("bad-option", "record a panel decision with `cpe case decide REF --outcome --reason`")
    with _register(policies) as reg:
        out = reg.transition(ref, action, actor=_actor(), note=note)
    if fmt == Format.json:
        print_json(out)
    else:
        print_lines([("", f"{ref}: {out['event']['from']} → {out['state']}")])


@case_app.command("list")
def case_list(
    policy: Optional[str] = typer.Option(None, "--policy", help="only this policy's cases"),
    state: Optional[str] = typer.Option(None, "--state", help="only cases in this state"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Every case with its state, outcomes and decision due date."""
    with _register(policies) as reg:
        rows = reg.list_cases(policy, state)
    if fmt == Format.json:
        print_json(rows)
        return
    print_lines([("", f"{r['ref']}  {r['policy_id']:<28} {r['state']:<10} engine {r['engine_outcome']:<24} "
                      f"panel {r['panel_decision'] or '-':<9} due {r['decision_due']}"
                      + ("  OVERDUE" if r["overdue"] else "")) for r in rows] or [("", "no cases")])


@register_app.command("verify")
def register_verify(
    head: Optional[str] = typer.Option(None, "--head", help="a chain head hash recorded earlier: it must still be "
                                                            "in the chain"),
    fmt: Format = FormatOpt,
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Check the hash chain, every row against it, and that every decision re-evaluates the same."""
    from engine.register.verify import finding, verify

    with _register(policies) as reg:
        rep = verify(reg)
        if head and not _head_present(reg, head):
            rep.findings.insert(0, finding("chain head", "head-missing",
                                           f"{head} is no longer in the chain (entries were removed)"))
    if fmt == Format.json:
        print_json(rep.to_json())
    elif rep.ok:
        print_lines([("", f"register intact: {rep.entries} audit entries, {rep.evaluations} decisions re-evaluated "
                          f"the same; head {rep.head}"), ("", _checked_against(rep))])
    else:
        print_lines([("bold", f"register NOT intact: first bad record: {rep.findings[0]}")]
                    + [("", f"  {f}") for f in rep.findings[1:]] + [("", _checked_against(rep))])
    if not rep.ok:
        raise typer.Exit(VERIFY_FAILED)


def _checked_against(rep) -> str:  # noqa: ANN001
    """Which checkpoint (outside the database) the chain was checked against."""
    c = rep.checkpoint
    if c is None:
        return "checked against no checkpoint (none is valid)" if rep.entries else "no entries, no checkpoint"
    tail = f"; {rep.unanchored} newer entries not yet anchored" if rep.unanchored else ""
    return (f"checked against checkpoint line {c['line']} of {c['file']}: entry #{c['seq']} {c['hash'][:16]}… "
            f"at {c['at']} (key {c['key']}){tail}")


def _head_present(reg, head: str) -> bool:  # noqa: ANN001
    from sqlalchemy import select

    from engine.register.models import AuditEntry

    with reg.Session() as s:
        return s.scalar(select(AuditEntry.seq).where(AuditEntry.hash == head)) is not None


@register_app.command("export")
def register_export(
    fhir: bool = typer.Option(False, "--fhir", help="FHIR R4 AuditEvent resources instead of raw entries"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """The audit trail as JSON lines (one entry per line, in chain order)."""
    import json

    from engine.cli.common import check_output
    from engine.errors import InputError
    from engine.register.export import entries, fhir_audit_event

    check_output(out)
    try:
        stream = out.open("w", encoding="utf-8") if out else sys.stdout
    except OSError as exc:
        raise InputError.of("unwritable-file", f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with _register(policies) as reg:
            for e in entries(reg):
                stream.write(json.dumps(fhir_audit_event(e) if fhir else e, ensure_ascii=False, sort_keys=True)
                             + "\n")
    finally:
        if out:
            stream.close()


@register_app.command("signals")
def register_signals(fmt: Format = FormatOpt, policies: Optional[Path] = PoliciesOpt) -> None:
    """Service development signals: several requests for one intervention within a window."""
    with _register(policies) as reg:
        rows = reg.signals()
    if fmt == Format.json:
        print_json(rows)
    else:
        print_lines([("", f"{r['at'][:10]} {r['message']}") for r in rows] or [("", "no signals")])
