"""The register's operations. This is the only code that writes: every write takes the chain
lock, inserts its rows, and appends one audit entry vouching for them, in one transaction.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InputError
from engine.register import workflow
from engine.register.chain import GENESIS, entry_hash, now, row_hash, sha256
from engine.register.reads import SIGNAL, Reads, _as_date, _today

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.language.suite import Suite
    from engine.register.keys import Keyring

log = logging.getLogger("cpe.register")  # refs, actions and outcomes only: never facts or identifiers

PANEL_OUTCOMES = ("approved", "declined")


@lru_cache(maxsize=1)
def engine_version() -> str:
    try:
        return metadata.version("cpe")
    except metadata.PackageNotFoundError:
        return "unknown"


_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def check_texts(**fields: tuple[str | None, int | None]) -> None:
    """Refuse text no database stores as written (a NUL, a lone surrogate) or longer than its column,
    as bad input naming the field (never the text: it may be personal data)."""
    from engine.language.source import bad_text

    for name, (value, limit) in fields.items():
        if value is None:
            continue
        why = bad_text(value) if isinstance(value, str) else "expected text"
        if why is None and limit is not None and len(value) > limit:
            why = f"longer than {limit} characters"
        if why:
            raise InputError.of("bad-value", f"{name}: {why}")


class Register(Reads):
    """One register database. Opening it brings its schema up to date."""

    def __init__(self, url: str | None = None, suite: Suite | None = None, keys: Keyring | None = None,
                 checkpoints: Path | None = None):
        from sqlalchemy.orm import sessionmaker

        from engine.register import checkpoint
        from engine.register.db import database_url, make_engine, migrate

        self.url = database_url(url)
        self.engine = make_engine(self.url)
        migrate(self.engine)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self._suite = suite
        self._keys = keys
        self.checkpoints = checkpoints or checkpoint.file_for(self.url)

    @property
    def keys(self) -> Keyring:
        """The signing keys (outside the database); made on the first write if none is configured."""
        if self._keys is None:
            from engine.register.keys import load

            self._keys = load(create=True)
        assert self._keys is not None  # load(create=True) makes a key file when none is configured
        return self._keys

    def verify_keys(self) -> Keyring | None:
        """The keys to check the chain with, never made up: None when none is configured."""
        if self._keys is None:
            from engine.register.keys import load

            self._keys = load(create=False)
        return self._keys

    @property
    def suite(self) -> Suite:
        if self._suite is None:
            from engine.language.suite import Suite

            self._suite = Suite()
        return self._suite

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[Session]:
        from engine.register.db import lock_chain

        keys = self.keys  # before the lock: a missing or bad key fails without writing
        with self.Session.begin() as s:
            lock_chain(s.connection())
            s.info["keys"] = keys
            yield s
        head = s.info.get("head")
        if head:  # committed: anchor the new head outside the database before acknowledging
            from engine.register import checkpoint

            checkpoint.append(self.checkpoints, keys, *head)

    def _audit(self, s: Session, actor: str, action: str, case_ref: str | None, payload: dict[str, Any],
               rows: Sequence[Any] = ()) -> Any:
        from sqlalchemy import select

        from engine.register.models import AuditEntry

        s.flush()
        vouched: dict[str, dict[str, str]] = {}
        for r in rows:
            pk = r.__mapper__.primary_key_from_instance(r)[0]
            vouched.setdefault(r.__tablename__, {})[str(pk)] = row_hash(r)
        head = s.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
        keys = s.info["keys"]
        entry = AuditEntry(seq=(head.seq + 1) if head else 1, at=now(), actor=actor, action=action,
                           case_ref=case_ref, payload={**payload, "rows": vouched, "key": keys.active},
                           prev_hash=head.hash if head else GENESIS)
        entry.hash = entry_hash(entry, keys)
        s.add(entry)
        s.flush()
        s.info["head"] = (entry.seq, entry.hash)
        return entry

    # -- cases -----------------------------------------------------------------------------
    def new_case(self, policy_id: str, patient: Mapping[str, Any], *, on: dt.date | None = None,
                 version: str | None = None, grounds: str | None = None, requester: str | None = None,
                 actor: str, patient_ref: str | None = None, validated: bool = False,
                 idempotency_key: str | None = None) -> dict[str, Any]:
        """Record a request and the engine's decision on it: {"ref", "decision", "signals"}.
        With `idempotency_key`, the same caller sending the same key again gets the case it created
        then (with "replayed": True), never a second one; the key with another request is refused."""
        from sqlalchemy import func, select

        from engine.language.decide import decide
        from engine.language.patient import validate_patient
        from engine.register.models import Case, CaseEvent, Evaluation, IdempotencyKey

        check_texts(grounds=(grounds, None), requester=(requester, 200), patient_ref=(patient_ref, 100),
                    actor=(actor, 200), idempotency_key=(idempotency_key, 100))
        if idempotency_key is not None and not _KEY.match(idempotency_key):
            raise InputError.of("bad-idempotency-key", "an idempotency key is 1 to 100 letters, digits or . _ : -")
        suite = self.suite
        rv = suite.select(policy_id, version=version, on=on)
        facts = dict(patient) if validated else validate_patient(patient, suite.attributes)
        decision = json.loads(json.dumps(decide(rv, facts, on).to_json()))
        asked = sha256({"policy_id": rv.id, "version": rv.label, "on": on, "patient": facts, "grounds": grounds,
                        "requester": requester or actor, "patient_ref": patient_ref})
        with self._writing() as s:
            if idempotency_key is not None:
                seen = s.get(IdempotencyKey, (actor, idempotency_key))
                if seen is not None:
                    return self._replay(s, seen, asked)
            number = (s.scalar(select(func.max(Case.number))) or 0) + 1
            ref = f"IFR-{number:06d}"
            at = now()
            case = Case(ref=ref, number=number, policy_id=rv.id, intervention=rv.policy.intervention,
                        referral_date=on, patient=facts, patient_ref=patient_ref, requester=requester or actor,
                        grounds=grounds, created_at=at, created_by=actor)
            s.add(case)
            s.flush()
            ev = Evaluation(case_ref=ref, policy_id=rv.id, version=rv.label, digest=rv.digest,
                            engine_version=engine_version(), on_date=on, outcome=decision["outcome"],
                            route=decision["route"], decision=decision, evaluated_at=at)
            first = CaseEvent(case_ref=ref, seq=1, action="submit", from_state=None, to_state="submitted",
                              actor=actor, at=at, data={"guard": {}})
            s.add_all([ev, first])
            if idempotency_key is not None:
                s.add(IdempotencyKey(actor=actor, key=idempotency_key, case_ref=ref, request_digest=asked,
                                     created_at=at))
            self._audit(s, actor, "case.created", ref,
                        {"policy_id": rv.id, "version": rv.label, "digest": rv.digest,
                         "outcome": decision["outcome"], "route": decision["route"]}, [case, ev, first])
            signal = self._service_development(s, case, actor)
        log.info("case created ref=%s policy=%s version=%s outcome=%s", ref, rv.id, rv.label, decision["outcome"])
        return {"ref": ref, "decision": decision, "signals": [signal] if signal else []}

    def _replay(self, s: Session, seen: Any, asked: str) -> dict[str, Any]:
        """The answer a case creation gave the first time its idempotency key was used."""
        from sqlalchemy import select

        from engine.register.models import Evaluation

        if seen.request_digest != asked:
            raise InputError.of("idempotency-key-reused", f"this idempotency key already created {seen.case_ref} "
                                "from a different request", hint="use a new key for a new request")
        ev = s.scalars(select(Evaluation).where(Evaluation.case_ref == seen.case_ref).order_by(Evaluation.id)).one()
        log.info("case creation replayed ref=%s", seen.case_ref)
        return {"ref": seen.case_ref, "decision": ev.decision, "signals": [], "replayed": True}

    def _service_development(self, s: Session, case: Any, actor: str) -> dict[str, Any] | None:
        """Several requests for one intervention in a window suggest a policy gap, not an exception
        (NHS England: more than five IFRs for the same treatment)."""
        from sqlalchemy import func, select

        from engine.register.models import AuditEntry, Case
        from engine.settings import setting

        threshold, window = setting("signal_threshold"), setting("signal_window_days")
        since = case.created_at - dt.timedelta(days=window)
        count = s.scalar(select(func.count()).select_from(Case).where(
            Case.policy_id == case.policy_id, Case.created_at >= since)) or 0
        if count <= threshold:
            return None
        for e in s.scalars(select(AuditEntry).where(AuditEntry.action == SIGNAL).order_by(AuditEntry.seq.desc())):
            at = e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC)
            if e.payload.get("policy_id") == case.policy_id and at >= since:
                return None  # already raised in this window
        payload = {"policy_id": case.policy_id, "intervention": case.intervention, "requests": count,
                   "window_days": window, "threshold": threshold,
                   "message": f"{count} requests for {case.policy_id} within {window} days: consider a policy "
                              "review (service development) rather than individual funding"}
        self._audit(s, actor, SIGNAL, case.ref, payload)
        log.warning("service development signal policy=%s requests=%d window_days=%d", case.policy_id, count, window)
        return payload

    def transition(self, ref: str, action: str, *, actor: str, note: str | None = None,
                   outcome: str | None = None, reason: str | None = None, advance: bool = False) -> dict[str, Any]:
        """Apply one workflow event (rejected unless the statechart allows it now). With
        `advance`, a panel decision on a case not yet at the panel first records the screening
        steps it implies (the command-line shortcut)."""
        check_texts(note=(note, None), reason=(reason, None), actor=(actor, 200))
        if action == "decide":
            if outcome not in PANEL_OUTCOMES:
                raise InputError.of("bad-outcome", f"outcome must be approved or declined, not {outcome!r}")
            if not reason or not reason.strip():
                raise InputError.of("no-reason", "a panel decision needs its reasons (--reason TEXT)")
        with self._writing() as s:
            self._case(s, ref)
            if advance and action == "decide":
                for step in ("screen", "refer"):
                    if self._events(s, ref)[-1].to_state in ("submitted", "screening") and \
                            step in workflow.allowed(self._events(s, ref)[-1].to_state):
                        self._apply(s, ref, step, actor, f"implied by the panel decision ({actor})", None, None)
            event = self._apply(s, ref, action, actor, note, outcome, reason)
        log.info("case transition ref=%s action=%s state=%s", ref, action, event["to"])
        return {"ref": ref, "state": event["to"], "event": event}

    def _apply(self, s: Session, ref: str, action: str, actor: str, note: str | None,
               outcome: str | None, reason: str | None) -> dict[str, Any]:
        from engine.register.models import CaseEvent, PanelDecision

        case = self._case(s, ref)
        events = self._events(s, ref)
        today = _today()
        decided = [e for e in events if e.to_state == "decided"]
        guard = {"working_days_open": workflow.working_days(_as_date(case.created_at), today),
                 "days_since_decision": (today - _as_date(decided[-1].at)).days if decided else 0,
                 "reviews": sum(1 for e in events if e.action == "request_review")}
        history = [(e.action, e.to_state, e.data.get("guard", {})) for e in events[1:]]
        t = workflow.run(history, action, guard, ref)
        at = now()
        data: dict[str, Any] = {"guard": guard, **dict(t.flags)}
        if note:
            data["note"] = note
        rows: list[Any] = []
        if action == "decide":
            pd = PanelDecision(case_ref=ref, outcome=outcome, reason=(reason or "").strip(), decided_by=actor, decided_at=at)
            s.add(pd)
            rows.append(pd)
            data["outcome"] = outcome
        ev = CaseEvent(case_ref=ref, seq=events[-1].seq + 1, action=action, from_state=events[-1].to_state,
                       to_state=t.target, actor=actor, at=at, data=data)
        s.add(ev)
        rows.insert(0, ev)
        summary = {"action": action, "from": ev.from_state, "to": t.target, **dict(t.flags)}
        if outcome:
            summary["outcome"] = outcome
        self._audit(s, actor, "case.transition", ref, summary, rows)
        return {"seq": ev.seq, "action": action, "from": ev.from_state, "to": t.target, "actor": actor,
                "at": at.isoformat(), **{k: v for k, v in data.items() if k != "guard"}}

    def record(self, actor: str, action: str, payload: dict[str, Any], *, case_ref: str | None = None,
               write: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """An audited write outside the workflow (a letter sent, an account added, a sign-in):
        `write` adds its rows in the same transaction as the one audit entry vouching for it.
        The payload is for the chain: never patient facts, passwords or their hashes."""
        with self._writing() as s:
            if case_ref is not None:
                self._case(s, case_ref)
            if write is not None:
                write(s)
            entry = self._audit(s, actor, action, case_ref, payload)
        log.info("recorded %s ref=%s", action, case_ref or "-")
        return {"seq": entry.seq, "hash": entry.hash, "at": entry.at.isoformat()}
