"""What the in-process benches measure, written once: time per item of a step, and the
memory a built structure holds.

``per_item`` runs one step over every item under a clock and returns seconds per item with
the step's results, so a bench tallies decisions after the clock stops. Pass
``time.process_time`` where other processes load the machine (process time is not inflated
by them); the default is wall time (``time.perf_counter``).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def per_item(
    step: Callable[[T], R],
    items: Sequence[T],
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, list[R]]:
    """Seconds per item of ``step`` over ``items`` (by ``clock``), and its results."""
    results: list[R] = []
    started = clock()
    for item in items:
        results.append(step(item))
    return (clock() - started) / len(items), results


def measure_memory(build: Callable[[], Any]) -> tuple[float, Any]:
    """Bytes that ``build``'s result holds (tracemalloc, after collection), and the result."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, keep
