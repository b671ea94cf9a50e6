"""Rendering: one Jinja2 environment over the templates in `reports/`, to HTML, Markdown and PDF
(decision letters, panel summaries, policy documents, formulary listings, diff reports).

May import: `engine.language`, `engine.analysis`, `engine.formulary`, `engine.ifr`, `engine.reports`
(and `engine.cohort` only for a diff report's cohort counts).
"""
