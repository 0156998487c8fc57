"""Quality gate: claim tracking on the project's own timeline corpus (issue 16 floors).

Runs the real extraction and tracker over tests/fixtures/claim-timeline; `wirewatch eval
claim-tracking tests/fixtures/claim-timeline` prints the same figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation.claim_tracking import TrackingScore, evaluate

pytestmark = pytest.mark.quality

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "claim-timeline"
FLOORS = {
    ("grouping", "precision"): 0.95,
    ("grouping", "recall"): 0.85,
    ("links", "precision"): 0.90,
    ("links", "recall"): 0.80,
}


@pytest.fixture(scope="module")
def result() -> TrackingScore:
    return evaluate(CORPUS)


@pytest.mark.parametrize("key", sorted(FLOORS))
def test_claim_tracking_meets_the_floor(result: TrackingScore, key: tuple[str, str]) -> None:
    pr = getattr(result, key[0])
    value = getattr(pr, key[1])
    assert value >= FLOORS[key], f"{key}: {value:.3f} < {FLOORS[key]}; {result.summary()}"


def test_nearly_every_gold_claim_is_extracted(result: TrackingScore) -> None:
    assert result.found_claims >= result.gold_claims - 2, result.summary()
