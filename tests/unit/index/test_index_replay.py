"""`--from` parsing for replay (the Kafka round trip is in tests/integration/index)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.index.replay import ReplayStartError, Start, parse_start


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1200", Start(offset=1200)),
        ("earliest", Start(offset=0)),
        ("0:10,3:7", Start(per_partition={0: 10, 3: 7})),
        ("2025-03-13T09:00:00Z", Start(time=datetime(2025, 3, 13, 9, tzinfo=UTC))),
        ("2025-03-13", Start(time=datetime(2025, 3, 13, tzinfo=UTC))),
    ],
)
def test_parse_start(text: str, expected: Start) -> None:
    assert parse_start(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "0:x", "-5"])
def test_bad_start_is_refused_clearly(text: str) -> None:
    with pytest.raises(ReplayStartError, match=r"from|offset"):
        parse_start(text)
