"""A FHIR server (or any JSON server) on loopback, started by a test: real HTTP, no mocks.

    with LoopbackServer({"/Patient/1": patient}) as srv:
        srv.url  # http://127.0.0.1:PORT
        srv.requests  # [(method, path with query, headers)]
"""
from __future__ import annotations

import json
import threading
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
