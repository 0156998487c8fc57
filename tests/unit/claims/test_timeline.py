from __future__ import annotations

from pipeline.claims.model import TrackedClaim
from pipeline.claims.timeline import timeline_lines, timeline_query
from pipeline.claims.tracker import ClaimTracker
from pipeline.index.templates import mapping_fields

from .test_tracker import G86_A, G86_B, G90, KYIV_40, article


def tracked() -> list[TrackedClaim]:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    tracker.observe(article("a2", "wire", 1, G86_B))
    tracker.observe(article("a3", "ledger", 3, KYIV_40))
    tracker.observe(article("a4", "courier", 48, G90))
    return tracker.claims()


def test_every_document_field_is_in_the_strict_claims_mapping() -> None:
    fields = mapping_fields("claims")
    for claim in tracked():
        doc = claim.document()
        paths = set(doc)
        for key in ("sources", "quantities", "updates", "disputed_by"):
            for item in doc[key]:
                paths |= {f"{key}.{k}" for k in item}
        assert paths <= set(fields), paths - set(fields)
        assert TrackedClaim.from_document(doc) == claim


def test_the_timeline_names_counts_changes_and_disputes() -> None:
    text = "\n".join(timeline_lines(c for c in tracked() if c.speaker == "Valery Gerasimov"))
    assert "2 outlets, 2 articles" in text
    assert "86 -> 90 percent" in text
    assert "disputed by Oleksandr Syrskyi" in text and "40 vs 86 percent" not in text


def test_the_query_filters_the_speaker_and_the_time_and_sorts_oldest_first() -> None:
    body = timeline_query("Valery Gerasimov", "now-7d", 10)
    assert {"term": {"speaker": "Valery Gerasimov"}} in body["query"]["bool"]["filter"]
    assert {"range": {"last_seen": {"gte": "now-7d"}}} in body["query"]["bool"]["filter"]
    assert body["sort"][0] == {"first_seen": "asc"} and body["size"] == 10
