"""`cpe serve`: the web pages, JSON API and CDS Hooks services over HTTP (FastAPI + uvicorn).

One worker process per CPU by default (the decisions are CPU work, and one Python process uses
one core). On SIGTERM or Ctrl-C uvicorn stops accepting, lets the requests in flight finish
(up to `--graceful-timeout` seconds) and exits 0. No `server` banner is sent.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from engine.cli.common import PoliciesOpt, app
from engine.settings import export

#: The factory each worker process imports (workers cannot share an app object).
FACTORY = "engine.service.app:serving_app"


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64,
                                          help="worker processes (default: one per CPU)"),
    graceful_timeout: int = typer.Option(30, "--graceful-timeout", min=1, max=3600,
                                         help="seconds to let in-flight requests finish on SIGTERM"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Start the service: web pages at /, the API under /api, CDS Hooks at /cds-services, OpenAPI at /docs."""
    import signal

    import uvicorn  # here, not at the top: every other command starts faster without it

    from engine.service.app import serving_app

    if policies is not None:  # the workers build their own app: they find the folder here
        export("policies", str(policies.resolve()))
    application = serving_app(policies)   # the formulary built now: exit 2 at start on a broken one
    _ = application.state.suite.attributes  # fail now (exit 2) on a broken policies folder, not per request
    if hasattr(signal, "SIGPIPE"):  # a client that disconnects mid-response is the server's to handle, never fatal
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    n = workers or default_workers()
    common: dict[str, Any] = dict(host=host, port=port, log_level="info", server_header=False,
                  timeout_graceful_shutdown=graceful_timeout)
    if n == 1:
        uvicorn.run(application, **common)
    else:
        uvicorn.run(FACTORY, factory=True, workers=n, **common)
