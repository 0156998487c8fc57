"""Hostile feeds, pages and webhook receivers through the real poller and delivery code.

One loopback server process serves a corpus of attacks (issue 12): entity expansion in
several encodings, decompression bombs, endless and dripping bodies, millions of tiny
chunks, oversized and deeply nested JSON Feeds, pages that stall lxml, unusable links,
and webhook receivers that drip, flood or never answer. Each input runs in a fresh
child process (so peak RSS is per input) through ``Poller.run_once`` or
``alerts.delivery.deliver``, beside a benign baseline measured the same way in the same
run. Printed per input: the outcome, wall time, the poller process's peak RSS and the
peak of its parsing/extraction workers.

Floors (exit 1 when broken): the poller process stays under 300 MiB, and no input holds a
poll cycle longer than one fetch deadline plus one extraction timeout (a webhook delivery:
its attempts times the per-attempt bound, plus the backoff).

    .venv/bin/python bench/bench_hostile.py [--fetch-timeout 4] [--extract-timeout 4]
        [--only NAME] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RSS_FLOOR_MIB = 300
GIB = 1024**3
PARA = "<p>" + "An ordinary sentence of a news article about the economy and politics. " * 6


def _page(n: int) -> bytes:
    """A benign article; each one distinct (trafilatura drops paragraphs it has seen)."""
    return (
        f"<html lang='en'><head><title>Page {n}</title></head><body><article><h1>Page {n}</h1>"
        + "".join(f"<p>Page {n}, paragraph {i}: {PARA[3:]}</p>" for i in range(10))
        + "</article></body></html>"
    ).encode()


PAGE = _page(-1)


def _attrs(count: int) -> str:
    return " ".join(f'a{i}="x"' for i in range(count))


def _zeros_gzip(mib: int) -> bytes:
    obj = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * 1024 * 1024
    return b"".join(obj.compress(block) for _ in range(mib)) + obj.flush()


def _rss(items: str, title: str = "Feed") -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}'
        "</channel></rss>"
    ).encode()


def _item(i: int, link: str) -> str:
    return f"<item><title>Item {i}</title><link>{link}</link><description>s{i}</description></item>"


def _quadratic(encoding: str) -> bytes:
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<!DOCTYPE rss [<!ENTITY a "{"A" * 100_000}">]>\n'
        '<rss version="2.0"><channel><title>' + "&a;" * 10_000 + "</title></channel></rss>"
    )
    return doc.encode(encoding)


def _json_feed(items: Any, **extra: Any) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items, **extra}
    ).encode()


# --- the server ---------------------------------------------------------------------


def _routes(base: str) -> dict[str, tuple[str, Any]]:
    """path -> (kind, payload); kinds: body (content type, bytes, extra headers),
    stream (declared length or None), drip, tiny, redirect, hang."""
    billion = _rss("").replace(
        b'<rss version="2.0">',
        b'<!DOCTYPE rss [<!ENTITY l "lol"><!ENTITY l1 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">'
        b'<!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;">]><rss version="2.0">',
    )
    many = _rss("".join(_item(i, f"http://e.example/{i}") for i in range(90_000)))
    good_items = "".join(_item(i, f"{base}/page/{i}") for i in range(5))
    rss = "application/rss+xml"
    html = "text/html; charset=utf-8"
    routes: dict[str, tuple[str, Any]] = {
        "/good.xml": ("body", (rss, _rss(good_items), {})),
        "/billion.xml": ("body", (rss, billion, {})),
        "/robots.txt": ("body", ("text/plain", b"User-agent: *\nAllow: /\n", {})),
        "/gzip-gzip.xml": ("body", (rss, gzip.compress(_zeros_gzip(64), 9), {"gzip, gzip": 1})),
        "/gzip-bomb.xml": ("body", (rss, _zeros_gzip(256), {"gzip": 1})),
        "/endless.xml": ("stream", None),
        "/declared-gib.xml": ("stream", GIB),
        "/drip.xml": ("drip", None),
        "/tiny-chunks.xml": ("tiny", None),
        "/90k-items.xml": ("body", (rss, many, {})),
        "/json-deep.json": (
            "body",
            (
                "application/feed+json",
                _json_feed([])[:-1] + b', "_x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                {},
            ),
        ),
        "/json-types.json": (
            "body",
            (
                "application/feed+json",
                _json_feed(
                    [
                        {"id": "1", "title": 5},
                        17,
                        {"id": "2", "content_html": ["x"]},
                        {"id": "3", "url": f"{base}/page/0", "authors": 3},
                        {"id": "4", "url": f"{base}/page/1", "title": "valid"},
                    ]
                ),
                {},
            ),
        ),
        "/json-items-17.json": ("body", ("application/feed+json", _json_feed(17), {})),
        "/json-20k-items.json": (
            "body",
            (
                "application/feed+json",
                _json_feed([{"id": str(i), "url": f"http://e.example/{i}"} for i in range(20_000)]),
                {},
            ),
        ),
        "/json-attrs-title.json": (
            "body",
            (
                "application/feed+json",
                _json_feed(
                    [{"id": "1", "url": f"{base}/page/0", "title": f"<b {_attrs(40_000)}>"}]
                ),
                {},
            ),
        ),
        "/page/attrs-40k": (
            "body",
            (html, f"<html><body><div {_attrs(40_000)}>x</div>{PAGE.decode()}".encode(), {}),
        ),
        "/page/attrs-80k": (
            "body",
            (html, f"<html><body><div {_attrs(80_000)}>x</div>{PAGE.decode()}".encode(), {}),
        ),
        "/page/plain-9mb": (
            "body",
            (
                html,
                b"<html><body><article>" + (PARA + "</p>").encode() * 18_000 + b"</article>",
                {},
            ),
        ),
        "/page/gzip-bomb": ("body", (html, _zeros_gzip(256), {"gzip": 1})),
        "/page/drip": ("drip", None),
        "/page/endless": ("stream", None),
        "/page/to-javascript": ("redirect", "javascript:alert(1)"),
        "/hook/ok": ("body", ("application/json", b"{}", {})),
        "/hook/drip": ("drip", None),
        "/hook/flood": ("stream", None),
        "/hook/gzip-bomb": ("body", ("application/json", _zeros_gzip(256), {"gzip": 1})),
        "/hook/hang": ("hang", None),
        "/hook/to-file": ("redirect", "file:///etc/passwd"),
    }
    for encoding in ("utf-8", "utf-16", "cp037", "utf-7"):
        routes[f"/quadratic-{encoding}.xml"] = ("body", (rss, _quadratic(encoding), {}))
    for i in range(5):
        routes[f"/page/{i}"] = ("body", (html, _page(i), {}))
    return routes


def _serve(port_out: Any, stop: Any) -> None:
    routes: dict[str, tuple[str, Any]] = {}
    chunk = b"<!-- padding -->" * 4096

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _head(self, status: int, ctype: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self.do_GET()

        def do_GET(self) -> None:
            kind, payload = routes.get(self.path, ("missing", None))
            if self.path.startswith("/feed-for/"):  # a benign page and the named one
                page = self.path.removeprefix("/feed-for/")
                items = _item(0, f"{base}/page/0") + _item(1, f"{base}/page/{page}")
                kind, payload = "body", ("application/rss+xml", _rss(items), {})
            try:
                if kind == "body":
                    ctype, body, extra = payload
                    coding = next(iter(extra), None)
                    headers = {"Content-Length": str(len(body))}
                    if coding:
                        headers["Content-Encoding"] = coding
                    self._head(200, ctype, **headers)
                    self.wfile.write(body)
                elif kind == "stream":
                    if payload is None:
                        self._head(200, "text/html", **{"Transfer-Encoding": "chunked"})
                    else:
                        self._head(200, "text/html", **{"Content-Length": str(payload)})
                    for _ in range(GIB // len(chunk)):
                        if payload is None:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                elif kind == "drip":
                    self._head(200, "text/html", **{"Content-Length": "100000"})
                    for _ in range(100_000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)  # the receiver being slow is the point
                elif kind == "tiny":
                    self._head(200, "application/rss+xml", **{"Transfer-Encoding": "chunked"})
                    self.wfile.write(b"1\r\nx\r\n" * 3_000_000 + b"0\r\n\r\n")
                elif kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", payload)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "hang":
                    time.sleep(3600)
                else:
                    self._head(404, "text/plain", **{"Content-Length": "0"})
            except OSError:  # the client hung up: what we want
                return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    routes.update(_routes(base))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port_out.put(base)
    stop.wait()
    server.shutdown()


# --- one input, in its own process --------------------------------------------------


def _worker_peak_mib(pids: list[int]) -> float:
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


class _Sink:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]:
        self.items.extend(items)
        return [key for key, _ in items], {}

    def close(self) -> None:
        pass


def _poll_one(url: str, cfg: dict[str, float], out: Any) -> None:
    import asyncio

    from pipeline.poll.poller import Poller
    from pipeline.poll.registry import FeedSpec
    from pipeline.poll.state import StateStore
    from pipeline.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    settings = Settings(
        home=home,
        fetch_allow_networks="127.0.0.0/8",
        fetch_timeout_s=cfg["fetch_timeout"],
        extract_timeout_s=cfg["extract_timeout"],
        poll_per_host_concurrency=8,
        poll_per_host_spacing_s=0,
    )
    sink = _Sink()
    poller = Poller(
        settings, [FeedSpec(url=url)], state=StateStore(home / "state.sqlite3"), sink=sink
    )

    async def go() -> tuple[Any, float, float]:
        try:
            # a running poller's workers are up: start them (and the forkserver) first
            warm = [poller.sandbox.run(time.sleep, 0.1) for _ in range(settings.extract_workers)]
            await asyncio.gather(*warm)
            started = time.monotonic()
            report = await poller.run_once()
            wall = time.monotonic() - started
            pids = [w.process.pid for w in poller.sandbox._all if w.process.pid]
            return report, wall, _worker_peak_mib(pids)
        finally:
            await poller.aclose()

    report, wall, workers = asyncio.run(go())
    outcome = report.outcomes[0]
    notes = sorted(
        {json.loads(p)["text_note"] for _, p in sink.items if json.loads(p)["text_note"]}
    )
    what = outcome.error or f"{outcome.outcome}, {len(sink.items)} articles"
    if notes:
        what += "; " + " | ".join(notes)
    if report.rejected:
        what += f"; {len(report.rejected)} rejected: {report.rejected[0][1]}"
    out.put(
        {
            "wall_s": wall,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_mib": workers,
            "result": what,
        }
    )


def _deliver_one(url: str, cfg: dict[str, float], out: Any) -> None:
    import asyncio

    import httpx

    from pipeline.alerts.delivery import RetryPolicy, WebhookRequest, deliver
    from pipeline.fetch.guard import AddressPolicy, guarded_transport

    policy = RetryPolicy(attempts=2, base_delay_s=0.1, max_delay_s=0.2, timeout_s=3.0)

    async def go() -> tuple[Any, float]:
        client = httpx.AsyncClient(
            transport=guarded_transport(AddressPolicy("127.0.0.0/8"), 4),
            trust_env=False,
            follow_redirects=False,
        )
        try:
            started = time.monotonic()
            request = WebhookRequest(url, b'{"alert": 1}', {"Content-Type": "application/json"})
            outcome = await deliver(client, request, policy)
            return outcome, time.monotonic() - started
        finally:
            await client.aclose()

    outcome, wall = asyncio.run(go())
    result = "delivered" if outcome.delivered else f"failed after {outcome.attempts}: "
    out.put(
        {
            "wall_s": wall,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "workers_mib": 0.0,
            "result": result + (outcome.error or ""),
            "budget_s": policy.attempts * policy.timeout_s + policy.max_delay_s,
        }
    )


def _run(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    try:
        result: dict[str, Any] = out.get(timeout=600)
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    return result


def _inputs(base: str) -> list[tuple[str, str, str]]:
    """(name, kind, url): kind is feed, page (an item of an otherwise benign feed) or hook."""
    feeds = [
        "billion.xml",
        "quadratic-utf-8.xml",
        "quadratic-utf-16.xml",
        "quadratic-cp037.xml",
        "quadratic-utf-7.xml",
        "gzip-gzip.xml",
        "gzip-bomb.xml",
        "endless.xml",
        "declared-gib.xml",
        "drip.xml",
        "tiny-chunks.xml",
        "90k-items.xml",
        "json-deep.json",
        "json-types.json",
        "json-items-17.json",
        "json-20k-items.json",
        "json-attrs-title.json",
    ]
    pages = [
        "attrs-40k",
        "attrs-80k",
        "plain-9mb",
        "gzip-bomb",
        "drip",
        "endless",
        "to-javascript",
    ]
    hooks = ["drip", "flood", "gzip-bomb", "hang", "to-file"]
    rows = [("benign feed", "feed", f"{base}/good.xml")]
    rows += [(name, "feed", f"{base}/{name}") for name in feeds]
    rows += [(f"page {name}", "page", f"{base}/page/{name}") for name in pages]
    rows += [("benign webhook", "hook", f"{base}/hook/ok")]
    rows += [(f"webhook {name}", "hook", f"{base}/hook/{name}") for name in hooks]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetch-timeout", type=float, default=4.0)
    parser.add_argument("--extract-timeout", type=float, default=4.0)
    parser.add_argument("--only", help="run only inputs whose name contains this")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    cfg = {"fetch_timeout": args.fetch_timeout, "extract_timeout": args.extract_timeout}
    cycle_budget = args.fetch_timeout + args.extract_timeout

    ctx = mp.get_context("spawn")
    port_out, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_out, stop), daemon=True)
    server.start()
    base = port_out.get(timeout=120)
    results: list[dict[str, Any]] = []
    try:
        for name, kind, url in _inputs(base):
            if args.only and args.only not in name:
                continue
            if kind == "page":  # one hostile item beside a benign one, in a feed of its own
                url = url.replace("/page/", "/feed-for/")
            row = _run(_deliver_one if kind == "hook" else _poll_one, url, cfg)
            row.update(name=name, kind=kind)
            row.setdefault("budget_s", cycle_budget)
            row["ok"] = row["rss_mib"] < RSS_FLOOR_MIB and row["wall_s"] <= row["budget_s"]
            results.append(row)
            if not args.json:
                print(
                    f"{name:24} {row['wall_s']:6.2f}s (budget {row['budget_s']:4.1f}) "
                    f"poller {row['rss_mib']:6.1f} MiB  workers {row['workers_mib']:6.1f} MiB "
                    f"{'ok ' if row['ok'] else 'FAIL'} {row['result'][:150]}",
                    flush=True,
                )
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.kill()
    if args.json:
        print(json.dumps(results, indent=2))
    failed = [r["name"] for r in results if not r["ok"]]
    baseline = next((r for r in results if r["name"] == "benign feed"), None)
    if baseline and not args.json:
        worst = max(results, key=lambda r: r["rss_mib"])
        print(
            f"\nbenign feed: {baseline['wall_s']:.2f}s, {baseline['rss_mib']:.1f} MiB; "
            f"highest poller peak: {worst['name']} {worst['rss_mib']:.1f} MiB "
            f"(floor {RSS_FLOOR_MIB} MiB); cycle budget {cycle_budget:g}s"
        )
    if failed:
        print(f"floors broken by: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
