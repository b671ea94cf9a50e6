"""Compile a policy version to DuckDB SQL, where NULL is Kleene's unknown.

`select_sql(rv, source)` gives one query over a table or subquery of patients (a column
per attribute, NULL = unknown): a three-valued column per criterion, `outcome` and `route`.
"""
from __future__ import annotations

from typing import Any

from engine.compile.columns import Lowered, lower
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"CAST({v!r} AS DOUBLE)"
    return "'" + str(v).replace("'", "''") + "'"


class SQL:
    """The Algebra of engine.compile.columns, printing DuckDB SQL text."""

    def col(self, name: str) -> str:
        return quote(name)

    def lit(self, value: Any) -> str:
        return literal(value)

    def compare(self, op: str, x: str, value: Any) -> str:
        return f"({x} {_OPS[op]} {literal(value)})"

    def isin(self, x: str, values: tuple) -> str:
        return f"({x} IN ({', '.join(literal(v) for v in values)}))"

    def and_(self, xs: list[str]) -> str:
        return xs[0] if len(xs) == 1 else "(" + " AND ".join(xs) + ")"

    def or_(self, xs: list[str]) -> str:
        return xs[0] if len(xs) == 1 else "(" + " OR ".join(xs) + ")"

    def not_(self, x: str) -> str:
        return f"(NOT {x})"

    def code(self, scope: str | None, met: str) -> str:
        # False 0, True 1, NULL 2, with the operand written once (a CASE would repeat it, and
        # nested policy references would repeat it again at every level)
        c = lambda x: f"coalesce(CAST({x} AS TINYINT), 2)"  # noqa: E731
        return f"(3 + {c(met)})" if scope is None else f"(3 * {c(scope)} + {c(met)})"

    def lookup(self, code: str, values: list[Any], kind: str) -> str:
        typ = {"bool": "BOOLEAN", "int": "INTEGER", "str": "VARCHAR"}[kind]
        items = ", ".join("NULL" if v is None else literal(v) for v in values)
        return f"(CAST([{items}] AS {typ}[])[{code} + 1])"   # lists are 1-based


def lowered(rv: ResolvedVersion) -> Lowered[str]:
    return lower(program(rv), SQL())


def select_sql(rv: ResolvedVersion, source: str, keep: list[str] | tuple[str, ...] = ("id",),
               criteria: bool = True, prefix: str = "") -> str:
    """SELECT keep…, one column per criterion (`prefix` + id), outcome, route FROM source.

    `source` must have a column for every attribute the version reads (NULL when unknown).
    """
    low = lowered(rv)
    inner = [quote(k) for k in keep]
    if criteria:   # each criterion once; the code then from those columns (Lowered.code_from)
        inner += [f"{e} AS {quote(prefix + cid)}" for cid, e in low.criteria]
        source = f"(SELECT {', '.join(inner)} FROM {source}) AS __k"
        code = low.code_from(lambda cid: quote(prefix + cid))
        inner = [quote(k) for k in keep] + [quote(prefix + cid) for cid, _ in low.criteria]
    else:
        code = low.code
    inner.append(f"{code} AS __code")
    outer = [quote(k) for k in keep]
    if criteria:
        outer += [quote(prefix + cid) for cid, _ in low.criteria]
    b = "__code"
    outer += [f"{low.outcome_of(b)} AS {quote(prefix + 'outcome')}", f"{low.route_of(b)} AS {quote(prefix + 'route')}"]
    return (f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {source}) AS __c")
