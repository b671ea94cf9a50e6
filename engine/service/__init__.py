"""The HTTP service (`cpe serve`): the JSON API, CDS Hooks for prescribing systems, and web pages.

It is a thin layer over the same core as the CLI (Suite, decide, the formulary look-up), so a
decision from the service is the decision `cpe evaluate` gives for the same input.
"""
