"""Poller throughput against a local server of 10,000 feeds, beside a bare async GET loop.

Most feeds (19 of 20) answer 304 to the conditional GET; the rest change on every request
(a new item each time), so the poller also parses, builds, validates and queues articles.
Both contenders send the same conditional GETs to the same URLs with the same concurrency,
each in a fresh child process (so peak RSS is per contender), against one server process.
Page fetching is off and the sink acknowledges at once: this measures polling, not Kafka.
All feeds live on one loopback host, so the per-host limit is set to the global concurrency.

    .venv/bin/python bench/bench_poll.py [--feeds 10000] [--concurrency 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

CHANGING_EVERY = 20  # feed i changes on every request when i % 20 == 0
ROUND_TIMEOUT_S = 300


def _etag(i: int, counter: int) -> bytes:
    return b'"v-%d-%d"' % (i, counter if i % CHANGING_EVERY == 0 else 0)


def _feed(i: int, counter: int) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {i}</title>'
        f"<item><title>Story {i}.{counter}</title>"
        f"<link>http://example.com/{i}/{counter}</link>"
        f"<description>Item {counter} of feed {i}.</description></item>"
        f"</channel></rss>"
    ).encode()


def _serve(port_out: mp.Queue) -> None:  # type: ignore[type-arg]
    counters: dict[int, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readline()
                if not request:
                    return
                inm = b""
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    if line[:14].lower() == b"if-none-match:":
                        inm = line[14:].strip()
                path = request.split(b" ")[1]
                i = int(path.rsplit(b"/", 1)[1].split(b".")[0])
                counter = counters.get(i, 0)
                if inm and inm == _etag(i, counter) and i % CHANGING_EVERY != 0:
                    writer.write(b"HTTP/1.1 304 Not Modified\r\nETag: %s\r\n\r\n" % inm)
                else:
                    if i % CHANGING_EVERY == 0:
                        counter = counters[i] = counter + 1
                    body = _feed(i, counter)
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        b"ETag: %s\r\nContent-Length: %d\r\n\r\n%s"
                        % (_etag(i, counter), len(body), body)
                    )
                await writer.drain()
        except (ConnectionError, ValueError, IndexError):
            return
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _urls(base: str, feeds: int) -> list[str]:
    return [f"{base}/feed/{i}.xml" for i in range(feeds)]


def _bare(base: str, feeds: int, concurrency: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import httpx

    async def main() -> tuple[float, int]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        etags: dict[str, str] = {}
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

            async def get(url: str) -> int:
                async with sem:
                    headers = {"If-None-Match": etags[url]} if url in etags else {}
                    response = await client.get(url, headers=headers)
                    if response.headers.get("etag"):
                        etags[url] = response.headers["etag"]
                    return response.status_code

            urls = _urls(base, feeds)
            await asyncio.gather(*(get(u) for u in urls))  # warm-up: learn the ETags
            started, cpu = time.perf_counter(), time.process_time()
            statuses = await asyncio.gather(*(get(u) for u in urls))
            return time.perf_counter() - started, time.process_time() - cpu, statuses.count(304)

    elapsed, cpu, not_modified = asyncio.run(main())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((elapsed, not_modified, peak, 0, cpu))


class _NullSink:
    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]:
        return [key for key, _ in items], {}

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _poller(base: str, feeds: int, concurrency: int, home: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import logging

    from pipeline.poll.poller import Poller
    from pipeline.poll.registry import FeedSpec
    from pipeline.settings import Settings

    logging.disable(logging.WARNING)
    settings = Settings(
        home=Path(home),
        fetch_allow_networks="127.0.0.0/8",
        fetch_pages=False,
        poll_concurrency=concurrency,
        poll_per_host_concurrency=concurrency,
        poll_per_host_spacing_s=0,
    )
    specs = [
        FeedSpec.model_construct(url=u, name=None, tags=[], language=None, interval=None)
        for u in _urls(base, feeds)
    ]

    async def main() -> tuple[float, float, int, int]:
        poller = Poller(settings, specs, sink=_NullSink())
        try:
            await poller.run_once()  # warm-up: first poll stores validators
            started, cpu = time.perf_counter(), time.process_time()
            report = await poller.run_once(ignore_schedule=True)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert len(report.outcomes) == feeds, report.summary()
            assert not report.errors, list(report.errors.items())[:3]
            return elapsed, cpu, report.count("not-modified"), report.articles_queued
        finally:
            await poller.aclose()

    elapsed, cpu, not_modified, queued = asyncio.run(main())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((elapsed, not_modified, peak, queued, cpu))


def _child(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    try:
        return out.get(timeout=ROUND_TIMEOUT_S)
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not 1 <= args.feeds <= 20_000:
        parser.error("--feeds must be within 1..20000")

    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=30)}"
        bare_runs, poll_runs = [], []
        for _ in range(args.rounds):  # interleaved, best of each: less noise on a shared box
            bare_runs.append(_child(_bare, base, args.feeds, args.concurrency))
            with tempfile.TemporaryDirectory() as home:
                poll_runs.append(_child(_poller, base, args.feeds, args.concurrency, home))
    finally:
        server.kill()
        server.join(timeout=10)

    bare = min(bare_runs, key=lambda r: r[0])
    poll = min(poll_runs, key=lambda r: r[0])
    bare_rate, poll_rate = args.feeds / bare[0], args.feeds / poll[0]
    ratio = poll_rate / bare_rate
    print(f"{args.feeds:,} feeds, concurrency {args.concurrency}, best of {args.rounds} rounds")
    print(f"{'':22}{'feeds/s':>10}{'304s':>8}{'peak RSS MiB':>14}{'CPU ms/feed':>13}")
    for name, run, rate in (
        ("bare httpx GET loop", bare, bare_rate),
        ("wirewatch poller", poll, poll_rate),
    ):
        cpu_ms = run[4] * 1000 / args.feeds
        print(f"{name:22}{rate:10.0f}{run[1]:8d}{run[2] / 1024:14.1f}{cpu_ms:13.2f}")
    print(
        f"poller/bare rate ratio: {ratio:.2f} (target >= 0.70); "
        f"poller queued {poll[3]} new articles in the measured cycle"
    )
    return 0 if ratio >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
