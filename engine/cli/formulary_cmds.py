"""`cpe rag` (medicine look-up) and `cpe formulary import|export|check`.

Heavy imports stay inside the commands: `cpe rag` on an unchanged formulary reads a compiled
cache and never imports pydantic.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from engine.cli.common import Format, FormatOpt, app, print_json

FormularyOpt = typer.Option(None, "--formulary", envvar="CPE_FORMULARY",
                            help="formulary folder, or a name under policies/formulary/ (default: lsc)")

formulary_app = typer.Typer(no_args_is_help=True, help="Check, import and export a medicines formulary.")
app.add_typer(formulary_app, name="formulary")


@app.command("rag")
def rag_cmd(
    query: str = typer.Argument(..., help="medicine (generic, brand, salt, abbreviation; misspellings allowed), "
                                         "with strength/form if you like ('agomelatine 25mg tablets'), "
                                         "'X for Y', or an indication alone ('POTS')"),
    indication: Optional[str] = typer.Option(None, "--indication", "-i", help="narrow to entries for this indication "
                                             "(synonyms, abbreviations, lay terms and kinds of it match)"),
    patient: Optional[Path] = typer.Option(None, "--patient", "-p",
                                           help="patient facts (JSON/YAML): check each match's restriction"),
    fmt: Format = FormatOpt,
    formulary: Optional[str] = FormularyOpt,
) -> None:
    """Look a medicine up in the formulary: RAG status, meaning, restrictions and what to do next."""
    from engine.formulary.lookup import answer

    facts = _read_patient(patient) if patient is not None else None
    out = answer(query, indication, formulary, facts)
    if fmt == Format.json:
        print_json(out)
    else:
        from engine.formulary.lookup import Index
        from engine.formulary.text import print_rag

        print_rag(out, Index.for_formulary(formulary))


def _read_patient(path: Path) -> dict[str, Any]:
    from engine.formulary.entries import policies_root
    from engine.language.load import load_attributes
    from engine.language.patient import read_patient

    return read_patient(path, load_attributes(policies_root() / "attributes.yaml"))


@formulary_app.command("check")
def check_cmd(formulary: Optional[str] = FormularyOpt, fmt: Format = FormatOpt) -> None:
    """Validate a formulary: every entry, status and restriction criterion (exit 2 on any problem)."""
    from engine.formulary.entries import formulary_dir, load_formulary

    f = load_formulary(formulary)
    counts: dict[str, int] = {}
    for e in f.entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    t = f.terminology
    info: dict[str, Any] = {"formulary": f.id, "folder": str(formulary_dir(formulary)), "entries": len(f.entries),
            "statuses": {s.id: counts.get(s.id, 0) for s in f.vocabulary.statuses},
            "terminology": None if t is None else {
                "medicines": len(t.medicines), "products": sum(len(m.products) for m in t.medicines),
                "indications": len(t.indications), "linked_entries": len(t.entries),
                "codes": sum(len(m.codes) for m in t.medicines) + sum(len(i.codes) for i in t.indications)}}
    if fmt == Format.json:
        print_json(info)
    else:
        per = ", ".join(f"{k} {v}" for k, v in info["statuses"].items())
        typer.echo(f"{f.vocabulary.name}: {len(f.entries)} entries, all valid ({per})")
        if t is not None:
            ti = info["terminology"]
            typer.echo(f"terminology: {ti['medicines']} medicines ({ti['products']} products), "
                       f"{ti['indications']} indications, {ti['linked_entries']} entries linked, {ti['codes']} codes")


@formulary_app.command("import")
def import_cmd(
    csv_file: Path = typer.Argument(..., help="CSV in the layout of docs/formulary.md"),
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="write entries YAML here (default: stdout)"),
    formulary: Optional[str] = FormularyOpt,
) -> None:
    """Read a netFormulary-style CSV into validated entries YAML; every bad row is named by its line."""
    from engine.formulary.csvfile import entries_yaml, read_csv
    from engine.formulary.entries import formulary_dir, load_vocabulary, policies_root
    from engine.language.load import load_attributes

    vocab = load_vocabulary(formulary_dir(formulary))
    entries = read_csv(csv_file, vocab, load_attributes(policies_root() / "attributes.yaml"))
    _write(entries_yaml(entries), out)


@formulary_app.command("export")
def export_cmd(
    out: Optional[Path] = typer.Option(None, "--output", "-o", help="write the CSV here (default: stdout)"),
    formulary: Optional[str] = FormularyOpt,
) -> None:
    """Write the formulary's entries as CSV in the import layout (import(export(x)) == x)."""
    from engine.formulary.csvfile import to_csv
    from engine.formulary.entries import load_formulary

    _write(to_csv(load_formulary(formulary).entries), out)


def _write(text: str, out: Optional[Path]) -> None:
    import sys

    if out is None or str(out) == "-":
        sys.stdout.write(text)
        return
    from engine.cli.common import check_output
    from engine.errors import InputError

    check_output(out)
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError.of("unwritable-file", f"cannot write {out}: {exc.strerror or exc}") from None
