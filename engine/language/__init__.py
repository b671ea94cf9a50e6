"""The policy language core: read YAML with positions, validate it into models, resolve versions,
evaluate a patient in Kleene logic, decide an outcome and route, explain it in words.

May import: only `engine.language` (and the standard library, pydantic, PyYAML). Nothing here
knows about formularies, IFR routing, reports, compilation, storage or HTTP.
"""
