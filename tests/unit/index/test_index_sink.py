"""BulkSink logic against a scripted stand-in for the client (the real node is in
tests/integration/index): batching, per-item outcomes, retries, deadlines."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError

from pipeline.index import samples
from pipeline.index.sink import BulkSink, SinkError, SinkUnavailableError
from pipeline.settings import Settings


def _meta(status: int) -> ApiResponseMeta:
    node = NodeConfig("http", "127.0.0.1", 9200)
    return ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, node)


class ScriptedClient:
    """Answers bulk() from a script: each entry is an exception or a status per item."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.bulks: list[list[dict]] = []
        self.indices = self

    async def get_alias(self, name: str) -> dict:
        return {f"{name}-000001": {}}

    async def bulk(self, operations: list[bytes], refresh: bool) -> dict:
        lines = [json.loads(line) for line in operations]
        self.bulks.append(lines)
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, Exception):
            raise step
        actions = lines[0::2]
        items = []
        for n, action in enumerate(actions):
            status = 201 if step == "ok" else step(n, action)
            status, kind = status if isinstance(status, tuple) else (status, "x_exception")
            error = None if status < 300 else {"type": kind, "reason": f"status {status}"}
            items.append(
                {"index": {"_id": action["index"]["_id"], "status": status, "error": error}}
            )
        return {"errors": any(i["index"]["status"] >= 300 for i in items), "items": items}


def _sink(client: ScriptedClient, **settings: Any) -> tuple[BulkSink, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    # model_copy skips validation: these tests drive the sink with extreme values (1 byte, 0 s).
    sink = BulkSink(client, Settings().model_copy(update=settings), sleep=sleep)  # type: ignore[arg-type]
    return sink, slept


def test_batches_are_bounded_and_every_record_is_accounted_for() -> None:
    client = ScriptedClient([])
    sink, _ = _sink(client, es_bulk_max_docs=3)
    records = [samples.enriched(n) for n in range(7)]
    result = asyncio.run(sink.write(records))
    assert result.indexed == [r.article.id for r in records]
    article_ops = [[a for a in b[0::2] if "require_alias" in a["index"]] for b in client.bulks]
    assert [len(ops) for ops in article_ops] == [3, 3, 1]


def test_byte_bound_splits_batches() -> None:
    client = ScriptedClient([])
    sink, _ = _sink(client, es_bulk_max_bytes=1)  # every document alone
    asyncio.run(sink.write([samples.enriched(n) for n in range(3)]))
    assert len(client.bulks) == 3


def test_rejected_items_come_back_with_reason_and_429_items_are_retried() -> None:
    def statuses(n: int, action: dict) -> int:
        if "version" in action["index"]:  # story upsert
            return 201
        return {0: 201, 1: 400, 2: 429}[n]

    client = ScriptedClient([statuses, "ok"])
    sink, slept = _sink(client)
    records = [samples.enriched(n) for n in range(3)]
    result = asyncio.run(sink.write(records))
    assert result.indexed == [records[0].article.id, records[2].article.id]
    assert [(r.article.id, "HTTP 400 x_exception" in why) for r, why in result.rejected] == [
        (records[1].article.id, True)
    ]
    assert result.retries == 1 and len(slept) == 1
    assert [a["index"]["_id"] for a in client.bulks[1][0::2]] == [records[2].article.id]


def test_connection_errors_and_503_are_retried_with_growing_backoff() -> None:
    down = TransportConnectionError("refused")
    busy = ApiError("unavailable", _meta(503), {"error": "busy"})
    client = ScriptedClient([down, busy, down, "ok"])
    sink, slept = _sink(client)
    result = asyncio.run(sink.write([samples.enriched(1)]))
    assert len(result.indexed) == 1 and result.retries == 3
    assert len(slept) == 3 and max(slept) <= 10.0


def test_gives_up_after_the_deadline_without_acknowledging() -> None:
    client = ScriptedClient([TransportConnectionError("refused")] * 1000)
    sink, _ = _sink(client, es_retry_timeout_s=0.0)
    with pytest.raises(SinkUnavailableError, match="1 documents not indexed"):
        asyncio.run(sink.write([samples.enriched(1)]))


def test_missing_alias_raises_instead_of_rejecting_everything() -> None:
    def missing(n: int, action: dict) -> tuple[int, str]:
        return 404, "index_not_found_exception"

    sink, _ = _sink(ScriptedClient([missing]))
    with pytest.raises(SinkError, match="wirewatch setup"):
        asyncio.run(sink.write([samples.enriched(1)]))


def test_forbidden_raises() -> None:
    sink, _ = _sink(ScriptedClient([ApiError("forbidden", _meta(403), {})]))
    with pytest.raises(SinkError, match="403"):
        asyncio.run(sink.write([samples.enriched(1)]))


def test_story_upserts_carry_the_newest_count_once_per_cluster() -> None:
    client = ScriptedClient([])
    sink, _ = _sink(client)
    copies = [samples.enriched(n, cluster=5, copy=n) for n in (0, 2, 1)]
    asyncio.run(sink.write(copies))
    stories = [a for a in client.bulks[0][0::2] if "version" in a["index"]]
    assert stories == [
        {
            "index": {
                "_index": "wirewatch-stories",
                "_id": "c00000005",
                "version": 3,
                "version_type": "external_gte",
            }
        }
    ]


def test_versioned_documents_carry_their_version_and_a_conflict_is_unchanged() -> None:
    from pipeline.claims.tracker import track
    from pipeline.index.claims import bulk_docs
    from pipeline.index.sink import BulkWriter

    claims = track([samples.enriched(1), samples.enriched(2)]).claims()
    docs = bulk_docs(claims)
    assert [d.version for d in docs] == [c.revision for c in claims]

    def statuses(n: int, action: dict) -> int:
        assert action["index"]["version_type"] == "external"
        return 201 if n == 0 else 409  # the second: this revision is there already

    client = ScriptedClient([statuses])
    writer = BulkWriter(client, "claims", retry_timeout_s=1.0)  # type: ignore[arg-type]
    result = asyncio.run(writer.write(docs[:2]))
    assert result.indexed == [docs[0].id] and result.unchanged == [docs[1].id]
    assert result.rejected == []
    (bulk,) = client.bulks
    assert [a["index"]["version"] for a in bulk[0::2]] == [d.version for d in docs[:2]]
