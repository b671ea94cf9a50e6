"""Precision and recall of IFR screening over the labelled corpus (a measure of quality, not speed).

The corpus is `tests/fixtures/screening/corpus.yaml`: sentences labelled with the non-qualifying
reasons each *is* and the possible exceptionality grounds each names, with negations and mixed
sentences. Each sentence is screened on its own (engine.ifr.screening.screen) and compared with
its labels:

- per label (e.g. `distress`, `failed_standard`): a (sentence, label) pair is a true positive when
  both the corpus and the screening give it;
- "any non-qualifying" and "any ground": per sentence, whether at least one of that kind was given.

    python benchmarks/screening.py [--json] [--errors]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT / "tests" / "fixtures" / "screening" / "corpus.yaml"
HELD_OUT = ROOT / "tests" / "fixtures" / "screening" / "held-out.yaml"  # never used to tune the patterns


def load_corpus(path: Path = CORPUS) -> list[dict]:
    from engine.language.source import load_file

    return [dict(s) for s in load_file(path)["sentences"]]


def _pr(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 3), "recall": round(r, 3)}


def measure(corpus: list[dict] | None = None) -> dict:
    """{"sentences": n, "labels": {label: pr}, "non_qualifying": pr, "grounds": pr, "errors": [...]}"""
    from engine.ifr.screening import load_screening, screen

    corpus = corpus if corpus is not None else load_corpus()
    rules = load_screening()
    counts: dict[str, list[int]] = {}
    kinds = {"non_qualifying": [0, 0, 0], "grounds": [0, 0, 0]}
    errors = []
    hidden = 0
    for item in corpus:
        sc = screen(item["text"], rules)
        hidden += sc.for_panel != (item["text"],)
        for kind, want, got in (("non_qualifying", set(item.get("nq") or ()), set(sc.reasons)),
                                ("grounds", set(item.get("grounds") or ()), set(sc.ground_kinds))):
            for label in want | got:
                c = counts.setdefault(label, [0, 0, 0])
                c[0 if label in want and label in got else 1 if label in got else 2] += 1
            if want or got:
                kinds[kind][0 if want and got else 1 if got else 2] += 1
            if want != got:
                errors.append({"text": item["text"], "kind": kind, "want": sorted(want), "got": sorted(got)})
    return {"sentences": len(corpus), "hidden_sentences": hidden,
            "labels": {k: _pr(*v) for k, v in sorted(counts.items())},
            "non_qualifying": _pr(*kinds["non_qualifying"]), "grounds": _pr(*kinds["grounds"]),
            "errors": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--errors", action="store_true", help="also list each sentence screening got wrong")
    args = ap.parse_args(argv)
    runs = {"corpus": measure(), "held_out": measure(load_corpus(HELD_OUT))}
    if not args.errors:
        runs = {name: {k: v for k, v in m.items() if k != "errors"} | {"error_count": len(m["errors"])}
                for name, m in runs.items()}
    if args.json:
        print(json.dumps(runs, indent=2))
        return 0
    for name, m in runs.items():
        path = (CORPUS if name == "corpus" else HELD_OUT).relative_to(ROOT)
        _print(m, f"{name} ({path}, {'patterns tuned on it' if name == 'corpus' else 'never used for tuning'})")
    return 0


def _print(m: dict, title: str) -> None:
    print(f"IFR screening, {title}: {m['sentences']} labelled sentences; "
          f"sentences hidden from the panel: {m['hidden_sentences']}")
    print(f"{'label':24} {'precision':>9} {'recall':>7}   tp  fp  fn")
    for name in ("non_qualifying", "grounds"):
        v = m[name]
        print(f"{'any ' + name.replace('_', '-'):24} {v['precision']:9.3f} {v['recall']:7.3f}  "
              f"{v['tp']:3} {v['fp']:3} {v['fn']:3}")
    for name, v in m["labels"].items():
        print(f"  {name:22} {v['precision']:9.3f} {v['recall']:7.3f}  {v['tp']:3} {v['fp']:3} {v['fn']:3}")
    for e in m.get("errors", []):
        print(f"- [{e['kind']}] want {e['want']} got {e['got']}: {e['text']}")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
