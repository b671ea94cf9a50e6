"""Canonical JSON and the hash chain.

An audit entry's hash is an HMAC-SHA256 (engine.register.keys) over the canonical JSON (sorted
keys, no spaces, UTF-8, timestamps as UTC ISO-8601) of the entry including the previous
entry's hash, so changing, removing or reordering any entry breaks every hash after it, and
only a holder of the key can write a valid one. Domain rows are vouched for by their own
sha256, recorded in the audit entry that created them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # SQLite drops the zone; we only ever write UTC
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def canonical_json(data: Any) -> str:
    return json.dumps(plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def row_data(row: Any) -> dict[str, Any]:
    """An ORM row as a plain dict of its columns (what its hash covers)."""
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


def row_hash(row: Any) -> str:
    return sha256(row_data(row))


def entry_content(entry: Any) -> dict[str, Any]:
    """What an audit entry's MAC covers: every column but the hash itself (payload.key included)."""
    data = row_data(entry)
    data.pop("hash", None)
    return data


def entry_hash(entry: Any, keys: Any) -> str:
    """The hash an audit entry must carry: HMAC-SHA256 (`keys`, an engine.register.keys.Keyring),
    under the key its payload names, of its content. Without the key (kept outside the database) nobody can recompute it."""
    return keys.mac(entry.payload["key"], entry_content(entry))


def now() -> dt.datetime:
    """Stored timestamps: UTC, microseconds (both databases keep them)."""
    return dt.datetime.now(dt.timezone.utc)
