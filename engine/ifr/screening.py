"""IFR screening: help the panel read a request's grounds, sentence by sentence.

A request's grounds (free text) are split into sentences, each sentence into clauses, and
matched against `policies/ifr-screening.yaml`:

- a *non-qualifying reason* (having the condition, wanting the treatment, being told one is
  suitable, distress) is flagged only where the clause *is* that reason: not where the same
  clause names a possible exceptionality ground ("diagnosed with haemophilia A, so the standard
  alternative carries a high bleeding risk" is a comorbidity changing the risk, not "having the
  condition"), and not where the phrase is negated ("not simply because she wants it");
- a *possible exceptionality ground* (another condition, a contraindication, a failed or unsafe
  standard treatment, an unusual response) is surfaced for the panel to weigh;
- a sign of a *service development* (a request for a group) is flagged.

Nothing is judged and nothing is hidden: every sentence is handed to the panel (`for_panel`),
each with what screening noticed in it (`readings`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.ifr.screening_model import Reason, ScreeningRules
from engine.language.load import validate
from engine.language.source import display_path, load_file

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# joins that start a new clause: a reason in one clause is not the context of a ground in another
_CLAUSE = re.compile(r";|\s+-\s+|,?\s+\b(?:but|although|though|however|whereas|while|yet)\b|,\s*(?:and|in addition)\b"
                     r"|\band\s+(?:separately|also|more importantly)\b|\band\s+(?=(?:she|he|they|the patient)\s)", re.IGNORECASE)
_NEGATION = {"not", "no", "never", "nor", "neither", "without", "none"}
_WORD = re.compile(r"[\w'-]+")
NEGATION_WINDOW = 6  # words before a phrase, within its clause, that can negate it


@dataclass(frozen=True)
class Flag:
    """One sentence of the grounds that reads as a non-qualifying reason (or a sign of a service
    development, or a possible ground to weigh: `reason` names which)."""

    reason: str
    label: str
    explanation: str
    sentence: str
    phrase: str

    def to_json(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Reading:
    """What screening noticed in one sentence; the sentence itself always goes to the panel."""

    sentence: str
    flags: tuple[Flag, ...] = ()        # non-qualifying reasons this sentence is
    grounds: tuple[Flag, ...] = ()      # possible exceptionality grounds to weigh
    service_development: Flag | None = None

    @property
    def kind(self) -> str:
        if self.grounds:
            return "ground_to_weigh"
        return "non_qualifying" if self.flags else "for_panel"

    def to_json(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "kind": self.kind, "flags": [f.to_json() for f in self.flags],
                "grounds": [g.to_json() for g in self.grounds],
                "service_development": self.service_development.to_json() if self.service_development else None}


@dataclass(frozen=True)
class Screening:
    grounds: str
    flags: tuple[Flag, ...]
    service_development: tuple[Flag, ...]
    for_panel: tuple[str, ...]          # every sentence, in order: screening never hides one
    source: str
    to_weigh: tuple[Flag, ...] = ()     # possible exceptionality grounds, in order
    readings: tuple[Reading, ...] = ()

    @property
    def reasons(self) -> list[str]:
        """Ids of the non-qualifying reasons found, in the file's order of first appearance."""
        return _ids(self.flags)

    @property
    def ground_kinds(self) -> list[str]:
        """Ids of the possible exceptionality grounds found, in order of first appearance."""
        return _ids(self.to_weigh)

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
        if self.to_weigh:
            labels = _labels(self.to_weigh)
            parts.append(f"Possible exceptionality grounds to weigh: {'; '.join(labels).lower()}.")
        if self.flags:
            parts.append(f"Flagged as not making a case exceptional on its own: {'; '.join(_labels(self.flags)).lower()}.")
        if not self.flags and not self.to_weigh:
            parts.append("No non-qualifying reason and no possible ground was recognised.")
        n = len(self.for_panel)
        parts.append(f"All {n} sentence{'s' if n != 1 else ''} go to the panel to weigh. Screening points at "
                     "wording only; it does not judge exceptionality.")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"grounds": self.grounds, "summary": self.summary, "reasons": self.reasons,
                "flags": [f.to_json() for f in self.flags],
                "grounds_to_weigh": [g.to_json() for g in self.to_weigh],
                "service_development": self.is_service_development,
                "service_development_flags": [f.to_json() for f in self.service_development],
                "for_panel": list(self.for_panel), "sentences": [r.to_json() for r in self.readings],
                "source": self.source}


def _ids(flags: tuple[Flag, ...]) -> list[str]:
    """Each flag's reason once, in order."""
    return list(dict.fromkeys(f.reason for f in flags))


def _labels(flags: tuple[Flag, ...]) -> list[str]:
    """Each flag's label once, in order."""
    return list(dict.fromkeys(f.label for f in flags))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


def clauses(sentence: str) -> list[str]:
    """A sentence split at contrastive or additive joins; causal links ("so", "which") stay together."""
    return [c.strip(" ,") for c in _CLAUSE.split(sentence) if c and c.strip(" ,")]


def negated(clause: str, start: int) -> bool:
    """Whether a negation stands within NEGATION_WINDOW words before position `start` of the clause."""
    before = _WORD.findall(clause[:start].lower())[-NEGATION_WINDOW:]
    return any(w in _NEGATION or w.endswith("n't") for w in before)


def _match(reason: Reason, clause: str, sentence: str) -> Flag | None:
    for rx in reason.compiled():
        for m in rx.finditer(clause):
            if not negated(clause, m.start()):
                return Flag(reason.id, reason.label, reason.explanation, sentence, m.group(0))
    return None


def read(sentence: str, rules: ScreeningRules) -> Reading:
    """One sentence: grounds to weigh per clause; a non-qualifying reason only in a clause without one."""
    flags: list[Flag] = []
    grounds: list[Flag] = []
    for clause in clauses(sentence):
        mine = [g for r in rules.grounds_to_weigh if (g := _match(r, clause, sentence))]
        grounds += [g for g in mine if g.reason not in {x.reason for x in grounds}]
        if not mine:
            flags += [f for r in rules.non_qualifying if (f := _match(r, clause, sentence))
                      and f.reason not in {x.reason for x in flags}]
    sd = _match(rules.service_development, sentence, sentence)
    return Reading(sentence, tuple(flags), tuple(grounds), sd)


def screen(grounds: str, rules: ScreeningRules | None = None) -> Screening:
    """Read each sentence of `grounds`; every sentence goes to the panel with what was noticed in it."""
    rules = rules or load_screening()
    readings = tuple(read(s, rules) for s in sentences(grounds))
    return Screening(grounds or "", tuple(f for r in readings for f in r.flags),
                     tuple(r.service_development for r in readings if r.service_development),
                     tuple(r.sentence for r in readings), rules.source,
                     tuple(g for r in readings for g in r.grounds), readings)


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
