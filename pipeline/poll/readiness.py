"""Poller readiness: "can deliver to Kafka now", for /readyz.

Two kinds of evidence, either recent enough: Kafka acknowledged a delivery, or a bounded
metadata probe found the articles topic with a leader for every partition. The probe runs
in a thread of its own every ``interval_s``, so /readyz answers at once from the latest
result and a hung broker cannot hang the probe endpoint (Kubernetes gives it 5 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str  # the /readyz body: why not, or what proved it


class ReadinessMonitor:
    """``probe`` raises when Kafka cannot take a delivery; ``fresh_s`` is how old evidence
    may be and still count (a little over two probe intervals, so one slow probe does not
    flap the pod)."""

    def __init__(
        self,
        probe: Callable[[], None],
        *,
        interval_s: float = 5.0,
        fresh_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._probe, self._close = probe, close
        self.interval_s, self.fresh_s, self._clock = interval_s, fresh_s, clock
        self._last_ok: float | None = None
        self._last_error = "no delivery and no Kafka probe yet"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delivered(self) -> None:
        """Kafka acknowledged a delivery just now."""
        with self._lock:
            self._last_ok = self._clock()

    def probe_once(self) -> None:
        try:
            self._probe()
        except Exception as exc:  # every failure is a reason not to be ready, never a crash
            with self._lock:
                self._last_error = f"kafka unreachable: {type(exc).__name__}: {exc}"
            log.debug("readiness probe failed", exc_info=True)
        else:
            self.delivered()

    def state(self) -> Readiness:
        with self._lock:
            last_ok, error = self._last_ok, self._last_error
        if last_ok is not None and self._clock() - last_ok <= self.fresh_s:
            return Readiness(True, "ready")
        if last_ok is None:
            return Readiness(False, error)
        return Readiness(False, f"{error} (last success {self._clock() - last_ok:.0f}s ago)")

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.probe_once()
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, name="poller-readiness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 10)
        if self._close is not None:
            self._close()
