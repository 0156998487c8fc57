"""The faust-streaming defect pipeline.worker.faust_fixes works around (issue 11.2)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.types import TP as FaustTP
from intervaltree import IntervalTree

from pipeline.worker import faust_fixes
from pipeline.worker.faust_fixes import ORIGINAL_NEW_OFFSET, new_offset

TP = ("wirewatch.alerts", 0)


def consumer(committed: int | None, acked: list[int]) -> SimpleNamespace:
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}),
        _acked_index=defaultdict(set, {TP: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
        _read_offset=defaultdict(lambda: None),
    )


def test_faust_commits_past_one_record_still_in_flight() -> None:
    # offset 10 is the next to commit and still being processed; 11-13 are done
    assert ORIGINAL_NEW_OFFSET(consumer(10, [11, 12, 13]), TP) == 14  # 10 would be lost


def test_fixed_commit_waits_for_the_head_then_commits_the_run() -> None:
    waiting = consumer(10, [11, 12, 13])
    assert new_offset(waiting, TP) is None
    waiting._acked[TP].append(10)
    waiting._acked_index[TP].add(10)
    assert new_offset(waiting, TP) == 14
    assert waiting._acked[TP] == []


def test_fixed_commit_stops_at_a_hole_and_fills_recorded_gaps() -> None:
    assert new_offset(consumer(10, [10, 11, 13]), TP) == 12
    gapped = consumer(10, [10, 11, 14])
    gapped._gap[TP].addi(12, 14)  # offsets 12-13 do not exist (compaction)
    assert new_offset(gapped, TP) == 15
    assert new_offset(consumer(None, [5, 6]), TP) == 7  # a new group, nothing in hand


def test_with_nothing_committed_a_record_still_in_hand_holds_the_commit() -> None:
    # a new group: offset 0 is still being processed while 1-2 (another agent) are done
    fresh = consumer(None, [1, 2])
    head = SimpleNamespace(tp=TP, offset=0, acked=False)
    fresh._unacked_messages = [head]
    assert ORIGINAL_NEW_OFFSET(fresh, TP) == 3  # Faust's: 0 would be lost on a crash
    fresh = consumer(None, [1, 2])
    fresh._unacked_messages = [head]
    assert new_offset(fresh, TP) is None
    head.acked = True
    fresh._acked[TP].insert(0, 0)
    fresh._acked_index[TP].add(0)
    assert new_offset(fresh, TP) == 3


def fetched(offsets: list[int]) -> list[tuple[FaustTP, SimpleNamespace]]:
    tp = FaustTP(*TP)
    return [(tp, SimpleNamespace(offset=offset)) for offset in offsets]


def passed(
    monkeypatch: pytest.MonkeyPatch, fake: SimpleNamespace, records: list
) -> list[tuple[int, int | None]]:
    """The offsets the fixed getmany passes on, each with Faust's read offset before it."""

    async def original(self: object, timeout: float):  # what aiokafka fetched
        for record in records:
            yield record

    monkeypatch.setattr(faust_fixes, "ORIGINAL_GETMANY", original)

    async def drain() -> list[tuple[int, int | None]]:
        seen = []
        async for tp, message in faust_fixes.getmany(fake, 1.0):
            seen.append((message.offset, fake._read_offset[tp]))
            fake._read_offset[tp] = message.offset  # as Faust's drain loop does
        return seen

    return asyncio.run(drain())


def test_a_record_fetched_again_after_it_was_finished_is_not_passed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = FaustTP(*TP)
    # a seek sent a never-committed partition back to 0: 0-2 are done, 3 was dropped
    fake = consumer(None, [0, 1, 2])
    fake._acked_index = defaultdict(set, {tp: {0, 1, 2}})
    # 3 and 4 go on, and Faust reads 3 right after 2: no jump it would fill as acknowledged
    assert passed(monkeypatch, fake, fetched([0, 1, 2, 3, 4])) == [(3, 2), (4, 3)]


def test_records_below_an_offset_being_committed_count_as_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = FaustTP(*TP)
    fake = consumer(None, [0, 1, 2])
    fake._acked = defaultdict(list, {tp: [0, 1, 2]})
    fake._acked_index = defaultdict(set, {tp: {0, 1, 2}})
    assert new_offset(fake, tp) == 3  # acked index emptied; the commit is on its way
    assert passed(monkeypatch, fake, fetched([1, 2, 3])) == [(3, 2)]


def test_a_revoked_partition_forgets_what_was_finished_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = FaustTP(*TP)
    fake = consumer(None, [0, 1])
    fake._acked = defaultdict(list, {tp: [0, 1]})
    fake._acked_index = defaultdict(set, {tp: {0, 1}})
    new_offset(fake, tp)
    revoked: list = []

    async def original_revoked(self: object, tps: set) -> None:
        revoked.append(tps)

    monkeypatch.setattr(faust_fixes, "ORIGINAL_ON_PARTITIONS_REVOKED", original_revoked)
    asyncio.run(faust_fixes.on_partitions_revoked(fake, {tp}))
    assert revoked == [{tp}]
    assert [offset for offset, _ in passed(monkeypatch, fake, fetched([0, 1]))] == [0, 1]
