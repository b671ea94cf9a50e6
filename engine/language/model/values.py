"""Strict value types for everything read from files: a number is a number as written, a flag is
true or false. pydantic's lax mode would read `min: "18"` as 18, `commissioned: "yes"` as True and
`.nan` as a number that compares false with everything (switching a range check off)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

#: A finite number written as a number (an integer is a number too); never text, a flag or NaN.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: true or false, written so: not "yes", not 1.
Flag = StrictBool
#: A whole number written as one.
Count = StrictInt

__all__ = ["Number", "Flag", "Count"]
