"""The registry of problem codes: every code an `engine.errors.Problem` carries, its level and
what it means. One list, so a code is stable (scripts and the API key on it) and means one thing.

Three families: bad input (refused; always an error, exit 2 / HTTP 4xx), lint findings on
policies that load (`cpe lint`: errors exit 2, warnings exit 0), and register findings
(`cpe register verify`: a record at fault; exit 3). `tests/test_problems.py` holds the engine to
the registry: every code written in `engine/` is listed here. Part of the base layer: it
imports nothing from the engine.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True)
class Code:
    level: Level
    meaning: str


E, W = Level.error, Level.warning

#: Bad input: refused with a one-line message (exit 2, HTTP 422 unless said).
INPUT: dict[str, str] = {
    # files and request bodies (engine.language.source)
    "file-not-found": "no such file",
    "unreadable-file": "not a regular file, not UTF-8, or cannot be read",
    "unwritable-file": "an output file cannot be written",
    "file-too-large": "a file or request body over the size limit",
    "body-too-large": "a request body over the size limit (HTTP 413)",
    "invalid-yaml": "not YAML the strict reader accepts (syntax, tags, aliases, bounds)",
    "invalid-json": "not JSON the strict reader accepts (syntax, duplicate keys, NaN, bounds)",
    "invalid-file": "a file that does not match its schema",
    "bad-request": "a request parameter or body the API does not accept",
    "bad-option": "a command-line option value that cannot be used",
    "bad-setting": "a CPE_* setting with a value that cannot be used",
    # policies (engine.language)
    "no-policies": "no policy suite at the given folder",
    "invalid-policy": "a policy file that does not load (schema, ids, versions, references)",
    "invalid-attribute": "an entry of the attribute dictionary that does not load",
    "unknown-policy": "no policy with that id",
    "unknown-version": "no version with that label",
    "no-version-in-force": "no ratified version in force on the date",
    "bad-date": "not an ISO date",
    "unknown-attribute": "an attribute not in the dictionary",
    "bad-operator": "an operator the attribute's type cannot take",
    "bad-value": "a value of the wrong type or outside the attribute's values",
    "duplicate-criterion": "a criterion id used twice in one version",
    "missing-provenance": "a criterion without provenance (seed, public, comparator) or citation",
    "missing-id": "a top-level criterion without an id",
    "bad-patient": "patient facts that are not a mapping of attribute to value",
    "not-fhir-bundle": "a FHIR input that is not a Bundle of the expected resources",
    "malformed-fhir": "FHIR JSON that is not the shape the resource type has",
    "fhir-xml": "FHIR XML that cannot be read (not XML, not FHIR, or a DOCTYPE or entity)",
    "patient-deceased": "a FHIR Patient recorded as deceased: no eligibility is judged for them",
    "case-failed": "an example case whose decision is not the one expected (`cpe test`)",
    # formulary, routing, screening, cohorts
    "invalid-formulary": "a formulary file that does not load",
    "unknown-formulary": "no formulary with that id",
    "invalid-entry": "a formulary entry that does not load",
    "invalid-terminology": "a formulary terminology file (concepts, synonyms, codes) that does not load",
    "duplicate-entry": "a formulary entry id used twice",
    "unknown-status": "a formulary status not in its vocabulary",
    "invalid-csv": "a formulary CSV that cannot be read",
    "invalid-row": "a row of a formulary CSV that cannot be read",
    "invalid-routing": "a routing or screening rules file that does not load",
    "bad-cohort": "a cohort file that cannot be read",
    # the register and its API
    "database-unavailable": "the register database cannot be reached",
    "bad-database-url": "a register database URL that cannot be used",
    "no-register-key": "no key to sign or check the register's chain",
    "bad-register-key": "a register key file that cannot be used",
    "bad-token-config": "an API token configuration that cannot be used",
    "unknown-case": "no case with that reference",
    "no-reason": "a panel decision without a reason",
    "bad-outcome": "a panel outcome that is not approved or declined",
    "bad-idempotency-key": "an Idempotency-Key header that cannot be used",
    "idempotency-key-reused": "an Idempotency-Key sent again with a different request",
    "not-allowed": "a workflow step the case's state or the user's role does not allow (HTTP 409)",
    "unknown-action": "a workflow action that does not exist",
    "unknown-user": "no user with that name",
    "user-exists": "a user with that name already exists",
    "bad-username": "a user name that cannot be used",
    "bad-role": "a role that does not exist",
    "no-password": "no password given",
    "weak-password": "a password too short or too common",
    "locked-out": "sign-in refused after repeated failures",
    "unauthorised": "no valid bearer token (HTTP 401)",
    "forbidden": "the token's role may not do this (HTTP 403)",
    # the policy workbench (drafts and readings)
    "bad-label": "a draft's label that is not draft-YYYY",
    "label-taken": "a draft label the policy already uses",
    "invalid-draft": "a workbench draft that does not read as criteria",
    "empty-draft": "a draft that changes nothing",
    "cannot-save": "a draft that cannot be written into its policy file (it would not read back as itself)",
    "too-many-readings": "more readings of one change than the analysis takes",
    "unknown-reading": "a reading id the criterion does not declare",
    # CDS Hooks
    "bad-cds-request": "a CDS Hooks request that cannot be used (HTTP 400)",
    "unknown-service": "no CDS service with that id (HTTP 404)",
    "bad-cds-context": "a CDS Hooks context without a field its hook requires, or of the wrong type (HTTP 400)",
    "wrong-hook": "a request for a hook the service does not answer (HTTP 400)",
    "wrong-patient": "prefetched data about a patient other than context.patientId (HTTP 400)",
    "prefetch-unavailable": "prefetch missing and not fetchable from fhirServer (HTTP 412)",
    "untrusted-cds-client": "a CDS call without a JWT this service trusts (HTTP 401)",
    "engine-fault": "a fault in the engine itself, reported without its detail (HTTP 500)",
}

#: `cpe lint`: policies that load but may not say what their authors meant.
LINT: dict[str, Code] = {
    "unknown-attribute": Code(E, "an attribute not in the dictionary"),
    "missing-provenance": Code(E, "a criterion without provenance or citation"),
    "provenance-without-source": Code(W, "a criterion's provenance names a kind of source the policy does not list"),
    "threshold-out-of-range": Code(E, "a threshold outside the attribute's range"),
    "overlapping-versions": Code(E, "two ratified versions in force on the same day"),
    "unsatisfiable": Code(E, "a criterion (or part) no patient can meet"),
    "always-met": Code(W, "a criterion met whenever its facts are known"),
    "contradiction": Code(E, "criteria each satisfiable alone that no patient can meet together"),
    "never-changes-outcome": Code(W, "a criterion whose removal changes no decision"),
    "incomplete-encoding": Code(E, "a partly encoded version without a remainder criterion for the rest"),
    "bad-remainder": Code(E, "a remainder criterion that is not one boolean fact a person answers, with words"),
    "remainder-held-by-contract": Code(W, "a partly encoded version whose rule the outside contract fixes"),
    "superseded-without-end": Code(E, "a superseded ratified version that states no effective_to"),
    "assumed-without-note": Code(E, "a date marked assumed without a dates_note saying what the sources say"),
}

#: `cpe register verify`: a record of the register at fault.
REGISTER: dict[str, str] = {
    "sequence-gap": "an audit entry out of sequence: one is missing or inserted",
    "broken-link": "an audit entry's prev_hash is not the hash before it",
    "bad-mac": "an audit entry's MAC does not verify under the register's keys",
    "bad-checkpoint": "a checkpoint line that does not verify",
    "unanchored-chain": "no checkpoint outside the database vouches for the chain",
    "truncated-chain": "a checkpoint records entries the chain no longer has",
    "rewritten-chain": "the chain differs from a checkpoint",
    "head-missing": "a chain head recorded earlier is no longer in the chain",
    "unaudited-row": "a row the audit trail does not vouch for",
    "altered-row": "a row changed after its audit entry recorded it",
    "deleted-row": "a row the audit trail recorded is gone",
    "policy-unloadable": "an evaluation's policy version no longer loads",
    "policy-changed": "an evaluation's policy version no longer has the recorded digest",
    "recheck-failed": "re-deciding an evaluation failed",
    "not-reproduced": "re-deciding an evaluation's facts gives another decision",
}

CODES: dict[str, Code] = {**{c: Code(E, m) for c, m in INPUT.items()}, **LINT,
                          **{c: Code(E, m) for c, m in REGISTER.items()}}


def level_of(code: str) -> Level:
    """The level of a code: its registered level, else an error (an unregistered code is a bug
    that tests/test_problems.py reports; it never hides a problem as a warning)."""
    found = CODES.get(code)
    return found.level if found else Level.error
