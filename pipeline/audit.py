"""Accounting: did every article that reached the raw topic end somewhere?

``reconcile`` takes what the real topics and the index hold (read by
``pipeline.adapters.audit_reader``) and sorts every distinct article id seen on the raw
topic into exactly one outcome:

- **indexed**: a document with that id is in the articles alias (a story duplicate is
  indexed too, as a copy in its cluster; the dedup stage's verdict is recorded on the
  deduped topic and counted apart as ``story_duplicates``);
- **dead-lettered**: not indexed, but a stage put it on the dead-letter topic with a reason;
- **pending**: not yet indexed and some stage has not committed past it yet (still in
  flight: a running worker will get to it);
- **lost**: none of those. Every stage's consumer group has committed past the record, so
  no worker will ever look at it again, and it is neither indexed nor dead-lettered.

Separately, **duplicated**: an article id held by more than one document (the alias spans
rolled-over indices, and an id is unique only within one index), or one the dedup stage
put into two different story clusters (a record processed twice with diverging state).
Records re-sent to the raw topic under the same id (a re-poll after a poller crash) are
counted as ``resent``: they are harmless, because the document id is the article id.

This module is pure logic: no Kafka, no Elasticsearch, testable with plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.vocabulary import TIME_HELP, TimeSyntaxError


@dataclass(frozen=True)
class Position:
    """Where one record sits: topic partition and offset."""

    partition: int
    offset: int


@dataclass(frozen=True)
class Stage:
    """What one intermediate topic holds for the audited ids, and how far its group read."""

    name: str  # "dedup" reads raw, "enrich" reads deduped, "index" reads enriched
    positions: Mapping[str, list[Position]]  # article id -> records of it on the input topic
    committed: Mapping[int, int]  # partition -> the group's next offset to read (0: none)


@dataclass(frozen=True)
class AuditInputs:
    raw: Stage  # the raw topic, read by the dedup stage
    deduped: Stage  # the deduped topic, read by enrichment
    enriched: Stage  # the enriched topic, read by the index stage
    clusters: Mapping[str, set[str]]  # article id -> cluster ids the dedup stage gave it
    matches: Mapping[str, str]  # article id -> how it joined its story (first verdict)
    documents: Mapping[str, list[str]]  # article id -> indices holding a document with it
    dead_letters: Mapping[str, list[str]]  # article id -> "stage: reason" of each dead letter


@dataclass
class AuditReport:
    raw_records: int = 0
    articles: int = 0  # distinct ids on the raw topic
    resent: int = 0  # raw records beyond the first of their id
    indexed: list[str] = field(default_factory=list)
    story_duplicates: int = 0  # indexed copies the dedup stage matched to an earlier story
    dead_lettered: dict[str, list[str]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # id -> where it waits
    lost: dict[str, str] = field(default_factory=dict)  # id -> where it went missing
    duplicated: dict[str, str] = field(default_factory=dict)  # id -> what is doubled

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing duplicated (pending records are not a failure yet)."""
        return not self.lost and not self.duplicated

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw_records": self.raw_records,
            "articles": self.articles,
            "resent": self.resent,
            "indexed": len(self.indexed),
            "story_duplicates": self.story_duplicates,
            "dead_lettered": len(self.dead_lettered),
            "pending": len(self.pending),
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "ids": {
                "dead_lettered": self.dead_lettered,
                "pending": self.pending,
                "lost": self.lost,
                "duplicated": self.duplicated,
            },
        }


def _unread(stage: Stage, positions: Iterable[Position]) -> bool:
    """Some record is at or past the group's committed offset: the stage will read it."""
    return any(p.offset >= stage.committed.get(p.partition, 0) for p in positions)


def _missing_after(inputs: AuditInputs, article_id: str) -> tuple[str, str]:
    """("pending" | "lost", where) for an id that is neither indexed nor dead-lettered.

    Walks the stages in flow order: the first stage whose input holds the id but that has
    not committed past it is where it waits; the first stage that committed past it
    without its output holding it is where it was lost.
    """
    flow = (
        (inputs.raw, inputs.deduped, "the deduped topic"),
        (inputs.deduped, inputs.enriched, "the enriched topic"),
        (inputs.enriched, None, "the index"),
    )
    for stage, output, target in flow:
        positions = stage.positions.get(article_id, [])
        if _unread(stage, positions):
            return "pending", f"waiting for the {stage.name} stage"
        if output is not None and article_id in output.positions:
            continue
        return "lost", f"the {stage.name} stage committed past it; it never reached {target}"
    raise AssertionError("unreachable")  # the last stage always returns


def reconcile(inputs: AuditInputs) -> AuditReport:
    report = AuditReport()
    raw = inputs.raw.positions
    report.articles = len(raw)
    report.raw_records = sum(len(p) for p in raw.values())
    report.resent = report.raw_records - report.articles
    for article_id in sorted(raw):
        indices = inputs.documents.get(article_id, [])
        clusters = inputs.clusters.get(article_id, set())
        if len(indices) > 1:
            report.duplicated[article_id] = f"{len(indices)} documents: {', '.join(indices)}"
        elif len(clusters) > 1:
            report.duplicated[article_id] = f"dedup gave {len(clusters)} clusters: " + ", ".join(
                sorted(clusters)
            )
        if indices:
            report.indexed.append(article_id)
            if inputs.matches.get(article_id, "new") != "new":
                report.story_duplicates += 1
        elif article_id in inputs.dead_letters:
            report.dead_lettered[article_id] = inputs.dead_letters[article_id]
        else:
            outcome, where = _missing_after(inputs, article_id)
            (report.pending if outcome == "pending" else report.lost)[article_id] = where
    return report


# --- time range -----------------------------------------------------------------------------

_UNIT = {"w": "weeks", "d": "days", "h": "hours", "H": "hours", "m": "minutes", "s": "seconds"}
_AGO = re.compile(r"^(\d+)([wdhHms])$")
_MATH = re.compile(r"^now((?:[+-]\d+[wdhHms])*)$")
_STEP = re.compile(r"([+-])(\d+)([wdhHms])")


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """A point in time from the command-line syntax ``search`` uses (``30d``, ``now-7d``,
    ISO date or date-time; naive means UTC). Month/year steps and rounding are refused:
    a Kafka timestamp range needs an exact instant."""
    now = now or datetime.now(UTC)
    text = value.strip()
    if match := _AGO.match(text):
        return now - timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})
    if match := _MATH.match(text):
        moment = now
        for sign, amount, unit in _STEP.findall(match.group(1)):
            step = timedelta(**{_UNIT[unit]: int(amount)})
            moment = moment + step if sign == "+" else moment - step
        return moment
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeSyntaxError(f"{value!r} is not a time: use {TIME_HELP}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- printing ---------------------------------------------------------------------------------


def format_report(report: AuditReport, scope: str, show: int) -> list[str]:
    """The lines an operator reads: counts first, then up to ``show`` ids per problem."""
    lines = [
        f"audit of {scope}",
        f"  raw topic      {report.raw_records} records, {report.articles} articles"
        f" ({report.resent} re-sent under an id already seen)",
        f"  indexed        {len(report.indexed)}"
        f" ({report.story_duplicates} of them copies of an earlier story)",
        f"  dead-lettered  {len(report.dead_lettered)}",
        f"  pending        {len(report.pending)}",
        f"  lost           {len(report.lost)}",
        f"  duplicated     {len(report.duplicated)}",
    ]
    sections: tuple[tuple[str, Mapping[str, Any]], ...] = (
        ("lost", report.lost),
        ("duplicated", report.duplicated),
        ("dead-lettered", report.dead_lettered),
        ("pending", report.pending),
    )
    for title, ids in sections:
        if not ids:
            continue
        lines.append(f"{title}:")
        for article_id in list(ids)[:show]:
            detail = ids[article_id]
            text = "; ".join(detail) if isinstance(detail, list) else detail
            lines.append(f"  {article_id}  {text}")
        if len(ids) > show:
            lines.append(f"  ... and {len(ids) - show} more (--show N or --json for all)")
    return lines
