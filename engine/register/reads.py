"""The register's reads: a case with its history, the case list, audit entries, signals.

Mixed into engine.register.store.Register, which holds the session factory; nothing here writes.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.register import workflow
from engine.register.chain import GENESIS, now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SIGNAL = "signal.service_development"
_REF = re.compile(r"^IFR-[0-9]{6,12}$")


def _today() -> dt.date:
    return now().date()


def _as_date(value: dt.datetime) -> dt.date:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.date()


class Reads:
    Session: Any

    def _case(self, s: Session, ref: str) -> Any:
        from engine.register.models import Case

        case = s.get(Case, ref) if isinstance(ref, str) and _REF.match(ref) else None
        if case is None:
            raise InputError.of("unknown-case", f"no case {str(ref)[:40]!r} in the register",
                                hint="`cpe case list` shows the cases")
        return case

    @staticmethod
    def _events(s: Session, ref: str) -> list[Any]:
        from sqlalchemy import select

        from engine.register.models import CaseEvent

        return list(s.scalars(select(CaseEvent).where(CaseEvent.case_ref == ref).order_by(CaseEvent.seq)))

    def entries(self, actions: tuple[str, ...], *, case_ref: str | None = None,
                since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Audit entries of some actions (oldest first), optionally for one case or since a time."""
        from sqlalchemy import select

        from engine.language.canonical import plain
        from engine.register.models import AuditEntry

        q = select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.seq)
        if case_ref is not None:
            q = q.where(AuditEntry.case_ref == case_ref)
        if since is not None:
            q = q.where(AuditEntry.at >= since)
        with self.Session() as s:
            rows = list(s.scalars(q))
        return [plain({"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action, "case_ref": r.case_ref,
                       "hash": r.hash, **{k: v for k, v in r.payload.items() if k != "rows"}}) for r in rows]

    def head(self) -> str:
        """The newest audit entry's hash (printed on letters, so the chain's tail can be checked later)."""
        from sqlalchemy import select

        from engine.register.models import AuditEntry

        with self.Session() as s:
            h = s.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))
        return h or GENESIS

    def show(self, ref: str) -> dict[str, Any]:
        """The case with its decision, panel decisions, history and audit entries."""
        from sqlalchemy import select

        from engine.language.canonical import plain
        from engine.register.models import AuditEntry, Evaluation, PanelDecision

        with self.Session() as s:
            case = self._case(s, ref)
            evals = list(s.scalars(select(Evaluation).where(Evaluation.case_ref == ref).order_by(Evaluation.id)))
            panels = list(s.scalars(select(PanelDecision).where(PanelDecision.case_ref == ref)
                                    .order_by(PanelDecision.id)))
            events = self._events(s, ref)
            audit = list(s.scalars(select(AuditEntry).where(AuditEntry.case_ref == ref).order_by(AuditEntry.seq)))
        state = events[-1].to_state
        due = workflow.decision_due(_as_date(case.created_at))
        return plain({
            "ref": case.ref, "policy_id": case.policy_id, "intervention": case.intervention,
            "referral_date": case.referral_date, "requester": case.requester, "grounds": case.grounds,
            "patient": case.patient, "patient_ref": case.patient_ref,
            "created_at": case.created_at, "created_by": case.created_by,
            "state": state, "allowed": workflow.allowed(state),
            "decision_due": due, "overdue": state in workflow.OPEN_STATES and _today() > due
                                            and not any(e.to_state == "decided" for e in events),
            "decision": evals[-1].decision,
            "evaluations": [{"id": e.id, "policy_id": e.policy_id, "version": e.version, "digest": e.digest,
                             "engine_version": e.engine_version, "on": e.on_date, "outcome": e.outcome,
                             "route": e.route, "evaluated_at": e.evaluated_at} for e in evals],
            "panel_decisions": [{"outcome": p.outcome, "reason": p.reason, "decided_by": p.decided_by,
                                 "decided_at": p.decided_at} for p in panels],
            "panel_decision": panels[-1].outcome if panels else None,
            "history": [{"seq": e.seq, "action": e.action, "from": e.from_state, "to": e.to_state,
                         "actor": e.actor, "at": e.at, **{k: v for k, v in e.data.items() if k != "guard"}}
                        for e in events],
            "audit": [{"seq": a.seq, "action": a.action, "at": a.at, "actor": a.actor, "hash": a.hash}
                      for a in audit],
        })

    def list_cases(self, policy_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from engine.language.canonical import plain
        from engine.register.models import Case, CaseEvent, Evaluation, PanelDecision

        with self.Session() as s:
            q = select(Case).order_by(Case.number)
            if policy_id:
                q = q.where(Case.policy_id == policy_id)
            cases = list(s.scalars(q))
            last: dict[str, Any] = {}
            for e in s.scalars(select(CaseEvent).order_by(CaseEvent.case_ref, CaseEvent.seq)):
                last[e.case_ref] = e
            outcome = {e.case_ref: e.outcome for e in s.scalars(select(Evaluation).order_by(Evaluation.id))}
            panel = {p.case_ref: p.outcome for p in s.scalars(select(PanelDecision).order_by(PanelDecision.id))}
        today, out = _today(), []
        for c in cases:
            st = last[c.ref].to_state
            if state and st != state:
                continue
            due = workflow.decision_due(_as_date(c.created_at))
            out.append(plain({"ref": c.ref, "policy_id": c.policy_id, "created_at": c.created_at,
                              "referral_date": c.referral_date, "state": st, "engine_outcome": outcome.get(c.ref),
                              "panel_decision": panel.get(c.ref), "decision_due": due,
                              "overdue": st in ("submitted", "screening", "panel") and today > due}))
        return out

    def signals(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from engine.language.canonical import plain
        from engine.register.models import AuditEntry

        with self.Session() as s:
            rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == SIGNAL).order_by(AuditEntry.seq)))
        return [plain({"seq": r.seq, "at": r.at, "case_ref": r.case_ref,
                       **{k: v for k, v in r.payload.items() if k not in ("rows", "key")}}) for r in rows]
