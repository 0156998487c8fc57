"""The README's figures about the managed stack match the pinned artifacts (issue 14 item 8:
it said "about 500 MB" where the artifacts are 169 MiB)."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.stack import pins

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_download_size_the_readme_states_is_the_pinned_total() -> None:
    stated = re.search(r"first run downloads about (\d+) MB", README.read_text(encoding="utf-8"))
    assert stated, "README no longer states what the first run downloads"
    total = sum(a.size for a in pins.KAFKA_JARS) + pins.ELASTICSEARCH_ZIP.size
    assert abs(int(stated.group(1)) - total / 1e6) <= 0.03 * total / 1e6, (
        f"README says {stated.group(1)} MB; the pinned artifacts are {total / 1e6:.0f} MB"
    )
