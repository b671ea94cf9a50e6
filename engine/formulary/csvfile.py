"""The formulary's CSV layout (netFormulary-style: one row per medicine, formulation and indication).

Export then import gives back the same entries, field for field: lists are `; `-joined (names
may not contain `;`), yes/no/blank for flags, ISO dates, and the two structured fields
(restriction criteria, monitoring) as compact JSON. An empty cell means "not stated".
The layout is documented in docs/formulary.md.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, Location, Problem

if TYPE_CHECKING:
    from engine.formulary.model import Entry, Vocabulary
    from engine.language.model.attributes import AttributeDictionary

# column → entry field, in export order; the netFormulary-like headings come first
COLUMNS: dict[str, str] = {
    "entry_id": "id",
    "drug_name": "medicine",
    "brand_names": "brands",
    "synonyms": "synonyms",
    "formulation": "formulation",
    "route": "route",
    "indication": "indication",
    "all_indications": "all_indications",
    "indication_synonyms": "indication_synonyms",
    "traffic_light": "status",
    "status_note": "status_note",
    "restrictions": "restrictions",
    "line_of_therapy": "line_of_therapy",
    "criteria_json": "criteria",
    "prior_approval": "prior_approval",
    "ifr_available": "ifr_available",
    "commissioner": "commissioner",
    "nice_ta": "nice_ta",
    "decision_date": "decision_date",
    "decision_body": "decision_body",
    "reason": "reason",
    "review_date": "review_date",
    "monitoring_json": "monitoring",
    "notes": "notes",
    "provenance": "provenance",
    "citation": "citation",
    "source_url": "url",
}
REQUIRED = ("drug_name", "traffic_light", "provenance", "citation")
LISTS = {"brands", "synonyms", "indication_synonyms"}
FLAGS = {"all_indications", "prior_approval", "ifr_available"}
JSON_FIELDS = {"criteria", "monitoring"}
SOURCE_FIELDS = {"provenance", "citation", "url"}
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}
#: A cell a spreadsheet would run as a formula (OWASP "CSV injection"): `=HYPERLINK(…)`, `=cmd|…`,
#: `+`, `-`, `@`, and a tab or carriage return before one. Export writes such a value after an
#: apostrophe (shown as text, not run); import takes the apostrophe off and refuses a bare one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """A value as a cell no spreadsheet runs: an apostrophe before a formula start (or an apostrophe)."""
    return "'" + value if value.startswith((*FORMULA_START, "'")) else value


def unescape_cell(cell: str, col: str) -> tuple[str, str | None]:
    """(the value, None), or (cell, why it is refused) for a cell that would run as a formula."""
    if cell.startswith("'"):
        return cell[1:], None
    if cell.startswith(FORMULA_START):
        return cell, (f"{col}: starts with {cell[0]!r}, which a spreadsheet runs as a formula; write it "
                      f"after an apostrophe ('{cell[:12]}…) if it is meant as text")
    return cell, None


# --- export ----------------------------------------------------------------------------------

def to_row(e: Entry) -> dict[str, str]:
    d = e.model_dump(mode="json", by_alias=True, exclude_none=True)
    d["criteria"] = [n.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
                     for n in e.criteria]
    src = d.pop("source")
    row: dict[str, str] = {}
    for col, fld in COLUMNS.items():
        v = src.get(fld) if fld in SOURCE_FIELDS else d.get(fld)
        if fld in LISTS:
            row[col] = "; ".join(v or [])
        elif fld in FLAGS:
            row[col] = "" if v is None else "yes" if v else "no"
        elif fld in JSON_FIELDS:
            row[col] = json.dumps(v, ensure_ascii=False, separators=(",", ":")) if v else ""
        else:
            row[col] = "" if v is None else str(v)
        row[col] = escape_cell(row[col])
    return row


def to_csv(entries: Iterable[Entry]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for e in entries:
        w.writerow(to_row(e))
    return buf.getvalue()


# --- import ----------------------------------------------------------------------------------

def _slug(*parts: str | None) -> str:
    import re

    text = "-".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:80] or "entry"


def row_data(row: dict[str, str], vocab: Vocabulary) -> tuple[dict[str, Any], list[str]]:
    """One CSV row → entry data (not yet validated) and the cell problems found on the way."""
    data: dict[str, Any] = {}
    source: dict[str, Any] = {}
    bad: list[str] = []
    for col, fld in COLUMNS.items():
        cell = (row.get(col) or "").strip()
        if not cell:
            continue
        cell, why = unescape_cell(cell, col)
        if why:
            bad.append(why)
            continue
        if fld in LISTS:
            value: Any = [x.strip() for x in cell.split(";") if x.strip()]
        elif fld in FLAGS:
            if cell.casefold() not in YES | NO:
                bad.append(f"{col}: {cell!r} is not yes or no")
                continue
            value = cell.casefold() in YES
        elif fld in JSON_FIELDS:
            try:
                value = json.loads(cell)
            except json.JSONDecodeError as exc:
                bad.append(f"{col}: not valid JSON ({exc.msg})")
                continue
        elif fld == "status":
            value = _status_id(cell, vocab)
        else:
            value = cell
        (source if fld in SOURCE_FIELDS else data)[fld] = value
    if source:
        data["source"] = source
    if "id" not in data:
        data["id"] = _slug(data.get("medicine"), data.get("formulation"), data.get("indication"))
    return data, bad


def _status_id(cell: str, vocab: Vocabulary) -> str:
    """A status by id or by label, any case ('Green (Restricted)' → green_restricted)."""
    key = cell.casefold()
    for s in vocab.statuses:
        if key in (s.id.casefold(), s.label.casefold()):
            return s.id
    return cell


def read_csv(path: Path, vocab: Vocabulary, attributes: AttributeDictionary) -> list[Entry]:
    """Validated entries from a CSV file; InputError listing every bad row by its line."""
    from pydantic import ValidationError

    from engine.formulary.entries import entry_problems
    from engine.formulary.model import Entry
    from engine.language.load import problems_from
    from engine.language.source import display_path, read_text

    file = display_path(path)
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    problems: list[Problem] = []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        msg = "; ".join(x for x in (
            ("unknown column(s): " + ", ".join(map(repr, unknown))) if unknown else "",
            ("missing column(s): " + ", ".join(missing)) if missing else "") if x)
        raise InputError.of("invalid-csv", msg, file, 1, "see docs/formulary.md for the layout")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    start = reader.line_num + 1
    for row in reader:
        line = start
        start = reader.line_num + 1
        if None in row:
            problems.append(Problem("invalid-row", "more cells than columns", Location(file, line)))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        data, bad = row_data(row, vocab)
        problems += [Problem("invalid-row", b, Location(file, line)) for b in bad]
        if bad:
            continue
        try:
            e = Entry.model_validate(data)
        except ValidationError as exc:
            for p in problems_from(exc, data, file):
                problems.append(Problem("invalid-row", p.message, Location(file, line)))
            continue
        for p in entry_problems(e, data, line, file, vocab, attributes):
            problems.append(Problem("invalid-row", p.message, Location(file, line), p.hint))
        if e.id in seen:
            problems.append(Problem("invalid-row", f"entry id {e.id!r} is already used on line {seen[e.id]}",
                                    Location(file, line)))
        seen.setdefault(e.id, line)
        entries.append(e)
    if problems:
        raise InputError(problems)
    return entries


def entries_yaml(entries: Iterable[Entry]) -> str:
    """Entries as the YAML of `entries.yaml` (what `load_formulary` reads back)."""
    import yaml

    items = [e.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
             | {"id": e.id, "medicine": e.medicine, "status": e.status} for e in entries]
    ordered = [{k: d[k] for k in _order(d)} for d in items]
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def _order(d: dict[str, Any]) -> list[str]:
    fields = [f for f in COLUMNS.values() if f not in SOURCE_FIELDS] + ["source"]
    return [f for f in fields if f in d] + [k for k in d if k not in fields]
