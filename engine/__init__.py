"""cpe: NHS commissioning policies and formularies as reviewed YAML rules, decided exactly, with reasons.

Packages, in the order data flows: `language` (read, validate, resolve, evaluate, decide,
explain), `analysis` (diff, lint, example cases), `formulary`, `ifr` (routing, screening),
`reports` (rendering); then the adapters: `compile`, `cohort`, `fhir`, `register`, `service`, `cli`.
"""
