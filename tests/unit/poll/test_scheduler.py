import asyncio
import time
from email.utils import formatdate

from pipeline.poll import scheduler
from pipeline.poll.scheduler import ScheduleConfig
from pipeline.poll.state import FeedState

CFG = ScheduleConfig(min_interval_s=300, max_interval_s=3600, default_interval_s=900)


def test_interval_adapts_within_bounds() -> None:
    assert scheduler.next_interval(None, True, None, CFG) == 450
    assert scheduler.next_interval(400, True, None, CFG) == 300  # floor
    assert scheduler.next_interval(900, False, None, CFG) == 1350
    assert scheduler.next_interval(3000, False, None, CFG) == 3600  # ceiling
    assert scheduler.next_interval(3000, False, 120, CFG) == 120  # the feed's override


def test_backoff_grows_and_is_capped() -> None:
    delays = [scheduler.backoff_delay(n, CFG) for n in range(1, 12)]
    assert 30 <= delays[0] <= 60
    assert 480 <= delays[4] <= 960
    assert all(d <= CFG.max_backoff_s for d in delays)


def test_retry_after_seconds_and_date() -> None:
    now = time.time()
    assert scheduler.parse_retry_after("120", now) == 120
    assert 3500 < scheduler.parse_retry_after(formatdate(now + 3600, usegmt=True), now) <= 3600
    assert scheduler.parse_retry_after("soon", now) is None
    assert scheduler.parse_retry_after(None, now) is None


def test_failure_honours_retry_after_and_parks_after_repeats() -> None:
    state, now = FeedState(url="https://a.example/rss"), 1000.0
    scheduler.record_failure(state, now, "HTTP 429", status=429, retry_after_s=7200, cfg=CFG)
    assert state.next_poll >= now + 7200 and state.parked_reason is None
    for _ in range(CFG.park_after - 1):
        scheduler.record_failure(state, now, "HTTP 500", status=500, cfg=CFG)
    assert state.parked_reason is not None and "HTTP 500" in state.parked_reason
    assert not scheduler.due(state, now + 10**9)


def test_permanent_failures_park_at_once() -> None:
    gone = FeedState(url="https://a.example/rss")
    scheduler.record_failure(gone, 0, "HTTP 410", status=410, cfg=CFG)
    assert gone.parked_reason == "HTTP 410"
    blocked = FeedState(url="https://b.example/rss")
    scheduler.record_failure(blocked, 0, "refused", reason="blocked-address", cfg=CFG)
    assert blocked.parked_reason == "refused"


def test_success_resets_failures() -> None:
    state = FeedState(url="https://a.example/rss", failures=3, last_error="x")
    scheduler.record_success(state, 50.0, 2, None, CFG)
    assert state.failures == 0 and state.last_error is None and state.last_new == 50.0
    assert state.next_poll == 50.0 + 450


def test_host_gate_limits_concurrency_and_holds() -> None:
    async def go() -> int:
        gate = scheduler.HostGate(per_host_concurrency=2, spacing_s=0)
        active = peak = 0

        async def hit() -> None:
            nonlocal active, peak
            async with gate.slot("a.example"):
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.01)
                active -= 1

        await asyncio.gather(*(hit() for _ in range(6)))
        gate.hold("a.example", 30)
        assert gate.held_for("a.example") > 29
        return peak

    assert asyncio.run(go()) == 2
