"""State derived from a table: built once, again only after the table was recovered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from pipeline.worker.rebuilt import Rebuilt, rebuild_on_recovery


class RecoveringTable(dict[str, int]):
    """A dict with Faust's ``on_recover`` hook; ``recover`` runs the callbacks as Faust does."""

    def __init__(self) -> None:
        super().__init__()
        self.callbacks: list[Callable[[], Awaitable[None]]] = []

    def on_recover(self, fun: Callable[[], Awaitable[None]]) -> None:
        self.callbacks.append(fun)

    def recover(self, contents: dict[str, int]) -> None:
        self.clear()
        self.update(contents)
        for fun in self.callbacks:
            asyncio.run(fun())


def test_built_on_first_use_once_and_again_after_invalidate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = {"a": 1, "b": 2}
    builds: list[dict[str, int]] = []

    def build() -> dict[str, int]:
        builds.append(dict(table))
        return dict(table)

    state = Rebuilt(build, name="test", unit="entries", size=len)
    assert not state.built and builds == []
    with caplog.at_level(logging.INFO, logger="pipeline.worker.rebuilt"):
        assert state.get() == {"a": 1, "b": 2}
        assert state.get() is state.get()
        assert len(builds) == 1
        table["c"] = 3
        assert "c" not in state.get()  # derived: not read again until invalidated
        state.invalidate()
        assert not state.built
        assert state.get() == {"a": 1, "b": 2, "c": 3}
    assert len(builds) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "test state rebuilt: 2 entries in the window",
        "test state rebuilt: 3 entries in the window",
    ]


def test_a_recovered_table_invalidates_the_state_it_feeds() -> None:
    table = RecoveringTable()
    table["a"] = 1
    state = Rebuilt(lambda: sum(table.values()), name="test", unit="points", size=int)
    rebuild_on_recovery(table, state)
    assert state.get() == 1
    table.recover({"a": 1, "b": 41})  # another worker's writes, read back from the changelog
    assert not state.built
    assert state.get() == 42


def test_a_build_that_fails_is_tried_again_on_the_next_use() -> None:
    calls = []

    def build() -> list[int]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("unreadable entry")
        return [1]

    state = Rebuilt(build, name="test", unit="entries", size=len)
    with pytest.raises(ValueError):
        state.get()
    assert state.get() == [1] and len(calls) == 2
