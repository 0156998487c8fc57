"""The audit's reconciliation, from plain values: each raw id gets exactly one outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.audit import AuditInputs, Position, Stage, format_report, parse_time, reconcile
from pipeline.vocabulary import TimeSyntaxError


def at(*offsets: int, partition: int = 0) -> list[Position]:
    return [Position(partition, o) for o in offsets]


def inputs(
    raw: dict[str, list[Position]],
    deduped: dict[str, list[Position]] | None = None,
    enriched: dict[str, list[Position]] | None = None,
    committed: tuple[dict[int, int], dict[int, int], dict[int, int]] = ({0: 99}, {0: 99}, {0: 99}),
    documents: dict[str, list[str]] | None = None,
    dead: dict[str, list[str]] | None = None,
    clusters: dict[str, set[str]] | None = None,
    matches: dict[str, str] | None = None,
) -> AuditInputs:
    deduped = raw if deduped is None else deduped
    enriched = deduped if enriched is None else enriched
    return AuditInputs(
        raw=Stage("dedup", raw, committed[0]),
        deduped=Stage("enrich", deduped, committed[1]),
        enriched=Stage("index", enriched, committed[2]),
        clusters=clusters or {},
        matches=matches or {},
        documents={k: ["a-000001"] for k in raw} if documents is None else documents,
        dead_letters=dead or {},
    )


def test_every_article_indexed_is_clean_and_resends_are_counted_not_duplicated() -> None:
    report = reconcile(
        inputs({"a": at(0, 3), "b": at(1), "c": at(2)}, matches={"c": "near", "a": "new"})
    )
    assert report.ok
    assert (report.articles, report.raw_records, report.resent) == (3, 4, 1)
    assert report.indexed == ["a", "b", "c"]
    assert report.story_duplicates == 1
    assert not report.lost and not report.pending and not report.duplicated


def test_a_record_the_dedup_stage_committed_past_but_never_forwarded_is_lost() -> None:
    # issue 11 item 2: raw offsets committed past a record that never reached deduped
    report = reconcile(
        inputs({"a": at(0), "b": at(1)}, deduped={"a": at(0)}, documents={"a": ["i"]})
    )
    assert not report.ok
    assert list(report.lost) == ["b"]
    assert "dedup stage committed past it" in report.lost["b"]


def test_records_not_yet_read_by_a_stage_are_pending_not_lost() -> None:
    report = reconcile(
        inputs(
            {"a": at(5), "b": at(1)},
            deduped={"b": at(7, partition=3)},
            enriched={},
            committed=({0: 5}, {3: 7}, {}),
            documents={},
        )
    )
    assert report.ok
    assert report.pending == {
        "a": "waiting for the dedup stage",
        "b": "waiting for the enrich stage",
    }


def test_enriched_but_never_indexed_after_the_index_stage_committed_is_lost() -> None:
    report = reconcile(inputs({"a": at(0)}, documents={}))
    assert report.lost == {"a": "the index stage committed past it; it never reached the index"}


def test_dead_lettered_records_are_accounted_with_their_reason() -> None:
    report = reconcile(inputs({"a": at(0)}, documents={}, dead={"a": ["index: mapping"]}))
    assert report.ok
    assert report.dead_lettered == {"a": ["index: mapping"]}


def test_two_documents_or_two_clusters_for_one_id_are_duplicates() -> None:
    report = reconcile(
        inputs(
            {"a": at(0), "b": at(1), "c": at(2)},
            documents={"a": ["i-1", "i-2"], "b": ["i-1"], "c": ["i-1"]},
            clusters={"b": {"x", "y"}, "c": {"c"}},
        )
    )
    assert not report.ok
    assert report.duplicated == {"a": "2 documents: i-1, i-2", "b": "dedup gave 2 clusters: x, y"}
    assert report.indexed == ["a", "b", "c"]  # duplicated, but not lost


def test_report_prints_counts_then_capped_ids() -> None:
    report = reconcile(inputs({f"id{i}": at(i) for i in range(5)}, documents={}))
    lines = format_report(report, "everything", show=2)
    assert "  lost           5" in lines
    assert lines[-1] == "  ... and 3 more (--show N or --json for all)"
    assert report.to_dict()["lost"] == 5
    assert set(report.to_dict()["ids"]["lost"]) == {f"id{i}" for i in range(5)}


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", NOW - timedelta(days=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("now-7d", NOW - timedelta(days=7)),
        ("now-1d+2h", NOW - timedelta(hours=22)),
        ("now", NOW),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_time_syntax_is_the_one_search_accepts(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "now-1M", "now/d", "7 days"])
def test_times_without_an_exact_instant_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(TimeSyntaxError, match="30d"):
        parse_time(text, now=NOW)
