"""Compile a policy version to polars expressions (null is Kleene's unknown in &, | and ~).

`evaluate_frame(rv, frame)` adds a three-valued Boolean column per criterion, `outcome` and
`route` to a frame (eager or lazy) with a column per attribute the version reads.
"""
from __future__ import annotations

from typing import Any

import polars as pl

from engine.compile.columns import Lowered, lower
from engine.compile.ir import program
from engine.resolve import ResolvedVersion

_OPS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}


class Polars:
    """The Algebra of engine.compile.columns, building polars expressions."""

    def col(self, name: str) -> pl.Expr:
        return pl.col(name)

    def lit(self, value: Any) -> pl.Expr:
        return pl.lit(value)

    def null_bool(self) -> pl.Expr:
        return pl.lit(None, dtype=pl.Boolean)

    def null_str(self) -> pl.Expr:
        return pl.lit(None, dtype=pl.String)

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

    def is_true(self, x: pl.Expr) -> pl.Expr:
        return x.fill_null(False)

    def is_false(self, x: pl.Expr) -> pl.Expr:
        return (~x).fill_null(False)

    def is_in_ints(self, x: pl.Expr, values: tuple[int, ...]) -> pl.Expr:
        return x == values[0] if len(values) == 1 else x.is_in(list(values))

    def case(self, whens: list[tuple[pl.Expr, pl.Expr]], default: pl.Expr) -> pl.Expr:
        if not whens:
            return default
        (c, v), rest = whens[0], whens[1:]
        chain = pl.when(c).then(v)
        for c, v in rest:
            chain = chain.when(c).then(v)
        return chain.otherwise(default)


def lowered(rv: ResolvedVersion) -> Lowered[pl.Expr]:
    return lower(program(rv), Polars())


def evaluate_frame(rv: ResolvedVersion, frame: pl.DataFrame | pl.LazyFrame, criteria: bool = True,
                   prefix: str = "") -> pl.DataFrame | pl.LazyFrame:
    """The frame with a column per criterion (`prefix` + id), `outcome` and `route` added."""
    low = lowered(rv)
    cols = [e.alias(prefix + cid) for cid, e in low.criteria] if criteria else []
    b = pl.col("__branch")
    return (frame.with_columns(*cols, low.branch.cast(pl.Int8).alias("__branch"))
            .with_columns(low.outcome_of(b).alias(prefix + "outcome"), low.route_of(b).alias(prefix + "route"))
            .drop("__branch"))
