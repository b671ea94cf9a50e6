"""`cpe serve`: the web pages, JSON API and CDS Hooks services over HTTP (FastAPI + uvicorn)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from engine.cli.common import PoliciesOpt, app


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port"),
    policies: Optional[Path] = PoliciesOpt,
) -> None:
    """Start the service: web pages at /, the API under /api, CDS Hooks at /cds-services, OpenAPI at /docs."""
    import uvicorn  # here, not at the top: every other command starts faster without it

    from engine.service.app import create_app

    application = create_app(policies)
    application.state.suite.attributes  # fail now (exit 2) on a broken policies folder, not per request
    import signal

    if hasattr(signal, "SIGPIPE"):  # a client that disconnects mid-response is the server's to handle, never fatal
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    uvicorn.run(application, host=host, port=port, log_level="info")
