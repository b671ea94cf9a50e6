"""Coverage of a policy's example cases: which criteria the examples have seen both met and unmet.

A criterion the examples never see unmet (or never met) is untested in one direction: a typo
in its threshold would pass every example. Counted per version, since versions differ.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.analysis.examples import ExampleRun


@dataclass
class VersionCoverage:
    policy: str
    version: str
    cases: int
    seen: dict[str, set[str]] = field(default_factory=dict)   # criterion id -> statuses seen

    @property
    def gaps(self) -> dict[str, list[str]]:
        """Criterion id -> the statuses ('met', 'unmet') the examples never produced."""
        return {cid: [s for s in ("met", "unmet") if s not in st] for cid, st in self.seen.items()
                if not {"met", "unmet"} <= st}

    @property
    def covered(self) -> int:
        return len(self.seen) - len(self.gaps)


def coverage(policy_id: str, runs: list[ExampleRun], versions: list[str] | None = None) -> list[VersionCoverage]:
    """One entry per version the runs decided under (and per listed version without any case)."""
    out: dict[str, VersionCoverage] = {}
    for r in runs:
        d = r.decision
        if d is None:
            continue
        vc = out.setdefault(d.policy.version, VersionCoverage(policy_id, d.policy.version, 0))
        vc.cases += 1
        for c in d.criteria:
            vc.seen.setdefault(c.id, set()).add(c.status)
    for v in versions or []:
        out.setdefault(v, VersionCoverage(policy_id, v, 0))
    order = {v: i for i, v in enumerate(versions or [])}
    return sorted(out.values(), key=lambda vc: order.get(vc.version, len(order)))
