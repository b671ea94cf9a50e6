"""Optional parts of the engine (pip extras) and the one message given when a command needs one
that is not installed. The core (rules, evaluation, explanation, look-up, text and Markdown
reports) needs none of them. Part of the base layer: imports nothing from the engine.
"""
from __future__ import annotations

# top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRA_OF_MODULE: dict[str, str] = {
    "duckdb": "cohort", "pyarrow": "cohort", "numpy": "cohort", "polars": "cohort",
    "z3": "smt",
    "weasyprint": "pdf",
    "sqlalchemy": "register", "alembic": "register", "durable": "register", "holidays": "register",
    "psycopg": "postgres",
    "fastapi": "service", "starlette": "service", "uvicorn": "service", "multipart": "service",
    "nhsuk_frontend_jinja": "service", "httpx": "service", "argon2": "service", "itsdangerous": "service",
    "pyspark": "spark",
}


def missing_extra(exc: ImportError) -> str | None:
    """The one-line message for an import that failed because an extra is not installed, else None."""
    module = (getattr(exc, "name", None) or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return (f"this needs the optional '{extra}' part of cpe, which is not installed (no module {module!r}): "
            f"pip install 'cpe[{extra}]'")
