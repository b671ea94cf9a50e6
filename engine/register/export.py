"""`cpe register export`: the audit trail as JSON lines, or as FHIR R4 AuditEvent resources,
so the chain can be archived or anchored outside the database. No patient facts are exported:
audit payloads hold row hashes, policy ids and outcomes only.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from engine.language.canonical import plain

if TYPE_CHECKING:
    from engine.register.store import Register

FHIR_ACTION = {"case.created": "C", "case.transition": "U"}


def entries(reg: Register) -> Iterator[dict[str, Any]]:
    from sqlalchemy import select

    from engine.register.models import AuditEntry

    with reg.Session() as s:
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(500):
            yield plain({"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "case_ref": e.case_ref,
                         "payload": e.payload, "prev_hash": e.prev_hash, "hash": e.hash})


def fhir_audit_event(e: dict[str, Any]) -> dict[str, Any]:
    """One audit entry as a FHIR R4 AuditEvent (the hash and prev_hash travel as entity details)."""
    entity: list[dict[str, Any]] = []
    if e["case_ref"]:
        entity.append({"what": {"identifier": {"system": "urn:cpe:ifr-case", "value": e["case_ref"]}},
                       "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                                "display": "System Object"}})
    entity.append({"what": {"identifier": {"system": "urn:cpe:audit-chain", "value": e["hash"]}},
                   "detail": [{"type": "seq", "valueString": str(e["seq"])},
                              {"type": "prev_hash", "valueString": e["prev_hash"]},
                              {"type": "hash", "valueString": e["hash"]}]})
    return {
        "resourceType": "AuditEvent",
        "id": f"cpe-audit-{e['seq']}",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                 "display": "RESTful Operation"},
        "subtype": [{"system": "urn:cpe:register-action", "code": e["action"]}],
        "action": FHIR_ACTION.get(e["action"], "E"),
        "recorded": e["at"],
        "outcome": "0",
        "agent": [{"who": {"display": e["actor"]}, "requestor": True}],
        "source": {"observer": {"display": "cpe IFR case register"}},
        "entity": entity,
    }
