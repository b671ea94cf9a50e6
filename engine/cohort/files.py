"""Reading a cohort file: CSV or Parquet, one row per patient, a column per attribute.

Blanks are unknown. An optional `id` (or `patient_id`) column names the rows (else the row
number does).
Every other column must be an attribute of the dictionary, and every value must fit its
type and range, exactly as for a single patient: bad input is refused with the file, row,
column and value, never evaluated. The checked rows live in an embedded DuckDB table.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InputError, did_you_mean
from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.source import display_path

SQL_TYPE = {"boolean": "BOOLEAN", "integer": "BIGINT", "number": "DOUBLE", "enum": "VARCHAR", "string": "VARCHAR"}
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
TABLE = "cohort"
ID_COLUMNS = ("id", "patient_id")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parse(a: Attribute, raw: str) -> tuple[str, str]:
    """(typed SQL expression, SQL condition that the raw text is not a valid value) for one column.

    The typed expression is only used once no row fails the condition, so it need not check."""
    t = a.type
    if t == "boolean":
        low = f"lower({raw})"
        typed = (f"CASE WHEN {low} IN ({', '.join(map(_s, TRUE_WORDS))}) THEN TRUE "
                 f"WHEN {low} IN ({', '.join(map(_s, FALSE_WORDS))}) THEN FALSE END")
        return typed, f"({raw} IS NOT NULL AND ({typed}) IS NULL)"
    if t in ("integer", "number"):
        d = f"TRY_CAST({raw} AS DOUBLE)"
        return (f"CAST({d} AS BIGINT)" if t == "integer" else d), f"({raw} IS NOT NULL AND {_bad_number(a, d)})"
    if t == "enum":
        return raw, f"({raw} IS NOT NULL AND {raw} NOT IN ({', '.join(map(_s, a.values or ()))}))"
    return raw, "FALSE"


def _bad_number(a: Attribute, d: str) -> str:
    bad = [f"{d} IS NULL", f"isnan({d})", f"isinf({d})"]
    if a.type == "integer":
        bad.append(f"{d} <> floor({d})")
    if a.min is not None:
        bad.append(f"{d} < {a.min!r}")
    if a.max is not None:
        bad.append(f"{d} > {a.max!r}")
    return "(" + " OR ".join(bad) + ")"


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT"}


def _native(a: Attribute, sql_type: str, col: str) -> tuple[str, str] | None:
    """(typed, bad) for a column already typed in the file (Parquet), or None to read it as text."""
    st = sql_type.upper()
    numeric = st in _INTEGER_TYPES or st in ("FLOAT", "DOUBLE") or st.startswith("DECIMAL")
    if a.type == "boolean" and st == "BOOLEAN":
        return col, "FALSE"
    if a.type in ("integer", "number") and numeric:
        d = f"CAST({col} AS DOUBLE)"
        return (f"CAST({col} AS BIGINT)" if a.type == "integer" else d), f"({col} IS NOT NULL AND {_bad_number(a, d)})"
    return None


@dataclass
class Cohort:
    """A checked cohort in DuckDB table `cohort`: `__row` (1-based), `id`, then attribute columns."""

    path: Path
    con: Any
    attrs: AttributeDictionary
    columns: list[str]
    rows: int
    has_id: bool

    def source_sql(self, needed: list[str]) -> str:
        """A subquery with every `needed` attribute (NULL-typed columns for those not in the file)."""
        extra = [f"CAST(NULL AS {SQL_TYPE[self.attrs[a].type]}) AS {_q(a)}" for a in needed if a not in self.columns]
        cols = ", ".join(["*"] + extra)
        return f"(SELECT {cols} FROM {TABLE})"

    def arrow(self, needed: list[str]):
        return self.con.sql(f"SELECT * FROM {self.source_sql(needed)} ORDER BY __row").to_arrow_table()


def _csv_header(path: Path) -> list[str]:
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def read_cohort(path: Path, attrs: AttributeDictionary) -> Cohort:
    """Load and check a cohort file (InputError naming the column or value on bad input)."""
    import duckdb

    path = Path(path)
    if not path.exists():
        raise InputError.of("bad-cohort", f"no cohort file {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        scans = [f"read_parquet({_s(str(path))})"]
    elif suffix in (".csv", ".tsv", ".txt"):
        # typed read first (fast; typed columns are checked natively); ids and enums stay text.
        # If DuckDB's type guess fails on some row, read everything as text and check it here,
        # which names the row and value.
        text = {n: "VARCHAR" for n in _csv_header(path) if n in ID_COLUMNS or (n in attrs and attrs[n].type in
                                                                                ("enum", "string"))}
        types = ("{" + ", ".join(f"{_s(n)}: 'VARCHAR'" for n in text) + "}") if text else None
        scans = [f"read_csv({_s(str(path))}, header=true{', types=' + types if types else ''})",
                 f"read_csv({_s(str(path))}, header=true, all_varchar=true)"]
    else:
        raise InputError.of("bad-cohort", f"{path}: a cohort must be a .csv or .parquet file")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")   # ours is on stderr, and only on a terminal
    for k, scan in enumerate(scans):
        try:
            con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT * FROM {scan}")
            break
        except duckdb.Error as exc:
            if k == len(scans) - 1:
                msg = str(exc).strip().splitlines()[0]
                raise InputError.of("bad-cohort", f"cannot read {path}: {msg}") from None
    described = con.execute("DESCRIBE raw").fetchall()
    names = [r[0] for r in described]
    types = {r[0]: r[1] for r in described}
    id_col = next((n for n in ID_COLUMNS if n in names), None)
    for n in names:
        if n != id_col and n not in attrs:
            raise InputError.of("unknown-attribute", f"{path}: column {n!r} is not an attribute in the dictionary",
                                hint=did_you_mean(n, attrs.names() + ["id"]) or "see policies/attributes.yaml")
    columns = [n for n in names if n != id_col]
    raws = {n: f"NULLIF(TRIM(CAST({_q(n)} AS VARCHAR)), '')" for n in names}
    parsed = {n: _native(attrs[n], types[n], _q(n)) or _parse(attrs[n], raws[n]) for n in columns}
    if columns:
        firsts = ", ".join(f"min(CASE WHEN {parsed[n][1]} THEN rowid END)" for n in columns)
        bad_rows = con.execute(f"SELECT {firsts} FROM raw").fetchall()[0]
        found = [(row, n) for n, row in zip(columns, bad_rows) if row is not None]
        if found:
            row, n = min(found)
            value = con.execute(f"SELECT {raws[n]} FROM raw WHERE rowid = {row}").fetchall()[0][0]
            line = row + 2 if suffix not in (".parquet", ".pq") else None   # the header is line 1
            raise InputError.of("bad-value", f"row {row + 1}, column {n!r}: {value!r} is not "
                                             f"{attrs[n].range_text()}", display_path(path), line)
    has_id = id_col is not None
    id_sql = f"COALESCE({raws[id_col]}, CAST(rowid + 1 AS VARCHAR))" if id_col else "CAST(rowid + 1 AS VARCHAR)"
    typed = ", ".join(["rowid + 1 AS __row", f"{id_sql} AS id"] +
                      [f"CAST({parsed[n][0]} AS {SQL_TYPE[attrs[n].type]}) AS {_q(n)}" for n in columns])
    con.execute(f"CREATE TABLE {TABLE} AS SELECT {typed} FROM raw ORDER BY rowid")
    con.execute("DROP TABLE raw")
    rows = con.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
    return Cohort(path, con, attrs, columns, rows, has_id)
