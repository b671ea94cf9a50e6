"""Lower a version as written to the full rules it stands for: apply its changes to the
version it is based on, bind references to other policies, and hash the result.

The digest covers the resolved rules (and the digests of referenced policies), so a
recorded decision is tied to exactly the rules that made it, however the file is laid out.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import InputError, Location, Problem
from engine.language.model.criteria import Node, PolicyRef, walk
from engine.language.model.policy import Policy, Version


@dataclass(frozen=True)
class ResolvedVersion:
    """Everything the evaluator needs for one version: no 'based_on', no unresolved reference."""

    policy: Policy
    version: Version
    commissioning: str
    route_when_eligible: str
    scope: str
    criteria: tuple[Node, ...]
    scope_criteria: tuple[Node, ...]
    refs: dict[str, ResolvedVersion] = field(default_factory=dict)
    digest: str = ""

    @property
    def id(self) -> str:
        return self.policy.id

    @property
    def label(self) -> str:
        return self.version.version

    def criterion_nodes(self) -> list[Node]:
        return [n for top in (*self.scope_criteria, *self.criteria) for n in walk(top) if n.id]


def _apply(policy: Policy, v: Version, seen: tuple[str, ...] = ()) -> tuple[tuple[Node, ...], dict]:
    """(criteria, overridden metadata) of a version, following `based_on` back to a full version."""
    if v.version in seen:
        raise InputError(Problem("invalid-policy", f"{policy.id}: versions {' → '.join(seen + (v.version,))} "
                                                   "are based on each other in a loop", v.at("based_on")))
    meta = {k: getattr(v, k) for k in ("commissioning", "route_when_eligible", "scope", "scope_criteria")
            if getattr(v, k) is not None}
    if v.based_on is None:
        return tuple(v.criteria or ()), meta
    base = next(x for x in policy.versions if x.version == v.based_on)
    criteria, base_meta = _apply(policy, base, seen + (v.version,))
    items = list(criteria)
    ids = lambda: [c.id for c in items]  # noqa: E731
    for ch in v.changes:
        if ch.remove is not None:
            if ch.remove not in ids():
                raise _no_such(policy, v, ch.remove, ids(), ch.at("remove"))
            items = [c for c in items if c.id != ch.remove]
        elif ch.replace is not None:
            if ch.replace.id not in ids():
                raise _no_such(policy, v, ch.replace.id, ids(), ch.at("replace"))
            items = [ch.replace.with_ if c.id == ch.replace.id else c for c in items]
        elif ch.add is not None:
            if ch.add.after is None:
                items.append(ch.add.criterion)
            else:
                if ch.add.after not in ids():
                    raise _no_such(policy, v, ch.add.after, ids(), ch.at("add"))
                at = ids().index(ch.add.after) + 1
                items.insert(at, ch.add.criterion)
    return tuple(items), {**base_meta, **meta}


def _no_such(policy: Policy, v: Version, cid: str, ids: list, where: Location) -> InputError:
    return InputError(Problem("invalid-policy", f"{policy.id} {v.version}: a change names criterion {cid!r}, which "
                                                f"{v.based_on} does not have (it has: {', '.join(map(str, ids))})",
                              where))


def referenced_policies(nodes: tuple[Node, ...]) -> list[PolicyRef]:
    return [n for top in nodes for n in walk(top) if isinstance(n, PolicyRef)]


def resolve(policy: Policy, v: Version,
            ref_lookup: Callable[[PolicyRef, Version], ResolvedVersion]) -> ResolvedVersion:
    criteria, meta = _apply(policy, v)
    scope_criteria = tuple(meta.get("scope_criteria") or ())
    refs = {r.policy: ref_lookup(r, v) for r in referenced_policies(criteria + scope_criteria)}
    rv = ResolvedVersion(
        policy=policy, version=v,
        commissioning=meta.get("commissioning", policy.commissioning),
        route_when_eligible=meta.get("route_when_eligible", policy.route_when_eligible),
        scope=meta.get("scope", policy.scope),
        criteria=criteria, scope_criteria=scope_criteria, refs=refs,
    )
    return ResolvedVersion(**{**rv.__dict__, "digest": digest(rv)})


def canonical(rv: ResolvedVersion) -> dict:
    """The content a digest covers, as plain JSON-able data."""
    dump = lambda nodes: [n.model_dump(mode="json", by_alias=True, exclude_none=True) for n in nodes]  # noqa: E731
    v = rv.version
    return {
        "policy": rv.policy.id, "title": rv.policy.title, "intervention": rv.policy.intervention,
        "scope": rv.scope, "commissioning": rv.commissioning, "route_when_eligible": rv.route_when_eligible,
        "version": v.version, "status": v.status,
        "effective_from": v.effective_from.isoformat() if v.effective_from else None,
        "effective_to": v.effective_to.isoformat() if v.effective_to else None,
        "scope_criteria": dump(rv.scope_criteria), "criteria": dump(rv.criteria),
        "refs": {k: r.digest for k, r in sorted(rv.refs.items())},
    }


def digest(rv: ResolvedVersion) -> str:
    from engine.language.canonical import sha256_digest

    return sha256_digest(canonical(rv))
