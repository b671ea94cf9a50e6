"""A diff for people: text lines for the terminal and an HTML page (Jinja2, `reports/diff.html.j2`)
with the wording side by side, each changed region with its example, and cohort counts."""
from __future__ import annotations

from typing import Any

from engine.analysis.diff import DiffResult
from engine.analysis.moves import CohortMoves
from engine.language.explain import COMMISSIONING_WORDS, OUTCOME_WORDS, node_text
from engine.language.resolve import ResolvedVersion
from engine.reports.render import example_text

OUTCOME_COLOURS = {"eligible": "#007f3b", "not_eligible": "#d5281b", "insufficient_information": "#ffb81c",
                   "out_of_scope": "#330072"}


def diff_lines(d: DiffResult, cohort: CohortMoves | None = None) -> list[tuple[str, str]]:
    """(style, line) pairs for the terminal."""
    head = "equivalent: no patient gets a different outcome" if d.equivalent else \
        f"NOT equivalent: {len(d.changes)} kind(s) of change of outcome"
    out = [("bold", f"{d.policy}: {d.from_label} → {d.to_label}"),
           ("green bold" if d.equivalent else "red bold", head),
           ("dim", f"method: {d.method}")]
    for n in d.notes:
        out.append(("yellow", f"note: {n}"))
    for i, c in enumerate(d.changes, 1):
        out += [("", ""), ("bold", f"{i}. {OUTCOME_WORDS[c.from_outcome]} → {OUTCOME_WORDS[c.to_outcome]}"),
                ("", f"   when: {c.description}"), ("", f"   e.g.: {example_text(c.example)}")]
        if len(c.regions) > 1:
            out.append(("dim", f"   in {len(c.regions)} regions:"))
            for r in c.regions:
                out += [("dim", f"   - {r.description}"), ("dim", f"       e.g. {example_text(r.example)}")]
    if cohort is not None:
        out += [("", ""), ("bold", f"Cohort {cohort.file}: {cohort.rows} patients, {cohort.changed} change outcome")]
        for m in cohort.to_json()["moves"]:
            arrow = "stays" if m["from_outcome"] == m["to_outcome"] else f"→ {m['to_outcome']}"
            out.append(("", f"   {m['count']:>7}  {m['from_outcome']} {arrow}"))
    return out


def wording_rows(a: ResolvedVersion, b: ResolvedVersion) -> list[dict[str, Any]]:
    """Top-level criteria of both versions matched by id: unchanged, reworded, changed, added, removed."""
    rows = []
    by_b = {n.id: n for n in (*b.scope_criteria, *b.criteria)}
    seen = set()
    for n in (*a.scope_criteria, *a.criteria):
        m = by_b.get(n.id)
        seen.add(n.id)
        rows.append(_row(n, m))
    for n in (*b.scope_criteria, *b.criteria):
        if n.id not in seen:
            rows.append(_row(None, n))
    return rows


def _row(a: Any, b: Any) -> dict[str, Any]:
    if a is None:
        status = "added"
    elif b is None:
        status = "removed"
    elif node_text(a) != node_text(b):
        status = "changed"
    elif (a.text or "") != (b.text or ""):
        status = "reworded"
    else:
        status = "unchanged"
    side = lambda n: None if n is None else {"id": n.id, "text": n.text, "rule": node_text(n),  # noqa: E731
                                             "provenance": n.provenance, "citation": n.citation}
    return {"id": (a or b).id, "status": status, "a": side(a), "b": side(b)}


def moves_svg(cohort: CohortMoves, width: int = 560) -> dict[str, Any]:
    """Bars for the patients who change outcome (geometry only; the template draws it)."""
    moves = [m for m in cohort.to_json()["moves"] if m["from_outcome"] != m["to_outcome"]]
    top = max([m["count"] for m in moves], default=1)
    label_w, bar_h, gap = 250, 18, 8
    bars = []
    for i, m in enumerate(moves):
        w = max(1, round((width - label_w - 60) * m["count"] / top))
        bars.append({"y": i * (bar_h + gap), "w": w, "h": bar_h, "count": m["count"],
                     "label": f"{OUTCOME_WORDS[m['from_outcome']]} → {OUTCOME_WORDS[m['to_outcome']]}",
                     "colour": OUTCOME_COLOURS[m["to_outcome"]]})
    return {"width": width, "height": max(1, len(bars)) * (bar_h + gap), "label_w": label_w, "bars": bars}


def render_html(d: DiffResult, a: ResolvedVersion, b: ResolvedVersion, cohort: CohortMoves | None = None) -> str:
    from engine.reports.render import environment

    t = environment("html").get_template("diff.html.j2")
    return t.render(d=d, a=a, b=b, rows=wording_rows(a, b), cohort=cohort,
                    chart=moves_svg(cohort) if cohort else None, outcome_words=OUTCOME_WORDS,
                    commissioning_words=COMMISSIONING_WORDS, title=f"{a.policy.title}: {d.from_label} → {d.to_label}")
