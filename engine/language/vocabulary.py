"""The engine's words, defined once: a decision's outcome and route, a criterion's status, a
version's status, where a fact comes from, how a policy commissions.

They are `StrEnum`s, so each member is also its contract string ("eligible", "met", ...): JSON,
YAML and comparisons with plain strings keep working, and a misspelt member is an error.
"""
from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    eligible = "eligible"
    not_eligible = "not_eligible"
    insufficient_information = "insufficient_information"
    out_of_scope = "out_of_scope"


class Route(StrEnum):
    routine = "routine"
    prior_approval = "prior_approval"
    ifr = "ifr"
    more_information = "more_information"
    other_commissioner = "other_commissioner"


class CriterionStatus(StrEnum):
    """Kleene's three values as a criterion's result (True, False, None in engine.language.logic)."""

    met = "met"
    unmet = "unmet"
    unknown = "unknown"


class VersionStatus(StrEnum):
    ratified = "ratified"
    draft = "draft"


class Provenance(StrEnum):
    seed = "seed"            # the commissioner's own papers (../shared/seeds)
    public = "public"        # a named public NHS source
    comparator = "comparator"  # another area or NICE: a stand-in, not known to be the local rule


class Commissioning(StrEnum):
    routinely_commissioned = "routinely_commissioned"
    criteria_based = "criteria_based"
    not_routinely_commissioned = "not_routinely_commissioned"
