"""The register under stress, on SQLite and PostgreSQL: a writer killed with SIGKILL in the middle
of a burst loses no committed case and leaves the chain valid; concurrent writers (processes
and threads, starting on an empty database) keep one unbroken chain and unique case numbers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from engine.register.store import Register
from engine.register.verify import verify
from tests.conftest import ROOT
from tests.register_db import db_url  # noqa: F401

WRITER = """
import sys
from engine.register.store import Register
from engine.language.suite import Suite
reg = Register(sys.argv[1], suite=Suite())
for i in range(int(sys.argv[2])):
    out = reg.new_case("breast-implant-removal", {"age": 20 + i % 50, "implant_rupture": i % 2 == 0},
                       actor=sys.argv[3])
    print(out["ref"], flush=True)          # printed only once committed
    if i % 2:
        reg.transition(out["ref"], "screen", actor=sys.argv[3])
"""


def _writer(url: str, n: int, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, url, str(n), name], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_kill_9_mid_burst_loses_no_committed_case(db_url, suite):
    """Three rounds on one database, each killed after a different number of commits, so the
    kill lands at different points of a write; each restart must find the register whole."""
    Register(db_url, suite=suite).close()  # schema first, so the kill lands among writes
    committed: list[str] = []
    for round_, after in enumerate((12, 5, 9)):
        p = _writer(db_url, 100_000, f"burst-{round_}")
        got = []
        try:
            for line in p.stdout:
                got.append(line.strip())
                if len(got) >= after:
                    break
        finally:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=60)
        assert p.returncode == -signal.SIGKILL, p.stderr.read()
        assert len(got) == after, p.stderr.read()
        committed += got + p.stdout.read().split()  # printed before the kill but not read yet
        with Register(db_url, suite=suite) as reg:
            refs = {c["ref"] for c in reg.list_cases()}
            assert set(committed) <= refs
            assert len(refs - set(committed)) <= round_ + 1  # per round, at most one committed unprinted
            rep = verify(reg)
            assert rep.ok, rep.findings
    with Register(db_url, suite=suite) as reg:  # and it takes writes again: no stale lock, no half row
        new = reg.new_case("breast-implant-removal", {"age": 40}, actor="after")["ref"]
        reg.transition(new, "screen", actor="after")
        assert verify(reg).ok


def test_concurrent_writers_keep_one_chain(db_url, suite):
    procs = [_writer(db_url, 5, f"proc-{i}") for i in range(3)]  # all start on an empty database
    errors: list[BaseException] = []

    def thread_writer(reg: Register, name: str) -> None:
        try:
            for i in range(4):
                ref = reg.new_case("hip-arthroscopy", {"age": 30 + i}, actor=name)["ref"]
                reg.transition(ref, "withdraw", actor=name)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with Register(db_url, suite=suite) as reg:
        outs = [procs[0].stdout.readline().strip()]  # the processes are writing: now the threads join in
        threads = [threading.Thread(target=thread_writer, args=(reg, f"thread-{i}")) for i in range(3)]
        for t in threads:
            t.start()
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            outs += out.split()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        cases = reg.list_cases()
        assert len(outs) == 15 and set(outs) <= {c["ref"] for c in cases}
        assert len(cases) == 15 + 12
        assert [c["ref"] for c in cases] == [f"IFR-{n:06d}" for n in range(1, 28)]
        assert sum(c["state"] == "closed" for c in cases) == 12
        rep = verify(reg)
        assert rep.ok, rep.findings
        signals = reg.signals()  # more than five requests for one intervention: one signal each
        assert sorted(x["policy_id"] for x in signals) == ["breast-implant-removal", "hip-arthroscopy"]
        assert rep.entries == 27 + 12 + 6 + 2  # each case, withdrawal, screening and signal
