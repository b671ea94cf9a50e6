"""The formulary data and the look-up: vocabulary, seed decisions, search quality, caching."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.formulary.entries import formulary_dir, load_formulary
from engine.formulary.lookup import Index, cache_key, deletions, lookup, normalise, osa_distance
from tests.conftest import FIXTURES, ROOT

LSC = ROOT / "policies" / "formulary" / "lsc"
GM = FIXTURES / "formulary" / "gm"


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    old = os.environ.get("CPE_CACHE_DIR")
    os.environ["CPE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("CPE_CACHE_DIR", None)
    else:
        os.environ["CPE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def lsc():
    return load_formulary(LSC)


@pytest.fixture(scope="module")
def idx():
    return Index.for_formulary(LSC)


def ids(matches) -> list[str]:
    return [m.id for m in matches]


# --- the data ---------------------------------------------------------------------------------

def test_lsc_vocabulary_is_the_contract_set(lsc):
    assert [s.id for s in lsc.vocabulary.statuses] == [
        "green", "green_restricted", "amber_0", "amber_1", "amber_2", "red", "black", "not_stated"]
    black = lsc.vocabulary.status("black")
    assert black.flags.commissioned is False and "not to be prescribed" in black.meaning.lower()
    assert lsc.vocabulary.status("red").flags.specialist_only is True


SEED_DECISIONS = {  # seed 001 §3-5, as tabulated in the domain brief §4
    "agomelatine-depression": "red",
    "melatonin-slenyto-asd-sms": "not_stated",
    "melatonin-circadin-asd-sms": "not_stated",
    "melatonin-colonis-oral-solution": "black",
    "melatonin-colonis-3mg-tablets": "black",
    "nortriptyline-neuropathic-pain": "green_restricted",
    "octreotide-gi-secretory": "red",
    "lanreotide-gi-secretory": "red",
    "octreotide-orthostatic-intolerance": "black",
    "lanreotide-orthostatic-intolerance": "black",
    "oscillating-pep-device-bronchiectasis": "black",
    "lusutrombopag-thrombocytopenia-cld": "not_stated",
}
PUBLIC = {"hydralazine-tablets-hypertension": "green", "hydralazine-tablets-heart-failure": "amber_0",
          "hydralazine-injection": "red", "methotrexate-2-5mg-tablets": "amber_2", "cannabidiol": "red",
          "fenfluramine": "red"}


def test_every_seed_and_public_decision_is_encoded_with_its_provenance(lsc):
    by_id = {e.id: e for e in lsc.entries}
    for eid, status in {**SEED_DECISIONS, **PUBLIC}.items():
        e = by_id[eid]
        assert e.status == status, eid
        assert e.source.provenance == ("seed" if eid in SEED_DECISIONS else "public"), eid
        assert e.source.citation
    for e in lsc.entries:
        if e.status == "not_stated":
            assert e.status_note and "colour" in e.status_note.lower()
    assert by_id["agomelatine-depression"].prior_approval is True
    assert by_id["octreotide-orthostatic-intolerance"].ifr_available is True
    assert by_id["lusutrombopag-thrombocytopenia-cld"].nice_ta == "TA617"
    assert by_id["cannabidiol"].commissioner == "NHS England"
    assert [m.after_months for m in by_id["melatonin-slenyto-asd-sms"].monitoring] == [3, 6]


def test_formulary_dir_by_name_path_and_env(monkeypatch):
    assert formulary_dir("lsc").resolve() == LSC.resolve()
    assert formulary_dir(GM) == GM
    monkeypatch.setenv("CPE_FORMULARY", str(GM))
    assert formulary_dir(None) == GM
    with pytest.raises(InputError, match="no formulary 'lcs'.*did you mean 'lsc'"):
        formulary_dir("lcs")


def _copy(tmp_path: Path, src: Path = LSC) -> Path:
    dst = tmp_path / "f"
    shutil.copytree(src, dst)
    return dst


def test_bad_entries_are_all_reported_with_file_and_line(tmp_path):
    f = _copy(tmp_path)
    text = (f / "entries.yaml").read_text()
    text = text.replace("  status: amber_0\n", "  status: amber0\n", 1)
    text = text.replace("  prior_approval: true\n", "  prior_approval: maybe\n", 1)
    text = text.replace("attr: neuropathic_pain_prior_agents_tried", "attr: neuropathic_prior_agents", 1)
    (f / "entries.yaml").write_text(text)
    lines = text.splitlines()
    with pytest.raises(InputError) as exc:
        load_formulary(f)
    msgs = {p.code: p for p in exc.value.problems}
    assert set(msgs) >= {"unknown-status", "invalid-file", "unknown-attribute"}
    assert lines[msgs["unknown-status"].location.line - 1].strip() == "status: amber0"
    assert "did you mean 'amber_0'" in str(msgs["unknown-status"])
    assert lines[msgs["invalid-file"].location.line - 1].strip() == "prior_approval: maybe"
    assert "neuropathic_prior_agents" in lines[msgs["unknown-attribute"].location.line - 1] or \
        lines[msgs["unknown-attribute"].location.line - 1].strip().startswith("- id: third-line")
    assert all(p.location.file.endswith("entries.yaml") for p in exc.value.problems)


def test_duplicate_entry_ids_are_refused(tmp_path):
    f = _copy(tmp_path, GM)
    text = (f / "entries.yaml").read_text().replace("id: fictimab", "id: placebinol")
    (f / "entries.yaml").write_text(text)
    with pytest.raises(InputError, match="duplicate-entry.*'placebinol'"):
        load_formulary(f)


# --- search quality ---------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("agomelatine", "agomelatine-depression"),
    ("AGOMELATINE", "agomelatine-depression"),
    ("nortriptilyne", "nortriptyline-neuropathic-pain"),   # two letters swapped about
    ("nortriptylin", "nortriptyline-neuropathic-pain"),
    ("nortirptyline", "nortriptyline-neuropathic-pain"),   # neighbours transposed
    ("Slenyto", "melatonin-slenyto-asd-sms"),
    ("slenito", "melatonin-slenyto-asd-sms"),
    ("circadin", "melatonin-circadin-asd-sms"),
    ("Epidyolex", "cannabidiol"),
    ("lusutrombopag", "lusutrombopag-thrombocytopenia-cld"),
    ("OPEP device", "oscillating-pep-device-bronchiectasis"),
    ("fenfluramine", "fenfluramine"),
])
def test_generic_brand_synonym_and_misspelling_find_the_entry(idx, query, expected):
    assert ids(idx.search(query))[0] == expected


def test_brand_finds_only_that_brand(idx):
    assert ids(idx.search("Slenyto")) == ["melatonin-slenyto-asd-sms"]
    assert idx.search("Slenyto")[0].medicine == "melatonin"
    assert sorted(ids(idx.search("colonis"))) == ["melatonin-colonis-3mg-tablets", "melatonin-colonis-oral-solution"]
    assert {m.status_id for m in idx.search("colonis")} == {"black"}


def test_generic_finds_every_entry_and_formulation_words_narrow(idx):
    assert len(idx.search("melatonin")) == 4
    assert ids(idx.search("hydralazine injection")) == ["hydralazine-injection"]
    assert set(ids(idx.search("hydralazine tablets"))) == {"hydralazine-tablets-hypertension",
                                                          "hydralazine-tablets-heart-failure"}
    assert ids(idx.search("melatonin oral solution")) == ["melatonin-colonis-oral-solution"]
    assert ids(idx.search("hydralazine heart failure")) == ["hydralazine-tablets-heart-failure"]
    # an indication alone finds the entries for it (issue 11: indication-only queries)
    assert ids(idx.search("heart failure")) == ["hydralazine-tablets-heart-failure"]


def test_exact_names_rank_above_prefixes_and_misspellings(idx):
    exact = idx.search("octreotide")[0]
    close = idx.search("octreotid")[0]
    assert exact.score > close.score
    assert exact.matched_on["how"] == "exact" and close.matched_on["how"] == "prefix"
    assert idx.search("nortriptilyne")[0].matched_on["how"] == "close"


def test_indication_narrows(idx):
    hf = idx.search("hydralazine", indication="heart failure")
    assert [m.status_id for m in hf] == ["amber_0"]
    assert hf[0].indication_match == "matched"
    assert [m.status_id for m in idx.search("hydralazine", indication="hypertension")] == ["green"]
    assert [m.status_id for m in idx.search("hydralazine", indication="hypertention")] == ["green"]
    pots = idx.search("octreotide", indication="POTS")
    assert [m.status_id for m in pots] == ["black"] and pots[0].ifr_available is True
    gi = idx.search("lanreotide", indication="secretory gastrointestinal disorder")
    assert ids(gi) == ["lanreotide-gi-secretory"]
    assert idx.search("agomelatine", indication="heart failure") == []


def test_indication_keeps_all_indication_entries_and_sets_aside_unstated(idx):
    found, unstated = idx.search_with_unstated("melatonin", indication="jet lag")
    assert {m.id for m in found} == {"melatonin-colonis-oral-solution", "melatonin-colonis-3mg-tablets"}
    autism = idx.search("melatonin", indication="autism")
    assert [m.indication_match for m in autism][:2] == ["matched", "matched"]
    assert {m.id for m in autism[2:]} == {"melatonin-colonis-oral-solution", "melatonin-colonis-3mg-tablets"}
    assert all(m.indication_match == "all_indications" for m in autism[2:])
    found, unstated = idx.search_with_unstated("hydralazine", indication="heart failure")
    assert [m.id for m in unstated] == ["hydralazine-injection"]


def test_no_match_is_an_empty_list(idx):
    assert idx.search("paracetamol") == [] and idx.search("") == [] and idx.search("  --  ") == []


def test_lookup_api_and_contract_fields():
    (m,) = lookup("agomelatine")
    j = m.to_json()
    assert {k: j[k] for k in ("medicine", "brands", "formulation", "indication", "status", "status_label",
                              "prior_approval", "ifr_available")} == {
        "medicine": "agomelatine", "brands": [], "formulation": None,
        "indication": "major depressive episodes in adults", "status": "red", "status_label": "Red",
        "prior_approval": True, "ifr_available": False}
    assert j["meaning"] and j["notes"] and j["next_steps"]


def test_second_vocabulary_answers_without_code_changes():
    gm = Index.for_formulary(GM)
    assert [s for s in gm.statuses] == ["red", "amber", "green", "dnp", "grey"]
    (m,) = gm.search("fictiva")
    assert m.status_id == "dnp" and m.to_json()["status_label"] == "DNP (Do Not Prescribe)"
    assert m.ifr_available is True  # DNP is not commissioned: the status decides
    assert [x.status_id for x in gm.search("examplozole", indication="beta")] == ["red"]
    assert gm.search("agomelatine") == []


# --- the compiled cache ------------------------------------------------------------------------

def test_cache_is_rebuilt_when_a_file_changes(tmp_path):
    f = _copy(tmp_path, GM)
    assert Index.for_formulary(f).search("placebinol")[0].status_id == "grey"
    assert list(Path(os.environ["CPE_CACHE_DIR"]).glob("formulary-*.json"))
    text = (f / "entries.yaml").read_text().replace("status: grey", "status: green")
    (f / "entries.yaml").write_text(text + "\n")  # the size changes even within one mtime tick
    assert Index.for_formulary(f).search("placebinol")[0].status_id == "green"
    assert len(list(Path(os.environ["CPE_CACHE_DIR"]).glob(f"formulary-{cache_key(f).split('-')[0]}-*"))) == 1


def test_lookup_does_not_build_pydantic_models_when_cached():
    import subprocess
    import sys

    code = ("import sys; from engine.formulary.lookup import lookup; lookup('agomelatine'); "
            "print('engine.formulary.model' in sys.modules)")
    env = {**os.environ}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "False"


# --- properties ---------------------------------------------------------------------------------

def _osa_reference(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@given(st.text("abcde", max_size=9), st.text("abcde", max_size=9), st.integers(0, 3))
def test_bounded_distance_agrees_with_the_textbook_table(a, b, limit):
    ref = _osa_reference(a, b)
    assert osa_distance(a, b, limit) == (ref if ref <= limit else limit + 1)


@given(st.text(max_size=30))
def test_normalise_is_idempotent_lowercase_ascii(s):
    n = normalise(s)
    assert normalise(n) == n and n == n.strip() and n.isascii() and n == n.lower()


@given(st.text("abcdefgh", min_size=1, max_size=8), st.integers(0, 2))
def test_deletions_are_exactly_the_subsequences_within_depth(w, k):
    got = deletions(w, k)
    assert w in got and all(len(w) - len(x) <= k for x in got)
    assert len({x for x in got if len(x) == len(w) - min(k, len(w))}) >= 1


def _edit(word: str, pos: int, kind: int, letter: str) -> str:
    if kind == 0:
        return word[:pos] + word[pos + 1:]
    if kind == 1:
        return word[:pos] + letter + word[pos + 1:]
    if kind == 2:
        return word[:pos] + letter + word[pos:]
    return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:] if pos + 1 < len(word) else word


NAMES = ["agomelatine", "nortriptyline", "melatonin", "octreotide", "lanreotide", "lusutrombopag",
         "hydralazine", "methotrexate", "cannabidiol", "fenfluramine", "slenyto", "circadin", "epidyolex"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(NAMES), st.integers(0, 20), st.integers(0, 3), st.sampled_from("aeioux"))
def test_any_one_letter_misspelling_of_a_name_still_finds_it(idx, name, pos, kind, letter):
    query = _edit(name, pos % len(name), kind, letter)
    found = idx.search(query)
    assert found, query
    names = {n.casefold() for m in found for n in [m.medicine, *m.entry["brands"]]}
    assert name in names, (query, names)
