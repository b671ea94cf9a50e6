"""The IFR case register: requests, the engine's decisions, panel decisions and a hash-chained,
append-only audit trail, so an IFR decision can be defended months later.

Modules: `db` (where the database is, migrations on first use), `models` (tables), `chain`
(canonical JSON and the hash chain), `store` (the operations: the only writer), `workflow`
(the request's life as a durable-rules statechart), `verify` (chain + re-evaluation),
`export` (JSON lines, FHIR AuditEvent), `auth` and `api` (HTTP with roles).
"""
