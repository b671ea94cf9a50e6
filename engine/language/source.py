"""Read YAML or JSON keeping the line of every mapping key and list item.

pydantic reports errors by path (`versions.1.criteria.0.op`); `line_of` turns that path
into a line in the file, so every error can point at the text the author must change.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from engine.errors import InputError, Location, Problem


class LDict(dict):
    """A dict that remembers its own line and the line of each key."""

    line: int = 0
    key_lines: dict


class LList(list):
    """A list that remembers its own line and the line of each item."""

    line: int = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LDict:
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark)
        if key in out:
            raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LList:
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
# Dates stay strings: the models parse them, so a bad date is reported like any bad value.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.of("file-not-found", f"no such file: {display_path(path)}") from None
    except IsADirectoryError:
        raise InputError.of("unreadable-file", f"{display_path(path)} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.of("unreadable-file", f"cannot read {display_path(path)}: {exc}") from None


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML (JSON is YAML too) into LDict/LList, or raise InputError with the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - safe loader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = (exc.problem or str(exc)).strip()
        raise InputError(Problem("invalid-yaml", msg, Location(file, line))) from None
    except yaml.YAMLError as exc:
        raise InputError.of("invalid-yaml", str(exc).strip(), file) from None


def load_file(path: Path) -> Any:
    """Read a YAML or JSON file into located data."""
    text = read_text(path)
    name = display_path(path)
    if path.suffix.lower() == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError.of("invalid-json", exc.msg, name, exc.lineno) from None
    return parse_yaml(text, name)


def line_of(data: Any, loc: tuple) -> int | None:
    """The line of the deepest node along a pydantic error path that we know the line of."""
    line = getattr(data, "line", None) or None
    node = data
    for part in loc:
        if isinstance(node, LDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            # pydantic inserts union tags and validator names into paths: skip them
            continue
    return line
