"""The attribute dictionary: every patient fact a policy may test, with its type and range."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from engine.language.model.values import Number

AttrType = Literal["integer", "number", "boolean", "enum", "string"]


class Attribute(BaseModel):
    """One patient or request fact. Absent from a patient record means unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = ""
    type: AttrType
    unit: str | None = None
    min: Number | None = None
    max: Number | None = None
    values: tuple[str, ...] | None = None
    description: str

    @model_validator(mode="after")
    def _check(self) -> Attribute:
        if self.type == "enum" and not self.values:
            raise ValueError("an enum attribute needs 'values'")
        if self.type != "enum" and self.values:
            raise ValueError("'values' is only for enum attributes")
        if self.type not in ("integer", "number") and (self.min is not None or self.max is not None):
            raise ValueError("'min' and 'max' are only for integer and number attributes")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def range_text(self) -> str:
        if self.type == "enum":
            return "one of " + ", ".join(self.values or ())
        if self.type == "boolean":
            return "true or false"
        lo = _num(self.min) if self.min is not None else "-inf"
        hi = _num(self.max) if self.max is not None else "inf"
        kind = "an integer" if self.type == "integer" else "a number"
        return f"{kind} from {lo} to {hi}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class AttributeDictionary(BaseModel):
    """All attributes by name; loaded from policies/attributes.yaml."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    attributes: dict[str, Attribute]

    def __contains__(self, name: object) -> bool:
        return name in self.attributes

    def __getitem__(self, name: str) -> Attribute:
        return self.attributes[name]

    def names(self) -> list[str]:
        return list(self.attributes)
