"""Where the shipped data is: the one place that finds `policies/` and the report templates.

Both are package data (in a wheel they sit inside the `engine` package; in a checkout
`engine/policies` and `engine/reports/templates` are links to the top-level folders), so they
are found with `importlib.resources` whether the engine runs from a checkout or an install.
Part of the base layer (with engine.errors, engine.settings, engine.extras): every package may use it.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped_policies_dir() -> Path:
    """The policies, attribute dictionary, routing, screening and formulary shipped with the engine."""
    return Path(str(files("engine") / "policies")).resolve()


def policies_dir() -> Path:
    """`$CPE_POLICIES` when set (another commissioner's folder), else the shipped policies."""
    from engine.settings import setting

    env = setting("policies")
    return Path(env) if env else shipped_policies_dir()


def templates_dir() -> Path:
    """The Jinja2 report templates (`*.html.j2`, `*.md.j2`) and their stylesheet."""
    return Path(str(files("engine.reports") / "templates")).resolve()
