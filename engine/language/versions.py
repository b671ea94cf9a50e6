"""Which version of a policy applies: by label, by the referral date, or today.

Policies apply to new referrals from their effective date, so the referral date picks the
ratified version in force on it. Drafts are only ever picked by label.
"""
from __future__ import annotations

import datetime as dt

from engine.errors import InputError, did_you_mean
from engine.language.model.policy import Policy, Version


def ends(policy: Policy, v: Version) -> dt.date | None:
    """Last day in force: `effective_to`, else the day before the next ratified version starts."""
    if v.effective_to is not None or v.status != "ratified":
        return v.effective_to
    later = sorted(x.effective_from for x in policy.versions
                   if x.status == "ratified" and x.effective_from and v.effective_from
                   and x.effective_from > v.effective_from)
    return later[0] - dt.timedelta(days=1) if later else None


def in_force(policy: Policy, on: dt.date) -> Version | None:
    """The ratified version in force on a date (the latest to start, if two overlap)."""
    live = [v for v in policy.versions
            if v.status == "ratified" and v.effective_from and v.effective_from <= on
            and (ends(policy, v) is None or on <= ends(policy, v))]  # type: ignore[operator]
    return max(live, key=lambda v: v.effective_from) if live else None  # type: ignore[arg-type,return-value]


def select(policy: Policy, *, version: str | None = None, on: dt.date | None = None,
           today: dt.date | None = None) -> Version:
    """The version a request is judged under; InputError when there is none."""
    if version is not None and on is not None:
        raise InputError.of("bad-option", "give --version or --on, not both")
    labels = [v.version for v in policy.versions]
    if version is not None:
        for v in policy.versions:
            if v.version == version:
                return v
        raise InputError.of("unknown-version", f"policy {policy.id!r} has no version {version!r}",
                            hint=did_you_mean(version, labels) or f"versions: {', '.join(labels)}")
    day = on or today or dt.date.today()
    found = in_force(policy, day)
    if found is None:
        ratified = [f"{v.version} (from {v.effective_from})" for v in policy.versions if v.status == "ratified"]
        raise InputError.of("no-version-in-force",
                            f"policy {policy.id!r} has no ratified version in force on {day.isoformat()}",
                            hint=("ratified: " + ", ".join(ratified)) if ratified else
                            f"it has only drafts ({', '.join(labels)}); pick one with --version")
    return found


def parse_date(text: str, what: str = "--on") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError.of("bad-date", f"{what} {text!r} is not an ISO date", hint="e.g. 2019-06-01") from None
