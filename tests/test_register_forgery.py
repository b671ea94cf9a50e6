"""An insider who can write to the database, but holds neither the register key nor the checkpoint
file, forges the record and recomputes every hash the way the chain is built: `register verify`
still fails, naming the first forged record. On SQLite and on PostgreSQL (triggers dropped or
disabled as the table owner, as such an insider could)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

from engine.register.chain import GENESIS, entry_content, row_hash, sha256
from engine.register.models import APPEND_ONLY, AUDITED, AuditEntry, Case, CaseEvent, Evaluation, PanelDecision
from engine.register.verify import verify
from tests.register_db import db_url, register  # noqa: F401

PATIENT = {"age": 30, "bmi": 24.5, "smoker": False, "implant_rupture": True}


def _history(reg) -> None:
    """Case 1 decided (approved) by the panel; case 2 just submitted."""
    reg.new_case("breast-implant-removal", PATIENT, actor="ifr_officer:ann", grounds="rupture, confirmed on scan")
    reg.transition("IFR-000001", "decide", actor="panel:bob", outcome="approved", reason="exceptional: rupture",
                   advance=True)
    reg.new_case("breast-implant-removal", {**PATIENT, "age": 17}, actor="ifr_officer:ann", grounds="none stated")
    assert verify(reg).ok


def _no_triggers(reg) -> None:
    with reg.engine.begin() as conn:
        if reg.engine.dialect.name == "sqlite":
            for (name,) in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all():
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in APPEND_ONLY:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def _vouching(s, table: str, pk: Any) -> int:
    """The audit entry that recorded a row."""
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if str(pk) in (e.payload.get("rows") or {}).get(table, {}):
            return e.seq
    raise AssertionError(f"no entry vouches for {table} {pk}")


def _rechain(s, start: int) -> None:
    """What the insider can compute: every row hash, and each entry's hash from `start` on,
    exactly as the chain is built but for the secret key (sha256 in place of the HMAC)."""
    s.flush()
    now = {t: {str(r.__mapper__.primary_key_from_instance(r)[0]): row_hash(r) for r in s.scalars(select(m))}
           for t, m in AUDITED.items()}
    prev = GENESIS
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if e.seq >= start:
            rows = {t: {pk: now[t].get(pk, h) for pk, h in by.items()} for t, by in (e.payload.get("rows") or {}).items()}
            e.payload = {**e.payload, "rows": rows}
            e.prev_hash = prev
            s.flush()
            e.hash = sha256(entry_content(e))
            s.flush()
        prev = e.hash


def _forge(reg, change: Callable[[Any], int]) -> None:
    """Apply `change` (which returns the first audit entry it touched) and recompute from there."""
    _no_triggers(reg)
    with reg.Session.begin() as s:
        _rechain(s, change(s))


def _first(reg) -> Any:
    rep = verify(reg)
    assert not rep.ok
    return rep.findings[0]


def _decision(s) -> PanelDecision:
    return s.scalars(select(PanelDecision)).one()


def _decide_event(s) -> CaseEvent:
    return s.scalars(select(CaseEvent).where(CaseEvent.action == "decide")).one()


def test_flipped_panel_outcome(register):
    _history(register)

    def flip(s) -> int:
        pd, ev = _decision(s), _decide_event(s)
        pd.outcome, ev.data = "declined", {**ev.data, "outcome": "declined"}
        e = s.get(AuditEntry, _vouching(s, "panel_decisions", pd.id))
        e.payload = {**e.payload, "outcome": "declined"}
        return e.seq

    with register.Session() as s:
        seq = _vouching(s, "panel_decisions", _decision(s).id)
    _forge(register, flip)
    bad = _first(register)
    assert bad.subject == f"audit entry #{seq}" and "MAC does not verify" in bad.message
    assert "case.transition for IFR-000001" in bad.message


def test_rewritten_grounds(register):
    _history(register)

    def rewrite(s) -> int:
        s.get(Case, "IFR-000001").grounds = "a different story"
        return _vouching(s, "cases", "IFR-000001")

    _forge(register, rewrite)
    bad = _first(register)
    assert bad.subject == "audit entry #1" and "case.created for IFR-000001" in bad.message


def test_rewritten_panel_reasons(register):
    _history(register)

    def rewrite(s) -> int:
        pd = _decision(s)
        pd.reason = "not exceptional after all"
        return _vouching(s, "panel_decisions", pd.id)

    with register.Session() as s:
        seq = _vouching(s, "panel_decisions", _decision(s).id)
    _forge(register, rewrite)
    assert _first(register).subject == f"audit entry #{seq}"


def test_changed_actor(register):
    _history(register)

    def reassign(s) -> int:
        ev = _decide_event(s)
        ev.actor = "panel:someone-else"
        e = s.get(AuditEntry, _vouching(s, "case_events", ev.id))
        e.actor = "panel:someone-else"
        return e.seq

    with register.Session() as s:
        seq = _vouching(s, "case_events", _decide_event(s).id)
    _forge(register, reassign)
    assert _first(register).subject == f"audit entry #{seq}"


def test_consistent_changes_to_facts_and_decision(register):
    """The facts and the decision changed together, so the decision re-evaluates the same: only
    the key catches it."""
    from engine.language.decide import decide

    _history(register)

    def rewrite(s) -> int:
        case = s.get(Case, "IFR-000002")
        ev = s.scalars(select(Evaluation).where(Evaluation.case_ref == "IFR-000002")).one()
        facts = {**case.patient, "age": 30}
        new = json.loads(json.dumps(decide(register.suite.resolved(ev.policy_id, ev.version), facts,
                                           ev.on_date).to_json()))
        assert new["outcome"] != ev.outcome
        case.patient, ev.decision, ev.outcome, ev.route = facts, new, new["outcome"], new["route"]
        e = s.get(AuditEntry, _vouching(s, "cases", "IFR-000002"))
        e.payload = {**e.payload, "outcome": new["outcome"], "route": new["route"]}
        return e.seq

    with register.Session() as s:
        seq = _vouching(s, "cases", "IFR-000002")
    _forge(register, rewrite)
    rep = verify(register)
    assert rep.findings[0].subject == f"audit entry #{seq}", rep.findings
    assert not any("evaluation" in f.subject for f in rep.findings)  # it does re-evaluate the same


def test_appended_fabricated_approval(register):
    """Case 2 (not eligible, never at the panel) is 'approved' by rows and entries appended to the
    end of the chain, linked to the head and hashed as the register would."""
    _history(register)

    def append(s) -> int:
        head = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        at = head.at
        steps = [("screen", "submitted", "screening"), ("refer", "screening", "panel"),
                 ("decide", "panel", "decided")]
        rows: list[Any] = []
        for n, (action, frm, to) in enumerate(steps, start=2):
            rows.append(CaseEvent(case_ref="IFR-000002", seq=n, action=action, from_state=frm, to_state=to,
                                  actor="panel:mallory", at=at, data={"guard": {}}))
        rows.append(PanelDecision(case_ref="IFR-000002", outcome="approved", reason="approved",
                                  decided_by="panel:mallory", decided_at=at))
        s.add_all(rows)
        s.flush()
        vouched: dict[str, dict[str, str]] = {}
        for r in rows:
            vouched.setdefault(r.__tablename__, {})[str(r.id)] = row_hash(r)
        entry = AuditEntry(seq=head.seq + 1, at=at, actor="panel:mallory", action="case.transition",
                           case_ref="IFR-000002", payload={"action": "decide", "outcome": "approved",
                                                           "rows": vouched, "key": head.payload["key"]},
                           prev_hash=head.hash, hash="0" * 64)
        s.add(entry)
        return entry.seq

    with register.Session() as s:
        seq = s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())) + 1
    _forge(register, append)
    bad = _first(register)
    assert bad.subject == f"audit entry #{seq}" and "case.transition for IFR-000002" in bad.message


def test_deleted_newest_entries(register):
    """Case 2 and its entries deleted: what is left is a valid chain; the checkpoint is not."""
    _history(register)
    with register.Session() as s:
        n = s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))
        first_gone = _vouching(s, "cases", "IFR-000002")
    _no_triggers(register)
    with register.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= :k"), {"k": first_gone})
        for table in ("case_events", "evaluations", "panel_decisions"):
            conn.execute(text(f"DELETE FROM {table} WHERE case_ref = 'IFR-000002'"))
        conn.execute(text("DELETE FROM cases WHERE ref = 'IFR-000002'"))
    rep = verify(register)
    assert [f.subject for f in rep.findings] == [f"audit entry #{first_gone}"], rep.findings
    assert f"records entry #{n} but the chain ends at #{first_gone - 1}" in rep.findings[0].message
    assert rep.checkpoint["seq"] == n


def test_a_forged_checkpoint_line_is_named(register):
    """Checkpoints are signed too: an insider who can append to the file cannot vouch for a forgery."""
    _history(register)
    line = {"seq": 99, "hash": "f" * 64, "at": "2026-01-01T00:00:00.000000Z", "key": register.keys.active,
            "mac": "0" * 64}
    with register.checkpoints.open("a") as f:
        f.write(json.dumps(line) + "\n")
    bad = _first(register)
    assert bad.subject.startswith("checkpoint line 4 of") and "MAC does not verify" in bad.message


def test_key_rotation_keeps_old_entries_verifiable(register, register_secrets):
    """Rotating is appending a key: old entries verify under the old key, new ones are signed by
    the new; dropping the old key from the ring makes its entries unverifiable, and says so."""
    from engine.register.keys import load

    key_file = register_secrets / "register.key"
    register.new_case("breast-implant-removal", PATIENT, actor="ifr_officer:ann")
    old = register.keys.active
    key_file.write_text(key_file.read_text() + "b" * 64 + "\n")
    register._keys = load()
    register.new_case("breast-implant-removal", PATIENT, actor="ifr_officer:ann")
    with register.Session() as s:
        kids = [e.payload["key"] for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert kids[0] == old and kids[-1] == register.keys.active != old
    assert verify(register).ok
    key_file.write_text("b" * 64 + "\n")
    register._keys = load()
    bad = _first(register)
    assert bad.subject == "audit entry #1" and f"signed with key {old}, which is not in the keyring" in bad.message


def test_verify_without_any_key_is_bad_input(register, monkeypatch, tmp_path):
    from engine.errors import InputError

    register.new_case("breast-implant-removal", PATIENT, actor="ifr_officer:ann")
    monkeypatch.setenv("CPE_REGISTER_KEY_FILE", str(tmp_path / "nowhere.key"))
    register._keys = None
    with pytest.raises(InputError, match="no register key"):
        verify(register)
