"""Reading a cohort file: CSV or Parquet, one row per patient, a column per attribute.

Blanks are unknown. An optional `id` (or `patient_id`) column names the rows (else the row
number does).
Every other column must be an attribute of the dictionary, and every value must fit its
type and range, exactly as for a single patient: bad input is refused with the file, row,
column and value, never evaluated.

Nothing is loaded: the file stays on disk and embedded DuckDB scans it, in parallel and in
vectors, each time a query runs over the view `cohort`. Peak memory is DuckDB's
`memory_limit` (the `--memory` option), not the cohort's size. The view carries, beside each
typed column, a flag `__bad__<column>` for a value that does not fit, so a command checks the
file in the same pass that evaluates it (`check_aggregates`, `raise_first_bad`). A command checks
the columns it reads (an evaluation cannot be changed by a column it never looks at, and parsing
forty columns to use eight made a 10 M-row impact four times slower). Every column's name is
always checked against the dictionary.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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
DEFAULT_MEMORY = "1GB"          # DuckDB's memory_limit: what bounds a run's peak memory
ROW_GROUP = 122_880             # rows per Parquet row group written (DuckDB's own default)
Progress = Callable[[float], None]   # called with the share done, 0..1


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def bad_flag(name: str) -> str:
    """The view's column that is true where `name`'s value does not fit the dictionary."""
    return _q(f"__bad__{name}")


def _parse(a: Attribute, raw: str) -> tuple[str, str]:
    """(typed SQL expression, SQL condition that the raw text is not a valid value) for one column.

    The typed expression is only trusted once no row fails the condition, so it need not check."""
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
    if a.type == "integer" and st in _INTEGER_TYPES:   # whole already: only the range to check
        rng = [f"{col} < {a.min!r}"] * (a.min is not None) + [f"{col} > {a.max!r}"] * (a.max is not None)
        return col, f"({' OR '.join(rng)})" if rng else "FALSE"
    if a.type in ("integer", "number") and numeric:
        d = f"CAST({col} AS DOUBLE)"
        return (f"CAST({col} AS BIGINT)" if a.type == "integer" else d), f"({col} IS NOT NULL AND {_bad_number(a, d)})"
    return None


def connect(memory: str = DEFAULT_MEMORY, threads: int | None = None) -> Any:
    """An embedded DuckDB bounded to `memory` (e.g. '1GB'), spilling to a temporary directory."""
    import tempfile

    import duckdb

    try:
        con = duckdb.connect(config={"memory_limit": memory, "threads": threads or os.cpu_count() or 1,
                                     "temp_directory": tempfile.gettempdir() + f"/cpe-duckdb-{os.getpid()}"})
    except duckdb.Error as exc:
        raise InputError.of("bad-option", f"--memory {memory!r}: {str(exc).strip().splitlines()[0]}") from None
    # our progress bar is on stderr, and only on a terminal; DuckDB's own printing stays off
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    return con


@dataclass
class Cohort:
    """A cohort file behind DuckDB view `cohort`: `__row` (1-based), `id`, the typed attribute
    columns, and `__bad__<column>` flags. `rows` is known once a pass has counted them."""

    path: Path
    con: Any
    attrs: AttributeDictionary
    columns: list[str] = field(default_factory=list)
    has_id: bool = False
    rows: int | None = None
    scans: list[str] = field(default_factory=list)
    scan_k: int = 0
    raws: dict[str, str] = field(default_factory=dict)
    id_sql: str = "NULL"

    @property
    def parquet(self) -> bool:
        return self.path.suffix.lower() in (".parquet", ".pq")

    def checked(self, needed: list[str] | None = None) -> list[str]:
        """The file's columns a command reading `needed` checks (all of them when None)."""
        return list(self.columns) if needed is None else [n for n in self.columns if n in set(needed)]

    def source_sql(self, needed: list[str]) -> str:
        """A subquery with __row, id, every `needed` attribute (NULL-typed where not in the
        file) and the bad-value flags of those in the file."""
        cols = ["__row", "id"] + [_q(a) if a in self.columns else
                                  f"CAST(NULL AS {SQL_TYPE[self.attrs[a].type]}) AS {_q(a)}" for a in needed]
        cols += [bad_flag(n) for n in self.checked(needed)]
        return f"(SELECT {', '.join(cols)} FROM {TABLE})"

    def check_aggregates(self, needed: list[str] | None = None) -> list[str]:
        """Aggregate expressions giving, per checked column, the first bad row (or NULL)."""
        return [f"min(__row) FILTER (WHERE {bad_flag(n)})" for n in self.checked(needed)]

    def raise_first_bad(self, firsts: list[Any], needed: list[str] | None = None) -> None:
        """Refuse the file at the first bad value, given `check_aggregates(needed)`' results."""
        found = [(row, n) for n, row in zip(self.checked(needed), firsts) if row is not None]
        if not found:
            return
        row, n = min(found)
        value = self.execute(f"SELECT {self.raws[n]} FROM raw WHERE __r0 = {row - 1}").fetchall()[0][0]
        line = None if self.parquet else row + 1   # the header is line 1
        raise InputError.of("bad-value", f"row {row}, column {n!r}: {value!r} is not "
                                         f"{self.attrs[n].range_text()}", display_path(self.path), line)

    def check(self, progress: Progress | None = None, needed: list[str] | None = None) -> Cohort:
        """One pass over the file: count the rows and refuse it at its first bad value (in the
        columns `needed`, else in any column)."""
        got = self.execute(f"SELECT {', '.join(['count(*)'] + self.check_aggregates(needed))} FROM {TABLE}",
                           progress).fetchall()[0]
        self.raise_first_bad(list(got[1:]), needed)
        self.rows = got[0]
        return self

    def ids_of(self, rows: list[int]) -> dict[int, str]:
        """The id of each given row (1-based): a scan that reads those rows only."""
        if not rows:
            return {}
        wanted = ", ".join(str(int(r) - 1) for r in sorted(set(rows)))
        got = self.execute(f"SELECT __r0 + 1, {self.id_sql} FROM raw WHERE __r0 IN ({wanted})").fetchall()
        return dict(got)

    def arrow(self, needed: list[str]) -> Any:
        """The whole checked cohort as an Arrow table (small cohorts and tests only)."""
        cols = ", ".join(["__row", "id"] + [_q(a) for a in needed])
        if self.rows is None:
            self.check()
        return self.con.sql(f"SELECT {cols} FROM {self.source_sql(needed)} ORDER BY __row").to_arrow_table()

    def execute(self, sql: str, progress: Progress | None = None) -> Any:
        """Run a query over the file. A typed CSV read that meets a value its guessed type
        cannot hold is read again as text, where the checks name the row and value."""
        import duckdb

        while True:
            try:
                return _run(self.con, sql, progress)
            except duckdb.Error as exc:
                if isinstance(exc, (duckdb.InterruptException, duckdb.OutOfMemoryException)):
                    raise
                if self.scan_k + 1 < len(self.scans):
                    self.scan_k += 1
                    self.define()
                    continue
                msg = str(exc).strip().splitlines()[0]
                raise InputError.of("bad-cohort", f"cannot read {self.path}: {msg}") from None

    def define(self) -> None:
        """(Re)create the views `raw` (the file, numbered from 0) and `cohort` (typed, flagged)."""
        import duckdb

        scan = self.scans[self.scan_k]
        number = "file_row_number" if self.parquet else "row_number() OVER () - 1"
        try:
            self.con.execute(f"CREATE OR REPLACE VIEW raw AS SELECT *, {number} AS __r0 FROM {scan}")
            described = self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        except duckdb.Error as exc:
            if self.scan_k + 1 < len(self.scans):
                self.scan_k += 1
                return self.define()
            msg = str(exc).strip().splitlines()[0]
            raise InputError.of("bad-cohort", f"cannot read {self.path}: {msg}") from None
        names = [r[0] for r in described if r[0] != "file_row_number"]
        types = {r[0]: r[1] for r in described}
        id_col = next((n for n in ID_COLUMNS if n in names), None)
        for n in names:
            if n != id_col and n not in self.attrs:
                raise InputError.of("unknown-attribute",
                                    f"{self.path}: column {n!r} is not an attribute in the dictionary",
                                    hint=did_you_mean(n, self.attrs.names() + ["id"]) or "see policies/attributes.yaml")
        self.columns = [n for n in names if n != id_col]
        self.has_id = id_col is not None
        self.raws = {n: f"NULLIF(TRIM(CAST({_q(n)} AS VARCHAR)), '')" for n in names}
        parsed = {n: _native(self.attrs[n], types[n], _q(n)) or _parse(self.attrs[n], self.raws[n])
                  for n in self.columns}
        rowno = "CAST(__r0 + 1 AS VARCHAR)"
        self.id_sql = f"COALESCE({self.raws[id_col]}, {rowno})" if id_col else rowno
        cols = ["__r0 + 1 AS __row", f"{self.id_sql} AS id"]
        cols += [f"CAST({parsed[n][0]} AS {SQL_TYPE[self.attrs[n].type]}) AS {_q(n)}" for n in self.columns]
        cols += [f"COALESCE({parsed[n][1]}, FALSE) AS {bad_flag(n)}" for n in self.columns]
        self.con.execute(f"CREATE OR REPLACE VIEW {TABLE} AS SELECT {', '.join(cols)} FROM raw")


def _run(con: Any, sql: str, progress: Progress | None) -> Any:
    """con.execute(sql), polling DuckDB's progress from this thread while it runs in another."""
    if progress is None:
        return con.execute(sql)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = con.execute(sql)
        except BaseException as exc:  # handed back to the caller's thread below
            box["error"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.2)
        done = con.query_progress() if t.is_alive() else 100.0
        if done >= 0:
            progress(min(done, 100.0) / 100)
    if "error" in box:
        raise box["error"]
    return box["result"]


def _csv_header(path: Path) -> list[str]:
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def open_cohort(path: Path, attrs: AttributeDictionary, memory: str = DEFAULT_MEMORY,
                threads: int | None = None) -> Cohort:
    """The cohort file behind a view, its header checked (InputError naming a bad column); no
    row is read yet: every later query scans the file and checks its values as it goes."""
    path = Path(path)
    if not path.exists():
        raise InputError.of("bad-cohort", f"no cohort file {path}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        scans = [f"read_parquet({_s(str(path))}, file_row_number=true)"]
    elif suffix in (".csv", ".tsv", ".txt"):
        # typed read first (fast; typed columns are checked natively); ids and enums stay text.
        # If DuckDB's type guess fails on some row, the file is read again as text and checked
        # here, which names the row and value (Cohort.execute).
        text = {n: "VARCHAR" for n in _csv_header(path) if n in ID_COLUMNS or (n in attrs and attrs[n].type in
                                                                                ("enum", "string"))}
        types = ("{" + ", ".join(f"{_s(n)}: 'VARCHAR'" for n in text) + "}") if text else None
        scans = [f"read_csv({_s(str(path))}, header=true{', types=' + types if types else ''})",
                 f"read_csv({_s(str(path))}, header=true, all_varchar=true)"]
    else:
        raise InputError.of("bad-cohort", f"{path}: a cohort must be a .csv or .parquet file")
    cohort = Cohort(path, connect(memory, threads), attrs, scans=scans)
    cohort.define()
    return cohort


def read_cohort(path: Path, attrs: AttributeDictionary, memory: str = DEFAULT_MEMORY,
                threads: int | None = None, progress: Progress | None = None) -> Cohort:
    """Open a cohort file and check every value in one streaming pass (InputError on bad input)."""
    return open_cohort(path, attrs, memory, threads).check(progress)


def copy_to(cohort: Cohort, sql: str, out: Path, progress: Progress | None = None) -> None:
    """Write a query's rows to `out` as they come: Parquet in row groups, or CSV with a header."""
    fmt = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE " + str(ROW_GROUP) \
        if out.suffix.lower() in (".parquet", ".pq") else "FORMAT csv, HEADER"
    try:
        cohort.execute(f"COPY ({sql}) TO {_s(str(out))} ({fmt})", progress)
    except InputError as exc:
        if out.parent.exists() and os.access(out.parent, os.W_OK):
            raise
        raise InputError.of("unwritable-file", f"cannot write {out}") from exc
