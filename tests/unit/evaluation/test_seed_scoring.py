from __future__ import annotations

from pipeline.enrich.annotate import Annotation
from pipeline.evaluation.seed import score_seed
from pipeline.records import Claim, Entity, Span

GOLD = {
    "entities": [
        {"canonical": "Jane Roe", "label": "PERSON", "mentions": [{"start": 0, "end": 8}]},
        {"canonical": "Acme", "label": "ORG", "mentions": [{"start": 30, "end": 34}]},
    ],
    "claims": [
        {"speaker": "Jane Roe", "content": {"start": 14, "end": 28, "text": "that it rained"}},
    ],
}


def test_seed_passes_only_with_right_speaker_and_all_entities() -> None:
    content = Span(start=14, end=28, text="that it rained")
    right = Claim(content=content, speaker="Jane Roe", kind="indirect")
    entities = [
        Entity(start=0, end=8, text="Jane Roe", label="PERSON", canonical="Jane Roe"),
        Entity(start=30, end=34, text="Acme", label="ORG", canonical="Acme"),
    ]
    assert score_seed(GOLD, Annotation(entities=entities, claims=[right])).passed

    wrong = right.model_copy(update={"speaker": "Acme"})
    result = score_seed(GOLD, Annotation(entities=entities[:1], claims=[wrong]))
    assert not result.passed
    assert result.claims_right == 0
    assert result.entities_found == 1
    assert any("speaker 'Acme'" in f for f in result.failures)
