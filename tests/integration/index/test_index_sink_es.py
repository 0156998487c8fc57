"""BulkSink against the real node: idempotent ids, rejections, stories, rollover, outages."""

from __future__ import annotations

import asyncio
import threading

import pytest
from elasticsearch import AsyncElasticsearch, Elasticsearch

from pipeline.index import samples
from pipeline.index.setup import rollover
from pipeline.index.sink import BulkSink, SinkResult, SinkUnavailableError
from pipeline.index.templates import Names
from pipeline.records import EnrichedArticle
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def write(settings: Settings, records: list[EnrichedArticle], **kwargs: object) -> SinkResult:
    async def run() -> SinkResult:
        client = AsyncElasticsearch(settings.es_url, request_timeout=10, max_retries=0)
        try:
            return await BulkSink(client, settings, **kwargs).write(records)  # type: ignore[arg-type]
        finally:
            await client.close()

    return asyncio.run(run())


def count(es: Elasticsearch, index: str, **query: object) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query=query or {"match_all": {}})["count"]


def test_rewriting_the_same_articles_never_duplicates(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    # 20 stories x 3 copies, written twice in different orders and batch sizes.
    records = [samples.enriched(s * 3 + c, cluster=s, copy=c) for s in range(20) for c in range(3)]
    first = write(es_settings, records)
    second = write(es_settings.model_copy(update={"es_bulk_max_docs": 7}), records[::-1])
    assert len(first.indexed) == len(second.indexed) == 60
    assert first.rejected == second.rejected == []
    assert count(es, installed.alias) == 60
    assert count(es, installed.alias, term={"story.cluster_id": "c00000004"}) == 3


def test_story_documents_keep_the_newest_count_whatever_the_order(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    copies = [samples.enriched(c, cluster=9, copy=c) for c in range(4)]
    # The copy that saw 4 copies lands first; older views must not overwrite it.
    write(es_settings, [copies[3]])
    write(es_settings, [copies[0]])
    write(es_settings, [copies[2], copies[1]])
    story = es.get(index=installed.stories, id="c00000009")["_source"]
    assert story["size"] == 4 and story["outlet_count"] == 4
    assert story["latest_id"] == copies[3].article.id


def test_refused_documents_come_back_with_the_reason(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    good = samples.enriched(1)
    # A keyword term over Lucene's 32 KB limit: Elasticsearch refuses this one document.
    bad = samples.enriched(2, outlet="x" * 40_000)
    result = write(es_settings, [good, bad])
    assert result.indexed == [good.article.id]
    [(record, reason)] = result.rejected
    assert record.article.id == bad.article.id
    assert "HTTP 400" in reason and "immense" in reason.lower()
    assert count(es, installed.alias) == 1


def test_replay_across_a_rollover_keeps_one_copy(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    before = [samples.enriched(n) for n in range(10)]
    write(es_settings, before)
    es.indices.refresh(index=installed.alias)
    new_index = rollover(es, es_settings)
    after = [samples.enriched(n) for n in range(5, 15)]  # 5 old ids, 5 new
    result = write(es_settings, after)
    assert len(result.indexed) == 10
    assert count(es, installed.alias) == 15
    assert count(es, new_index) == 5  # only the new ids went to the new write index


def test_pushback_stalls_the_writer_until_the_node_accepts_again(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    # The flood-stage disk block is how a full node pushes back: every write gets a 429.
    # (Stopping the node for 30 s mid-run is the worker's fault test, tests/integration/worker.)
    block = {"index.blocks.read_only_allow_delete": True}
    es.indices.put_settings(index=installed.first_index, settings=block)
    records = [samples.enriched(n) for n in range(300)]
    outcome: dict[str, SinkResult] = {}
    writer = threading.Thread(target=lambda: outcome.setdefault("r", write(es_settings, records)))
    writer.start()
    try:
        writer.join(timeout=3)
        assert writer.is_alive(), "the sink must wait for the node, not give up"
        assert count(es, installed.alias) == 0
    finally:
        es.indices.put_settings(
            index=installed.first_index, settings={"index.blocks.read_only_allow_delete": None}
        )
    writer.join(timeout=60)
    assert not writer.is_alive()
    result = outcome["r"]
    assert len(result.indexed) == 300 and result.rejected == [] and result.retries >= 1
    assert count(es, installed.alias) == 300


def test_unreachable_node_raises_after_the_deadline_without_indexing(
    es_settings: Settings,
) -> None:
    # A real refused connection (nothing listens on that port), not a mock.
    from pipeline.stack.process import free_port

    dead = es_settings.model_copy(
        update={"es_url": f"http://127.0.0.1:{free_port()}", "es_retry_timeout_s": 1.5}
    )
    with pytest.raises(SinkUnavailableError, match="3 documents not indexed"):
        write(dead, [samples.enriched(n) for n in range(3)])


def test_a_copy_taking_the_canonical_over_re_points_the_indexed_copies(
    es: Elasticsearch, installed: Names, es_settings: Settings
) -> None:
    """The dedup stage moves a story's canonical when an earlier-published copy arrives
    late; copies indexed before name the old one until the sink re-points them, and an
    older view indexed afterwards (another partition, a redelivery) must not undo it."""
    first, second = (samples.enriched(c, cluster=3, copy=c) for c in range(2))
    late = samples.enriched(2, cluster=3, copy=2)
    late_story = late.story.model_copy(update={"canonical_id": late.article.id})
    late = late.model_copy(update={"story": late_story})
    write(es_settings, [first, second])
    write(es_settings, [late])

    def copies() -> dict[str, tuple[str, bool]]:
        es.indices.refresh(index=installed.alias)
        hits = es.search(
            index=installed.alias, query={"term": {"story.cluster_id": "c00000003"}}, size=10
        )["hits"]["hits"]
        return {
            h["_id"]: (h["_source"]["story"]["canonical_id"], h["_source"]["story"]["is_canonical"])
            for h in hits
        }

    expected = {
        first.article.id: (late.article.id, False),
        second.article.id: (late.article.id, False),
        late.article.id: (late.article.id, True),
    }
    assert copies() == expected
    story = es.get(index=installed.stories, id="c00000003")["_source"]
    assert story["canonical_id"] == late.article.id
    write(es_settings, [second])  # redelivered with the view it had before the move
    assert copies() == expected
