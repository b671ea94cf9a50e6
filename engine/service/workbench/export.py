"""The committee paper of a draft (HTML, Markdown, PDF: engine.reports.paper) and saving the
draft as a new `draft-YYYY` version of the policy file (engine.analysis.drafts).

Saving needs a signed-in account (the casework pages' sign-in) with the `policy_group` role and
the session's CSRF token; it only ever appends a new draft version, so a ratified version is never
written. Each save is an audit entry (`policy.draft_saved`) in the register's chain. The app's suite forgets the policy afterwards, so every page and `cpe policies` see it.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine.analysis import drafts
from engine.errors import InputError
from engine.reports.paper import render_paper
from engine.service.security import DOCUMENT_POLICY
from engine.service.workbench.editor import analysis_context, editor, read_fields, run, suite_of

router = APIRouter(include_in_schema=False)
log = logging.getLogger("cpe.workbench")
SAVE_ROLES = ("policy_group",)
DRAFT_SAVED = "policy.draft_saved"   # the audit entry in the register's chain: who saved which draft
TYPES = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "pdf": "application/pdf"}


@router.post("/workbench/{policy_id}/{label}/paper")
async def paper(request: Request, policy_id: str, label: str) -> Response:
    f = await read_fields(request)
    if f.fmt not in TYPES:
        raise InputError.of("bad-option", f"format {f.fmt!r}: use html, md or pdf")
    s = suite_of(request)
    s.resolved(policy_id, label)
    proposal, problems = await run_in_threadpool(run, s, policy_id, label, f)
    if proposal is None or problems:
        return editor(request, policy_id, label, f, 422, analysis=analysis_context(proposal, problems),
                      error="The paper cannot be written until the draft is valid: see the problems below.")
    from engine.service.casework.session import current

    account = current(request)
    body = await run_in_threadpool(render_paper, proposal, f.fmt, purpose=f.purpose.strip() or None,  # type: ignore[arg-type]
                        rationale=f.rationale.strip() or None, author=account.full_name if account else None)
    name = f"{policy_id}-{proposal.draft.version.version}-paper.{f.fmt}"
    # a self-contained document (inline styles, no script), offered as a download
    return Response(body, media_type=TYPES[f.fmt], headers={"content-disposition": f'attachment; filename="{name}"',
                                                            "content-security-policy": DOCUMENT_POLICY})


@router.post("/workbench/{policy_id}/{label}/save")
async def save(request: Request, policy_id: str, label: str) -> Response:
    from engine.register.users import ROLE_NOUNS
    from engine.service.casework.session import current, form

    data = await form(request)  # the CSRF token first: a forged post is refused (403)
    f = await read_fields(request, data)
    s = suite_of(request)
    s.resolved(policy_id, label)
    account = current(request)
    if account is None or account.role not in SAVE_ROLES:
        who = "You are not signed in" if account is None else f"You are signed in as {ROLE_NOUNS[account.role]}"
        return editor(request, policy_id, label, f, 401 if account is None else 403,
                      error=f"Only a policy group member may save a draft. {who}.")
    wanted = f.label.strip() or drafts.default_label(s.policy(policy_id))
    try:
        draft = drafts.build(s, policy_id, label, f.yaml, label=wanted, summary=f.summary.strip() or None,
                             notes=f"Saved from the policy workbench by {account.full_name} ({account.actor}).")
        if not draft.changes:
            raise InputError.of("empty-draft", f"the draft changes nothing in {label}: there is nothing to save")
        path = drafts.save(s, draft)
    except InputError as exc:
        proposal, problems = run(s, policy_id, label, f)
        return editor(request, policy_id, label, f, 422, analysis=analysis_context(proposal, problems),
                      error="Not saved: " + "; ".join(p.message for p in exc.problems))
    s.forget(policy_id)
    from engine.service.casework.session import register

    register(request).record(account.actor, DRAFT_SAVED, {"policy": policy_id, "version": draft.version.version,
                                                          "based_on": label, "digest": draft.rv.digest,
                                                          "file": path.name})
    log.info("workbench saved policy=%s version=%s based_on=%s by=%s file=%s", policy_id, draft.version.version,
             label, account.actor, path)
    return RedirectResponse(f"/workbench/{policy_id}/{draft.version.version}?saved={draft.version.version}",
                            status_code=303)
