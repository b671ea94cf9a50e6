"""Medicine look-up: what is this medicine's status here, for this indication and formulation?

Python API (used by the CLI, the HTTP service and CDS Hooks cards, reports)::

    from engine.formulary.lookup import lookup, answer, Index
    matches = lookup("Slenyto", indication="autism")      # list[Match], best first
    answer("melatonin for autism")                      # the whole `cpe rag --format json` object
    matches[0].to_json()        # the contract's match object (plus extra keys)
    matches[0].matched_on       # which concept matched, on which name, and why
    idx = Index.for_formulary("lsc")                    # build once, query many times
    idx.search("nortriptilyne")                         # close misspellings match
    patient_check(matches, {"age": 9, ...})             # per match: restriction met/unmet/unknown

`formulary` is a folder path or a name under `policies/formulary/` (default `$CPE_FORMULARY`,
else `lsc`). The validated formulary (entries and terminology) is compiled once to plain JSON and
cached, keyed by the files' mtimes and sizes (`$CPE_CACHE_DIR`, else the user cache folder;
`CPE_NO_CACHE=1` turns it off), so a look-up neither imports pydantic nor re-validates anything.

Matching works on concepts (engine.formulary.concepts), through the one resolver
(engine.formulary.resolver): names find medicines, the query reader (engine.formulary.query)
recognises strengths, forms and "X for Y", and indications are matched as concepts with their
hierarchy and exclusions.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.formulary.concepts import Concepts
from engine.formulary.fuzzy import deletions, normalise, osa_distance
from engine.formulary.match import CONTRACT_KEYS, Match

__all__ = ["Index", "Match", "CONTRACT_KEYS", "lookup", "answer", "validated", "patient_check", "normalise",
           "deletions", "osa_distance", "cache_key", "compiled"]
CACHE_FORMAT = 2


class Index:
    """Search structures over a compiled formulary, built once; queries touch only dicts and sets."""

    def __init__(self, compiled: dict[str, Any]):
        self.formulary: dict[str, Any] = compiled["formulary"]
        self.statuses: dict[str, dict[str, Any]] = compiled["statuses"]
        self.entries: list[dict[str, Any]] = compiled["entries"]
        self.concepts = Concepts(compiled)

    @classmethod
    def for_formulary(cls, formulary: str | Path | None = None, recheck: float = 0.0) -> Index:
        """The index of a formulary folder, from the process memo or the on-disk compiled cache."""

        return _fresh(_MEMO, formulary, lambda folder, key: cls(compiled(folder, key)), recheck)

    def resolve(self, query: str, indication: str | None = None) -> Any:
        """The resolver's whole answer: matches, unstated, excluded and what the query was read as."""
        from engine.formulary.resolver import search

        return search(self, query, indication)

    def search(self, query: str, indication: str | None = None, limit: int | None = None) -> list[Match]:
        """Entries the query means, best first; an indication narrows."""
        return self.search_with_unstated(query, indication, limit)[0]

    def search_with_unstated(self, query: str, indication: str | None = None,
                             limit: int | None = None) -> tuple[list[Match], list[Match]]:
        """(matches, entries the query matched whose indication the source does not state)."""
        r = self.resolve(query, indication)
        return (r.matches[:limit] if limit else r.matches), r.unstated

    def match(self, i: int, score: float, how: dict[str, Any], ind: str | None) -> Match:
        e = self.entries[i]
        return Match(entry=e, status=self.statuses[e["status"]], formulary=self.formulary, score=score,
                     matched_on=how, indication_match=ind)

    def by_code(self, code: str) -> tuple[str, str] | None:
        """(kind, preferred name) of the medicine or indication concept a code names, or None."""
        hit = self.concepts.code(code)
        return (hit[0], self.concepts.preferred(*hit)) if hit else None


# --- compiled cache --------------------------------------------------------------------------

_MEMO: dict[str, tuple[str, Any, float]] = {}   # folder → (cache key, index, when the files were last checked)
SERVICE_RECHECK = 1.0   # seconds between looks at the files when the service asks (on every request)


def _fresh(memo: dict[str, tuple[str, Any, float]], formulary: str | Path | None, build: Any,
           recheck: float = 0.0) -> Any:
    """What `build(folder, key)` made for the folder's current files, kept in `memo`; the files are
    looked at (size and mtime) on every call, or at most once per `recheck` seconds (the service:
    an edited formulary is served within a second, without a stat of every file per request)."""
    from engine.formulary.entries import formulary_dir
    from engine.settings import setting

    where, now = f"{setting('policies')}|{formulary or setting('formulary')}", time.monotonic()
    hit = memo.get(where)
    if hit is not None and now - hit[2] < recheck:
        return hit[1]
    folder = formulary_dir(formulary)
    key = cache_key(folder)
    value = hit[1] if hit is not None and hit[0] == key else build(folder, key)
    memo[where] = (key, value, now)
    return value
_CODE = [Path(__file__).with_name(n) for n in ("entries.py", "model.py", "terminology.py")]


def cache_key(folder: Path) -> str:
    """Where the formulary is, and a digest of the size and mtime of every file it depends on."""
    from engine.formulary.entries import source_files
    from engine.language import cache

    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return f"{where}-{cache.stat_key([*source_files(folder), *_CODE], CACHE_FORMAT, folder.resolve())}"


def compiled(folder: Path, key: str | None = None) -> dict[str, Any]:
    """The compiled formulary: from the cache when the files are unchanged, else validated afresh."""
    from engine.language import cache

    key = key or cache_key(folder)
    name = f"formulary-{key}.json"
    raw = cache.read(name)
    if raw is not None:
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            pass
    from engine.formulary.entries import compile_formulary, load_formulary

    data = compile_formulary(load_formulary(folder))
    cache.write(name, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                replaces=f"formulary-{key.split('-')[0]}-*.json")
    return data


# --- the API ---------------------------------------------------------------------------------

def lookup(query: str, indication: str | None = None, formulary: str | Path | None = None,
           limit: int | None = None) -> list[Match]:
    """Entries of the formulary matching the query (and indication), best first."""
    return Index.for_formulary(formulary).search(query, indication, limit)


def answer(query: str, indication: str | None = None, formulary: str | Path | None = None,
           facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `cpe rag --format json` object: query, matches (with `patient` when facts are given),
    and with an indication the entries whose indication the source does not state."""
    idx = Index.for_formulary(formulary)
    r = idx.resolve(query, indication)
    matches = r.matches
    if facts is not None:
        matches = patient_check(matches, facts, formulary)
    out: dict[str, Any] = {"query": query, "matches": [m.to_json() for m in matches]}
    if indication is not None or (r.understood.get("indication") or {}).get("concepts"):
        out["indication"] = indication if indication is not None else r.understood["indication"]["text"]
        out["indication_not_stated"] = [m.to_json() for m in r.unstated]
        out["indication_excluded"] = [m.to_json() for m in r.excluded]
    out["understood"] = r.understood
    out["formulary"] = idx.formulary["id"]
    return out


_VALIDATED: dict[str, tuple[str, Any, float]] = {}  # folder → (cache key, Formulary, last checked)


def validated(formulary: str | Path | None = None, recheck: float = 0.0) -> Any:
    """The validated Formulary (criteria trees included), loaded once per change of its files: a
    patient check per request must not re-parse the YAML (it cost ~100 ms a CDS Hooks call)."""
    from engine.formulary.entries import load_formulary

    return _fresh(_VALIDATED, formulary, lambda folder, _key: load_formulary(folder), recheck)


def patient_check(matches: Iterable[Match], facts: dict[str, Any],
                  formulary: str | Path | None = None, recheck: float = 0.0) -> list[Match]:
    """The matches with `patient` set: does this (validated) patient meet each entry's restriction?"""
    from dataclasses import replace

    from engine.formulary.entries import decide_entry

    f = validated(formulary, recheck)
    by_id = {e.id: e for e in f.entries}
    out = []
    for m in matches:
        out.append(replace(m, patient=decide_entry(by_id[m.id], f.vocabulary, facts)))
    return out
