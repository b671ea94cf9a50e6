"""Compiled evaluation: one compiled form (engine.compile.ir), several backends.

`BACKENDS` maps a backend name to the module that prints the compiled form for it; the
module is imported only when asked for, so heavy libraries stay out of cold start.
"""
from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS: dict[str, str] = {
    "python": "engine.compile.to_python",   # one patient at a time (generated source)
    "duckdb": "engine.compile.to_sql",      # cohorts: DuckDB SQL, NULL is unknown
    "polars": "engine.compile.to_polars",   # cohorts: polars expressions
    "spark": "engine.compile.to_spark",     # cohorts: PySpark column expressions
}


def backend(name: str) -> ModuleType:
    """The backend module for `name` (KeyError names the choices)."""
    if name not in BACKENDS:
        raise KeyError(f"no backend {name!r}; choose from {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name])
