"""Per-feed poll state and the article outbox, in one SQLite file that survives restarts.

SQLite because each poller replica owns its feeds outright (see ``owns``) and so needs no
shared database: a StatefulSet gives every replica its own volume and a stable ordinal.

The outbox is what makes a Kafka outage lose nothing: an extracted article is written here
in the same transaction that advances the feed's validators, and leaves the outbox (into
``seen``) only once Kafka has acknowledged it. Restart, crash or broker outage: the outbox
is re-sent on the next cycle.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from pipeline.urls import normalize_url

SEEN_RETENTION_S = 90 * 24 * 3600  # ids a feed has not listed for this long are forgotten

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    interval_s REAL,
    next_poll REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status INTEGER,
    last_polled REAL,
    last_full_fetch REAL,
    last_new REAL,
    parked_reason TEXT,
    bozo_reason TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    items_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seen (
    article_id TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    status TEXT NOT NULL,          -- sent | rejected
    note TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    article_id TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


def owns(feed_url: str, replicas: int, ordinal: int) -> bool:
    """Whether replica ``ordinal`` of ``replicas`` polls this feed.

    A stable hash of the normalised URL modulo the replica count: no coordination, no
    locks, and never two replicas on one feed. Changing the replica count moves feeds; the
    new owner starts without validators (one unconditional GET) and without seen ids, so
    it may re-send recent items, which the deterministic article id makes harmless.
    """
    if replicas <= 1:
        return True
    return zlib.crc32(normalize_url(feed_url).encode()) % replicas == ordinal


@dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    interval_s: float | None = None
    next_poll: float = 0.0
    failures: int = 0
    last_error: str | None = None
    last_status: int | None = None
    last_polled: float | None = None
    last_full_fetch: float | None = None
    last_new: float | None = None
    parked_reason: str | None = None
    bozo_reason: str | None = None
    polls: int = 0
    items_sent: int = 0


_COLUMNS = [f.name for f in fields(FeedState)]
_UPSERT = (
    f"INSERT OR REPLACE INTO feeds ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


@dataclass(frozen=True)
class PendingArticle:
    article_id: str
    feed_url: str
    payload: bytes
    attempts: int


class StateStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- feeds --------------------------------------------------------------------------

    def feed(self, url: str) -> FeedState:
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM feeds WHERE url = ?", (url,)
        ).fetchone()
        return FeedState(**dict(zip(_COLUMNS, row, strict=True))) if row else FeedState(url=url)

    def feeds(self) -> dict[str, FeedState]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM feeds").fetchall()
        return {row[0]: FeedState(**dict(zip(_COLUMNS, row, strict=True))) for row in rows}

    def save_feed(self, state: FeedState, conn: sqlite3.Connection | None = None) -> None:
        (conn or self._db).execute(_UPSERT, [getattr(state, c) for c in _COLUMNS])

    def save_feeds(self, states: Iterable[FeedState]) -> None:
        """Many feeds in one transaction (one WAL commit instead of one per feed)."""
        with self.transaction() as conn:
            conn.executemany(_UPSERT, [[getattr(st, c) for c in _COLUMNS] for st in states])

    def unpark(self, url: str) -> bool:
        cur = self._db.execute(
            "UPDATE feeds SET parked_reason = NULL, failures = 0, next_poll = 0 WHERE url = ?",
            (url,),
        )
        return cur.rowcount > 0

    def forget_feed(self, url: str) -> None:
        self._db.execute("DELETE FROM feeds WHERE url = ?", (url,))

    # --- seen ids and outbox ------------------------------------------------------------

    def known(self, article_ids: Iterable[str]) -> set[str]:
        """Ids already sent, rejected, or waiting in the outbox."""
        ids = list(dict.fromkeys(article_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for table in ("seen", "outbox"):
                found.update(
                    row[0]
                    for row in self._db.execute(
                        f"SELECT article_id FROM {table} WHERE article_id IN ({marks})", chunk
                    )
                )
        return found

    def touch_seen(self, article_ids: Iterable[str], now: float | None = None) -> None:
        now = now or time.time()
        self._db.executemany(
            "UPDATE seen SET last_seen = ? WHERE article_id = ?", [(now, i) for i in article_ids]
        )

    def enqueue(
        self, conn: sqlite3.Connection, article_id: str, feed_url: str, payload: bytes
    ) -> bool:
        """False when the id is already waiting (another feed listed the same link)."""
        cur = conn.execute(
            "INSERT OR IGNORE INTO outbox (article_id, feed_url, payload, created) "
            "VALUES (?, ?, ?, ?)",
            (article_id, feed_url, payload, time.time()),
        )
        return cur.rowcount == 1

    def reject(self, conn: sqlite3.Connection, article_id: str, feed_url: str, reason: str) -> None:
        now = time.time()
        conn.execute(
            "INSERT OR IGNORE INTO seen (article_id, feed_url, status, note, first_seen, "
            "last_seen) VALUES (?, ?, 'rejected', ?, ?, ?)",
            (article_id, feed_url, reason, now, now),
        )

    def pending(self, limit: int = 1000) -> list[PendingArticle]:
        rows = self._db.execute(
            "SELECT article_id, feed_url, payload, attempts FROM outbox ORDER BY created LIMIT ?",
            (limit,),
        ).fetchall()
        return [PendingArticle(*row) for row in rows]

    def pending_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def mark_sent(self, article_ids: Iterable[str]) -> None:
        """Kafka acknowledged these: move them from the outbox to ``seen``."""
        now = time.time()
        ids = list(article_ids)
        with self.transaction() as conn:
            for article_id in ids:
                row = conn.execute(
                    "SELECT feed_url FROM outbox WHERE article_id = ?", (article_id,)
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO seen (article_id, feed_url, status, note, "
                    "first_seen, last_seen) VALUES (?, ?, 'sent', NULL, ?, ?)",
                    (article_id, row[0], now, now),
                )
                conn.execute("DELETE FROM outbox WHERE article_id = ?", (article_id,))
                conn.execute(
                    "UPDATE feeds SET items_sent = items_sent + 1 WHERE url = ?", (row[0],)
                )

    def mark_failed(self, failures: dict[str, str]) -> None:
        self._db.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE article_id = ?",
            [(error, article_id) for article_id, error in failures.items()],
        )

    def prune_seen(self, older_than_s: float = SEEN_RETENTION_S) -> int:
        cur = self._db.execute(
            "DELETE FROM seen WHERE last_seen < ?", (time.time() - older_than_s,)
        )
        return cur.rowcount
