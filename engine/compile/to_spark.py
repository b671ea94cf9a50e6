"""Compile a policy version to PySpark column expressions, for cohorts where NHS data lives
(Spark / Databricks). Spark SQL's AND, OR and NOT are Kleene's, with null as unknown.

`evaluate_frame(rv, df)` adds a three-valued Boolean column per criterion, `outcome` and
`route` to a Spark DataFrame with a column per attribute the version reads.
"""
from __future__ import annotations

from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.compile.columns import Lowered, lower
from engine.compile.ir import program
from engine.language.resolve import ResolvedVersion

_OPS = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}


class Spark:
    """The Algebra of engine.compile.columns, building PySpark Columns."""

    def col(self, name: str) -> Column:
        return F.col(f"`{name}`")

    def lit(self, value: Any) -> Column:
        return F.lit(value)

    def compare(self, op: str, x: Column, value: Any) -> Column:
        return getattr(x, _OPS[op])(F.lit(value))

    def isin(self, x: Column, values: tuple) -> Column:
        return x.isin(list(values))

    def and_(self, xs: list[Column]) -> Column:
        return reduce(lambda a, b: a & b, xs)

    def or_(self, xs: list[Column]) -> Column:
        return reduce(lambda a, b: a | b, xs)

    def not_(self, x: Column) -> Column:
        return ~x

    def code(self, scope: Column | None, met: Column) -> Column:
        c = lambda x: F.when(x.isNull(), F.lit(2)).when(x, F.lit(1)).otherwise(F.lit(0))  # noqa: E731
        return c(met) + 3 if scope is None else c(scope) * 3 + c(met)

    def lookup(self, code: Column, values: list[Any], kind: str) -> Column:
        typ = {"bool": "boolean", "int": "int", "str": "string"}[kind]
        return F.element_at(F.array(*[F.lit(v).cast(typ) for v in values]), code + 1)


def lowered(rv: ResolvedVersion) -> Lowered[Column]:
    return lower(program(rv), Spark())


def evaluate_frame(rv: ResolvedVersion, df: DataFrame, criteria: bool = True, prefix: str = "") -> DataFrame:
    """The DataFrame with a column per criterion (`prefix` + id), `outcome` and `route` added."""
    low = lowered(rv)
    cols = {prefix + cid: e for cid, e in low.criteria} if criteria else {}
    out = df.withColumns(cols)
    out = out.withColumn("__code", low.code_from(lambda cid: F.col(f"`{prefix + cid}`")) if criteria else low.code)
    b = F.col("__code")
    return out.withColumns({prefix + "outcome": low.outcome_of(b), prefix + "route": low.route_of(b)}).drop("__code")
