"""Where blocking work runs, so the event loop only moves bytes; and how much of it runs at once.

One worker process runs Python on one core (the GIL), so threads add no speed to CPU work, only
waiting: with anyio's default of 40 threads, 40 requests shared the core, each took 40 times as
long, and the event loop got the GIL one turn in 41, so even finished answers waited to be sent.
So each lane has a few threads and the rest of its requests queue, first come first served,
without holding the GIL:

- `on_cds`: CDS Hooks calls (the caller's JWT, the cards), in a lane of their own (CPE_CDS_THREADS):
  a prescriber's order is never queued behind page renders and look-ups (the CDS Hooks guidance
  asks for an answer within a few hundred milliseconds). While any CDS call waits or runs, the
  other lane is narrowed to one thread, so the calls get most of the core; it widens again when
  none is left;
- `on_cpu`: every other decision, look-up and page, on anyio's default limiter (CPE_CPU_THREADS),
  which FastAPI's plain `def` endpoints also use;
- `on_writer`: the register's writes, in a pool of their own (CPE_REGISTER_WRITERS): they wait on
  the database's write lock, and a burst of them must not take the threads of the read-only calls.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.concurrency import run_in_threadpool

from engine.settings import setting

T = TypeVar("T")
_WRITERS: ThreadPoolExecutor | None = None


def _writers() -> ThreadPoolExecutor:
    global _WRITERS
    if _WRITERS is None:  # one per process (each uvicorn worker makes its own)
        _WRITERS = ThreadPoolExecutor(max_workers=int(setting("register_writers")),
                                      thread_name_prefix="cpe-register-write")
    return _WRITERS


def bound_cpu_threads() -> None:
    """At most CPE_CPU_THREADS of this worker's other requests compute at once (anyio's default
    limiter: FastAPI's plain `def` endpoints and on_cpu). Called at a worker's start."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = int(setting("cpu_threads"))


async def on_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


class _CdsLane:
    """The CDS lane of one event loop: its threads, the calls waiting or running in it, and the
    other lane's width before the first of them narrowed it."""

    def __init__(self) -> None:
        self.threads = anyio.CapacityLimiter(int(setting("cds_threads")))
        self.calls = 0
        self.others_width = 0


_CDS_LANE: RunVar[_CdsLane] = RunVar("cpe_cds_lane")


def _cds_lane() -> _CdsLane:
    try:
        return _CDS_LANE.get()
    except LookupError:
        _CDS_LANE.set(_CdsLane())
        return _CDS_LANE.get()


async def on_cds(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    lane, others = _cds_lane(), anyio.to_thread.current_default_thread_limiter()
    lane.calls += 1
    if lane.calls == 1:   # the first CDS call: the other lane takes no new thread beyond one
        lane.others_width, others.total_tokens = int(others.total_tokens), 1
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=lane.threads)
    finally:
        lane.calls -= 1
        if lane.calls == 0:   # the last one answered: the other lane widens again (its waiters start at once)
            others.total_tokens = lane.others_width


async def on_writer(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_writers(), functools.partial(fn, *args, **kwargs))
