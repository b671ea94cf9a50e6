"""Individual Funding Requests: which route a decision takes next (routing rules as data) and
the screening of a clinician's stated grounds.

May import: `engine.language`, `engine.ifr`.
"""
