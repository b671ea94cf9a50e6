"""Analysis of policies rather than patients: the exact diff of two versions, the threshold
partition, lint, example cases and their coverage.

May import: `engine.language`, `engine.analysis`.
"""
