"""The formulary look-up as the service uses it (engine.formulary.lookup underneath): the `cpe rag` JSON,
one entry by id, and the looser matching a prescribing system's medication text needs."""
from __future__ import annotations

import re
from typing import Any

from engine.formulary.lookup import Index, Match, answer, normalise

_WORD = re.compile(r"[a-z][a-z-]{3,}")


def index() -> Index:
    from engine.formulary.lookup import SERVICE_RECHECK

    return Index.for_formulary(recheck=SERVICE_RECHECK)


def lookup_json(query: str, indication: str | None = None) -> dict[str, Any]:
    """As `cpe rag QUERY [--indication TEXT] --format json`: the same function builds both."""
    return answer(query, indication)


def understood_text(u: dict[str, Any]) -> str:
    """What the resolver read a query as, in words ('medicine melatonin; indication autism; form ...')."""
    parts = []
    if u.get("medicine"):
        parts.append("medicine " + ", ".join(u["medicine"]))
    ind = u.get("indication") or {}
    if ind.get("text"):
        parts.append(f"indication ‘{ind['text']}’" + ("" if ind.get("concepts") else " (not a known indication)"))
    if u.get("strength"):
        parts.append("strength " + ", ".join(u["strength"]))
    if u.get("recognised"):
        parts.append("form or dose words " + ", ".join(u["recognised"]))
    return "; ".join(parts)


def entry(entry_id: str) -> Match | None:
    """One formulary entry as a Match (for its page), or None."""
    idx = index()
    for e in idx.entries:
        if e["id"] == entry_id:
            return Match(entry=e, status=idx.statuses[e["status"]], formulary=idx.formulary, score=0.0,
                         matched_on={})
    return None


def statuses() -> list[dict[str, Any]]:
    """The formulary's status vocabulary, in its own order."""
    return list(index().statuses.values())


def find_medication(text: str, indication: str | None = None) -> list[Match]:
    """Entries for a prescribing system's medication text, e.g. 'Hydralazine 25 MG Oral Tablet'.

    The whole text first; failing that, the first word that names a medicine exactly, narrowed by
    each other word that still leaves a match (a formulation such as 'tablet' or 'injection').
    """
    idx = index()
    found = idx.search(text, indication)
    if found:
        return found
    words = [w for w in _WORD.findall(normalise(text))]
    for i, w in enumerate(words):
        base = [m for m in idx.search(w, indication) if m.matched_on.get("how") == "exact"]
        if not base:
            continue
        for other in words[:i] + words[i + 1:]:
            narrower = idx.search(f"{w} {other}", indication)
            if narrower and len(narrower) < len(base):
                base = narrower
        return base
    return []


def _luminance(hex_colour: str) -> float:
    def chan(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * chan(r) + 0.7152 * chan(g) + 0.0722 * chan(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def badge_style(status: dict[str, Any]) -> str:
    """Inline style of a status badge in the formulary's own colour, readable at WCAG AA (4.5:1).

    Where the colour and its text colour fall short, the colour becomes a bar beside dark text.
    """
    colour, text = status.get("colour", "#768692"), status.get("text_colour", "#ffffff")
    if contrast(colour, text) >= 4.5:
        return f"background-color: {colour}; color: {text}; border-color: {colour};"
    return f"background-color: #ffffff; color: #212b32; border-color: {colour}; border-left: 16px solid {colour};"


def badge_class(status: dict[str, Any]) -> str:
    """The classes of a status badge; its colours come from `status_css` (no inline styles, so the
    pages' Content-Security-Policy needs no 'unsafe-inline')."""
    return "cpe-status cpe-status--" + re.sub(r"[^A-Za-z0-9_-]", "-", str(status.get("id", "unknown")))


def status_css() -> str:
    """A rule per status of the formulary, in its own colours (see `badge_style`)."""
    return "".join(f".{badge_class(s).split()[-1]} {{ {badge_style(s)} }}\n" for s in statuses())


def validated():
    """The validated formulary (criteria trees included), loaded once per change of its files."""
    from engine.formulary.lookup import validated as loaded

    return loaded()


def restriction(entry_id: str) -> tuple[Any, Any] | None:
    """(the Entry with its criteria, the formulary's vocabulary), or None for an unknown id."""
    f = validated()
    e = next((x for x in f.entries if x.id == entry_id), None)
    return (e, f.vocabulary) if e is not None else None
