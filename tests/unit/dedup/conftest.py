from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.records import Article

REPO = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    return Path(os.environ.get("WIREWATCH_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def seed_text() -> str:
    path = shared_dir() / "fixtures" / "seed" / "article.txt"
    if not path.exists():
        pytest.skip(f"seed article not found at {path}")
    return path.read_text()


@pytest.fixture(scope="session")
def polnear() -> Path:
    path = shared_dir() / "data" / "polnear"
    if not path.exists():
        pytest.skip(f"PolNeAR not found at {path}")
    return path


T0 = datetime(2025, 3, 13, 12, 0, tzinfo=UTC)


def make_article(
    url: str,
    text: str,
    *,
    title: str = "Putin visits Kursk",
    outlet: str | None = None,
    minutes: float = 0,
    canonical_url: str | None = None,
    published: float | None = None,
) -> Article:
    """``minutes``/``published``: fetch and publication time, minutes after T0."""
    domain = url.split("/")[2]
    return Article(
        id=hashlib.sha1(url.encode()).hexdigest(),
        url=url,
        normalized_url=url,
        canonical_url=canonical_url,
        feed_url=f"https://{domain}/rss",
        outlet=outlet or domain,
        domain=domain,
        title=title,
        text=text,
        fetched_at=T0 + timedelta(minutes=minutes),
        published_at=None if published is None else T0 + timedelta(minutes=published),
    )


@pytest.fixture
def make():  # -> Callable[..., Article]
    return make_article
