"""`cpe register verify`: is the audit trail intact, and does every recorded decision still come
out the same under the rules recorded with it?

Four checks, in this order, each naming the record at fault:
1. the chain: sequence numbers 1..n without gaps, each prev_hash the hash before it, each hash
   the HMAC of its row under the register key (kept outside the database, engine.register.keys);
2. the anchor: the chain agrees with every signed checkpoint outside the database
   (engine.register.checkpoint), so entries deleted from its end, or a chain rewritten from
   some point on, show even when what is left is self-consistent;
3. the rows: every case, evaluation, panel decision and workflow event hashes to the value its
   audit entry recorded (so an edit made behind the triggers' back shows), and nothing is
   missing or unvouched;
4. the decisions: each evaluation's policy version still resolves to the recorded digest (if
   not, the policy file changed) and re-deciding the recorded facts gives the recorded JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import InputError, Problem
from engine.language.canonical import canonical_json
from engine.register.chain import GENESIS, entry_content, row_hash

if TYPE_CHECKING:
    from engine.register.store import Register


def finding(record: str, code: str, message: str) -> Problem:
    """A record at fault: `record: code: message`, the code from engine.problems.REGISTER."""
    return Problem(code, message, subject=record)


@dataclass
class Report:
    entries: int = 0
    head: str = GENESIS
    evaluations: int = 0
    findings: list[Problem] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None  # the newest checkpoint the chain was checked against
    unanchored: int = 0  # entries newer than that checkpoint (a write cut short before anchoring)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "audit_entries": self.entries, "head": self.head,
                "evaluations_checked": self.evaluations, "checkpoint": self.checkpoint,
                "unanchored_entries": self.unanchored,
                "first_bad_record": str(self.findings[0]) if self.findings else None,
                "problems": [{"record": f.subject, "code": f.code, "problem": f.message} for f in self.findings]}


def verify(reg: Register) -> Report:
    from sqlalchemy import select

    from engine.register.models import AUDITED, AuditEntry

    rep = Report()
    with reg.Session() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        rows = {t: list(s.scalars(select(m))) for t, m in AUDITED.items()}
    keys = reg.verify_keys()
    if keys is None and (entries or reg.checkpoints.exists()):
        from engine.register.keys import ENV_FILE, ENV_KEY, default_file

        raise InputError.of("no-register-key", f"no register key to check the chain with: set {ENV_KEY} or "
                                               f"{ENV_FILE} (default {default_file()})")
    vouched = _check_chain(entries, keys, rep)
    if keys is not None:
        _check_anchor(reg.checkpoints, keys, entries, rep)
    # 3. the rows the chain vouches for
    for table, found in rows.items():
        seen = set()
        for r in found:
            pk = str(r.__mapper__.primary_key_from_instance(r)[0])
            seen.add(pk)
            name = _row_name(table, r, pk)
            if pk not in vouched.get(table, {}):
                rep.findings.append(finding(name, "unaudited-row",
                                            "is not in the audit trail (written behind the register's back)"))
            elif row_hash(r) != vouched[table][pk][0]:
                rep.findings.append(finding(name, "altered-row",
                                            f"was altered after audit entry #{vouched[table][pk][1]} recorded it"))
        for pk, (_, seq) in vouched.get(table, {}).items():
            if pk not in seen:
                rep.findings.append(finding(f"{table} row {pk}", "deleted-row",
                                            f"recorded by audit entry #{seq} but deleted"))
    # 4. the decisions
    cases = {c.ref: c for c in rows["cases"]}
    for ev in sorted(rows["evaluations"], key=lambda r: r.id):
        rep.evaluations += 1
        name = f"case {ev.case_ref} evaluation {ev.id} ({ev.policy_id} {ev.version})"
        case = cases.get(ev.case_ref)
        if case is None:
            continue  # reported above
        problem = _recheck(reg, ev, case, name)
        if problem:
            rep.findings.append(problem)
    return rep


def _check_chain(entries: list[Any], keys: Any, rep: Report) -> dict[str, dict[str, tuple[str, int]]]:
    """1. Sequence, links and MACs; returns what each entry vouches for: table → pk → (hash, seq)."""
    from engine.register.models import AUDITED

    prev = GENESIS
    vouched: dict[str, dict[str, tuple[str, int]]] = {t: {} for t in AUDITED}
    for i, e in enumerate(entries, start=1):
        name = f"audit entry #{e.seq}"
        if e.seq != i:
            rep.findings.append(finding(name, "sequence-gap",
                                        f"expected sequence number {i}: an entry is missing or inserted"))
        if e.prev_hash != prev:
            rep.findings.append(finding(name, "broken-link",
                                        "prev_hash does not match the entry before it: the chain is broken"))
        payload = e.payload if isinstance(e.payload, dict) else {}
        why = keys.check(payload.get("key"), entry_content(e), e.hash)
        if why:
            rep.findings.append(finding(name, "bad-mac", f"{e.action} for {e.case_ref or '-'} {why}"))
        prev = e.hash
        for table, by_pk in (payload.get("rows") or {}).items():
            for pk, h in by_pk.items():
                vouched.setdefault(table, {})[pk] = (h, e.seq)
    rep.entries, rep.head = len(entries), prev
    return vouched


def _check_anchor(path: Any, keys: Any, entries: list[Any], rep: Report) -> None:
    """2. The chain against the signed checkpoints outside the database."""
    from engine.register.checkpoint import read

    good, bad = read(path, keys)
    for line, why in bad:
        rep.findings.append(finding(f"checkpoint line {line} of {path}", "bad-checkpoint", why))
    if not good:
        if entries:
            rep.findings.append(finding(f"audit entry #{entries[-1].seq}", "unanchored-chain",
                                        f"no checkpoint in {path} vouches for the "
                                        "chain: the checkpoint file is missing, emptied, or not this register's"))
        return
    newest = max(good, key=lambda c: c.seq)
    rep.checkpoint, rep.unanchored = newest.to_json(path), max(0, len(entries) - newest.seq)
    by_seq = {e.seq: e.hash for e in entries}
    worst: list[Problem] = []
    for c in sorted(good, key=lambda c: c.seq):
        if c.seq not in by_seq:
            worst.append(finding(f"audit entry #{len(entries) + 1}", "truncated-chain",
                                 f"is gone: checkpoint line {c.line} of {path} "
                                 f"({c.at}) records entry #{c.seq} but the chain ends at #{len(entries)}: entries "
                                 "were removed from its end"))
            break
        if by_seq[c.seq] != c.hash:
            worst.append(finding(f"audit entry #{c.seq}", "rewritten-chain",
                                 f"differs from checkpoint line {c.line} of {path} "
                                 f"({c.at}): the chain was rewritten from here or before"))
            break
    rep.findings.extend(worst)


def _row_name(table: str, r: Any, pk: str) -> str:
    if table == "cases":
        return f"case {pk}"
    return f"{table} row {pk} (case {getattr(r, 'case_ref', '?')})"


def _recheck(reg: Register, ev: Any, case: Any, name: str) -> Problem | None:
    """The finding when the evaluation does not re-decide the same under its recorded rules."""
    from engine.language.decide import decide

    try:
        rv = reg.suite.resolved(ev.policy_id, ev.version)
    except InputError as exc:
        return finding(name, "policy-unloadable", f"the recorded policy version no longer loads: {exc}")
    if rv.digest != ev.digest:
        return finding(name, "policy-changed", f"the policy file changed: {ev.policy_id} {ev.version} now has "
                       f"digest {rv.digest}, recorded {ev.digest}; the decision cannot be re-checked under the "
                       "recorded rules")
    try:
        now = decide(rv, case.patient, ev.on_date).to_json()
    except Exception as exc:  # noqa: BLE001 - any failure to re-decide is a finding, not a crash
        return finding(name, "recheck-failed", f"re-evaluation failed: {type(exc).__name__}: {exc}")
    if canonical_json(now) == canonical_json(ev.decision):
        return None
    if now["outcome"] != ev.decision.get("outcome") or now["route"] != ev.decision.get("route"):
        return finding(name, "not-reproduced", f"does not reproduce: recorded {ev.decision.get('outcome')}/"
                       f"{ev.decision.get('route')}, now {now['outcome']}/{now['route']} (recorded by engine "
                       f"{ev.engine_version})")
    return finding(name, "not-reproduced",
                   f"does not reproduce: same outcome but the criteria or missing facts differ (engine {ev.engine_version})")
