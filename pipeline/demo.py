"""The embedded demo: a local HTTP server for the bundled sample feeds and pages.

``wirewatch run`` and the tests serve ``pipeline/data/sample`` with it. Text files may say
``{base}`` wherever they need the server's own address; it is substituted when served, so
the same files work on any port. Responses carry an ETag and Last-Modified and answer
conditional GETs with 304, like a well-behaved news site.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from pipeline.poll.registry import FeedSpec

SAMPLE_DIR = Path(__file__).resolve().parent / "data" / "sample"
_TEXT_SUFFIXES = {".xml", ".atom", ".rss", ".html", ".htm", ".yaml", ".json", ".txt", ".opml"}
_TYPES = {".atom": "application/atom+xml", ".xml": "application/rss+xml", ".yaml": "text/yaml"}
_STARTED = formatdate(usegmt=True)


def _handler(root: Path, base: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            rel = unquote(urlsplit(self.path).path).lstrip("/")
            target = (root / rel).resolve()
            if target.is_dir():
                target = target / "index.html"
            if root not in target.parents or not target.is_file():
                self._send(404, b"not found\n", "text/plain")
                return
            body = target.read_bytes()
            if target.suffix in _TEXT_SUFFIXES:
                body = body.replace(b"{base}", base[0].encode())
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", None, etag)
                return
            content_type = _TYPES.get(target.suffix) or (
                mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            )
            if content_type.startswith("text/") or content_type.endswith("xml"):
                content_type += "; charset=utf-8"
            self._send(200, body, content_type, etag)

        def _send(self, status: int, body: bytes, content_type: str | None, etag: str = "") -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", _STARTED)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def serve_directory(path: Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``path`` on 127.0.0.1 in a daemon thread: ``(server, base_url)``.

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    base: list[str] = [""]
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(Path(path).resolve(), base))
    server.daemon_threads = True
    base[0] = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="demo-http", daemon=True).start()
    return server, base[0]


def sample_feeds(base_url: str, directory: Path = SAMPLE_DIR) -> list[FeedSpec]:
    """The sample registry with ``{base}`` replaced by the serving address."""
    text = (directory / "feeds.yaml").read_text(encoding="utf-8").replace("{base}", base_url)
    doc = yaml.safe_load(text) or {}
    return [FeedSpec.model_validate(item) for item in doc.get("feeds", [])]
