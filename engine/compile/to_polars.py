"""Compile a policy version to polars expressions (null is Kleene's unknown in &, | and ~).

`evaluate_frame(rv, frame)` adds a three-valued Boolean column per criterion, `outcome` and
`route` to a frame (eager or lazy) with a column per attribute the version reads.
"""
from __future__ import annotations

from typing import Any

import polars as pl

from engine.compile.columns import Lowered, lower
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

_OPS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}


class Polars:
    """The Algebra of engine.compile.columns, building polars expressions."""

    def col(self, name: str) -> pl.Expr:
        return pl.col(name)

    def lit(self, value: Any) -> pl.Expr:
        return pl.lit(value)

    def compare(self, op: str, x: pl.Expr, value: Any) -> pl.Expr:
        return getattr(x, _OPS[op])(pl.lit(value))

    def isin(self, x: pl.Expr, values: tuple) -> pl.Expr:
        return x.is_in(list(values))

    def and_(self, xs: list[pl.Expr]) -> pl.Expr:
        out = xs[0]
        for x in xs[1:]:
            out = out & x
        return out

    def or_(self, xs: list[pl.Expr]) -> pl.Expr:
        out = xs[0]
        for x in xs[1:]:
            out = out | x
        return out

    def not_(self, x: pl.Expr) -> pl.Expr:
        return ~x

    def code(self, scope: pl.Expr | None, met: pl.Expr) -> pl.Expr:
        c = lambda x: x.cast(pl.UInt32).fill_null(2)  # noqa: E731  (False 0, True 1, null 2; gather's index type)
        return c(met) + 3 if scope is None else c(scope) * 3 + c(met)

    def lookup(self, code: pl.Expr, values: list[Any], kind: str) -> pl.Expr:
        # outcomes and routes as an Enum: one byte per row rather than a string
        dtype = pl.Enum(sorted(set(values))) if kind == "str" else {"bool": pl.Boolean, "int": pl.Int8}[kind]
        return pl.lit(pl.Series(values, dtype=dtype)).gather(code)


def lowered(rv: ResolvedVersion) -> Lowered[pl.Expr]:
    return lower(program(rv), Polars())


def evaluate_frame(rv: ResolvedVersion, frame: pl.DataFrame | pl.LazyFrame, criteria: bool = True,
                   prefix: str = "", route: bool = True) -> pl.DataFrame | pl.LazyFrame:
    """The frame with a column per criterion (`prefix` + id), `outcome` and `route` added.

    Within one version the route is a function of the outcome (Lowered.route_by_outcome), so
    `route=False` leaves that column out when only the outcome is wanted (it saves a pass).
    """
    low = lowered(rv)
    cols = [e.alias(prefix + cid) for cid, e in low.criteria] if criteria else []
    if criteria:   # criteria first, then the outcome from those columns: each is computed once
        frame = frame.with_columns(*cols).with_columns(low.code_from(lambda cid: pl.col(prefix + cid)).alias("__code"))
    else:
        frame = frame.with_columns(low.code.alias("__code"))
    c = pl.col("__code")
    out = [low.outcome_of(c).alias(prefix + "outcome")] + ([low.route_of(c).alias(prefix + "route")] if route else [])
    return frame.with_columns(*out).drop("__code")
