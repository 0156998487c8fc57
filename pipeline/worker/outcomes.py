"""Every record a stage reads is counted exactly once, under one outcome.

Outcomes: ``processed`` (passed on / indexed), ``duplicate`` (passed on as a copy in a
story cluster), ``dead_lettered`` (unparseable, schema-invalid, rejected by Elasticsearch:
on the dead-letter topic with its reason). Nothing is dropped without one of these.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge

Outcome = Literal["processed", "duplicate", "dead_lettered"]

RECORDS = Counter(
    "wirewatch_stream_records_total",
    "Records each stream stage finished with, by outcome",
    ["stage", "outcome"],
)
DEAD_LETTERS = Counter(
    "wirewatch_dead_letters_total",
    "Records sent to the dead-letter topic, by stage and error type",
    ["stage", "error_type"],
)
DEDUP_MATCHES = Counter(
    "wirewatch_dedup_matches_total",
    "Dedup decisions by layer (new, url, content, near, replay)",
    ["match"],
)
DEDUP_STATE = Gauge("wirewatch_dedup_state_entries", "Articles held in the dedup window")
EVENT_MATCHES = Counter(
    "wirewatch_event_matches_total",
    "Event decisions by match (new, joined, story, replay)",
    ["match"],
)
EVENT_STATE = Gauge("wirewatch_event_state_events", "Events held in the event window")


def count(stage: str, outcome: Outcome, n: int = 1) -> None:
    if n:
        RECORDS.labels(stage, outcome).inc(n)
