"""Where blocking work runs, so the event loop only moves bytes.

CPU work (deciding, CDS Hooks cards) goes to anyio's worker threads (`on_cpu`). The register's
writes go to a small pool of their own (`on_writer`): they wait on the database's write lock,
and a burst of them must not take every worker thread from the read-only calls.
"""
from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

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


async def on_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


async def on_writer(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_writers(), functools.partial(fn, *args, **kwargs))
