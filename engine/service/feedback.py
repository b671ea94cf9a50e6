"""CDS Hooks feedback: which cards prescribers accepted or overrode, and why.

Kept in memory for the life of the process (the case register owns the database); each
record keeps the card's summary so an override reason can be read against what was shown.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any


class FeedbackStore:
    def __init__(self, max_cards: int = 10_000):
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any]] = {}
        self._records: list[dict[str, Any]] = []
        self._max = max_cards

    def issued(self, service_id: str, card: dict[str, Any]) -> None:
        """Remember a card we sent, so feedback on it can say what it was."""
        with self._lock:
            if len(self._cards) >= self._max:
                self._cards.pop(next(iter(self._cards)))
            self._cards[card["uuid"]] = {"service": service_id, "summary": card["summary"],
                                         "indicator": card["indicator"]}

    def record(self, service_id: str, item: dict[str, Any]) -> dict[str, Any]:
        reason = item.get("overrideReason") or {}
        coding = reason.get("reason") or {}
        row = {"service": service_id, "card": item["card"], "outcome": item["outcome"],
               "override_reason": coding.get("display") or coding.get("code"),
               "override_code": coding.get("code"),
               "user_comment": reason.get("userComment"),
               "accepted_suggestions": [s.get("id") for s in item.get("acceptedSuggestions") or []],
               "outcome_timestamp": item.get("outcomeTimestamp"),
               "received": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "shown": self._cards.get(item["card"])}
        with self._lock:
            self._records.append(row)
        return row

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)
