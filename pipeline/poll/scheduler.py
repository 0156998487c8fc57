"""When to poll each feed, and how hard to hit each host. Pure logic plus a small gate.

- Adaptive interval: halve after a poll that found new items, grow by half after one that
  did not, clamped to [min, max]; a feed's ``interval`` override pins it.
- Failures: exponential backoff with jitter, capped; ``park_after`` consecutive failures
  park the feed with its reason (shown by ``wirewatch feeds list``). A refused address or
  HTTP 410 parks at once: retrying cannot fix them.
- 429/503: Retry-After (seconds or HTTP date) is honoured for the feed and its whole host.
- Per host: at most ``per_host_concurrency`` requests at once, starts ``spacing_s`` apart.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from pipeline.poll.state import FeedState

PERMANENT_STATUSES = frozenset({410})
PERMANENT_REASONS = frozenset({"blocked-address", "invalid-url"})


@dataclass(frozen=True)
class ScheduleConfig:
    min_interval_s: float = 300.0
    max_interval_s: float = 6 * 3600.0
    default_interval_s: float = 900.0
    backoff_base_s: float = 60.0
    max_backoff_s: float = 6 * 3600.0
    retry_after_cap_s: float = 24 * 3600.0
    park_after: int = 8
    #: re-fetch without validators this often, for servers whose 304s lie
    full_fetch_every_s: float = 24 * 3600.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def next_interval(
    current: float | None, found_new: bool, override: float | None, cfg: ScheduleConfig
) -> float:
    if override:
        return float(override)
    interval = current or cfg.default_interval_s
    interval = interval * 0.5 if found_new else interval * 1.5
    return min(cfg.max_interval_s, max(cfg.min_interval_s, interval))


def backoff_delay(failures: int, cfg: ScheduleConfig, rng: random.Random | None = None) -> float:
    """Exponential with full jitter in the upper half, so failing feeds spread out."""
    ceiling = min(cfg.max_backoff_s, cfg.backoff_base_s * 2 ** max(0, failures - 1))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def record_success(
    state: FeedState, now: float, new_items: int, override: float | None, cfg: ScheduleConfig
) -> None:
    state.interval_s = next_interval(state.interval_s, new_items > 0, override, cfg)
    state.next_poll = now + state.interval_s
    state.failures = 0
    state.last_error = None
    state.last_polled = now
    state.polls += 1
    if new_items:
        state.last_new = now


def record_failure(
    state: FeedState,
    now: float,
    error: str,
    *,
    reason: str = "",
    status: int | None = None,
    retry_after_s: float | None = None,
    cfg: ScheduleConfig,
) -> None:
    state.failures += 1
    state.last_error = error
    state.last_status = status
    state.last_polled = now
    state.polls += 1
    if status in PERMANENT_STATUSES or reason in PERMANENT_REASONS:
        state.parked_reason = error
    elif state.failures >= cfg.park_after:
        state.parked_reason = f"{state.failures} consecutive failures, last: {error}"
    delay = backoff_delay(state.failures, cfg)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cfg.retry_after_cap_s))
    state.next_poll = now + delay


def due(state: FeedState, now: float) -> bool:
    return state.parked_reason is None and state.next_poll <= now


class HostGate:
    """Per-host concurrency and spacing, and host-wide holds after 429/503."""

    def __init__(self, per_host_concurrency: int = 2, spacing_s: float = 1.0) -> None:
        self.concurrency, self.spacing_s = per_host_concurrency, spacing_s
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    def hold(self, host: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._held_until[host] = max(until, self._held_until.get(host, 0.0))

    def held_for(self, host: str) -> float:
        return max(0.0, self._held_until.get(host, 0.0) - time.monotonic())

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        sem = self._sems.get(host)
        if sem is None:
            sem = self._sems[host] = asyncio.Semaphore(self.concurrency)
        async with sem:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            if self.spacing_s > 0:
                self._next_start[host] = start + self.spacing_s
            if start > now:
                await asyncio.sleep(start - now)
            yield
