"""What a criterion reads: the comparisons under a node and the attributes they test, following
policy references into the referenced versions. The one statement of that walk; the diff, lint,
the forms and the compiled engines all ask it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from engine.language.model.criteria import Compare, Node, PolicyRef, walk

if TYPE_CHECKING:
    from engine.language.resolve import ResolvedVersion


def compares_read(nodes: Iterable[Node], refs: dict[str, ResolvedVersion]) -> list[Compare]:
    """Every comparison under the nodes, in tree order, those of referenced policies in place."""
    out: list[Compare] = []
    for top in nodes:
        for n in walk(top):
            if isinstance(n, Compare):
                out.append(n)
            elif isinstance(n, PolicyRef) and n.policy in refs:
                ref = refs[n.policy]
                out += compares_read((*ref.scope_criteria, *ref.criteria), ref.refs)
    return out


def attributes_read(nodes: Iterable[Node], refs: dict[str, ResolvedVersion]) -> list[str]:
    """The attributes those comparisons test, each once, in first-use order."""
    return list(dict.fromkeys(c.attr for c in compares_read(nodes, refs)))
