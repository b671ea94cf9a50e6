"""IFR screening that helps a panel (issue 16): the labelled corpus, the two sentences the issue
names, negations, mixed sentences, and no sentence ever hidden.

Quality, not speed: the floors below are regressions guards on the corpus the patterns were
developed on; `python benchmarks/screening.py` prints precision and recall for it and for a
held-out set never used for tuning.
"""
from __future__ import annotations

import pytest

from benchmarks.screening import CORPUS, HELD_OUT, load_corpus, measure
from engine.ifr.screening import clauses, negated, screen

CORPUS_ITEMS = load_corpus(CORPUS)
HELD_OUT_ITEMS = load_corpus(HELD_OUT)
NQ = {"has_condition", "wants_treatment", "told_suitable", "distress"}
GROUNDS = {"different_condition", "contraindication", "failed_standard", "unusual_response"}


def test_the_corpus_has_at_least_80_sentences_of_both_kinds_with_negations_and_mixed():
    assert len(CORPUS_ITEMS) >= 80
    nq = [s for s in CORPUS_ITEMS if s.get("nq")]
    grounds = [s for s in CORPUS_ITEMS if s.get("grounds")]
    assert len(nq) >= 25 and len(grounds) >= 25
    assert len([s for s in CORPUS_ITEMS if "negation" in (s.get("tags") or ())]) >= 10
    assert len([s for s in CORPUS_ITEMS if "mixed" in (s.get("tags") or ())]) >= 8
    for s in CORPUS_ITEMS + HELD_OUT_ITEMS:
        assert set(s.get("nq") or ()) <= NQ and set(s.get("grounds") or ()) <= GROUNDS, s
    assert {x for s in CORPUS_ITEMS for x in s.get("nq") or ()} == NQ
    assert {x for s in CORPUS_ITEMS for x in s.get("grounds") or ()} == GROUNDS


@pytest.mark.parametrize("item", CORPUS_ITEMS + HELD_OUT_ITEMS, ids=lambda s: s["text"][:50])
def test_no_sentence_is_ever_hidden_from_the_panel(item):
    s = screen(item["text"])
    assert s.for_panel == (item["text"],)
    assert [r.sentence for r in s.readings] == [item["text"]]


def test_whole_grounds_keep_every_sentence_in_order():
    text = " ".join(s["text"] for s in CORPUS_ITEMS[:30])
    s = screen(text)
    assert s.for_panel == tuple(x["text"] for x in CORPUS_ITEMS[:30])
    assert len(s.readings) == 30


def test_haemophilia_is_a_ground_to_weigh_not_having_the_condition():
    s = screen("She has been diagnosed with haemophilia A, so the standard alternative carries a high bleeding risk.")
    assert "has_condition" not in s.reasons
    assert {"different_condition", "failed_standard"} <= set(s.ground_kinds)
    assert "Possible exceptionality grounds to weigh" in s.summary


def test_depression_making_the_pathway_unsafe_is_a_ground_not_distress():
    s = screen("Severe depression makes the usual pathway unsafe for her.")
    assert s.reasons == [] and s.ground_kinds == ["failed_standard"]
    assert s.readings[0].kind == "ground_to_weigh"


@pytest.mark.parametrize("text", [
    "This request is not simply because she wants the treatment.",
    "She does not suffer from depression or anxiety.",
    "There is no contraindication to the usual pathway.",
    "She never had an unusual reaction to treatment.",
])
def test_a_negated_reason_or_ground_is_not_flagged(text):
    s = screen(text)
    assert s.reasons == [] and s.ground_kinds == [] and s.for_panel == (text,)


def test_a_mixed_sentence_shows_both_the_reason_and_the_ground():
    s = screen("She is very distressed, and separately her asthma makes general anaesthesia unsafe.")
    assert s.reasons == ["distress"] and "failed_standard" in s.ground_kinds
    assert clauses("He really wants it; the standard treatment has failed twice.") == [
        "He really wants it", "the standard treatment has failed twice."]
    assert negated("she is not very upset", len("she is not very "))


def test_screening_json_gives_each_sentence_its_reading():
    j = screen("She wants it. She cannot tolerate the usual drug.").to_json()
    assert [x["kind"] for x in j["sentences"]] == ["non_qualifying", "ground_to_weigh"]
    assert j["grounds_to_weigh"][0]["reason"] == "contraindication"
    assert j["for_panel"] == ["She wants it.", "She cannot tolerate the usual drug."]


def test_corpus_precision_and_recall_do_not_regress():
    m = measure(CORPUS_ITEMS)
    assert m["hidden_sentences"] == 0
    for kind in ("non_qualifying", "grounds"):
        assert m[kind]["precision"] >= 0.9 and m[kind]["recall"] >= 0.9, (kind, m[kind], m["errors"])


def test_held_out_set_is_measured_and_nothing_is_hidden():
    m = measure(HELD_OUT_ITEMS)
    assert m["sentences"] >= 20 and m["hidden_sentences"] == 0
    assert m["non_qualifying"]["precision"] >= 0.8 and m["grounds"]["precision"] >= 0.8  # flags are rarely wrong


def test_the_benchmark_prints_precision_and_recall_for_both_sets():
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "screening.py"), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"corpus", "held_out"}
    for m in out.values():
        assert {"precision", "recall"} <= set(m["non_qualifying"]) and {"precision", "recall"} <= set(m["grounds"])
        assert m["hidden_sentences"] == 0
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "screening.py")], capture_output=True, text=True,
                       timeout=120)
    assert "precision" in r.stdout and "held_out" in r.stdout
