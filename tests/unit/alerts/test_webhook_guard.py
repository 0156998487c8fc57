"""Webhook URLs come from rule authors: internal addresses are refused like feed URLs."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pipeline.alerts.delivery import RetryPolicy, WebhookRequest, deliver
from pipeline.fetch.guard import AddressPolicy, guarded_transport


async def _no_sleep(_: float) -> None:
    return None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
    ],
)
def test_internal_webhook_is_refused_once_without_retries(url: str) -> None:
    async def run():
        transport = guarded_transport(AddressPolicy(""))
        async with httpx.AsyncClient(transport=transport) as client:
            return await deliver(
                client, WebhookRequest(url, b"{}", {}), RetryPolicy(attempts=5), _no_sleep
            )

    outcome = asyncio.run(run())
    assert not outcome.delivered
    assert outcome.attempts == 1  # a policy refusal is final, not a passing fault
    assert "refused to connect" in (outcome.error or "")


def test_allowed_network_is_reached() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    try:

        async def run():
            transport = guarded_transport(AddressPolicy("127.0.0.0/8"))
            async with httpx.AsyncClient(transport=transport) as client:
                url = f"http://127.0.0.1:{server.server_address[1]}/hook"
                return await deliver(client, WebhookRequest(url, b"{}", {}), sleep=_no_sleep)

        outcome = asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.delivered and outcome.status == 204
