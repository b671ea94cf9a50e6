"""How many patients of a cohort file move between outcomes when a policy changes version.

The cohort is a CSV or Parquet file, one row per patient, columns named after attributes (an
`id` or `patient_id` column names the row); a blank cell (CSV) or null (Parquet) is unknown.
Every row is checked against the dictionary like any patient and decided under both versions by
the reference `decide`.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.decide import decide
from engine.errors import InputError, did_you_mean
from engine.model.attributes import AttributeDictionary
from engine.patient import validate_patient
from engine.resolve import ResolvedVersion
from engine.source import LDict, display_path

ID_COLUMNS = ("id", "patient_id")
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}


@dataclass
class CohortMoves:
    file: str
    rows: int
    moves: Counter = field(default_factory=Counter)   # (from, to) -> patients
    moved_ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if a != b)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "changed": self.changed,
                "moves": [{"from_outcome": a, "to_outcome": b, "count": n,
                           **({"ids": self.moved_ids.get((a, b), [])[:100]} if a != b else {})}
                          for (a, b), n in sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0]))]}


def _cell(text: str, name: str, attrs: AttributeDictionary, file: str, line: int) -> Any:
    """One CSV cell as a typed value (None when blank); the dictionary then checks its range."""
    text = text.strip()
    if text == "":
        return None
    kind = attrs[name].type
    try:
        if kind == "boolean":
            low = text.lower()
            if low in TRUE:
                return True
            if low in FALSE:
                return False
            raise ValueError
        if kind == "integer":
            f = float(text)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if kind == "number":
            return float(text) if not float(text).is_integer() else int(float(text))
    except ValueError:
        raise InputError.of("bad-value", f"{name}: {text!r} is not {attrs[name].range_text()}", file, line) from None
    return text


def _check_columns(columns: list[str], attrs: AttributeDictionary, file: str) -> str | None:
    """The id column, after refusing any column that is not an attribute."""
    if not columns:
        raise InputError.of("bad-cohort", "the cohort file has no columns", file, 1)
    for c in columns:
        if c not in attrs and c not in ID_COLUMNS:
            raise InputError.of("unknown-attribute", f"cohort column {c!r} is not an attribute in the dictionary",
                                file, 1, did_you_mean(c, attrs.names()) or "see policies/attributes.yaml")
    return next((c for c in ID_COLUMNS if c in columns), None)


def read_parquet(path: Path, attrs: AttributeDictionary) -> list[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    file = display_path(path)
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise InputError.of("unreadable-file", f"cannot read cohort {file}: {exc}") from None
    id_col = _check_columns(table.column_names, attrs, file)
    out = []
    for i, row in enumerate(table.to_pylist()):
        facts = {c: v for c, v in row.items() if c in attrs}
        for c, v in facts.items():  # Parquet has no booleans-as-text problem, but integers may be floats
            if v is not None and attrs[c].type == "integer" and isinstance(v, float) and v.is_integer():
                facts[c] = int(v)
        rid = str(row[id_col]) if id_col and row.get(id_col) is not None else str(i + 1)
        try:
            out.append((rid, validate_patient(facts, attrs, file)))
        except InputError as exc:
            raise InputError.of("bad-value", f"row {i + 1} ({rid}): {exc.problems[0].message}", file) from None
    return out


def read_cohort(path: Path, attrs: AttributeDictionary) -> list[tuple[str, dict[str, Any]]]:
    """(row id, checked facts) for every row; InputError naming the file, line and column otherwise."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return read_parquet(path, attrs)
    file = display_path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError.of("file-not-found" if isinstance(exc, FileNotFoundError) else "unreadable-file",
                            f"cannot read cohort {file}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        id_col = _check_columns(list(reader.fieldnames or []), attrs, file)
        out = []
        for i, row in enumerate(reader):
            line = reader.line_num
            if None in row:
                raise InputError.of("bad-cohort", "the row has more cells than the header", file, line)
            facts = LDict({c: _cell(v or "", c, attrs, file, line) for c, v in row.items() if c in attrs})
            facts.key_lines = {c: line for c in facts}
            rid = (row.get(id_col) or "").strip() if id_col else str(i + 1)
            out.append((rid or str(i + 1), validate_patient(facts, attrs, file)))
    return out


def cohort_moves(path: Path, rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary) -> CohortMoves:
    rows = read_cohort(path, attrs)
    result = CohortMoves(display_path(path), len(rows))
    for rid, facts in rows:
        pair = (decide(rv_a, facts).outcome, decide(rv_b, facts).outcome)
        result.moves[pair] += 1
        if pair[0] != pair[1]:
            result.moved_ids.setdefault(pair, []).append(rid)
    return result
