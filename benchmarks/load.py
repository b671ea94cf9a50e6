"""The service under load, on loopback: N concurrent clients for T seconds, then the register checked.

    python benchmarks/load.py [--clients 200] [--seconds 60] [--ramp 5] [--workers N] [--database URL] [--json]

Starts `cpe serve` on a free 127.0.0.1 port (one worker per CPU unless --workers), with a fresh
SQLite register in a temporary folder (or --database, e.g. a PostgreSQL URL you own), its own
register key and checkpoint file, and one officer token. Then `--clients` clients, each with its
own keep-alive connection and no think time (a closed loop: each sends its next request when the
last is answered), started evenly over `--ramp` seconds (0: all at the same instant, as after a
restart with every client waiting), cycle through a mix: CDS Hooks order-select calls (4 in 10),
evaluate (2), medicine look-ups over the API (2), the look-up page (1) and case creation (1); the
environment variable LOAD_SKIP=cases (comma-separated kinds) leaves kinds out. Each CDS call
carries a fresh ES384 JWT signed with the CDS Hooks sandbox's published key, which the server is
configured to trust (so every call pays the verification a production call pays), and the full
prefetch; it is signed before the clock starts (as an EHR signs before it sends), with the key
parsed once per client process. Clients run in `--procs` processes (aiohttp) so the load generator
itself is not the bottleneck; they share the machine's CPUs with the server.

A closed loop measures a saturated server: by Little's law each client's latency is about
clients / throughput, so at 200 clients the latencies say how fast requests are served, and slow endpoints
(case creation, serialised by the chain's lock) hold clients that would otherwise queue at the
fast ones.

Printed per endpoint: requests, throughput, p50/p95/p99/max latency over the whole run (the ramp
included), 5xx responses, other unexpected statuses, connection errors; then the p99 of the
requests sent after the ramp, and the CDS calls' p50/p99 in each 10 s of the run. Afterwards
`cpe register verify` runs on the register, and every case acknowledged with 201 must be in it. Exit 0
when there were no connection errors, no 5xx, verify passed and no acknowledged case is missing;
else 1. This is a benchmark: the latency figures are printed, not asserted (docs/performance.md
records them).
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "load-officer-token-0123456789"
MIX = ["cds", "medicines", "evaluate", "cds", "page", "cases", "cds", "evaluate", "medicines", "cds"]
SKIP: set[str] = set(os.environ.get("LOAD_SKIP", "").split(",")) - {""}   # LOAD_SKIP=cases: the others without case creation
MEDICINES = ["hydralazine", "Nortriptyline 10 MG Oral Tablet", "Epidyolex", "Slenyto 1 mg prolonged-release tablets",
             "agomelatine", "paracetamol", "hydralazne", "Hydralazine 25 MG Oral Tablet"]
PATIENTS = [{"age": 30, "bmi": 24.5, "smoker": False, "implant_rupture": True},
            {"age": 17, "implant_rupture": True}, {"age": 52, "bmi": 31.0, "smoker": True}]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def _context(medicine: str) -> dict[str, Any]:
    """The specification's own example order-select context, ordering `medicine` (built once per medicine:
    the clients' CPU time is taken from the server's, since both run on this machine)."""
    spec = json.loads((ROOT / "tests" / "fixtures" / "cds-hooks" / "order-select-01-context.json").read_text())
    ctx = copy.deepcopy(spec["context"])
    for e in ctx["draftOrders"]["entry"]:
        if e["resource"]["resourceType"] == "MedicationRequest":
            e["resource"]["medicationCodeableConcept"] = {"text": medicine}
    return ctx


def cds_body(medicine: str, n: int) -> dict[str, Any]:
    """An order-select request built from the specification's own example context."""
    return {"hookInstance": f"load-{n}", "hook": "order-select", "context": _context(medicine),
            "prefetch": {"patient": {"resourceType": "Patient", "id": "1288992", "birthDate": "1970-01-01"},
                         "conditions": {"resourceType": "Bundle", "type": "searchset"},
                         "observations": {"resourceType": "Bundle", "type": "searchset"}},
            "extension": {"cpe.patient-facts": {"neuropathic_pain_prior_agents_tried": n % 3}}}


def requests_for(kind: str, n: int) -> tuple[str, str, Any, int]:
    """(method, path, json body or None, the status that means success)."""
    if kind == "cds":
        return "POST", "/cds-services/formulary-order-select", cds_body(MEDICINES[n % len(MEDICINES)], n), 200
    if kind == "evaluate":
        return "POST", "/api/policies/breast-implant-removal/evaluate", PATIENTS[n % len(PATIENTS)], 200
    if kind == "medicines":
        return "GET", f"/api/medicines?q={MEDICINES[n % len(MEDICINES)]}", None, 200
    if kind == "page":
        return "GET", f"/medicines?q={MEDICINES[n % len(MEDICINES)]}", None, 200
    return "POST", "/api/cases", {"policy_id": "breast-implant-removal", "patient": PATIENTS[n % len(PATIENTS)]}, 201


SANDBOX = ROOT / "tests" / "fixtures" / "cds-hooks-sandbox"   # the CDS Hooks sandbox's published key pair
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
CDS_PATH = "/cds-services/formulary-order-select"


def cds_token(base: str, n: int) -> str:
    """A fresh ES384 JWT signed as the sandbox signs (so the server verifies one per call, as in production)."""
    import jwt

    now = int(time.time())
    return jwt.encode({"iss": SANDBOX_ISS, "aud": base + CDS_PATH, "iat": now, "exp": now + 300,
                       "jti": f"load-{os.getpid()}-{n}-{time.monotonic_ns()}"},
                      _signing_key(), algorithm="ES384",
                      headers={"kid": SANDBOX_KID, "typ": "JWT", "jku": SANDBOX_JKU})


@functools.lru_cache(maxsize=1)
def _signing_key() -> Any:
    """The sandbox's private key, parsed once per client process."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key((SANDBOX / "ecprivkey.pem").read_bytes(), password=None)


def headers_for(kind: str, base: str, n: int) -> dict[str, str] | None:
    if kind == "cases":
        return {"Authorization": f"Bearer {TOKEN}"}
    if kind == "cds":
        return {"Authorization": f"Bearer {cds_token(base, n)}"}
    return None


async def _client(session: Any, base: str, i: int, start_at: float, deadline: float, out: dict[str, Any]) -> None:
    import aiohttp

    await asyncio.sleep(max(0.0, start_at - time.time()))
    n = i
    while time.time() < deadline:
        kind = MIX[n % len(MIX)]
        if kind in SKIP:
            n += 1
            continue
        method, path, body, ok = requests_for(kind, n)
        n += 1
        headers = headers_for(kind, base, n)   # signed before the clock starts, as an EHR signs before it sends
        t0 = time.perf_counter()
        try:
            async with session.request(method, base + path, json=body, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=120)) as r:
                data = await r.read()
                status = r.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            out["conn_errors"][kind] = out["conn_errors"].get(kind, 0) + 1
            out["error_kinds"][type(exc).__name__] = out["error_kinds"].get(type(exc).__name__, 0) + 1
            await asyncio.sleep(0.05)
            continue
        out["lat"].setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        out["at"].setdefault(kind, []).append(time.time() - (time.perf_counter() - t0))  # when it was sent
        if status >= 500:
            out["5xx"][kind] = out["5xx"].get(kind, 0) + 1
        elif status != ok:
            out["unexpected"][f"{kind} {status}"] = out["unexpected"].get(f"{kind} {status}", 0) + 1
        elif kind == "cases":
            out["acknowledged"].append(json.loads(data)["ref"])


async def _run_clients(base: str, first: int, count: int, plan: dict[str, float]) -> dict[str, Any]:
    """Clients first .. first+count-1 of `plan["clients"]`: client g starts at start + g × ramp / clients."""
    import aiohttp

    out: dict[str, Any] = {"lat": {}, "at": {}, "5xx": {}, "unexpected": {}, "conn_errors": {}, "error_kinds": {},
                           "acknowledged": []}
    start, ramp, clients, deadline = plan["start"], plan["ramp"], plan["clients"], plan["start"] + plan["seconds"]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(_client(session, base, first + k, start + (first + k) * ramp / clients, deadline, out)
                               for k in range(count)))
    return out


def _proc_main(base: str, first: int, count: int, plan: dict[str, float], queue: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    queue.put(asyncio.run(_run_clients(base, first, count, plan)))


def start_server(workers: int | None, env: dict[str, str], log: Any) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cpe = Path(sys.executable).parent / "cpe"
    cmd = [str(cpe), "serve", "--host", "127.0.0.1", "--port", str(port)] + (["--workers", str(workers)]
                                                                             if workers else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    import urllib.request

    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"cpe serve exited: {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    raise SystemExit("cpe serve did not answer /health")


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"lat": {}, "at": {}, "5xx": {}, "unexpected": {}, "conn_errors": {}, "error_kinds": {},
                             "acknowledged": []}
    for p in parts:
        for key in ("lat", "at"):
            for k, v in p[key].items():
                total[key].setdefault(k, []).extend(v)
        for key in ("5xx", "unexpected", "conn_errors", "error_kinds"):
            for k, v in p[key].items():
                total[key][k] = total[key].get(k, 0) + v
        total["acknowledged"] += p["acknowledged"]
    return total


KINDS = ("cds", "evaluate", "medicines", "page", "cases")


def summary(total: dict[str, Any], seconds: float) -> dict[str, Any]:
    rows = {}
    for kind in KINDS:
        xs = total["lat"].get(kind, [])
        rows[kind] = {"requests": len(xs), "per_s": round(len(xs) / seconds, 1),
                      "p50_ms": round(percentile(xs, 50), 1), "p95_ms": round(percentile(xs, 95), 1),
                      "p99_ms": round(percentile(xs, 99), 1), "max_ms": round(max(xs), 1) if xs else None,
                      "5xx": total["5xx"].get(kind, 0), "conn_errors": total["conn_errors"].get(kind, 0)}
    return rows


def phases(total: dict[str, Any], plan: dict[str, float]) -> dict[str, Any]:
    """p99 per endpoint of the requests sent after the ramp (all clients running), and the CDS calls'
    p50/p99 in each 10 s of the run: where in the run the slow answers were."""
    after = {}
    for kind in KINDS:
        xs = [ms for ms, at in zip(total["lat"].get(kind, []), total["at"].get(kind, []))
              if at >= plan["start"] + plan["ramp"]]
        after[kind] = {"requests": len(xs), "p50_ms": round(percentile(xs, 50), 1),
                       "p99_ms": round(percentile(xs, 99), 1)}
    windows: dict[int, list[float]] = {}
    for ms, at in zip(total["lat"].get("cds", []), total["at"].get("cds", [])):
        windows.setdefault(int(max(0.0, at - plan["start"]) // 10) * 10, []).append(ms)
    by_10s = [{"from_s": w, "requests": len(xs), "p50_ms": round(percentile(xs, 50), 1),
               "p99_ms": round(percentile(xs, 99), 1)} for w, xs in sorted(windows.items())]
    return {"after_ramp": after, "cds_by_10s": by_10s}


def check_register(env: dict[str, str], acknowledged: list[str]) -> dict[str, Any]:
    cpe = Path(sys.executable).parent / "cpe"
    v = subprocess.run([str(cpe), "register", "verify", "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=3600)
    cases = subprocess.run([str(cpe), "case", "list", "--format", "json"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    present = {c["ref"] for c in json.loads(cases.stdout or "[]")}
    report = json.loads(v.stdout) if v.stdout.strip() else {"ok": False, "first_bad_record": v.stderr.strip()}
    return {"verify_exit": v.returncode, "verify_ok": report.get("ok"), "audit_entries": report.get("audit_entries"),
            "first_bad_record": report.get("first_bad_record"), "checkpoint": report.get("checkpoint"),
            "acknowledged": len(acknowledged), "missing": sorted(set(acknowledged) - present)[:20],
            "missing_count": len(set(acknowledged) - present), "cases_in_register": len(present)}


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "load_before": os.getloadavg(), "platform": platform.platform()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ramp", type=float, default=None,
                    help="seconds over which the clients start, evenly (0: all at the same instant; "
                         "default 5, or a tenth of a shorter run)")
    ap.add_argument("--workers", type=int, default=None, help="cpe serve --workers (default: one per CPU)")
    ap.add_argument("--procs", type=int, default=2, help="client processes")
    ap.add_argument("--database", default=None, help="register URL (default: a fresh SQLite file)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.ramp is None:
        args.ramp = min(5.0, args.seconds / 10)
    if not (1 <= args.clients <= 2000 and 1 <= args.seconds <= 900 and 1 <= args.procs <= 16
            and 0 <= args.ramp < args.seconds):
        raise SystemExit("bounded: 1-2000 clients, 1-900 seconds, 1-16 client processes, a ramp shorter than the run")
    with tempfile.TemporaryDirectory(prefix="cpe-load-") as tmp:
        env = {**os.environ, "CPE_DATABASE_URL": args.database or f"sqlite:///{tmp}/register.sqlite3",
               "CPE_API_TOKENS": f"ifr_officer:load:{TOKEN}", "CPE_REGISTER_KEY_FILE": f"{tmp}/register.key",
               "CPE_REGISTER_CHECKPOINTS": f"{tmp}/checkpoints.jsonl", "CPE_SIGNAL_THRESHOLD": "1000000000",
               # CDS calls signed with the sandbox's key, trusted as a deployment trusts its EHR
               "CPE_CDS_JWKS_FILE": str(SANDBOX / "jwks.json"), "CPE_CDS_TRUSTED_JKU": SANDBOX_JKU,
               "CPE_CDS_TRUSTED_ISSUERS": SANDBOX_ISS}
        env.pop("CPE_REGISTER_KEY", None)
        before = machine()
        with open(f"{tmp}/server.log", "w+") as log:
            proc, base = start_server(args.workers, env, log)
            try:
                queue: Any = mp.get_context("spawn").Queue()
                share = [args.clients // args.procs + (1 if k < args.clients % args.procs else 0)
                         for k in range(args.procs)]
                firsts = [sum(share[:k]) for k in range(args.procs)]
                # the clock starts once the client processes have had time to start (spawn + imports)
                plan = {"start": time.time() + 3.0, "ramp": args.ramp, "clients": args.clients,
                        "seconds": args.seconds}
                procs = [mp.get_context("spawn").Process(target=_proc_main, args=(base, firsts[k], share[k],
                                                                                  plan, queue))
                         for k in range(args.procs)]
                for p in procs:
                    p.start()
                parts = [queue.get(timeout=args.seconds + 300) for _ in procs]
                for p in procs:
                    p.join(timeout=30)
                alive = proc.poll() is None
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=120)
            log.seek(0)
            tracebacks = log.read().count("Traceback")
        total = merge(parts)
        register = check_register(env, total["acknowledged"])
    ends = [at + ms / 1000 for k in total["lat"] for ms, at in zip(total["lat"][k], total["at"][k])]
    elapsed = max([args.seconds, *(e - plan["start"] for e in ends)])   # to the last answer
    rows = summary(total, elapsed)
    doc = {"clients": args.clients, "seconds": round(elapsed, 1), "ramp_s": args.ramp,
           "workers": args.workers or "per CPU",
           "server_alive_at_end": alive, "server_tracebacks": tracebacks, "endpoints": rows,
           **phases(total, plan),
           "total_per_s": round(sum(r["requests"] for r in rows.values()) / elapsed, 1),
           "conn_errors": sum(total["conn_errors"].values()), "error_kinds": total["error_kinds"],
           "5xx": sum(total["5xx"].values()), "unexpected": total["unexpected"], "register": register,
           "machine": {**before, "load_after": os.getloadavg()}}
    ok = (doc["conn_errors"] == 0 and doc["5xx"] == 0 and alive and register["verify_exit"] == 0
          and register["missing_count"] == 0)
    doc["ok"] = ok
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print(doc)
    return 0 if ok else 1


def _print(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    print(f"{doc['clients']} clients (started over {doc['ramp_s']} s) for {doc['seconds']} s, cpe serve workers: "
          f"{doc['workers']}; "
          f"{m['nproc']} CPUs ({m['cpu']}), load average before {m['load_before'][0]:.1f}, after "
          f"{m['load_after'][0]:.1f}")
    print(f"{'endpoint':<10} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'5xx':>5} {'conn err':>8}")
    for kind, r in doc["endpoints"].items():
        print(f"{kind:<10} {r['requests']:>9} {r['per_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} "
              f"{r['max_ms'] or 0:>8} {r['5xx']:>5} {r['conn_errors']:>8}")
    print(f"total {doc['total_per_s']} requests/s; connection errors {doc['conn_errors']} {doc['error_kinds'] or ''}; "
          f"5xx {doc['5xx']}; other statuses {doc['unexpected'] or 'none'}; server alive at the end: "
          f"{doc['server_alive_at_end']}; tracebacks in its log: {doc['server_tracebacks']}")
    after = doc["after_ramp"]
    print("p99 ms after the ramp (every client running): "
          + ", ".join(f"{k} {v['p99_ms']}" for k, v in after.items()))
    print("CDS Hooks p50/p99 ms by 10 s of the run: "
          + ", ".join(f"{w['from_s']}s {w['p50_ms']}/{w['p99_ms']}" for w in doc["cds_by_10s"]))
    r = doc["register"]
    print(f"register verify: exit {r['verify_exit']} ({r['audit_entries']} audit entries; first bad record: "
          f"{r['first_bad_record']}); acknowledged cases {r['acknowledged']}, missing {r['missing_count']}")
    print("OK" if doc["ok"] else "NOT OK")


if __name__ == "__main__":
    sys.exit(main())
