"""End-to-end cohort figures: the real `cpe impact` and `cpe cohort evaluate` over a synthetic
Parquet cohort, as a policy group would run them, with wall time, patients per second and the
command's peak RSS (from the kernel's rusage of that child process, so the figure is the
process's own high-water mark, not a sample).

    .venv/bin/python benchmarks/cohort_e2e.py                  # 1 M and 10 M patients
    .venv/bin/python benchmarks/cohort_e2e.py --sizes 50000000 # the 50 M run of docs/performance.md
    .venv/bin/python benchmarks/cohort_e2e.py --quick          # 100,000: a smoke run

Cohorts are written once per size under --dir (default: a temporary folder), in chunks of
5 M rows with distinct seeds, so generating 50 M never holds 50 M rows in memory. They are
SYNTHETIC (engine/cohort/generate.py): the figures say how fast the engine is, nothing about
any population.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CPE = [str(Path(sys.executable).parent / "cpe")]  # the installed command, as a user runs it
CHUNK = 5_000_000
IMPACT = ("breast-implant-replacement", "2018-07-01", "2020-03-05")
EVALUATE = "assisted-conception"


def write_cohort(n: int, path: Path) -> float:
    """A synthetic cohort of n patients as one Parquet file, one row group per chunk; seconds taken."""
    import pyarrow.parquet as pq

    from engine import load_suite
    from engine.cohort.generate import generate

    attrs = load_suite(ROOT / "policies").attributes
    start, writer, done, seed = time.perf_counter(), None, 0, 0
    try:
        while done < n:
            table = generate(attrs, min(CHUNK, n - done), seed=seed)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=1_000_000)
            done, seed = done + table.num_rows, seed + 1
    finally:
        if writer is not None:
            writer.close()
    return time.perf_counter() - start


def one_size(n: int, folder: Path, memory: str) -> dict[str, Any]:
    cohort = folder / f"synthetic-{n}.parquet"
    made = None
    if not cohort.exists():
        made = round(write_cohort(n, cohort), 1)
    policy, old, new = IMPACT
    runs = {}
    for name, cmd in {
        "impact": [*CPE, "impact", policy, "--from", old, "--to", new, "--cohort", str(cohort), "--memory", memory,
                   "--format", "json"],
        "cohort evaluate": [*CPE, "cohort", "evaluate", EVALUATE, "--engine", "duckdb", "--cohort", str(cohort),
                            "-o", str(folder / f"out-{n}.parquet"), "--memory", memory, "--format", "json"],
    }.items():
        r = launched(cmd)
        runs[name] = {"seconds": r["seconds"], "patients_per_s": round(n / r["seconds"]) if r["exit"] == 0 else None,
                      "peak_rss_mb": r["peak_rss_mb"], "exit": r["exit"],
                      **({"stderr": r["stderr"]} if r["exit"] else {})}
    return {"patients": n, "file_mb": round(cohort.stat().st_size / 2**20), "generated_s": made, "runs": runs}


def launched(cmd: list[str]) -> dict[str, Any]:
    """The command run under a one-line launcher that reports the child's own peak RSS, so figures of
    earlier commands (and of cohort generation in this process) never leak into this one."""
    code = ("import json,os,resource,subprocess,sys,time;"
            "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True);"
            "w=time.perf_counter()-t;r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
            "print(json.dumps({'exit':p.returncode,'seconds':round(w,2),'peak_rss_mb':round(r/1024),"
            "'stderr':p.stderr.decode(errors='replace')[-500:]}))")
    p = subprocess.run([sys.executable, "-c", code, *cmd], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(p.stdout)


def run(sizes: list[int], folder: Path | None = None, memory: str = "1GB") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cpe-cohort-bench-") as tmp:
        where = folder or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        return {"memory_limit": memory, "sizes": [one_size(n, where, memory) for n in sizes]}


def table(r: dict[str, Any]) -> str:
    lines = [f"end to end, from Parquet (DuckDB memory limit {r['memory_limit']}):",
             f"  {'command':<18}{'patients':>13}{'seconds':>10}{'patients/s':>14}{'peak RSS MB':>13}"]
    for size in r["sizes"]:
        for name, run_ in size["runs"].items():
            rate = f"{run_['patients_per_s']:,}" if run_["patients_per_s"] else f"exit {run_['exit']}"
            lines.append(f"  {name:<18}{size['patients']:>13,}{run_['seconds']:>10}{rate:>14}{run_['peak_rss_mb']:>13,}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--quick", action="store_true", help="100,000 patients only")
    ap.add_argument("--dir", type=Path, default=None, help="keep the cohorts here (reused on the next run)")
    ap.add_argument("--memory", default="1GB", help="DuckDB memory limit passed to the commands")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = run([100_000] if args.quick else args.sizes, args.dir, args.memory)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
