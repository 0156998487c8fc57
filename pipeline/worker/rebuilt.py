"""In-memory state derived from a changelog-backed table, rebuilt after each recovery.

A stateful stage keeps its truth in a Faust table (pipeline.worker.tables) and an index
derived from it in memory: the deduplicator's LSH bands, the event clusterer's inverted
index, the claim tracker's lookups and eviction order. Faust refills the table from its
changelog whenever it is recovered (a start, a partition moving to this worker); the
derived index is then out of date and must be built again from what came back.

:class:`Rebuilt` is that index: built on first use, dropped by ``invalidate``, built again
on the next use, with one log line per build. :func:`rebuild_on_recovery` connects a
table's recovery to the ``invalidate`` of the stage state it feeds. A stage builds its
state before the per-record guard (``try``/``Rejected``), so a state that cannot be read
crashes the worker instead of dead-lettering every record after it.

Nothing here imports Faust: a stage's state is testable over a dict.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Invalidates(Protocol):
    """Stage state that drops what it derived from its table when told the table changed."""

    def invalidate(self) -> None: ...


class Rebuilt(Generic[T]):
    """A structure built from a table on first use and again after each ``invalidate``.

    ``build`` reads the table and returns the structure; ``size`` counts what it holds
    for the log line ``"<name> state rebuilt: <size> <unit> in the window"``.
    """

    def __init__(
        self, build: Callable[[], T], *, name: str, unit: str, size: Callable[[T], int]
    ) -> None:
        self._build = build
        self.name = name
        self.unit = unit
        self._size = size
        self._value: T | None = None

    @property
    def built(self) -> bool:
        return self._value is not None

    def invalidate(self) -> None:
        self._value = None

    def get(self) -> T:
        if self._value is None:
            self._value = self._build()
            log.info(
                "%s state rebuilt: %d %s in the window",
                self.name,
                self._size(self._value),
                self.unit,
            )
        return self._value


def rebuild_on_recovery(table: Any, state: Invalidates) -> Callable[[], Awaitable[None]]:
    """Invalidate ``state`` whenever ``table`` (a Faust table) has been recovered."""

    async def recovered() -> None:
        state.invalidate()

    table.on_recover(recovered)
    return recovered
