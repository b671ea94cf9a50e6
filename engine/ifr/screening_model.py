"""IFR screening rules as written in `policies/ifr-screening.yaml`: non-qualifying reasons, the
possible exceptionality grounds to weigh, and the signs of a service development, each with
screening phrases (regular expressions)."""
from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reason(_Strict):
    """One thing a request may say: a reason that does not, on its own, make a case exceptional,
    or a possible ground the panel must weigh."""

    id: str = "service_development"
    label: str
    explanation: str
    patterns: tuple[str, ...] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
        return v

    def compiled(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.patterns]


class ScreeningRules(_Strict):
    source: str
    provenance: str
    non_qualifying: tuple[Reason, ...] = Field(min_length=1)
    grounds_to_weigh: tuple[Reason, ...] = ()
    service_development: Reason
