"""A loopback HTTP server for feedparser's test corpus, with each file's stated headers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def load_manifest(corpus: Path) -> list[dict[str, Any]]:
    with (corpus / "manifest.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def serve_corpus(corpus: Path, manifest: list[dict[str, Any]]) -> tuple[ThreadingHTTPServer, str]:
    headers_by_path = {"/" + m["path"]: m.get("http_headers") or {} for m in manifest}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            headers = headers_by_path.get(self.path)
            if headers is None:
                body, headers, status = b"not found", {"Content-Type": "text/plain"}, 404
            else:
                body, status = (corpus / self.path.lstrip("/")).read_bytes(), 200
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
