"""The engine against itself, a hand-written baseline and the other rules engines, one run.

    python benchmarks/run.py [--json] [--quick]

One rule for every engine: assisted-conception 2020-03-05 (7 criteria, 11 comparisons), on
the same seeded patients. Every figure is evaluations per second (the median of several
runs, the engines interleaved so machine noise hits them alike), except `rag_query_ms`
(median milliseconds per formulary query), `diff_seconds` (one `cpe diff` per shipped pair)
and `cold_start_s` (median wall time of a fresh `cpe` process). Each engine's eligible
count is checked against the hand-written rule (`agree`), so a fast wrong engine shows.

- explained: the compiled evaluator (engine.compile.to_python), one call per patient,
  returning outcome, route, every criterion's three-valued status and the missing list;
- and_chain: a hand-written Python `and` chain of the same rule (no explanation);
- columnar_explained: the same rule compiled to polars, 1,000,000 patients in columns,
  a three-valued column per criterion plus the outcome;
- numpy_mask: a bare numpy boolean mask of the rule on the same columns;
- peers: durable_rules (post per event, the eligible rule only), zen-engine (ZenEngine.evaluate
  on a shared engine, one expression node with a key per criterion), rule-engine (typed Rule).

Beside the kernels, end to end: `cohort` (benchmarks/cohort_e2e.py: `cpe impact` and `cpe cohort
evaluate` over synthetic Parquet cohorts of 1 M and 10 M patients, patients/s and each command's
peak RSS) and `service` (benchmarks/load.py: 200 concurrent clients for 20 s on loopback,
p50/p95/p99 per endpoint). `--no-e2e` leaves those two out.

Benchmarks are not tests: nothing here asserts a speed. `--quick` is a smoke run
(smaller samples, 100,000 columnar rows); its figures are not for quoting.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("RUST_BACKTRACE", "0")   # else every zen error captures a backtrace

POLICY, VERSION = "assisted-conception", "2020-03-05"
FIELDS = ("age", "bmi", "smoker", "has_partner", "partner_smoker", "infertility_diagnosed_cause",
          "infertility_years", "insemination_cycles", "previous_sterilisation", "previous_nhs_ivf_units",
          "patient_living_children", "partner_living_children")


# -- the patients ---------------------------------------------------------------------------

def make_columns(n: int, seed: int = 1) -> dict[str, Any]:
    """Seeded synthetic patients as numpy columns, every fact known; each criterion fails at
    some rate so short-circuiting engines see realistic data (about 1 in 7 eligible)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "age": rng.integers(20, 56, n),
        "bmi": np.round(rng.uniform(17.0, 36.0, n), 1),
        "smoker": rng.random(n) < 0.1,
        "has_partner": rng.random(n) < 0.7,
        "partner_smoker": rng.random(n) < 0.1,
        "infertility_diagnosed_cause": rng.random(n) < 0.4,
        "infertility_years": np.round(rng.uniform(0.5, 5.0, n), 1),
        "insemination_cycles": np.where(rng.random(n) < 0.85, 0, rng.integers(1, 15, n)),
        "previous_sterilisation": rng.random(n) < 0.03,
        "previous_nhs_ivf_units": np.where(rng.random(n) < 0.9, 0, 1),
        "patient_living_children": np.where(rng.random(n) < 0.8, 0, 1),
        "partner_living_children": np.where(rng.random(n) < 0.8, 0, 1),
    }


def rows_of(cols: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The first n patients as plain Python dicts (int, float, bool values)."""
    lists = {k: v[:n].tolist() for k, v in cols.items()}
    return [dict(zip(lists, vals)) for vals in zip(*lists.values())]


# -- the engines ------------------------------------------------------------------------------

def and_chain(p: dict) -> bool:
    """The rule written by hand (the contract's wording of assisted-conception 2020-03-05)."""
    return (18 <= p["age"] <= 42 and 19 <= p["bmi"] <= 30
            and not p["smoker"] and (not p["has_partner"] or not p["partner_smoker"])
            and (p["infertility_diagnosed_cause"] or p["infertility_years"] >= 2 or p["insemination_cycles"] >= 12)
            and not p["previous_sterilisation"] and p["previous_nhs_ivf_units"] < 1
            and p["patient_living_children"] == 0 and (not p["has_partner"] or p["partner_living_children"] == 0))


def numpy_mask(c: dict[str, Any]) -> Any:
    hp = c["has_partner"]
    return ((c["age"] >= 18) & (c["age"] <= 42) & (c["bmi"] >= 19) & (c["bmi"] <= 30) & ~c["smoker"]
            & (~hp | ~c["partner_smoker"])
            & (c["infertility_diagnosed_cause"] | (c["infertility_years"] >= 2) | (c["insemination_cycles"] >= 12))
            & ~c["previous_sterilisation"] & (c["previous_nhs_ivf_units"] < 1)
            & (c["patient_living_children"] == 0) & (~hp | (c["partner_living_children"] == 0)))


ZEN_EXPRESSIONS = [
    ("age", "age >= 18 and age <= 42"),
    ("bmi", "bmi >= 19 and bmi <= 30"),
    ("non_smoker", "smoker == false and (has_partner == false or partner_smoker == false)"),
    ("infertility", "infertility_diagnosed_cause == true or infertility_years >= 2 or insemination_cycles >= 12"),
    ("no_sterilisation", "previous_sterilisation == false"),
    ("no_previous_nhs_ivf", "previous_nhs_ivf_units < 1"),
    ("childless", "patient_living_children == 0 and (has_partner == false or partner_living_children == 0)"),
    ("eligible", "$.age and $.bmi and $.non_smoker and $.infertility and $.no_sterilisation "
                 "and $.no_previous_nhs_ivf and $.childless"),
]


def zen_engine() -> Callable[[dict], bool]:
    """One expression node with a key per criterion, on a shared ZenEngine (not ZenDecision,
    which builds a new runtime per call), its loader returning pre-parsed content."""
    import zen

    graph = json.dumps({
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "patient", "position": {"x": 0, "y": 0}},
            {"id": "rule", "type": "expressionNode", "name": "criteria", "position": {"x": 200, "y": 0},
             "content": {"expressions": [{"id": f"e{k}", "key": key, "value": v}
                                         for k, (key, v) in enumerate(ZEN_EXPRESSIONS)]}},
            {"id": "out", "type": "outputNode", "name": "decision", "position": {"x": 400, "y": 0}}],
        "edges": [{"id": "a", "sourceId": "in", "targetId": "rule", "type": "edge"},
                  {"id": "b", "sourceId": "rule", "targetId": "out", "type": "edge"}]})
    # the loader runs on every evaluate: hand it pre-parsed content, not JSON text (3x faster)
    content = zen.ZenDecisionContent(graph) if hasattr(zen, "ZenDecisionContent") else graph
    engine = zen.ZenEngine({"loader": lambda key: content})
    evaluate = engine.evaluate
    return lambda p: evaluate("ac", p)["result"]["eligible"]


def durable_rules() -> Callable[[dict], bool]:
    """The eligible rule only; an ineligible patient raises MessageNotHandledException (the
    cheaper of the two event designs measured in engine-perf-anchors.md)."""
    from durable.engine import MessageNotHandledException
    from durable.lang import m, post, ruleset, when_all

    name = f"cpe_bench_{os.getpid()}"
    hits: list = []
    with ruleset(name):
        @when_all((m.age >= 18) & (m.age <= 42) & (m.bmi >= 19) & (m.bmi <= 30) & (m.smoker == False)  # noqa: E712
                  & ((m.has_partner == False) | (m.partner_smoker == False))  # noqa: E712
                  & ((m.infertility_diagnosed_cause == True) | (m.infertility_years >= 2)  # noqa: E712
                     | (m.insemination_cycles >= 12))
                  & (m.previous_sterilisation == False) & (m.previous_nhs_ivf_units < 1)  # noqa: E712
                  & (m.patient_living_children == 0)
                  & ((m.has_partner == False) | (m.partner_living_children == 0)))  # noqa: E712
        def eligible(c):  # noqa: ANN001
            hits.append(1)

    counter = [0]

    def run(p: dict) -> bool:
        counter[0] += 1          # events are identified by content unless they carry an id
        before = len(hits)
        try:
            post(name, {**p, "id": counter[0]})
        except MessageNotHandledException:
            return False
        return len(hits) > before

    return run


def rule_engine() -> Callable[[dict], bool]:
    import rule_engine as re_

    types = {f: re_.DataType.BOOLEAN for f in FIELDS}
    for f in ("age", "bmi", "infertility_years", "insemination_cycles", "previous_nhs_ivf_units",
              "patient_living_children", "partner_living_children"):
        types[f] = re_.DataType.FLOAT
    rule = re_.Rule(
        "age >= 18 and age <= 42 and bmi >= 19 and bmi <= 30 and not smoker "
        "and (not has_partner or not partner_smoker) "
        "and (infertility_diagnosed_cause or infertility_years >= 2 or insemination_cycles >= 12) "
        "and not previous_sterilisation and previous_nhs_ivf_units < 1 "
        "and patient_living_children == 0 and (not has_partner or partner_living_children == 0)",
        context=re_.Context(type_resolver=re_.type_resolver_from_dict(types)))
    return rule.matches


# -- timing -----------------------------------------------------------------------------------

def interleaved(cases: dict[str, tuple[Callable[[], Any], int]], repeats: int) -> dict[str, list[float]]:
    """Each case's rate in every round; `cases[name] = (run_once, evaluations per run)`.

    Every case runs once per round, so a burst of load on a shared machine hits a round's cases
    alike; ratios are then taken within each round (see `paired`), not between two medians.
    """
    got: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for name, (run, n) in cases.items():
            t = time.perf_counter()
            run()
            got[name].append(n / (time.perf_counter() - t))
    return got


def paired(rounds: dict[str, list[float]], a: str, b: str) -> float | None:
    """The median over rounds of a's rate ÷ b's rate in the same round."""
    if a not in rounds or b not in rounds:
        return None
    return statistics.median(x / y for x, y in zip(rounds[a], rounds[b]))


def single_patient(quick: bool) -> dict[str, Any]:
    from engine.compile.to_python import compiled
    from engine.language.suite import Suite

    rv = Suite().select(POLICY, version=VERSION)
    n = 5_000 if quick else 50_000
    cols = make_columns(n)
    patients = rows_of(cols, n)
    evaluate = compiled(rv).evaluate
    expected = [and_chain(p) for p in patients]
    agree = {"explained": [evaluate(p)[0] == "eligible" for p in patients] == expected}

    def loop(fn: Callable, items: list) -> Callable[[], None]:
        def run() -> None:
            for p in items:
                fn(p)
        return run

    cases = {"explained": (loop(evaluate, patients), n), "and_chain": (loop(and_chain, patients), n)}
    peers: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    m = 500 if quick else 5_000
    for name, make in (("durable_rules", durable_rules), ("zen_engine", zen_engine), ("rule_engine", rule_engine)):
        try:
            fn = make()
            agree[name] = [fn(p) for p in patients[:m]] == expected[:m]
            cases[name] = (loop(fn, patients[:m]), m)
        except Exception as exc:  # a peer that will not install or run is reported, not fatal
            peers[name] = None
            errors[name] = f"{type(exc).__name__}: {exc}"
    # every engine in every round, so a burst of load on the machine hits them all alike
    rounds = interleaved(cases, 3 if quick else 15)
    rates = {k: statistics.median(v) for k, v in rounds.items()}
    peers.update({k: v for k, v in rates.items() if k not in ("explained", "and_chain")})
    peers = {k: peers.get(k) for k in ("durable_rules", "zen_engine", "rule_engine")}
    ratios = {k: paired(rounds, "explained", k) for k in ("and_chain", "durable_rules", "zen_engine", "rule_engine")}
    return {"explained": rates["explained"], "and_chain": rates["and_chain"], "peers": peers, "ratios": ratios,
            "agree": agree, "errors": errors, "patients": n, "peer_patients": m,
            "eligible_share": sum(expected) / n}


def columnar(quick: bool) -> dict[str, Any]:
    import polars as pl

    from engine.compile.to_polars import evaluate_frame
    from engine.language.suite import Suite

    rv = Suite().select(POLICY, version=VERSION)
    n = 100_000 if quick else 1_000_000
    cols = make_columns(n, seed=2)
    frame = pl.DataFrame(cols)            # already columnar, as from Parquet or a warehouse
    run_polars = lambda: evaluate_frame(rv, frame.lazy(), route=False).collect()  # noqa: E731
    run_mask = lambda: numpy_mask(cols)  # noqa: E731
    out = run_polars()
    mask = run_mask()
    agree = int((out["outcome"] == "eligible").sum()) == int(mask.sum())
    rounds = interleaved({"columnar_explained": (run_polars, n), "numpy_mask": (run_mask, n)}, 3 if quick else 7)
    rates = {k: statistics.median(v) for k, v in rounds.items()}
    rates["ratio"] = paired(rounds, "columnar_explained", "numpy_mask")
    result: dict[str, Any] = {**rates, "rows": n, "agree": agree, "criteria_columns": len(out.columns) - len(cols) - 1}
    if not quick:
        result["duckdb_explained"] = duckdb_rate(rv, cols, n)
    return result


def duckdb_rate(rv: Any, cols: dict[str, Any], n: int) -> float:
    """The same rule as DuckDB SQL (the engine behind `cpe impact`), result fetched as Arrow."""
    import duckdb

    from engine.compile.to_sql import select_sql

    con = duckdb.connect()
    con.register("patients", cols)
    sql = select_sql(rv, "patients", keep=())
    return statistics.median(n / _seconds(lambda: con.sql(sql).to_arrow_table()) for _ in range(3))


def _seconds(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- the other figures ------------------------------------------------------------------------

def rag_ms(quick: bool) -> tuple[float | None, str | None]:
    try:
        from rag_bench import rag_query_ms
    except ImportError as exc:
        return None, f"benchmarks/rag_bench.py not importable: {exc}"
    try:
        return (rag_query_ms(n_entries=10_000, n_queries=200) if quick else rag_query_ms(n_entries=10_000)), None
    except TypeError:
        return rag_query_ms(n_entries=10_000), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def diff_seconds() -> tuple[dict[str, float] | None, str | None]:
    """One diff per consecutive pair of versions of each shipped policy."""
    try:
        from engine.analysis.diff import diff
    except ImportError as exc:
        return None, f"engine.analysis.diff not importable: {exc}"
    from engine.language.suite import Suite

    s = Suite()
    out: dict[str, float] = {}
    for p in s.policies():
        labels = [v.version for v in p.versions]
        for a, b in zip(labels, labels[1:]):
            ra, rb = s.resolved(p.id, a), s.resolved(p.id, b)
            out[f"{p.id} {a} -> {b}"] = round(_seconds(lambda ra=ra, rb=rb: diff(ra, rb, s.attributes)), 4)
    return out, None


def cold_start(quick: bool) -> dict[str, float | None]:
    cpe = Path(sys.executable).with_name("cpe")
    if not cpe.exists():
        import shutil

        cpe = Path(shutil.which("cpe") or "cpe")
    commands = {
        "rag": [str(cpe), "rag", "agomelatine", "--format", "json"],
        "evaluate": [str(cpe), "evaluate", POLICY, "--patient", str(ROOT / "examples" / "patient.yaml"),
                     "--format", "json"],
    }
    out: dict[str, float | None] = {}
    for name, cmd in commands.items():
        times = []
        ok = True
        for _ in range(1 if quick else 5):
            t = time.perf_counter()
            try:
                ok = subprocess.run(cmd, capture_output=True, cwd=ROOT, timeout=60).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            times.append(time.perf_counter() - t)
            if not ok:
                break
        out[name] = round(statistics.median(times), 3) if ok else None
    return out


def machine() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform()}


def run(quick: bool) -> dict[str, Any]:
    single = single_patient(quick)
    col = columnar(quick)
    rag, rag_err = rag_ms(quick)
    diffs, diff_err = diff_seconds()
    peers = single["peers"]
    explained = single["explained"]

    def r3(x: float | None) -> float | None:
        return round(x, 3) if x else None

    # ratios are medians of within-round ratios (robust to load on a shared machine)
    ratios = {
        "explained_vs_and_chain": r3(single["ratios"]["and_chain"]),
        "explained_vs_zen_engine": r3(single["ratios"]["zen_engine"]),
        "explained_vs_durable_rules": r3(single["ratios"]["durable_rules"]),
        "explained_vs_rule_engine": r3(single["ratios"]["rule_engine"]),
        "columnar_vs_numpy_mask": r3(col.get("ratio")),
    }
    targets = {
        "explained >= 1/3 and_chain": (ratios["explained_vs_and_chain"] or 0) >= 1 / 3,
        "explained >= 2.5x zen_engine": (ratios["explained_vs_zen_engine"] or 0) >= 2.5,
        "explained >= 25x durable_rules": (ratios["explained_vs_durable_rules"] or 0) >= 25,
        "columnar >= 1/2 numpy_mask": (ratios["columnar_vs_numpy_mask"] or 0) >= 0.5,
    }
    if diffs is not None:
        targets["every diff < 1 s"] = all(v < 1 for v in diffs.values())
    cold = cold_start(quick)
    if cold.get("rag") is not None:
        targets["cpe rag cold start < 0.3 s"] = cold["rag"] < 0.3
    errors = {**single["errors"], **({"rag_query_ms": rag_err} if rag_err else {}),
              **({"diff_seconds": diff_err} if diff_err else {})}
    return {
        "rule": f"{POLICY} {VERSION}",
        "quick": quick,
        "explained_evals_per_s": round(explained),
        "and_chain_evals_per_s": round(single["and_chain"]),
        "columnar_explained_evals_per_s": round(col["columnar_explained"]),
        "numpy_mask_evals_per_s": round(col["numpy_mask"]),
        "peers": {k: (round(v) if v else None) for k, v in peers.items()},
        "rag_query_ms": round(rag, 4) if rag is not None else None,
        "diff_seconds": diffs,
        "cold_start_s": cold,
        "ratios": ratios,
        "targets_met": targets,
        "agree": {**single["agree"], "columnar_explained": col["agree"]},
        "details": {"patients": single["patients"], "peer_patients": single["peer_patients"],
                    "columnar_rows": col["rows"], "eligible_share": round(single["eligible_share"], 3),
                    "columnar_duckdb_evals_per_s": round(col["duckdb_explained"]) if "duckdb_explained" in col
                    else None},
        "errors": errors,
        "machine": machine(),
    }


def end_to_end(quick: bool) -> dict[str, Any]:
    """Cohort commands and the service under load, each in its own processes."""
    import cohort_e2e

    cohort = cohort_e2e.run([100_000] if quick else [1_000_000, 10_000_000])
    clients, seconds = (20, 3) if quick else (200, 20)
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--clients", str(clients),
                        "--seconds", str(seconds), "--json"], capture_output=True, text=True, cwd=ROOT)
    try:
        service = json.loads(p.stdout)
    except json.JSONDecodeError:
        service = {"error": (p.stderr or p.stdout)[-500:]}
    return {"cohort": cohort, "service": service}


def e2e_table(e: dict[str, Any]) -> list[str]:
    import cohort_e2e

    lines = ["", cohort_e2e.table(e["cohort"]), ""]
    s = e["service"]
    if "endpoints" not in s:
        return lines + [f"service under load: {s.get('error', 'no figures')}"]
    lines.append(f"service, {s['clients']} clients for {s['seconds']} s on loopback "
                 f"({s['total_per_s']} requests/s, 5xx {s['5xx']}, connection errors {s['conn_errors']}):")
    lines.append(f"  {'endpoint':<10}{'requests':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    lines += [f"  {k:<10}{r['requests']:>10}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}"
              for k, r in s["endpoints"].items()]
    return lines


def table(r: dict[str, Any]) -> str:
    base = r["and_chain_evals_per_s"]
    lines = [f"rule: {r['rule']}{'  (QUICK smoke run: not for quoting)' if r['quick'] else ''}",
             f"machine: {r['machine']['nproc']} × {r['machine']['cpu']}, Python {r['machine']['python']}", "",
             f"{'single patient':<34}{'evals/s':>14}{'× and chain':>14}{'agree':>8}"]

    def row(name: str, v: float | None, agree: Any = "") -> None:
        if v is None:
            lines.append(f"{name:<34}{'n/a':>14}")
        else:
            lines.append(f"{name:<34}{v:>14,.0f}{v / base:>14.3f}{str(agree):>8}")

    row("compiled, explained", r["explained_evals_per_s"], r["agree"].get("explained"))
    row("hand-written and chain", base, "")
    for k, v in r["peers"].items():
        row(k, v, r["agree"].get(k))
    lines += ["", f"{'columnar (' + format(r['details']['columnar_rows'], ',') + ' patients)':<34}"
                  f"{'evals/s':>14}{'× numpy':>14}{'agree':>8}"]
    npm = r["numpy_mask_evals_per_s"]
    lines.append(f"{'polars, per criterion + outcome':<34}{r['columnar_explained_evals_per_s']:>14,.0f}"
                 f"{r['columnar_explained_evals_per_s'] / npm:>14.3f}{str(r['agree']['columnar_explained']):>8}")
    lines.append(f"{'bare numpy mask':<34}{npm:>14,.0f}{1:>14.3f}")
    if r["details"].get("columnar_duckdb_evals_per_s"):
        d = r["details"]["columnar_duckdb_evals_per_s"]
        lines.append(f"{'DuckDB SQL, per criterion + outcome':<34}{d:>14,.0f}{d / npm:>14.3f}")
    lines += ["", f"rag_query_ms (10,000 entries): {r['rag_query_ms']}",
              f"cold start (s): {r['cold_start_s']}"]
    if r["diff_seconds"]:
        lines.append("diff seconds:")
        lines += [f"  {k}: {v}" for k, v in r["diff_seconds"].items()]
    lines += ["", "ratios (median of within-round ratios; the targets are judged on these):"]
    lines += [f"  {k}: {v}" for k, v in r["ratios"].items()]
    lines += ["", "targets:"] + [f"  {'met ' if ok else 'MISSED'}  {k}" for k, ok in r["targets_met"].items()]
    if r.get("end_to_end"):
        lines += e2e_table(r["end_to_end"])
    if r["errors"]:
        lines += ["", "errors:"] + [f"  {k}: {v}" for k, v in r["errors"].items()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--quick", action="store_true", help="a fast smoke run (small samples)")
    ap.add_argument("--no-e2e", action="store_true", help="leave out the cohort and service figures")
    args = ap.parse_args()
    result = run(args.quick)
    if not args.no_e2e:
        result["end_to_end"] = end_to_end(args.quick)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
