"""Medicine look-up: what is this medicine's status here, for this indication and formulation?

Python API (used by the CLI, the HTTP service and CDS Hooks cards, reports)::

    from engine.formulary.lookup import lookup, answer, Index
    matches = lookup("Slenyto", indication="autism")      # list[Match], best first
    answer("agomelatine")                               # the whole `cpe rag --format json` object
    matches[0].to_json()        # the contract's match object (plus extra keys)
    matches[0].status_id, matches[0].medicine, matches[0].ifr_available
    idx = Index.for_formulary("lsc")                    # build once, query many times
    idx.search("nortriptilyne")                         # close misspellings match
    patient_check(matches, {"age": 9, ...})             # per match: restriction met/unmet/unknown

`formulary` is a folder path or a name under `policies/formulary/` (default `$CPE_FORMULARY`,
else `lsc`). The validated formulary is compiled once to plain JSON and cached, keyed by the
files' mtimes and sizes (`$CPE_CACHE_DIR`, else the user cache folder; `CPE_NO_CACHE=1`
turns it off), so a look-up neither imports pydantic nor re-validates anything.

Matching: each query word must match the entry, on a name (generic, brand or synonym: exact,
prefix, or a close misspelling by optimal-string-alignment distance 1, or 2 for words of 7+
letters) or on a word of the formulation, route or indication ("hydralazine tablets",
"hydralazine heart failure"); at least one word must match a name. Misspellings are found through
a deletion index (the SymSpell idea: a word and a misspelling share a string reached by at
most two deletions from their first letters), so a query costs a few dict look-ups, not a scan.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

CACHE_FORMAT = 1
PREFIX = 7          # the deletion index covers the first PREFIX letters of a word
MIN_FUZZY = 4       # shorter words must match exactly or as a prefix
NAME_WEIGHT = {"generic": 10.0, "brand": 9.5, "synonym": 9.0}
HOW_FACTOR = {"exact": 1.0, "prefix": 0.7, "close": 0.6}
QUALIFIER_SCORE = 2.0
STOPWORDS = frozenset("a an and or the of for in with to on by at as from who where when is are be "
                      "use used treatment patient patients people".split())

_SEP = re.compile(r"[^0-9a-z]+")
_DIGIT_ALPHA = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")


def normalise(text: str) -> str:
    """Lower-case ASCII words: accents dropped, '2mg' → '2 mg', punctuation → space."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = _DIGIT_ALPHA.sub(" ", text.casefold())
    return _SEP.sub(" ", text).strip()


def max_edits(word: str) -> int:
    n = len(word)
    return 0 if n < MIN_FUZZY else 1 if n < 7 else 2


def deletions(word: str, depth: int) -> set[str]:
    """Every string reached from `word` by deleting at most `depth` letters."""
    out = {word}
    level = {word}
    for _ in range(depth):
        level = {w[:i] + w[i + 1:] for w in level for i in range(len(w))}
        out |= level
    return out


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours counts 1), or limit+1 past the limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= limit else limit + 1


def _word_matches(word: str, tokens: frozenset[str]) -> bool:
    """An indication word against an entry's indication words: exact, prefix either way, or close."""
    if word in tokens:
        return True
    for t in tokens:
        if (len(word) >= 4 and t.startswith(word)) or (len(t) >= 5 and word.startswith(t)):
            return True
    k = max_edits(word)
    return k > 0 and any(osa_distance(word, t, k) <= k for t in tokens if len(t) >= MIN_FUZZY)


# --- matches ---------------------------------------------------------------------------------

CONTRACT_KEYS = ("medicine", "brands", "formulation", "indication", "status", "status_label", "meaning",
                 "prior_approval", "ifr_available", "notes")


@dataclass(frozen=True)
class Match:
    """One formulary entry that answers the query, with the status it carries and why it matched."""

    entry: dict[str, Any]
    status: dict[str, Any]
    formulary: dict[str, Any]
    score: float
    matched_on: dict[str, Any]
    indication_match: str | None = None
    patient: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return self.entry["id"]

    @property
    def medicine(self) -> str:
        return self.entry["medicine"]

    @property
    def status_id(self) -> str:
        return self.entry["status"]

    @property
    def commissioned(self) -> bool | None:
        return self.status.get("flags", {}).get("commissioned")

    @property
    def ifr_available(self) -> bool:
        """As stated by the decision; otherwise IFR is the route exactly when the status is not commissioned."""
        stated = self.entry.get("ifr_available")
        return stated if stated is not None else self.commissioned is False

    @property
    def ifr_basis(self) -> str:
        if (stated := self.entry.get("ifr_available")) is not None:
            return "stated in the decision" if stated else "the decision names no IFR route (see its notes)"
        return ("the status is not commissioned, so an individual funding request is the only route"
                if self.commissioned is False else "not stated; the status is commissioned, so IFR is not the route")

    def next_steps(self) -> list[str]:
        steps = [self.status["next_step"]]
        if self.entry.get("prior_approval"):
            steps.append("Prior approval is required before treatment starts.")
        if self.entry.get("criteria_ids"):
            steps.append("Check the patient against the restriction criteria.")
        if self.entry.get("ifr_available") and self.commissioned is not False:
            steps.append("An individual funding request remains possible for exceptional clinical circumstances.")
        return steps

    def to_json(self) -> dict[str, Any]:
        e, s = self.entry, self.status
        out: dict[str, Any] = {
            "medicine": e["medicine"], "brands": list(e["brands"]), "formulation": e["formulation"],
            "indication": e["indication"], "status": e["status"], "status_label": s["label"],
            "meaning": s["meaning"], "prior_approval": bool(e["prior_approval"]),
            "ifr_available": self.ifr_available, "notes": e.get("notes") or "",
            # extra keys (allowed by the contract)
            "id": e["id"], "formulary": self.formulary["id"], "synonyms": list(e["synonyms"]),
            "route": e["route"], "all_indications": e["all_indications"], "status_note": e["status_note"],
            "status_colour": s["colour"], "status_text_colour": s.get("text_colour", "#ffffff"),
            "status_flags": s.get("flags", {}),
            "restrictions": e["restrictions"], "line_of_therapy": e["line_of_therapy"],
            "criteria": list(e.get("criteria_ids") or []), "ifr_basis": self.ifr_basis,
            "commissioner": e["commissioner"], "nice_ta": e["nice_ta"], "decision_date": e["decision_date"],
            "decision_body": e["decision_body"], "reason": e["reason"],
            "review_date": e["review_date"], "monitoring": e["monitoring"], "source": e["source"],
            "next_steps": self.next_steps(), "matched_on": self.matched_on, "score": round(self.score, 3),
        }
        if self.indication_match is not None:
            out["indication_match"] = self.indication_match
        if self.patient is not None:
            out["patient"] = self.patient
        return out


# --- the index -------------------------------------------------------------------------------

class Index:
    """Search structures over a compiled formulary, built once; queries touch only dicts and sets."""

    def __init__(self, compiled: dict[str, Any]):
        self.formulary: dict[str, Any] = compiled["formulary"]
        self.statuses: dict[str, dict[str, Any]] = compiled["statuses"]
        self.entries: list[dict[str, Any]] = compiled["entries"]
        self.names: dict[str, dict[int, tuple[float, str, str]]] = {}   # word → entry → (weight, field, name)
        self.full: dict[str, dict[int, tuple[float, str, str]]] = {}    # whole name → entry → ...
        self.qualifiers: dict[str, set[int]] = {}                       # formulation/route word → entries
        self.indication_words: list[frozenset[str]] = []
        deletes: dict[str, set[str]] = {}
        for i, e in enumerate(self.entries):
            named = [("generic", e["medicine"])] + [("brand", b) for b in e["brands"]] + \
                    [("synonym", s) for s in e["synonyms"]]
            for fld, name in named:
                w = NAME_WEIGHT[fld]
                norm = normalise(name)
                _keep_best(self.full.setdefault(norm, {}), i, (w, fld, name))
                for tok in norm.split():
                    _keep_best(self.names.setdefault(tok, {}), i, (w, fld, name))
            words = frozenset(normalise(" ".join([e["indication"] or "", *e["indication_synonyms"]])).split())
            self.indication_words.append(words - STOPWORDS)
            for text in (e["formulation"], e["route"]):
                for tok in normalise(text or "").split():
                    self.qualifiers.setdefault(tok, set()).add(i)
            for tok in words - STOPWORDS:
                self.qualifiers.setdefault(tok, set()).add(i)
        for tok in self.names:
            if len(tok) >= MIN_FUZZY:
                for d in deletions(tok[:PREFIX], 2):
                    deletes.setdefault(d, set()).add(tok)
        self.deletes = deletes
        self.sorted_names = sorted(self.names)

    @classmethod
    def for_formulary(cls, formulary: str | Path | None = None) -> "Index":
        """The index of a formulary folder, from the process memo or the on-disk compiled cache."""
        from engine.formulary.entries import formulary_dir

        folder = formulary_dir(formulary)
        key = cache_key(folder)
        memo = _MEMO.get(str(folder.resolve()))
        if memo is None or memo[0] != key:
            memo = _MEMO[str(folder.resolve())] = (key, cls(compiled(folder, key)))
        return memo[1]

    # -- matching words ------------------------------------------------------------------------
    def _word_hits(self, word: str) -> dict[int, tuple[float, dict[str, Any]]]:
        """Entries a query word matches, with the score and how; names first, then qualifiers."""
        hits: dict[int, tuple[float, dict[str, Any]]] = {}

        def add(tok: str, how: str, distance: int = 0) -> None:
            for i, (w, fld, name) in self.names[tok].items():
                score = w * HOW_FACTOR[how] - 0.5 * distance
                if i not in hits or hits[i][0] < score:
                    hits[i] = (score, {"field": fld, "name": name, "how": how, "word": word, "distance": distance})

        if word in self.names:
            add(word, "exact")
        if len(word) >= 3:
            at = bisect.bisect_left(self.sorted_names, word)
            for tok in self.sorted_names[at:at + 50]:
                if not tok.startswith(word):
                    break
                if tok != word:
                    add(tok, "prefix")
        if not hits:
            k = max_edits(word)
            if k:
                seen: set[str] = set()
                for d in deletions(word[:PREFIX], k):
                    for tok in self.deletes.get(d, ()):
                        if tok in seen:
                            continue
                        seen.add(tok)
                        dist = osa_distance(word, tok, min(k, max_edits(tok)))
                        if dist <= min(k, max_edits(tok)):
                            add(tok, "close", dist)
        for i in self.qualifiers.get(word, ()):
            if i not in hits:
                hits[i] = (QUALIFIER_SCORE, {"field": "qualifier", "how": "exact", "word": word})
        return hits

    def search(self, query: str, indication: str | None = None, limit: int | None = None) -> list[Match]:
        """Entries matching every query word (at least one on a name), best first; indication narrows."""
        return self.search_with_unstated(query, indication, limit)[0]

    def search_with_unstated(self, query: str, indication: str | None = None,
                             limit: int | None = None) -> tuple[list[Match], list[Match]]:
        """(matches, entries the query matched whose indication the source does not state)."""
        q = normalise(query)
        words = q.split()
        if not words:
            return [], []
        per_word = [self._word_hits(w) for w in words]
        per_word.sort(key=len)
        scored: dict[int, tuple[float, dict[str, Any]]] = {}
        for i in per_word[0]:
            hits = []
            for h in per_word:
                hit = h.get(i)
                if hit is None:
                    break
                hits.append(hit)
            else:
                on_name = [h for h in hits if h[1]["field"] != "qualifier"]
                if on_name:
                    scored[i] = (sum(h[0] for h in hits), max(on_name, key=lambda h: h[0])[1])
        for i in self.full.get(q, {}):
            if i in scored:
                scored[i] = (scored[i][0] + 5.0, {**scored[i][1], "how": "exact", "whole_name": True})
        ind_words = [w for w in normalise(indication or "").split() if w not in STOPWORDS]
        matches: list[tuple[tuple, Match]] = []
        unstated: list[Match] = []
        for i, (score, how) in scored.items():
            e = self.entries[i]
            ind = None
            rank = 0
            if ind_words:
                if all(_word_matches(w, self.indication_words[i]) for w in ind_words):
                    ind, rank = "matched", 0
                elif e["all_indications"]:
                    ind, rank = "all_indications", 1
                elif e["indication"] is None:
                    unstated.append(self._match(i, score, how, "not_stated"))
                    continue
                else:
                    continue
            matches.append(((rank, -score, i), self._match(i, score, how, ind)))
        matches.sort(key=lambda x: x[0])
        out = [m for _, m in matches]
        return (out[:limit] if limit else out), unstated

    def _match(self, i: int, score: float, how: dict[str, Any], ind: str | None) -> Match:
        e = self.entries[i]
        return Match(entry=e, status=self.statuses[e["status"]], formulary=self.formulary, score=score,
                     matched_on=how, indication_match=ind)


def _keep_best(d: dict[int, tuple[float, str, str]], i: int, v: tuple[float, str, str]) -> None:
    if i not in d or d[i][0] < v[0]:
        d[i] = v


# --- compiled cache --------------------------------------------------------------------------

_MEMO: dict[str, tuple[str, Index]] = {}   # folder → (cache key, index)
_CODE = [Path(__file__).with_name("entries.py"), Path(__file__).with_name("model.py")]


def cache_key(folder: Path) -> str:
    """Where the formulary is, and a digest of the size and mtime of every file it depends on."""
    from engine.language import cache
    from engine.formulary.entries import source_files

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
    matches, unstated = idx.search_with_unstated(query, indication)
    if facts is not None:
        matches = patient_check(matches, facts, formulary)
    out: dict[str, Any] = {"query": query, "matches": [m.to_json() for m in matches]}
    if indication is not None:
        out["indication"] = indication
        out["indication_not_stated"] = [m.to_json() for m in unstated]
    out["formulary"] = idx.formulary["id"]
    return out


_VALIDATED: dict[str, tuple[str, Any]] = {}  # folder → (cache key, Formulary)


def validated(formulary: str | Path | None = None) -> "Any":
    """The validated Formulary (criteria trees included), loaded once per change of its files: a
    patient check per request must not re-parse the YAML (it cost ~100 ms a CDS Hooks call)."""
    from engine.formulary.entries import formulary_dir, load_formulary

    folder = formulary_dir(formulary)
    key, where = cache_key(folder), str(folder.resolve())
    memo = _VALIDATED.get(where)
    if memo is None or memo[0] != key:
        memo = _VALIDATED[where] = (key, load_formulary(folder))
    return memo[1]


def patient_check(matches: Iterable[Match], facts: dict[str, Any],
                  formulary: str | Path | None = None) -> list[Match]:
    """The matches with `patient` set: does this (validated) patient meet each entry's restriction?"""
    from dataclasses import replace

    from engine.formulary.entries import decide_entry

    f = validated(formulary)
    by_id = {e.id: e for e in f.entries}
    out = []
    for m in matches:
        out.append(replace(m, patient=decide_entry(by_id[m.id], f.vocabulary, facts)))
    return out
