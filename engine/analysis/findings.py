"""A lint finding: level, code, message and where (shared by engine.analysis.lint and its checks)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.errors import Location


@dataclass
class Finding:
    level: str          # "error" | "warning"
    code: str
    message: str
    location: Location = dataclasses.field(default_factory=Location)

    def __str__(self) -> str:
        where = str(self.location)
        return f"{where + ': ' if where else ''}{self.level}: {self.code}: {self.message}"
