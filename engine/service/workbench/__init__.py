"""The policy workbench: a policy group drafts a wording change in the browser and sees who it
affects.

Pick a policy and a version; its criteria appear as an editable structure (`static/workbench.js`)
and as the YAML view (a plain form field, so every page also works without script). Each edit is
checked with the CLI's messages and analysed against the base: the exact diff under every reading
of ambiguous wording, lint, the base's example cases that now fail, and the moves on a cohort
(synthetic, or an uploaded CSV or Parquet file). The committee paper is exported as HTML,
Markdown or PDF; an account with the `policy_group` role may save the draft as a new
`draft-YYYY` version in the policy file (engine.analysis.drafts), never over a ratified one.

Modules: `editor` (the pages and the live check and analysis), `cohorts` (synthetic and uploaded
cohorts, counted per reading), `export` (the paper and saving). Templates:
engine/service/templates/workbench/; no inline script or style (the pages' CSP).
"""
from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from engine.service.workbench import editor, export

    app.include_router(editor.router)
    app.include_router(export.router)
