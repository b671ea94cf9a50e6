"""The committee paper for a proposed wording change, in the shape of the JCCCG papers (seed 001
§4-5): purpose, the existing and proposed wording side by side, what changes for whom (with an
example patient each, under every reading of ambiguous wording), the impact on a cohort, what
the engine proved, and the recommendation. HTML, Markdown and PDF (WeasyPrint) say the same thing
(templates `reports/paper.html.j2`, `reports/paper.md.j2`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from engine.analysis.proposal import Proposal
from engine.reports.diff import moves_svg, wording_rows
from engine.reports.render import Fmt, _render


def default_purpose(p: Proposal) -> str:
    d = p.draft
    return (f"The purpose of this paper is to set out a proposed amendment to the {d.policy.title} policy "
            f"(version {d.base.label}) and what it would change for patients, so that the Committee can "
            "consider it.")


def _verdict(r: Any) -> str:
    if r.result.equivalent:
        return "No patient gets a different outcome: the amendment does not change access."
    n = len(r.result.changes)
    return f"The amendment changes access: {n} kind{'s' if n != 1 else ''} of patient get a different outcome."


def paper_context(p: Proposal, *, purpose: str | None = None, rationale: str | None = None,
                  recommendation: str | None = None, author: str | None = None,
                  issued: dt.date | None = None) -> dict[str, Any]:
    d = p.draft
    readings = []
    for r in p.readings:
        moves = p.cohort.get(r.reading.label)
        readings.append({"label": r.reading.label, "encoded": r.encoded, "meanings": list(r.reading.meanings),
                         "d": r.result, "verdict": _verdict(r), "cohort": moves,
                         "chart": moves_svg(moves) if moves is not None else None})
    several = len(readings) > 1
    rows = wording_rows(d.base, d.rv)
    title = f"{d.policy.title}: proposed amendment"
    return {
        "title": title, "p": p, "policy": d.policy, "base": d.base, "draft": d.rv, "label": d.version.version,
        "rows": [r for r in rows if r["status"] != "unchanged"],
        "unchanged": [r["id"] for r in rows if r["status"] == "unchanged"],
        "purpose": purpose or default_purpose(p), "rationale": rationale or "",
        "recommendation": recommendation or (f"That the Committee considers the proposed amendment to the "
                                             f"{d.policy.title} policy in the light of the changes set out above."),
        "readings": readings, "several": several, "author": author or "", "issued": issued or dt.date.today(),
        "lint": p.lint, "failing": p.failing, "cases_run": len(p.cases), "cohort_note": p.cohort_note,
        "footer_id": f"{d.policy.id} {d.version.version} (based on {d.base.label})", "digest": d.rv.digest,
    }


def render_paper(p: Proposal, fmt: Fmt = "html", **kw: Any) -> bytes:
    return _render("paper", fmt, paper_context(p, **kw))
