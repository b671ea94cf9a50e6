"""IFR screening: point at the stated grounds that cannot make a case exceptional.

A request's grounds (free text) are split into sentences and matched against the
non-qualifying reasons and the service-development signs of `policies/ifr-screening.yaml`.
The result flags and explains; it never judges exceptionality: sentences that match
nothing are handed to the panel to weigh, not approved.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.language.load import validate
from engine.ifr.screening_model import Reason, ScreeningRules
from engine.language.source import display_path, load_file

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


@dataclass(frozen=True)
class Flag:
    """One sentence of the grounds that reads as a non-qualifying reason."""

    reason: str
    label: str
    explanation: str
    sentence: str
    phrase: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Screening:
    grounds: str
    flags: tuple[Flag, ...]
    service_development: tuple[Flag, ...]
    for_panel: tuple[str, ...]
    source: str

    @property
    def reasons(self) -> list[str]:
        """Ids of the non-qualifying reasons found, in the file's order of first appearance."""
        out: list[str] = []
        for f in self.flags:
            if f.reason not in out:
                out.append(f.reason)
        return out

    @property
    def is_service_development(self) -> bool:
        return bool(self.service_development)

    @property
    def summary(self) -> str:
        if not self.grounds.strip():
            return ("No grounds were stated. An individual funding request must state why the patient is "
                    "exceptional.")
        parts = []
        if self.is_service_development:
            parts.append("The request reads as one for a group of patients: a service development, not an IFR.")
        if self.flags and not self.for_panel:
            parts.append("Every sentence of the grounds uses the wording of a reason that does not, on its own, make "
                         "a case exceptional; read each in full, as a sentence may also hold other grounds.")
        elif self.flags:
            labels = []
            for f in self.flags:
                if f.label not in labels:
                    labels.append(f.label)
            n = len(self.for_panel)
            parts.append(f"Flagged as not making a case exceptional: {'; '.join(labels).lower()}. "
                         f"{n} sentence{'s' if n != 1 else ''} remain{'s' if n == 1 else ''} for the panel to weigh.")
        else:
            parts.append("No non-qualifying reason flagged; the grounds remain for the panel to weigh.")
        parts.append("Screening flags wording only; it does not judge exceptionality.")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"grounds": self.grounds, "summary": self.summary, "reasons": self.reasons,
                "flags": [f.to_json() for f in self.flags],
                "service_development": self.is_service_development,
                "service_development_flags": [f.to_json() for f in self.service_development],
                "for_panel": list(self.for_panel), "source": self.source}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


def _match(reason: Reason, sentence: str) -> Flag | None:
    for rx in reason.compiled():
        m = rx.search(sentence)
        if m:
            return Flag(reason.id, reason.label, reason.explanation, sentence, m.group(0))
    return None


def screen(grounds: str, rules: ScreeningRules | None = None) -> Screening:
    """Flag each sentence of `grounds` against every non-qualifying reason and service-development sign."""
    rules = rules or load_screening()
    flags: list[Flag] = []
    group: list[Flag] = []
    for_panel: list[str] = []
    for s in sentences(grounds):
        hits = [f for r in rules.non_qualifying if (f := _match(r, s))]
        sd = _match(rules.service_development, s)
        flags += hits
        if sd:
            group.append(sd)
        if not hits and not sd:
            for_panel.append(s)
    return Screening(grounds or "", tuple(flags), tuple(group), tuple(for_panel), rules.source)


def default_path() -> Path:
    from engine.language.suite import default_policies_dir

    return default_policies_dir() / "ifr-screening.yaml"


def load_screening(path: Path | None = None) -> ScreeningRules:
    path = path or default_path()
    return _load(path, _stamp(path))


def _stamp(path: Path) -> tuple[int, int]:
    """Cache key beside the path, so an edited file is read again."""
    try:
        st = path.stat()
    except OSError:
        return (0, 0)  # load_file reports the missing file
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int]) -> ScreeningRules:
    return validate(ScreeningRules, load_file(path), display_path(path))
