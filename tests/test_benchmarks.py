"""benchmarks/run.py --quick --json runs and prints the contract's keys (speeds are not tested)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_the_contract_keys():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--json"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    for key in ("explained_evals_per_s", "and_chain_evals_per_s", "columnar_explained_evals_per_s",
                "numpy_mask_evals_per_s"):
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, key
    assert set(doc["peers"]) == {"durable_rules", "zen_engine", "rule_engine"}
    for v in doc["peers"].values():
        assert v is None or v > 0
    assert doc["rag_query_ms"] is None or doc["rag_query_ms"] > 0
    assert doc["diff_seconds"] is None or all(v >= 0 for v in doc["diff_seconds"].values())
    assert set(doc["cold_start_s"]) == {"rag", "evaluate"}
    assert doc["machine"]["nproc"] >= 1 and doc["machine"]["python"]
    # every engine that ran decided the same patients the same way as the hand-written rule
    assert all(doc["agree"].values()), doc["agree"]
    # end to end: the real commands over a Parquet cohort, and the real server under clients
    sizes = doc["end_to_end"]["cohort"]["sizes"]
    assert [s["patients"] for s in sizes] == [100_000]
    for name, run in sizes[0]["runs"].items():
        assert run["exit"] == 0 and run["patients_per_s"] > 0 and run["peak_rss_mb"] > 0, (name, run)
    service = doc["end_to_end"]["service"]
    assert service["5xx"] == 0 and service["conn_errors"] == 0, service
    assert {"cds", "evaluate"} <= set(service["endpoints"])
