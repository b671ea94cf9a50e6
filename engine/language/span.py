"""Where a value was written: file, line and column (1-based), from the reader to every message.

The reader (engine.language.source) returns `LDict`/`LList`: mappings and lists that know their
file and the line and column of themselves and of every key and item. A model validated from
them (`Spanned`: every criteria node, version and policy) keeps a `Span` in a private
attribute: not a field, so never in a dump, the canonical JSON or a digest, and never part of
equality; but kept by `model_copy`, `copy.deepcopy` and pickling (the suite snapshot), so a
restored suite still names file:line:column in every error, lint finding and explanation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, PrivateAttr, model_validator

from engine.errors import Location


class LDict(dict):
    """A dict that remembers its file, its own line and column, and those of each key."""

    file: str | None = None
    line: int = 0
    column: int = 0
    key_lines: dict
    key_columns: dict


class LList(list):
    """A list that remembers its file, its own line and column, and those of each item."""

    file: str | None = None
    line: int = 0
    column: int = 0
    item_lines: list
    item_columns: list


@dataclass(frozen=True)
class Span:
    """A node's place in its file, and the place of each of its keys (`attr`, `op`, `value`, ...)."""

    file: str | None
    line: int
    column: int
    keys: tuple[tuple[str, int, int], ...] = ()

    def at(self, *keys: str) -> Location:
        """The location of the first of `keys` the node was written with, else of the node."""
        for k in keys:
            for name, line, column in self.keys:
                if name == k and line:
                    return Location(self.file, line, column or None)
        return self.location

    @property
    def location(self) -> Location:
        return Location(self.file, self.line or None, self.column or None)

    def __str__(self) -> str:
        return str(self.location)


def span_of(data: Any) -> Span | None:
    """The span of located data (an LDict from the reader), or None for anything else."""
    if not isinstance(data, LDict) or not data.line:
        return None
    cols = getattr(data, "key_columns", {})
    return Span(data.file, data.line, data.column,
                tuple((str(k), ln, cols.get(k, 0)) for k, ln in getattr(data, "key_lines", {}).items()))


class Spanned(BaseModel):
    """A model that remembers where it was written (see the module docstring)."""

    _span: Span | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _locate(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        span = span_of(data)
        if span is not None and model is not data:
            model._span = span
        return model

    @property
    def span(self) -> Span | None:
        return self._span

    def at(self, *keys: str) -> Location:
        """Where the node (or the first of `keys` it has) was written; an empty Location when unknown."""
        return self._span.at(*keys) if self._span is not None else Location()

    def __eq__(self, other: object) -> bool:
        """Equal when the content is equal, wherever each was written (the span is not content)."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__


def place(data: Any, key: Any = None) -> tuple[int | None, int | None]:
    """(line, column) of located data, or of one of its keys (an LDict) or items (an LList)."""
    if key is None:
        return getattr(data, "line", None) or None, getattr(data, "column", None) or None
    return position_of(data, (key,)) if isinstance(data, (LDict, LList)) and _has(data, key) else (None, None)


def _has(data: LDict | LList, key: Any) -> bool:
    return key in data if isinstance(data, LDict) else isinstance(key, int) and 0 <= key < len(data)


def position_of(data: Any, loc: tuple) -> tuple[int | None, int | None]:
    """(line, column) of the deepest node along a pydantic error path whose place we know."""
    line, column = getattr(data, "line", None) or None, getattr(data, "column", None) or None
    node = data
    for part in loc:
        if isinstance(node, LDict) and part in node:
            if node.key_lines.get(part):
                line, column = node.key_lines[part], getattr(node, "key_columns", {}).get(part) or None
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            if node.item_lines[part]:
                line = node.item_lines[part]
                column = (getattr(node, "item_columns", None) or [0] * len(node))[part] or None
            node = node[part]
        else:
            # pydantic inserts union tags and validator names into paths: skip them
            continue
    return line, column


def line_of(data: Any, loc: tuple) -> int | None:
    """The line of the deepest node along a pydantic error path that we know the line of."""
    return position_of(data, loc)[0]
