"""The faust-streaming defect pipeline.worker.faust_fixes works around (issue 11.2)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from intervaltree import IntervalTree

from pipeline.worker.faust_fixes import ORIGINAL_NEW_OFFSET, new_offset

TP = ("wirewatch.alerts", 0)


def consumer(committed: int | None, acked: list[int]) -> SimpleNamespace:
    return SimpleNamespace(
        _acked=defaultdict(list, {TP: list(acked)}),
        _acked_index=defaultdict(set, {TP: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {TP: committed}),
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
