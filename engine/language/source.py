"""The one strict reader of patient, FHIR and policy files: every value as a person wrote it.

JSON is read by a JSON parser (duplicate keys refused); YAML by a YAML 1.2 core-schema loader
(`042` is 42, `1:10`, `0x22`, `3_4` and `yes` stay text for the models to refuse, only the core
tags, no aliases). Both are bounded: size, nesting depth, keys per mapping, nodes, the length of
a number; text with a NUL or a lone surrogate is refused. Every refusal is one located
InputError (exit 2 / HTTP 422), the same on the CLI and the API.

Mappings and lists (engine.language.span: LDict, LList) keep their file and the line and
column of every key and item: models validated from them carry a Span, and pydantic's error
paths (`versions.1.criteria.0.op`) become a line and column by `position_of`.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent

from engine.errors import InputError, Location, Problem
from engine.language.span import LDict, LList, line_of, position_of

MAX_BYTES = 4 * 1024 * 1024      # a file or a request body
MAX_DEPTH = 64                   # mappings and lists inside each other
MAX_KEYS = 2000                  # keys in one mapping
MAX_NODES = 500_000              # values in one document
MAX_NUMBER = 40                  # characters in one number


def bad_text(s: str) -> str | None:
    """Why a string cannot be stored as text (a NUL, a lone surrogate), or None when it can."""
    if "\x00" in s:
        return "text contains a NUL character"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "text contains a lone surrogate (not a character)"
    return None


# -- YAML: the 1.2 core schema, decimal numbers only --------------------------------------------
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_TAG = "tag:yaml.org,2002:"


def read_number(text: str) -> int | float:
    """A number typed by a person (a form field): plain decimal notation, finite, at most
    MAX_NUMBER characters; ValueError for anything else (`3_4`, `1,5`, `0x22`, `nan`, `1e400`),
    where Python's float() would read some of them as a different number."""
    t = text.strip()
    if len(t) > MAX_NUMBER or not _FLOAT.match(t) or t[-1] in "fFnN":
        raise ValueError(text)
    if _INT.match(t):
        return int(t)
    x = float(t)
    if not math.isfinite(x):
        raise ValueError(text)
    return x


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core: null, bool, int and float as the core schema writes them; the rest is text.
    (Integers in decimal only: `0x22` and `0o42` stay text, so no base is ever guessed.)"""


for _tag, _rx, _first in (("null", _NULL, ["~", "n", "N", ""]), ("bool", _BOOL, list("tTfF")),
                          ("int", _INT, list("-+0123456789")), ("float", _FLOAT, list("-+0123456789."))):
    _Resolver.add_implicit_resolver(_TAG + _tag, _rx, _first)


class _Constructor(yaml.constructor.BaseConstructor):
    _file: str | None = None  # the file's name as messages show it, recorded on every LDict/LList

    def _scalar(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise ConstructorError(None, None, f"{_short(node.tag)} needs a plain value", node.start_mark)
        return node.value

    def _str(self, node: yaml.Node) -> str:
        value = self._scalar(node)
        _at(node, bad_text(value))
        return value

    def _null(self, node: yaml.Node) -> None:
        _at(node, None if _NULL.match(self._scalar(node)) else f"{node.value!r} is not null")

    def _bool(self, node: yaml.Node) -> bool:
        value = self._scalar(node)
        _at(node, None if _BOOL.match(value) else f"{value!r} is not true or false")
        return value.lower() == "true"

    def _number(self, node: yaml.Node, pattern: re.Pattern, what: str) -> str:
        value = self._scalar(node)
        _at(node, None if pattern.match(value) else f"{value!r} is not {what}")
        _at(node, f"a number of more than {MAX_NUMBER} characters" if len(value) > MAX_NUMBER else None)
        return value

    def _int(self, node: yaml.Node) -> int:
        return int(self._number(node, _INT, "an integer"))

    def _float(self, node: yaml.Node) -> float:
        text = self._number(node, _FLOAT if _FLOAT.match(self._scalar(node)) else _INT, "a number")
        if text[-1] in "fFnN":  # .inf, .nan: the core schema's words, refused by the checks that name the field
            return -math.inf if text[0] == "-" else math.inf if text[-1] in "fF" else math.nan
        value = float(text)
        if not math.isfinite(value):
            raise ConstructorError(None, None, f"the number {text} is out of range", node.start_mark)
        return value

    def _map(self, node: yaml.Node) -> LDict:
        if not isinstance(node, yaml.MappingNode):
            raise ConstructorError(None, None, "!!map needs a mapping", node.start_mark)
        if len(node.value) > MAX_KEYS:
            raise ConstructorError(None, None, f"a mapping of more than {MAX_KEYS} keys", node.start_mark)
        out = LDict()
        out.file, out.line, out.column = self._file, node.start_mark.line + 1, node.start_mark.column + 1
        out.key_lines, out.key_columns = {}, {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark)
            if key in out:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
            out.key_columns[key] = key_node.start_mark.column + 1
        return out

    def _seq(self, node: yaml.Node) -> LList:
        if not isinstance(node, yaml.SequenceNode):
            raise ConstructorError(None, None, "!!seq needs a list", node.start_mark)
        out = LList(self.construct_object(child, deep=True) for child in node.value)
        out.file, out.line, out.column = self._file, node.start_mark.line + 1, node.start_mark.column + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        out.item_columns = [child.start_mark.column + 1 for child in node.value]
        return out

    def _refuse(self, node: yaml.Node) -> None:
        raise ConstructorError(None, None, f"the tag {_short(node.tag)} is not allowed (only the YAML core "
                               "tags: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)", node.start_mark)


for _tag, _fn in (("str", _Constructor._str), ("null", _Constructor._null), ("bool", _Constructor._bool),
                  ("int", _Constructor._int), ("float", _Constructor._float), ("map", _Constructor._map),
                  ("seq", _Constructor._seq)):
    _Constructor.add_constructor(_TAG + _tag, _fn)  # type: ignore[type-var]  # stubs want the base signature
_Constructor.add_constructor(None, _Constructor._refuse)  # type: ignore[type-var]


def _at(node: yaml.Node, why: str | None) -> None:
    """Raise the located YAML error `why` at `node`, if there is one."""
    if why:
        raise ConstructorError(None, None, why, node.start_mark)


def _short(tag: str | None) -> str:
    return "!!" + tag[len(_TAG):] if tag and tag.startswith(_TAG) else str(tag)


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
              _Constructor, _Resolver):
    """A bounded composer: no aliases, no deeper than MAX_DEPTH, no more than MAX_NODES values."""

    def __init__(self, stream: str, file: str | None = None):
        self._file = file
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed: write the value out", mark)
        self._nodes += 1
        if self._depth >= MAX_DEPTH or self._nodes > MAX_NODES:
            what = f"nested more than {MAX_DEPTH} levels deep" if self._depth >= MAX_DEPTH else \
                f"more than {MAX_NODES} values"
            raise ComposerError(None, None, what, mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# -- files ---------------------------------------------------------------------------------------
def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working directory where possible; a
    shipped file as `policies/...`, never the absolute install path."""
    from engine.data import shipped_policies_dir

    try:
        full = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return str(path) if not path.is_absolute() else path.name
    for root, shown in ((Path.cwd().resolve(), None), (shipped_policies_dir(), "policies"),
                        (Path(__file__).resolve().parents[1], "engine")):
        try:
            rel = full.relative_to(root)
        except ValueError:
            continue
        return str(Path(shown, rel)) if shown else str(rel)
    return str(path)


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A regular file's text (UTF-8), at most `limit` bytes; never blocks on a FIFO or a device."""
    name = display_path(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise InputError.of("unreadable-file", f"{name} is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise InputError.of("unreadable-file", f"{name} is not a regular file (a device, FIFO or socket)")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError.of("file-not-found", f"no such file: {name}") from None
    except OSError as exc:
        raise InputError.of("unreadable-file", f"cannot read {name}: {exc.strerror or 'unreadable'}") from None
    if len(data) > limit:
        raise InputError.of("file-too-large", f"{name} is larger than {limit // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError.of("unreadable-file", f"{name} is not UTF-8 text (byte {exc.start})") from None


def parse_yaml(text: str, file: str | None) -> Any:
    """Parse YAML into LDict/LList under the 1.2 core schema, or raise InputError with the line."""
    if len(text) > MAX_BYTES:
        raise InputError.of("file-too-large", f"larger than {MAX_BYTES // 1024} KiB", file)
    loader = _Loader(text, file)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        msg = " ".join((exc.problem or str(exc)).split())
        raise InputError(Problem("invalid-yaml", msg, where)) from None
    except yaml.YAMLError as exc:
        raise InputError.of("invalid-yaml", " ".join(str(exc).split()), file) from None
    except RecursionError:
        raise InputError.of("invalid-yaml", f"nested more than {MAX_DEPTH} levels deep", file) from None
    finally:
        loader.dispose()


# -- JSON ----------------------------------------------------------------------------------------
class _Refused(ValueError):
    """A JSON document the hooks below will not read."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_KEYS:
        raise _Refused(f"an object of more than {MAX_KEYS} keys")
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Refused(f"duplicate key {k!r}")
        out[k] = v
    return out


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER:
        raise _Refused(f"a number of more than {MAX_NUMBER} characters")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMBER:
        raise _Refused(f"a number of more than {MAX_NUMBER} characters")
    x = float(text)
    if not math.isfinite(x):
        raise _Refused(f"the number {text} is out of range")
    return x


def _json_constant(name: str) -> Any:
    raise _Refused(f"{name} is not valid JSON")


def _line(node: Any) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _col(node: Any) -> int:
    return node.start_mark.column + 1 if node is not None else 0


def _located(value: Any, node: Any, depth: int, count: list[int], file: str | None = None, check: bool = True) -> Any:
    """The parsed JSON as LDict/LList, lines taken from the YAML node tree of the same text (when
    there is one), checking depth, size and (unless `check` is False: see _clean_text) text on the way."""
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep" if depth > MAX_DEPTH else
                       f"more than {MAX_NODES} values")
    if isinstance(value, str):
        return _text(value) if check else value
    if isinstance(value, dict):
        return _located_dict(value, node, depth, count, file, check)
    if isinstance(value, list):
        items = node.value if isinstance(node, yaml.SequenceNode) and len(node.value) == len(value) else None
        lst = LList(_located(v, items[i] if items else None, depth + 1, count, file, check)
                    for i, v in enumerate(value))
        lst.file, lst.line, lst.column = file, _line(node), _col(node)
        lst.item_lines = [_line(n) for n in items] if items else [0] * len(value)
        lst.item_columns = [_col(n) for n in items] if items else [0] * len(value)
        return lst
    return value


def _located_dict(value: dict[str, Any], node: Any, depth: int, count: list[int], file: str | None,
                  check: bool) -> LDict:
    pairs = node.value if isinstance(node, yaml.MappingNode) and len(node.value) == len(value) else None
    out = LDict((_text(k) if check else k, _located(v, pairs[i][1] if pairs else None, depth + 1, count, file, check))
                for i, (k, v) in enumerate(value.items()))
    out.file, out.line, out.column = file, _line(node), _col(node)
    out.key_lines = {k: _line(pairs[i][0]) for i, k in enumerate(value)} if pairs else dict.fromkeys(value, 0)
    out.key_columns = {k: _col(pairs[i][0]) for i, k in enumerate(value)} if pairs else dict.fromkeys(value, 0)
    return out


def _text(s: str) -> str:
    why = bad_text(s)
    if why:
        raise _Refused(why)
    return s


def _clean_text(text: str) -> bool:
    """Whether no string parsed from this JSON text can hold a NUL or a lone surrogate: those come only
    from such a character in the text or a \\u escape, so a text with neither needs no check of each
    string (parse_json on a CDS Hooks request: a tenth of the call's time)."""
    return "\\u" not in text and bad_text(text) is None


def _nodes(text: str) -> Any:
    """The YAML node tree of a JSON text, for its lines only (raw tabs in valid JSON are blanks)."""
    loader = _Loader(text.replace("\t", " "))
    try:
        return loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        return None
    finally:
        loader.dispose()


def parse_json(text: str | bytes, file: str | None = None, *, lines: bool = False) -> Any:
    """Parse JSON strictly (no duplicate keys, no NaN, bounded numbers, depth and size), or raise
    InputError. With `lines`, mappings and lists are LDict/LList that know their lines."""
    if len(text) > MAX_BYTES:
        raise InputError.of("file-too-large", f"larger than {MAX_BYTES // 1024} KiB", file)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError.of("invalid-json", f"not UTF-8 text (byte {exc.start})", file) from None
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
        return _located(data, _nodes(text) if lines else None, 0, [0], file, check=not _clean_text(text))
    except json.JSONDecodeError as exc:
        raise InputError(Problem("invalid-json", f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
                                 Location(file, exc.lineno, exc.colno))) from None
    except _Refused as exc:
        raise InputError.of("invalid-json", str(exc), file) from None
    except RecursionError:
        raise InputError.of("invalid-json", f"nested more than {MAX_DEPTH} levels deep", file) from None


def load_file(path: Path) -> Any:
    """Read a YAML or JSON file into located data (JSON by the JSON parser, by its suffix)."""
    text = read_text(path)
    name = display_path(path)
    if path.suffix.lower() == ".json":
        return parse_json(text, name, lines=True)
    return parse_yaml(text, name)


__all__ = ["LDict", "LList", "line_of", "position_of", "bad_text", "display_path", "load_file",
           "parse_json", "parse_yaml", "read_number", "read_text"]
