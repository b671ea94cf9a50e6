"""Words and close misspellings: the normal form of a text, bounded edit distance, deletion keys.

Misspellings are found through a deletion index (the SymSpell idea: a word and a misspelling share
a string reached by at most two deletions from their first letters), so a look-up costs a few dict
look-ups, not a scan of every name.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

PREFIX = 7          # the deletion index covers the first PREFIX letters of a word
MIN_FUZZY = 4       # shorter words must match exactly or as a prefix
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


def word_matches(word: str, tokens: frozenset[str] | set[str]) -> bool:
    """A word against a set of words: exact, prefix either way, or close."""
    if word in tokens:
        return True
    for t in tokens:
        if (len(word) >= 4 and t.startswith(word)) or (len(t) >= 5 and word.startswith(t)):
            return True
    k = max_edits(word)
    return k > 0 and any(osa_distance(word, t, k) <= k for t in tokens if len(t) >= MIN_FUZZY)


class DeletionIndex:
    """Close words of a fixed vocabulary: word → the vocabulary words within its edit limit."""

    def __init__(self, words: Iterable[str]):
        self.deletes: dict[str, set[str]] = {}
        for tok in words:
            if len(tok) >= MIN_FUZZY:
                for d in deletions(tok[:PREFIX], 2):
                    self.deletes.setdefault(d, set()).add(tok)

    def close(self, word: str) -> list[tuple[str, int]]:
        """(vocabulary word, distance) for each word within both words' edit limits."""
        k = max_edits(word)
        if not k:
            return []
        out: list[tuple[str, int]] = []
        seen: set[str] = set()
        for d in deletions(word[:PREFIX], k):
            for tok in self.deletes.get(d, ()):
                if tok in seen:
                    continue
                seen.add(tok)
                lim = min(k, max_edits(tok))
                dist = osa_distance(word, tok, lim)
                if dist <= lim:
                    out.append((tok, dist))
        return out
