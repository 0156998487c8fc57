"""A loopback server that misbehaves in every way the poller must survive."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GIB = 1024**3
CHUNK = b"<!-- padding -->" * 4096  # 64 KiB

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<rss version="2.0"><channel><title>x</title>
<item><title>&xxe;</title><link>http://example.com/x</link></item></channel></rss>"""


def _zeros_gzip(mib: int) -> bytes:
    obj, block = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16), b"\0" * 1024 * 1024
    return b"".join(obj.compress(block) for _ in range(mib)) + obj.flush()


#: 1.8 KB that decodes through two gzip layers to 64 MiB (the issue's reproducer grew 2 GiB)
GZIP_GZIP = gzip.compress(_zeros_gzip(64), 9)
#: one layer: 256 MiB of zeros in ~1 MB
GZIP_BOMB = _zeros_gzip(256)
#: 3 million one-byte chunks (chunked transfer encoding), pre-built so the server is fast
TINY_CHUNKS = b"1\r\nx\r\n" * 3_000_000 + b"0\r\n\r\n"


class HostileServer:
    def __init__(self) -> None:
        self.bytes_sent: dict[str, int] = {}
        self.good_feed = b""
        self.pages: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.robots_redirect: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _simple(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _type(self) -> str:
                # "?p" marks the page variant of a hostile URL
                return "text/html" if self.path.endswith("?p") else "application/rss+xml"

            def _stream(self, declared: int | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", self._type())
                if declared is not None:
                    self.send_header("Content-Length", str(declared))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                try:
                    while sent < GIB:
                        if declared is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                        else:
                            self.wfile.write(CHUNK)
                        sent += len(CHUNK)
                        owner.bytes_sent[self.path] = sent
                except OSError:  # the client hung up: what we want
                    return

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/good.xml":
                    self._simple(200, owner.good_feed, Content_Type="application/rss+xml")
                elif path in owner.pages:
                    self._simple(200, owner.pages[path], Content_Type="text/html; charset=utf-8")
                elif path == "/billion.xml":
                    self._simple(200, BILLION_LAUGHS, Content_Type="application/rss+xml")
                elif path == "/xxe.xml":
                    self._simple(200, XXE, Content_Type="application/rss+xml")
                elif path == "/huge-declared":
                    self._stream(GIB)
                elif path == "/huge-chunked":
                    self._stream(None)
                elif path == "/drip":
                    self.send_response(200)
                    self.send_header("Content-Type", self._type())
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(100000):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)  # the server being slow is the point
                    except OSError:
                        return
                elif path in ("/gzip-gzip", "/gzip-bomb", "/deflate-gzip"):
                    body = GZIP_BOMB if path == "/gzip-bomb" else GZIP_GZIP
                    coding = {"/gzip-gzip": "gzip, gzip", "/deflate-gzip": "deflate,gzip"}
                    try:
                        self._simple(
                            200,
                            body,
                            Content_Type=self._type(),
                            Content_Encoding=coding.get(path, "gzip"),
                        )
                    except OSError:
                        return
                elif path == "/tiny-chunks":
                    self.send_response(200)
                    self.send_header("Content-Type", self._type())
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    try:
                        self.wfile.write(TINY_CHUNKS)
                    except OSError:
                        return
                elif path == "/loop-a":
                    self._simple(302, Location="/loop-b")
                elif path == "/loop-b":
                    self._simple(301, Location="/loop-a")
                elif path in owner.redirects:
                    self._simple(302, Location=owner.redirects[path])
                elif path == "/image.xml":
                    self._simple(200, b"\x89PNG....", Content_Type="image/png")
                elif path == "/robots.txt" and owner.robots_redirect:
                    self._simple(302, Location=owner.robots_redirect)
                elif path == "/robots.txt":
                    self._simple(
                        200, b"User-agent: *\nDisallow: /private/\n", Content_Type="text/plain"
                    )
                else:
                    self._simple(404, b"not found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
