"""Medicines and indications as concepts (issue 11): the clinician query corpus, the terminology
file's content and checks, the query reader, and `cpe rag` on the issue's failures."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.errors import InputError
from engine.formulary.entries import formulary_dir, load_formulary
from engine.formulary.lookup import Index, answer
from engine.formulary.query import compatible, entry_features, read

ROOT = Path(__file__).resolve().parent.parent
LSC = ROOT / "policies" / "formulary" / "lsc"
CORPUS = Path(__file__).with_name("fixtures") / "terminology_queries.tsv"
DMD = Path(__file__).with_name("fixtures") / "dmd" / "extract_3010419.tsv"


def corpus() -> list[tuple[str, str, str, set[str], set[str]]]:
    rows = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        kind, query, indication, expected, excluded = (line.split("\t") + [""] * 5)[:5]
        rows.append((f"{n}:{kind}:{query}|{indication}", query, indication,
                     set() if expected == "-" else set(expected.split(",")), set(filter(None, excluded.split(",")))))
    return rows


CASES = corpus()


@pytest.fixture(scope="module")
def idx() -> Index:
    return Index.for_formulary(LSC)


def test_the_corpus_has_at_least_200_clinician_queries_of_every_kind():
    assert len(CASES) >= 200
    kinds = {c[0].split(":")[1] for c in CASES}
    assert {"issue", "misspelling", "brand", "strength-form", "salt", "abbreviation", "x-for-y", "negated",
            "indication-flag", "indication-only", "miss"} <= kinds


@pytest.mark.parametrize("name,query,indication,expected,excluded", CASES, ids=[c[0] for c in CASES])
def test_corpus(idx, name, query, indication, expected, excluded):
    r = idx.resolve(query, indication or None)
    assert {m.id for m in r.matches} == expected, r.understood
    assert {m.id for m in r.excluded} == excluded
    for m in r.matches:   # the ranking explains itself
        assert m.matched_on.get("why") or m.matched_on.get("indication", {}).get("why")


def test_non_cf_bronchiectasis_never_answers_cystic_fibrosis(idx):
    out = answer("OPEP", "cystic fibrosis", LSC)
    assert out["matches"] == []   # not Black: the decision is for non-CF bronchiectasis only
    [x] = out["indication_excluded"]
    assert x["status"] == "black" and "excluded" in x["matched_on"]["indication"]["why"]
    broader = idx.resolve("OPEP", "bronchiectasis")
    assert [m.indication_match for m in broader.matches] == ["broader"]   # shown, flagged: check the type
    assert "non-cystic fibrosis" in broader.matches[0].matched_on["indication"]["why"]


def test_matched_on_names_the_concept_and_why(idx):
    [m] = idx.search("Slenyto 5mg")
    assert m.matched_on["concept"] == "melatonin" and m.matched_on["field"] == "brand"
    [m] = idx.search("nortriptyline hydrochloride")
    assert m.matched_on["salt"] == "nortriptyline hydrochloride"
    [m] = idx.search("nortriptyline", indication="painful diabetic neuropathy")
    ind = m.matched_on["indication"]
    assert ind["relation"] == "narrower" and ind["query_concept"] == "painful-diabetic-neuropathy"
    assert ind["entry_concept"] == "neuropathic-pain"


def test_a_strength_no_entry_has_is_kept_and_flagged_a_strength_another_has_narrows(idx):
    [m] = idx.search("methotrexate 10mg tablets")   # the decision is for 2.5 mg tablets: shown, flagged
    assert m.matched_on["strength"] == "differs" and "2.5 mg" in m.matched_on["why"]
    [m] = idx.search("Slenyto 2mg nocte")           # 2 mg is a Slenyto dose (2 x 1 mg), not a strength
    assert m.id == "melatonin-slenyto-asd-sms" and m.matched_on["strength"] == "differs"
    assert [m.id for m in idx.search("melatonin 2mg")] == ["melatonin-circadin-asd-sms"]
    assert "strength" not in idx.search("melatonin 2mg")[0].matched_on


def test_rag_shape_keeps_the_contract_keys_and_adds_only(idx):
    out = answer("agomelatine 25mg tablets", None, LSC)
    assert {"query", "matches"} <= set(out)
    m = out["matches"][0]
    for k in ("medicine", "brands", "formulation", "indication", "status", "status_label", "meaning",
              "prior_approval", "ifr_available", "notes"):
        assert k in m
    assert out["understood"]["strength"] == ["25mg"] and out["understood"]["medicine"] == ["agomelatine"]


def test_every_entry_is_linked_to_concepts_and_every_source_is_cited():
    f = load_formulary(LSC)
    t = f.terminology
    assert t is not None
    assert {e.id for e in f.entries} == set(t.entries)
    for e in f.entries:
        link = t.entries[e.id]
        assert (e.indication is None) == (not link.indication), e.id
    for s in t.sources.values():
        assert s.citation.strip()
    for m in t.medicines:
        for term in m.terms:
            assert term.source in t.sources


def test_every_dmd_code_is_in_the_public_release_extract():
    """No invented code: each dm+d id of the terminology is a row of the committed NHSBSA extract."""
    rows = {tuple(line.split("\t")[:2]) for line in DMD.read_text().splitlines() if not line.startswith("#")}
    f = load_formulary(LSC)
    assert f.terminology is not None
    codes = [c for m in f.terminology.medicines for c in (*m.codes, *(c for p in m.products for c in p.codes))]
    assert codes and all(c.system == "dmd" for c in codes)
    for c in codes:
        assert (c.level, c.code) in rows, c
        assert f.terminology.sources[c.source].provenance == "public"
    for ind in f.terminology.indications:
        for c in ind.codes:
            assert c.system == "snomed" and f.terminology.sources[c.source].provenance == "public"


def _copy(tmp_path: Path) -> Path:
    f = tmp_path / "lsc"
    shutil.copytree(LSC, f)
    return f


def test_bad_terminology_is_reported_with_file_and_line(tmp_path):
    f = _copy(tmp_path)
    text = (f / "terminology.yaml").read_text()
    text = text.replace("broader: [neuropathic-pain]", "broader: [neuropathic-pian]", 1)
    text = text.replace("  fenfluramine: {medicine: fenfluramine}", "  fenfluramine: {medicine: fenfluramin}\n"
                        "  no-such-entry: {medicine: melatonin}")
    (f / "terminology.yaml").write_text(text)
    with pytest.raises(InputError) as exc:
        load_formulary(f)
    msgs = [str(p) for p in exc.value.problems]
    assert any("neuropathic-pian" in m and "terminology.yaml:" in m for m in msgs)
    assert any("fenfluramin'" in m for m in msgs) and any("no-such-entry" in m for m in msgs)


@pytest.mark.parametrize("old,new,says", [
    ("source: valdoxan-spc}]", "source: nowhere}]", "source 'nowhere' is not in 'sources'"),
    ("  - id: jet-lag\n", "  - id: jet-lag\n    colour: red\n", "colour: unknown key"),
    ('code: "116523008"', 'code: "melatonin"', "116523008" and "code"),
])
def test_a_missing_source_an_unknown_key_and_a_bad_code_are_refused(tmp_path, old, new, says):
    f = _copy(tmp_path)
    text = (f / "terminology.yaml").read_text()
    assert old in text
    (f / "terminology.yaml").write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as exc:
        load_formulary(f)
    msgs = " ".join(str(p) for p in exc.value.problems)
    assert says in msgs and "terminology.yaml:" in msgs


def test_a_formulary_without_terminology_still_reads_forms_and_indications(tmp_path):
    f = _copy(tmp_path)
    (f / "terminology.yaml").unlink()
    idx = Index.for_formulary(f)
    assert [m.id for m in idx.search("melatonin liquid")] == ["melatonin-colonis-oral-solution"]
    assert idx.search("OPEP", indication="cystic fibrosis") == []   # the negated wording still holds
    assert formulary_dir(f) == f


@pytest.mark.parametrize("text,strength,features,indication", [
    ("agomelatine 25mg tablets", ["25mg"], {"form:tablet", "route:oral"}, None),
    ("Colonis 1 mg/ml oral solution", ["1 mg/ml"], {"form:liquid", "route:oral"}, None),
    ("octreotide 100 micrograms/1ml inj", ["100 micrograms/1ml"], {"form:injection", "route:parenteral"}, None),
    ("melatonin MR for autism", [], {"release:mr"}, "autism"),
    ("Somatuline Autogel 120mg", ["120mg"], {"form:injection", "route:parenteral", "route:parenteral/sc",
                                            "release:mr"}, None),
])
def test_the_reader(text, strength, features, indication):
    q = read(text)
    assert [s.text for s in q.strengths] == strength
    assert set(q.features) == features
    assert q.indication == indication


def test_strength_units_and_form_compatibility():
    assert read("500 micrograms").strengths[0].same(read("0.5mg").strengths[0])
    assert read("1mg/ml").strengths[0].same(read("5 mg/5 ml").strengths[0])
    mr, _ = entry_features("2 mg modified-release tablets", "oral")
    plain, _ = entry_features("3 mg tablets", "oral")
    assert compatible(frozenset({"release:mr"}), mr) and not compatible(frozenset({"release:mr"}), plain)
    assert compatible(frozenset({"form:tablet"}), mr)
    inj, _ = entry_features("injection", "parenteral")
    assert compatible(frozenset({"route:parenteral/iv"}), inj) and not compatible(frozenset({"route:oral"}), inj)


@pytest.mark.parametrize("query,indication,expected", [
    ("agomelatine 25mg tablets", None, ["red"]),
    ("Colonis liquid", None, ["black"]),
    ("melatonin for autism", None, ["not_stated", "not_stated", "black", "black"]),
    ("hydralazine", "chronic heart failure", ["amber_0"]),
    ("OPEP", "cystic fibrosis", []),
])
def test_cpe_rag_on_the_issues_failures(cpe, query, indication, expected):
    args = ["rag", query, "--format", "json"] + (["--indication", indication] if indication else [])
    r = cpe(*args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["status"] for m in out["matches"]] == expected


def test_cpe_rag_text_names_the_exclusion_and_what_it_read(cpe):
    r = cpe("rag", "OPEP", "--indication", "cystic fibrosis")
    assert r.returncode == 0, r.stderr
    assert "No formulary entry matches." in r.stdout
    assert "Not for this indication" in r.stdout and "non-cystic fibrosis bronchiectasis only" in r.stdout
    r = cpe("rag", "agomelatine 25mg tablets nocte")
    assert "Red" in r.stdout and "strength 25mg" in r.stdout and "nocte" in r.stdout


def test_formulary_check_counts_the_terminology(cpe):
    r = cpe("formulary", "check", "--format", "json")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)["terminology"]
    assert t["linked_entries"] == json.loads(r.stdout)["entries"] and t["medicines"] >= 11 and t["codes"] > 0
