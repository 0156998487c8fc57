"""The worker's log filter: a broker outage is a few lines, not a thousand."""

from __future__ import annotations

import logging

from pipeline.cli.worker import RepeatFilter


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_repeats_of_one_client_failure_are_held_back_and_counted() -> None:
    now = [0.0]
    repeats = RepeatFilter(window_s=30, clock=lambda: now[0])
    template = "Unable connect to node with id %s: %s"
    passed = []
    for step in range(100):  # one attempt every 0.5 s for 50 s
        now[0] = step * 0.5
        r = record("aiokafka.conn", template, 1, "Connect call failed")
        if repeats.filter(r):
            passed.append(r.getMessage())
    assert passed == [
        "Unable connect to node with id 1: Connect call failed",
        "Unable connect to node with id 1: Connect call failed (59 more like this in the last 30s)",
    ]


def test_our_own_records_are_never_held_back() -> None:
    repeats = RepeatFilter(clock=lambda: 0.0)
    for offset in range(5):
        r = record("pipeline.worker.deadletter", "dead letter: %s", offset)
        assert repeats.filter(r)
