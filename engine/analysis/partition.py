"""Split each attribute's domain into the few cells a set of comparisons can tell apart.

Every comparison on an attribute is constant between consecutive thresholds, so checking one
value per piece (each threshold, and a value just below and just above it) plus "unknown"
covers every possible value. Pieces that every comparison treats alike are merged into one
cell, which keeps the product of cells over several attributes small. The cells are exact: any
value of the attribute behaves like the representative of the cell it falls in.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.language.evaluate import compare
from engine.language.model.attributes import Attribute
from engine.language.model.criteria import Compare, _fmt

# A numeric piece: (lo, lo_inclusive, hi, hi_inclusive); math.inf for unbounded ends.
Piece = tuple[float, bool, float, bool]


@dataclass(frozen=True)
class Cell:
    """Values of one attribute that every comparison treats alike; `value` stands for them all."""

    value: Any                      # the representative; None is "unknown" (absent)
    pieces: tuple = ()              # numeric: Piece tuples; otherwise the plain values covered

    @property
    def unknown(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class AttrPartition:
    name: str
    attr: Attribute
    cells: tuple[Cell, ...]         # known cells first, "unknown" last
    thresholds: tuple[Any, ...] = ()

    def describe(self, idxs: Iterable[int]) -> str | None:
        """The values of the chosen cells in words; None when they are every value (no condition)."""
        chosen = sorted(set(idxs))
        if len(chosen) == len(self.cells):
            return None
        cells = [self.cells[i] for i in chosen]
        unknown = any(c.unknown for c in cells)
        known = [c for c in cells if not c.unknown]
        n = self.name
        parts: list[str] = []
        if known and len(known) == len(self.cells) - 1:
            parts.append(f"{n} known")
        elif self.attr.type in ("integer", "number"):
            parts += [self._interval_text(p) for p in _merge([p for c in known for p in c.pieces],
                                                            self.attr.type == "integer")]
        else:
            vals = [v for c in known for v in c.pieces]
            if len(vals) == 1:
                parts.append(f"{n} = {_fmt(vals[0])}")
            elif vals:
                parts.append(f"{n} in {{{', '.join(_fmt(v) for v in vals)}}}")
        if unknown:
            parts.append("unknown" if parts else f"{n} unknown")
        return " or ".join(parts)

    def _interval_text(self, p: Piece) -> str:
        lo, lo_in, hi, hi_in = p
        n = self.name
        dom_lo = self.attr.min if self.attr.min is not None else -math.inf
        dom_hi = self.attr.max if self.attr.max is not None else math.inf
        if lo == hi:
            return f"{n} = {_fmt(lo)}"
        if self.attr.type == "integer":  # inclusive integer ranges: speak in the policy's own thresholds
            th = set(self.thresholds)
            low = None if lo <= dom_lo else ((lo - 1, "<") if (lo - 1) in th and lo not in th else (lo, "≤"))
            high = None if hi >= dom_hi else ((hi + 1, "<") if (hi + 1) in th and hi not in th else (hi, "≤"))
        else:
            low = None if lo == -math.inf or (lo <= dom_lo and lo_in) else (lo, "≤" if lo_in else "<")
            high = None if hi == math.inf or (hi >= dom_hi and hi_in) else (hi, "≤" if hi_in else "<")
        if low and high:
            return f"{_fmt(low[0])} {low[1]} {n} {high[1]} {_fmt(high[0])}"
        if low:
            return f"{n} {'≥' if low[1] == '≤' else '>'} {_fmt(low[0])}"
        if high:
            return f"{n} {high[1]} {_fmt(high[0])}"
        return f"{n} known"


def _merge(pieces: list[Piece], integer: bool) -> list[Piece]:
    """Join touching pieces so that '18 ≤ age ≤ 42' is not spelt out as three pieces."""
    out: list[Piece] = []
    for p in sorted(pieces, key=lambda x: (x[0], not x[1])):
        if out:
            lo, lo_in, hi, hi_in = out[-1]
            touches = (p[0] == hi + 1) if integer else (p[0] == hi and (hi_in or p[1]))
            if touches or p[0] < hi or (p[0] == hi and integer):
                out[-1] = (lo, lo_in, max(hi, p[2]), p[3] if p[2] >= hi else hi_in)
                continue
        out.append(p)
    return out


def thresholds_of(compares: Iterable[Compare]) -> list[Any]:
    out: list[Any] = []
    for c in compares:
        vals = [c.min, c.max] if c.op == "between" else list(c.value) if isinstance(c.value, tuple) else [c.value]
        out += [v for v in vals if v is not None]
    return out


def partition(name: str, attr: Attribute, compares: list[Compare]) -> AttrPartition:
    """The cells of one attribute under the given comparisons (plus the 'unknown' cell)."""
    th = thresholds_of(compares)
    candidates: list[tuple[Any, tuple]]
    if attr.type == "boolean":
        candidates = [(v, (v,)) for v in (True, False)]
    elif attr.type == "enum":
        candidates = [(v, (v,)) for v in attr.values or ()]
    elif attr.type == "string":
        named = list(dict.fromkeys(str(v) for v in th))
        other = "other"
        while other in named:
            other += "_"
        candidates = [(v, (v,)) for v in named] + [(other, (other,))]
    else:
        candidates = _numeric_pieces(attr, th)
    groups: dict[tuple, list[tuple[Any, tuple]]] = {}
    for value, pieces in candidates:
        sig = tuple(compare(c, value) for c in compares)
        groups.setdefault(sig, []).append((value, pieces))
    cells = []
    for members in groups.values():
        # represent a cell by a value inside an interval rather than a bare threshold when we can
        spans = [m for m in members if attr.type in ("integer", "number") and m[1][0][0] != m[1][0][2]]
        value = (spans or members)[0][0]
        cells.append(Cell(value, tuple(p for _, ps in members for p in ps)))
    cells.append(Cell(None, ()))
    return AttrPartition(name, attr, tuple(cells), tuple(sorted({float(t) for t in th
                                                                  if isinstance(t, (int, float))})))


def _numeric_pieces(attr: Attribute, th: list[Any]) -> list[tuple[Any, tuple[Piece, ...]]]:
    integer = attr.type == "integer"
    lo = attr.min if attr.min is not None else -math.inf
    hi = attr.max if attr.max is not None else math.inf
    if integer:
        lo, hi = (math.ceil(lo) if lo != -math.inf else lo), (math.floor(hi) if hi != math.inf else hi)
    points = sorted({float(t) for t in th if isinstance(t, (int, float)) and not isinstance(t, bool)})
    if integer:  # a fractional threshold splits between two integers: both neighbours matter
        points = sorted({p for t in points for p in ((t,) if t == int(t) else (math.floor(t), math.ceil(t)))})
    points = [p for p in points if lo <= p <= hi]
    out: list[tuple[Any, tuple[Piece, ...]]] = []
    prev: float = lo
    prev_in = True  # the domain's own lower end is included
    for i, p in enumerate(points + [None]):
        end = hi if p is None else p
        end_in = p is None
        # the open stretch between the previous point and this one
        if integer:
            a = prev if prev_in else prev + 1
            b = end if end_in else end - 1
            if a <= b:
                rep = b if (i == 0 and p is not None) else a
                if rep in (math.inf, -math.inf):  # an unbounded stretch: a finite value inside it
                    rep = 0 if (a, b) == (-math.inf, math.inf) else b if a == -math.inf else a
                out.append((_num(rep, True), ((a, True, b, True),)))
        elif prev < end or (prev == end and prev_in and end_in):
            out.append((_num(_inside(prev, prev_in, end, end_in, first=(i == 0 and p is not None)), False),
                        ((prev, prev_in, end, end_in),)))
        if p is not None:
            out.append((_num(p, integer), ((p, True, p, True),)))
            prev, prev_in = p, False
    return out


def _inside(a: float, a_in: bool, b: float, b_in: bool, first: bool) -> float:
    """A readable value strictly inside a stretch: a whole number next to the threshold if one fits."""
    if a == -math.inf:
        return b - 1 if b != math.inf else 0.0
    if b == math.inf:
        return math.floor(a) + 1
    if first:  # below the first threshold: just below it
        cand = math.ceil(b) - 1
        if cand > a or (cand == a and a_in):
            return cand
    cand = math.floor(a) + 1
    if cand < b or (cand == b and b_in):
        return cand
    return (a + b) / 2


def _num(x: float, integer: bool) -> Any:
    if integer or float(x).is_integer():
        return int(x)
    return x
