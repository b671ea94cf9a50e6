"""Routing rules as written in `policies/routing.yaml`: what each route asks of the requester.

Shared by every policy; a policy adds its own lines under `policies:`, never a code branch.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Provenance = Literal["seed", "public", "comparator", "project"]
RouteId = Literal["routine", "prior_approval", "ifr", "more_information", "other_commissioner"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exceptionality(_Strict):
    """The test an IFR must meet, in the commissioner's words, with its source."""

    test: str
    source: str
    provenance: Provenance
    also: str | None = None
    also_source: str | None = None
    not_unique: str | None = None
    timescale: str | None = None


class RouteRule(_Strict):
    title: str
    summary: str
    provenance: Provenance
    source: str
    steps: tuple[str, ...] = Field(min_length=1)
    submit: tuple[str, ...] = ()
    must_show: tuple[str, ...] = ()


class Commissioner(_Strict):
    id: str
    name: str
    provenance: Provenance
    source: str
    covers: str
    how: str


class PolicyRouting(_Strict):
    """One policy's additions: who governs what falls outside it, and notes for every letter."""

    commissioner: str | None = None
    out_of_scope: str | None = None
    out_of_scope_source: str | None = None
    other_policy: str | None = None   # the policy that governs what falls outside this one
    notes: tuple[str, ...] = ()


class IfrService(_Strict):
    """Who receives an IFR: the service for the patient's CCG (`ccgs`), or for the rest (no `ccgs`)."""

    id: str
    name: str
    provenance: Provenance
    source: str
    ccgs: tuple[str, ...] = ()


class RoutingRules(_Strict):
    exceptionality: Exceptionality
    routes: dict[RouteId, RouteRule]
    service_development: RouteRule
    commissioners: tuple[Commissioner, ...] = ()
    ifr_services: tuple[IfrService, ...] = ()
    policies: dict[str, PolicyRouting] = {}

    def ifr_services_for(self, ccg: str | None) -> tuple[IfrService, ...]:
        """The service for a patient's CCG; with the CCG unknown, every service (each says whom it serves)."""
        if ccg is None:
            return self.ifr_services
        own = tuple(s for s in self.ifr_services if ccg in s.ccgs)
        return own or tuple(s for s in self.ifr_services if not s.ccgs)

    def commissioner(self, cid: str) -> Commissioner | None:
        return next((c for c in self.commissioners if c.id == cid), None)
