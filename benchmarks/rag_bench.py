"""Median time of one `cpe rag` query over a generated formulary (target: under 1 ms at 10,000 entries).

The formulary is generated (invented names, several entries per medicine as in a real formulary),
validated through the same models as shipped data, compiled, and indexed once; only the queries
are timed. Every entry is linked to concepts as in the shipped terminology (substance with a
salt, a product with form and strength, brand; indication concepts with synonyms, kinds and an
exclusion). Queries mix exact generic names, brands, one-letter misspellings, prefixes, words
with an indication, strength-and-form queries, "X for Y", indication-only queries, and misses.

    python benchmarks/rag_bench.py [--entries N] [--json]
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SYLLABLES = ("ba be bi bo bu da de di do ka ke ki ko la le li lo lu ma me mi mo na ne ni no pa pe "
             "pi po ra re ri ro sa se si so ta te ti to tu va ve vi xa xe za ze zo").split()
ENDINGS = ("mab nib zole pril sartan statin olol azepam cillin mycin vir dronate parin tide lukast "
           "oxacin afil tinib").split()
FORMS = ("tablets", "capsules", "oral solution", "injection", "modified-release tablets", "cream", "inhaler")
CONDITIONS = ("hypertension", "heart failure", "asthma", "epilepsy", "psoriasis", "insomnia", "migraine",
              "chronic pain", "depression", "diabetes", "angina", "eczema", "glaucoma", "gout")
STATUSES = ("green", "green_restricted", "amber_0", "amber_1", "amber_2", "red", "black", "not_stated")


def _word(rng: random.Random, ending: bool) -> str:
    w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return w + rng.choice(ENDINGS) if ending else w


SALTS = ("hydrochloride", "sodium", "acetate", "maleate")
STRENGTHS = ("2.5 mg", "5 mg", "10 mg", "25 mg", "1 mg/ml", "100 micrograms/ml")


def _terminology(concepts: list[dict], links: dict) -> dict:
    """Indication concepts with synonyms, abbreviations, lay terms and a hierarchy, as in the
    shipped terminology: each condition has two kinds of it and an excluded neighbour."""
    inds = []
    for c in CONDITIONS:
        cid = c.replace(" ", "-")
        inds.append({"id": cid, "term": c, "source": "gen",
                     "terms": [{"term": f"{c} disorder", "source": "gen"},
                               {"term": "".join(w[0] for w in c.split()).upper() + "X", "kind": "abbreviation",
                                "source": "gen"}]})
        for sub in ("chronic", "severe"):
            inds.append({"id": f"{sub}-{cid}", "term": f"{sub} {c}", "broader": [cid], "source": "gen"})
        inds.append({"id": f"non-{cid}", "term": f"non-{c} syndrome", "excludes": [cid], "source": "gen"})
    return {"sources": {"gen": {"provenance": "comparator", "citation": "generated benchmark data"}},
            "medicines": concepts, "indications": inds, "entries": links}


def generate(n_entries: int, seed: int = 1) -> dict:
    """A compiled formulary (plain data) of n invented entries and their concepts (substance,
    salt, products with form and strength, brands; indications with a hierarchy), validated
    through the same models as the shipped data."""
    from engine.formulary.entries import compile_formulary, load_vocabulary
    from engine.formulary.model import Entry, Formulary
    from engine.formulary.terminology import Terminology

    rng = random.Random(seed)
    vocab = load_vocabulary(Path(__file__).resolve().parent.parent / "policies" / "formulary" / "lsc")
    entries, names, concepts, links = [], set(), [], {}
    while len(entries) < n_entries:
        generic = _word(rng, True)
        if generic in names:
            continue
        names.add(generic)
        brand = _word(rng, False).capitalize() if rng.random() < 0.5 else None
        products = []
        for k in range(min(rng.randint(1, 4), n_entries - len(entries))):
            form, strength = rng.choice(FORMS), rng.choice(STRENGTHS)
            cond = rng.choice(CONDITIONS).replace(" ", "-")
            products.append({"id": f"{generic}-p{k}", "name": f"{generic} {strength} {form}", "form": form,
                             "strength": strength, "source": "gen",
                             "brands": [{"term": brand, "kind": "brand", "source": "gen"}] if brand else []})
            entries.append(Entry(
                id=f"{generic}-{k}", medicine=generic, brands=(brand,) if brand else (),
                formulation=f"{strength} {form}", indication=cond.replace("-", " "), status=rng.choice(STATUSES),
                source={"provenance": "comparator", "citation": "generated benchmark data"}))
            links[f"{generic}-{k}"] = {"medicine": generic, "product": f"{generic}-p{k}", "indication": [cond]}
        concepts.append({"id": generic, "name": generic, "source": "gen", "products": products,
                         "terms": [{"term": f"{generic} {rng.choice(SALTS)}", "kind": "salt", "source": "gen"}]})
    term = Terminology.model_validate(_terminology(concepts, links))
    return compile_formulary(Formulary(vocabulary=vocab, entries=tuple(entries), terminology=term))


def _misspell(rng: random.Random, w: str) -> str:
    i = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return w[:i] + w[i + 1:]
    if kind == 1:
        return w[:i] + rng.choice("aeiou") + w[i + 1:]
    return w[:i] + w[i + 1] + w[i] + w[i + 2:]


def queries(compiled: dict, n: int, seed: int = 2) -> list[tuple[str, str | None]]:
    rng = random.Random(seed)
    entries = compiled["entries"]
    out: list[tuple[str, str | None]] = []
    for _ in range(n):
        e = rng.choice(entries)
        r = rng.random()
        if r < 0.35:
            out.append((e["medicine"], None))
        elif r < 0.5:
            out.append(((e["brands"] or [e["medicine"]])[0], None))
        elif r < 0.7:
            out.append((_misspell(rng, e["medicine"]), None))
        elif r < 0.8:
            out.append((e["medicine"][:5], None))
        elif r < 0.85:
            out.append((e["medicine"], e["indication"]))
        elif r < 0.88:
            out.append((f"{e['medicine']} {e['formulation']}", None))        # strength and form
        elif r < 0.91:
            out.append((f"{e['medicine']} for chronic {e['indication']}", None))  # X for Y, a kind of Y
        elif r < 0.93:
            out.append((f"severe {e['indication']}", None))                # an indication alone
        else:
            out.append((_word(rng, True) + "q", None))
    return out


def rag_query_ms(n_entries: int = 10000, n_queries: int = 2000) -> float:
    """Median milliseconds per query (index built once beforehand, not timed)."""
    from engine.formulary.lookup import Index

    compiled = generate(n_entries)
    idx = Index(compiled)
    qs = queries(compiled, n_queries)
    for q, ind in qs[:100]:  # warm up
        idx.search(q, ind)
    times = []
    clock = time.perf_counter_ns
    for q, ind in qs:
        t0 = clock()
        idx.search(q, ind)
        times.append(clock() - t0)
    return statistics.median(times) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ms = rag_query_ms(args.entries)
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"rag_query_ms": ms, "entries": args.entries, "machine": machine}))
    else:
        print(f"rag_query_ms: {ms:.4f} ms median over a {args.entries}-entry formulary ({machine})")


if __name__ == "__main__":
    main()
