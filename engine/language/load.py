"""Read policy, attribute and case files into validated models; every error names file, line and column.

A model validated from the reader's located data carries its own Span (engine.language.span).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import InputError, Location, Problem
from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.model.policy import Policy
from engine.language.source import LDict, display_path, load_file
from engine.language.span import position_of

M = TypeVar("M", bound=BaseModel)


_TAGS = {"all", "any", "not", "if", "compare", "policy"}


def _path(loc: tuple) -> str:
    """The error path without the union tags pydantic inserts (`compare`, or a tag before its own field)."""
    parts: list[str] = []
    for i, p in enumerate(loc):
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if p == "compare" or (p in _TAGS and nxt == p) or (isinstance(p, str) and p.startswith("function-")):
            continue
        parts.append(str(p))
    return ".".join(parts)


def _describe(err: Any) -> str:
    loc = _path(err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return f"{loc}: {msg}" if loc else msg


def problems_from(exc: ValidationError, data: Any, file: str | None, code: str = "invalid-file") -> list[Problem]:
    """pydantic errors → located problems, one per distinct path, in file order."""
    out: list[Problem] = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        text = _describe(err)
        if text in seen:
            continue
        seen.add(text)
        out.append(Problem(code, text, Location(file, *position_of(data, err["loc"]))))
    out.sort(key=lambda p: p.location.line or 0)
    return out


def validate(model: type[M], data: Any, file: str, code: str = "invalid-file") -> M:
    """Validate located data into `model`, raising InputError with file:line for each fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, data, file, code)) from None


def load_attributes(path: Path) -> AttributeDictionary:
    data = load_file(path)
    file = display_path(path)
    if not isinstance(data, dict):
        raise InputError.of("invalid-file", "the attribute dictionary must be a mapping of name to attribute", file)
    attrs: dict[str, Attribute] = {}
    problems: list[Problem] = []
    for name, spec in data.items():
        line = data.key_lines.get(name) if isinstance(data, LDict) else None
        if not isinstance(spec, dict):
            problems.append(Problem("invalid-attribute", f"{name}: expected a mapping", Location(file, line)))
            continue
        try:
            attrs[name] = Attribute.model_validate({**spec, "name": name})
        except ValidationError as exc:
            for p in problems_from(exc, spec, file):
                p.message = f"{name}.{p.message}"
                p.code = "invalid-attribute"
                problems.append(p)
    if problems:
        raise InputError(problems)
    return AttributeDictionary(attributes=attrs)


def load_policy_file(path: Path) -> tuple[Policy, Any]:
    """The policy model (every node with its span) and the located raw data."""
    data = load_file(path)
    file = display_path(path)
    if not isinstance(data, dict):
        raise InputError.of("invalid-policy", "a policy file must be a mapping", file)
    return validate(Policy, data, file, "invalid-policy"), data
