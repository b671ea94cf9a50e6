"""The real server (`cpe serve`, a subprocess on a free loopback port) under faults, with bounded
load: clients that hang up mid-response, SIGTERM with requests in flight, SIGKILL while cases
are being written (SQLite and PostgreSQL), and malformed input of every kind, which gets a 4xx
and never a 5xx or a dead server."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.register_db import db_url  # noqa: F401

TOKEN = "officer-token-0123456789"
TOKENS = f"ifr_officer:ann:{TOKEN}"
PATIENT = {"age": 30, "bmi": 24.5, "smoker": False, "implant_rupture": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(workers: int = 2, env: dict[str, str] | None = None,
                   stop: bool = True) -> Iterator[str]:
    """`cpe serve` on a free port until the block ends (then SIGTERM, and it must exit 0)."""
    port = free_port()
    cpe = Path(sys.executable).parent / "cpe"
    log = tempfile.TemporaryFile("w+")  # not a pipe: a full pipe would stall the server's logging
    proc = subprocess.Popen([str(cpe), "serve", "--port", str(port), "--workers", str(workers)], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            assert proc.poll() is None, _read(log)
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("cpe serve did not answer /health")
        running_server.proc = proc  # type: ignore[attr-defined]
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM if stop else signal.SIGKILL)
        proc.wait(timeout=60)
        out = _read(log)
        if stop:
            # uvicorn shuts down gracefully, then ends by the signal it caught (or 0 as supervisor)
            assert proc.returncode in (0, -signal.SIGTERM), out
            assert "Application shutdown complete" in out and "Traceback" not in out, out


def _read(log) -> str:  # noqa: ANN001
    log.seek(0)
    return log.read()


def _hang_up(url: str, request: bytes) -> None:
    """Send a request and reset the connection before (or while) the answer comes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a small window: the server must write on
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        s.settimeout(5)
        s.connect((host, int(port)))
        s.sendall(request)
        with contextlib.suppress(OSError):
            s.recv(512)  # the first bytes of the answer, then hang up mid-response


@pytest.mark.parametrize("workers", [1, 2])
def test_clients_hanging_up_mid_response_do_not_kill_the_server(workers):
    """50 clients for a few seconds, each asking for large answers and resetting the connection
    part-way; the server keeps serving (with SIGPIPE at its default, the first EPIPE killed it)."""
    with running_server(workers=workers) as url:
        big = [b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n",
               b"GET /policies HTTP/1.1\r\nHost: x\r\n\r\n",
               b"GET /medicines?q=a HTTP/1.1\r\nHost: x\r\n\r\n"]
        errors: list[BaseException] = []
        deadline = time.monotonic() + 3

        def client(i: int) -> None:
            try:
                while time.monotonic() < deadline:
                    _hang_up(url, big[i % len(big)])
            except OSError:
                pass  # refused or reset at our end: the check is whether the server survives
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert running_server.proc.poll() is None  # type: ignore[attr-defined]
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(20):  # every worker still answers
                assert c.get("/health").status_code == 200
            r = c.post("/api/policies/breast-implant-removal/evaluate", json=PATIENT)
            assert r.status_code == 200 and r.json()["outcome"] == "eligible"


def test_sigterm_lets_the_request_in_flight_finish():
    """A request whose body is still arriving when SIGTERM comes is answered in full; the server
    stops taking new connections, then exits 0."""
    with running_server(workers=2, stop=False) as url:
        proc = running_server.proc  # type: ignore[attr-defined]
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps(PATIENT).encode()
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(b"POST /api/policies/breast-implant-removal/evaluate HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                  + body[:5])
        time.sleep(0.5)  # the request has reached a worker
        os.killpg(proc.pid, signal.SIGTERM)
        for _ in range(100):  # new connections are refused once the workers stop listening
            try:
                httpx.get(f"{url}/health", timeout=0.5)
                time.sleep(0.1)
            except httpx.TransportError:
                break
        else:
            raise AssertionError("still accepting connections after SIGTERM")
        assert proc.poll() is None  # still finishing the request in flight
        s.sendall(body[5:])
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        s.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), answer[:300]
        assert json.loads(payload)["outcome"] == "eligible"
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)


def test_sigkill_while_writing_cases_loses_no_acknowledged_case(db_url):
    """Eight clients create cases over HTTP; the server (every worker) is killed with SIGKILL
    mid-burst. Every case acknowledged with 201 is in the register, and it verifies."""
    from engine.register.store import Register
    from engine.register.verify import verify

    Register(db_url).close()  # the schema first, so the kill lands among writes
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    env = {"CPE_DATABASE_URL": db_url, "CPE_API_TOKENS": TOKENS}
    with running_server(workers=2, env=env, stop=False) as url:
        proc = running_server.proc  # type: ignore[attr-defined]

        def client() -> None:
            with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/api/cases", json={"policy_id": "breast-implant-removal", "patient": PATIENT})
                    except httpx.TransportError:
                        return  # killed
                    assert r.status_code == 201, r.text
                    with lock:
                        acknowledged.append(r.json()["ref"])

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        while len(acknowledged) < 30:
            time.sleep(0.05)
            assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    with Register(db_url) as reg:
        refs = {c["ref"] for c in reg.list_cases()}
        assert set(acknowledged) <= refs
        assert len(refs) - len(set(acknowledged)) <= 8  # at most one committed but unacknowledged per client
        rep = verify(reg)
        assert rep.ok, rep.findings


# -- malformed input ---------------------------------------------------------------------------
def _bodies() -> dict[str, bytes]:
    import gzip

    return {
        "empty": b"",
        "deep arrays": b"[" * 200_000 + b"]" * 200_000,
        "deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "huge exponent": b'{"age": 1e999999}',
        "huge integer": b'{"age": ' + b"9" * 50_000 + b"}",
        "NaN": b'{"age": NaN}',
        "binary": bytes(range(256)) * 64,
        "invalid UTF-8": b'{"age": "\xff\xfe\xfd"}',
        "NUL bytes": b'{"age\x00": 30}',
        "gzip bomb": gzip.compress(b"[" * 2_000_000),
        "many keys": json.dumps({f"k{i}": i for i in range(100_000)}).encode(),
        "long string": json.dumps({"age": "x" * 4_000_000}).encode(),
        "tags": json.dumps({"age": "<script>alert(1)</script>", "<img src=x onerror=alert(1)>": 1}).encode(),
        "not an object": b'"just a string"',
        "too large": b"[" + b"1," * 3_000_000 + b"1]",
        "form garbage": b"age=%ZZ&bmi=\xff&&&=&" * 1000,
    }


POSTS = ["/api/policies/breast-implant-removal/evaluate", "/cds-services/formulary-order-select",
         "/cds-services/formulary-order-sign/feedback", "/api/cases", "/eligibility/breast-implant-removal",
         "/eligibility/breast-implant-removal/letter", "/medicines/{entry}"]


def test_malformed_input_of_every_kind_gets_a_4xx_never_a_5xx(tmp_path):
    from engine.service.medicines import index

    entry = index().entries[0]["id"]
    env = {"CPE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}", "CPE_API_TOKENS": TOKENS}
    with running_server(workers=1, env=env) as url:
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            seen: dict[str, int] = {}
            for name, body in _bodies().items():
                for path in POSTS:
                    for ctype in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
                        headers = {"content-type": ctype}
                        if name == "gzip bomb":
                            headers["content-encoding"] = "gzip"
                        r = c.post(path.format(entry=entry), content=body, headers=headers)
                        seen[f"{name} → {path} ({ctype})"] = r.status_code
                        page = path.startswith(("/eligibility", "/medicines"))  # may re-show the form
                        assert r.status_code < 500 and (page or r.status_code >= 400), \
                            (name, path, ctype, r.status_code, r.text[:300])
                        assert "Traceback" not in r.text
                        if "html" in r.headers.get("content-type", ""):  # JSON may quote it; a page must escape it
                            assert "<script>alert(1)</script>" not in r.text
            assert not [k for k, v in seen.items() if v >= 500]
            for q in ("<script>alert(1)</script>", "\x00", "%", "a" * 8_000, "\xff\u202e"):
                for path in ("/medicines", "/api/medicines", "/medicines/results"):
                    r = c.get(path, params={"q": q, "indication": q})
                    assert r.status_code < 500, (path, q[:20], r.status_code)
                    if "html" in r.headers.get("content-type", ""):
                        assert "<script>alert(1)</script>" not in r.text
            for path in ("/assets/../../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd", "/api/policies/%00",
                         "/eligibility/" + "x" * 10_000, "/policies/../../etc/passwd/x"):
                r = c.get(path)
                assert 400 <= r.status_code < 500 and "root:" not in r.text, (path, r.status_code)
            assert c.get("/health").status_code == 200
        _raw_garbage(url)
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200


def _raw_garbage(url: str) -> None:
    """Not HTTP at all, or HTTP broken at the framing: the server refuses or hangs up, and lives."""
    host, port = url.removeprefix("http://").split(":")
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),  # a TLS hello
                 b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 200_000 + b"\r\n\r\n",
                 b"POST /api/policies/x/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /api/policies/x/evaluate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
                 b"\x00" * 4096, b"GET /\xff\xfe HTTP/1.1\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            with contextlib.suppress(OSError):
                s.sendall(junk)
                answer = s.recv(4096)
                if answer.startswith(b"HTTP/1."):
                    status = int(answer.split()[1])
                    assert status < 500, (junk[:40], answer[:200])


@pytest.mark.parametrize("command", ["policies", "report formulary"])
def test_a_command_piped_into_a_closed_reader_ends_quietly(command):
    """`cpe … | true`: the reader is gone before cpe writes; SIGPIPE at its default action ends cpe
    quietly, as cat would (without it: a BrokenPipeError and exit 1)."""
    cpe = Path(sys.executable).parent / "cpe"
    out = subprocess.run(f"'{cpe}' {command} | true; echo \"${{PIPESTATUS[0]}}\"", shell=True, executable="/bin/bash",
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stderr == "", out.stderr
    assert out.stdout.strip() in ("0", str(128 + signal.SIGPIPE))


def _ignores_sigpipe(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGPIPE - 1)))
    raise AssertionError("no SigIgn line")


@pytest.mark.parametrize("workers", [1, 2])
def test_the_server_ignores_sigpipe_even_when_its_output_is_a_pipe(workers):
    """The original fault: `cpe serve` with stdout into a pipe (a log collector) restored the
    default SIGPIPE action, so one client hanging up at the wrong moment killed the server."""
    port = free_port()
    cpe = Path(sys.executable).parent / "cpe"
    proc = subprocess.Popen([str(cpe), "serve", "--port", str(port), "--workers", str(workers)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        pids = [proc.pid] + [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(pids) >= (1 if workers == 1 else 1 + workers)  # the supervisor, its workers (and a resource tracker)
        assert all(_ignores_sigpipe(pid) for pid in pids), pids
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
