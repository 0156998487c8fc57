import urllib.error
import urllib.request

from pipeline.poll.metrics import FEEDS, serve_health


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_healthz_readyz_and_metrics() -> None:
    kafka_up = {"value": False}
    server = serve_health(0, lambda: kafka_up["value"], host="127.0.0.1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        FEEDS.labels("not-modified").inc()
        assert _get(f"{base}/healthz") == (200, b"ok\n")
        assert _get(f"{base}/readyz") == (503, b"kafka unreachable\n")
        kafka_up["value"] = True
        assert _get(f"{base}/readyz")[0] == 200
        status, body = _get(f"{base}/metrics")
        assert status == 200
        assert b'wirewatch_poll_feeds_total{outcome="not-modified"}' in body
        assert _get(f"{base}/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
