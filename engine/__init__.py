"""cpe: NHS commissioning policies and formularies as reviewed YAML rules, decided exactly, with reasons.

The public API: what code built on the engine needs, importable from `engine` alone.

    import datetime, engine
    suite = engine.load_suite()                                    # the shipped policies
    rv = suite.select("assisted-conception", on=datetime.date(2019, 6, 1))
    patient = engine.validate_patient({"age": 34}, suite.attributes)  # InputError on bad input
    d = engine.decide(rv, patient, datetime.date(2019, 6, 1))
    d.outcome is engine.Outcome.insufficient_information          # True; engine.explain(d) in words
    engine.diff(rv_a, rv_b, suite.attributes).equivalent
    engine.lookup("agomelatine")[0].status_id                    # "red"

Packages, in the order data flows: `language` (read, validate, resolve, evaluate, decide,
explain), `analysis` (diff, lint, example cases), `formulary`, `ifr` (routing, screening),
`reports` (rendering); then the adapters: `compile`, `cohort`, `fhir`, `register`, `service`,
`cli`. Names are loaded on first use, so `import engine` stays cheap.
"""
from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.language.vocabulary import Commissioning, CriterionStatus, Outcome, Provenance, Route, VersionStatus

if TYPE_CHECKING:
    from engine.analysis.diff import DiffResult, diff
    from engine.errors import InputError
    from engine.formulary.lookup import Match, lookup
    from engine.language.decide import decide
    from engine.language.decision import Decision
    from engine.language.patient import Patient, validate_patient
    from engine.language.resolve import ResolvedVersion
    from engine.language.suite import Suite

try:
    from importlib.metadata import version as _version

    __version__ = _version("cpe")
except Exception:  # running from a checkout that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "Suite": "engine.language.suite", "ResolvedVersion": "engine.language.resolve",
    "Patient": "engine.language.patient", "validate_patient": "engine.language.patient",
    "decide": "engine.language.decide", "Decision": "engine.language.decision",
    "InputError": "engine.errors",
    "diff": "engine.analysis.diff", "DiffResult": "engine.analysis.diff",
    "lookup": "engine.formulary.lookup", "Match": "engine.formulary.lookup",
}

__all__ = ["Commissioning", "CriterionStatus", "Decision", "DiffResult", "InputError", "Match", "Outcome",
           "Patient", "Provenance", "ResolvedVersion", "Route", "Suite", "VersionStatus", "__version__",
           "decide", "diff", "explain", "load_suite", "lookup", "validate_patient"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def load_suite(root: str | Path | None = None) -> Suite:
    """The policy suite: `root` (a policies folder), else `$CPE_POLICIES`, else the shipped policies.
    Policies are read and validated on first use; bad files raise InputError naming file and line."""
    from engine.language.suite import Suite

    return Suite(Path(root) if root is not None else None)


def explain(decision: Decision) -> str:
    """A decision in words, as `cpe evaluate` prints it: outcome, route, each criterion, what is missing."""
    from engine.language.explain import decision_text

    return "\n".join(text for _, text in decision_text(decision))


