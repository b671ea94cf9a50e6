"""Medicines and indications as concepts (`policies/formulary/<id>/terminology.yaml`).

A medicine is a substance (dm+d VTM) with its salts, synonyms and abbreviations, and its
products (dm+d VMP level: form, route, strength, release) with their brands (AMP level). An
indication is a concept with a preferred term, synonyms, abbreviations and lay terms, `broader`
concepts (a painful diabetic neuropathy is a kind of neuropathic pain), the conditions of its
population (`with`) and explicit `excludes` (non-cystic fibrosis bronchiectasis never matches
cystic fibrosis). `entries` links each formulary entry, by id, to its medicine, optionally a
product (a decision for a substance covers all its products unless it names one) and its
indication concepts. Every synonym, brand and code names a source from `sources`; a code is
given only where that source gives it.

The file is optional: without it every entry is its own concept, named by its free text.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.errors import InputError, Location, Problem


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Frozen):
    provenance: Literal["seed", "public", "comparator"]
    citation: str = Field(min_length=1)
    url: str | None = None


class Code(_Frozen):
    """A code a public source gives: `system` is `dmd` (dm+d VTM/VMP/AMP/ingredient ids, which are
    SNOMED CT identifiers) or `snomed` (SNOMED CT clinical findings)."""

    system: Literal["dmd", "snomed"]
    code: str = Field(pattern=r"^\d{6,18}$")
    display: str
    level: Literal["vtm", "vmp", "amp", "ingredient", "form", "route", "concept"] = "concept"
    source: str


class Term(_Frozen):
    """A name with its kind and source."""

    term: str = Field(min_length=1)
    kind: Literal["synonym", "abbreviation", "lay", "salt", "brand", "misspelling"] = "synonym"
    source: str
    note: str | None = None


class Product(_Frozen):
    id: str
    name: str
    form: str | None = None
    route: str | None = None
    strength: str | None = None
    brands: tuple[Term, ...] = ()
    codes: tuple[Code, ...] = ()
    source: str


class Medicine(_Frozen):
    id: str
    name: str = Field(description="the preferred (generic) name, lower case")
    kind: Literal["medicine", "device"] = "medicine"
    terms: tuple[Term, ...] = ()
    codes: tuple[Code, ...] = ()
    products: tuple[Product, ...] = ()
    source: str
    note: str | None = None


class Indication(_Frozen):
    id: str
    term: str = Field(description="the preferred term")
    terms: tuple[Term, ...] = ()
    broader: tuple[str, ...] = ()
    with_: tuple[str, ...] = Field((), alias="with")
    excludes: tuple[str, ...] = ()
    codes: tuple[Code, ...] = ()
    source: str
    note: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Link(_Frozen):
    medicine: str
    product: str | None = None
    indication: tuple[str, ...] = ()
    note: str | None = None


class Terminology(_Frozen):
    sources: dict[str, Source]
    medicines: tuple[Medicine, ...] = ()
    indications: tuple[Indication, ...] = ()
    entries: dict[str, Link] = {}

    @field_validator("medicines", "indications")
    @classmethod
    def _unique(cls, v: tuple[Any, ...]) -> tuple[Any, ...]:
        ids = [x.id for x in v]
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            raise ValueError(f"id(s) used twice: {', '.join(dupes)}")
        return v


def load_terminology(path: Path, entries: Iterable[Any]) -> Terminology | None:
    """The terminology file, checked against itself and the entries; None when there is none."""
    from engine.language.load import validate
    from engine.language.source import display_path, load_file

    if not path.is_file():
        return None
    file = display_path(path)
    data = load_file(path)
    if not isinstance(data, dict):
        raise InputError.of("invalid-terminology", "the terminology file must be a mapping", file)
    t = validate(Terminology, data, file, "invalid-terminology")
    problems = _references(t, data, file, {e.id for e in entries})
    if problems:
        raise InputError(problems)
    return t


def _line(raw: Any, *keys: Any) -> int | None:
    line = getattr(raw, "line", None)
    for k in keys:
        if isinstance(raw, dict) and k in raw:
            line = getattr(raw, "key_lines", {}).get(k, line)
            raw = raw[k]
            line = getattr(raw, "line", line)
        elif isinstance(raw, list) and isinstance(k, int) and k < len(raw):
            line = (getattr(raw, "item_lines", None) or [line] * len(raw))[k]
            raw = raw[k]
        else:
            break
    return line


def _sources_used(t: Terminology) -> list[tuple[str, tuple[Any, ...]]]:
    used: list[tuple[str, tuple[Any, ...]]] = []
    for i, m in enumerate(t.medicines):
        used.append((m.source, ("medicines", i)))
        used += [(x.source, ("medicines", i, "terms", j)) for j, x in enumerate(m.terms)]
        used += [(x.source, ("medicines", i, "codes", j)) for j, x in enumerate(m.codes)]
        for k, p in enumerate(m.products):
            at = ("medicines", i, "products", k)
            used += [(p.source, at)] + [(b.source, (*at, "brands", j)) for j, b in enumerate(p.brands)]
            used += [(c.source, (*at, "codes", j)) for j, c in enumerate(p.codes)]
    for i, ind in enumerate(t.indications):
        used.append((ind.source, ("indications", i)))
        used += [(x.source, ("indications", i, "terms", j)) for j, x in enumerate(ind.terms)]
        used += [(x.source, ("indications", i, "codes", j)) for j, x in enumerate(ind.codes)]
    return used


def _references(t: Terminology, raw: Any, file: str, entry_ids: set[str]) -> list[Problem]:
    """Every source, concept, product and entry a line names must exist."""
    out: list[Problem] = []

    def bad(msg: str, *at: Any) -> None:
        out.append(Problem("invalid-terminology", msg, Location(file, _line(raw, *at))))

    for src, at in _sources_used(t):
        if src not in t.sources:
            bad(f"source {src!r} is not in 'sources'", *at)
    meds = {m.id: m for m in t.medicines}
    inds = {i.id for i in t.indications}
    for i, ind in enumerate(t.indications):
        for key, ids in (("broader", ind.broader), ("with", ind.with_), ("excludes", ind.excludes)):
            for x in ids:
                if x not in inds:
                    bad(f"indication {ind.id}: {key} {x!r} is not an indication concept", "indications", i, key)
    for eid, link in t.entries.items():
        if eid not in entry_ids:
            bad(f"entry {eid!r} is not in the formulary's entries", "entries", eid)
        med = meds.get(link.medicine)
        if med is None:
            bad(f"entry {eid}: medicine {link.medicine!r} is not a medicine concept", "entries", eid)
        elif link.product and link.product not in {p.id for p in med.products}:
            bad(f"entry {eid}: product {link.product!r} is not a product of {med.id}", "entries", eid)
        for x in link.indication:
            if x not in inds:
                bad(f"entry {eid}: indication {x!r} is not an indication concept", "entries", eid)
    return out


def compile_terminology(t: Terminology | None) -> dict[str, Any]:
    """Plain JSON for the look-up index (sources resolved into each term and code)."""
    if t is None:
        return {}

    def src(sid: str) -> dict[str, Any]:
        return t.sources[sid].model_dump(exclude_none=True)

    def dump(x: BaseModel) -> dict[str, Any]:
        return x.model_dump(mode="json", by_alias=True, exclude_none=True)

    return {"medicines": [dump(m) for m in t.medicines], "indications": [dump(i) for i in t.indications],
            "entries": {k: dump(v) for k, v in t.entries.items()},
            "sources": {k: src(k) for k in t.sources}}
