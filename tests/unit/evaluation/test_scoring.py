from __future__ import annotations

from pipeline.evaluation.brat import GoldAttribution
from pipeline.evaluation.claims import jaccard, match, score, source_correct
from pipeline.records import Claim, Span


def claim(start: int, end: int, text: str = "x", source=None, speaker=None) -> Claim:
    return Claim(
        content=Span(start=start, end=end, text=text),
        source=Span(start=source[0], end=source[1], text="s") if source else None,
        speaker=speaker,
        kind="indirect",
    )


def gold(start: int, end: int, text: str = "x", source=(), source_text="") -> GoldAttribution:
    return GoldAttribution(
        content=((start, end),), content_text=text, source=source, source_text=source_text
    )


def test_jaccard() -> None:
    assert jaccard(set(range(0, 10)), set(range(5, 15))) == 5 / 15
    assert jaccard(set(), {1}) == 0.0


def test_match_is_one_to_one_and_greedy_by_overlap() -> None:
    golds = [gold(0, 10), gold(0, 12)]
    preds = [claim(0, 12), claim(20, 30)]
    # Both golds reach 0.5 with the first prediction; the better one (exact) wins it.
    assert match(golds, preds) == [(1, 0, 1.0)]


def test_match_threshold_is_half() -> None:
    assert match([gold(0, 10)], [claim(0, 5)]) == [(0, 0, 0.5)]
    assert match([gold(0, 10)], [claim(0, 4)]) == []


def test_discontinuous_prediction_uses_its_parts() -> None:
    pred = claim(0, 30).model_copy(
        update={
            "content_parts": [Span(start=0, end=10, text="a"), Span(start=20, end=30, text="b")]
        }
    )
    g = GoldAttribution(content=((0, 10), (20, 30)), content_text="a b")
    assert match([g], [pred]) == [(0, 0, 1.0)]


def test_source_by_overlap_or_surname() -> None:
    g = gold(0, 10, source=((20, 35),), source_text="President Jane Roe")
    assert source_correct(g, claim(0, 10, source=(30, 40)))
    assert source_correct(g, claim(0, 10, source=(50, 52), speaker="Jane Roe"))
    assert not source_correct(g, claim(0, 10, source=(50, 52), speaker="John Doe"))
    assert not source_correct(g, claim(0, 10, speaker="Roes"))


def test_score_reports_all_and_quote_subset() -> None:
    golds = [
        gold(0, 10, text='"quoted."', source=((20, 25),), source_text="Lee"),
        gold(40, 50, text="plain"),
    ]
    preds = [claim(0, 10, text='"quoted."', speaker="Ann Lee"), claim(60, 70)]
    scores = score([(golds, preds)])
    assert (scores.all.gold, scores.all.predicted, scores.all.matched) == (2, 2, 1)
    assert scores.all.f1 == 0.5
    assert scores.all.source_accuracy == 1.0
    assert (scores.quotes.gold, scores.quotes.predicted, scores.quotes.matched) == (1, 1, 1)
    assert scores.quotes.f1 == 1.0
