"""Canonical JSON, defined once: sorted keys, no spaces, UTF-8, dates as ISO text (datetimes in UTC
with microseconds), no NaN. Policy digests, the formulary listing's digest and the register's hash
chain are all taken over it, so the same content always has the same bytes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any


def plain(value: Any) -> Any:
    """JSON-ready data: dates and datetimes as text, tuples as lists, keys as strings."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite drops the zone; the engine only ever writes UTC
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def canonical_json(data: Any) -> str:
    return json.dumps(plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_digest(data: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of `data`."""
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()
