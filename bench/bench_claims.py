"""CPU of the claim-tracking stage per article, and the claims index size per 100k articles.

    .venv/bin/python bench/bench_claims.py [--articles N] [--copies C] [--stage]

Texts: PolNeAR dev articles from ../shared (or WIREWATCH_SHARED, read at run time), else
the seed article. Each is annotated once (real extraction); the stream is then N articles
made from them: every text appears as C copies from different outlets (syndication), and
each round of copies renames its speakers, so distinct claims keep growing with N as they
would on the wire. Figures, each beside its same-run baseline:

- CPU per article of ``ClaimTracker.observe`` (process CPU time), against the enrichment
  of the same articles (``Annotator``, the stage before it): the ratio is what tracking
  adds to the per-article cost;
- the claims index size per 100k articles as the JSON bytes of the claim documents
  (``TrackedClaim.document()``), against the articles index documents of the same stream
  (``pipeline.index.documents.to_document``); source JSON, not the node's on-disk store
  (which compresses it, for both alike);
- ``--stage``: the same stream through the worker's claims stage state as the worker runs
  it (``ClaimState`` over a bytes table, a flush per batch of 200 statements messages):
  its CPU per article, the changelog bytes it writes per 100k articles and the table's
  size and largest value at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.claims.tracker import ClaimTracker
from pipeline.enrich import enrich
from pipeline.enrich.annotate import Annotator
from pipeline.evaluation import shared_dir
from pipeline.index.documents import to_document
from pipeline.records import Article, DedupedArticle, EnrichedArticle, StoryRef

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def load_texts() -> tuple[list[str], str]:
    dev = shared_dir() / "data" / "polnear" / "dev" / "text"
    if dev.is_dir():
        paths = sorted(dev.glob("*.txt"))
        return [p.read_text(encoding="utf-8") for p in paths], f"PolNeAR dev ({dev})"
    seed = shared_dir() / "fixtures" / "seed" / "article.txt"
    return [seed.read_text(encoding="utf-8")], f"the seed article ({seed})"


def article(i: int, text: str) -> Article:
    url = f"https://bench.example/{i}"
    return Article(
        id=f"base-{i}",
        url=url,
        normalized_url=url,
        feed_url=url,
        domain="bench.example",
        title=f"base {i}",
        text=text,
        published_at=T0,
    )


def stream(base: list[EnrichedArticle], n: int, copies: int) -> list[EnrichedArticle]:
    out = []
    k = 0
    while len(out) < n:
        round_ = k // (len(base) * copies)
        record = base[(k // copies) % len(base)]
        copy = k % copies
        claims = [
            c.model_copy(update={"speaker": f"{c.speaker} {round_}"}) if c.speaker else c
            for c in record.claims
        ]
        a = record.article.model_copy(
            update={
                "id": f"a{k}",
                "outlet": f"outlet-{copy}",
                "published_at": T0 + timedelta(minutes=k),
            }
        )
        out.append(record.model_copy(update={"article": a, "claims": claims}))
        k += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--stage", action="store_true", help="also run the claims stage state")
    args = parser.parse_args()

    texts, where = load_texts()
    annotator = Annotator()
    deduped = [
        DedupedArticle(
            article=article(i, t),
            story=StoryRef(cluster_id=str(i), canonical_id=str(i), match="new"),
        )
        for i, t in enumerate(texts)
    ]
    enrich(deduped[:2], annotator)  # warm-up
    started = time.process_time()
    base = enrich(deduped, annotator)
    enrich_cpu = (time.process_time() - started) / len(base)

    records = stream(base, args.articles, args.copies)
    tracker = ClaimTracker()
    started, wall = time.process_time(), time.perf_counter()
    changes = 0
    for i, record in enumerate(records, 1):
        changes += len(tracker.observe(record))
        if i % 1000 == 0:
            print(f"  {i}/{len(records)} articles tracked", file=sys.stderr)
    track_cpu = (time.process_time() - started) / len(records)
    track_wall = (time.perf_counter() - wall) / len(records)

    claims = tracker.claims()
    claim_bytes = sum(len(json.dumps(c.document(), separators=(",", ":"))) for c in claims)
    article_bytes = sum(
        len(json.dumps(to_document(r), separators=(",", ":"), default=str)) for r in records
    )
    per_100k = 100_000 / len(records)
    statements = sum(1 for r in records for c in r.claims if c.speaker)
    print(
        f"texts: {len(texts)} from {where}; stream: {len(records)} articles,"
        f" {args.copies} copies each"
    )
    print(f"statements {statements}, distinct claims {len(claims)}, changes {changes}")
    print(
        f"CPU per article: claim tracking {track_cpu * 1e3:.3f} ms (wall {track_wall * 1e3:.3f} ms)"
        f" | baseline enrichment {enrich_cpu * 1e3:.1f} ms | ratio {track_cpu / enrich_cpu:.4f}"
    )
    print(
        f"index size per 100k articles: claims {claim_bytes * per_100k / 2**20:.1f} MiB"
        f" | baseline articles {article_bytes * per_100k / 2**20:.1f} MiB"
        f" | ratio {claim_bytes / article_bytes:.3f}"
    )
    if args.stage:
        bench_stage(records, enrich_cpu, per_100k)


class CountingTable(dict[bytes, bytes]):
    """A bytes table that counts what a changelog would carry."""

    written = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.written += len(key) + len(value)
        super().__setitem__(key, value)


def bench_stage(records: list[EnrichedArticle], enrich_cpu: float, per_100k: float) -> None:
    from pipeline.claims.state import ClaimState, statements_of

    table = CountingTable()
    state = ClaimState(table, max_claims=10**7, window=timedelta(days=3650))
    started = time.process_time()
    for offset, record in enumerate(records):
        message = statements_of(record)
        if message is not None:
            state.observe(message, offset=offset)
        if offset % 200 == 199:
            state.evict()
            state.flush()
    state.evict()
    state.flush()
    cpu = (time.process_time() - started) / len(records)
    size = sum(len(k) + len(v) for k, v in table.items())
    print(
        f"claims stage state: CPU per article {cpu * 1e3:.3f} ms (ratio to enrichment"
        f" {cpu / enrich_cpu:.4f}; one partition keeps up with {1 / cpu:,.0f} articles/s)"
        f" | changelog {table.written * per_100k / 2**20:.1f} MiB per 100k articles"
        f" | table {size / 2**20:.1f} MiB for {len(state)} claims,"
        f" largest value {max(len(v) for v in table.values()) / 1024:.1f} KiB"
    )


if __name__ == "__main__":
    main()
