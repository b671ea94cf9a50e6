"""A change under each reading of ambiguous wording.

A criterion may declare `readings` (engine.language.model.criteria.Reading): alternative ways to
read its words, one of them encoded by the criterion's own rule. Decisions always use that one.
Here a version is *read as* another reading (the criterion's rule swapped for the reading's, its
wording and provenance kept), and a diff or a cohort count is made under every combination of
readings the two versions declare, so a "clarification" that changes access under one reading
shows as such.

A reading is named `criterion:reading` (e.g. `childless:patient_alone`). A criterion with the
same id in both versions is read the same way on both sides.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from engine.analysis.diff import DiffResult, diff
from engine.language.model.attributes import AttributeDictionary
from engine.language.model.criteria import AllOf, AnyOf, IfThen, Node, Not, Reading, encoded_reading, walk
from engine.language.resolve import ResolvedVersion, digest

MAX_COMBINATIONS = 16   # readings multiply; past this the analysis says so instead of running


@dataclass(frozen=True)
class ReadingChoice:
    """One reading of every criterion that declares readings: criterion id -> reading id."""

    choice: tuple[tuple[str, str], ...]
    meanings: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{c}:{r}" for c, r in self.choice) or "as encoded"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "readings": dict(self.choice), "meanings": dict(self.meanings)}


@dataclass
class ReadingDiff:
    reading: ReadingChoice
    encoded: bool          # every criterion read as its own rule encodes it
    result: DiffResult
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. cohort moves under this reading

    def to_json(self) -> dict[str, Any]:
        return {**self.reading.to_json(), "encoded": self.encoded, "diff": self.result.to_json(), **self.extra}


def declared(rv: ResolvedVersion) -> dict[str, tuple[Reading, ...]]:
    """Criterion id -> its readings, for every criterion of a version that declares some."""
    return {n.id: n.readings for top in (*rv.scope_criteria, *rv.criteria) for n in walk(top)
            if n.id and n.readings}


def choices(*versions: ResolvedVersion) -> list[ReadingChoice]:
    """Every combination of the readings the versions declare, the encoded one first."""
    found: dict[str, tuple[Reading, ...]] = {}
    for rv in versions:  # a criterion in both versions: the union of its readings, the first's first
        for cid, rs in declared(rv).items():
            known = {r.id for r in found.get(cid, ())}
            found[cid] = (*found.get(cid, ()), *(r for r in rs if r.id not in known))
    if not found:
        return [ReadingChoice(())]
    ids = sorted(found)
    ordered = [sorted(found[c], key=lambda r: r.rule is not None) for c in ids]  # encoded first
    combos = list(itertools.product(*ordered))
    if len(combos) > MAX_COMBINATIONS:
        from engine.errors import InputError

        raise InputError.of("too-many-readings", f"{len(combos)} combinations of readings "
                            f"(criteria {', '.join(ids)}): at most {MAX_COMBINATIONS} are analysed")
    return [ReadingChoice(tuple((c, r.id) for c, r in zip(ids, combo)),
                          tuple((f"{c}:{r.id}", r.meaning) for c, r in zip(ids, combo))) for combo in combos]


def read_as(rv: ResolvedVersion, choice: Mapping[str, str], strict: bool = True) -> ResolvedVersion:
    """The version with each named criterion's rule replaced by the chosen reading's rule.

    The criterion keeps its id, wording, provenance and citation; the encoded reading leaves it
    as it is. An unknown reading of a declared criterion is an InputError, unless not `strict`:
    then that criterion is read as encoded (a draft that re-declared its readings differently).
    """
    def swap(n: Node) -> Node:
        if n.id in choice and n.readings:
            want = choice[n.id]  # type: ignore[index]
            r = next((x for x in n.readings if x.id == want), None)
            if r is None and not strict:
                return n
            if r is None:
                from engine.errors import InputError

                raise InputError.of("unknown-reading", f"criterion {n.id!r} has no reading {want!r}",
                                    hint="readings: " + ", ".join(x.id for x in n.readings))
            if r.rule is None:
                return n
            keep = {"id": n.id, "text": n.text, "provenance": n.provenance, "citation": n.citation,
                    "note": f"read as: {r.meaning}", "readings": None}
            return r.rule.model_copy(update=keep)
        return _rebuild(n, swap)

    criteria = tuple(swap(n) for n in rv.criteria)
    scope = tuple(swap(n) for n in rv.scope_criteria)
    if criteria == rv.criteria and scope == rv.scope_criteria:
        return rv
    out = replace(rv, criteria=criteria, scope_criteria=scope, digest="")
    return replace(out, digest=digest(out))


def _rebuild(n: Node, f: Callable[[Node], Node]) -> Node:
    """The node with `f` applied to each child (the same object when nothing changes)."""
    if isinstance(n, AllOf):
        kids = tuple(f(c) for c in n.all)
        return n if kids == n.all else n.model_copy(update={"all": kids})
    if isinstance(n, AnyOf):
        kids = tuple(f(c) for c in n.any)
        return n if kids == n.any else n.model_copy(update={"any": kids})
    if isinstance(n, Not):
        kid = f(n.not_)
        return n if kid == n.not_ else n.model_copy(update={"not_": kid})
    if isinstance(n, IfThen):
        a, b = f(n.if_), f(n.then)
        return n if (a, b) == (n.if_, n.then) else n.model_copy(update={"if_": a, "then": b})
    return n


def diff_by_reading(rv_a: ResolvedVersion, rv_b: ResolvedVersion, attrs: AttributeDictionary,
                    method: str = "auto") -> list[ReadingDiff]:
    """The diff under every combination of readings (one entry, 'as encoded', when none is declared)."""
    out = []
    for ch in choices(rv_a, rv_b):
        picked = dict(ch.choice)
        a, b = read_as(rv_a, picked, strict=False), read_as(rv_b, picked, strict=False)
        encoded = all(_is_encoded(rv, picked) for rv in (rv_a, rv_b))
        out.append(ReadingDiff(ch, encoded, diff(a, b, attrs, method=method)))
    return out


def _is_encoded(rv: ResolvedVersion, picked: Mapping[str, str]) -> bool:
    for cid, rs in declared(rv).items():
        enc = next((r for r in rs if r.rule is None), None)
        if cid in picked and enc is not None and picked[cid] != enc.id:
            return False
    return True


__all__ = ["ReadingChoice", "ReadingDiff", "choices", "declared", "diff_by_reading", "encoded_reading",
           "read_as"]
