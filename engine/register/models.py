"""The register's tables. Every table is insert-only (database triggers refuse UPDATE and
DELETE); a case's current state is the last of its recorded events, never an edited column.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Case(Base):
    """One individual funding request as it arrived."""

    __tablename__ = "cases"
    ref: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    policy_id: Mapped[str] = mapped_column(String(100), index=True)
    intervention: Mapped[Optional[str]] = mapped_column(String(200))
    referral_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    patient: Mapped[dict[str, Any]] = mapped_column(JSON)
    patient_ref: Mapped[Optional[str]] = mapped_column(String(100))  # local identifier: never logged
    requester: Mapped[str] = mapped_column(String(200))
    grounds: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(200))


class Evaluation(Base):
    """What the engine said, tied byte for byte to the rules that said it."""

    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.ref"), index=True)
    policy_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(80))
    engine_version: Mapped[str] = mapped_column(String(40))
    on_date: Mapped[Optional[dt.date]] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(40))
    route: Mapped[str] = mapped_column(String(40))
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PanelDecision(Base):
    """The IFR panel's decision and its reasons (a review panel adds another)."""

    __tablename__ = "panel_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.ref"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CaseEvent(Base):
    """One workflow transition; replaying them rebuilds the statechart."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_ref", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.ref"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[Optional[str]] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditEntry(Base):
    """The append-only, hash-chained log: each row's hash covers the previous row's hash."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60), index=True)
    case_ref: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class IdempotencyKey(Base):
    """A client's key for one case creation: the same key again returns that case, not a new one."""

    __tablename__ = "idempotency_keys"
    actor: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    case_ref: Mapped[str] = mapped_column(ForeignKey("cases.ref"))
    request_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CdsFeedback(Base):
    """CDS Hooks feedback: whether a prescriber accepted or overrode a card, and why (CDS Hooks 2.0
    "Feedback"). What the card said is kept beside it when this process issued the card."""

    __tablename__ = "cds_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[str] = mapped_column(String(100), index=True)
    card: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    override_code: Mapped[Optional[str]] = mapped_column(String(100))
    override_reason: Mapped[Optional[str]] = mapped_column(String(500))
    user_comment: Mapped[Optional[str]] = mapped_column(Text)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON)
    outcome_timestamp: Mapped[str] = mapped_column(String(40))
    caller: Mapped[Optional[str]] = mapped_column(String(500))  # the JWT iss of the EHR that sent it
    shown: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


#: Tables whose rows the audit log vouches for, with how to name a row in messages.
AUDITED = {"cases": Case, "evaluations": Evaluation, "panel_decisions": PanelDecision, "case_events": CaseEvent}
APPEND_ONLY = ["cases", "evaluations", "panel_decisions", "case_events", "audit_log", "idempotency_keys",
               "cds_feedback"]
