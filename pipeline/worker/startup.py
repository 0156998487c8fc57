"""A worker's start, from exec to ready, and the one line that says where the time went.

A restarted worker (kill -9, a crash, a rolled pod) must process again within seconds
(issue 11.7). Most of that time is not Kafka's: it is Python importing the stages and
spaCy loading its model. ``wirewatch worker`` therefore starts the slow things first and
side by side (pipeline.cli.worker): the enrichment processes are spawned before anything
else, so each loads the model while the worker imports its stages, runs its setup in a
thread beside that, and joins its group; docs/decisions.md (issue 11) has the figures.

:class:`StartTimeline` records when each step ended, in seconds since the process was
started (``/proc``: the interpreter's own start-up counts), and the worker logs it once,
when it is ready, e.g.::

    start: ready 5.2s after exec (python and settings 0.6s, enrichment processes
    spawned 0.9s, app and stages 2.9s, setup 3.0s, Faust start 3.2s)
"""

from __future__ import annotations

import os
import time

_IMPORTED = time.monotonic()


def process_age() -> float:
    """Seconds since this process was started.

    Linux: the process start time from ``/proc/self/stat`` against the boot-time clock it
    is counted in (10 ms steps); elsewhere, since this module was imported.
    """
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED


class StartTimeline:
    """Named steps of a start, each with the process age when it ended."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def mark(self, step: str) -> float:
        age = process_age()
        self.steps.append((step, age))
        return age

    def line(self, final: str = "ready") -> str:
        """``start: <final> X s after exec (step A s, ...)``, marking ``final`` now."""
        end = process_age()
        steps = ", ".join(f"{name} {age:.1f}s" for name, age in self.steps)
        return f"start: {final} {end:.1f}s after exec ({steps})"
