"""Read policy, attribute and case files into validated models; every error names file and line."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.errors import InputError, Location, Problem
from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.model.policy import Policy
from engine.language.source import LDict, LList, display_path, line_of, load_file

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


def _describe(err: dict) -> str:
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
        out.append(Problem(code, text, Location(file, line_of(data, err["loc"]))))
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
    """The policy model and the located raw data (kept for later located checks)."""
    data = load_file(path)
    file = display_path(path)
    if not isinstance(data, dict):
        raise InputError.of("invalid-policy", "a policy file must be a mapping", file)
    return validate(Policy, data, file, "invalid-policy"), data


NodeLines = dict[int, tuple[int, dict]]


def _pair(lines: NodeLines, node: Any, data: Any, line: int | None) -> None:
    """Record a node's line and its keys' lines, then its children's, walking model and data together."""
    if line:
        lines[id(node)] = (line, getattr(data, "key_lines", {}))
    if not isinstance(data, LDict):
        return
    for key, attr in (("all", "all"), ("any", "any")):
        if key in data and hasattr(node, attr):
            for i, child in enumerate(getattr(node, attr)):
                _pair(lines, child, data[key][i], data[key].item_lines[i])
    for key, attr in (("not", "not_"), ("if", "if_"), ("then", "then")):
        if key in data and hasattr(node, attr):
            _pair(lines, getattr(node, attr), data[key], data.key_lines[key])


def criteria_lines(nodes: tuple, raw_list: Any, lines: NodeLines | None = None) -> NodeLines:
    """id(node) → (its line, the lines of its keys) for a list of criteria and its located raw list."""
    lines = {} if lines is None else lines
    if isinstance(raw_list, LList):
        for node, data, line in zip(nodes, raw_list, raw_list.item_lines):
            _pair(lines, node, data, line)
    return lines


def node_lines(policy: Policy, raw: Any) -> NodeLines:
    """The lines of every criterion node in every version of a policy file (see criteria_lines)."""
    lines: NodeLines = {}
    for v, vraw in zip(policy.versions, raw.get("versions", [])):
        for key in ("criteria", "scope_criteria"):
            criteria_lines(getattr(v, key) or (), vraw.get(key), lines)
        for ch, craw in zip(v.changes, vraw.get("changes", [])):
            if ch.replace is not None:
                _pair(lines, ch.replace.with_, craw["replace"]["with"], craw["replace"].key_lines["with"])
            if ch.add is not None:
                _pair(lines, ch.add.criterion, craw["add"]["criterion"], craw["add"].key_lines["criterion"])
    return lines
