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
yet (a new group) it holds while a stream still has an earlier record in hand.

Records lost between a rebalance's seek and the flow's resumption (no upstream report
found; aiokafka 0.14.0 under faust 0.15.3). After a rebalance Faust's recovery resumes
the stream partitions, then seeks them to their committed offsets, then resumes the
flow, which clears every stream's queue (``FlowControlEvent.resume``). Whatever was
fetched and queued before that clear is dropped, and only the seek brings it back:
aiokafka's ``seek_to_committed`` seeks only where the committed offset is above 0, so
a partition with no commit yet (a new group in its first seconds, a worker that joins
while the first backlog is in flight) kept its position past the dropped records, and
nothing after them could be committed (the scale-out stall: 238 of 400 articles, then
nothing). And records fetched *after* the seek, while the seek of the other partitions
was still going (up to 1.5 s under load), were queued and cleared the same way, with
or without a commit (one article of 400 lost). The fixed seek holds (pauses) the
stream partitions in aiokafka before it seeks, sends one with no commit to its
beginning, as ``auto_offset_reset=earliest`` would on a fresh start, and the held
partitions fetch again only once the flow has resumed, so nothing reaches a queue
that is about to be cleared.

Records fetched again are passed to the streams again. Faust remembers only the offset
it last read, and a seek overwrites it with the committed offset, so whatever the seek
fetches a second time is processed a second time: after the fixed seek, everything this
process finished since the partition's beginning, and at any seek, records acknowledged
but not yet committed (Faust commits every few seconds). The fixed ``getmany`` drops a
record this process has already finished (acknowledged, or below an offset it is
committing), and moves the read offset over it so Faust does not take the skip for a gap
in the log. A record still in hand when it comes again is passed again (it cannot be
told from one Faust dropped, which must run): the stages are idempotent per id, and the
webhook agent does not post an alert id it is posting or has posted
(pipeline.alerts.delivery.PostedHere).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)

_installed = False
#: faust's own, kept for the tests that show the defects
ORIGINAL_NEW_OFFSET = Consumer._new_offset
ORIGINAL_GETMANY = Consumer.getmany
ORIGINAL_ON_PARTITIONS_REVOKED = Consumer.on_partitions_revoked
ORIGINAL_PERFORM_SEEK = Consumer.perform_seek
ORIGINAL_RESUME_FLOW = Consumer.resume_flow


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
    if committed is None and _in_flight_below(self, tp, acked[0]):
        return None  # nothing committed yet: the head is whatever a stream still holds
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    target = int(batch[-1]) + 1
    # finished below ``target`` from now on, also while the commit is still on its way
    targets = _commit_targets(self)
    targets[tp] = max(target, targets.get(tp, target))
    return target


def _commit_targets(consumer: Any) -> dict[Any, int]:
    """Per partition, the highest offset this process committed or is committing."""
    targets: dict[Any, int] | None = consumer.__dict__.get("_wirewatch_commit_targets")
    if targets is None:
        targets = consumer.__dict__["_wirewatch_commit_targets"] = {}
    return targets


def finished_here(consumer: Any, tp: Any, offset: int) -> bool:
    """Whether this process has already finished the record at ``offset`` of ``tp``."""
    acked_index = consumer._acked_index.get(tp)
    if acked_index and offset in acked_index:
        return True
    target = _commit_targets(consumer).get(tp)
    return target is not None and offset < target


async def getmany(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
    """``Consumer.getmany`` without the records this process has already finished."""
    read_offset = self._read_offset
    async for tp, message in ORIGINAL_GETMANY(self, timeout):
        offset = message.offset
        if finished_here(self, tp, offset):
            last = read_offset[tp]
            if last is None or last < offset:
                read_offset[tp] = offset  # read past it: not a gap to fill as acknowledged
            log.debug("skipping %s[%d]@%d: finished here already", tp.topic, tp.partition, offset)
            continue
        yield tp, message


async def on_partitions_revoked(self: Any, revoked: Any) -> None:
    """Forget what was finished on partitions this process no longer reads (as Faust does)."""
    targets = _commit_targets(self)
    for tp in revoked:
        targets.pop(tp, None)
    await ORIGINAL_ON_PARTITIONS_REVOKED(self, revoked)


def _in_flight_below(consumer: Any, tp: Any, offset: int) -> bool:
    """Whether a stream holds an unacknowledged record of ``tp`` below ``offset``."""
    unacked = getattr(consumer, "_unacked_messages", ())
    return any(m.tp == tp and not m.acked and m.offset < offset for m in list(unacked))


async def seek_committed_or_beginning(
    consumer: aiokafka.AIOKafkaConsumer, committing: Callable[[str], bool] = lambda _: True
) -> dict[TopicPartition, int | None]:
    """Every assigned partition to its committed offset; one of a ``committing`` topic with
    none (or 0) to its beginning. Returns the committed offsets, as aiokafka's own does.

    Only topics whose offsets are committed (stream sources): a changelog is never
    committed, and Faust's recovery positions its partitions itself.
    """
    committed: dict[TopicPartition, int | None] = await consumer.seek_to_committed()
    unset = [
        tp
        for tp, offset in committed.items()
        if (offset is None or offset <= 0) and committing(tp.topic)
    ]
    if unset:
        await consumer.seek_to_beginning(*unset)
    return committed


async def hold_and_seek(
    consumer: aiokafka.AIOKafkaConsumer,
    committing: Callable[[str], bool],
    hold: Callable[[set[TopicPartition]], None],
) -> dict[TopicPartition, int | None]:
    """Pause the ``committing`` partitions (and ``hold`` them for release), then the fixed seek."""
    streams = {tp for tp in consumer.assignment() if committing(tp.topic)}
    consumer.pause(*streams)  # fetch nothing of them until Faust has cleared its queues
    hold(streams)
    return await seek_committed_or_beginning(consumer, committing)


#: a hold Faust never ends (no resume_flow after the seek) is released after this long
HOLD_LIMIT_S = 15.0


async def _thread_seek_to_committed(self: Any) -> Any:
    def hold(streams: set[TopicPartition]) -> None:  # at pause time: a release may come first
        held = self.__dict__.setdefault("_wirewatch_held", set())
        held.update(streams)
        # a stalled stream is worse than the rare repeat a late release allows
        self.thread_loop.call_later(HOLD_LIMIT_S, _release_if_still_held, self, held)

    return await self.call_thread(
        hold_and_seek, self._ensure_consumer(), self.app.topics.acks_enabled_for, hold
    )


def _release_if_still_held(thread: Any, held: set) -> None:
    if thread.__dict__.get("_wirewatch_held") is held:  # not released, no newer hold
        thread.__dict__.pop("_wirewatch_held", None)
        log.warning("stream partitions held %.0fs after a rebalance seek: released", HOLD_LIMIT_S)
        release(thread._ensure_consumer(), held)


def release_held(consumer: Any) -> None:
    """Let the partitions the last seek held fetch again (in the consumer thread's loop)."""
    thread = getattr(consumer, "_thread", None)
    held = thread.__dict__.pop("_wirewatch_held", None) if thread is not None else None
    if held:
        with contextlib.suppress(RuntimeError):  # the thread's loop is closed: stopping anyway
            thread.thread_loop.call_soon_threadsafe(release, thread._ensure_consumer(), held)


def release(consumer: aiokafka.AIOKafkaConsumer, held: set) -> None:
    """Resume the held partitions still assigned (a new assignment starts unpaused)."""
    assigned = consumer.assignment()
    consumer.resume(*(tp for tp in held if tp in assigned))


async def perform_seek(self: Any) -> None:
    """``Consumer.perform_seek``; releases the held partitions if the flow resumed meanwhile."""
    started_inactive = not self.flow_active
    try:
        await ORIGINAL_PERFORM_SEEK(self)
    finally:
        # seeking from a stopped flow (getmany mid-rebalance) can end after recovery has
        # resumed the flow: nothing else would release the partitions then
        if started_inactive and self.flow_active:
            release_held(self)


def resume_flow(self: Any) -> None:
    """``Consumer.resume_flow``, then the held partitions fetch again (queues are clear)."""
    ORIGINAL_RESUME_FLOW(self)
    release_held(self)


def install() -> None:
    global _installed
    if not _installed:
        Consumer._new_offset = new_offset  # type: ignore[method-assign]
        Consumer.getmany = getmany  # type: ignore[method-assign,assignment]
        Consumer.on_partitions_revoked = on_partitions_revoked  # type: ignore[method-assign]
        Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
        Consumer.resume_flow = resume_flow  # type: ignore[method-assign]
        AIOKafkaConsumerThread.seek_to_committed = _thread_seek_to_committed  # type: ignore[method-assign]
        _installed = True
