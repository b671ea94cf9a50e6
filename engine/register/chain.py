"""The hash chain, over the engine's one canonical JSON (engine.language.canonical).

An audit entry's hash is an HMAC-SHA256 (engine.register.keys) over the canonical JSON (sorted
keys, no spaces, UTF-8, timestamps as UTC ISO-8601) of the entry including the previous
entry's hash, so changing, removing or reordering any entry breaks every hash after it, and
only a holder of the key can write a valid one. Domain rows are vouched for by their own
sha256, recorded in the audit entry that created them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from engine.language.canonical import canonical_json, plain

GENESIS = "0" * 64
__all__ = ["GENESIS", "canonical_json", "plain", "sha256", "row_data", "row_hash", "entry_content", "entry_hash",
           "now"]


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
    return dt.datetime.now(dt.UTC)
