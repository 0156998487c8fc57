"""A tiny Maven repository on loopback for download tests (counts its requests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRepo:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # path below the repository root -> body
        self.requests: list[str] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        repo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                repo.requests.append(self.path)
                body = repo.files.get(self.path.removeprefix("/maven2/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def serve(repo: FakeRepo) -> Iterator[str]:
    """Serve ``repo`` and yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), repo.handler())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/maven2"
    finally:
        server.shutdown()
        server.server_close()
