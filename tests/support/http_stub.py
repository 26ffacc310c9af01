"""Tiny HTTP servers on loopback for the registry behaviours the real registry cannot show (ECR's 403
bodies, a paginated referrers API, a Bearer token service): started per test, stopped after it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class StubServers:
    """Serves handler classes on free loopback ports; `with` stops every one of them."""

    def __init__(self) -> None:
        self._servers: list[ThreadingHTTPServer] = []

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        """Start `handler` on a free port; returns its base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def __enter__(self) -> StubServers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
