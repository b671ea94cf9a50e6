"""The eligibility form, generated from a policy version's attributes, and its answers as facts.

Fields follow the criteria: each top-level criterion is a group holding the attributes it
tests first (a criterion that refers to another policy holds that policy's attributes). Every
field is optional, since a blank answer is an unknown fact, which the decision lists as missing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError
from engine.language.model.attributes import Attribute, AttributeDictionary
from engine.language.model.criteria import Node
from engine.language.reads import attributes_read
from engine.language.resolve import ResolvedVersion

UNKNOWN = ""  # the form value of "not known"


@dataclass
class Field:
    name: str
    attr: Attribute
    label: str
    hint: str
    value: str = UNKNOWN
    error: str | None = None

    @property
    def kind(self) -> str:
        return {"integer": "number", "number": "number", "boolean": "radios", "enum": "radios"}.get(
            self.attr.type, "text")

    @property
    def options(self) -> list[tuple[str, str]]:
        """(value, words) of a radio group, 'Not known' last."""
        if self.attr.type == "boolean":
            opts = [("true", "Yes"), ("false", "No")]
        else:
            opts = [(v, words(v)) for v in self.attr.values or ()]
        return opts + [(UNKNOWN, "Not known")]


@dataclass
class Group:
    id: str
    text: str
    fields: list[Field] = field(default_factory=list)


def words(name: str) -> str:
    """An attribute or value name as words: 'bells_palsy' → 'Bells palsy'."""
    text = name.replace("_", " ").strip()
    return text.upper() if len(text) <= 3 else text[:1].upper() + text[1:]


def _hint(a: Attribute) -> str:
    if a.type in ("boolean", "enum"):
        return ""  # the radios offer 'Not known'
    what = _allowed(a)
    return (what[:1].upper() + what[1:] + ". " if what else "") + "Leave blank if not known."


def _allowed(a: Attribute) -> str:
    """'a whole number from 0 to 130', in words a form can show."""
    kind = {"integer": "a whole number", "number": "a number"}.get(a.type, "")
    if not kind or (a.min is None and a.max is None):
        return kind
    lo = _num(a.min) if a.min is not None else None
    hi = _num(a.max) if a.max is not None else None
    return kind + (f" from {lo} to {hi}" if lo is not None and hi is not None else
                   f" of at least {lo}" if lo is not None else f" of at most {hi}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _attrs_in(node: Node, rv: ResolvedVersion) -> list[str]:
    return attributes_read([node], rv.refs)


def groups(rv: ResolvedVersion, attrs: AttributeDictionary, values: Mapping[str, str] | None = None,
           errors: Mapping[str, str] | None = None) -> list[Group]:
    """The form's fieldsets, one per top-level criterion that tests an attribute not asked before."""
    seen: set[str] = set()
    out: list[Group] = []
    for top in (*rv.scope_criteria, *rv.criteria):
        names = [a for a in _attrs_in(top, rv) if a not in seen and a in attrs]
        if not names:
            continue
        seen.update(names)
        g = Group(top.id or "criteria", top.text or words(top.id or "other"))
        for name in names:
            a = attrs[name]
            g.fields.append(Field(name, a, a.description, _hint(a), (values or {}).get(name, UNKNOWN),
                                  (errors or {}).get(name)))
        out.append(g)
    return out


def facts_from_form(form: Mapping[str, str], fields: list[Field], attrs: AttributeDictionary
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    """(facts, errors by field): blank is unknown; a bad answer names its field and what is allowed."""
    from engine.language.patient import validate_patient

    facts: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = (form.get(f.name) or "").strip()
        if raw == UNKNOWN:
            continue
        try:
            value = _parse(raw, f.attr)
            facts.update(validate_patient({f.name: value}, attrs))
        except (ValueError, InputError) as exc:
            errors[f.name] = _message(f, exc)
    return facts, errors


def _parse(raw: str, a: Attribute) -> Any:
    if a.type == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(raw)
        return raw == "true"
    if a.type in ("integer", "number"):
        from engine.language.source import read_number  # decimal only: never 3_4 → 34 or 1,5 → 15

        x = read_number(raw)
        if a.type == "integer":
            if not float(x).is_integer():
                raise ValueError(raw)
            return int(x)
        return x
    return raw


def _message(f: Field, exc: Exception) -> str:
    what = f.label[:1].lower() + f.label[1:]
    if f.attr.type in ("integer", "number"):
        return f"Enter {what} as {_allowed(f.attr)}, or leave it blank"
    return f"Choose an answer for {what}"
