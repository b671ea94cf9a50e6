"""Reports: decision letters, IFR panel summaries, policy documents and formulary listings.

One Jinja2 environment per output kind over the templates in `reports/`: HTML is
autoescaped; Markdown escapes angle brackets and table pipes in every value, so free text
(IFR grounds) can never become markup. PDF is the HTML printed by WeasyPrint, so the three
formats always say the same thing.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from engine.data import templates_dir
from engine.errors import InputError
from engine.ifr.routing import RoutePlan
from engine.ifr.screening import Screening
from engine.language.decision import CriterionResult, Decision
from engine.language.explain import COMMISSIONING_WORDS, OUTCOME_WORDS, ROUTE_WORDS, node_text, value_text
from engine.language.model.criteria import Node, _fmt
from engine.language.resolve import ResolvedVersion

Fmt = Literal["html", "md", "pdf"]
FORMATS = ("html", "md", "pdf")
REPORTS_DIR = templates_dir()

STATUS_WORDS = {"met": "Met", "unmet": "Not met", "unknown": "Unknown"}
PROVENANCE_WORDS = {
    "seed": "the commissioner's own wording (LSC meeting papers)",
    "public": "a public NHS source named in the citation",
    "comparator": "another NHS area or NICE: a stand-in, NOT known to be the LSC rule",
    "project": "wording written for this engine (procedure, not clinical fact)",
}


# -- environment ---------------------------------------------------------------------------
_MD_UNESCAPED = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]|])")  # [ ] | after an even run of backslashes
_MD_BLOCK_START = re.compile(r"^(?:#|[=-]+\s*$)")


def _md_escape(v: Any) -> Any:
    """A value as inert Markdown text: it stays on one line (a newline cannot start a heading), cannot
    open a link or an image (`[`, `]` escaped: no `javascript:` links, no remote images), a tag
    (`<`, `>`) or a table cell (`|`); a heading or underline marker at its start is escaped.
    Idempotent, since a macro's output is finalized again where it is printed."""
    if v is None or isinstance(v, (Markup, bool, int, float)):
        return v
    s = re.sub(r"\s*[\r\n\v\f\x85\u2028\u2029]+\s*", " ", str(v))
    s = s.replace("<", "&lt;").replace(">", "&gt;")  # '&' stays: plain text reads better, and is inert
    s = _MD_UNESCAPED.sub(lambda m: m.group(1) + "\\" + m.group(2), s)
    return "\\" + s if _MD_BLOCK_START.match(s) else s


def _md_finalize(v: Any) -> Any:
    if v is None:
        return ""
    return _md_escape(v)


def _one_line(v: Any) -> str:
    return re.sub(r"\s+", " ", str(v or "")).strip()


def _breakable(v: Any) -> Markup:
    """An identifier that may wrap after '_' or '/' in a narrow table column (HTML only)."""
    from markupsafe import escape

    return Markup(str(escape(v)).replace("_", "_<wbr>").replace("/", "/<wbr>"))


def _date(v: Any) -> str:
    if isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v)
        except ValueError:
            return v
    if isinstance(v, dt.date):
        return f"{v.day} {v:%B %Y}"
    return "" if v is None else str(v)


def _need(expected: str) -> str:
    """A threshold as a requirement: 'is nhs' → 'must be nhs', 'at least 18' → 'must be at least 18'."""
    if expected.startswith("is not "):
        return "must not be " + expected[len("is not "):]
    if expected.startswith("is "):
        return "must be " + expected[len("is "):]
    return "must be " + expected


def _fact_text(c: CriterionResult) -> list[str]:
    return [f"{f.attribute} = {value_text(f.value)} — {_need(f.expected)}" for f in c.facts]


def example_text(example: dict[str, Any]) -> str:
    """An example patient of a diff on one line: `age = 34, bmi = 31`."""
    return ", ".join(f"{k} = {_fmt(v)}" for k, v in example.items()) or "(no facts known)"


@lru_cache(maxsize=2)
def environment(kind: Literal["html", "md"]) -> jinja2.Environment:
    """The Jinja2 environment for one output kind; templates are `reports/*.html.j2` and `*.md.j2`
    (package data: loaded once, not re-checked for changes on every render)."""
    if kind == "html":
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPORTS_DIR), autoescape=True, auto_reload=False,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    else:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPORTS_DIR), autoescape=False, auto_reload=False,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                 finalize=_md_finalize, keep_trailing_newline=True)
    env.filters.update(outcome=lambda o: OUTCOME_WORDS.get(o, o), route=lambda r: ROUTE_WORDS.get(r, r),
                       status=lambda s: STATUS_WORDS.get(s, s), value=value_text, date=_date,
                       one_line=_one_line, facts=_fact_text, example_text=example_text, need=_need,
                       first_upper=lambda t: (t[:1].upper() + t[1:]) if t else t, provenance=lambda p: PROVENANCE_WORDS.get(p, p or ""),
                       rule=node_text)
    env.filters["breakable"] = _breakable if kind == "html" else (lambda v: v)
    env.globals.update(OUTCOME_WORDS=OUTCOME_WORDS, PROVENANCE_WORDS=PROVENANCE_WORDS,
                       COMMISSIONING_WORDS=COMMISSIONING_WORDS)
    return env


def _render(name: str, fmt: str, context: dict[str, Any]) -> bytes:
    if fmt not in FORMATS:
        raise InputError.of("bad-option", f"unknown format {fmt!r}", hint="use html, md or pdf")
    kind = "md" if fmt == "md" else "html"
    text = environment(kind).get_template(f"{name}.{kind}.j2").render(fmt=fmt, **context)
    if fmt == "pdf":
        return html_to_pdf(text)
    return text.encode("utf-8")


def html_to_pdf(html: str) -> bytes:
    """Print HTML to PDF with WeasyPrint (imported here: it is heavy)."""
    import logging

    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return HTML(string=html, base_url=str(REPORTS_DIR)).write_pdf()


# -- decision letter and panel summary -----------------------------------------------------
def render_decision(d: Decision, plan: RoutePlan, fmt: Fmt = "html", *, issued: dt.date | None = None,
                    ref: str | None = None, screening: Screening | None = None,
                    audit_head: str | None = None) -> bytes:
    """A decision letter: outcome, route and next steps, criteria with the values used, what is missing.
    `ref` and `audit_head` (the register's hash-chain head) tie a letter to its recorded case."""
    ctx = _decision_context(d, plan, issued, ref, screening or plan.screening)
    return _render("decision", fmt, {**ctx, "audit_head": audit_head})


def render_panel(d: Decision, plan: RoutePlan, screening: Screening, fmt: Fmt = "html", *,
                 issued: dt.date | None = None, ref: str | None = None) -> bytes:
    """An IFR panel summary for one request: the decision, the screening of its grounds, the test."""
    return _render("panel", fmt, {**_decision_context(d, plan, issued, ref, screening), "audit_head": None})


def _decision_context(d: Decision, plan: RoutePlan, issued: dt.date | None, ref: str | None,
                      screening: Screening | None) -> dict[str, Any]:
    counts = {s: sum(1 for c in d.criteria if c.status == s) for s in ("met", "unmet", "unknown")}
    return {"d": d, "plan": plan, "p": d.policy, "issued": issued or dt.date.today(), "ref": ref,
            "screening": screening, "counts": counts, "title": f"Decision: {d.policy.title}",
            "footer_id": f"{d.policy.id} {d.policy.version}", "digest": d.policy.digest}


# -- policy document -----------------------------------------------------------------------
def _numbered(nodes: Iterable[Node], prefix: str = "") -> list[dict[str, Any]]:
    """Criteria as nested items numbered 1, 1.1, …, each in the policy's own words with its rule and source."""
    out: list[dict[str, Any]] = []
    i = 0
    for n in nodes:
        if n.id is None:  # anonymous connective: its criteria (if any) number at this level
            inner = _numbered(n.children(), prefix)
            for item in inner:
                i += 1
                item["number"] = f"{prefix}{i}"
            out += inner
            continue
        i += 1
        number = f"{prefix}{i}"
        kids = [k for k in n.children()]
        out.append({"number": number, "id": n.id, "text": n.text, "rule": node_text(n),
                    "provenance": n.provenance, "citation": n.citation, "note": n.note,
                    "readings": [{"id": r.id, "meaning": r.meaning, "citation": r.citation,
                                  "rule": node_text(r.rule) if r.rule is not None else None}
                                 for r in n.readings or ()],
                    "children": _numbered(kids, number + ".") if any(_has_id(k) for k in kids) else []})
    return out


def _has_id(n: Node) -> bool:
    return n.id is not None or any(_has_id(k) for k in n.children())


def policy_context(rv: ResolvedVersion) -> dict[str, Any]:
    from engine.language.versions import ends

    p, v = rv.policy, rv.version
    history = []
    for x in p.versions:
        until = ends(p, x)
        history.append({"version": x.version, "status": x.status, "effective_from": x.effective_from,
                        "effective_to": until, "ratified_by": x.ratified_by, "ratified_on": x.ratified_on,
                        "based_on": x.based_on, "summary": x.summary,
                        "changes": [_change_text(c) for c in x.changes]})
    provs = sorted({n.provenance for n in rv.criterion_nodes() if n.provenance})
    return {"rv": rv, "p": p, "v": v, "until": ends(p, v), "digest": rv.digest,
            "scope_criteria": _numbered(rv.scope_criteria), "criteria": _numbered(rv.criteria),
            "history": history, "provenances": provs,
            "refs": [{"id": r.id, "title": r.policy.title, "version": r.label, "digest": r.digest}
                     for r in rv.refs.values()],
            "commissioning": COMMISSIONING_WORDS[rv.commissioning],
            "title": p.title, "footer_id": f"{p.id} {v.version}"}


def _change_text(c: Any) -> str:
    if c.remove is not None:
        what = f"removed criterion {c.remove}"
    elif c.replace is not None:
        what = f"replaced criterion {c.replace.id}"
    else:
        what = f"added criterion {c.add.criterion.id}" + (f" after {c.add.after}" if c.add.after else "")
    return what + (f" ({c.reason})" if c.reason else "")


def ifr_context() -> dict[str, Any]:
    """The exceptionality test and non-qualifying reasons every policy document ends with."""
    from engine.ifr.routing import load_routing
    from engine.ifr.screening import load_screening

    sc = load_screening()
    return {"exceptionality": load_routing().exceptionality, "non_qualifying": sc.non_qualifying,
            "screening_source": sc.source}


def render_policy(rv: ResolvedVersion, fmt: Fmt = "html", *, ifr: dict[str, Any] | None = None) -> bytes:
    """The policy document, rendered from the resolved rules the engine runs (so it cannot drift)."""
    return _render("policy", fmt, {**policy_context(rv), "ifr": ifr if ifr is not None else ifr_context()})


# -- formulary -----------------------------------------------------------------------------
def formulary_context(f: Any, issued: dt.date | None = None) -> dict[str, Any]:
    """A formulary (engine.formulary.model.Formulary) grouped by status, in the vocabulary's order, and
    by indication, alphabetically; with a digest of its content so a printed listing can be checked."""
    from engine.language.canonical import sha256_digest

    vocab = f.vocabulary
    digest = sha256_digest(f.model_dump(mode="json"))
    key = lambda e: (e.medicine.lower(), ", ".join(e.brands).lower(), e.formulation or "")  # noqa: E731
    by_status = [{"status": st, "entries": sorted((e for e in f.entries if e.status == st.id), key=key)}
                 for st in vocab.statuses]
    groups: dict[str, list[Any]] = {}
    for e in f.entries:
        groups.setdefault(_one_line(e.indication) if e.indication else "", []).append(e)
    by_indication = [{"indication": k or None, "entries": sorted(v, key=key)}
                     for k, v in sorted(groups.items(), key=lambda kv: (kv[0] == "", kv[0].lower()))]
    return {"f": f, "vocab": vocab, "statuses": {s.id: s for s in vocab.statuses}, "by_status": by_status,
            "by_indication": by_indication, "digest": digest, "issued": issued or dt.date.today(),
            "title": f"Formulary: {vocab.name}", "footer_id": f"formulary {vocab.id}"}


def render_formulary(f: Any, fmt: Fmt = "html", *, issued: dt.date | None = None) -> bytes:
    """A formulary listing by status and by indication, with each status's meaning and next step."""
    return _render("formulary", fmt, formulary_context(f, issued))
