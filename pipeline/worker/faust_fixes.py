"""Work-arounds for faust-streaming 0.15.3 defects that lose records (issue 11.2).

Applied once by ``install()`` (pipeline.worker.app calls it); each fix names the upstream
report, and tests/unit/worker/test_faust_fixes.py reproduces the defect it removes.

Off-by-one in the commit offset (faust-streaming/faust#606, open). Faust commits, per
partition, the end of the first run of consecutive acknowledged offsets. Its guard
against an unacknowledged head (``min(acked) - committed > 1``) lets exactly one missing
offset through: with committed offset C (the next record to process) still in flight and
C+1.. acknowledged, it commits past C, and a crash before C finishes loses C for good.
Records are acknowledged out of order whenever an agent runs with ``concurrency`` > 1
(the webhook agent) or several agents read one topic (the alerts topic). The fixed
guard commits nothing until the head itself is acknowledged; with no committed offset
yet (a new group) it is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)

_installed = False
#: faust's own, kept for the tests that show the defect
ORIGINAL_NEW_OFFSET = Consumer._new_offset


def new_offset(self: Any, tp: Any) -> int | None:
    """``Consumer._new_offset`` with the head guard fixed (see the module doc)."""
    acked = self._acked[tp]
    if not acked:
        return None
    max_offset = max(acked)
    gap_for_tp = self._gap[tp]
    if gap_for_tp:  # offsets Faust saw skipped (compaction, transaction markers): as acked
        candidates = sorted(gap_for_tp.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            filled: list[int] = []
            for entry in candidates:
                filled.extend(range(entry.begin, entry.end))
            acked.extend(filled)
            gap_for_tp.chop(0, max(filled[-1], max_offset + 1))
    acked.sort()
    committed = self._committed_offset[tp]
    if committed is not None and acked[0] > committed:
        return None  # the next record to commit (offset ``committed``) is still in flight
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1


def install() -> None:
    global _installed
    if not _installed:
        Consumer._new_offset = new_offset  # type: ignore[method-assign]
        _installed = True
