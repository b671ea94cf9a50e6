"""Servers on loopback started by tests: real HTTP, no mocks. A FHIR (or any JSON) server, and
`serving(app)`, the engine's own app under uvicorn (the browser tests' server).

    with LoopbackServer({"/Patient/1": patient}) as srv:
        srv.url  # http://127.0.0.1:PORT
        srv.requests  # [(method, path with query, headers)]
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


class LoopbackServer:
    def __init__(self, routes: dict[str, Any], status: int = 200):
        self.routes = routes      # path (no query) -> JSON body; a callable(path, query) -> (status, body)
        self.status = status
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                parts = urlsplit(self.path)
                route = outer.routes.get(unquote(parts.path))
                if callable(route):
                    status, body = route(unquote(parts.path), unquote(parts.query))
                elif route is None:
                    status, body = 404, {"resourceType": "OperationOutcome", "issue": [
                        {"severity": "error", "code": "not-found"}]}
                else:
                    status, body = outer.status, route
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/fhir+json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The real ASGI app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    import socket
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(400):
        if srv.started:
            break
        time.sleep(0.025)
    assert srv.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
