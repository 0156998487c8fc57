"""Readiness logic with a scripted probe and clock: what /readyz answers and why."""

from __future__ import annotations

from pipeline.poll.readiness import ReadinessMonitor


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_not_ready_until_evidence_then_only_while_it_is_fresh() -> None:
    clock, broker = Clock(), {"up": False}

    def probe() -> None:
        if not broker["up"]:
            raise TimeoutError("Unable to bootstrap from ['kafka:9093']")

    monitor = ReadinessMonitor(probe, fresh_s=15, clock=clock)
    assert not monitor.state().ready
    monitor.probe_once()
    state = monitor.state()
    assert not state.ready and "kafka unreachable: TimeoutError" in state.reason

    broker["up"] = True
    monitor.probe_once()
    assert monitor.state().ready

    broker["up"] = False
    monitor.probe_once()
    clock.now += 10  # one failed probe within the freshness window does not flap
    assert monitor.state().ready
    clock.now += 10
    state = monitor.state()
    assert not state.ready and "last success 20s ago" in state.reason


def test_an_acknowledged_delivery_counts_as_evidence() -> None:
    clock = Clock()

    def probe() -> None:
        raise OSError("probe says no")

    monitor = ReadinessMonitor(probe, fresh_s=15, clock=clock)
    monitor.probe_once()
    monitor.delivered()
    assert monitor.state().ready
    clock.now += 16
    assert not monitor.state().ready
