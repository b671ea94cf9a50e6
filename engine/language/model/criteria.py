"""The criteria tree of a policy version: connectives, comparisons and policy references.

Every node may be a *criterion* (it has an `id` and the policy's own `text`); a criterion
says where its wording comes from (`provenance`, `citation`), inherited by its children.

A criterion whose wording can be read more than one way may declare its `readings`: each has an
`id`, what it takes the words to mean (`meaning`) and, except for the one reading the criterion's
own rule encodes (the reading the engine decides by), the `rule` that reading gives. Readings
never change a decision; `engine.analysis.readings` diffs and counts a change under each.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from engine.language.model.values import Number
from engine.language.span import Spanned
from engine.language.vocabulary import Provenance

Scalar = Union[bool, int, float, str]

OPS = {"=": "=", "==": "=", "!=": "!=", "≠": "!=", "<": "<", "<=": "<=", "≤": "<=",
       ">": ">", ">=": ">=", "≥": ">=", "in": "in", "between": "between"}
OP_WORDS = {"=": "is", "!=": "is not", "<": "under", "<=": "at most", ">": "over",
            ">=": "at least", "in": "one of", "between": "between"}


class Reading(BaseModel):
    """One way to read a criterion's wording: what it means, and the rule it gives (none: the
    criterion's own rule, which is the reading encoded)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    meaning: str = Field(min_length=1)
    rule: Node | None = None
    citation: str | None = None


class _Node(Spanned):  # a node remembers where it was written: .span, .at(key)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    id: str | None = None
    text: str | None = None
    provenance: Provenance | None = None
    citation: str | None = None
    note: str | None = None
    readings: tuple[Reading, ...] | None = None

    @model_validator(mode="after")
    def _criterion_fields(self) -> _Node:
        if self.text is not None and self.id is None:
            raise ValueError("a criterion with 'text' needs an 'id'")
        if self.readings is not None:
            _check_readings(self)
        return self

    def children(self) -> tuple[Node, ...]:
        return ()

    @property
    def is_criterion(self) -> bool:
        return self.id is not None


class AllOf(_Node):
    kind: Literal["all"] = Field("all", exclude=True)
    all: tuple[Node, ...] = Field(min_length=1)

    def children(self) -> tuple[Node, ...]:
        return self.all


class AnyOf(_Node):
    kind: Literal["any"] = Field("any", exclude=True)
    any: tuple[Node, ...] = Field(min_length=1)

    def children(self) -> tuple[Node, ...]:
        return self.any


class Not(_Node):
    kind: Literal["not"] = Field("not", exclude=True)
    not_: Node = Field(alias="not")

    def children(self) -> tuple[Node, ...]:
        return (self.not_,)


class IfThen(_Node):
    """`if X then Y`, which is `NOT X OR Y`: Y only matters for patients X applies to."""

    kind: Literal["if"] = Field("if", exclude=True)
    if_: Node = Field(alias="if")
    then: Node

    def children(self) -> tuple[Node, ...]:
        return (self.if_, self.then)


class Compare(_Node):
    """One attribute against a threshold: `=, !=, <, <=, >, >=, in, between`."""

    kind: Literal["compare"] = Field("compare", exclude=True)
    attr: str
    op: str
    value: Scalar | tuple[Scalar, ...] | None = None
    min: Number | None = None
    max: Number | None = None
    inclusive: Literal["both", "neither", "min", "max"] = "both"

    @field_validator("op")
    @classmethod
    def _op(cls, v: str) -> str:
        if v not in OPS:
            raise ValueError(f"unknown operator {v!r}; use one of {', '.join(sorted(set(OPS.values())))}")
        return OPS[v]

    @model_validator(mode="after")
    def _operands(self) -> Compare:
        if self.op == "between":
            if self.min is None or self.max is None:
                raise ValueError("'between' needs 'min' and 'max'")
            if self.value is not None:
                raise ValueError("'between' takes 'min' and 'max', not 'value'")
            if self.min > self.max:
                raise ValueError(f"'between' min {self.min} is greater than max {self.max}")
        elif self.op == "in":
            if not isinstance(self.value, tuple) or not self.value:
                raise ValueError("'in' needs 'value' to be a non-empty list")
        else:
            if self.value is None or isinstance(self.value, tuple):
                raise ValueError(f"{self.op!r} needs a single 'value'")
            if self.min is not None or self.max is not None:
                raise ValueError("'min' and 'max' are only for 'between'")
        return self

    def threshold_text(self) -> str:
        """The test in words, e.g. 'between 18 and 42 (inclusive)'."""
        if self.op == "between":
            lo, hi = _fmt(self.min), _fmt(self.max)
            incl = {"both": "inclusive", "neither": "exclusive",
                    "min": f"including {lo}, excluding {hi}", "max": f"excluding {lo}, including {hi}"}
            return f"between {lo} and {hi} ({incl[self.inclusive]})"
        if self.op == "in":
            return "one of " + ", ".join(_fmt(v) for v in self.value)  # type: ignore[union-attr]
        return f"{OP_WORDS[self.op]} {_fmt(self.value)}"


class PolicyRef(_Node):
    """Met when the patient is eligible under another policy (e.g. 'removal in accordance with this policy')."""

    kind: Literal["policy"] = Field("policy", exclude=True)
    policy: str
    version: str | None = None


def _check_readings(n: _Node) -> None:
    """Readings belong to a criterion with wording; at least two, distinct ids, exactly one the
    criterion's own rule (no `rule`), and no reading inside a reading's rule."""
    rs = n.readings or ()
    if n.id is None or n.text is None:
        raise ValueError("'readings' belong to a criterion with an 'id' and 'text' (the wording they read)")
    if len(rs) < 2:
        raise ValueError("'readings' needs at least two readings of the wording")
    ids = [r.id for r in rs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"reading ids must differ: {', '.join(ids)}")
    own = [r.id for r in rs if r.rule is None]
    if len(own) != 1:
        raise ValueError("exactly one reading has no 'rule': the one the criterion's own rule encodes"
                         + (f" (now: {', '.join(own)})" if own else ""))
    if any(r.rule is not None and any(x.readings for x in walk(r.rule)) for r in rs):
        raise ValueError("a reading's rule cannot declare readings of its own")


def encoded_reading(n: _Node) -> Reading | None:
    """The reading a criterion's own rule encodes (the one decisions use), if it declares readings."""
    return next((r for r in n.readings or () if r.rule is None), None)


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _node_kind(v: Any) -> str | None:
    if isinstance(v, _Node):
        return v.kind  # type: ignore[attr-defined]
    if not isinstance(v, dict):
        return None
    for key in ("all", "any", "not", "if", "policy"):
        if key in v:
            return key
    if "attr" in v:
        return "compare"
    return None


Node = Annotated[
    Union[
        Annotated[AllOf, Tag("all")],
        Annotated[AnyOf, Tag("any")],
        Annotated[Not, Tag("not")],
        Annotated[IfThen, Tag("if")],
        Annotated[Compare, Tag("compare")],
        Annotated[PolicyRef, Tag("policy")],
    ],
    Discriminator(
        _node_kind,
        custom_error_type="criterion_kind",
        custom_error_message="a criterion needs one of 'all', 'any', 'not', 'if'/'then', 'attr'/'op', or 'policy'",
    ),
]

# Schemas are built on first validation (defer_build), when `Node` is defined: a command that
# reads a cached, already validated suite never pays for building them.


def walk(node: Node):
    """Every node of a tree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)
