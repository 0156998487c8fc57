"""The claims stage's state (pipeline.claims.state) over a plain bytes dict: the codec
round trip a Faust changelog replays, the bounds, idempotence and the links it emits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.claims.model import ClaimSource
from pipeline.claims.state import (
    MAX_VALUE_BYTES,
    ClaimState,
    TableClaimStore,
    encode_claim,
    fit,
    links,
    statements_of,
)
from pipeline.records import ClaimStatements, EnrichedArticle

from .test_tracker import DRONES, G86_A, G86_B, G90, KYIV_40, T0, article


def message(record: EnrichedArticle, story: str | None = None) -> ClaimStatements:
    st = statements_of(record)
    assert st is not None
    return st.model_copy(update={"cluster_id": story}) if story else st


def corpus() -> list[ClaimStatements]:
    return [
        message(article("a1", "courier", 0, G86_A)),
        message(article("a2", "baltic", 1, G86_B)),
        message(article("a3", "kyiv", 2, KYIV_40)),
        message(article("a4", "courier", 20, G90)),
        message(article("a5", "baltic", 21, DRONES)),
    ]


def run(state: ClaimState, records: list[ClaimStatements], first_offset: int = 0) -> list:
    out = []
    for i, record in enumerate(records):
        out.append(state.observe(record, offset=first_offset + i))
        state.evict()
        state.flush()
    return out


def test_state_round_trips_through_the_table_and_decides_the_same_after_recovery() -> None:
    table: dict[bytes, bytes] = {}
    state = ClaimState(table)
    run(state, corpus()[:3])
    # what a restart sees: only the table (the changelog), a new state over it
    recovered = ClaimState(dict(table))
    assert {c.claim_id: c for c in recovered.store.all_claims.values()} == {
        c.claim_id: c for c in state.store.all_claims.values()
    }
    assert recovered.store.offset == 2
    later = corpus()[3:]
    a = run(state, later, first_offset=3)
    b = run(recovered, later, first_offset=3)
    assert [[(c.kind, c.claim.claim_id, c.claim.revision) for c in x] for x in a] == [
        [(c.kind, c.claim.claim_id, c.claim.revision) for c in x] for x in b
    ]
    assert table.keys() == recovered.store.table.keys()
    assert all(len(v) < MAX_VALUE_BYTES for v in table.values())


def test_a_redelivered_offset_or_a_replayed_article_adds_nothing() -> None:
    state = ClaimState({})
    records = corpus()
    run(state, records)
    before = {c.claim_id: c.revision for c in state.store.all_claims.values()}
    assert state.observe(records[1], offset=1) == []  # redelivery: offset already applied
    assert state.observe(records[1], offset=99) == []  # replay: new offset, same article
    assert {c.claim_id: c.revision for c in state.store.all_claims.values()} == before


def test_writes_reach_the_table_only_at_flush() -> None:
    table: dict[bytes, bytes] = {}
    state = ClaimState(table)
    changes = state.observe(corpus()[0], offset=0)
    assert changes and table == {}
    assert state.flush() > 0
    assert b"o" in table and any(k.startswith(b"c:") for k in table)
    assert any(k.startswith(b"s:") for k in table)


def test_a_copy_of_a_story_from_the_same_outlet_adds_no_source() -> None:
    state = ClaimState({})
    first = message(article("a1", "courier", 0, G86_A), story="s1")
    # the same story again under another URL (another article id) from the same outlet
    again = message(article("a1b", "courier", 0.5, G86_A), story="s1")
    # a syndicated copy of that story by another outlet: one more source and outlet
    syndicated = message(article("a1c", "baltic", 1, G86_A), story="s1")
    run(state, [first, again, syndicated])
    (claim,) = state.store.all_claims.values()
    assert claim.source_count == 2
    assert [s.article_id for s in claim.sources] == ["a1", "a1c"]
    assert claim.outlets == ["courier", "baltic"]


def test_links_carry_the_pair_key_and_the_figures() -> None:
    state = ClaimState({})
    made = [link for record, changes in zip(corpus(), run(state, corpus()), strict=True)
            for link in links(changes, record)]  # fmt: skip
    kinds = [(link.kind, link.value, link.other_value, link.unit) for link in made]
    assert kinds == [
        ("disputed", 40.0, 86.0, "percent"),  # Syrskyi's 40 against Gerasimov's 86
        ("changed", 90.0, 86.0, "percent"),  # Gerasimov's own 86 -> 90
        ("disputed", 90.0, 40.0, "percent"),  # and the 90 against Syrskyi's 40
    ]
    assert len({link.pair_key for link in made}) == 3
    disputed, changed, _ = made
    assert disputed.pair_key.startswith("disputed:") and changed.pair_key.startswith("updates:")
    assert changed.speakers == ["Valery Gerasimov", "Valery Gerasimov"]
    assert disputed.speakers[0] == "Oleksandr Syrskyi" and disputed.reason == "value"
    assert changed.article_id == "a4"


def test_claims_held_are_bounded_least_recently_seen_first() -> None:
    state = ClaimState({}, max_claims=2)
    run(state, corpus())
    held = state.store.all_claims
    assert len(held) == 2
    assert {c.last_seen for c in held.values()} == {
        c.last_seen for c in sorted(held.values(), key=lambda c: c.last_seen)[-2:]
    }
    # the tracker's own lookups forgot them too: an evicted claim's speaker holds only the rest
    for speaker in state.store:
        assert {c.claim_id for c in state.store[speaker]} <= set(held)


def test_claims_leave_after_the_window_in_stream_time() -> None:
    state = ClaimState({}, window=timedelta(hours=10))
    run(state, corpus())  # a1-a3 at hours 0-2, a4/a5 at hours 20-21
    speakers = {c.speaker for c in state.store.all_claims.values()}
    assert speakers == {"Valery Gerasimov"}
    assert all(c.last_seen.hour >= 8 for c in state.store.all_claims.values())


def test_a_claim_too_big_for_a_table_value_is_cut_where_it_is_encoded() -> None:
    state = ClaimState({})
    run(state, corpus()[:1])
    (claim,) = state.store.all_claims.values()
    big = claim.model_copy(
        update={
            "sources": [
                ClaimSource(article_id=f"x{i}", seen_at=claim.first_seen, content="word " * 2000)
                for i in range(100)
            ],
            "source_count": 100,
        }
    )
    assert len(encode_claim(big)) > MAX_VALUE_BYTES
    cut = fit(big)
    assert len(encode_claim(cut)) <= MAX_VALUE_BYTES
    assert cut.source_count == 100 and 1 <= len(cut.sources) < 100
    store = TableClaimStore({})
    store[claim.speaker] = [big]
    store.flush()
    assert all(len(v) <= MAX_VALUE_BYTES for v in store.table.values())


def test_one_huge_wording_is_cut_too() -> None:
    state = ClaimState({})
    run(state, corpus()[:1])
    (claim,) = state.store.all_claims.values()
    huge = claim.model_copy(update={"content": "word " * 300_000})
    cut = fit(huge)
    assert len(encode_claim(cut)) <= MAX_VALUE_BYTES
    assert cut.content.startswith("word word")


@pytest.mark.parametrize("speakers", [0, 1])
def test_an_article_without_speakers_sends_no_statements(speakers: int) -> None:
    record = article("a1", "courier", 0, G86_A)
    if not speakers:
        record = record.model_copy(
            update={"claims": [c.model_copy(update={"speaker": None}) for c in record.claims]}
        )
    assert (statements_of(record) is None) == (not speakers)


def test_a_future_publication_time_does_not_age_every_claim_out() -> None:
    state = ClaimState({}, window=timedelta(days=30))
    now = (datetime.now(UTC) - T0).total_seconds() / 3600  # hours after T0
    run(state, [message(article("n1", "courier", now, G86_A))])
    future = message(article("f1", "courier", now + 24 * 365 * 50, DRONES))  # 50 years on
    run(state, [future], first_offset=1)
    assert len(state) == 2  # stream time stops a day past the clock: today's claim stays
