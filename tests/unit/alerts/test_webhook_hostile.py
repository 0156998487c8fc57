"""Hostile webhook receivers: a drip, a bomb, unusable URLs, and a URL that is a secret."""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import httpx
import pytest

from pipeline.alerts.delivery import RetryPolicy, WebhookRequest, deliver
from pipeline.fetch.guard import AddressPolicy, guarded_transport


async def _no_sleep(_: float) -> None:
    return None


def _bomb() -> bytes:
    obj = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return b"".join(obj.compress(b"\0" * 1024 * 1024) for _ in range(64)) + obj.flush()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bomb = b""

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            if self.path.startswith("/drip"):  # headers a byte at a time
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)  # the receiver being slow is the point
                return
            if self.path.startswith("/slow-body"):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
                return
            body = gzip.compress(self.bomb) if self.path.startswith("/gzip-gzip") else self.bomb
            self.send_response(200)
            self.send_header(
                "Content-Encoding", "gzip, gzip" if "gzip-gzip" in self.path else "gzip"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            return


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    Receiver.bomb = _bomb()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _deliver(url: str, policy: RetryPolicy) -> tuple[object, float]:
    async def run():
        transport = guarded_transport(AddressPolicy("127.0.0.0/8"))
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            return await deliver(client, WebhookRequest(url, b"{}", {}), policy, _no_sleep)

    started = time.monotonic()
    outcome = asyncio.run(run())
    return outcome, time.monotonic() - started


@pytest.mark.parametrize("path", ["/drip", "/slow-body"])
def test_a_dripping_receiver_is_bounded_per_attempt_as_a_whole(receiver: str, path: str) -> None:
    outcome, took = _deliver(receiver + path, RetryPolicy(attempts=2, timeout_s=0.5))
    if path == "/slow-body":  # the status arrived in time; the body is never waited for
        assert outcome.delivered and took < 1.0
        return
    assert not outcome.delivered and outcome.attempts == 2
    assert outcome.error == "timeout: no answer within 0.5s"
    assert took < 2.0  # two attempts of 0.5 s, not 8 s of dripped headers each


@pytest.mark.parametrize("path", ["/gzip", "/gzip-gzip"])
def test_a_compressed_bomb_answer_is_never_decoded(receiver: str, path: str) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome, _ = _deliver(receiver + path, RetryPolicy(attempts=1, timeout_s=5))
    assert outcome.delivered and outcome.status == 200
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024  # KiB


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "UnsupportedProtocol"),
        ("ftp://example.com/hook", "UnsupportedProtocol"),
        ("http://0177.0.0.1/hook", "InvalidURL"),
        ("http://[::1/hook", "InvalidURL"),
        ("http://xn--/hook", "IDNAError"),
        ("http://１２７.0.0.1/hook", "InvalidURL"),
    ],
)
def test_unusable_urls_fail_once_as_permanent(url: str, why: str) -> None:
    outcome, _ = _deliver(url, RetryPolicy(attempts=5, timeout_s=1))
    assert not outcome.delivered and outcome.attempts == 1
    assert outcome.error.startswith(f"invalid webhook URL: {why}"), outcome.error


def test_the_webhook_url_never_reaches_the_log(
    receiver: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # even when the root logger is verbose
    secret = "/services/T000/B000/XXXXSECRETXXXX"
    outcome, _ = _deliver(receiver + "/gzip" + secret, RetryPolicy(attempts=1, timeout_s=5))
    assert outcome.delivered
    assert "SECRET" not in caplog.text
