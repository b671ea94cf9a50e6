"""Reports: decision letters, panel summaries and policy documents say what the engine decided,
in every format, and free text never becomes markup."""
from __future__ import annotations

import datetime as dt
import difflib
import io
import re

import pytest
from conftest import run_cpe

from engine.ifr.routing import plan
from engine.ifr.screening import screen
from engine.language.decide import decide
from engine.reports.render import render_decision, render_panel, render_policy

SCRIPT = "<script>alert('x')</script>"


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def nospace(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def not_eligible(suite):
    """Breast implant replacement 2018: a and b met, c (same procedure) not met."""
    rv = suite.select("breast-implant-replacement", version="2018-07-01")
    d = decide(rv, {"implant_original_funding": "nhs", "age": 30, "implant_rupture": True,
                    "replacement_with_removal": False}, dt.date(2019, 1, 5))
    return rv, d


def test_decision_pdf_holds_outcome_unmet_wording_and_digest(suite, not_eligible):
    rv, d = not_eligible
    assert d.outcome == "not_eligible"
    text = pdf_text(render_decision(d, plan(d, suite.attributes), "pdf", issued=dt.date(2026, 1, 2)))
    assert "Outcome: Not eligible" in flat(text)
    unmet = [c for c in d.criteria if c.status == "unmet"]
    assert [c.id for c in unmet] == ["c"]
    for c in unmet:
        assert flat(c.text) in flat(text)
    assert nospace(rv.digest) in nospace(text)
    assert "Page 1 of" in text
    assert "2 January 2026" in text and "5 January 2019" in text


def test_decision_letter_shows_values_used_and_missing_facts(suite):
    rv = suite.select("assisted-conception", version="2020-03-05")
    d = decide(rv, {"age": 34, "bmi": 24.5, "smoker": False})
    assert d.outcome == "insufficient_information"
    html = render_decision(d, plan(d, suite.attributes), "html", ref="C-1", audit_head="sha256:abc123").decode()
    md = render_decision(d, plan(d, suite.attributes), "md", ref="C-1", audit_head="sha256:abc123").decode()
    for doc in (html, md):
        assert "Insufficient information" in doc
        assert "age = <b>34</b>" in doc or "age = 34" in doc
        assert "24.5" in doc
        for name in d.missing:
            assert name in doc
            assert suite.attributes[name].description in doc
        assert rv.digest in doc and "assisted-conception" in doc and "2020-03-05" in doc
        assert "C-1" in doc and "sha256:abc123" in doc
        for c in d.criteria:
            if c.depth == 0:
                assert flat(c.text) in flat(doc)


def test_free_text_grounds_are_escaped(suite, not_eligible):
    _, d = not_eligible
    sc = screen(f"She wants it. {SCRIPT} | more")
    p = plan(d, suite.attributes, screening=sc)
    for render in (lambda f: render_decision(d, p, f, screening=sc), lambda f: render_panel(d, p, sc, f)):
        html = render("html").decode()
        assert SCRIPT not in html and "<script" not in html
        assert "&lt;script&gt;" in html
        md = render("md").decode()
        assert "<script" not in md and "&lt;script&gt;" in md
    assert SCRIPT in flat(pdf_text(render_panel(d, p, sc, "pdf")))  # shown as text, literally


def test_panel_summary_holds_screening(suite, not_eligible):
    _, d = not_eligible
    sc = screen("She suffers from contracture. She is distressed. We see many patients like her.")
    p = plan(d, suite.attributes, screening=sc)
    text = flat(pdf_text(render_panel(d, p, sc, "pdf", ref="IFR-42")))
    for label in ("Having the condition", "Distress at the condition", "Possible service development",
                  "Panel decision", "IFR-42", "differs from the usual group of patients"):
        assert label in text
    md = render_panel(d, p, sc, "md").decode()
    assert ("| She suffers from contracture. | **Having the condition**: does not on its own make a case "
            "exceptional (matched “suffers from”)") in md
    assert "| We see many patients like her. |" in md  # flagged as a service development, still shown


def _section(md: str, heading: str) -> list[str]:
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def test_breast_implant_replacement_documents_differ_exactly_by_criterion_c(suite):
    old = suite.select("breast-implant-replacement", version="2018-07-01")
    new = suite.select("breast-implant-replacement", version="2020-03-05")
    c = next(n for n in old.criteria if n.id == "c")
    a_md, b_md = render_policy(old, "md").decode(), render_policy(new, "md").decode()
    # the criteria: exactly c's lines go, nothing comes
    diff = list(difflib.ndiff(_section(a_md, "## 2. Criteria"), _section(b_md, "## 2. Criteria")))
    removed = [d[2:] for d in diff if d.startswith("- ")]
    added = [d[2:] for d in diff if d.startswith("+ ")]
    assert added == []
    assert len(removed) == 2 and c.text in removed[0] and "(c)" in removed[0]
    assert "replacement_with_removal" in removed[1]
    # the whole document: only the version's own identity lines and criterion c differ
    diff = [d for d in difflib.ndiff(a_md.splitlines(), b_md.splitlines()) if d[:2] in ("- ", "+ ")]
    allowed = ("- **Version:**", "- **In force:**", "- **Ratified by:**", "- **Digest:**", "**This version:**",
               "_This document is rendered", "- **Dates:**", "- **Encoded:**")
    other = [d for d in diff if not d[2:].startswith(allowed) and d[2:] not in removed]
    assert other == []
    # and the same holds in the printed PDFs
    a_pdf, b_pdf = flat(pdf_text(render_policy(old, "pdf"))), flat(pdf_text(render_policy(new, "pdf")))
    assert c.text in a_pdf and c.text not in b_pdf
    assert old.digest.split(":")[1][:20] in a_pdf and new.digest.split(":")[1][:20] in b_pdf


def test_policy_document_holds_numbered_wording_provenance_and_history(suite):
    rv = suite.select("breast-implant-removal", version="2018-07-01")
    md = render_policy(rv, "md").decode()
    assert "**1 (age)** The patient is aged 18 or over." in md
    assert "**2.1 (rupture)** Implant rupture or leakage." in md
    assert "EBI 2023" in md and "**public**" in md
    assert "## 5. Version history" in md and "| 2018-07-01 | ratified |" in md
    assert rv.digest in md
    assert "Wanting the treatment." in md  # the non-qualifying reasons, from ifr-screening.yaml


def _all_versions(suite):
    return [(pid, v.version) for pid in suite.ids() for v in suite.policy(pid).versions]


def test_every_shipped_policy_version_renders_in_html_and_md(suite):
    pairs = _all_versions(suite)
    assert len({pid for pid, _ in pairs}) >= 3
    for pid, label in pairs:
        rv = suite.select(pid, version=label)
        for fmt in ("html", "md"):
            doc = render_policy(rv, fmt).decode()
            assert rv.digest in doc and rv.policy.title in doc, (pid, label, fmt)
            for n in rv.criteria:
                words = flat(n.text).replace("<", "&lt;").replace(">", "&gt;")
                if fmt == "html":
                    words = flat(n.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    words = words.replace("'", "&#39;").replace('"', "&#34;")
                assert words in flat(doc), (pid, label, fmt, n.id)
        d = decide(rv, {})
        for fmt in ("html", "md"):
            doc = render_decision(d, plan(d, suite.attributes), fmt).decode()
            assert rv.digest in doc, (pid, label, fmt)


@pytest.mark.parametrize("pid", __import__("engine.language.suite", fromlist=["Suite"]).Suite().ids())
def test_every_shipped_policy_prints_to_pdf(suite, pid):
    rv = suite.select(pid, version=suite.policy(pid).versions[-1].version)
    text = flat(pdf_text(render_policy(rv, "pdf")))
    assert rv.policy.title in text and nospace(rv.digest) in nospace(text)
    for n in rv.criteria:
        assert flat(n.text) in text, n.id


# -- CLI -----------------------------------------------------------------------------------
def test_cpe_report_decision_pdf(tmp_path, suite):
    patient = tmp_path / "p.yaml"
    patient.write_text("implant_original_funding: nhs\nage: 30\nimplant_rupture: true\nreplacement_with_removal: false\n")
    out = tmp_path / "letter.pdf"
    r = run_cpe("report", "decision", "breast-implant-replacement", "--patient", str(patient), "--on", "2019-01-05",
                "--grounds", SCRIPT, "--format", "pdf", "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = flat(pdf_text(out.read_bytes()))
    assert "Not eligible" in text and "same procedure as the removal" in text
    digest = suite.select("breast-implant-replacement", version="2018-07-01").digest
    assert nospace(digest) in nospace(text)


def test_cpe_report_policy_to_stdout_and_files(tmp_path):
    r = run_cpe("report", "policy", "breast-implant-replacement", "--version", "2020-03-05", "--format", "md")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# Breast implant replacement") and "(c)" not in r.stdout
    out = tmp_path / "policy.html"
    r = run_cpe("report", "policy", "breast-implant-replacement", "--version", "2018-07-01", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")  # format from the extension


@pytest.mark.parametrize("args, words", [
    (["report", "policy", "no-such-policy", "--format", "md"], "no-such-policy"),
    (["report", "policy", "breast-implant-replacement", "--version", "1999-01-01", "--format", "md"], "1999-01-01"),
    (["report", "decision", "breast-implant-replacement", "--format", "md"], "--patient"),
    (["report", "panel", "breast-implant-replacement", "--patient", "x.yaml", "--format", "md"], "--grounds"),
    (["report", "decision", "breast-implant-replacement", "--patient", "/no/such.yaml", "--format", "md"],
     "/no/such.yaml"),
])
def test_cpe_report_bad_input_exits_2_with_one_line(args, words):
    r = run_cpe(*args)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cpe_report_unwritable_output_is_bad_input(tmp_path):
    r = run_cpe("report", "policy", "breast-implant-removal", "--format", "md", "-o", str(tmp_path / "no" / "x.md"))
    assert r.returncode == 2 and "cannot write" in r.stderr


# -- formulary listing ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def formulary():
    from engine.formulary.entries import load_formulary

    return load_formulary("lsc")


def test_formulary_listing_by_status_and_by_indication(formulary):
    from engine.reports.render import render_formulary

    md = render_formulary(formulary, "md", issued=dt.date(2026, 1, 2)).decode()
    by_status = md.split("## 2. By indication")[0]
    by_indication = md.split("## 2. By indication")[1]
    vocab = formulary.vocabulary
    # each decision sits under its own status heading, in the vocabulary's order
    heads = [by_status.index(f"### {s.label} (") for s in vocab.statuses]
    assert heads == sorted(heads)
    for e in formulary.entries:
        i = [s.id for s in vocab.statuses].index(e.status)
        section = by_status[heads[i]: heads[i + 1] if i + 1 < len(heads) else None]
        assert f"**{e.medicine.capitalize()}**" in section, e.id
        if e.indication:
            assert f"### {flat(e.indication)[:1].upper()}" in by_indication
    assert "### Indication not stated" in by_indication or all(e.indication for e in formulary.entries)
    assert "| **Agomelatine** | Red | " in by_indication and "Prior approval required." in by_indication


def test_formulary_listing_prints_and_escapes(formulary):
    from engine.reports.render import render_formulary

    first = formulary.entries[0].model_copy(update={"notes": SCRIPT})
    f = formulary.model_copy(update={"entries": (first,) + formulary.entries[1:]})
    html = render_formulary(f, "html").decode()
    assert "<script" not in html and "&lt;script&gt;" in html
    text = flat(pdf_text(render_formulary(formulary, "pdf")))
    for s in formulary.vocabulary.statuses:
        assert s.label in text
    assert "By indication" in text and "Page 1 of" in text


def test_cpe_report_formulary(tmp_path):
    out = tmp_path / "formulary.md"
    r = run_cpe("report", "formulary", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "## 1. By status" in out.read_text() and "## 2. By indication" in out.read_text()
    r = run_cpe("report", "formulary", "--formulary", "no-such-formulary", "--format", "md")
    assert r.returncode == 2 and "no-such-formulary" in r.stderr


def test_out_of_scope_letter_names_the_other_commissioner(suite):
    import dataclasses

    d = decide(suite.select("breast-implant-removal", version="2018-07-01"), {"age": 50})
    d = dataclasses.replace(d, outcome="out_of_scope", route="other_commissioner",
                            reason="The request is outside the scope of this policy.")
    p = plan(d, suite.attributes)
    for fmt in ("html", "md"):
        doc = render_decision(d, p, fmt).decode()
        assert "Out of scope" in doc and "Another commissioner or policy" in doc
        assert "Also check: NHS England Specialised Commissioning" in doc
        assert "Reconstruction after cancer surgery is governed by other policies" in doc
        assert "Missing information" in doc and "implant_rupture" in doc
