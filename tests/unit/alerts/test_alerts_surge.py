"""Surge rules on synthetic timelines (pipeline.alerts.surge): fires once, re-arms after
subsiding, the minimum, a zero baseline, out-of-order and late matches, replay and restart."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.alerts.surge import (
    SurgeSyntaxError,
    SurgeTracker,
    event_time,
    is_surge_firing,
    parse_duration,
    parse_surge,
    surge_key,
)
from pipeline.records import SURGE_MAX_UNITS, Alert, AlertRule, SurgeSpec
from pipeline.worker.tables import JSON_CODEC, CodecTable

T0 = datetime(2025, 3, 13, tzinfo=UTC)  # midnight: a window boundary for 1h windows
HOUR = 60


def rule(**spec: Any) -> AlertRule:
    options = {"factor": 3.0, "window_s": 3600, "min_stories": 5, "lateness_s": 600, **spec}
    return AlertRule(id="kursk", name="Kursk surge", query="kursk", surge=SurgeSpec(**options))


def cand(minute: float, cluster: str, *, article: str | None = None, event: str | None = None):
    t = T0 + timedelta(minutes=minute)
    return Alert(
        id=surge_key("kursk"),
        rule_id="kursk",
        rule_name="Kursk surge",
        cluster_id=cluster,
        article_id=article or f"{cluster}@{minute}",
        title=f"story {cluster}",
        url=f"https://x.example/{cluster}",
        published_at=t,
        event_time=t,
        event_id=event,
    )


def history(hours: int = 24, per_hour: int = 1) -> list[Alert]:
    """``per_hour`` distinct stories in each of the first ``hours`` hours."""
    return [
        cand(h * HOUR + 10 + 40 * i / per_hour, f"h{h}s{i}")
        for h in range(hours)
        for i in range(per_hour)
    ]


def burst(hour: int, stories: int, tag: str = "b") -> list[Alert]:
    """``stories`` distinct stories spread over hour ``hour`` (every 5 minutes)."""
    return [cand(hour * HOUR + 5 * i, f"{tag}{hour}s{i}") for i in range(stories)]


def run(tracker: SurgeTracker, r: AlertRule, candidates: list[Alert]) -> list[Alert]:
    out: list[Alert] = []
    for c in candidates:
        out.extend(tracker.observe(r, c).alerts)
    return out


def firings(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if is_surge_firing(a)]


def final(alerts: list[Alert]) -> dict[str, int]:
    """Alert id -> its last count (what the index ends up holding)."""
    out: dict[str, int] = {}
    for a in alerts:
        assert a.surge is not None
        out[a.id] = a.surge.count
    return out


def test_fires_once_when_the_window_reaches_factor_times_baseline() -> None:
    r = rule()
    alerts = run(SurgeTracker({}), r, [*history(), *burst(24, 8), *burst(25, 6)])
    (fired,) = firings(alerts)
    assert fired.id == "kursk:surge:2025-03-14T00:00:00+00:00"
    assert fired.surge is not None
    # baseline: 24 windows of 1 story -> 1.0; level max(5, 3 x 1.0) = 5
    assert fired.surge.baseline == pytest.approx(1.0)
    assert fired.surge.threshold == pytest.approx(5.0)
    assert fired.surge.fired_with == 5  # decidable at 00:10; the 5th story came at 00:20
    assert fired.surge.window_end - fired.surge.window_start == timedelta(hours=1)
    assert fired.title == "story b24s0"  # the window's earliest article
    # later stories of the same window update the alert, they do not fire again
    assert final(alerts) == {fired.id: 8}
    # hour 25 (6 stories >= half the level) is still surging: no new alert
    assert {a.id for a in alerts} == {fired.id}


def test_rearms_only_after_a_window_below_half_the_level() -> None:
    r = rule()
    subsided = run(SurgeTracker({}), r, [*history(), *burst(24, 8), *burst(25, 1), *burst(26, 8)])
    assert [a.id[-25:] for a in firings(subsided)] == [
        "2025-03-14T00:00:00+00:00",
        "2025-03-14T02:00:00+00:00",
    ]
    # hour 25 with 3 stories: 3 >= 5 / 2, the surge has not subsided; hour 26 does not fire
    still = run(SurgeTracker({}), r, [*history(), *burst(24, 8), *burst(25, 3), *burst(26, 8)])
    assert len(firings(still)) == 1
    # an empty hour between counts as subsided (count 0)
    gap = run(SurgeTracker({}), r, [*history(), *burst(24, 8), *burst(26, 8)])
    assert len(firings(gap)) == 2


def test_min_stories_and_a_zero_baseline() -> None:
    r = rule(min_stories=5)
    # no history at all: baseline 0, so the minimum alone decides
    assert firings(run(SurgeTracker({}), r, burst(5, 4))) == []
    (fired,) = firings(run(SurgeTracker({}), r, burst(5, 5)))
    assert fired.surge is not None and fired.surge.baseline == 0.0
    assert fired.surge.threshold == 5.0
    # far above the baseline (x4) but under the minimum: nothing
    quiet = [cand(h * HOUR + 1, f"q{h}") for h in range(0, 24, 6)]  # 4 stories in 24 h
    few = run(SurgeTracker({}), rule(min_stories=5, factor=2.0), [*quiet, *burst(24, 4)])
    assert firings(few) == []
    assert firings(run(SurgeTracker({}), rule(min_stories=6), [*quiet, *burst(24, 5)])) == []


def test_factor_against_a_busy_baseline() -> None:
    r = rule(factor=3.0, min_stories=2)
    base = history(per_hour=4)  # baseline 4 -> level 12

    def after_history(alerts: list[Alert]) -> list[Alert]:
        # (hour 0 fired: 4 stories against the zero baseline of a rule's first window)
        return [a for a in firings(alerts) if a.surge and a.surge.window_start.day == 14]

    assert after_history(run(SurgeTracker({}), r, [*base, *burst(24, 11)])) == []
    (fired,) = after_history(run(SurgeTracker({}), r, [*base, *burst(24, 12)]))
    assert fired.surge is not None and fired.surge.threshold == pytest.approx(12.0)


def test_copies_of_one_story_count_once_and_events_group_stories() -> None:
    copies = [cand(5 * i, "same", article=f"copy{i}") for i in range(8)]
    assert firings(run(SurgeTracker({}), rule(), copies)) == []
    # six stories, but two events: per=event counts the events
    stories = [cand(2 * i, f"s{i}", event=f"e{i % 2}") for i in range(6)]
    stories.append(cand(20, "tick", event="e0"))  # moves the watermark past 00:10
    assert firings(run(SurgeTracker({}), rule(per="story"), stories))
    assert firings(run(SurgeTracker({}), rule(per="event", min_stories=3), stories)) == []
    (fired,) = firings(run(SurgeTracker({}), rule(per="event", min_stories=3), burst(0, 3)))
    assert fired.surge is not None and fired.surge.per == "event"
    assert fired.surge.units[0] == "story:b0s0"  # no event_id: the story is its own event


def test_out_of_order_within_the_lateness_gives_the_same_alerts() -> None:
    r = rule()
    timeline = [*history(), *burst(24, 8), *burst(25, 1), *burst(26, 9), *burst(27, 2)]
    expected = final(run(SurgeTracker({}), r, timeline))
    assert len(expected) == 2
    lateness_min = r.surge.lateness_s / 60 if r.surge else 0
    reordered = 0
    for seed in range(20):
        rng = random.Random(seed)
        jitter = {id(c): rng.uniform(0, lateness_min * 0.99) for c in timeline}
        shuffled = sorted(
            timeline, key=lambda c: (c.event_time - T0).total_seconds() / 60 + jitter[id(c)]
        )
        reordered += shuffled != timeline
        assert final(run(SurgeTracker({}), r, shuffled)) == expected, seed
    assert reordered >= 15


def test_a_match_later_than_its_window_allows_is_not_counted() -> None:
    r = rule()
    tracker = SurgeTracker({})
    run(tracker, r, [*history(), *burst(24, 2)])  # watermark 00:05
    # within the lateness (10 min): counted in its still open window
    assert tracker.observe(r, cand(23 * HOUR + 59, "just-in-time")).counted == "counted"
    assert tracker.observe(r, cand(24 * HOUR + 15, "now")).counted == "counted"
    late = tracker.observe(r, cand(23 * HOUR + 58, "old-news"))  # window 23 closed at 00:10
    assert late.counted == "late" and late.alerts == []
    assert tracker.state["kursk"]["late"] == 1
    assert tracker.state["kursk"]["w"][str(int(T0.timestamp()) // 3600 + 23)] == {"n": 2}
    # a feed re-serving a year-old item: late too, never a window of its own
    assert tracker.observe(r, cand(-365 * 24 * HOUR, "ancient")).counted == "late"


def test_replay_is_deterministic_and_restart_from_the_changelog_is_seamless() -> None:
    r = rule()
    timeline = [*history(), *burst(24, 8), *burst(25, 0), *burst(26, 7)]

    def strip(alerts: list[Alert]) -> list[dict[str, Any]]:
        return [a.model_dump(mode="json", exclude={"fired_at"}) for a in alerts]

    once = strip(run(SurgeTracker({}), r, timeline))
    assert once == strip(run(SurgeTracker({}), r, timeline))
    # the worker's table holds bytes: stop halfway, rebuild from the bytes, go on
    table: dict[bytes, bytes] = {}
    half = len(timeline) // 2 + 5
    first = run(SurgeTracker(CodecTable(table, JSON_CODEC)), r, timeline[:half])
    second = run(SurgeTracker(CodecTable(dict(table), JSON_CODEC)), r, timeline[half:])
    assert strip(first + second) == once
    state = CodecTable(table, JSON_CODEC)["kursk"]
    assert JSON_CODEC.decode(JSON_CODEC.encode(state)) == state


def test_state_is_bounded() -> None:
    r = rule(baseline_windows=6)
    tracker = SurgeTracker({})
    run(tracker, r, history(hours=200, per_hour=2))
    windows = tracker.state["kursk"]["w"]
    assert len(windows) <= 6 + 3  # the baseline's windows and the open ones
    assert all("ids" not in w for k, w in windows.items() if int(k) < max(map(int, windows)) - 1)
    # one window cannot hold more than SURGE_MAX_UNITS ids: the count saturates
    crowd = [cand(i / 1000, f"c{i}") for i in range(SURGE_MAX_UNITS + 50)]
    saturated = SurgeTracker({})
    outcomes = [saturated.observe(r, c).counted for c in crowd]
    assert outcomes.count("counted") == SURGE_MAX_UNITS
    (only,) = saturated.state["kursk"]["w"].values()
    assert only["n"] == SURGE_MAX_UNITS and len(only["ids"]) == SURGE_MAX_UNITS


def test_a_changed_rule_starts_afresh() -> None:
    tracker = SurgeTracker({})
    run(tracker, rule(), [*history(), *burst(24, 8)])
    assert tracker.state["kursk"]["armed"] is False
    tracker.observe(rule(factor=4.0), cand(24 * HOUR + 50, "x"))
    assert tracker.state["kursk"]["armed"] is True  # a new spec: a new state
    assert tracker.forget("kursk") and "kursk" not in tracker.state


def test_event_time_and_parsing() -> None:
    fetched = datetime(2025, 3, 13, 12, tzinfo=UTC)
    assert event_time(None, fetched) == fetched
    assert event_time(fetched - timedelta(hours=2), fetched) == fetched - timedelta(hours=2)
    assert event_time(fetched + timedelta(days=3), fetched) == fetched  # no future dates
    assert event_time(datetime(2025, 3, 13, 11), fetched) == datetime(2025, 3, 13, 11, tzinfo=UTC)
    assert parse_surge("3x/1h") == (3.0, 3600)
    assert parse_surge(" 2.5X / 30m ") == (2.5, 1800)
    for bad in ("3/1h", "x/1h", "3x/1w", "3x", ""):
        with pytest.raises(SurgeSyntaxError, match="FACTORx/DURATION"):
            parse_surge(bad)
    assert parse_duration("10m", "--lateness") == 600
    with pytest.raises(SurgeSyntaxError, match="--lateness"):
        parse_duration("soon", "--lateness")
    for bad_spec in ({"factor": 1.0}, {"window_s": 10}, {"min_stories": SURGE_MAX_UNITS + 1}):
        with pytest.raises(ValidationError):
            rule(**bad_spec)


def test_alerts_test_replay_matches_the_stream_and_decides_the_last_window() -> None:
    from pipeline.alerts.surge import replay

    r = rule()
    timeline = [*history(), *burst(24, 8), *burst(25, 1), *burst(26, 6)]
    streamed = final(run(SurgeTracker({}), r, timeline))
    # hour 26 is decided only once a match reaches 02:10 (hour 26 + the lateness): it did
    assert len(streamed) == 2
    shuffled = random.Random(7).sample(timeline, len(timeline))  # any order: sorted inside
    alerts, late = replay(r, shuffled)
    assert final(alerts) == streamed and late == 0
    # the last window's early matches alone (before 02:10): undecided in the stream, decided
    # by `alerts test` moving the clock to its end
    early = [*history(), *burst(24, 8), *burst(25, 1), *burst(26, 2)[:2]]
    early += [cand(26 * HOUR + 6 + i, f"e{i}") for i in range(4)]  # 6 stories by 02:09
    assert len(final(run(SurgeTracker({}), r, early))) == 1
    decided, _ = replay(r, early, T0 + timedelta(hours=30))
    assert len(decided) == 2


def test_stream_candidates_carry_event_time_and_event(make_article) -> None:
    from pipeline.alerts.engine import RuleIndex
    from pipeline.alerts.surge import surge_candidate
    from pipeline.records import EventRef

    r = rule(per="event", min_stories=2)
    index = RuleIndex()
    index.upsert(r)
    published = T0 + timedelta(minutes=3)
    enriched = make_article(title="Shelling near Kursk", cluster="c9")
    article = enriched.article.model_copy(
        update={"published_at": published, "fetched_at": published + timedelta(minutes=1)}
    )
    event = EventRef(
        event_id="ev1", match="new", title="Kursk", first_seen=published, last_seen=published
    )
    enriched = enriched.model_copy(update={"article": article, "event": event})
    (match,) = index.evaluate(enriched)
    c = surge_candidate(match, enriched)
    assert (c.id, c.event_id, c.event_time, c.cluster_id) == ("kursk:surge", "ev1", published, "c9")
    assert c.matched_terms == match.matched_terms
    # a second story of the same event is the same unit; a third story's event another
    tracker = SurgeTracker({})
    assert tracker.observe(r, c).counted == "counted"
    same_event = c.model_copy(update={"cluster_id": "c10", "article_id": "x2"})
    assert tracker.observe(r, same_event).counted == "repeat"
    other = c.model_copy(update={"cluster_id": "c11", "article_id": "x3", "event_id": "ev2"})
    assert tracker.observe(r, other).counted == "counted"


def test_a_surge_rule_cannot_watch_claim_changes() -> None:
    from pipeline.alerts.engine import RuleIndex, check_rule
    from pipeline.alerts.query import QuerySyntaxError

    bad = rule().model_copy(update={"query": "claim:changed kursk"})
    with pytest.raises(QuerySyntaxError, match="cannot have a claim: term"):
        check_rule(bad)
    index = RuleIndex()
    assert index.upsert(bad) is False and "kursk" in index.rejected  # never loaded either
    check_rule(rule().model_copy(update={"query": "kursk NOT claim:disputed"}))  # negated: fine
