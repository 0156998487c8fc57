"""All of feedparser's 2,107 test feeds through the poller over loopback HTTP.

Each file is served with the headers its manifest states. Every feed must come out with an
outcome (no crash, no hang: pytest-timeout bounds the run), ill-formed ones with
feedparser's reason recorded in the feed state, and every entry accounted for.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import pytest
from corpus_server import load_manifest, serve_corpus

from pipeline.poll.poller import Poller, PollReport
from pipeline.poll.registry import FeedSpec
from pipeline.poll.state import StateStore
from pipeline.settings import Settings

SHARED = Path(
    os.environ.get("WIREWATCH_SHARED", Path(__file__).resolve().parents[3].parent / "shared")
)
CORPUS = SHARED / "data" / "feeds" / "feedparser"

pytestmark = [
    pytest.mark.quality,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent"),
    pytest.mark.timeout(180),
]


class CountingSink:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]:
        self.keys.extend(key for key, _ in items)
        return [key for key, _ in items], {}

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        pass


def test_every_corpus_feed_passes_through_the_poller(tmp_path: Path) -> None:
    manifest = load_manifest(CORPUS)
    assert len(manifest) == 2107
    server, base = serve_corpus(CORPUS, manifest)
    settings = Settings(
        home=tmp_path,
        fetch_allow_networks="127.0.0.0/8",
        fetch_pages=False,  # the parse stage is under test; entries link to example.com
        poll_concurrency=32,
        poll_per_host_concurrency=32,
        poll_per_host_spacing_s=0,
    )
    sink = CountingSink()
    state = StateStore(tmp_path / "state.sqlite3")
    poller = Poller(
        settings,
        [FeedSpec(url=f"{base}/{item['path']}") for item in manifest],
        state=state,
        sink=sink,
    )

    async def poll_once() -> PollReport:
        try:
            return await poller.run_once()
        finally:
            await poller.aclose()

    try:
        report = asyncio.run(poll_once())
    finally:
        server.shutdown()
        server.server_close()

    by_url = {o.url: o for o in report.outcomes}
    assert len(by_url) == len(manifest)
    outcomes = Counter(o.outcome for o in report.outcomes)
    assert set(outcomes) <= {"new", "no-new", "refused", "failed"}, outcomes
    assert not [o for o in report.outcomes if o.error and "internal error" in o.error]

    # The two refusals declare entities: an external parameter entity (a W3C entity set),
    # refused as XXE, and feedparser's own test of a 16-character internal entity, refused
    # because only one-character entities cannot amplify (issue 12.1), each with its reason.
    refused = {url.removeprefix(base + "/"): o.error for url, o in by_url.items() if o.error}
    assert refused == {
        "tests/wellformed/rdf/doctype_contains_entity_decl.xml": (
            "refused: external parameter entity 'HTMLlat1' (XXE)"
        ),
        "tests/wellformed/rss/entity_in_doctype.xml": (
            "refused: entity 'id' stands for 16 characters (entity expansion attack; "
            "at most 1 allowed)"
        ),
    }

    states = state.feeds()
    for item in manifest:
        outcome = by_url[f"{base}/{item['path']}"]
        if item["expect_bozo"] is True:
            # feedparser flags it: the reason is on the outcome and in the feed's state
            assert outcome.bozo_reason or outcome.error, item["path"]
            if outcome.bozo_reason:
                assert states[outcome.url].bozo_reason == outcome.bozo_reason
        if item["expect_bozo"] is False:
            assert not outcome.malformed, (item["path"], outcome.bozo_reason)
    assert sum(1 for o in report.outcomes if o.malformed) >= 10

    # Every entry is accounted for: sent once, or rejected with a reason.
    assert report.pending == 0 and report.send_failures == {}
    assert len(sink.keys) == len(set(sink.keys)) == report.articles_queued > 0
    assert all(reason for _, reason in report.rejected)
