"""Every worker table round-trips through its changelog (issue 11.1): what a table writes,
recovery reads back as the same bytes, and the stage's codec turns them into its values."""

from __future__ import annotations

from datetime import UTC, datetime

import faust
import pytest

from pipeline.alerts.engine import AlertTracker
from pipeline.dedup import Deduplicator
from pipeline.records import Alert, Article
from pipeline.settings import Settings
from pipeline.worker.app import create_app
from pipeline.worker.tables import JSON_CODEC, JSON_KEYS, CodecTable


@pytest.fixture(scope="module")
def app() -> faust.App:
    settings = Settings(
        kafka_bootstrap="10.0.0.1:9092", es_url="http://127.0.0.1:1", topic_prefix="unit."
    )
    return create_app(settings)


def test_every_table_holds_bytes_that_recovery_reads_back_unchanged(app: faust.App) -> None:
    assert set(app.tables) >= {"dedup", "alert-state", "alert-rules"}
    key, value = JSON_KEYS.encode("rule:cluster"), JSON_CODEC.encode({"seen": ["a"], "n": 1})
    for name, table in app.tables.items():
        assert (table.key_type, table.value_type) == (bytes, bytes), name
        written_key = app.serializers.dumps_key(
            table.key_type, key, serializer=table.key_serializer
        )
        written_value = app.serializers.dumps_value(
            table.value_type, value, serializer=table.value_serializer
        )
        topic = table.changelog_topic  # what recovery decodes with
        assert (
            app.serializers.loads_key(topic.key_type, written_key, serializer=topic.key_serializer)
            == key
        ), name
        assert (
            app.serializers.loads_value(
                topic.value_type, written_value, serializer=topic.value_serializer
            )
            == value
        ), name


def test_codec_table_round_trips_dedup_entries_and_alert_state() -> None:
    """A deduplicator and a tracker over bytes stores; a copy of those bytes (what a
    restarted worker recovers) gives the same decisions."""
    text = " ".join(f"word{i}" for i in range(60))
    first = Article(
        id="a1", url="https://a.example/1", normalized_url="https://a.example/1",
        feed_url="https://a.example/rss", domain="a.example", title="One", text=text,
        fetched_at=datetime(2025, 3, 13, tzinfo=UTC),
    )  # fmt: skip
    copy = first.model_copy(update={"id": "b2", "url": "https://b.example/2"})
    dedup_bytes: dict[bytes, bytes] = {}
    Deduplicator(CodecTable(dedup_bytes, JSON_CODEC)).assign(first)
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in dedup_bytes.items())
    recovered = Deduplicator(CodecTable(dict(dedup_bytes), JSON_CODEC))
    assert recovered.assign(copy).cluster_id == first.id

    state_bytes: dict[bytes, bytes] = {}
    candidate = Alert(
        id="r:a1", rule_id="r", rule_name="R", cluster_id="a1", article_id="a1",
        title="One", url=first.url,
    )  # fmt: skip
    assert AlertTracker(CodecTable(state_bytes, JSON_CODEC)).observe(candidate) is not None
    after_restart = AlertTracker(CodecTable(dict(state_bytes), JSON_CODEC))
    assert after_restart.observe(candidate) is None  # a redelivery, not a second firing
    update = after_restart.observe(candidate.model_copy(update={"article_id": "b2"}))
    assert update is not None and update.copies == 2


def test_codec_table_keys_read_old_json_keyed_changelogs() -> None:
    """Both tables were written with Faust's json key serializer before; same keys now."""
    table = CodecTable({b'"a1"': b'{"x":1}'}, JSON_CODEC)
    assert table["a1"] == {"x": 1} and "a1" in table and list(table) == ["a1"]
    del table["a1"]
    assert len(table) == 0 and table.get("a1") is None


def test_tables_written_from_a_batch_name_their_partition_without_the_producer(
    app: faust.App,
) -> None:
    # Faust's use_partitioner asks the producer, which fails (TypeError) until it has the
    # changelog topic's metadata: the claims stage crashed the worker on its first write.
    batch_written = [t for t in app.tables.values() if not t.use_partitioner and t.partitions == 1]
    claims = [t for t in app.tables.values() if "claim" in t.name]
    assert claims, sorted(app.tables)
    for table in claims:
        assert table in batch_written
        assert table.partition_for_key(b"any key") == 0  # no current event needed
