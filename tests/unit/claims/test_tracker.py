"""ClaimTracker without servers or spaCy: claims built by hand, as enrichment emits them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.claims.tracker import ClaimTracker
from pipeline.records import Article, Claim, EnrichedArticle, Quantity, Span, StoryRef

T0 = datetime(2025, 3, 12, 12, tzinfo=UTC)


def claim(
    speaker: str,
    content: str,
    terms: str,
    figures: tuple[tuple[float, str], ...] = (),
    negated: bool = False,
) -> Claim:
    return Claim(
        content=Span(start=0, end=len(content), text=content),
        speaker=speaker,
        kind="indirect",
        quantities=[Quantity(start=0, end=1, text=str(v), value=v, unit=u) for v, u in figures],
        terms=terms.split(),
        negated=negated,
    )


def article(id_: str, outlet: str, hours: float, *claims: Claim) -> EnrichedArticle:
    url = f"https://{outlet}.example/{id_}"
    a = Article(
        id=id_,
        url=url,
        normalized_url=url,
        feed_url=url,
        outlet=outlet,
        domain=f"{outlet}.example",
        title=id_,
        text="x",
        published_at=T0 + timedelta(hours=hours),
    )
    story = StoryRef(cluster_id=id_, canonical_id=id_, match="new")
    return EnrichedArticle(article=a, story=story, claims=list(claims))


G86_A = claim(
    "Valery Gerasimov",
    "Russian forces had recaptured more than 86 per cent of the area taken by Ukraine",
    "russian force recapture area take ukraine",
    ((86.0, "percent"),),
)
G86_B = claim(
    "Valery Gerasimov",
    "his troops had retaken 86% of the territory Ukraine seized in Kursk",
    "troop retake territory ukraine seize kursk",
    ((86.0, "percent"),),
)
G90 = claim(
    "Valery Gerasimov",
    "Russian troops had now recaptured 90 per cent of the territory Ukraine seized",
    "russian force troop recapture area territory ukraine seize kursk",
    ((90.0, "percent"),),
)
KYIV_40 = claim(
    "Oleksandr Syrskyi",
    "Russian troops had regained no more than 40 per cent of the area in Kursk",
    "russian troop regain area ukrainian force take kursk",
    ((40.0, "percent"),),
)
DRONES = claim(
    "Valery Gerasimov",
    "air defences had shot down 126 Ukrainian drones",
    "air defence shoot ukrainian drone belgorod",
    ((126.0, "drone"),),
)


def test_outlets_wordings_of_one_claim_are_one_claim_with_its_sources() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A, DRONES))
    tracker.observe(article("a2", "wire", 2, G86_B))
    claims = tracker.claims("Valery Gerasimov")
    assert len(claims) == 2
    (tracked,) = [c for c in claims if c.quantities[0].value == 86.0]
    assert [s.article_id for s in tracked.sources] == ["a1", "a2"]
    assert tracked.outlets == ["courier", "wire"]
    assert tracked.first_seen == T0 and tracked.last_seen == T0 + timedelta(hours=2)


def test_a_replay_or_a_redelivery_adds_nothing_and_ids_are_stable() -> None:
    records = [
        article("a1", "courier", 0, G86_A),
        article("a2", "wire", 2, G86_B),
        article("a3", "courier", 48, G90),
    ]
    first, second = ClaimTracker(), ClaimTracker()
    for r in records:
        first.observe(r)
        second.observe(r)
    before = [c.model_dump() for c in first.claims()]
    for r in records:  # the whole stream again
        assert first.observe(r) == []
    assert [c.model_dump() for c in first.claims()] == before
    assert [c.claim_id for c in second.claims()] == [c.claim_id for c in first.claims()]


def test_a_changed_figure_updates_the_earlier_claim_with_old_and_new() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    changes = tracker.observe(article("a3", "courier", 48, G90))
    assert [c.kind for c in changes] == ["new", "updates"]
    later, earlier = tracker.claims()[1], tracker.claims()[0]
    assert [(u.claim_id, u.unit, u.old, u.new) for u in later.updates] == [
        (earlier.claim_id, "percent", 86.0, 90.0)
    ]
    assert earlier.updated_by == [later.claim_id]
    assert changes[1].pair_key == f"updates:{later.claim_id}:{earlier.claim_id}"


def test_a_figure_in_another_unit_or_subject_is_not_an_update() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    changes = tracker.observe(article("a2", "courier", 5, DRONES))
    assert [c.kind for c in changes] == ["new"]
    inflation = claim(
        "Valery Gerasimov", "inflation slowed to 9 per cent", "inflation slow", ((9.0, "percent"),)
    )
    assert [c.kind for c in tracker.observe(article("a3", "x", 6, inflation))] == ["new"]


def test_another_speakers_incompatible_figure_disputes_both_ways() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    changes = tracker.observe(article("a2", "ledger", 3, KYIV_40))
    assert [c.kind for c in changes] == ["new", "disputed"]
    gerasimov, syrskyi = tracker.claims()
    assert [(d.claim_id, d.reason) for d in gerasimov.disputed_by] == [(syrskyi.claim_id, "value")]
    assert [(d.claim_id, d.value, d.other_value) for d in syrskyi.disputed_by] == [
        (gerasimov.claim_id, 40.0, 86.0)
    ]


def test_the_dispute_goes_to_the_current_figure_and_a_repeat_is_no_dispute() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    tracker.observe(article("a2", "courier", 48, G90))
    ministry = claim(
        "Russian defence ministry",
        "its forces had recaptured 90 per cent of the territory in Kursk",
        "force recapture territory kursk",
        ((90.0, "percent"),),
    )
    assert [c.kind for c in tracker.observe(article("a3", "post", 50, ministry))] == ["new"]
    changes = tracker.observe(article("a4", "ledger", 52, KYIV_40))
    assert [c.kind for c in changes] == ["new", "disputed"]
    assert changes[1].other is not None and changes[1].other.quantities[0].value == 90.0


def test_a_later_denial_disputes_and_is_never_the_same_claim() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    denial = claim(
        "Volodymyr Zelensky",
        "that Russian forces had recaptured the area taken by Ukraine",
        "russian force recapture area ukraine",
        negated=True,
    )
    changes = tracker.observe(article("a2", "courier", 5, denial))
    assert [(c.kind, c.claim.disputed_by[0].reason) for c in changes[1:]] == [
        ("disputed", "negation")
    ]
    own_denial = G86_A.model_copy(update={"negated": True})
    changes = tracker.observe(article("a3", "courier", 6, own_denial))
    assert changes[0].kind == "new"  # the same words denied are not the same claim


def test_out_of_order_arrival_still_has_the_later_claim_update_the_earlier() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a3", "courier", 48, G90))
    tracker.observe(article("a1", "courier", 0, G86_A))
    earlier, later = tracker.claims()
    assert later.updates and later.updates[0].claim_id == earlier.claim_id
    assert (later.updates[0].old, later.updates[0].new) == (86.0, 90.0)


def test_a_surname_alone_is_the_known_speaker_of_that_name() -> None:
    tracker = ClaimTracker()
    tracker.observe(article("a1", "courier", 0, G86_A))
    surname = G90.model_copy(update={"speaker": "Gerasimov"})
    changes = tracker.observe(article("a2", "courier", 48, surname))
    assert changes[0].claim.speaker == "Valery Gerasimov"
    assert [c.kind for c in changes] == ["new", "updates"]


def test_claims_per_speaker_are_bounded() -> None:
    tracker = ClaimTracker(max_claims_per_speaker=3)
    for i in range(6):
        c = claim("A Speaker", f"claim {i}", f"word{i} other{i}")
        tracker.observe(article(f"a{i}", "x", i, c))
    assert [c.content for c in tracker.claims("A Speaker")] == ["claim 3", "claim 4", "claim 5"]


def test_a_count_of_the_same_value_is_one_claim_whatever_noun_it_counts() -> None:
    tracker = ClaimTracker()
    soldiers = claim(
        "Valery Gerasimov",
        "430 Ukrainian soldiers had been taken prisoner",
        "ukrainian soldier prisoner take",
        ((430.0, "soldier"),),
    )
    servicemen = claim(
        "Valery Gerasimov",
        "430 Ukrainian servicemen were captured",
        "ukrainian serviceman capture",
        ((430.0, "serviceman"),),
    )
    tracker.observe(article("a1", "courier", 0, soldiers))
    changes = tracker.observe(article("a2", "wire", 1, servicemen))
    assert [c.kind for c in changes] == ["source"]
    small = claim(
        "Valery Gerasimov", "3 ukrainian villages", "ukrainian village", ((3.0, "village"),)
    )
    assert [c.kind for c in tracker.observe(article("a3", "x", 2, small))] == ["new"]
