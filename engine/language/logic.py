"""Kleene's three-valued logic, defined once: True (met), False (unmet), None (unknown).

>>> k_and([True, None]), k_and([False, None]), k_or([True, None]), k_or([False, None]), k_not(None)
(None, False, True, None, None)
>>> k_implies(False, None), k_implies(True, None), k_implies(None, True)
(True, None, True)
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from engine.language.vocabulary import CriterionStatus

Truth = Optional[bool]
STATUS: dict[Truth, CriterionStatus] = {True: CriterionStatus.met, False: CriterionStatus.unmet,
                                        None: CriterionStatus.unknown}


def k_and(values: Iterable[Truth]) -> Truth:
    """Unmet if any part is unmet, met if all are met, otherwise unknown."""
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True


def k_or(values: Iterable[Truth]) -> Truth:
    """Met if any part is met, unmet if all are unmet, otherwise unknown."""
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def k_not(value: Truth) -> Truth:
    return None if value is None else not value


def k_implies(a: Truth, b: Truth) -> Truth:
    """`if a then b` is `not a or b`."""
    return k_or([k_not(a), b])
