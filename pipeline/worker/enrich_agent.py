"""Enrichment stage: wirewatch.articles.deduped -> wirewatch.articles.annotated.

spaCy is CPU-bound, so batches run in child processes (``enrich_processes`` per worker,
each loading the model once), never on the event loop that keeps the Kafka heartbeats,
commits and web endpoints alive. Across machines it scales by partitions: the deduped
topic has 8, and each worker process consumes its share, so adding a worker adds
throughput without code changes.

A record that does not parse is dead-lettered; an extractor failure on one article is
carried in ``enrichment_errors`` by pipeline.enrich, never dropped. A dead child process
(``BrokenProcessPool``) is not a record problem: it propagates and crashes the worker.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pipeline.records import DedupedArticle
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ANNOTATED, ARTICLES_DEDUPED
from pipeline.worker.startup import process_age

if TYPE_CHECKING:
    import faust

    from pipeline.enrich.annotate import Annotator

log = logging.getLogger(__name__)

STAGE = "enrich"

# --- runs in the child process (or the worker's single enrichment thread) ------------------

_annotator: Annotator | None = None


def _init_child(parent_pid: int) -> None:
    """Load the model once per child, and exit when the worker dies (even by SIGKILL).

    The worker owns the child's lifetime: it shuts the pool down when it stops, and the
    watch below ends the child when the worker is gone. So the child ignores SIGTERM and
    SIGINT, which reach it too when they are sent to the whole process group (``wirewatch
    run`` stops its children that way; Ctrl-C in a terminal does the same): killed
    mid-batch, the worker would take it for a crash while stopping (BrokenProcessPool, a
    traceback, exit status 1; issue 11 item 8).
    """
    global _annotator
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from pipeline.enrich.annotate import Annotator

    _annotator = Annotator()

    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(1.0)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True, name="parent-watch").start()


def _child_ready() -> bool:
    return _annotator is not None


def enrich_values(values: list[bytes]) -> list[bytes]:
    """DedupedArticle JSON in, EnrichedArticle JSON out, same order."""
    global _annotator
    from pipeline.enrich import enrich
    from pipeline.enrich.annotate import Annotator

    if _annotator is None:
        _annotator = Annotator()
    deduped = [DedupedArticle.from_json(v) for v in values]
    return [record.to_json() for record in enrich(deduped, _annotator)]


# --- runs in the worker ---------------------------------------------------------------------


class EnrichRunner:
    """Runs ``enrich_values`` off the event loop, split across the child processes."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: Executor | None = None
        self._spawned: list[Future[bool]] = []

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            if self.processes > 0:
                # spawn, not fork: the worker has threads (Kafka client, web) by now
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_child,
                    initargs=(os.getpid(),),
                )
            else:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="enrich")
        return self._executor

    async def run(self, values: list[bytes]) -> list[bytes]:
        if not values:
            return []
        loop = asyncio.get_running_loop()
        parts = max(1, min(self.processes, len(values)))
        size = -(-len(values) // parts)
        chunks = [values[i : i + size] for i in range(0, len(values), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self.executor, enrich_values, chunk) for chunk in chunks)
        )
        return [value for chunk in results for value in chunk]

    def spawn(self) -> None:
        """Start the child processes now (each loads its model as it starts) without
        waiting for them; ``warm`` waits. Idempotent."""
        if self.processes > 0 and not self._spawned:
            self._spawned = [self.executor.submit(_child_ready) for _ in range(self.processes)]

    async def warm(self) -> None:
        """Until every child process has loaded its model, spawning them if ``spawn`` has
        not: the model loads while the worker joins its group and recovers its tables,
        not when the first batch arrives (a restart would pay for it before its first
        record). Logs when they are ready, in seconds since the worker process started."""
        if self.processes <= 0:
            return
        self.spawn()
        await asyncio.gather(*(asyncio.wrap_future(f) for f in self._spawned))
        log.info(
            "enrichment ready: %d process(es) loaded the spaCy model %.1fs after exec",
            self.processes,
            process_age(),
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._spawned = []


#: the runner ``spawn_early`` started, for ``register`` to take over (one per process)
_early: EnrichRunner | None = None


def spawn_early(settings: Settings) -> None:
    """Spawn the enrichment processes before the worker builds its app (issue 11.7).

    ``wirewatch worker`` calls this first thing: a child spends ~3 s (more on a busy
    machine) importing spaCy and loading the model, which then runs beside the worker's
    own imports, setup and group join instead of after them. ``register`` takes the
    runner over; without this call it spawns them when the app starts, as before.
    """
    global _early
    if _early is None and settings.enrich_processes > 0:
        _early = EnrichRunner(settings.enrich_processes)
        _early.spawn()


def _runner(settings: Settings) -> EnrichRunner:
    global _early
    runner, _early = _early, None
    if runner is not None and runner.processes == settings.enrich_processes:
        return runner
    if runner is not None:
        runner.close()
    return EnrichRunner(settings.enrich_processes)


def register(app: faust.App, settings: Settings) -> EnrichRunner:
    from pipeline.worker.channels import raw_topic
    from pipeline.worker.deadletter import DeadLetters
    from pipeline.worker.stage import Item, Rejected, Stage

    deduped = raw_topic(app, ARTICLES_DEDUPED, settings)
    annotated = raw_topic(app, ARTICLES_ANNOTATED, settings)  # the events stage reads it
    shape = Stage(STAGE, DedupedArticle.from_json, DeadLetters(app, settings))
    runner = _runner(settings)

    async def handle(items: list[Item[DedupedArticle]]) -> list[tuple[Item, Rejected]]:
        # the children parse again: bytes cross the process boundary, not models
        outputs = await runner.run([item.message.value for item in items])
        for item, value in zip(items, outputs, strict=True):
            await annotated.send(key=item.message.key, value=value)
        return []

    @app.agent(deduped, name=f"{app.conf.id}.enrich")
    async def enrich_agent(stream: Any) -> None:
        async for _ in shape.run(
            stream, handle, size=settings.enrich_batch_size, within=settings.batch_within_s
        ):
            pass

    @app.task
    async def _warm_pool() -> None:
        await runner.warm()

    @app.on_before_shutdown.connect
    async def _close_pool(sender: Any, **kwargs: Any) -> None:
        runner.close()

    return runner
