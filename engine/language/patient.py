"""Patient facts: a mapping of attribute name to value, checked against the dictionary.

Absent or null means unknown. Anything else must be a name in the dictionary, of the
right type and inside the allowed range; otherwise the input is refused (exit 2) so that
bad input never produces a decision.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import InputError, Location, Problem, did_you_mean
from engine.language.check import value_fits
from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import _fmt
from engine.language.source import display_path, load_file
from engine.language.span import place

Patient = dict[str, Any]
MAX_PROBLEMS = 20  # a file of a thousand unknown names is refused after this many, not hinted one by one


def validate_patient(facts: Mapping[str, Any], attrs: AttributeDictionary, file: str | None = None) -> Patient:
    """Checked facts with unknowns (None) dropped; InputError naming the attribute otherwise."""
    if not isinstance(facts, Mapping):
        raise InputError(Problem("bad-patient", "a patient must be a mapping of attribute name to value",
                                 Location(file, *place(facts))))
    problems: list[Problem] = []
    out: Patient = {}
    for name, value in facts.items():
        if len(problems) >= MAX_PROBLEMS:
            problems.append(Problem("bad-patient", f"… and more: stopped after {MAX_PROBLEMS} problems",
                                    Location(file)))
            break
        where = Location(file, *place(facts, name))
        if not isinstance(name, str) or name not in attrs:
            problems.append(Problem("unknown-attribute", f"attribute {_fmt(name)[:80]!r} is not in the dictionary",
                                    where, did_you_mean(str(name)[:80], attrs.names()) or
                                    "see policies/attributes.yaml"))
            continue
        if value is None:
            continue
        a = attrs[name]
        why = value_fits(a, value)
        if why is None and a.type in ("integer", "number"):
            if (a.min is not None and value < a.min) or (a.max is not None and value > a.max):
                why = f"{_fmt(value)} is outside the allowed range"
        if why:
            problems.append(Problem("bad-value", f"{name}: {why}", where, f"allowed: {a.range_text()}"))
            continue
        out[name] = int(value) if a.type == "integer" else value
    if problems:
        raise InputError(problems)
    return out


def read_patient(path: Path, attrs: AttributeDictionary) -> Patient:
    data = load_file(path)
    if data is None:
        data = {}
    return validate_patient(data, attrs, display_path(path))
