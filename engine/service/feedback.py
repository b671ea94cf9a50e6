"""CDS Hooks feedback: which cards prescribers accepted or overrode, and why — kept in the register
database (table `cds_feedback`, migration 0021), so it outlives the process and every worker's
feedback is in one place.

What each card said (summary, indicator) is remembered in memory for the cards this process issued
(bounded), and stored beside the feedback that names it; feedback on a card from another worker or
an earlier process is stored with `shown` empty.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any


class FeedbackStore:
    def __init__(self, url: str | None = None, max_cards: int = 10_000):
        self._lock = threading.Lock()
        self._cards: dict[str, dict[str, Any]] = {}
        self._max = max_cards
        self._url = url
        self._engine: Any = None

    def issued(self, service_id: str, card: dict[str, Any]) -> None:
        """Remember a card we sent, so feedback on it can say what it was."""
        with self._lock:
            if len(self._cards) >= self._max:
                self._cards.pop(next(iter(self._cards)))
            self._cards[card["uuid"]] = {"service": service_id, "summary": card["summary"],
                                         "indicator": card["indicator"]}

    def _db(self) -> Any:
        with self._lock:
            if self._engine is None:
                from engine.register.db import make_engine, migrate

                engine = make_engine(self._url)
                migrate(engine)
                self._engine = engine
            return self._engine

    def record(self, service_id: str, items: list[dict[str, Any]], caller: str | None = None) -> list[dict[str, Any]]:
        """Store feedback items (one transaction); the rows as stored."""
        from sqlalchemy import insert

        from engine.register.models import CdsFeedback

        now = dt.datetime.now(dt.UTC)
        rows = []
        for item in items:
            reason = item.get("overrideReason") or {}
            coding = reason.get("reason") or {}
            rows.append({"service": service_id, "card": item["card"], "outcome": item["outcome"],
                         "override_reason": coding.get("display") or coding.get("code"),
                         "override_code": coding.get("code"), "user_comment": reason.get("userComment"),
                         "accepted_suggestions": [s.get("id") for s in item.get("acceptedSuggestions") or []],
                         "outcome_timestamp": item.get("outcomeTimestamp"), "caller": caller,
                         "shown": self._cards.get(item["card"]), "received_at": now})
        with self._db().begin() as conn:
            conn.execute(insert(CdsFeedback), rows)
        return rows

    def all(self) -> list[dict[str, Any]]:
        """Every stored feedback row, oldest first."""
        from sqlalchemy import select

        from engine.register.models import CdsFeedback

        cols = [c.name for c in CdsFeedback.__table__.columns]
        with self._db().connect() as conn:
            out = conn.execute(select(CdsFeedback.__table__).order_by(CdsFeedback.id)).mappings().all()
        return [{k: r[k] for k in cols} for r in out]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
