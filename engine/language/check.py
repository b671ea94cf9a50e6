"""Static checks of a resolved version against the attribute dictionary.

These are errors (the policy cannot be evaluated as written): unknown attribute names,
values of the wrong type or not in an enum, duplicate criterion ids, criteria without
provenance; the rules of a criterion's alternative readings are checked the same way. Softer
findings (thresholds outside a range, dead criteria) live in lint.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from engine.errors import Location, Problem, did_you_mean
from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.model.criteria import Compare, Node, walk


def value_fits(attr: Attribute, value: Any) -> str | None:
    """Why `value` cannot be a value of `attr` (type only), or None when it can."""
    t = attr.type
    if t == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            return f"expected an integer, got {value!r}"
        return None
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {value!r}"
        if not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        return None
    if t == "enum":
        if value not in (attr.values or ()):
            return f"expected {attr.range_text()}, got {value!r}"
        return None
    return None if isinstance(value, str) else f"expected text, got {value!r}"


def _compare_problems(n: Compare, attrs: AttributeDictionary, where: str,
                      at: Callable[..., Location]) -> list[Problem]:
    """A comparison against the dictionary: a known attribute, an operator for its type, values in range."""
    if n.attr not in attrs:
        return [Problem("unknown-attribute", f"{where}: attribute {n.attr!r} is not in the dictionary "
                        "(policies/attributes.yaml)", at("attr"), did_you_mean(n.attr, attrs.names()))]
    a = attrs[n.attr]
    if n.op in ("<", "<=", ">", ">=", "between") and a.type not in ("integer", "number"):
        return [Problem("bad-operator", f"{where}: {n.op!r} needs a numeric attribute; {n.attr!r} is {a.type}",
                        at("op"))]
    values = [n.min, n.max] if n.op == "between" else list(n.value) if isinstance(n.value, tuple) else [n.value]
    return [Problem("bad-value", f"{where}: {n.attr}: {why}", at("value", "min", "max"))
            for why in (value_fits(a, val) for val in values) if why]


def check_version(nodes: tuple[Node, ...], attrs: AttributeDictionary, file: str | None,
                  where: str) -> list[Problem]:
    """Every problem of the nodes, each at its node's span (file:line:column), else in `file`."""
    problems: list[Problem] = []
    seen: set[str] = set()

    def at(n: Node, *keys: str) -> Location:
        found = n.at(*keys)
        return found if found.file else Location(file, found.line, found.column)

    def visit(n: Node, provenance: str | None, citation: str | None) -> None:
        provenance = n.provenance or provenance
        citation = n.citation or citation
        if n.id is not None:
            if n.id in seen:
                problems.append(Problem("duplicate-criterion", f"{where}: criterion id {n.id!r} is used twice",
                                        at(n)))
            seen.add(n.id)
            if provenance is None or citation is None:
                problems.append(Problem("missing-provenance",
                                        f"{where}: criterion {n.id!r} needs 'provenance' (seed, public or "
                                        "comparator) and a 'citation'", at(n)))
        if isinstance(n, Compare):
            problems.extend(_compare_problems(n, attrs, where, lambda *keys: at(n, *keys)))
        for c in n.children():
            visit(c, provenance, citation)
        for r in n.readings or ():  # each reading's rule is checked as the criterion's own is
            for c in walk(r.rule) if r.rule is not None else ():
                if isinstance(c, Compare):
                    problems.extend(_compare_problems(c, attrs, f"{where} (criterion {n.id}, reading {r.id})",
                                                      lambda *keys: at(n, "readings")))

    for top in nodes:
        if top.id is None:
            problems.append(Problem("missing-id", f"{where}: every top-level criterion needs an 'id' and 'text'",
                                    at(top)))
        visit(top, None, None)
    return problems
