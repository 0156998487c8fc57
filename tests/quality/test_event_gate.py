"""Quality gate: event clustering on BASIL 2010-2014 (issue 15 floor).

Runs the real dedup, enrichment and event clusterer over ../shared/data/basil-dev in a
seeded 48-hour timeline; `wirewatch eval events ../shared/data/basil-dev` prints the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation.events import EventScores, evaluate, load_basil, with_enrichment

pytestmark = pytest.mark.quality

F1_FLOOR = 0.80  # issue 15; measured 0.934 at seed 0 (P 1.000, R 0.876)


@pytest.fixture(scope="module")
def result(shared: Path) -> EventScores:
    return evaluate(load_basil(shared / "data" / "basil-dev"), with_enrichment, seed=0)


def test_event_clustering_meets_the_floor(result: EventScores) -> None:
    assert result.scores.f1 >= F1_FLOOR, result.summary()


def test_story_clusters_stay_pure(result: EventScores) -> None:
    assert result.stories_pure, result.summary()
