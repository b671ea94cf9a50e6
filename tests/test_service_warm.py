"""A worker of `cpe serve` is ready before its first request, and CPU work runs in bounded lanes
(engine/service/warm.py, engine/service/pools.py). Why, with the figures: docs/performance.md."""
from __future__ import annotations

import threading

import anyio
import anyio.from_thread
import pytest
from fastapi.testclient import TestClient

from engine.service import pages
from engine.service.app import serving_app
from engine.service.pools import bound_cpu_threads, on_cds, on_cpu


def _run(main) -> None:  # noqa: ANN001
    """anyio.run in a thread of its own (a browser test's sync Playwright may hold this thread's loop)."""
    with anyio.from_thread.start_blocking_portal() as portal:
        portal.call(main)


def _compiled(name: str) -> bool:
    return any(key[1] == name for key in pages.environment().cache.keys())


def test_the_lifespan_opens_the_register_and_compiles_the_pages_before_any_request(tmp_path, monkeypatch):
    monkeypatch.setenv("CPE_DATABASE_URL", f"sqlite:///{tmp_path}/register.sqlite3")
    pages.environment().cache.clear()
    app = serving_app()
    assert getattr(app.state, "register", None) is None and not _compiled("medicines.html")
    with TestClient(app) as client:   # runs the lifespan, as uvicorn does before a worker listens
        assert app.state.register is not None
        assert (tmp_path / "register.sqlite3").exists()
        assert _compiled("medicines.html") and _compiled("policies.html")
        assert client.get("/medicines", params={"q": "agomelatine"}).status_code == 200


def test_a_register_that_cannot_be_opened_does_not_stop_the_service_from_starting(monkeypatch, caplog):
    # nothing listens on port 1: the warm-up's register fails, is logged, and is left to the first request
    monkeypatch.setenv("CPE_DATABASE_URL", "postgresql+psycopg://cpe:cpe@127.0.0.1:1/none?connect_timeout=2")
    app = serving_app()
    with caplog.at_level("WARNING", logger="cpe.serve"), TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/api/medicines", params={"q": "agomelatine"}).status_code == 200
    assert any("warm-up: register not prepared" in r.getMessage() for r in caplog.records)


def test_a_cds_call_is_answered_while_every_other_thread_is_busy(monkeypatch):
    """The CDS lane is a bulkhead: with the other lane full and a request queued behind it, a CDS
    call still runs; and the other lane runs no more than CPE_CPU_THREADS at once."""
    monkeypatch.setenv("CPE_CPU_THREADS", "1")
    monkeypatch.setenv("CPE_CDS_THREADS", "1")
    release = threading.Event()
    started: list[str] = []

    def busy(name: str) -> str:
        started.append(name)
        release.wait(timeout=60)
        return name

    async def main() -> None:
        bound_cpu_threads()
        async with anyio.create_task_group() as tg:
            try:
                tg.start_soon(on_cpu, busy, "first")
                for _ in range(500):   # wait (bounded) for the first to hold the lane's one thread
                    if started:
                        break
                    await anyio.sleep(0.01)
                tg.start_soon(on_cpu, busy, "second")
                assert await on_cds(lambda: "cards") == "cards"
                for _ in range(20):    # give the second every chance to start wrongly
                    await anyio.sleep(0.01)
                assert started == ["first"], "the second ran beside the first: the lane is not bounded"
            finally:
                release.set()
        assert started == ["first", "second"]

    _run(main)


@pytest.mark.parametrize("name", ["CPE_CPU_THREADS", "CPE_CDS_THREADS"])
def test_the_lanes_take_their_size_from_settings(monkeypatch, name):
    from engine.settings import setting

    monkeypatch.setenv(name, "3")
    assert setting(name.removeprefix("CPE_").lower()) == 3
    monkeypatch.setenv(name, "0")
    with pytest.raises(Exception, match=name.removeprefix("CPE_").lower() + "|" + name):
        setting(name.removeprefix("CPE_").lower())


def test_while_a_cds_call_waits_or_runs_the_other_lane_narrows_to_one_thread(monkeypatch):
    monkeypatch.setenv("CPE_CPU_THREADS", "3")

    async def main() -> None:
        bound_cpu_threads()
        others = anyio.to_thread.current_default_thread_limiter()
        assert others.total_tokens == 3
        assert await on_cds(lambda: others.total_tokens) == 1
        assert others.total_tokens == 3   # widened again once no CDS call is left

    _run(main)
