"""The concept index of a compiled formulary: names → medicine concepts, terms → indication
concepts, the indication hierarchy, codes, and each entry's concepts, products and form features.

Built once per formulary from the compiled JSON (entries plus `terminology.yaml`, see
engine.formulary.terminology). An entry the terminology does not link gets concepts of its own,
named by its free text, so a formulary without a terminology file is searched the same way.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Any

from engine.formulary.fuzzy import STOPWORDS, DeletionIndex, normalise, word_matches
from engine.formulary.query import NEGATORS, Strength, entry_features

NAME_WEIGHT = {"generic": 10.0, "brand": 9.5, "salt": 9.5, "synonym": 9.0, "abbreviation": 9.0,
               "lay": 8.5, "misspelling": 9.0}
HOW_FACTOR = {"exact": 1.0, "prefix": 0.7, "close": 0.6}
NameHit = tuple[float, str, str, str | None]          # weight, field, name, brand (normalised) or None


def _keep(d: dict[str, NameHit], key: str, v: NameHit) -> None:
    if key not in d or d[key][0] < v[0]:
        d[key] = v


class Concepts:
    """Concept look-ups over one formulary; queries touch only dicts and sets."""

    def __init__(self, compiled: dict[str, Any]):
        term = compiled.get("terminology") or {}
        entries: list[dict[str, Any]] = compiled["entries"]
        links: dict[str, Any] = term.get("entries", {})
        self.medicines: dict[str, dict[str, Any]] = {m["id"]: m for m in term.get("medicines", [])}
        self.indications: dict[str, dict[str, Any]] = {i["id"]: i for i in term.get("indications", [])}
        self.names: dict[str, dict[str, NameHit]] = {}      # word → concept → hit
        self.full: dict[str, dict[str, NameHit]] = {}       # whole name → concept → hit
        self.codes: dict[str, tuple[str, str]] = {}         # code → (kind, concept id)
        self.ind_terms: list[tuple[str, frozenset[str], bool, str]] = []   # concept, words, negated, term
        self.ind_words: dict[str, set[int]] = {}            # word → term indexes
        self.concept_terms: dict[str, list[int]] = {}       # indication concept → term indexes
        self._seen_terms: set[tuple[str, tuple[str, ...]]] = set()
        self.exact_terms: set[frozenset[str]] = set()       # every indication term, as its words
        self.med_entries: dict[str, list[int]] = {}
        self.ind_entries: dict[str, list[int]] = {}
        self.with_entries: dict[str, list[int]] = {}
        self.excluded_by: dict[str, list[int]] = {}
        self.entry_med: list[str] = []
        self.entry_inds: list[tuple[str, ...]] = []
        self.entry_brands: list[frozenset[str]] = []
        self.entry_feats: list[frozenset[str]] = []
        self.entry_strengths: list[tuple[Strength, ...]] = []
        self.entry_words: list[frozenset[str]] = []
        self.entry_negated: list[bool] = []
        for m in self.medicines.values():
            self._medicine_names(m)
        for ind in self.indications.values():
            self._indication_terms(ind["id"], [ind["term"]] + [t["term"] for t in ind.get("terms", [])])
            for c in ind.get("codes", []):
                self.codes[c["code"]] = ("indication", ind["id"])
        for i, e in enumerate(entries):
            self._entry(i, e, links.get(e["id"]))
        self._hierarchy()
        self.sorted_names = sorted(self.names)
        self.name_close = DeletionIndex(self.names)
        self.sorted_ind_words = sorted(self.ind_words)
        self.ind_close = DeletionIndex(self.ind_words)

    # -- building --------------------------------------------------------------------------------
    def _name(self, cid: str, fld: str, name: str, brand: str | None = None) -> None:
        norm = normalise(name)
        hit = (NAME_WEIGHT[fld], fld, name, brand)
        _keep(self.full.setdefault(norm, {}), cid, hit)
        for tok in norm.split():
            if tok not in STOPWORDS:
                _keep(self.names.setdefault(tok, {}), cid, hit)

    def _medicine_names(self, m: dict[str, Any]) -> None:
        cid = m["id"]
        self._name(cid, "generic", m["name"])
        for t in m.get("terms", []):
            self._name(cid, t.get("kind", "synonym") if t.get("kind") != "brand" else "brand", t["term"],
                       normalise(t["term"]) if t.get("kind") == "brand" else None)
        for c in m.get("codes", []):
            self.codes[c["code"]] = ("medicine", cid)
        for p in m.get("products", []):
            for b in p.get("brands", []):
                self._name(cid, "brand", b["term"], normalise(b["term"]))
            for c in p.get("codes", []):
                self.codes[c["code"]] = ("medicine", cid)

    def _indication_terms(self, cid: str, terms: Iterable[str]) -> None:
        for text in terms:
            words = normalise(text).split()
            if (cid, tuple(words)) in self._seen_terms:
                continue
            self._seen_terms.add((cid, tuple(words)))
            neg = any(w in NEGATORS for w in words)
            content = frozenset(w for w in words if w not in STOPWORDS and w not in NEGATORS)
            if not content:
                continue
            k = len(self.ind_terms)
            self.ind_terms.append((cid, content, neg, text))
            self.concept_terms.setdefault(cid, []).append(k)
            self.exact_terms.add(content)
            for w in content:
                self.ind_words.setdefault(w, set()).add(k)

    def _entry(self, i: int, e: dict[str, Any], link: dict[str, Any] | None) -> None:
        if link:
            mid = link["medicine"]
            med = self.medicines[mid]
            product = next((p for p in med.get("products", []) if p["id"] == link.get("product")), None)
        else:
            mid, product = "~" + normalise(e["medicine"]), None
            self.medicines.setdefault(mid, {"id": mid, "name": e["medicine"], "auto": True})
        self._name(mid, "generic", e["medicine"])
        for s in e.get("synonyms") or ():
            self._name(mid, "synonym", s)
        brands = [b["term"] for b in product.get("brands", [])] if product else list(e.get("brands") or ())
        for b in brands:
            self._name(mid, "brand", b, normalise(b))
        self.entry_med.append(mid)
        self.med_entries.setdefault(mid, []).append(i)
        self.entry_brands.append(frozenset(normalise(b) for b in brands))
        form = e.get("formulation") or (product or {}).get("form")
        route = e.get("route") or (product or {}).get("route")
        feats, strengths = entry_features(" ".join(x for x in (form, (product or {}).get("strength")) if x), route)
        self.entry_feats.append(feats)
        self.entry_strengths.append(strengths)
        inds = tuple(link.get("indication", ())) if link else ()
        texts = [x for x in (e.get("indication"),) if x] + list(e.get("indication_synonyms") or ())
        if not inds and texts:
            inds = ("~" + normalise(texts[0]),)
            self.indications.setdefault(inds[0], {"id": inds[0], "term": texts[0], "auto": True})
        if inds and texts and not link:
            self._indication_terms(inds[0], texts)
        self.entry_inds.append(inds)
        words: set[str] = set()
        for c in inds:
            for k in self.concept_terms.get(c, ()):
                words |= self.ind_terms[k][1]
        for t in texts:
            words |= set(normalise(t).split()) - STOPWORDS
        self.entry_words.append(frozenset(words))
        self.entry_negated.append(any(w in NEGATORS for t in texts for w in normalise(t).split()))
        for c in inds:
            self.ind_entries.setdefault(c, []).append(i)

    def _hierarchy(self) -> None:
        self.ancestors: dict[str, frozenset[str]] = {}
        for cid in self.indications:
            seen: set[str] = set()
            todo = list(self.indications[cid].get("broader", ()))
            while todo:
                x = todo.pop()
                if x not in seen:
                    seen.add(x)
                    todo += self.indications.get(x, {}).get("broader", ())
            self.ancestors[cid] = frozenset(seen)
        self.descendants: dict[str, set[str]] = {}
        for cid, anc in self.ancestors.items():
            for a in anc:
                self.descendants.setdefault(a, set()).add(cid)
        for cid, ind in self.indications.items():
            for w in ind.get("with", ()):
                self.with_entries.setdefault(w, []).extend(self.ind_entries.get(cid, []))
            for x in ind.get("excludes", ()):
                self.excluded_by.setdefault(x, []).extend(self.ind_entries.get(cid, []))

    # -- names -----------------------------------------------------------------------------------
    def name_hits(self, word: str) -> dict[str, tuple[float, dict[str, Any]]]:
        """Medicine concepts a query word names: exact, prefix or close, with the score and how."""
        hits: dict[str, tuple[float, dict[str, Any]]] = {}

        def add(tok: str, how: str, distance: int = 0) -> None:
            for cid, (w, fld, name, brand) in self.names[tok].items():
                score = w * HOW_FACTOR[how] - 0.5 * distance
                if cid not in hits or hits[cid][0] < score:
                    info = {"field": fld, "name": name, "how": how, "word": word, "distance": distance}
                    if brand:
                        info["brand"] = brand
                    hits[cid] = (score, info)

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
            for tok, dist in self.name_close.close(word):
                add(tok, "close", dist)
        return hits

    # -- indications ------------------------------------------------------------------------------
    def _vocab(self, word: str) -> set[str]:
        """Indication words a query word stands for: itself, words it begins, close spellings."""
        out = {word} if word in self.ind_words else set()
        if len(word) >= 4:
            at = bisect.bisect_left(self.sorted_ind_words, word)
            for tok in self.sorted_ind_words[at:at + 30]:
                if not tok.startswith(word):
                    break
                out.add(tok)
        if not out:
            out = {tok for tok, _ in self.ind_close.close(word)}
        return out

    def resolve_indication(self, text: str) -> tuple[list[dict[str, Any]], bool]:
        """(indication concepts the text names, best first, each with the term and score; whether
        the text is negated). All the text's words within one term come first; failing that, the
        terms found whole inside a longer text. A negated term ('non-cystic fibrosis ...') only
        answers a negated text, and the other way round."""
        words = normalise(text).split()
        neg = any(w in NEGATORS for w in words)
        content = [w for w in words if w not in STOPWORDS and w not in NEGATORS]
        if not content:
            return [], neg
        expanded = [self._vocab(w) for w in content]
        counts: dict[int, int] = {}
        for alts in expanded:
            for k in {k for a in alts for k in self.ind_words.get(a, ())}:
                counts[k] = counts.get(k, 0) + 1
        whole: dict[str, tuple[float, str]] = {}
        inside: dict[str, tuple[float, str]] = {}
        flat = {a for alts in expanded for a in alts}
        for k, n in counts.items():
            cid, twords, tneg, term = self.ind_terms[k]
            if tneg != neg:
                continue
            if n == len(content):
                score = 2.0 + len(content) / max(len(twords), len(content))
                if cid not in whole or whole[cid][0] < score:
                    whole[cid] = (score, term)
            elif twords <= flat:
                score = 1.0 + len(twords) / len(content)
                if cid not in inside or inside[cid][0] < score:
                    inside[cid] = (score, term)
        if whole:
            best = max(s for s, _ in whole.values())
            found = {c: v for c, v in whole.items() if v[0] >= best - 1e-9}
        else:
            found = inside
        out = [{"concept": c, "term": t, "score": round(s, 3), "preferred": self.indications[c]["term"]}
               for c, (s, t) in sorted(found.items(), key=lambda x: -x[1][0])]
        return out, neg

    def is_term(self, words: Iterable[str]) -> bool:
        """Are these words, as a whole, one indication term ('heart failure', 'POTS')?"""
        content = frozenset(w for w in words if w not in STOPWORDS and w not in NEGATORS)
        return bool(content) and content in self.exact_terms

    def relation(self, q: str, c: str) -> str | None:
        """How a query's indication concept q stands to an entry's concept c."""
        ind = self.indications.get(c, {})
        anc = self.ancestors.get(q, frozenset())
        if q in ind.get("excludes", ()) or anc & set(ind.get("excludes", ())):
            return "excluded"
        if q == c:
            return "exact"
        if c in anc:
            return "narrower"       # the query names a kind of the decision's indication
        if ({q} | anc) & set(ind.get("with", ())):
            return "population"     # the query names a condition of the decision's population
        if q in self.ancestors.get(c, frozenset()):
            return "broader"        # the decision covers only a kind of what the query names
        return None

    def entries_for_indication(self, q: str) -> set[int]:
        """Entries an indication concept may concern (any relation, exclusions included)."""
        out: set[int] = set(self.ind_entries.get(q, ()))
        for c in self.ancestors.get(q, ()):
            out.update(self.ind_entries.get(c, ()))
            out.update(self.with_entries.get(c, ()))
            out.update(self.excluded_by.get(c, ()))
        for c in self.descendants.get(q, ()):
            out.update(self.ind_entries.get(c, ()))
        out.update(self.with_entries.get(q, ()))
        out.update(self.excluded_by.get(q, ()))
        return out

    def words_match(self, i: int, text: str) -> bool:
        """The fallback for an indication that names no concept: every word in the entry's wording."""
        words = normalise(text).split()
        if any(w in NEGATORS for w in words) != self.entry_negated[i]:
            return False
        content = [w for w in words if w not in STOPWORDS and w not in NEGATORS]
        return bool(content) and all(word_matches(w, self.entry_words[i]) for w in content)

    def code(self, code: str) -> tuple[str, str] | None:
        return self.codes.get(code)

    def preferred(self, kind: str, cid: str) -> str:
        return (self.medicines if kind == "medicine" else self.indications)[cid].get(
            "name" if kind == "medicine" else "term", cid)
