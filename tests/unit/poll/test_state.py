from collections import Counter
from pathlib import Path

from pipeline.poll.state import FeedState, StateStore, owns


def test_feed_state_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite3"
    store = StateStore(db)
    store.save_feed(
        FeedState(url="https://a.example/rss", etag='"v1"', failures=2, parked_reason="gone")
    )
    store.close()
    again = StateStore(db).feed("https://a.example/rss")
    assert again.etag == '"v1"' and again.failures == 2 and again.parked_reason == "gone"


def test_outbox_until_acknowledged(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    with store.transaction() as conn:
        store.enqueue(conn, "id1", "https://a.example/rss", b"{}")
        store.enqueue(conn, "id2", "https://a.example/rss", b"{}")
        store.reject(conn, "id3", "https://a.example/rss", "no link")
    assert store.known(["id1", "id2", "id3", "id4"]) == {"id1", "id2", "id3"}
    store.mark_failed({"id1": "broker down", "id2": "broker down"})
    assert [p.attempts for p in store.pending()] == [1, 1]
    store.mark_sent(["id1"])
    assert [p.article_id for p in store.pending()] == ["id2"]
    assert store.known(["id1"]) == {"id1"}  # now in seen


def test_rollback_keeps_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite3")
    try:
        with store.transaction() as conn:
            store.enqueue(conn, "id1", "f", b"{}")
            raise RuntimeError("crash mid-poll")
    except RuntimeError:
        pass
    assert store.pending_count() == 0


def test_replicas_partition_feeds_exactly() -> None:
    urls = [f"https://site{i}.example/rss" for i in range(3000)]
    owners = Counter()
    for url in urls:
        mine = [r for r in range(3) if owns(url, 3, r)]
        assert len(mine) == 1  # never zero, never two
        owners[mine[0]] += 1
    assert all(800 < n < 1200 for n in owners.values())
    assert owns("https://A.example/rss", 3, 0) == owns("https://a.example/rss", 3, 0)
