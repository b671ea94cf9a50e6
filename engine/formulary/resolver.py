"""The one resolver: a query (and indication) → the formulary entries it means, and why.

Used by `cpe rag`, `/api/medicines`, the web search and CDS Hooks (through engine.service).

1. The query reader (engine.formulary.query) takes out strengths, form/route/dosing words and an
   "X for Y" indication.
2. Name words find medicine concepts (generic, salt, synonym, abbreviation, brand: exact, prefix
   or a close misspelling); the concepts named by most words win. A brand keeps only the entries
   of that brand or of the whole substance. A word that names no medicine is read as indication.
3. The entries of those concepts must agree with the query's form, route and strength where
   the entry states them (a decision for a substance covers all its products).
4. The indication text names indication concepts; each entry is placed by how its concepts
   stand to them: exact, narrower (the query names a kind of it), population, all indications,
   broader (the decision covers only a kind of what was asked: shown, flagged), or excluded (an
   explicit exclusion: never a match, listed apart). An indication that names no concept falls
   back to the words of the entry's wording. With no medicine named, the indication alone finds
   its entries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.formulary.match import Match
from engine.formulary.query import SALT_WORDS, Query, compatible, read, strength_ok

Index = Any   # engine.formulary.lookup.Index (not imported: it imports this module)

RANK = {"exact": 0, "narrower": 0, "population": 0, "words": 0, "all_indications": 1, "broader": 2}
MATCH_WORD = {"exact": "matched", "narrower": "matched", "population": "matched", "words": "matched",
              "all_indications": "all_indications", "broader": "broader"}
WHY = {"exact": "the decision's indication", "narrower": "a kind of the decision's indication",
       "population": "a condition of the decision's population",
       "broader": "broader than the decision, which covers only {term}",
       "excluded": "explicitly excluded by the decision ({term})", "words": "the decision's wording",
       "all_indications": "the decision covers all indications"}


@dataclass
class Result:
    matches: list[Match] = field(default_factory=list)
    unstated: list[Match] = field(default_factory=list)
    excluded: list[Match] = field(default_factory=list)
    understood: dict[str, Any] = field(default_factory=dict)


def _medicines(idx: Index, q: Query) -> tuple[dict[str, tuple[float, dict[str, Any]]], list[str]]:
    """(medicine concept → (score, how), the words that named none)."""
    c = idx.concepts
    per_word = [(w, c.name_hits(w)) for w in q.words]
    counts: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for _w, hits in per_word:
        for cid, hit in hits.items():
            counts.setdefault(cid, []).append(hit)
    if not counts:
        return {}, [w for w in q.words if w not in SALT_WORDS]
    needed = [w for w, hits in per_word if hits and w not in SALT_WORDS] or [w for w, h in per_word if h]
    best = max(sum(1 for h in hs if h[1]["word"] in needed) for hs in counts.values())
    chosen: dict[str, tuple[float, dict[str, Any]]] = {}
    for cid, hs in counts.items():
        if best and sum(1 for h in hs if h[1]["word"] in needed) < best:
            continue
        main = max([h for h in hs if h[1]["word"] not in SALT_WORDS] or hs, key=lambda h: h[0])
        how = dict(main[1])
        brand = next((h[1]["brand"] for h in hs if h[1].get("brand")), None)
        if brand:
            how["brand"] = brand
        salts = [h[1]["name"] for h in hs if h[1]["field"] == "salt"]
        if salts:
            how["salt"] = salts[0]
        chosen[cid] = (sum(h[0] for h in hs), how)
    used = {h[1]["word"] for cid in chosen for h in counts[cid]}
    whole = " ".join(w for w in q.words if w in used)
    for cid in c.full.get(whole, {}):
        if cid in chosen:
            s, how = chosen[cid]
            chosen[cid] = (s + 5.0, {**how, "how": "exact", "whole_name": True})
    left = [w for w in q.words if w not in used and w not in SALT_WORDS]
    return chosen, left


def _candidates(idx: Index, q: Query, meds: dict[str, tuple[float, dict[str, Any]]]
                ) -> dict[int, tuple[float, dict[str, Any]]]:
    """The entries of the named medicines that agree with the query's brand, form and strength.

    A strength the entry does not have drops it when another entry agrees; when none does, the
    entries are kept and flagged (`strength: differs`), since a prescriber's '2mg' may be a dose."""
    c = idx.concepts
    out: dict[int, tuple[float, dict[str, Any]]] = {}
    differ: dict[int, tuple[float, dict[str, Any]]] = {}
    for cid, (score, how) in meds.items():
        brand = how.get("brand")
        for i in c.med_entries.get(cid, ()):
            if brand and c.entry_brands[i] and brand not in c.entry_brands[i]:
                continue
            if q.features and not compatible(q.features, c.entry_feats[i]):
                continue
            if not strength_ok(q.strengths, (), c.entry_feats[i]):
                continue
            same = strength_ok(q.strengths, c.entry_strengths[i])
            concept = c.medicines.get(cid, {})
            why = [f"{how['field']} name “{how['name']}” of {concept.get('name', cid)}"]
            if brand and c.entry_brands[i]:
                why.append("this brand's product")
            elif brand:
                why.append("a decision for the whole substance covers its brands")
            if not same:
                why.append("the query's strength is not this product's (" +
                           ", ".join(x.text for x in c.entry_strengths[i]) + "): check the product")
            elif q.features or q.strengths:
                why.append("form and strength agree" if c.entry_feats[i] or c.entry_strengths[i]
                           else "the decision covers every form and strength")
            extra = {"concept": cid if not cid.startswith("~") else None, "why": "; ".join(why),
                     "strength": None if same else "differs"}
            hit = (score, {**how, **{k: v for k, v in extra.items() if v is not None}})
            (out if same else differ)[i] = hit
    return out or differ


def _place(idx: Index, i: int, qcs: list[dict[str, Any]], text: str) -> tuple[str | None, dict[str, Any]]:
    """Where entry i stands to the query's indication: a relation name (None: not a match)."""
    c = idx.concepts
    best: tuple[int, str, dict[str, Any]] | None = None
    for qc in qcs:
        for ec in c.entry_inds[i]:
            rel = c.relation(qc["concept"], ec)
            if rel == "excluded":
                term = c.indications[ec]["term"]
                return "excluded", {"relation": "excluded", "query_concept": qc["concept"], "entry_concept": ec,
                                    "why": f"{qc['preferred']} is {WHY['excluded'].format(term=term)}"}
            if rel is not None and (best is None or RANK[rel] < best[0]):
                term = c.indications[ec]["term"]
                best = (RANK[rel], rel, {"relation": rel, "query_concept": qc["concept"], "entry_concept": ec,
                                         "term": qc["term"],
                                         "why": f"{qc['preferred']}: {WHY[rel].format(term=term)}"})
    if best is not None:
        return best[1], best[2]
    if not qcs and c.words_match(i, text):
        return "words", {"relation": "words", "why": WHY["words"]}
    if idx.entries[i]["all_indications"]:
        return "all_indications", {"relation": "all_indications", "why": WHY["all_indications"]}
    return None, {}


def search(idx: Index, query: str, indication: str | None = None) -> Result:
    q = read(query, indication)
    res = Result(understood=q.described())
    if not q.all_words:
        return res
    if indication is None and q.indication is None and idx.concepts.is_term(q.all_words):
        return _indication_only(idx, q, " ".join(q.all_words), res)   # "high blood pressure", "POTS"
    meds, left = _medicines(idx, q)
    ind_text = " ".join(x for x in (q.indication, " ".join(left)) if x) or None
    if not meds:
        if indication is not None:   # a medicine was asked for by name, and none has it
            return res
        # nothing names a medicine: the whole text may be an indication ("POTS", "high blood pressure")
        return _indication_only(idx, q, " ".join(q.all_words), res)
    res.understood["medicine"] = sorted({c.lstrip("~") for c in meds})
    scored = _candidates(idx, q, meds)
    qcs: list[dict[str, Any]] = []
    if ind_text:
        qcs, _ = idx.concepts.resolve_indication(ind_text)
        res.understood["indication"] = {"text": ind_text, "concepts": [x["concept"].lstrip("~") for x in qcs]}
        soft = q.indication is None and not qcs and not any(
            idx.concepts.words_match(i, ind_text) for i in scored)
        if soft:   # leftover words that name neither a medicine nor an indication: ignored, said so
            res.understood["ignored"] = left
            ind_text = None
    _classify(idx, scored, qcs, ind_text, res)
    return res


def _classify(idx: Index, scored: dict[int, tuple[float, dict[str, Any]]], qcs: list[dict[str, Any]],
              ind_text: str | None, res: Result) -> None:
    ranked: list[tuple[tuple[int, float, int], Match]] = []
    for i, (score, how) in scored.items():
        e = idx.entries[i]
        if not ind_text:
            ranked.append(((0, -score, i), idx.match(i, score, how, None)))
            continue
        rel, info = _place(idx, i, qcs, ind_text)
        how = {**how, "indication": info} if info else how
        if rel == "excluded":
            res.excluded.append(idx.match(i, score, how, "excluded"))
        elif rel is not None:
            ranked.append(((RANK[rel], -score, i), idx.match(i, score, how, MATCH_WORD[rel])))
        elif e["indication"] is None and not idx.concepts.entry_inds[i]:
            res.unstated.append(idx.match(i, score, how, "not_stated"))
    ranked.sort(key=lambda x: x[0])
    res.matches = [m for _, m in ranked]


def _indication_only(idx: Index, q: Query, text: str | None, res: Result) -> Result:
    if not text:
        return res
    c = idx.concepts
    qcs, _ = c.resolve_indication(text)
    res.understood["indication"] = {"text": text, "concepts": [x["concept"].lstrip("~") for x in qcs]}
    if not qcs:
        return res
    found: set[int] = set()
    for qc in qcs:
        found |= c.entries_for_indication(qc["concept"])
    scored: dict[int, tuple[float, dict[str, Any]]] = {}
    for i in sorted(found):
        if q.features and not compatible(q.features, c.entry_feats[i]):
            continue
        scored[i] = (1.0, {"field": "indication", "how": "indication", "why": "named by its indication"})
    _classify(idx, scored, qcs, text, res)
    res.matches = [m for m in res.matches if m.indication_match != "all_indications"]
    return res
