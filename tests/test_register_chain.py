"""The register's audit trail: append-only in the database, hash-chained, and `verify` finds any
row edited or removed behind the triggers' back, a policy file that changed, and a decision that
no longer reproduces even when a forger rewrites the whole chain consistently."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from engine.register.chain import GENESIS, entry_hash, row_hash
from engine.register.verify import verify
from tests.conftest import ROOT
from tests.register_db import db_url, raw, register, without_triggers  # noqa: F401

PATIENT = {"age": 30, "bmi": 24.5, "smoker": False, "implant_rupture": True}


def _case(reg, policy="breast-implant-removal", **kw):
    return reg.new_case(policy, PATIENT, actor="officer-1", grounds="rupture", **kw)["ref"]


def test_new_case_records_the_contract_decision_and_chains(register, suite):
    from engine.language.decide import decide

    out = register.new_case("breast-implant-removal", PATIENT, actor="officer-1")
    rv = suite.select("breast-implant-removal")
    assert out["decision"] == decide(rv, PATIENT).to_json()
    assert out["decision"]["outcome"] == "eligible"
    assert out["ref"] == "IFR-000001"
    _case(register)
    rep = verify(register)
    assert rep.ok, rep.findings
    assert rep.entries == 2 and rep.evaluations == 2
    from engine.register.models import AuditEntry, Evaluation
    with register.Session() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        ev = s.scalars(select(Evaluation)).first()
    assert entries[0].prev_hash == GENESIS and entries[1].prev_hash == entries[0].hash
    assert all(entry_hash(e, register.keys) == e.hash for e in entries)
    assert (ev.policy_id, ev.version, ev.digest) == ("breast-implant-removal", rv.label, rv.digest)
    assert ev.engine_version


def test_show_and_list(register):
    ref = _case(register, on=__import__("datetime").date(2019, 6, 1))
    c = register.show(ref)
    assert c["state"] == "submitted" and c["referral_date"] == "2019-06-01"
    assert c["decision"]["policy"]["version"] == "2018-07-01"
    assert [h["action"] for h in c["history"]] == ["submit"]
    assert [a["action"] for a in c["audit"]] == ["case.created"]
    assert [r["ref"] for r in register.list_cases()] == [ref]
    assert register.list_cases(state="closed") == []


@pytest.mark.parametrize("table", ["cases", "evaluations", "panel_decisions", "case_events", "audit_log"])
def test_triggers_refuse_update_and_delete(register, table):
    ref = _case(register)
    register.transition(ref, "decide", actor="panel-1", outcome="approved", reason="exceptional", advance=True)
    for sql in (f"UPDATE {table} SET {'actor' if table in ('audit_log', 'case_events') else 'case_ref'} = 'x'"
                if table not in ("cases",) else "UPDATE cases SET grounds = 'x'",
                f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError, match="append-only"):
            raw(register, sql)
    assert verify(register).ok


def test_truncate_refused_on_postgresql(suite):
    from engine.register.store import Register
    from tests.register_db import fresh_postgres

    reg = Register(fresh_postgres(), suite=suite)  # SQLite has no TRUNCATE; its DELETE is covered above
    _case(reg)
    with pytest.raises(DatabaseError, match="append-only"):
        raw(reg, "TRUNCATE audit_log CASCADE")
    reg.close()


EDITS = {
    "cases": ("UPDATE cases SET patient = '{\"age\": 31}' WHERE ref = 'IFR-000002'", "case IFR-000002"),
    "evaluations": ("UPDATE evaluations SET outcome = 'not_eligible' WHERE id = 2", "evaluations row 2"),
    "panel_decisions": ("UPDATE panel_decisions SET reason = 'changed later' WHERE id = 1", "panel_decisions row 1"),
    "case_events": ("UPDATE case_events SET actor = 'someone else' WHERE seq = 2 AND case_ref = 'IFR-000002'",
                    "case_events row"),
    "audit_log": ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3", "audit entry #3"),
}


@pytest.mark.parametrize("table", list(EDITS))
def test_verify_names_a_row_edited_behind_the_triggers(register, table):
    _case(register)
    ref = _case(register)
    register.transition(ref, "decide", actor="panel-1", outcome="approved", reason="exceptional", advance=True)
    assert verify(register).ok
    sql, name = EDITS[table]
    without_triggers(register, table, sql)
    rep = verify(register)
    assert not rep.ok
    assert name in str(rep.findings[0]), rep.findings


@pytest.mark.parametrize("table", ["cases", "case_events", "audit_log"])
def test_verify_finds_deleted_rows(register, table):
    ref = _case(register)
    register.transition(ref, "screen", actor="officer-1")
    register.transition(ref, "refer", actor="officer-1")
    where = {"cases": "ref = 'IFR-000001'", "case_events": "seq = 3", "audit_log": "seq = 2"}[table]
    if table == "cases":  # its children first, or the foreign keys refuse
        for child in ("case_events", "evaluations"):
            without_triggers(register, child, f"DELETE FROM {child}")
    without_triggers(register, table, f"DELETE FROM {table} WHERE {where}")
    rep = verify(register)
    assert not rep.ok
    first = str(rep.findings[0])
    assert ("deleted" in first) or ("missing" in first) or ("broken" in first), rep.findings


def test_verify_reports_a_changed_policy_file(db_url, tmp_path):
    from engine.language.suite import Suite
    from engine.register.store import Register

    pol = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", pol)
    reg = Register(db_url, suite=Suite(pol))
    ref = reg.new_case("breast-implant-removal", PATIENT, actor="officer-1")["ref"]
    assert verify(reg).ok
    f = pol / "breast-implant-removal" / "policy.yaml"
    src = f.read_text()
    assert "min: 18" in src or "value: 18" in src
    f.write_text(src.replace("value: 18", "value: 21").replace("min: 18", "min: 21"))
    rep = verify(Register(db_url, suite=Suite(pol)))
    assert not rep.ok
    assert ref in str(rep.findings[0]) and "policy file changed" in str(rep.findings[0])
    assert "digest" in str(rep.findings[0])
    reg.close()


def test_a_consistently_forged_chain_is_still_caught_by_re_evaluation(register):
    """A forger with the database AND the key who rewrites a decision and recomputes every hash
    after it passes the chain check; the checkpoint outside the database and re-evaluating the
    recorded facts still expose the forgery (without the key, see test_register_forgery)."""
    from engine.register.models import AuditEntry, Evaluation

    _case(register)
    register.transition("IFR-000001", "screen", actor="officer-1")
    with register.Session() as s:
        ev = s.get(Evaluation, 1)
        forged = {**ev.decision, "outcome": "not_eligible", "route": "ifr"}
    if register.engine.dialect.name == "sqlite":
        raw(register, "DROP TRIGGER evaluations_no_update", "DROP TRIGGER audit_log_no_update")
    else:
        raw(register, "ALTER TABLE evaluations DISABLE TRIGGER USER", "ALTER TABLE audit_log DISABLE TRIGGER USER")
    with register.Session.begin() as s:
        ev = s.get(Evaluation, 1)
        ev.decision, ev.outcome, ev.route = forged, "not_eligible", "ifr"
        s.flush()
        new_row_hash = row_hash(ev)
        prev = GENESIS
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            if e.seq == 1:
                e.payload = {**e.payload, "outcome": "not_eligible", "route": "ifr",
                             "rows": {**e.payload["rows"], "evaluations": {"1": new_row_hash}}}
            e.prev_hash = prev
            e.hash = entry_hash(e, register.keys)
            prev = e.hash
    rep = verify(register)
    assert [f.subject for f in rep.findings] == ["audit entry #1",
                                                "case IFR-000001 evaluation 1 (breast-implant-removal 2018-07-01)"]
    assert "differs from checkpoint line 1" in rep.findings[0].message
    assert "recorded not_eligible/ifr, now eligible/routine" in rep.findings[1].message


def test_head_hash_can_be_anchored(register):
    _case(register)
    head = verify(register).head
    _case(register)
    with register.Session() as s:
        from engine.register.models import AuditEntry
        assert s.scalar(select(AuditEntry.seq).where(AuditEntry.hash == head)) == 1
    assert verify(register).head != head


def test_migrations_run_once_and_are_idempotent(db_url, suite):
    from engine.register.store import Register

    a = Register(db_url, suite=suite)
    a.new_case("breast-implant-removal", PATIENT, actor="x")
    b = Register(db_url, suite=suite)  # a second opening migrates nothing and loses nothing
    with b.engine.connect() as conn:
        from engine.register import db

        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == db.HEAD
    assert [r["ref"] for r in b.list_cases()] == ["IFR-000001"]
    a.close()
    b.close()


def test_head_constant_matches_the_migrations_folder():
    """db.HEAD lets a warm start skip Alembic; it must name the newest migration shipped."""
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import engine.register.db as db

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).with_name("migrations")))
    assert ScriptDirectory.from_config(cfg).get_heads() == [db.HEAD]


def test_the_chain_hashes_the_engines_one_canonical_json_byte_for_byte():
    """The chain's bytes are engine.language.canonical's, and the same as before it moved there
    (the digest below was taken with the register's own former canonical_json)."""
    import datetime as dt

    from engine.language import canonical
    from engine.register import chain

    data = {"seq": 3, "at": dt.datetime(2026, 1, 2, 3, 4, 5, 678901), "on": dt.date(2019, 6, 1),
            "aware": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "rows": {"cases": {"IFR-000001": "ab" * 32}}, "ids": ("a", "b"), "text": "Ménière’s — ✓", 7: None,
            "x": 1.5, "flag": True}
    assert chain.canonical_json is canonical.canonical_json and chain.plain is canonical.plain
    assert canonical.canonical_json(data) == (
        '{"7":null,"at":"2026-01-02T03:04:05.678901Z","aware":"2026-01-02T02:04:05.000000Z","flag":true,'
        '"ids":["a","b"],"on":"2019-06-01","rows":{"cases":{"IFR-000001":"' + "ab" * 32 + '"}},"seq":3,'
        '"text":"Ménière’s — ✓","x":1.5}')
    assert chain.sha256(data) == "7f26d2f77c6aef728b8cd02fd22cb03cf868498ebccb56f6fa2b9b938b90dea1"


def test_a_key_file_is_never_seen_half_written(tmp_path):
    """Workers starting at once each try to create the register key: exactly one file results,
    whole, and every process that reads it reads the same key (the race that once gave
    'no register key' under SIGKILL-and-restart load)."""
    import concurrent.futures

    from engine.keyfiles import create_secret_file

    path = tmp_path / "keys" / "register.key"
    contents = [f"secret-{k}\n".encode() * 1000 for k in range(16)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        made = list(pool.map(lambda c: create_secret_file(path, c), contents))
    assert made.count(True) == 1
    assert path.read_bytes() == contents[made.index(True)]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in path.parent.iterdir()] == ["register.key"]   # no temporary file left behind
