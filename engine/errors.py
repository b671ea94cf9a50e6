"""Errors the user can act on, each naming the file, line and what is wrong.

`Problem` is the one problem type: bad input, lint findings and register findings alike, each
with a stable code from the registry (engine.problems) that also gives its level.
`InputError` (exit 2) is bad input: a policy file, a patient file, an unknown id.
Anything else escaping the CLI is an engine fault (exit 1). Part of the base layer: every
package may use it; it imports only the base layer's registry of codes.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.problems import Level, level_of


@dataclass(frozen=True)
class Location:
    """file:line:column (1-based); the column only where the reader knew it."""

    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")
        return self.file or ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text safe on one line of a terminal or in a JSON body: control characters (newlines, escape
    sequences) and lone surrogates shown as escapes, never acted on."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@dataclass
class Problem:
    """One located, coded message: `file:line:column: code: message (hint)`; always printable on
    one line. `subject` names what is at fault when it is not a place in a file (a register
    record: `audit entry #3`). The level (error or warning) is the code's, from the registry."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    hint: str | None = None
    subject: str | None = None

    @property
    def level(self) -> Level:
        return level_of(self.code)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("message", "hint", "subject") and isinstance(value, str):
            value = printable(value)
        elif name == "location" and isinstance(value, Location) and value.file:
            value = Location(printable(value.file), value.line, value.column)
        super().__setattr__(name, value)

    def text(self, *, level: bool = False) -> str:
        """`where: [level: ]code: message (hint)`; where is the location, else the subject."""
        where = str(self.location) or self.subject or ""
        text = f"{self.level}: " if level else ""
        text += f"{self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{where}: {text}" if where else text

    def __str__(self) -> str:
        return self.text()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.subject:
            out["subject"] = self.subject
        if self.location.file:
            out["file"] = self.location.file
        if self.location.line:
            out["line"] = self.location.line
        if self.location.line and self.location.column:
            out["column"] = self.location.column
        if self.hint:
            out["hint"] = self.hint
        return out


class InputError(Exception):
    """Bad input from outside the engine; the CLI prints it on one line and exits 2."""

    exit_code = 2

    def __init__(self, problems: Problem | Iterable[Problem]):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems)

    def to_json(self) -> dict[str, object]:
        """`{"error": {"detail", "problems": [...]}}`: what `--format json` prints for bad input."""
        return {"error": {"detail": str(self), "problems": [p.to_json() for p in self.problems]}}

    @classmethod
    def of(cls, code: str, message: str, file: str | None = None, line: int | None = None,
           hint: str | None = None) -> InputError:
        return cls(Problem(code, message, Location(file, line), hint))


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str | None:
    """A 'did you mean' hint from the closest valid names, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
