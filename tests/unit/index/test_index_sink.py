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
from pipeline.index.documents import to_document
from pipeline.index.sink import BulkSink, SinkError, SinkUnavailableError
from pipeline.settings import Settings


def _meta(status: int) -> ApiResponseMeta:
    node = NodeConfig("http", "127.0.0.1", 9200)
    return ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, node)


class ScriptedClient:
    """Answers bulk() from a script: each entry is an exception or a status per item."""

    def __init__(self, script: list[Any], stories: dict[str, dict] | None = None) -> None:
        self.script = script
        self.bulks: list[list[dict]] = []
        self.indices = self
        self.stories = stories or {}  # stories-index documents mget answers with
        self.refreshed: list[str] = []
        self.searches: list[dict] = []
        self.found: list[list[dict]] = []  # hits of each search, then none

    async def mget(self, index: str, ids: list[str], source: list[str]) -> dict:
        docs = []
        for id_ in ids:
            found = id_ in self.stories
            docs.append({"_id": id_, "found": found, "_source": self.stories.get(id_)})
        return {"docs": docs}

    async def refresh(self, index: str) -> dict:
        self.refreshed.append(index)
        return {}

    async def search(self, **request: Any) -> dict:
        self.searches.append(request)
        return {"hits": {"hits": self.found.pop(0) if self.found else []}}

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
                {
                    "index": {
                        "_index": action["index"].get("_index"),
                        "_id": action["index"]["_id"],
                        "status": status,
                        "error": error,
                    }
                }
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


def _moved(record: Any, canonical: str) -> Any:
    story = record.story.model_copy(update={"canonical_id": canonical})
    return record.model_copy(update={"story": story})


def _hit(record: Any, seq_no: int = 4) -> dict:
    source = json.loads(json.dumps(to_document(record)))
    return {
        "_index": "wirewatch-articles-000001",
        "_id": record.article.id,
        "_seq_no": seq_no,
        "_primary_term": 1,
        "_source": source,
    }


def test_a_copy_that_took_the_canonical_over_re_points_its_story() -> None:
    # copy 2 of story 5 was published first but arrived last: it is the story's canonical
    late = samples.enriched(9, cluster=5, copy=2)
    late = _moved(late, late.article.id)
    client = ScriptedClient([], stories={"c00000005": {"canonical_id": late.article.id}})
    old = [samples.enriched(c, cluster=5, copy=c) for c in range(2)]
    client.found = [[_hit(r) for r in old]]
    sink, _ = _sink(client)
    asyncio.run(sink.write([late, samples.enriched(3, cluster=6, copy=1)]))
    assert client.refreshed == ["wirewatch-articles"]  # the copies just written are found
    [clause] = client.searches[0]["query"]["bool"]["should"]
    assert clause["bool"]["filter"] == [{"term": {"story.cluster_id": "c00000005"}}]
    assert clause["bool"]["must_not"] == [{"term": {"story.canonical_id": late.article.id}}]
    rewrite = client.bulks[1]
    assert [a["index"]["_id"] for a in rewrite[0::2]] == [r.article.id for r in old]
    assert all(a["index"]["if_seq_no"] == 4 for a in rewrite[0::2])  # guarded rewrites
    assert all(a["index"]["_index"] == "wirewatch-articles-000001" for a in rewrite[0::2])
    stories = [d["story"] for d in rewrite[1::2]]
    assert stories[0]["canonical_id"] == late.article.id and not stories[0]["is_canonical"]
    assert rewrite[1]["title"] == to_document(old[0])["title"]  # the rest is kept


def test_an_older_view_losing_its_story_write_reads_the_canonical_back() -> None:
    newer = "f" * 40
    stale = samples.enriched(1, cluster=7, copy=1)  # still names copy 0 as canonical

    def conflict(n: int, action: dict) -> int:
        return 409 if "version" in action["index"] else 201

    client = ScriptedClient([conflict], stories={"c00000007": {"canonical_id": newer}})
    client.found = [[_hit(stale)]]
    sink, _ = _sink(client)
    result = asyncio.run(sink.write([stale]))
    assert result.indexed == [stale.article.id] and result.stale_extras == [
        ("wirewatch-stories", "c00000007")
    ]
    [clause] = client.searches[0]["query"]["bool"]["should"]
    assert clause["bool"]["must_not"] == [{"term": {"story.canonical_id": newer}}]
    assert client.bulks[1][1]["story"]["canonical_id"] == newer


def test_a_copy_rewritten_meanwhile_is_read_again() -> None:
    late = _moved(samples.enriched(2, cluster=4, copy=2), "d" * 40)
    late = _moved(late, late.article.id)
    old = samples.enriched(0, cluster=4, copy=0)

    def first_rewrite_conflicts(n: int, action: dict) -> int:
        return 409

    client = ScriptedClient(["ok", first_rewrite_conflicts])
    client.found = [[_hit(old, seq_no=4)], [_hit(old, seq_no=7)]]
    sink, _ = _sink(client)
    asyncio.run(sink.write([late]))
    assert len(client.searches) == 2
    assert client.bulks[2][0]["index"]["if_seq_no"] == 7


def test_copies_in_one_batch_carry_the_newest_canonical_and_plain_batches_re_point_nothing() -> (
    None
):
    client = ScriptedClient([])
    sink, _ = _sink(client)
    old = samples.enriched(1, cluster=8, copy=1)
    new = _moved(samples.enriched(2, cluster=8, copy=2), "e" * 40)
    asyncio.run(sink.write([old, new]))
    docs = client.bulks[0][1::2]
    assert [d["story"]["canonical_id"] for d in docs[:2]] == ["e" * 40, "e" * 40]
    assert client.searches == []  # nobody took over here: the newer view is just written
    asyncio.run(sink.write([samples.enriched(n, cluster=n, copy=0) for n in range(3)]))
    assert client.searches == [] and client.refreshed == []
