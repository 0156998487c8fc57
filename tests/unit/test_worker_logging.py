"""The worker's log filter: a broker outage reads as state changes, not a thousand lines."""

from __future__ import annotations

import logging

import pytest

from pipeline.cli.worker import ElasticsearchOutage, KafkaAnswers, KafkaOutage


def record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def outage(
    filt: KafkaOutage, now: list[float], seconds: float, every: float = 0.5
) -> list[logging.LogRecord]:
    """Client failures every ``every`` s for ``seconds`` (six kinds, as aiokafka logs them
    during a broker restart); the records the filter lets through."""
    templates = [
        ("aiokafka.conn", "Unable connect to node with id %s: %s"),
        ("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s"),
        ("aiokafka.cluster", "Unable to request metadata from %s: %s"),
        ("aiokafka.consumer.group_coordinator", "Error sending HeartbeatRequest to %s: %s"),
        ("aiokafka.producer.sender", "Got error produce response: %s %s"),
        ("faust.transport.consumer", "Consumer error %s: %s"),
    ]
    passed = []
    start = now[0]
    step = 0
    while now[0] - start < seconds:
        name, template = templates[step % len(templates)]
        r = record(name, template, 1, "Connect call failed")
        if filt.filter(r):
            passed.append(r)
        step += 1
        now[0] += every
    return passed


def test_a_broker_restart_is_one_line_down_and_one_line_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    filt = KafkaOutage(window_s=30, announce_after_s=3, clock=lambda: now[0])
    passed = outage(filt, now, seconds=9)
    assert [r.getMessage() for r in passed] == [
        "Kafka failing for 3s, retrying: Unable connect to node with id 1: Connect call failed"
        " (7 client errors held back until Kafka answers again)"
    ]
    assert [r.levelno for r in passed] == [logging.ERROR]
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        filt.answered()
        filt.answered()  # every later record: nothing more to say
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka answering again after 9s (18 client errors held back)"
    ]
    # the next outage is a state change of its own
    assert len(outage(filt, now, seconds=5)) == 1


def test_blips_shorter_than_the_announce_delay_print_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Just after a broker restart the group coordinator is still loading: heartbeats fail
    for a moment between successful fetches. That is not an outage."""
    now = [0.0]
    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        for _ in range(20):
            assert outage(filt, now, seconds=1, every=0.2) == []
            filt.answered()
            now[0] += 0.3
    assert caplog.records == []


def test_an_outage_the_client_then_falls_silent_about_is_announced_on_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One failure, then nothing (an idle consumer retrying its connection): the timer
    says it at the announce delay; a blip cancels the timer and says nothing."""
    now = [0.0]
    timers: list[tuple[float, object]] = []
    cancelled: list[int] = []

    def schedule(delay: float, callback: object) -> object:
        timers.append((delay, callback))
        return lambda: cancelled.append(len(timers))

    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0], schedule=schedule)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        assert outage(filt, now, seconds=0.5) == []  # a blip: one failure
        filt.answered()
        assert cancelled == [1] and caplog.records == []
        began = now[0]
        assert outage(filt, now, seconds=0.5) == []  # one failure, then silence
        delay, announce = timers[-1]
        now[0] = began + delay
        announce()  # type: ignore[operator]
        assert filt.failing_for() == pytest.approx(3.0)
        assert outage(filt, now, seconds=1) == []  # said already: held back
        filt.answered()
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING]
    assert (
        caplog.records[0]
        .getMessage()
        .startswith("Kafka failing for 3s, retrying: Unable connect to node with id 1")
    )
    assert caplog.records[1].getMessage().startswith("Kafka answering again after 4s")


def test_a_long_outage_says_it_is_still_retrying_twice_a_minute() -> None:
    now = [0.0]
    filt = KafkaOutage(window_s=30, announce_after_s=3, clock=lambda: now[0])
    passed = outage(filt, now, seconds=70)
    messages = [r.getMessage() for r in passed]
    assert len(messages) == 3
    assert messages[1].startswith("Kafka still failing after 33s, retrying (67 client errors")
    assert messages[2].startswith("Kafka still failing after 63s")
    assert [r.levelno for r in passed] == [logging.ERROR, logging.WARNING, logging.WARNING]


def test_tracebacks_are_dropped_and_a_second_handler_sees_the_same_verdict() -> None:
    now = [0.0]
    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0])
    assert not filt.filter(record("aiokafka", "first"))
    now[0] = 5.0
    try:
        raise ConnectionError("Connect call failed")
    except ConnectionError:
        import sys

        r = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    assert filt.filter(r) and r.exc_info is None
    assert filt.filter(r)  # the same record through another handler: still passed, once
    held = record("aiokafka", "again")
    assert not filt.filter(held) and not filt.filter(held)
    assert filt.held == 3


def test_our_own_records_and_client_info_lines_are_never_held_back() -> None:
    filt = KafkaOutage(clock=lambda: 0.0)
    filt.filter(record("aiokafka", "first failure"))
    for offset in range(5):
        assert filt.filter(record("pipeline.worker.deadletter", "dead letter: %s", offset))
        assert filt.filter(record("aiokafka.consumer", "joined group", level=logging.INFO))


class _Committing:
    """What the sensor reads of Faust's consumer: the offsets it last committed."""

    def __init__(self) -> None:
        self._committed_offset: dict[str, int | None] = {"raw-0": 5}

    def commit(self, sensor: KafkaAnswers, moved: bool) -> None:
        state = sensor.on_commit_initiated(self)
        if moved:
            self._committed_offset["raw-0"] = (self._committed_offset["raw-0"] or 0) + 1
        sensor.on_commit_completed(self, state)


def test_only_a_commit_that_moved_offsets_is_kafka_answering() -> None:
    """Faust's commit timer completes every 2.8 s with nothing to commit, broker or not."""
    filt = KafkaOutage(clock=lambda: 0.0)
    sensor = KafkaAnswers(filt)
    consumer = _Committing()
    filt.filter(record("aiokafka", "down"))
    consumer.commit(sensor, moved=False)
    assert filt.since is not None  # still an outage
    consumer.commit(sensor, moved=True)
    assert filt.since is None


def test_the_sensor_reports_kafka_answering() -> None:
    filt = KafkaOutage(clock=lambda: 0.0)
    sensor = KafkaAnswers(filt)
    consumer = _Committing()
    for signal in (
        lambda: sensor.on_message_in(None, 1, None),
        lambda: consumer.commit(sensor, moved=True),
        lambda: sensor.on_send_completed(None, None, None),
        lambda: sensor.on_assignment_completed(None, None),
    ):
        filt.filter(record("aiokafka", "down"))
        assert filt.since is not None
        signal()
        assert filt.since is None


def test_an_elasticsearch_outage_is_a_line_down_and_a_line_back_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """elastic_transport logs a traceback per failed request and a line per node timeout;
    it marks the node alive again after the first request that gets through."""
    now = [0.0]
    filt = ElasticsearchOutage(announce_after_s=3, clock=lambda: now[0])
    node = "Node <AiohttpHttpNode(http://127.0.0.1:9200)>"
    passed = []
    for attempt in range(30):  # one failing request a second for 30 s
        now[0] = float(attempt)
        for r in (
            record("elastic_transport.node_pool", "%s has failed for %d times in a row", node, 1),
            record("elastic_transport.transport", "Retrying request after failure", level=30),
        ):
            if filt.filter(r):
                passed.append(r)
    assert [r.getMessage()[:40] for r in passed] == ["Elasticsearch failing for 3s, retrying: "]
    assert passed[0].exc_info is None
    alive = record("elastic_transport.node_pool", "%s has been marked alive", node, level=30)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        assert not filt.filter(alive)
    assert [r.getMessage() for r in caplog.records] == [
        "Elasticsearch answering again after 29s (60 client errors held back)"
    ]
    # marked alive with no outage to end (a blip): nothing at all
    assert not filt.filter(record("elastic_transport.node_pool", "%s has been marked alive", node))


# --- the bounded stop (StopTimer) ---------------------------------------------------------


def stop_timer(filt: KafkaOutage, now: list[float], grace_s: float = 8.0):  # -> (timer, exits)
    from pipeline.cli.worker import StopTimer

    exits: list[int] = []
    timer = StopTimer(grace_s, filt, down_wait_s=1.0, clock=lambda: now[0], exit=exits.append)
    return timer, exits


def test_a_stop_with_kafka_down_ends_a_second_in_with_one_line_and_status_0(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0])
    outage(filt, now, seconds=5)  # announced: Kafka failing for 3 s without an answer
    timer, exits = stop_timer(filt, now)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        now[0] += 0.5
        assert not timer.check() and exits == []  # what needs no broker gets its second
        now[0] += 0.5
        assert timer.check() and exits == [0]
    assert [r.getMessage() for r in caplog.records] == [
        "stopped without Kafka (unreachable for 6s): records not yet committed will be redelivered"
    ]
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_kafka_going_down_during_the_stop_ends_it_once_that_is_an_outage() -> None:
    now = [0.0]
    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0])
    timer, exits = stop_timer(filt, now)
    outage(filt, now, seconds=2.5)  # failing, not yet for the announce delay: a blip so far
    assert not timer.check()
    outage(filt, now, seconds=1)
    assert timer.check() and exits == [0]
    assert now[0] < 8.0  # well before the grace period


def test_a_stop_that_hangs_with_kafka_answering_ends_at_the_grace_period_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    filt = KafkaOutage(announce_after_s=3, clock=lambda: now[0])
    outage(filt, now, seconds=5)
    filt.answered()  # Kafka is back before the stop: waiting for it is worth it
    timer, exits = stop_timer(filt, now)
    with caplog.at_level(logging.INFO, logger="pipeline.cli.worker"):
        caplog.clear()
        now[0] += 7.9
        assert not timer.check()
        now[0] += 0.1
        assert timer.check() and exits == [75]
    assert [(r.levelno, r.getMessage()[:30]) for r in caplog.records] == [
        (logging.ERROR, "not stopped 8s after SIGTERM (")
    ]


# --- an ACL taken away while running (KafkaRefusal) ---------------------------------------


def raised_in(path: str, exc: BaseException) -> BaseException:
    """``exc`` raised from code that claims to live at ``path`` (an aiokafka module)."""
    try:
        exec(compile("raise exc", path, "exec"), {"exc": exc})
    except BaseException as raised:
        return raised
    raise AssertionError("not raised")


def crash_record(exc: BaseException, name: str = "faust.agents.agent") -> logging.LogRecord:
    return logging.LogRecord(
        name, logging.ERROR, __file__, 1, "Crashed reason=%r", (exc,), (type(exc), exc, None)
    )


def test_a_lost_read_acl_is_one_line_naming_user_topic_and_operation() -> None:
    from aiokafka.errors import TopicAuthorizationFailedError

    from pipeline.cli.worker import KafkaRefusal

    filt = KafkaRefusal("wirewatch-worker")
    exc = raised_in(
        "/venv/aiokafka/consumer/fetcher.py",
        TopicAuthorizationFailedError("wirewatch.articles.raw"),
    )
    try:
        raise RuntimeError("agent crashed") from exc  # found anywhere in the chain
    except RuntimeError as wrapped:
        first = crash_record(wrapped)
    assert filt.filter(first)
    assert first.getMessage() == (
        "Kafka user 'wirewatch-worker' is not allowed Read on topic wirewatch.articles.raw"
        " (TopicAuthorizationFailedError): grant the ACL (k8s/base/kafka/users.yaml) or set"
        " WIREWATCH_KAFKA_USERNAME to the service's own user; stopping"
    )
    assert first.exc_info is None and first.levelno == logging.ERROR
    assert filt.filter(first)  # a second handler sees the same verdict
    # Faust logs the same crash again on its way out: dropped
    assert not filt.filter(crash_record(exc, "mode.worker"))
    # everything else passes untouched
    other = crash_record(ValueError("a bug"))
    assert filt.filter(other) and other.exc_info is not None
    assert filt.filter(record("faust.worker", "Stopping...", level=logging.INFO))


def test_a_lost_write_or_group_acl_names_what_it_lacks() -> None:
    from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

    from pipeline.cli.worker import KafkaRefusal

    write = raised_in(
        "/venv/aiokafka/producer/sender.py",
        TopicAuthorizationFailedError({"wirewatch.articles.deduped"}),
    )
    group = GroupAuthorizationFailedError("wirewatch-worker")
    lines = []
    for exc in (write, group):
        r = crash_record(exc)
        assert KafkaRefusal("wirewatch-worker").filter(r)
        lines.append(r.getMessage().split(": grant")[0])
    assert lines == [
        "Kafka user 'wirewatch-worker' is not allowed Write on topic wirewatch.articles.deduped"
        " (TopicAuthorizationFailedError)",
        "Kafka user 'wirewatch-worker' is not allowed Read on group wirewatch-worker"
        " (GroupAuthorizationFailedError)",
    ]


def test_the_refusal_of_faust_fetchers_crash_is_not_held_as_an_outage() -> None:
    """Faust's fetcher logs its crash through ``faust.transport.consumer``, one of the
    loggers the outage filter holds: the refusal line must still reach the log."""
    from aiokafka.errors import TopicAuthorizationFailedError

    from pipeline.cli.worker import KafkaRefusal

    refusal, kafka = KafkaRefusal("wirewatch-worker"), KafkaOutage()
    exc = TopicAuthorizationFailedError("wirewatch.articles.raw")
    crash = crash_record(exc, "faust.transport.consumer")
    assert refusal.filter(crash) and kafka.filter(crash)
    assert "is not allowed" in crash.getMessage()
    again = crash_record(exc, "faust.transport.consumer")
    assert not (refusal.filter(again) and kafka.filter(again))
    assert kafka.failing_for() is None  # and it started no outage
